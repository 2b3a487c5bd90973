# frozen_string_literal: true

# Runs a block in a forked child and returns its (Marshal-able) result to the parent. An
# exception in the child comes back as a String describing it.
module ForkHelper
  module_function

  def in_child
    reader, writer = IO.pipe
    pid = fork do
      reader.close
      writer.write(Marshal.dump(yield))
    rescue Exception => e # rubocop:disable Lint/RescueException -- report anything to the parent
      writer.write(Marshal.dump("#{e.class}: #{e.message}\n#{e.backtrace&.first(5)&.join("\n")}"))
    ensure
      writer.close
      exit!(0)
    end
    writer.close
    result = Marshal.load(reader.read) # rubocop:disable Security/MarshalLoad -- our own child process
    Process.wait(pid)
    result
  end
end
