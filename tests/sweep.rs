//! Sweeps: planning is deterministic and validated, runs execute locally and through the
//! generated SLURM script (a fake `sbatch` executes it), finished runs are skipped, failed
//! ones are reported with their reason, and the summary picks and correlates correctly.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tidal::data::{generate_to_dir, synth::Domain};
use tidal::sweep::summary::{collect, spearman};
use tidal::sweep::{expand, plan, status, Manifest, Status};
use tidal::train::TrainConfig;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tidal-sweep-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// 60 images per domain, as in tests/train.rs; the `[base]` lines that use them.
fn tiny_base(root: &Path) -> String {
    let (s, t) = (root.join("src"), root.join("tgt"));
    generate_to_dir(Domain::Pristine, 60, 1, &s, &|_| {}).unwrap();
    generate_to_dir(Domain::Noisy, 60, 2, &t, &|_| {}).unwrap();
    format!(
        "[base]\nmethod = \"mmd\"\nepochs = 1\nbatch = 8\nsource = \"{s}/X.npy\"\nsource_labels = \"{s}/y.npy\"\ntarget = \"{t}/X.npy\"\ntarget_labels = \"{t}/y.npy\"\n",
        s = s.display(),
        t = t.display()
    )
}

fn tidal(args: &[&str], path_prefix: Option<&Path>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tidal"));
    c.args(args);
    if let Some(p) = path_prefix {
        let path = std::env::var("PATH").unwrap_or_default();
        c.env("PATH", format!("{}:{path}", p.display()));
    }
    c.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", text(&o));
    text(&o)
}

