//! Reliability as a careless or hostile user meets it: settings out of range, sizes that
//! would exhaust memory, tiny or empty data, damaged checkpoints, existing run directories,
//! resumes with other settings or files, planted symlinks, SLURM scripts from hostile names
//! and paths, signals. Every probe must end in a one-line error that names the file or key,
//! and leave earlier files as they were. One file per surface; the data readers' probes are
//! in tests/data.rs and their fuzzing in tests/fuzz.rs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use tidal::data::{generate_to_dir, synth::Domain};
use tidal::train::{train, TrainConfig};
use tidal::Context;

mod bench_reports;
mod run_directory;
mod settings;
mod signals;
mod sweeps;

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
