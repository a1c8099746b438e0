//! Reliability as a careless or hostile user meets it: settings out of range, sizes that
//! would exhaust memory, tiny or empty data, damaged checkpoints, existing run directories,
//! resumes with other settings or files, planted symlinks, SLURM scripts from hostile names
//! and paths, signals. Every probe must end in a one-line error that names the file or key,
//! and leave earlier files as they were. (The parsers' fuzzing is in tests/fuzz.rs.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use tidal::data::{generate_to_dir, synth::Domain};
use tidal::train::{train, TrainConfig};
use tidal::Context;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tidal-safety-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `n` labelled images per domain.
fn data(root: &Path, n: usize) -> (PathBuf, PathBuf) {
    let (s, t) = (root.join("src"), root.join("tgt"));
    generate_to_dir(Domain::Pristine, n, 1, &s, &|_| {}).unwrap();
    generate_to_dir(Domain::Noisy, n, 2, &t, &|_| {}).unwrap();
    (s, t)
}

fn config(d: &(PathBuf, PathBuf), out: &Path) -> TrainConfig {
    let p = |dir: &PathBuf, f: &str| Some(dir.join(f).display().to_string());
    TrainConfig {
        method: "mmd".parse().unwrap(),
        epochs: 1,
        batch: 8,
        diagnostics: false,
        source: p(&d.0, "X.npy"),
        source_labels: p(&d.0, "y.npy"),
        target: p(&d.1, "X.npy"),
        target_labels: p(&d.1, "y.npy"),
        out: out.display().to_string(),
        ..TrainConfig::default()
    }
}

fn tidal_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tidal"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn data_flags(d: &(PathBuf, PathBuf)) -> Vec<String> {
    let f = |dir: &PathBuf, n: &str| dir.join(n).display().to_string();
    vec![
        "--source".into(),
        f(&d.0, "X.npy"),
        "--source-labels".into(),
        f(&d.0, "y.npy"),
        "--target".into(),
        f(&d.1, "X.npy"),
        "--target-labels".into(),
        f(&d.1, "y.npy"),
    ]
}

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

