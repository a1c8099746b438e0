//! Run directories and checkpoints: existing runs, resumes that cannot continue, a
//! non-finite first epoch, planted symlinks.

use super::*;

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
