# frozen_string_literal: true

desc "Run the RSpec suite against the compiled library"
task spec: :compile do
  sh "rspec"
end
