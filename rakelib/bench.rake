# frozen_string_literal: true

desc "Run the benchmarks against their peers and print the tables"
task bench: :compile do
  sh "bin/bench"
end
