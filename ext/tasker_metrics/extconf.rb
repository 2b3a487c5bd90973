# frozen_string_literal: true

# Writes a Makefile that builds the Rust crate with cargo and installs the library where
# RubyGems expects it. Plain mkmf, so `gem install` needs no rb_sys gem: only cargo on PATH.
require "mkmf"
require "rbconfig"

root = File.expand_path("../..", __dir__)
cargo = ENV.fetch("CARGO", "cargo")
abort "tasker_metrics needs Rust's cargo on PATH to build its native core (https://rustup.rs)" unless find_executable(cargo)

# Inside a git checkout we keep cargo's target dir between builds; in an installed gem we remove
# it afterwards, or the gem directory would weigh hundreds of megabytes.
developing = File.exist?(File.join(root, ".git"))
target_dir = ENV.fetch("CARGO_TARGET_DIR", File.join(root, "target"))
dlext = RbConfig::CONFIG["DLEXT"]
built = File.join(target_dir, "release",
                  RbConfig::CONFIG["host_os"].include?("darwin") ? "libtasker_metrics.dylib" : "libtasker_metrics.so",)

makefile = configuration(File.expand_path(__dir__)).join
makefile << <<~MAKE
  TARGET_PREFIX = /tasker_metrics
  RUBYARCHDIR = $(sitearchdir)$(TARGET_PREFIX)
  DLLIB = tasker_metrics.#{dlext}
  CARGO = #{cargo}
  CARGO_TARGET_DIR = #{target_dir}

  all: $(DLLIB)

  $(DLLIB):
  \tcd "#{root}" && $(CARGO) build --release --locked --target-dir "$(CARGO_TARGET_DIR)"
  \tcp "#{built}" $(DLLIB)

  install: $(DLLIB)
  \t$(MAKEDIRS) "$(DESTDIR)$(RUBYARCHDIR)"
  \t$(INSTALL_PROG) $(DLLIB) "$(DESTDIR)$(RUBYARCHDIR)"
  #{developing ? "" : "\trm -rf \"$(CARGO_TARGET_DIR)\""}

  clean:
  \trm -f $(DLLIB)

  distclean: clean
  \trm -f Makefile mkmf.log

  .PHONY: all install clean distclean
MAKE
File.write("Makefile", makefile)
