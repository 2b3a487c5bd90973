# frozen_string_literal: true

require "fileutils"
require "tmpdir"

# prometheus-client-mmap (the Debian gem), configured with its own temporary directory, as the
# peer the benchmarks compare against. Removed at exit.
MMAP_PEER_DIR = Dir.mktmpdir("bench-mmap")
ENV["prometheus_multiproc_dir"] = MMAP_PEER_DIR
require "prometheus/client"
require "prometheus/client/formats/text"
Prometheus::Client.configure { |c| c.multiprocess_files_dir = MMAP_PEER_DIR }
at_exit { FileUtils.rm_rf(MMAP_PEER_DIR) }
