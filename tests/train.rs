//! The trainer end to end on tiny generated data: a run resumed from its checkpoint
//! continues bit-identically, and the run directory holds what the README promises.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tidal::data::{generate_to_dir, synth::Domain};
use tidal::report::{self, metrics};
use tidal::train::{checkpoint, train, TrainConfig};
use tidal::Context;

fn tiny_data(root: &Path) -> (PathBuf, PathBuf) {
    let (s, t) = (root.join("src"), root.join("tgt"));
    generate_to_dir(Domain::Pristine, 60, 1, &s, &|_| {}).unwrap();
    generate_to_dir(Domain::Noisy, 60, 2, &t, &|_| {}).unwrap();
    (s, t)
}

fn config(data: &(PathBuf, PathBuf), out: &Path, epochs: usize) -> TrainConfig {
    let p = |d: &PathBuf, f: &str| Some(d.join(f).display().to_string());
    TrainConfig {
        method: "dann+fisher+entropy".parse().unwrap(),
        // Ganin's λ and the cosine schedule depend on the planned length; a constant λ lets
        // a 1-epoch run extended to 2 follow the 2-epoch run exactly.
        grl_ganin: false,
        epochs,
        batch: 8,
        source: p(&data.0, "X.npy"),
        source_labels: p(&data.0, "y.npy"),
        target: p(&data.1, "X.npy"),
        target_labels: p(&data.1, "y.npy"),
        out: out.display().to_string(),
        ..TrainConfig::default()
    }
}

fn tensors(path: &Path) -> HashMap<String, (Vec<usize>, Vec<u32>)> {
    checkpoint::load(path)
        .unwrap()
        .tensors
        .into_iter()
        .map(|(k, (s, v))| (k, (s, v.iter().map(|x| x.to_bits()).collect())))
        .collect()
}

/// Loss terms per epoch from metrics.jsonl, as bits.
fn losses(dir: &Path) -> Vec<Vec<(String, u64)>> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let mut terms: Vec<(String, u64)> = v["losses"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, x)| (k.clone(), x.as_f64().unwrap().to_bits()))
                .collect();
            terms.sort();
            terms
        })
        .collect()
}

