# frozen_string_literal: true

require "tasker_metrics/client_ruby"

# Each client_ruby example starts from client_ruby's defaults: a fresh default registry and the
# in-memory data store.
RSpec.shared_context "with client_ruby's defaults" do
  before do
    Prometheus::Client.instance_variable_set(:@registry, nil)
    Prometheus::Client.config.data_store = Prometheus::Client::DataStores::Synchronized.new
  end

  after { Prometheus::Client.config.data_store = Prometheus::Client::DataStores::Synchronized.new }
end
