# frozen_string_literal: true

require_relative "lib/tasker_metrics/version"

Gem::Specification.new do |spec|
  spec.name = "tasker_metrics"
  spec.version = TaskerMetrics::VERSION
  spec.authors = ["tasker_metrics maintainers"]
  spec.summary = "Lock-free native metrics for Ruby and Rails, with a Tasker telemetry backend"
  spec.description = <<~DESC
    Counters, gauges and histograms with labels whose hot paths run in Rust: one atomic operation
    per update, Prometheus and OpenMetrics exposition, a Rack endpoint, and a drop-in native
    replacement for Tasker's telemetry backend.
  DESC
  spec.license = "MIT"
  spec.required_ruby_version = ">= 3.1"

  spec.files = Dir["lib/**/*.rb", "lib/**/*.tt", "src/**/*.rs", "ext/**/*.rb", "Cargo.toml", "Cargo.lock", "README.md", "CHANGELOG.md",
                   "ops/**/*",]
  spec.require_paths = ["lib"]
  spec.extensions = ["ext/tasker_metrics/extconf.rb"]

  spec.metadata["rubygems_mfa_required"] = "true"

  # Rack, ActiveSupport and Rails are used when the app has them. concurrent-ruby (which every
  # Rails app has through ActiveSupport) gives MetricsBackend#metrics Tasker's Concurrent::Hash.
  spec.add_dependency "concurrent-ruby", "~> 1.1"
  spec.add_development_dependency "activesupport", ">= 6.1"
  spec.add_development_dependency "benchmark-ips", "~> 2.7"
  spec.add_development_dependency "prometheus-client-mmap", "~> 0.16"
  spec.add_development_dependency "puma", ">= 5.6"
  spec.add_development_dependency "rack-test", ">= 2.0"
  spec.add_development_dependency "railties", ">= 6.1"
  spec.add_development_dependency "rake", ">= 13.0"
  spec.add_development_dependency "rspec", "~> 3.12"
  spec.add_development_dependency "rubocop", "~> 1.39"
end
