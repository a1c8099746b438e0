//! Kernel variants as a run's setting (`kernels`): `auto` times the candidates once per
//! adapter and caches the choice, every run records what it resolved to, resumes and
//! configs written before the setting existed keep theirs, and bad values are refused.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tidal::data::{generate_to_dir, synth::Domain};
use tidal::gpu::{KernelSetting, Kernels, Variant};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tidal-kernels-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A tiny labelled data set per domain; the flags that name it.
fn data(root: &Path) -> Vec<String> {
    let (s, t) = (root.join("src"), root.join("tgt"));
    generate_to_dir(Domain::Pristine, 24, 1, &s, &|_| {}).unwrap();
    generate_to_dir(Domain::Noisy, 24, 2, &t, &|_| {}).unwrap();
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

/// `tidal args...` with its own kernel cache (and TIDAL_KERNELS as given).
fn tidal(cache: &Path, kernels_env: Option<&str>, args: &[String]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tidal"));
    c.args(args)
        .env("TIDAL_CACHE_DIR", cache)
        .env_remove("TIDAL_KERNELS");
    if let Some(k) = kernels_env {
        c.env("TIDAL_KERNELS", k);
    }
    c.output().unwrap()
}

fn train_args(data: &[String], out: &Path, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = ["train", "--epochs", "1", "--batch", "8", "--method", "noda"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    a.extend(data.iter().cloned());
    a.extend(["--out".to_string(), out.display().to_string()]);
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn recorded(run: &Path) -> (String, String) {
    let cfg: toml::Table = std::fs::read_to_string(run.join("config.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    (
        cfg["kernels"].as_str().unwrap().to_string(),
        summary["kernel_variant"].as_str().unwrap().to_string(),
    )
}

fn ok(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "tidal failed: {err}");
    err
}

#[test]
fn settings_parse_and_print_back() {
    for s in [
        "subgroup",
        "register+fused",
        "tiled",
        "tiled+fused",
        "subgroup+rows",
        "subgroup+fused+rows",
        "subgroup+rows+flip",
        "subgroup+fused+rows+flip",
        "subgroup+fused+rows+flip+wino",
    ] {
        let k = Kernels::parse(s).unwrap();
        assert_eq!(k.to_string(), s);
        assert_eq!(KernelSetting::parse(s), Some(KernelSetting::Pinned(k)));
    }
    assert_eq!(KernelSetting::parse("auto"), Some(KernelSetting::Auto));
    assert_eq!(
        KernelSetting::parse("default"),
        Some(KernelSetting::Default)
    );
    // `+rows` is a refinement of the subgroup kernels, `+flip` one of `+rows`, `+wino` one
    // of `+flip`, and the suffixes have one order.
    for bad in [
        "",
        "fused",
        "subgroup+",
        "Subgroup",
        "register+fused+fused",
        "register+rows",
        "tiled+fused+rows",
        "subgroup+rows+fused",
        "subgroup+rows+rows",
        "subgroup+flip",
        "subgroup+fused+flip",
        "register+rows+flip",
        "subgroup+flip+rows",
        "subgroup+rows+flip+flip",
        "subgroup+wino",
        "subgroup+fused+rows+wino",
        "register+rows+flip+wino",
        "subgroup+rows+wino+flip",
    ] {
        assert_eq!(KernelSetting::parse(bad), None, "{bad:?}");
    }
    let k = Kernels::parse("register+fused").unwrap();
    assert_eq!(
        (k.matmul, k.fused, k.rows),
        (Variant::Register, true, false)
    );
    let k = Kernels::parse("subgroup+fused+rows").unwrap();
    assert_eq!(
        (k.matmul, k.fused, k.rows, k.flip),
        (Variant::Subgroup, true, true, false)
    );
    let k = Kernels::parse("subgroup+fused+rows+flip").unwrap();
    assert_eq!(
        (k.matmul, k.fused, k.rows, k.flip, k.wino),
        (Variant::Subgroup, true, true, true, false)
    );
    let k = Kernels::parse("subgroup+rows+flip+wino").unwrap();
    assert_eq!(
        (k.matmul, k.fused, k.rows, k.flip, k.wino),
        (Variant::Subgroup, false, true, true, true)
    );
}

#[test]
fn auto_times_once_records_the_choice_and_reuses_the_cache() {
    let root = scratch("auto");
    let d = data(&root);
    let cache = root.join("cache");
    let err = ok(&tidal(&cache, None, &train_args(&d, &root.join("a"), &[])));
    assert!(
        err.contains("timed trial"),
        "first use runs the trial: {err}"
    );
    let (k, variant) = recorded(&root.join("a"));
    let chosen = Kernels::parse(&k).expect("config.toml names a pinned choice, not auto");
    // The summary spells the variant as the engine reports it.
    assert_eq!(variant.contains("+fused"), chosen.fused, "{variant} vs {k}");
    assert_eq!(variant.contains("+rows"), chosen.rows, "{variant} vs {k}");
    assert_eq!(variant.contains("+flip"), chosen.flip, "{variant} vs {k}");
    let cached: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cache.join("variants.json")).unwrap())
            .unwrap();
    let entries = cached["entries"].as_object().unwrap();
    assert_eq!(entries.len(), 1);
    let entry = entries.values().next().unwrap();
    assert_eq!(entry["kernels"], k.as_str());
    assert!(entry["trial_ms"]["bn_relu_pool=fused"].as_f64().unwrap() > 0.0);
    // A second run takes the cached choice without timing again.
    let err = ok(&tidal(&cache, None, &train_args(&d, &root.join("b"), &[])));
    assert!(!err.contains("timed trial"), "{err}");
    assert_eq!(recorded(&root.join("b")).0, k);
    // `tidal info` lists it.
    let info = tidal(&cache, None, &["info".to_string()]);
    assert!(String::from_utf8_lossy(&info.stdout).contains(&format!("-> {k}")));
}

#[test]
fn pinned_kernels_and_old_configs_keep_their_variants() {
    let root = scratch("pinned");
    let d = data(&root);
    let cache = root.join("cache");
    // The environment pins `auto` (no trial, no cache written).
    ok(&tidal(
        &cache,
        Some("register"),
        &train_args(&d, &root.join("env"), &[]),
    ));
    assert_eq!(
        recorded(&root.join("env")),
        ("register".into(), "Register".into())
    );
    assert!(!cache.join("variants.json").exists());
    // A config file without the key: the separate ops and the adapter's default variant,
    // as before the key existed, with a note saying so.
    let old = root.join("old.toml");
    std::fs::write(&old, "epochs = 1\n").unwrap();
    let err = ok(&tidal(
        &cache,
        None,
        &train_args(&d, &root.join("old"), &["--config", old.to_str().unwrap()]),
    ));
    assert!(err.contains("no `kernels` key"), "{err}");
    let (k, variant) = recorded(&root.join("old"));
    assert_eq!(k, "default");
    // Nor the row-window convolutions, which came later than the key.
    assert!(
        !variant.contains("fused") && !variant.contains("rows"),
        "{variant}"
    );
    // A resume keeps the run's recorded kernels whatever the environment says.
    let pinned = root.join("pinned.toml");
    std::fs::write(&pinned, "epochs = 1\nkernels = \"register+fused\"\n").unwrap();
    let run = root.join("run");
    ok(&tidal(
        &cache,
        None,
        &train_args(&d, &run, &["--config", pinned.to_str().unwrap()]),
    ));
    ok(&tidal(
        &cache,
        Some("tiled"),
        &[
            "train".into(),
            "--resume".into(),
            run.display().to_string(),
            "--epochs".into(),
            "2".into(),
        ],
    ));
    assert_eq!(
        recorded(&run),
        ("register+fused".into(), "Register+fused".into())
    );
    assert!(!cache.join("variants.json").exists());
}

#[test]
fn a_bad_kernels_value_is_refused_naming_the_key() {
    let root = scratch("bad");
    let cfg = root.join("bad.toml");
    std::fs::write(&cfg, "kernels = \"fast\"\n").unwrap();
    let o = tidal(
        &root.join("cache"),
        None,
        &[
            "train".into(),
            "--config".into(),
            cfg.display().to_string(),
            "--out".into(),
            root.join("r").display().to_string(),
        ],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("kernels") && err.contains("fast"), "{err}");
    assert!(!root.join("r").join("config.toml").exists());
}
