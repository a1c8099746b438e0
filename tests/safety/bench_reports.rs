//! Bench reports given to `bench --compare`.

use super::*;

#[test]
fn bench_reports_of_unknown_schemas_are_refused() {
    let root = scratch("schema");
    let p = root.join("r.json");
    let mut r: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("benches/results/kernels-llvmpipe-mesa25-2core.json"),
        )
        .unwrap(),
    )
    .unwrap();
    r["schema"] = 99.into();
    std::fs::write(&p, r.to_string()).unwrap();
    let e = tidal::bench::Report::load(&p).unwrap_err().to_string();
    assert!(e.contains("schema 99") && e.contains("r.json"), "{e}");
    let _ = std::fs::remove_dir_all(&root);
}
