# frozen_string_literal: true

desc "cargo fmt, clippy -D warnings, the core/glue split and rubocop"
task :lint do
  sh "bin/lint"
end
