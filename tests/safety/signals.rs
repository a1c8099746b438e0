//! Signals: SIGTERM stops a run resumably.

use super::*;

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
