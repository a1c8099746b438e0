//! `tidal compare`: runs of (method, seed) under one protocol, resumable after a kill, the
//! table with paired intervals, the cross-domain matrix, and the SLURM plan.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tidal::data::{generate_to_dir, synth::Domain};
use tidal::report::metrics::Metrics;
use tidal::report::tables::{paired_difference, t975, CompareRow};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tidal-compare-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// 60 labelled images per domain; the data flags that use them.
fn tiny_data(root: &Path) -> Vec<String> {
    let (s, t) = (root.join("src"), root.join("tgt"));
    generate_to_dir(Domain::Pristine, 60, 1, &s, &|_| {}).unwrap();
    generate_to_dir(Domain::Noisy, 60, 2, &t, &|_| {}).unwrap();
    let f = |d: &Path, n: &str| d.join(n).display().to_string();
    vec![
        "--source".into(),
        f(&s, "X.npy"),
        "--source-labels".into(),
        f(&s, "y.npy"),
        "--target".into(),
        f(&t, "X.npy"),
        "--target-labels".into(),
        f(&t, "y.npy"),
    ]
}

fn tidal(args: &[String]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tidal"));
    c.args(args);
    c
}

fn compare_args(root: &Path, data: &[String], extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = ["compare", "--batch", "8", "--out"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    a.push(root.join("cmp").display().to_string());
    a.extend(data.iter().cloned());
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn compare_resumes_after_sigterm_and_skips_finished_runs() {
    let root = scratch("resume");
    let data = tiny_data(&root);
    let args = compare_args(&root, &data, &["--methods", "noda,mmd", "--epochs", "8"]);
    let mut child = tidal(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let cmp = root.join("cmp");
    // Wait until the second run (mmd) is training, then send what SLURM sends at a limit.
    let t = Instant::now();
    while !cmp.join("mmd-seed1/running.json").is_file() {
        assert!(t.elapsed() < Duration::from_secs(300), "mmd never started");
        assert!(child.try_wait().unwrap().is_none(), "compare ended early");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("interrupted at step"), "{log}");
    assert!(cmp.join("noda-seed1/summary.json").is_file());
    assert!(cmp.join("mmd-seed1/last.safetensors").is_file(), "{log}");
    assert!(!cmp.join("mmd-seed1/summary.json").is_file());
    assert!(
        !cmp.join("mmd-seed1/failed.json").is_file(),
        "an interruption is not a failure"
    );

    // The same command again: noDA is skipped, MMD resumes, the table is written.
    let out = tidal(&args).output().unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{log}");
    assert!(log.contains("noda-seed1: already done"), "{log}");
    assert!(log.contains("(resumed)"), "{log}");
    let json: serde_json::Value = serde_json::from_str(&read(&cmp.join("compare.json"))).unwrap();
    let runs = json["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    for r in runs {
        assert_eq!(r["status"], "done");
        let s = &r["summary"];
        for k in [
            "accuracy",
            "precision",
            "recall",
            "f1",
            "auc",
            "brier",
            "ece",
        ] {
            assert!(s["target_test"][k].is_number(), "{k}: {s}");
        }
        assert!(s["adapter"].is_string() && s["kernel_variant"].is_string());
        assert!(r["config"].as_str().unwrap().contains("epochs = 8"));
        // Portable: nothing in it names the directory the comparison ran in.
        let dir = r["dir"].as_str().unwrap();
        assert!(dir.ends_with("-seed1") && !dir.contains('/'), "{dir}");
        assert!(r["config"]
            .as_str()
            .unwrap()
            .contains(&format!("out = \"{dir}\"")));
    }
    let canon = cmp.canonicalize().unwrap();
    assert!(!read(&cmp.join("compare.json")).contains(&*canon.to_string_lossy()));
    assert!(json["git_commit"].is_string() && json["tidal_version"].is_string());
    let md = read(&cmp.join("compare.md"));
    assert!(
        md.contains("| noda | 1 |") && md.contains("| mmd | 1 |"),
        "{md}"
    );
    assert!(md.contains("one seed: no interval"), "{md}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_different_comparison_is_refused_in_the_same_directory() {
    let root = scratch("refuse");
    let data = tiny_data(&root);
    let plan = |m: &str| {
        let mut a = compare_args(&root, &data, &["--methods", m, "--slurm", "--gres", ""]);
        a.extend(["--epochs".into(), "1".into()]);
        tidal(&a).output().unwrap()
    };
    let first = plan("noda,mmd");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let script = read(&root.join("cmp/sweep.sbatch"));
    assert!(script.contains("--array=0-1%"), "{script}");
    assert!(script.contains("#SBATCH --signal=B:TERM@120"), "{script}");
    assert!(
        script.contains("sweep' 'run'") || script.contains("sweep run"),
        "{script}"
    );
    let again = plan("noda,dann");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("different comparison"));
    // More methods after the existing ones extend the comparison.
    let more = plan("noda,mmd,dann");
    assert!(
        more.status.success(),
        "{}",
        String::from_utf8_lossy(&more.stderr)
    );
    assert!(read(&root.join("cmp/sweep.sbatch")).contains("--array=0-2%"));
    // An unknown method is refused before anything trains.
    let bad = plan("noda,foo");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown method 'foo'"));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn the_matrix_trains_noda_both_ways_round() {
    let root = scratch("matrix");
    let data = tiny_data(&root);
    let args = compare_args(&root, &data, &["--matrix", "--epochs", "1"]);
    let out = tidal(&args).output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    let cmp = root.join("cmp");
    assert!(cmp.join("noda-seed1/summary.json").is_file());
    assert!(cmp.join("noda-swapped-seed1/summary.json").is_file());
    let swapped = read(&cmp.join("noda-swapped-seed1/config.toml"));
    assert!(swapped.contains("tgt/X.npy\"\nsource_labels"), "{swapped}");
    let md = read(&cmp.join("compare.md"));
    for h in [
        "train pristine, test noisy",
        "| AUC |",
        "| Brier |",
        "| recall |",
    ] {
        assert!(md.contains(h), "{h}: {md}");
    }
    let _ = std::fs::remove_dir_all(&root);
}

fn m(acc: f64) -> Metrics {
    Metrics {
        accuracy: acc,
        ..Metrics::default()
    }
}

#[test]
fn paired_intervals_use_student_t_over_the_seeds_both_rows_have() {
    assert!((t975(2) - 4.303).abs() < 1e-9);
    assert!((t975(60) - 2.000).abs() < 2e-3, "{}", t975(60));
    let row = |name: &str, seeds: &[u64], accs: &[f64]| CompareRow {
        method: name.into(),
        seeds: seeds.to_vec(),
        source: accs.iter().map(|&a| m(a)).collect(),
        target: accs.iter().map(|&a| m(a)).collect(),
    };
    let noda = row("noda", &[1, 2, 3], &[0.50, 0.55, 0.60]);
    let mmd = row("mmd", &[3, 1, 2], &[0.70, 0.62, 0.66]);
    // Pairs by seed: differences 0.12, 0.11, 0.10 → mean 0.11, sd 0.01.
    let (mean, (lo, hi), n) = paired_difference(&mmd, &noda).unwrap();
    assert_eq!(n, 3);
    assert!((mean - 0.11).abs() < 1e-12);
    let half = 4.303 * 0.01 / 3f64.sqrt();
    assert!((lo - (0.11 - half)).abs() < 1e-9 && (hi - (0.11 + half)).abs() < 1e-9);
    // A mean below noDA whose interval spans 0 is not negative transfer.
    let worse = row("x", &[1, 2, 3], &[0.40, 0.60, 0.58]);
    let table = tidal::report::compare_table(&[noda.clone(), worse]);
    assert!(!table.contains("negative transfer"), "{table}");
    let clearly = row("y", &[1, 2, 3], &[0.40, 0.44, 0.50]);
    let table = tidal::report::compare_table(&[noda, clearly]);
    assert!(
        table.contains("negative transfer (interval below 0)"),
        "{table}"
    );
}