#[test]
fn resumed_run_is_bit_identical_to_an_uninterrupted_one() {
    let root = std::env::temp_dir().join(format!("tidal-train-{}", std::process::id()));
    let data = tiny_data(&root);
    let ctx = Context::from_env().unwrap();
    let (a, b) = (root.join("a"), root.join("b"));
    let full = train(&ctx, &config(&data, &a, 2), false, |_, _, _, _| {}).unwrap();
    train(&ctx, &config(&data, &b, 1), false, |_, _, _, _| {}).unwrap();
    let resumed = train(&ctx, &config(&data, &b, 2), true, |_, _, _, _| {}).unwrap();

    assert_eq!(full.steps, resumed.steps);
    let (ta, tb) = (
        tensors(&a.join("last.safetensors")),
        tensors(&b.join("last.safetensors")),
    );
    assert_eq!(ta.len(), tb.len());
    let differing: Vec<&String> = ta.keys().filter(|n| tb.get(*n) != ta.get(*n)).collect();
    assert!(differing.is_empty(), "differ after resuming: {differing:?}");
    assert_eq!(losses(&a), losses(&b));
    for f in [
        "config.toml",
        "metrics.jsonl",
        "best.safetensors",
        "last.safetensors",
        "summary.json",
        "test_predictions.csv",
        "report.md",
    ] {
        assert!(a.join(f).is_file(), "{f} missing");
    }
    // The kept model's test probabilities, one row per test image of either domain, agree
    // with the summary's metrics; the report draws and embeds every picture they allow.
    let preds = report::read_test_predictions(&a.join("test_predictions.csv")).unwrap();
    let target_test = full.target_test.expect("target labels were given");
    for (domain, m) in [("source", &full.source_test), ("target", &target_test)] {
        let (p, y): (Vec<f32>, Vec<u32>) = preds
            .iter()
            .filter(|r| r.domain == domain)
            .map(|r| (r.prob_merger, r.label.expect("labelled")))
            .unzip();
        assert_eq!(p.len(), m.n, "{domain}");
        assert!((metrics::compute(&p, &y).accuracy - m.accuracy).abs() < 1e-9);
    }
    let md = std::fs::read_to_string(a.join("report.md")).unwrap();
    for f in [
        "curves_losses.png",
        "curves_schedule.png",
        "curves_accuracy.png",
        "roc.png",
        "reliability.png",
        "confusion.png",
    ] {
        let reader = png::Decoder::new(std::io::BufReader::new(
            std::fs::File::open(a.join(f)).unwrap(),
        ))
        .read_info()
        .unwrap();
        assert!(reader.info().width >= 700, "{f}");
        assert!(
            md.contains(&format!("]({f})")),
            "report.md does not embed {f}"
        );
    }
    assert!(!md.contains("Warning"), "{md}");
    // Shift diagnostics every epoch, selection scores, and the latent maps of the untrained
    // and the trained model (the resumed run kept the map its first start drew).
    for line in std::fs::read_to_string(a.join("metrics.jsonl"))
        .unwrap()
        .lines()
    {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let pad = v["shift"]["proxy_a_distance"].as_f64().unwrap();
        assert!((0.0..=2.0).contains(&pad), "{line}");
        assert!(v["shift"]["heldout_mmd"].as_f64().unwrap().is_finite());
    }
    let sel = full.selection.expect("selection scores");
    for v in [sel.dev_risk, sel.target_entropy, sel.heldout_mmd] {
        assert!(v.is_finite(), "{sel:?}");
    }
    assert!((0.0..=std::f64::consts::LN_2 + 1e-9).contains(&sel.target_entropy));
    for dir in [&a, &b] {
        let csv = std::fs::read_to_string(dir.join("latent_tsne.csv")).unwrap();
        let stages = |s: &str| csv.lines().filter(|l| l.starts_with(s)).count();
        assert_eq!(stages("initial,"), stages("final,"), "{}", dir.display());
        assert!(stages("final,source,") > 0 && stages("final,target,") > 0);
        assert!(dir.join("latent_tsne.png").is_file());
    }
    for f in ["shift.png", "latent_tsne.png"] {
        assert!(
            md.contains(&format!("]({f})")),
            "report.md does not embed {f}"
        );
    }
    // Class-activation maps of the kept model through the CLI: one picture per index with
    // image and map for each of the two files, side by side at 4× scale.
    let maps = root.join("maps");
    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tidal"))
            .arg("gradcam")
            .arg("--checkpoint")
            .arg(a.join("best.safetensors"))
            .arg("--data")
            .arg(data.0.join("X.npy"))
            .arg("--pair")
            .arg(data.1.join("X.npy"))
            .arg("--out")
            .arg(&maps)
            .args(extra)
            .output()
            .unwrap()
    };
    let o = run(&["--index", "0,7"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for i in [0, 7] {
        let reader = png::Decoder::new(std::io::BufReader::new(
            std::fs::File::open(maps.join(format!("gradcam_{i:05}.png"))).unwrap(),
        ))
        .read_info()
        .unwrap();
        assert_eq!(
            (reader.info().width, reader.info().height),
            (4 * 300 + 3 * 8, 300)
        );
    }
    let o = run(&["--index", "60"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("index 60 out of range (60 images)"));
    // PyTorch state_dict names for DeepMerge, next to the discriminator and the centres.
    let names = tensors(&a.join("best.safetensors"));
    for n in [
        "conv1.weight",
        "batchn3.running_var",
        "fc3.bias",
        "discriminator.ad_layer3.weight",
        "fisher.centres",
        "optimizer.m",
    ] {
        assert!(names.contains_key(n), "{n} missing");
    }
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn bad_method_and_missing_target_are_clear_errors() {
    let ctx = Context::from_env().unwrap();
    // A method is checked where it is read: from a flag, or from a config file.
    let e = "mmd+fishr".parse::<tidal::train::Method>().unwrap_err();
    assert!(
        e.to_string().contains("unknown method term '+fishr'"),
        "{e}"
    );
    let e = toml::from_str::<TrainConfig>("method = \"mmd+fishr\"").unwrap_err();
    assert!(
        e.to_string().contains("unknown method term '+fishr'"),
        "{e}"
    );
    let cfg = TrainConfig {
        source: Some("x.npy".into()),
        ..TrainConfig::default()
    };
    let e = train(&ctx, &cfg, false, |_, _, _, _| {}).unwrap_err();
    assert!(
        e.to_string().contains("give both --source and --target"),
        "{e}"
    );
}

#[test]
fn moving_average_centres_train_without_entering_the_optimizer() {
    let root = std::env::temp_dir().join(format!("tidal-train-ema-{}", std::process::id()));
    let data = tiny_data(&root);
    let ctx = Context::from_env().unwrap();
    let mut cfg = config(&data, &root.join("run"), 1);
    cfg.method = "mmd+fisher".parse().unwrap();
    cfg.centre_momentum = 0.1;
    // A small start, so that moving is visible (the default draw is N(0, 1)).
    cfg.centre_init_std = 0.01;
    let s = train(&ctx, &cfg, false, |_, _, _, _| {}).unwrap();
    assert!(s.source_test.accuracy.is_finite());
    let ckpt = tensors(&root.join("run").join("last.safetensors"));
    // The centres moved from their N(0, 0.01) start towards class means of the features.
    let (_, c) = &ckpt["fisher.centres"];
    assert!(c.iter().any(|b| f32::from_bits(*b).abs() > 0.05));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn unlabelled_target_still_gets_test_probabilities_and_only_labelled_pictures() {
    let root = std::env::temp_dir().join(format!("tidal-train-unlab-{}", std::process::id()));
    let data = tiny_data(&root);
    let ctx = Context::from_env().unwrap();
    let out = root.join("run");
    let mut cfg = config(&data, &out, 1);
    cfg.method = "noda".parse().unwrap();
    cfg.target_labels = None;
    let s = train(&ctx, &cfg, false, |_, _, _, _| {}).unwrap();
    assert!(s.target_test.is_none());
    let preds = report::read_test_predictions(&out.join("test_predictions.csv")).unwrap();
    let target: Vec<_> = preds.iter().filter(|r| r.domain == "target").collect();
    assert!(!target.is_empty());
    assert!(target
        .iter()
        .all(|r| r.label.is_none() && (0.0..=1.0).contains(&r.prob_merger)));
    let source = preds.iter().filter(|r| r.domain == "source").count();
    assert_eq!(source, s.source_test.n);
    // Pictures of the labelled source set only; no discriminator for noDA.
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("](roc.png)") && md.contains("](confusion.png)"),
        "{md}"
    );
    assert!(!md.contains("discriminator"), "{md}");
    let _ = std::fs::remove_dir_all(&root);
}
