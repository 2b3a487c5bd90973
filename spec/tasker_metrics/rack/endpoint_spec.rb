# frozen_string_literal: true

require "rack/test"

RSpec.describe TaskerMetrics::Rack::Endpoint do
  include Rack::Test::Methods

  let(:app) { described_class.new(registry: registry, auth: { bearer_token: "t" }) }

  it "answers at whatever path it is mounted on, sharing the responder's rules" do
    registry.gauge(:up, docstring: "Up").set(1)
    header "Authorization", "Bearer t"
    get "/"
    expect(last_response.status).to eq(200)
    expect(last_response.body).to include("up 1")
    post "/"
    expect(last_response.status).to eq(405)
  end

  it "serves an empty 200 for an empty registry" do
    app = described_class.new(registry: TaskerMetrics::Registry.new, self_metrics: false)
    status, _headers, body = app.call(Rack::MockRequest.env_for("/"))
    expect([status, body.join]).to eq([200, ""])
  end
end
