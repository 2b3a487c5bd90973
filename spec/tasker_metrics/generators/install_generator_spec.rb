# frozen_string_literal: true

require "tmpdir"

# `rails generate tasker_metrics:install`, run in a forked child (Rails is process-global).
RSpec.describe "TaskerMetrics::Generators::InstallGenerator" do
  it "writes an initializer with every setting commented, which boots an app unchanged, and explains the Puma plugin" do
    Dir.mktmpdir("generator") do |root|
      seen = ForkHelper.in_child do
        require "rails"
        require "rails/generators"
        $LOAD_PATH.unshift File.expand_path("../../../lib", __dir__)
        said = StringIO.new
        # rubocop:disable RSpec/ExpectOutput -- in a forked child, whose output is returned to the parent
        $stdout = said
        Rails::Generators.invoke("tasker_metrics:install", [], destination_root: root)
        $stdout = STDOUT
        # rubocop:enable RSpec/ExpectOutput
        { file: File.read(File.join(root, "config/initializers/tasker_metrics.rb")), said: said.string }
      end
      expect(seen).to be_a(Hash), seen.to_s
      initializer = seen[:file]
      settings = TaskerMetrics::Configuration.new.instance_variables.map { |v| v.to_s.delete_prefix("@") } - ["rack_auth"]
      settings.each { |name| expect(initializer).to match(/^  # config\.#{name} = /), "#{name} is not in the initializer" }
      expect(seen[:said]).to include("plugin :tasker_metrics", "create  config/initializers/tasker_metrics.rb")

      booted = ForkHelper.in_child do
        app = RailsApp.boot({}, initializer: ->(_app) { load File.join(root, "config/initializers/tasker_metrics.rb") })
        [Rack::MockRequest.new(app).get("/metrics").status, TaskerMetrics.configuration.path]
      end
      expect(booted).to eq([200, "/metrics"])
    end
  end
end
