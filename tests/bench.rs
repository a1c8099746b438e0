//! `tidal bench`: reports (old and new schema) load, comparisons match cases by name and
//! shape with ratios to the first report and list what one side lacks, and the command
//! itself runs twice and compares its own reports from a fresh start.

use std::path::Path;
use std::process::Command;
use tidal::bench::compare::compare;
use tidal::bench::Report;

fn committed(name: &str) -> Report {
    Report::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("benches/results")
            .join(name),
    )
    .unwrap()
}

#[test]
fn committed_reports_load() {
    // The committed lavapipe reports must stay readable whatever the schema version.
    let k = committed("kernels-llvmpipe-mesa25-2core.json");
    assert!(k.cases.iter().any(|c| c.name == "matmul/nn"));
    assert!(k.peak.fma_gflops > 0.0);
    let t = committed("train_step-llvmpipe-mesa25-2core.json");
    assert!(t
        .cases
        .iter()
        .any(|c| c.name == "train_step/deepmerge/mmd" && c.images_per_s.unwrap() > 0.0));
}

#[test]
fn compare_ratios_and_missing_cases() {
    let a = committed("kernels-llvmpipe-mesa25-2core.json");
    let mut b = a.clone();
    // b: matmul 1024 twice as fast, one case dropped, one case of its own.
    for c in b.cases.iter_mut() {
        if c.name == "matmul/nn" && c.shape == [1024, 1024, 1024] {
            c.median_s /= 2.0;
            c.gflops = c.gflops.map(|g| g * 2.0);
        }
    }
    b.cases.retain(|c| c.name != "elementwise/exp");
    // The same case timed by another clock on b's adapter: flagged, not silently compared.
    // (Whichever clock the committed report used, b gets the other one.)
    for c in b.cases.iter_mut().filter(|c| c.name == "softmax/1024x1000") {
        c.timing = if c.timing == "gpu-timestamp" {
            "wall-clock".into()
        } else {
            "gpu-timestamp".into()
        };
    }
    let mut extra = b.cases[0].clone();
    extra.name = "only/in_b".into();
    b.cases.push(extra);
    let cmp = compare(&[("a".into(), a.clone()), ("b".into(), b)]);
    let row = |name: &str, shape: &[usize]| {
        cmp.rows
            .iter()
            .find(|r| r.name == name && r.shape == shape)
            .unwrap()
            .clone()
    };
    let mm = row("matmul/nn", &[1024, 1024, 1024]);
    approx::assert_relative_eq!(mm.ratios[1].unwrap(), 2.0, max_relative = 1e-9);
    approx::assert_relative_eq!(mm.ratios[0].unwrap(), 1.0, max_relative = 1e-12);
    let same = row("matmul/nn", &[256, 256, 256]);
    approx::assert_relative_eq!(same.ratios[1].unwrap(), 1.0, max_relative = 1e-12);
    assert!(row("elementwise/exp", &[1 << 22]).values[1].is_none());
    assert!(row("only/in_b", &a.cases[0].shape).values[0].is_none());
    let missing = cmp.missing();
    assert_eq!(missing.len(), 2, "{missing:?}");
    assert!(missing
        .iter()
        .any(|(l, k)| l == "a" && k[0].starts_with("only/in_b")));
    assert!(missing
        .iter()
        .any(|(l, k)| l == "b" && k[0].starts_with("elementwise/exp")));
    let table = cmp.table();
    assert!(table.contains("2.00×"), "{table}");
    assert!(row("softmax/1024x1000", &[1024, 1000]).mixed_clocks);
    assert!(!mm.mixed_clocks);
    assert!(table.contains("| softmax/1024x1000 † |"), "{table}");
    assert!(
        table.contains("missing in b (1 case(s)): elementwise/exp"),
        "{table}"
    );
    // One case of ~40 doubled: the geometric mean moves a little above 1.
    let g = cmp.geomean_ratio(1).unwrap();
    assert!(g > 1.0 && g < 1.1, "{g}");
}

#[test]
fn bench_command_runs_and_compares() {
    let dir = std::env::temp_dir().join(format!("tidal-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bin = env!("CARGO_BIN_EXE_tidal");
    let (a, b) = (dir.join("a.json"), dir.join("b.json"));
    for out in [&a, &b] {
        let o = Command::new(bin)
            .args([
                "bench",
                "--quick",
                "--suite",
                "kernels",
                "--filter",
                "cross_entropy",
            ])
            .arg("--out")
            .arg(out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let r = Report::load(&a).unwrap();
    assert_eq!(r.schema, tidal::bench::SCHEMA);
    assert!(!r.created.is_empty() && !r.git_commit.is_empty() && r.system.cpu_threads > 0);
    // The filter keeps the one case; the peaks always run.
    let names: Vec<&str> = r.cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["peak/fma", "peak/copy", "cross_entropy/deepmerge"]);
    assert!(r.cases.iter().all(|c| !c.samples_s.is_empty()
        && c.samples_s.iter().all(|s| *s > 0.0)
        && !c.timing.is_empty()));
    let md = dir.join("cmp.md");
    let o = Command::new(bin)
        .args(["bench", "--compare"])
        .args([&a, &b])
        .arg("--markdown")
        .arg(&md)
        .arg("--png")
        .arg(dir.join("ratios.png"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("cross_entropy/deepmerge") && text.contains("ratio"),
        "{text}"
    );
    assert!(std::fs::read_to_string(&md).unwrap().contains("peak/copy"));
    let png = std::fs::read(dir.join("ratios.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "ratio chart is a PNG");
    let bad = Command::new(bin)
        .args(["bench", "--compare", "Cargo.toml", "Cargo.toml"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a tidal bench report"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reports_written_before_the_renaming_load_under_the_current_case_names() {
    use tidal::bench::compare::current_name;
    assert_eq!(current_name("matmul"), "matmul/nn");
    assert_eq!(
        current_name("conv2d_bwd_weight/deepmerge_conv1"),
        "conv2d/grad_weight/deepmerge_conv1"
    );
    assert_eq!(
        current_name("maxpool/deepmerge_pool1"),
        "pool/max_pool2d/deepmerge_pool1"
    );
    assert_eq!(
        current_name("train_step/deepmerge/mmd"),
        "train_step/deepmerge/mmd"
    );
    // The committed reports predate the renaming: every case loads under a current name.
    let k = committed("kernels-llvmpipe-mesa25-2core.json");
    for c in &k.cases {
        assert_eq!(current_name(&c.name), c.name, "{} left unrenamed", c.name);
    }
    assert!(k
        .cases
        .iter()
        .any(|c| c.name == "conv2d/forward/deepmerge_conv1"));
}

#[test]
fn full_size_predict_case_fits_the_binding_cap_and_records_memory() {
    // 2048 images drawn in one buffer (138 MB) were over lavapipe's 128 MiB binding cap,
    // and the error ended the whole full bench before its report was written.
    let dir = std::env::temp_dir().join(format!("tidal-bench-full-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("p.json");
    let o = Command::new(env!("CARGO_BIN_EXE_tidal"))
        .args(["bench", "--suite", "train", "--filter", "predict/deepmerge"])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = Report::load(&out).unwrap();
    let c = r
        .cases
        .iter()
        .find(|c| c.name == "predict/deepmerge")
        .unwrap();
    assert_eq!(c.shape, [2048, 3, 75, 75]);
    assert!(c.gpu_peak_bytes.unwrap() > 0 && c.peak_rss_bytes.unwrap_or(1) > 0);
    assert!(!r.kernels.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
