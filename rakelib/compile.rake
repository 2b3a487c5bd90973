# frozen_string_literal: true

require "rbconfig"

desc "Build the native library (release) into lib/tasker_metrics/"
task :compile do
  sh "cargo", "build", "--release", "--locked"
  built = Dir["target/release/libtasker_metrics.{so,dylib}"].first or abort "cargo produced no library"
  cp built, "lib/tasker_metrics/tasker_metrics.#{RbConfig::CONFIG["DLEXT"]}"
end
