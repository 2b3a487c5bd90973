# frozen_string_literal: true

require_relative "../../benchmarks/support/wrk"

RSpec.describe "Load: wrk against Puma serving /metrics with 10 000 series while writers run" do # -- a whole-server test
  before { skip "wrk and puma (Debian packages) are needed for the load test" unless Wrk.available? }

  it "answers every request with 200" do
    result = Wrk.run(seconds: 5)
    expect(result[:requests]).to be > 20, result[:output]
    expect(result[:non2xx]).to eq(0), result[:output]
    expect(result[:socket_errors]).to be_nil, result[:output]
  end
end
