# frozen_string_literal: true

# Puma in cluster mode with multi-process metrics: `bin/demo --workers 3`, or
#   TASKER_METRICS_MULTIPROC_DIR=tmp/metrics WEB_CONCURRENCY=3 puma -C demo/puma_cluster.rb demo/config.ru
# Every worker writes its own file in TASKER_METRICS_MULTIPROC_DIR; a scrape of any worker
# merges them all.
workers Integer(ENV.fetch("WEB_CONCURRENCY", "3"))
threads 1, Integer(ENV.fetch("PUMA_THREADS", "4"))
bind "tcp://127.0.0.1:#{ENV.fetch("PORT", "9394")}"
preload_app!
quiet

# Names workers puma_0, puma_1, ... (a replaced worker takes over its predecessor's gauge
# series) and empties the metrics directory of an earlier run as the master boots.
$LOAD_PATH.unshift File.expand_path("../lib", __dir__) # a Bundler app has the gem's lib on it
plugin :tasker_metrics
