# frozen_string_literal: true

$LOAD_PATH.unshift File.expand_path("../lib", __dir__)
require "tasker_metrics"

Dir[File.join(__dir__, "support", "**", "*.rb")].each { |f| require f }
Dir[File.join(__dir__, "shared_examples", "**", "*.rb")].each { |f| require f }

RSpec.configure do |config|
  config.disable_monkey_patching!
  config.example_status_persistence_file_path = ".rspec_status"
  config.order = :random
  Kernel.srand config.seed
  config.expect_with(:rspec) { |c| c.syntax = :expect }
  config.filter_run_when_matching :focus unless ENV["CI"]
  config.raise_errors_for_deprecations!

  config.before(:example, :focus) { raise "focused examples must not be committed" } if ENV["CI"]

  # GC_STRESS=1 runs every example under GC.stress, to shake out values the glue fails to keep alive.
  if ENV["GC_STRESS"]
    config.around do |example|
      GC.stress = true
      example.run
    ensure
      GC.stress = false
    end
  end
end
