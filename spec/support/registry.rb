# frozen_string_literal: true

# Every example gets its own registry; the default one is cleared around examples that use it.
RSpec.shared_context "with a fresh registry" do
  let(:registry) { TaskerMetrics::Registry.new }
end

RSpec.configure do |config|
  config.include_context "with a fresh registry"
  config.after { TaskerMetrics.registry.clear }
end
