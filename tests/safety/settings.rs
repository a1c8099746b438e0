//! Settings out of range, sizes that would exhaust memory, tiny or empty data.

use super::*;

#[test]
fn settings_out_of_range_are_refused_naming_the_key() {
    let cases: [(&str, &str); 12] = [
        ("lr = 1e30", "lr = 1000000000000000000000000000000"),
        ("centre_momentum = 5.0", "centre_momentum = 5"),
        ("centre_lr_mult = -1e9", "centre_lr_mult"),
        ("cycle_length = 0.0", "cycle_length = 0"),
        ("cycle_length = nan", "cycle_length = NaN"),
        ("cycle_length = -2.0", "cycle_length = -2"),
        ("grl_lambda = nan", "grl_lambda = NaN"),
        ("fisher_intra = inf", "fisher_intra = inf"),
        ("method = \"mmd+fisher+fisher\"", "'+fisher' is given twice"),
        ("batch = 100000000", "batch = 100000000"),
        ("epochs = 0", "epochs"),
        ("centre_init_std = 0.0", "centre_init_std = 0"),
    ];
    for (line, want) in cases {
        let e = match toml::from_str::<TrainConfig>(line) {
            Err(e) => e.to_string(),
            Ok(cfg) => cfg.validate().unwrap_err().to_string(),
        };
        assert!(e.contains(want), "{line}: {e}");
    }
    // The documented lower-case names are accepted, and written back as such.
    let cfg: TrainConfig =
        toml::from_str("mmd_estimator = \"linear\"\nfisher_form = \"trace-ratio\"").unwrap();
    let text = cfg.to_toml();
    assert!(text.contains("mmd_estimator = \"linear\""), "{text}");
    assert!(text.contains("fisher_form = \"trace-ratio\""), "{text}");
    // Older configs' spellings still load.
    toml::from_str::<TrainConfig>("mmd_estimator = \"Linear\"\nfisher_form = \"TraceRatio\"")
        .unwrap();
}

#[test]
fn data_commands_refuse_sizes_that_would_exhaust_memory() {
    let d = scratch("sizes");
    let out = d.join("g").display().to_string();
    for (args, want) in [
        (
            vec![
                "data",
                "generate",
                "--domain",
                "noisy",
                "--n",
                "1000000000000",
                "--out",
                &out,
            ],
            "--n = 1000000000000",
        ),
        (
            vec![
                "data", "generate", "--domain", "noisy", "--n", "0", "--out", &out,
            ],
            "--n = 0",
        ),
        (
            vec![
                "data",
                "generate",
                "--domain",
                "noisy",
                "--n",
                "4",
                "--sb-limit=-1000",
                "--out",
                &out,
            ],
            "sb_limit",
        ),
        (
            vec!["data", "preview", "--per-row", "100000000", "--out", &out],
            "--per-row = 100000000",
        ),
    ] {
        let t = Instant::now();
        let o = tidal_in(&d, &args);
        assert!(!o.status.success(), "{args:?}");
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{args:?} took {:?}",
            t.elapsed()
        );
    }
    assert!(!d.join("g").exists(), "nothing was written");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn tiny_or_empty_data_is_refused_before_anything_is_written() {
    let root = scratch("tiny");
    let ctx = Context::from_env().unwrap();
    let d = data(&root, 5);
    let out = root.join("run");
    let e = train(&ctx, &config(&d, &out), false, |_, _, _, _| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("5 images") && e.contains("set empty"), "{e}");
    assert!(
        !out.exists(),
        "nothing was written for a run that could not start"
    );
    // An empty (N = 0) source file.
    let empty = root.join("empty.npy");
    tidal::data::npy::write_f32(&empty, &[0, 3, 75, 75], &[]).unwrap();
    let labels = root.join("empty_y.npy");
    tidal::data::npy::write_labels(&labels, &[]).unwrap();
    let mut cfg = config(&d, &out);
    cfg.source = Some(empty.display().to_string());
    cfg.source_labels = Some(labels.display().to_string());
    let e = train(&ctx, &cfg, false, |_, _, _, _| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("0 images") && e.contains("empty.npy"), "{e}");
    assert!(!out.exists());
    let _ = std::fs::remove_dir_all(&root);
}
