# frozen_string_literal: true

require "rack/test"

# client_ruby's Rack middlewares (its middleware/exporter_spec and collector_spec check the same).
RSpec.describe Prometheus::Middleware do
  include Rack::Test::Methods
  include_context "with client_ruby's defaults"

  let(:registry) { Prometheus::Client::Registry.new }
  let(:text) { Prometheus::Client::Formats::Text }

  describe Prometheus::Middleware::Exporter do
    let(:options) { { registry: registry } }
    let(:app) { described_class.new(->(_) { [200, { "content-type" => "text/html" }, ["OK"]] }, **options) }

    before { registry.counter(:foo, docstring: "foo counter").increment(by: 9) }

    it "passes other paths to the app" do
      get "/foo"
      expect([last_response.status, last_response.body]).to eq([200, "OK"])
    end

    {
      nil => :text,
      "*/*" => :text,
      "text/plain" => :text,
      "text/plain;q=1.0  ; version=0.0.4" => :text,
      "application/json;q=0.5, text/plain" => :text,
      "text/plain;q=0.3, proto/buf;q=0.7" => :text,
      "fancy/woo;q=0.3, proto/buf;q=0.7, */*;q=0.1" => :text,
      "application/json" => :not_acceptable,
      "fancy/woo;q=0.3, proto/buf;q=0.7" => :not_acceptable,
    }.each do |accept, outcome|
      it "answers Accept #{accept.inspect} with #{outcome}" do
        get "/metrics", nil, accept ? { "HTTP_ACCEPT" => accept } : {}
        if outcome == :text
          expect(last_response.status).to eq(200)
          expect(last_response.headers["content-type"]).to eq("text/plain; version=0.0.4")
          expect(last_response.body).to eq(text.marshal(registry)).and include("foo 9.0\n")
        else
          expect([last_response.status, last_response.headers["content-type"], last_response.body])
            .to eq([406, "text/plain", "Supported media types: text/plain"])
        end
      end
    end

    context "with a port" do
      let(:options) { { registry: registry, port: 9999, path: "/stats" } }

      it "serves only requests on that port, at its path" do
        get "http://example.org:9999/stats"
        expect(last_response.body).to eq(text.marshal(registry))
        get "http://example.org:8888/stats"
        expect(last_response.body).to eq("OK")
      end
    end
  end

  describe Prometheus::Middleware::Collector do
    let(:inner) { ->(env) { env["boom"] ? raise(NoMethodError, "bug") : [200, { "content-type" => "text/html" }, ["OK"]] } }
    let(:app) { described_class.new(inner, registry: registry) }

    def requests = registry.get(:http_server_requests_total).values

    it "returns the app's response and counts requests by code, method and path, ids and uuids stripped" do
      get "/foo"
      expect(last_response.body).to eq("OK")
      get "/foo/42/24"
      get "/foo/5d0b4e12-9d3f-4b4e-9f36-32ae5a8a6b1f/bar"
      get "/foo/42abc"
      expect(requests).to eq({ code: "200", method: "get", path: "/foo" } => 1.0,
                             { code: "200", method: "get", path: "/foo/:id/:id" } => 1.0,
                             { code: "200", method: "get", path: "/foo/:uuid/bar" } => 1.0,
                             { code: "200", method: "get", path: "/foo/42abc" } => 1.0,)
      durations = registry.get(:http_server_request_duration_seconds).values
      expect(durations.keys).to include({ method: "get", path: "/foo" })
      expect(durations[{ method: "get", path: "/foo" }]["+Inf"]).to eq(1.0)
    end

    it "includes SCRIPT_NAME in the path" do
      get "/foo", nil, "SCRIPT_NAME" => "/engine"
      expect(requests.keys).to eq([{ code: "200", method: "get", path: "/engine/foo" }])
    end

    it "counts exceptions by class and raises them again" do
      expect { get "/", nil, "boom" => true }.to raise_error(NoMethodError)
      expect(registry.get(:http_server_exceptions_total).values).to eq({ exception: "NoMethodError" } => 1.0)
    end

    it "never breaks a request when recording fails" do
      app # registers the metrics
      allow(registry.get(:http_server_requests_total)).to receive(:increment).and_raise(StandardError)
      get "/foo"
      expect(last_response.body).to eq("OK")
      expect(registry.get(:http_server_request_duration_seconds).values).to eq({}), "nothing recorded after the failure"
    end

    it "takes another metrics_prefix, registering nothing under the default" do
      described_class.new(inner, registry: registry, metrics_prefix: "lolrus")
      expect(registry.exist?(:lolrus_requests_total)).to be(true)
      expect(registry.exist?(:lolrus_request_duration_seconds)).to be(true)
      expect(registry.exist?(:lolrus_exceptions_total)).to be(true)
      expect(registry.metrics.map(&:name).grep(/http_server/)).to eq([])
    end
  end
end