#[test]
fn plan_expands_grid_times_seeds_into_configs_and_manifest() {
    let root = scratch("plan");
    let file = root.join("s.toml");
    write(
        &file,
        "seeds = [1, 2]\n[base]\nepochs = 2\nsource = \"rel/X.npy\"\ntarget = \"rel/T.npy\"\n\
         [grid]\ntransfer_weight = [0.1, 0.3, 1.0, 3.0]\nlr = [1e-4, 1e-3]\n",
    );
    let dir = root.join("sweep");
    let m = plan(&file, &dir).unwrap();
    assert_eq!(m.runs.len(), 4 * 2 * 2);
    assert_eq!(m.varied, ["lr", "transfer_weight", "seed"]);
    let p = |i: usize, k: &str| m.runs[i].params[k].as_f64().unwrap();
    // Seeds vary fastest, then the last grid key.
    assert_eq!(
        (p(0, "lr"), p(0, "transfer_weight"), p(0, "seed")),
        (1e-4, 0.1, 1.0)
    );
    assert_eq!(
        (p(1, "lr"), p(1, "transfer_weight"), p(1, "seed")),
        (1e-4, 0.1, 2.0)
    );
    assert_eq!(
        (p(2, "lr"), p(2, "transfer_weight"), p(2, "seed")),
        (1e-4, 0.3, 1.0)
    );
    assert_eq!((p(15, "lr"), p(15, "transfer_weight")), (1e-3, 3.0));
    assert_eq!(Manifest::load(&dir).unwrap(), m);
    let dir = dir.canonicalize().unwrap();
    let r = &m.runs[5];
    assert_eq!(
        (r.dir.as_str(), r.config.as_str()),
        ("runs/0005", "runs/0005/config.toml")
    );
    let cfg = TrainConfig::from_toml_file(&dir.join(&r.config)).unwrap();
    assert_eq!(cfg.out, dir.join("runs/0005").display().to_string());
    assert_eq!((cfg.epochs, cfg.seed), (2, 2));
    assert_eq!((cfg.lr, cfg.transfer_weight), (1e-4, 1.0));
    // Relative data paths are made absolute for tasks that start in other directories.
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(
        cfg.source.unwrap(),
        cwd.join("rel/X.npy").display().to_string()
    );
    assert!(dir.join("sweep.toml").is_file());
    assert_eq!(status(&dir.join("runs/0000")), Status::Pending);

    // Planning again is a no-op; another sweep into the same directory is refused.
    assert_eq!(plan(&file, &dir).unwrap(), m);
    write(&file, "[grid]\nlr = [1e-4]\n");
    let e = plan(&file, &dir).unwrap_err().to_string();
    assert!(e.contains("already holds a different sweep"), "{e}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn random_axes_draw_within_range_and_deterministically() {
    let root = scratch("random");
    let file = root.join("r.toml");
    let sweep = |sample_seed: u64| {
        format!(
            "samples = 40\nsample_seed = {sample_seed}\n[random]\nlr = {{ log_uniform = [1e-4, 1e-2] }}\n\
             transfer_weight = {{ uniform = [0.5, 2.0] }}\nmethod = {{ choice = [\"mmd\", \"dann\"] }}\n\
             batch = {{ int_uniform = [4, 16] }}\n"
        )
    };
    write(&file, &sweep(7));
    let (m, cfgs) = expand(&file, &root).unwrap();
    assert_eq!(m.runs.len(), 40);
    assert_eq!(m.varied, ["batch", "lr", "method", "transfer_weight"]);
    for c in &cfgs {
        assert!((1e-4..=1e-2).contains(&c.lr), "lr {}", c.lr);
        assert!((0.5..=2.0).contains(&c.transfer_weight));
        assert!((4..=16).contains(&c.batch));
        assert!(c.method == "mmd" || c.method == "dann");
    }
    // Log-uniform: each decade of [1e-4, 1e-2] gets about half the draws.
    let low = cfgs.iter().filter(|c| c.lr < 1e-3).count();
    assert!((10..=30).contains(&low), "{low} of 40 below 1e-3");
    assert!(cfgs.iter().any(|c| c.method == "dann") && cfgs.iter().any(|c| c.method == "mmd"));
    let (again, _) = expand(&file, &root).unwrap();
    assert_eq!(again, m);
    write(&file, &sweep(8));
    let (other, _) = expand(&file, &root).unwrap();
    assert_ne!(other.runs, m.runs);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn bad_sweep_files_give_clear_errors() {
    let root = scratch("bad");
    let file = root.join("bad.toml");
    for (sweep, expected) in [
        (
            "[grid]\ntrasnfer_weight = [1.0]\n",
            "[grid] trasnfer_weight = 1.0: unknown field `trasnfer_weight`",
        ),
        ("[grid]\nlr = [\"fast\"]\n", "[grid] lr = \"fast\""),
        (
            "samples = 2\n[random]\nlr = { log_uniform = [0.0, 1e-2] }\n",
            "[random] lr: log_uniform = [0, 0.01] needs 0 < lo ≤ hi",
        ),
        (
            "samples = 2\n[random]\ntransfer_weight = { uniform = [2.0, 1.0] }\n",
            "uniform = [2, 1] needs finite lo ≤ hi",
        ),
        (
            "samples = 2\n[random]\nlr = { gaussian = [0.0, 1.0] }\n",
            "unknown variant `gaussian`",
        ),
        (
            "[random]\nlr = { uniform = [0.1, 0.2] }\n",
            "no samples = N",
        ),
        (
            "max_runs = 3\nseeds = [1, 2]\n[grid]\nlr = [1e-4, 1e-3]\n",
            "expands to 4 runs (2 grid points × 1 samples × 2 seeds), more than max_runs = 3",
        ),
        (
            "[grid]\nlr = [1e-3, -0.1]\n",
            "run 1 (lr = -0.1): lr = -0.1: must be finite and at least 0",
        ),
        ("[base]\nout = \"x\"\n", "sets 'out'"),
        ("seeds = [1]\n[grid]\nseed = [3]\n", "'seed' is varied"),
        ("sedes = [1]\n", "unknown field `sedes`"),
    ] {
        write(&file, sweep);
        let e = expand(&file, &root).unwrap_err().to_string();
        assert!(
            e.contains(expected),
            "{sweep}\ngave: {e}\nexpected: {expected}"
        );
        assert!(e.contains("bad.toml"), "{e}");
    }
    // Through the CLI: a non-zero exit and the same message.
    let o = tidal(
        &[
            "sweep",
            "plan",
            file.to_str().unwrap(),
            "--out",
            root.join("d").to_str().unwrap(),
        ],
        None,
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("unknown field `sedes`"), "{}", text(&o));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn tiny_sweep_runs_locally_skips_done_runs_and_resumes_partial_ones() {
    let root = scratch("local");
    let file = root.join("s.toml");
    write(
        &file,
        &format!("{}[grid]\nlr = [1e-3, 2e-3]\n", tiny_base(&root)),
    );
    let dir = root.join("sweep");
    let d = dir.to_str().unwrap();
    ok(tidal(
        &["sweep", "plan", file.to_str().unwrap(), "--out", d],
        None,
    ));
    let out = ok(tidal(&["sweep", "local", d, "--jobs", "1"], None));
    assert!(out.contains("[2/2] run 0001 done"), "{out}");
    for i in 0..2 {
        let run = dir.join(format!("runs/{i:04}"));
        assert_eq!(status(&run), Status::Done);
        assert!(!run.join("running.json").exists());
        assert!(dir.join(format!("logs/local-{i:04}.log")).is_file());
    }
    let summary = dir.join("runs/0000/summary.json");
    let before = std::fs::metadata(&summary).unwrap().modified().unwrap();
    let out = ok(tidal(&["sweep", "run", d, "--index", "0"], None));
    assert!(out.contains("run 0000 is already done"), "{out}");
    assert_eq!(
        std::fs::metadata(&summary).unwrap().modified().unwrap(),
        before
    );
    let out = ok(tidal(&["sweep", "local", d], None));
    assert!(
        out.contains("0 runs to train") && out.contains("2 already done"),
        "{out}"
    );

    // A run stopped before its summary (last.safetensors kept) is partial and resumes.
    std::fs::remove_file(dir.join("runs/0001/summary.json")).unwrap();
    assert_eq!(status(&dir.join("runs/0001")), Status::Partial);
    let out = ok(tidal(&["sweep", "run", d, "--index", "1"], None));
    assert!(out.contains("run 0001 done (resumed)"), "{out}");
    assert_eq!(status(&dir.join("runs/0001")), Status::Done);

    let out = ok(tidal(&["sweep", "summary", d], None));
    assert!(out.contains("2 runs: 2 done, 0 failed"), "{out}");
    let csv = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("index,status,epochs_done,epochs,lr,source_val_acc,"));
    // Target labels exist, so the oracle column is filled.
    let acc: f64 = lines[1].split(',').nth(10).unwrap().parse().unwrap();
    assert!((0.0..=1.0).contains(&acc), "{csv}");
    assert!(lines[1].starts_with("0,done,1,1,0.001,"), "{csv}");
    let _ = std::fs::remove_dir_all(&root);
}

/// Stands in for SLURM's sbatch: reads `--array=0-N%M` from the script and runs the script
/// once per index with SLURM_ARRAY_TASK_ID set, as the array tasks would.
const FAKE_SBATCH: &str = r#"#!/bin/sh
set -e
script="$1"
range=$(sed -n 's/^#SBATCH --array=\([0-9]*\)-\([0-9]*\)%[0-9]*$/\1 \2/p' "$script")
[ -n "$range" ] || { echo "sbatch: no --array=0-N%M line" >&2; exit 1; }
set -- $range
i=$1
while [ "$i" -le "$2" ]; do
  SLURM_ARRAY_JOB_ID=42 SLURM_ARRAY_TASK_ID=$i bash "$script"
  i=$((i + 1))
done
echo "Submitted batch job 42"
"#;

#[test]
fn generated_slurm_script_runs_every_task_under_a_fake_sbatch() {
    let root = scratch("slurm");
    let file = root.join("s.toml");
    write(
        &file,
        &format!(
            "name = \"tiny\"\n{}[grid]\ntransfer_weight = [0.5, 1.0]\n",
            tiny_base(&root)
        ),
    );
    let dir = root.join("sweep");
    let d = dir.to_str().unwrap();
    ok(tidal(
        &["sweep", "plan", file.to_str().unwrap(), "--out", d],
        None,
    ));

    // Without --submit: the script and the command to submit it.
    let out = ok(tidal(
        &[
            "sweep",
            "slurm",
            d,
            "--max-parallel",
            "1",
            "--time",
            "00:10:00",
            "--partition",
            "debug",
            "--extra",
            "#SBATCH --mem=4G",
            "--extra",
            "echo task $SLURM_ARRAY_TASK_ID",
        ],
        None,
    ));
    let dir = dir.canonicalize().unwrap();
    let script_path = dir.join("sweep.sbatch");
    assert!(
        out.contains(&format!("submit with: sbatch '{}'", script_path.display())),
        "{out}"
    );
    let script = std::fs::read_to_string(&script_path).unwrap();
    let exe = Path::new(env!("CARGO_BIN_EXE_tidal"))
        .canonicalize()
        .unwrap();
    let logs = dir.join("logs");
    for line in [
        "#!/bin/bash".to_string(),
        "#SBATCH --job-name=tidal-tiny".into(),
        "#SBATCH --array=0-1%1".into(),
        "#SBATCH --gres=gpu:1".into(),
        "#SBATCH --time=00:10:00".into(),
        "#SBATCH --partition=debug".into(),
        "#SBATCH --mem=4G".into(),
        format!("#SBATCH --output={}/%A_%a.out", logs.display()),
        format!("#SBATCH --error={}/%A_%a.err", logs.display()),
        "echo task $SLURM_ARRAY_TASK_ID".into(),
        format!(
            "exec '{}' sweep run '{}' --index \"$SLURM_ARRAY_TASK_ID\"",
            exe.display(),
            dir.display()
        ),
    ] {
        assert!(
            script.lines().any(|l| l == line),
            "missing {line:?} in\n{script}"
        );
    }
    assert!(logs.is_dir());

    let bin = root.join("bin");
    write(&bin.join("sbatch"), FAKE_SBATCH);
    Command::new("chmod")
        .arg("+x")
        .arg(bin.join("sbatch"))
        .status()
        .unwrap();
    let out = ok(tidal(
        &[
            "sweep",
            "slurm",
            d,
            "--submit",
            "--max-parallel",
            "2",
            "--extra",
            "echo task $SLURM_ARRAY_TASK_ID",
        ],
        Some(&bin),
    ));
    assert!(out.contains("Submitted batch job 42"), "{out}");
    assert!(out.contains("task 0") && out.contains("task 1"), "{out}");
    for i in 0..2 {
        assert_eq!(
            status(&dir.join(format!("runs/{i:04}"))),
            Status::Done,
            "{out}"
        );
    }
    // Resubmitting is harmless: every task sees its run done.
    let out = ok(tidal(&["sweep", "slurm", d, "--submit"], Some(&bin)));
    assert!(
        out.contains("run 0000 is already done") && out.contains("run 0001 is already done"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// A DeepMerge checkpoint (`good`, from one tiny epoch) and the same weights × 1e37 (`huge`).
fn huge_weights(root: &Path, huge: &Path) {
    use safetensors::tensor::{Dtype, TensorView};
    let (s, t) = (root.join("src"), root.join("tgt"));
    let p = |d: &Path, f: &str| Some(d.join(f).display().to_string());
    let run = root.join("seed-run");
    let cfg = TrainConfig {
        epochs: 1,
        batch: 8,
        diagnostics: false,
        source: p(&s, "X.npy"),
        source_labels: p(&s, "y.npy"),
        target: p(&t, "X.npy"),
        target_labels: p(&t, "y.npy"),
        out: run.display().to_string(),
        ..TrainConfig::default()
    };
    let ctx = tidal::Context::from_env().unwrap();
    tidal::train::train(&ctx, &cfg, false, |_, _, _, _| {}).unwrap();
    std::fs::copy(run.join("best.safetensors"), root.join("good.safetensors")).unwrap();
    let loaded = tidal::train::checkpoint::load(&run.join("best.safetensors")).unwrap();
    let scaled: Vec<(String, Vec<usize>, Vec<u8>)> = loaded
        .tensors
        .iter()
        .filter(|(k, _)| !k.starts_with("optimizer."))
        .map(|(k, (shape, v))| {
            (
                k.clone(),
                shape.clone(),
                v.iter().flat_map(|x| (x * 1e37).to_le_bytes()).collect(),
            )
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
    std::fs::write(huge, safetensors::serialize(views, None).unwrap()).unwrap();
}

#[test]
fn failed_runs_are_reported_with_their_reason() {
    let root = scratch("failed");
    // Settings out of range are refused when planning, so the failing run starts from
    // finite but enormous weights (`init`), which overflow in its first epoch.
    let base = tiny_base(&root);
    let huge = root.join("huge.safetensors");
    huge_weights(&root, &huge);
    let file = root.join("s.toml");
    write(
        &file,
        &format!(
            "{base}[grid]\ninit = [\"{}\", \"{}\"]\n",
            root.join("good.safetensors").display(),
            huge.display()
        ),
    );
    let dir = root.join("sweep");
    let d = dir.to_str().unwrap();
    ok(tidal(
        &["sweep", "plan", file.to_str().unwrap(), "--out", d],
        None,
    ));
    let o = tidal(&["sweep", "local", d, "--jobs", "1"], None);
    assert!(!o.status.success());
    assert!(text(&o).contains("1 of 2 runs failed"), "{}", text(&o));
    assert_eq!(status(&dir.join("runs/0001")), Status::Failed);
    let out = ok(tidal(&["sweep", "summary", d], None));
    assert!(out.contains("1 done, 1 failed"), "{out}");
    assert!(out.contains("run 0001 failed: loss term '"), "{out}");
    let csv = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    assert!(
        csv.lines().nth(2).unwrap().starts_with("1,failed,"),
        "{csv}"
    );
    assert!(csv.contains(" is NaN") || csv.contains(" is inf"), "{csv}");
    // Failed runs are not retrained unless asked.
    let out = ok(tidal(&["sweep", "run", d, "--index", "1"], None));
    assert!(
        out.contains("failed before") && out.contains("--retry-failed"),
        "{out}"
    );

    // A data file that does not exist fails before training, naming the file.
    let file = root.join("missing.toml");
    write(&file, "[base]\nsource = \"/nonexistent/X.npy\"\nsource_labels = \"/nonexistent/y.npy\"\ntarget = \"/nonexistent/T.npy\"\n");
    let dir = root.join("missing");
    let d = dir.to_str().unwrap();
    ok(tidal(
        &["sweep", "plan", file.to_str().unwrap(), "--out", d],
        None,
    ));
    let o = tidal(&["sweep", "run", d, "--index", "0"], None);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("run 0 failed: /nonexistent/X.npy"),
        "{}",
        text(&o)
    );
    let out = ok(tidal(&["sweep", "summary", d], None));
    assert!(out.contains("run 0000 failed: /nonexistent/X.npy"), "{out}");
    let o = tidal(&["sweep", "run", d, "--index", "3"], None);
    assert!(
        text(&o).contains("no run 3; the sweep has runs 0 to 0"),
        "{}",
        text(&o)
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// A summary.json as the trainer writes it, with the selection scores (any may be absent).
fn fake_summary(dir: &Path, target_acc: f64, scores: &[(&str, f64)]) {
    let selection: serde_json::Map<String, serde_json::Value> = scores
        .iter()
        .map(|(k, v)| (k.to_string(), (*v).into()))
        .collect();
    let s = serde_json::json!({
        "method": "mmd",
        "source_test": { "accuracy": 0.7 },
        "target_test": { "accuracy": target_acc },
        "selection": selection,
    });
    write(&dir.join("summary.json"), &s.to_string());
}

#[test]
fn summary_picks_by_direction_and_correlates_scores_with_target_accuracy() {
    assert!(
        (spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[2.0, 1.0, 4.0, 3.0, 5.0]).unwrap() - 0.8).abs()
            < 1e-12
    );
    assert_eq!(spearman(&[1.0, 2.0], &[1.0, 2.0]), None);
    assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);

    let root = scratch("summary");
    let file = root.join("s.toml");
    write(
        &file,
        "[grid]\nlr = [1e-4, 2e-4, 3e-4, 4e-4, 5e-4, 6e-4, 7e-4, 8e-4]\n",
    );
    let dir = root.join("sweep");
    plan(&file, &dir).unwrap();
    let run = |i: usize| dir.join(format!("runs/{i:04}"));
    let acc = [0.5, 0.6, 0.7, 0.8, 0.9];
    let dev = [5.0, 4.0, 3.0, 1.0, 2.0];
    let loss = [1.0, 1.0, 2.0, 2.0, 3.0];
    for i in 0..5 {
        let mut scores = vec![
            ("source_val_acc", 0.1 * (i + 1) as f64),
            ("source_val_loss", loss[i]),
            ("dev_risk", dev[i]),
            ("target_entropy", 0.1 * (i + 1) as f64),
        ];
        if i < 2 {
            scores.push(("heldout_mmd", [0.3, 0.2][i]));
        }
        fake_summary(&run(i), acc[i], &scores);
    }
    tidal::sweep::mark_failed(&run(5), "loss term 'transfer' is NaN at step 3").unwrap();
    write(&run(6).join("metrics.jsonl"), "{}\n");
    write(
        &run(7).join("running.json"),
        &serde_json::json!({ "pid": std::process::id(), "host": tidal::sweep::hostname(), "started": "now" }).to_string(),
    );

    let s = collect(&dir).unwrap();
    let st: Vec<Status> = s.rows.iter().map(|r| r.status).collect();
    use Status::*;
    assert_eq!(st, [Done, Done, Done, Done, Done, Failed, Partial, Running]);
    assert_eq!(s.rows[6].epochs_done, 1);
    let pick = |name: &str| s.picks.iter().find(|p| p.score == name).unwrap();
    // source_val_acc: higher is better and ranks exactly like target accuracy.
    assert_eq!(pick("source_val_acc").run, Some(4));
    assert!((pick("source_val_acc").spearman.unwrap() - 1.0).abs() < 1e-12);
    // dev_risk: lower is better; one swapped pair out of five gives 1 − 6·2/(5·24) = 0.9.
    assert_eq!(pick("dev_risk").run, Some(3));
    assert_eq!(pick("dev_risk").target_acc, Some(0.8));
    assert!((pick("dev_risk").spearman.unwrap() - 0.9).abs() < 1e-12);
    // target_entropy rises with target accuracy here, so as a lower-is-better score it is −1.
    assert_eq!(pick("target_entropy").run, Some(0));
    assert!((pick("target_entropy").spearman.unwrap() + 1.0).abs() < 1e-12);
    // Tied losses share ranks (tie on the minimum goes to the lower index): −9/√90.
    assert_eq!(pick("source_val_loss").run, Some(0));
    assert!((pick("source_val_loss").spearman.unwrap() + 9.0 / 90f64.sqrt()).abs() < 1e-12);
    // heldout_mmd exists for two runs only: a pick but no correlation.
    assert_eq!(pick("heldout_mmd").run, Some(1));
    assert_eq!(
        (pick("heldout_mmd").spearman, pick("heldout_mmd").n),
        (None, 2)
    );
    assert_eq!(s.oracle, Some((4, 0.9)));

    let out = s.text();
    assert!(
        out.contains("8 runs: 5 done, 1 failed, 1 running, 1 partial, 0 pending"),
        "{out}"
    );
    assert!(
        out.contains("run 0005 failed: loss term 'transfer' is NaN at step 3"),
        "{out}"
    );
    assert!(
        out.contains("+0.90 (n = 5)") && out.contains("-1.00 (n = 5)"),
        "{out}"
    );
    assert!(
        out.contains("oracle: run 0004 has the best target accuracy, 0.9000"),
        "{out}"
    );
    let row2 = out.lines().find(|l| l.starts_with("0002")).unwrap();
    assert!(
        row2.contains("done") && row2.contains("0.0003") && row2.ends_with("0.7000"),
        "{row2}"
    );
    let row6 = out.lines().find(|l| l.starts_with("0006")).unwrap();
    assert!(row6.contains("partial") && row6.contains('–'), "{row6}");

    tidal::sweep::summary::write(&dir, &s).unwrap();
    let scatter = std::fs::read_to_string(dir.join("score_vs_target.csv")).unwrap();
    assert_eq!(scatter.lines().count(), 1 + 5 * 4 + 2);
    assert!(scatter.contains("\n3,dev_risk,1,0.8\n"), "{scatter}");
    let png = std::fs::read(dir.join("score_vs_target.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "score_vs_target.png is a PNG");
    let csv = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    assert_eq!(csv.lines().count(), 9);
    assert!(
        csv.contains("\n5,failed,0,4,0.0006,,,,,,,loss term 'transfer' is NaN at step 3\n"),
        "{csv}"
    );
    let _ = std::fs::remove_dir_all(&root);
}
