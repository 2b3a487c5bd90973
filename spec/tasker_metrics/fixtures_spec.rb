# frozen_string_literal: true

RSpec.describe "Golden exposition fixtures" do # rubocop:disable RSpec/DescribeClass -- checks data files, not a class
  include_context "with promtool"

  Dir[File.expand_path("../../tests/fixtures/*.prom", __dir__)].each do |path|
    it "promtool accepts #{File.basename(path)}" do
      expect(File.read(path)).to pass_promtool
    end
  end
end
