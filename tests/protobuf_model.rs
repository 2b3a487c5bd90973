//! The protobuf model in `src/core/exposition/protobuf/` is generated from `proto/metrics.proto`
//! (prost-build, with protox in place of a system protoc) and checked in, so installing the gem
//! needs neither. This test fails when the two drift; `REGENERATE_PROTO=1 cargo test --test
//! protobuf_model` writes the model anew.

#[test]
fn the_checked_in_model_is_generated_from_the_proto() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let fds = protox::compile([root.join("proto/metrics.proto")], [root.join("proto")]).expect("proto/metrics.proto compiles");
    let out = tempfile::tempdir().unwrap();
    prost_build::Config::new().out_dir(out.path()).compile_fds(fds).expect("prost-build generates the model");
    let generated = std::fs::read_to_string(out.path().join("io.prometheus.client.rs")).unwrap();
    let committed_path = root.join("src/core/exposition/protobuf/io.prometheus.client.rs");
    if std::env::var_os("REGENERATE_PROTO").is_some() {
        std::fs::write(&committed_path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    assert!(committed == generated, "the checked-in model differs from proto/metrics.proto; regenerate it (see this test's doc)");
}
