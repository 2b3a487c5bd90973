# frozen_string_literal: true

require "json"
require "open3"
require "tmpdir"

# Decodes a protobuf exposition with Python's protobuf package, from code protoc (grpcio-tools)
# generates from proto/metrics.proto: a decoder built by another toolchain than ours (prost).
module PythonProtobuf
  PYTHON = File.expand_path("../../.venv/bin/python", __dir__)
  PROTO_DIR = File.expand_path("../../proto", __dir__)
  SCRIPT = <<~PY
    import json, os, sys, subprocess, tempfile
    import grpc_tools
    from google.protobuf import json_format
    from google.protobuf.internal.decoder import _DecodeVarint32
    out_dir = tempfile.mkdtemp()
    include = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", sys.argv[1], "-I", include,
                    "--python_out=" + out_dir, os.path.join(sys.argv[1], "metrics.proto")], check=True)
    sys.path.insert(0, out_dir)
    import metrics_pb2
    body = sys.stdin.buffer.read()
    families, at = [], 0
    while at < len(body):
        length, at = _DecodeVarint32(body, at)
        family = metrics_pb2.MetricFamily()
        family.ParseFromString(body[at:at + length])
        at += length
        families.append(json_format.MessageToDict(family, preserving_proto_field_name=True))
    print(json.dumps(families))
  PY

  module_function

  def available?
    File.executable?(PYTHON) && system(PYTHON, "-c", "import grpc_tools, google.protobuf", err: File::NULL)
  end

  # @return [Array<Hash>] the MetricFamily messages, as protobuf's JSON mapping
  def decode(body)
    out, err, status = Open3.capture3(PYTHON, "-c", SCRIPT, PROTO_DIR, stdin_data: body, binmode: true)
    raise "Python's protobuf decoder rejected the body: #{err}" unless status.success?

    JSON.parse(out)
  end
end
