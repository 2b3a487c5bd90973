# frozen_string_literal: true

require "json"
require "open3"

# Parses an OpenMetrics exposition with the Python prometheus_client parser (strict: it raises
# on any deviation from the spec) and returns the samples, for comparing values.
module PythonOpenMetrics
  PYTHON = File.expand_path("../../.venv/bin/python", __dir__)
  SCRIPT = <<~PY
    import json, sys
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
    out = []
    for family in text_string_to_metric_families(sys.stdin.read()):
        for s in family.samples:
            ex = None if s.exemplar is None else {"labels": s.exemplar.labels, "value": s.exemplar.value}
            out.append({"family": family.name, "type": family.type, "unit": family.unit, "name": s.name,
                        "labels": s.labels, "value": s.value, "exemplar": ex})
    print(json.dumps(out))
  PY

  module_function

  def available? = File.executable?(PYTHON) && system(PYTHON, "-c", "import prometheus_client", err: File::NULL)

  # @return [Array<Hash>] samples
  def parse(text)
    out, err, status = Open3.capture3(PYTHON, "-c", SCRIPT, stdin_data: text)
    raise "OpenMetrics parser rejected the text: #{err}\n---\n#{text}" unless status.success?

    JSON.parse(out)
  end
end
