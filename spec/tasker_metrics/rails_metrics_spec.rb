# frozen_string_literal: true

require "rack/test"

# Request and job metrics in a real Rails app (booted in a forked child, as Rails apps are
# process-global), through Rails' own instrumentation and the native listeners.
RSpec.describe TaskerMetrics::RailsMetrics do
  def in_app(config = {})
    ForkHelper.in_child do
      require "active_job"
      routes = lambda do
        get "/widgets/:id", to: "widgets#show"
        get "/broken", to: "widgets#broken"
      end
      app = RailsApp.boot(config, more_routes: routes, initializer: ->(_app) { RailsMetricsSpec.define_app_classes })
      yield Rack::MockRequest.new(app)
    end
  end

  def samples(text) = Scrape.samples(text).select { |k, _| k.start_with?("rails_", "active_job_") }

  it "counts requests by controller, action, method and status (not path), with their times" do
    seen = in_app do |http|
      3.times { |i| http.get("/widgets/#{i}") }
      http.post("/widgets/1")
      http.get("/broken")
      samples(TaskerMetrics.registry.export)
    end
    expect(seen).to be_a(Hash), seen.to_s
    expect(seen['rails_requests_total{controller="WidgetsController",action="show",method="GET",status="200"}']).to eq(3)
    expect(seen['rails_requests_total{controller="WidgetsController",action="broken",method="GET",status="400"}']).to eq(1)
    expect(seen['rails_request_duration_seconds_count{controller="WidgetsController",action="show",method="GET",status="200"}']).to eq(3)
    expect(seen['rails_view_runtime_seconds_count{controller="WidgetsController",action="show"}']).to eq(3)
    expect(seen.keys.grep(%r{widgets/\d})).to be_empty, "no path in any label"
  end

  it "counts jobs by class, queue and outcome, with their time" do
    seen = in_app do |_http|
      ActiveJob::Base.queue_adapter = :inline
      2.times { RailsMetricsSpec::ShipJob.perform_later(false) }
      begin
        RailsMetricsSpec::ShipJob.perform_later(true)
      rescue RuntimeError
        nil
      end
      samples(TaskerMetrics.registry.export)
    end
    expect(seen['active_job_enqueued_total{job="RailsMetricsSpec::ShipJob",queue="shipping"}']).to eq(3)
    expect(seen['active_job_performed_total{job="RailsMetricsSpec::ShipJob",queue="shipping",outcome="success"}']).to eq(2)
    expect(seen['active_job_performed_total{job="RailsMetricsSpec::ShipJob",queue="shipping",outcome="error"}']).to eq(1)
    expect(seen['active_job_duration_seconds_count{job="RailsMetricsSpec::ShipJob",queue="shipping"}']).to eq(3)
  end

  it "can be switched off" do
    seen = in_app(rails_metrics: false, active_job_metrics: false) do |http|
      http.get("/widgets/1")
      TaskerMetrics.registry.export
    end
    expect(seen).not_to include("rails_requests_total", "active_job_")
  end

  it "never lets a failure reach the request: it is counted and logged once" do
    seen = in_app do |http|
      ActiveSupport::Notifications.instrument("process_action.action_controller", controller: "X", action: "y", method: "GET",
                                                                                  status: 200, view_runtime: nil,) { nil }
      bad = { controller: "X\xFF".b, action: "y", method: "GET", status: 200 }
      2.times { ActiveSupport::Notifications.instrument("process_action.action_controller", bad) { nil } }
      [http.get("/widgets/1").status, TaskerMetrics.registry.export[/^tasker_metrics_subscriber_errors_total.*/]]
    end
    expect(seen).to eq([200, 'tasker_metrics_subscriber_errors_total{event="process_action.action_controller"} 2'])
  end
end

# Classes for the app above, defined in the child once Rails is loaded.
module RailsMetricsSpec
  def self.define_app_classes
    Object.const_set(:WidgetsController, Class.new(ActionController::Base) do
      def show = render(plain: "widget #{params[:id]}")
      def broken = raise(ActionController::BadRequest, "no")
    end,)
    const_set(:ShipJob, Class.new(ActiveJob::Base) do
      queue_as :shipping
      def perform(fail) = fail ? raise("shipping failed") : :shipped
    end,)
  end
end