#[test]
fn an_existing_run_directory_is_never_mixed_with_a_new_run() {
    let root = scratch("rundir");
    let d = data(&root, 60);
    let mut flags = data_flags(&d);
    flags.extend(["--epochs", "1", "--batch", "8"].map(String::from));
    let run = |extra: &[&str]| {
        let mut a: Vec<&str> = vec!["train"];
        a.extend(flags.iter().map(String::as_str));
        a.extend(extra);
        tidal_in(&root, &a)
    };
    // The default runs/latest: a second run moves the first to runs/previous.
    assert!(run(&[]).status.success());
    let first = std::fs::read(root.join("runs/latest/summary.json")).unwrap();
    let o = run(&["--seed", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("moved to"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(root.join("runs/previous/summary.json")).unwrap(),
        first
    );
    // An explicit --out that holds a run is refused, untouched, unless --overwrite.
    let out = root.join("mine").display().to_string();
    assert!(run(&["--out", &out]).status.success());
    let before = std::fs::read(root.join("mine/summary.json")).unwrap();
    let o = run(&["--out", &out, "--seed", "3"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("already holds a run"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(root.join("mine/summary.json")).unwrap(),
        before
    );
    let o = run(&["--out", &out, "--seed", "3", "--overwrite"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_ne!(
        std::fs::read(root.join("mine/summary.json")).unwrap(),
        before
    );
    // A data error leaves the run's config.toml as it was.
    let cfg_before = std::fs::read(root.join("mine/config.toml")).unwrap();
    let o = tidal_in(
        &root,
        &[
            "train",
            "--out",
            &out,
            "--overwrite",
            "--source",
            "/nonexistent/X.npy",
            "--target",
            "/nonexistent/T.npy",
        ],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("/nonexistent/X.npy"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(root.join("mine/config.toml")).unwrap(),
        cfg_before
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_resume_that_cannot_continue_changes_nothing() {
    let root = scratch("resume");
    let d = data(&root, 60);
    let ctx = Context::from_env().unwrap();
    let out = root.join("run");
    train(&ctx, &config(&d, &out), false, |_, _, _, _| {}).unwrap();
    let cfg_before = std::fs::read(out.join("config.toml")).unwrap();
    let resume = |f: &dyn Fn(&mut TrainConfig)| {
        let mut cfg = config(&d, &out);
        cfg.epochs = 2;
        f(&mut cfg);
        train(&ctx, &cfg, true, |_, _, _, _| {})
            .unwrap_err()
            .to_string()
    };
    let e = resume(&|c| c.method = "dann+fisher".parse().unwrap());
    assert!(e.contains("cannot resume"), "{e}");
    let e = resume(&|c| c.model = tidal::models::ModelKind::ResNet18);
    assert!(e.contains("cannot resume"), "{e}");
    // Other data files under the same names: refused, naming the file.
    let other = data(&root.join("other"), 60);
    let e = resume(&|c| c.target = Some(other.1.join("X.npy").display().to_string()));
    assert!(e.contains("data") && e.contains("X.npy"), "{e}");
    assert_eq!(std::fs::read(out.join("config.toml")).unwrap(), cfg_before);
    // A plain resume still works after the failed ones.
    let mut cfg = config(&d, &out);
    cfg.epochs = 2;
    train(&ctx, &cfg, true, |_, _, _, _| {}).unwrap();
    // eval: a directory as --predictions, and a file of no images, are refused up front.
    use tidal::train::eval::{evaluate, NormChoice};
    let ckpt = out.join("best.safetensors");
    let x = d.1.join("X.npy");
    let e = evaluate(
        &ctx,
        &tidal::train::eval::EvalRequest {
            checkpoint: &ckpt,
            images: &x,
            labels: None,
            norm: &NormChoice::Target,
            calibrated: true,
            prepare: &Default::default(),
            predictions: &root,
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("is a directory"), "{e}");
    let empty = root.join("none.npy");
    tidal::data::npy::write_f32(&empty, &[0, 3, 75, 75], &[]).unwrap();
    let preds = root.join("p.csv");
    let e = evaluate(
        &ctx,
        &tidal::train::eval::EvalRequest {
            checkpoint: &ckpt,
            images: &empty,
            labels: None,
            norm: &NormChoice::Target,
            calibrated: true,
            prepare: &Default::default(),
            predictions: &preds,
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("no images"), "{e}");
    assert!(!preds.exists());
    // A checkpoint whose normalisation has the wrong channel count.
    let json = root.join("norm.json");
    std::fs::write(&json, r#"{"mean": [0.0, 0.0], "std": [1.0, 1.0]}"#).unwrap();
    let e = evaluate(
        &ctx,
        &tidal::train::eval::EvalRequest {
            checkpoint: &ckpt,
            images: &x,
            labels: None,
            norm: &NormChoice::File(json),
            calibrated: true,
            prepare: &Default::default(),
            predictions: &preds,
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("the images have 3 channels"), "{e}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_non_finite_first_epoch_names_no_checkpoint_it_did_not_write() {
    use safetensors::tensor::{Dtype, TensorView};
    let root = scratch("nan");
    let d = data(&root, 60);
    let ctx = Context::from_env().unwrap();
    // Finite but enormous weights (loading accepts them) overflow the activations and the
    // updates of the first epoch.
    let first = root.join("first");
    train(&ctx, &config(&d, &first), false, |_, _, _, _| {}).unwrap();
    let loaded = tidal::train::checkpoint::load(&first.join("best.safetensors")).unwrap();
    let scaled: Vec<(String, Vec<usize>, Vec<u8>)> = loaded
        .tensors
        .iter()
        .filter(|(k, _)| !k.starts_with("optimizer."))
        .map(|(k, (shape, v))| {
            let bytes = v.iter().flat_map(|x| (x * 1e37).to_le_bytes()).collect();
            (k.clone(), shape.clone(), bytes)
        })
        .collect();
    let views: Vec<(String, TensorView)> = scaled
        .iter()
        .map(|(k, s, b)| {
            (
                k.clone(),
                TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
            )
        })
        .collect();
    let huge = root.join("huge.safetensors");
    std::fs::write(&huge, safetensors::serialize(views, None).unwrap()).unwrap();
    // Into the directory of the finished run, replacing it: the old run's checkpoint is
    // gone first, and the message must not name it.
    let mut cfg = config(&d, &first);
    cfg.init = Some(huge.display().to_string());
    let e = tidal::train::train_run(&ctx, &cfg, tidal::train::Start::Overwrite, |_, _, _, _| {})
        .unwrap_err()
        .to_string();
    // Either the loss or the weights become non-finite in the first epoch; either way the
    // message names no checkpoint that does not exist.
    assert!(e.contains("loss term") && e.contains("(epoch 0)"), "{e}");
    assert!(e.contains("no checkpoint was written yet"), "{e}");
    assert!(!first.join("last.safetensors").exists());
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn planted_symlinks_are_replaced_never_followed() {
    let root = scratch("symlink");
    let victim = root.join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    // At the destination: the symlink is replaced by the new file.
    let dest = root.join("metrics.jsonl");
    std::os::unix::fs::symlink(&victim, &dest).unwrap();
    tidal::atomic::write(&dest, b"new").unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(!std::fs::symlink_metadata(&dest)
        .unwrap()
        .file_type()
        .is_symlink());
    // At the temporary names: created exclusively, so planted links are skipped.
    let dest = root.join("best.safetensors");
    for n in 0..32 {
        let t = root.join(format!(".best.safetensors.{}-{n}.tmp", std::process::id()));
        let _ = std::os::unix::fs::symlink(&victim, t);
    }
    tidal::atomic::write(&dest, b"weights").unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(std::fs::read(&dest).unwrap(), b"weights");
    // A run's metrics.jsonl planted as a link before training: the target stays intact.
    let d = data(&root, 60);
    let out = root.join("run");
    std::fs::create_dir_all(&out).unwrap();
    std::os::unix::fs::symlink(&victim, out.join("metrics.jsonl")).unwrap();
    let ctx = Context::from_env().unwrap();
    let e = train(&ctx, &config(&d, &out), false, |_, _, _, _| {});
    // A planted metrics.jsonl makes the directory look like a run: refused, untouched.
    assert!(e.is_err());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    train(&ctx, &config(&d, &out), false, |_, _, _, _| {}).unwrap_err();
    tidal::train::train_run(
        &ctx,
        &config(&d, &out),
        tidal::train::Start::Overwrite,
        |_, _, _, _| {},
    )
    .unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn slurm_scripts_are_safe_for_any_name_and_path() {
    use tidal::sweep::slurm::{script, SlurmOptions};
    use tidal::sweep::{Manifest, PlannedRun};
    let manifest = |name: &str| Manifest {
        name: name.into(),
        sweep_file: String::new(),
        varied: vec![],
        runs: vec![PlannedRun {
            index: 0,
            params: Default::default(),
            config: "runs/0000/config.toml".into(),
            dir: "runs/0000".into(),
        }],
    };
    let tidal = Path::new("/opt/tidal/bin/tidal");
    let ok_dir = Path::new("/data/sweeps/my sweep");
    // A hostile sweep name becomes a harmless job name.
    let s = script(
        &manifest("x\nrm -rf ~\n$(reboot)"),
        ok_dir,
        tidal,
        &SlurmOptions::default(),
    )
    .unwrap();
    for line in s.lines() {
        assert!(
            !line.starts_with("rm ") && !line.contains("$(reboot)"),
            "{s}"
        );
    }
    assert!(
        s.contains("#SBATCH --output=\"/data/sweeps/my sweep/logs/%A_%a.out\""),
        "{s}"
    );
    assert!(s.contains("'/data/sweeps/my sweep'"), "{s}");
    // Hostile option values are refused, naming the option.
    for (o, key) in [
        (
            SlurmOptions {
                partition: Some("gpu\nrm -rf ~".into()),
                ..Default::default()
            },
            "--partition",
        ),
        (
            SlurmOptions {
                time: "01:00:00\n$(reboot)".into(),
                ..Default::default()
            },
            "--time",
        ),
        (
            SlurmOptions {
                job_name: Some("a'b".into()),
                ..Default::default()
            },
            "--job-name",
        ),
        (
            SlurmOptions {
                gres: "gpu:1 --wrap=x".into(),
                ..Default::default()
            },
            "--gres",
        ),
    ] {
        let e = script(&manifest("ok"), ok_dir, tidal, &o)
            .unwrap_err()
            .to_string();
        assert!(e.contains(key), "{key}: {e}");
    }
    // A sweep directory with a newline or a double quote in its path.
    for bad in ["/data/x\n#SBATCH --wrap=evil", "/data/x\"y"] {
        let e = script(
            &manifest("ok"),
            Path::new(bad),
            tidal,
            &SlurmOptions::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("sweep directory"), "{e}");
    }
}

#[test]
fn a_manifest_cannot_send_a_run_outside_its_sweep() {
    let root = scratch("manifest");
    for dir in ["/etc/evil", "../outside", "runs/../../x", ""] {
        let m = serde_json::json!({
            "name": "x", "sweep_file": "", "varied": [],
            "runs": [{ "index": 0, "params": {}, "config": "runs/0000/config.toml", "dir": dir }]
        });
        std::fs::write(root.join("manifest.json"), m.to_string()).unwrap();
        let e = tidal::sweep::Manifest::load(&root).unwrap_err().to_string();
        assert!(
            e.contains("not a path inside the sweep directory"),
            "{dir}: {e}"
        );
    }
    // A huge sample count is refused at once, before anything is expanded.
    let file = root.join("huge.toml");
    std::fs::write(
        &file,
        "samples = 1000000000\n[random]\nlr = { log_uniform = [1e-5, 1e-2] }\n",
    )
    .unwrap();
    let t = Instant::now();
    let e = tidal::sweep::expand(&file, &root).unwrap_err().to_string();
    assert!(e.contains("more than max_runs = 1000"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(5));
    let _ = std::fs::remove_dir_all(&root);
}

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

#[test]
fn sigterm_stops_train_after_a_step_with_a_resumable_checkpoint() {
    let root = scratch("sigterm");
    let d = data(&root, 60);
    let out = root.join("run");
    let mut args: Vec<String> = vec!["train".into(), "--out".into(), out.display().to_string()];
    args.extend(data_flags(&d));
    args.extend(["--epochs", "40", "--batch", "8"].map(String::from));
    let mut child = Command::new(env!("CARGO_BIN_EXE_tidal"))
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    // Wait for the first epoch's checkpoint, then signal as SLURM does at a time limit.
    while !out.join("last.safetensors").is_file() {
        assert!(t.elapsed() < Duration::from_secs(300), "no epoch finished");
        assert!(child.try_wait().unwrap().is_none(), "train ended early");
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let o = child.wait_with_output().unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("interrupted at step"), "{}", stderr(&o));
    // The checkpoint it wrote resumes.
    let resume: Vec<String> = [
        "train",
        "--resume",
        &out.display().to_string(),
        "--epochs",
        "2",
    ]
    .map(String::from)
    .to_vec();
    let o = Command::new(env!("CARGO_BIN_EXE_tidal"))
        .args(&resume)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.join("summary.json").is_file());
    let _ = std::fs::remove_dir_all(&root);
}
