# frozen_string_literal: true

# Every example gets its own registry; the process-wide state (default registry, router) is put
# back after each example.
RSpec.shared_context "with a fresh registry" do
  let(:registry) { TaskerMetrics::Registry.new }
end

RSpec.configure do |config|
  config.include_context "with a fresh registry"
  config.after do
    TaskerMetrics.registry.clear
    router = TaskerMetrics::EventRouter.instance
    router.reset!
    router.register_trace_handler(nil)
    router.register_log_handler(nil)
  end
end
