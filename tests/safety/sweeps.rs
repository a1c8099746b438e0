//! Sweeps: generated SLURM scripts and manifests.

use super::*;

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
