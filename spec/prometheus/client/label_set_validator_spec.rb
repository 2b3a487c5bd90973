# frozen_string_literal: true

# client_ruby's LabelSetValidator (its label_set_validator_spec checks the same behaviours).
RSpec.describe Prometheus::Client::LabelSetValidator do
  let(:validator_class) { described_class }

  let(:validator) { validator_class.new(expected_labels: %i[method code], reserved_labels: [:le]) }

  it "accepts Symbol keys that are valid, unreserved label names" do
    expect(validator.validate_symbols!(method: "get", code: "200")).to be(true)
  end

  {
    "a label set that is not a Hash" => [:not_a_hash, Prometheus::Client::LabelSetValidator::InvalidLabelSetError],
    "a String key" => [{ "method" => "get" }, Prometheus::Client::LabelSetValidator::InvalidLabelError],
    "a key starting with __" => [{ __meta: "x" }, Prometheus::Client::LabelSetValidator::ReservedLabelError],
    "a key with invalid characters" => [{ "my key": "x" }, Prometheus::Client::LabelSetValidator::InvalidLabelError],
    "a reserved key" => [{ le: "1" }, Prometheus::Client::LabelSetValidator::ReservedLabelError],
    "the base reserved key pid" => [{ pid: "1" }, Prometheus::Client::LabelSetValidator::ReservedLabelError],
  }.each do |what, (labels, error)|
    it "raises #{error.name.split("::").last} for #{what}" do
      expect { validator.validate_symbols!(labels) }.to raise_error(error)
      expect(error.ancestors).to include(Prometheus::Client::LabelSetValidator::LabelSetError)
    end
  end

  it "returns a label set with exactly the expected keys and refuses others" do
    expect(validator.validate_labelset!(code: "200", method: "get")).to eq(code: "200", method: "get")
    expect { validator.validate_labelset!(method: "get") }.to raise_error(validator_class::InvalidLabelSetError, /keys given: \[:method\]/)
    expect { validator.validate_labelset!(method: "get", code: "1", x: "y") }.to raise_error(validator_class::InvalidLabelSetError)
    expect { validator.validate_labelset!("method" => "get", code: "1") }.to raise_error(validator_class::InvalidLabelSetError)
  end
end
