//! DeepMerge + MMD from two npy files, through the library:
//! `cargo run --release --example train_deepmerge -- SRC_X.npy SRC_Y.npy TGT_X.npy OUT`
use tidal::train::{train, TrainConfig};

fn run(files: &[String], epochs: usize, batch: usize) -> tidal::Result<f64> {
    let cfg = TrainConfig {
        method: "mmd".parse()?,
        source: Some(files[0].clone()),
        source_labels: Some(files[1].clone()),
        target: Some(files[2].clone()),
        out: files[3].clone(),
        epochs,
        batch,
        diagnostics: false,
        ..TrainConfig::default()
    };
    let summary = train(&tidal::Context::from_env()?, &cfg, false, |_, _, _, _| {})?;
    Ok(summary.source_test.accuracy)
}

fn main() -> tidal::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let acc = run(&args, 4, 128)?;
    println!("source test accuracy {acc:.3}; run directory {}", args[3]);
    Ok(())
}

#[test]
fn trains_on_two_tiny_generated_files() {
    use tidal::data::{generate_to_dir, synth::Domain};
    let d = std::env::temp_dir().join(format!("tidal-example-{}", std::process::id()));
    for (dom, seed) in [(Domain::Pristine, 1), (Domain::Noisy, 2)] {
        generate_to_dir(dom, 40, seed, &d.join(dom.name()), &|_| ()).unwrap();
    }
    let f = ["pristine/X.npy", "pristine/y.npy", "noisy/X.npy", "run"];
    let files: Vec<String> = f.iter().map(|s| d.join(s).display().to_string()).collect();
    assert!((0.0..=1.0).contains(&run(&files, 1, 8).unwrap()));
}
