# frozen_string_literal: true

desc "Run the Rust tests: core unit tests, integration tests and #[ruby_test] glue tests"
task :cargo do
  sh "cargo", "test", "--locked"
end
