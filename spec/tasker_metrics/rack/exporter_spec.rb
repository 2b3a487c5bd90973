# frozen_string_literal: true

require "rack/test"
require "zlib"
require "json"

RSpec.describe TaskerMetrics::Rack::Exporter do
  include Rack::Test::Methods

  let(:options) { {} }
  let(:downstream) { ->(_env) { [200, { "content-type" => "text/plain" }, ["app"]] } }
  let(:app) { described_class.new(downstream, registry: registry, **options) }

  before do
    registry.counter(:jobs_total, docstring: "Jobs", labels: [:queue]).increment(labels: { queue: "default" })
  end

  it "passes other paths to the app" do
    get "/other"
    expect(last_response.body).to eq("app")
  end

  it "serves Prometheus 0.0.4 by default, with Tasker's no-cache headers" do
    get "/metrics"
    expect(last_response.status).to eq(200)
    expect(last_response.headers["content-type"]).to eq("text/plain; version=0.0.4; charset=utf-8")
    expect(last_response.headers).to include("cache-control" => "no-store", "pragma" => "no-cache", "expires" => "0")
    expect(last_response.body).to include('jobs_total{queue="default"} 1')
    expect(last_response.headers["content-length"]).to eq(last_response.body.bytesize.to_s)
  end

  {
    "application/openmetrics-text; version=1.0.0" => :openmetrics,
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1" => :openmetrics,
    "text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5" => :prometheus,
    "text/plain" => :prometheus,
    "*/*" => :prometheus,
    "application/*" => :openmetrics,
    "text/html, */*;q=0.1" => :prometheus,
    "" => :prometheus,
    # Prometheus 2.42 started with --enable-feature=native-histograms
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8," \
    "application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1" => :protobuf,
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited" => :protobuf,
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.3,text/plain;q=0.5" => :prometheus,
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text,text/plain;q=0.1" => :prometheus,
    "application/vnd.google.protobuf, */*;q=0.5" => :prometheus,
  }.each do |accept, format|
    it "answers Accept #{accept.inspect} with #{format}" do
      get "/metrics", {}, "HTTP_ACCEPT" => accept
      expect(last_response.status).to eq(200)
      expect(last_response.headers["content-type"]).to eq(TaskerMetrics::Rack::Negotiation::CONTENT_TYPES.fetch(format))
      expect(last_response.body.end_with?("# EOF\n")).to be(format == :openmetrics)
      expect(last_response.body.start_with?("# HELP")).to be(format != :protobuf)
    end
  end

  it "answers 406 with the supported types when nothing is acceptable" do
    get "/metrics", {}, "HTTP_ACCEPT" => "application/json, text/plain;q=0"
    expect(last_response.status).to eq(406)
    expect(last_response.body).to include("text/plain; version=0.0.4", "application/openmetrics-text; version=1.0.0")
  end

  it "gzips when Accept-Encoding allows, and the body round-trips" do
    get "/metrics", {}, "HTTP_ACCEPT_ENCODING" => "br;q=1.0, gzip;q=0.8"
    expect(last_response.headers["content-encoding"]).to eq("gzip")
    expect(last_response.headers["vary"]).to eq("Accept, Accept-Encoding")
    expect(Zlib.gunzip(last_response.body)).to include('jobs_total{queue="default"} 1')
  end

  it "does not gzip when gzip is refused or disabled" do
    get "/metrics", {}, "HTTP_ACCEPT_ENCODING" => "gzip;q=0, identity"
    expect(last_response.headers).not_to include("content-encoding")
    no_gzip = described_class.new(downstream, registry: registry, gzip: false)
    expect(no_gzip.call(Rack::MockRequest.env_for("/metrics", "HTTP_ACCEPT_ENCODING" => "gzip"))[1]).not_to include("content-encoding")
  end

  it "answers HEAD without a body" do
    head "/metrics"
    expect(last_response.status).to eq(200)
    expect(last_response.body).to eq("")
  end

  %w[POST PUT DELETE PATCH OPTIONS].each do |verb|
    it "answers #{verb} with 405 and Allow" do
      custom_request verb, "/metrics"
      expect(last_response.status).to eq(405)
      expect(last_response.headers["allow"]).to eq("GET, HEAD")
    end
  end

  it "answers 503 JSON saying only that the export failed, and logs the cause" do
    broken = Object.new
    def broken.export(**) = raise(IOError, "disk on fire at /srv/secret")
    app = described_class.new(downstream, registry: broken, self_metrics: false)
    logged = []
    allow(TaskerMetrics).to receive(:log) { |level, message = nil| logged << [level, message] }
    status, headers, body = app.call(Rack::MockRequest.env_for("/metrics"))
    expect(status).to eq(503)
    expect(headers["content-type"]).to eq("application/json; charset=utf-8")
    json = JSON.parse(body.join)
    expect(json.keys).to eq(%w[error message timestamp])
    expect(json).to include("error" => "Metrics export failed", "message" => "the export raised an error (see the application log)")
    expect(body.join).not_to include("disk on fire", "/srv")
    expect(logged).to include([:error, "tasker_metrics: scrape failed: IOError: disk on fire at /srv/secret"])
  end

  context "when disabled" do
    let(:options) { { enabled: -> { false } } }

    it "answers 503 JSON" do
      get "/metrics"
      expect(last_response.status).to eq(503)
      expect(JSON.parse(last_response.body)).to include("error" => "Metrics are disabled", "message" => "this endpoint is turned off")
    end
  end

  it "renders only the families ?name[]= asks for, by registered, family or sample name" do
    registry.gauge(:queue_depth, docstring: "q").set(3)
    registry.histogram(:lat_seconds, docstring: "l").observe(0.2)
    get "/metrics?name[]=queue_depth&name[]=lat_seconds_count"
    expect(last_response.body.lines.grep(/^# TYPE/)).to eq(["# TYPE lat_seconds histogram\n", "# TYPE queue_depth gauge\n"])
    get "/metrics?name[]=jobs", {}, "HTTP_ACCEPT" => "application/openmetrics-text"
    expect(last_response.body).to eq("# HELP jobs Jobs\n# TYPE jobs counter\njobs_total{queue=\"default\"} 1\n# EOF\n")
    get "/metrics?name[]=nothing_here"
    expect([last_response.status, last_response.body]).to eq([200, ""])
    get "/metrics?name=queue_depth"
    expect(last_response.body).to include("jobs_total", "queue_depth"), "a plain name= is not the convention: everything"
  end

  it "exports its own scrape duration and size" do
    get "/metrics"
    get "/metrics", {}, "HTTP_ACCEPT" => "application/openmetrics-text"
    expect(registry.get(:tasker_metrics_scrape_duration_seconds).get(labels: { format: "prometheus" })[:count]).to eq(1)
    expect(registry.get(:tasker_metrics_scrape_size_bytes).get(labels: { format: "openmetrics" })).to be > 0
  end

  describe "authentication" do
    context "with a bearer token" do
      let(:options) { { auth: { bearer_token: "s3cret-token" } } }

      it "allows the right token, with the scheme in any case" do
        %w[Bearer bearer BEARER].each do |scheme|
          get "/metrics", {}, "HTTP_AUTHORIZATION" => "#{scheme} s3cret-token"
          expect(last_response.status).to eq(200), scheme
        end
      end

      [nil, "", "Bearer", "Bearer ", "Bearer wrong", "Bearer s3cret-token-and-more", "Basic s3cret-token",
       "Bearer #{"x" * 10_000}", "s3cret-token",].each do |header|
        it "refuses #{header.to_s[0, 40].inspect} with 401 and a challenge" do
          get "/metrics", {}, header.nil? ? {} : { "HTTP_AUTHORIZATION" => header }
          expect(last_response.status).to eq(401)
          expect(last_response.headers["www-authenticate"]).to eq('Bearer realm="metrics"')
          expect(last_response.body).not_to include("jobs_total")
        end
      end
    end

    context "with a bearer token that is the scheme's own name" do
      let(:options) { { auth: { bearer_token: "Bearer" } } }

      it "refuses a header of the scheme alone (no token given), and allows the token" do
        get "/metrics", {}, "HTTP_AUTHORIZATION" => "Bearer"
        expect(last_response.status).to eq(401)
        get "/metrics", {}, "HTTP_AUTHORIZATION" => "Bearer Bearer"
        expect(last_response.status).to eq(200)
      end
    end

    context "with basic credentials" do
      let(:options) { { auth: { basic: %w[prom scrape:pass] } } }

      it "allows the right user and password (which may hold a colon)" do
        basic_authorize "prom", "scrape:pass"
        get "/metrics"
        expect(last_response.status).to eq(200)
      end

      [%w[prom wrong], %w[other scrape:pass], ["prom", ""]].each do |user, pass|
        it "refuses #{user}:#{pass}" do
          basic_authorize user, pass
          get "/metrics"
          expect(last_response.status).to eq(401)
          expect(last_response.headers["www-authenticate"]).to start_with("Basic")
        end
      end

      it "refuses malformed base64" do
        get "/metrics", {}, "HTTP_AUTHORIZATION" => "Basic %%%not-base64"
        expect(last_response.status).to eq(401)
      end
    end

    context "with a callable" do
      let(:options) { { auth: ->(env) { env["REMOTE_ADDR"] == "127.0.0.1" } } }

      it "asks it, and answers a refusal with 403 and no challenge (a callable names no scheme)" do
        get "/metrics", {}, "REMOTE_ADDR" => "127.0.0.1"
        expect(last_response.status).to eq(200)
        get "/metrics", {}, "REMOTE_ADDR" => "10.1.2.3"
        expect(last_response.status).to eq(403)
        expect(last_response.headers).not_to have_key("www-authenticate")
      end
    end

    context "with a callable that raises" do
      let(:options) { { auth: ->(_env) { raise KeyError, "token store at 10.0.0.9 unreachable" } } }

      it "denies with 403, logs the error and never shows it to the client" do
        logged = []
        allow(TaskerMetrics).to receive(:log) { |level, message = nil| logged << [level, message] }
        get "/metrics"
        expect(last_response.status).to eq(403)
        expect(last_response.body).to eq("Forbidden\n")
        expect(logged.first.last).to include("the auth callable raised KeyError: token store at 10.0.0.9 unreachable")
      end
    end

    it "refuses invalid auth settings at construction" do
      [{ basic: ["only-user"] }, "token", { token: "x" }].each do |bad|
        expect { described_class.new(downstream, auth: bad) }.to raise_error(ArgumentError, /auth must be/)
      end
    end

    it "refuses empty credentials, which unset environment variables give" do
      [{ bearer_token: "" }, { bearer_token: " " }, { basic: ["", ""] }, { basic: ["prom", ""] }, { basic: ["", "pass"] }].each do |bad|
        expect { described_class.new(downstream, auth: bad) }.to raise_error(ArgumentError, /is empty \(an unset environment variable\?\)/)
      end
    end
  end
end
