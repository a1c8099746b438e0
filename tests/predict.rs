//! `tidal predict`: a survey split over an npy cube, a FITS cube and a directory of FITS
//! cutouts; predictions equal `eval`'s bit for bit; shards merge to the unsharded catalogue
//! exactly; damaged inputs fail cleanly; temperature scaling calibrates an over-confident
//! model; the FITS catalogue has the documented columns and header.

use std::path::{Path, PathBuf};
use tidal::data::table::{Keyword, Table, Values};
use tidal::data::{generate_to_dir, npy, synth::Domain};
use tidal::predict::{self, input::Layout, Ids, Options};
use tidal::train::eval::NormChoice;
use tidal::train::{train, TrainConfig};
use tidal::Context;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tidal-predict-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A checkpoint from one tiny epoch.
fn checkpoint(root: &Path) -> PathBuf {
    let (s, t) = (root.join("src"), root.join("tgt"));
    generate_to_dir(Domain::Pristine, 60, 1, &s, &|_| {}).unwrap();
    generate_to_dir(Domain::Noisy, 60, 2, &t, &|_| {}).unwrap();
    let p = |d: &Path, f: &str| Some(d.join(f).display().to_string());
    let cfg = TrainConfig {
        epochs: 1,
        batch: 8,
        diagnostics: false,
        source: p(&s, "X.npy"),
        source_labels: p(&s, "y.npy"),
        target: p(&t, "X.npy"),
        target_labels: p(&t, "y.npy"),
        out: root.join("run").display().to_string(),
        ..TrainConfig::default()
    };
    train(&Context::from_env().unwrap(), &cfg, false, |_, _, _, _| {}).unwrap();
    root.join("run/best.safetensors")
}

fn options(ckpt: &Path, inputs: Vec<PathBuf>, out: PathBuf) -> Options {
    Options {
        checkpoints: vec![ckpt.to_path_buf()],
        inputs,
        out,
        ids: Ids::Default,
        keep: vec![],
        norm: NormChoice::Target,
        calibrated: true,
        shard: None,
        prepare: Default::default(),
        chunk: 512,
    }
}

fn f32s(t: &Table, name: &str) -> Vec<u32> {
    match &t.column(name).unwrap().values {
        Values::F32(v) => v.iter().map(|x| x.to_bits()).collect(),
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn a_survey_over_npy_fits_and_cutouts_matches_eval_and_its_shards() {
    let root = scratch("survey");
    let ctx = Context::from_env().unwrap();
    let ckpt = checkpoint(&root);
    // 1300 noisy images: 700 in an npy cube, 400 in a FITS cube, 200 as cutouts (half of
    // them stored channels-last is refused: every input shares one layout).
    let g = root.join("g");
    generate_to_dir(Domain::Noisy, 1300, 9, &g, &|_| {}).unwrap();
    let all = npy::NpyFile::open(&g.join("X.npy"))
        .unwrap()
        .read_all_f32()
        .unwrap();
    let per = 3 * 75 * 75;
    let a = root.join("a.npy");
    npy::write_f32(&a, &[700, 3, 75, 75], &all[..700 * per]).unwrap();
    let b = root.join("b.fits");
    tidal::data::fits::write(&b, &[400, 3, 75, 75], &all[700 * per..1100 * per], None).unwrap();
    let cut = root.join("cutouts");
    std::fs::create_dir_all(&cut).unwrap();
    for i in 0..200 {
        let img = &all[(1100 + i) * per..(1101 + i) * per];
        tidal::data::fits::write(
            &cut.join(format!("obj{i:04}.fits")),
            &[3, 75, 75],
            img,
            None,
        )
        .unwrap();
    }
    let inputs = vec![a.clone(), b, cut];
    let out = root.join("cat.fits");
    let r = predict::predict(
        &ctx,
        &options(&ckpt, inputs.clone(), out.clone()),
        |_, _| {},
    )
    .unwrap();
    assert_eq!(r.rows, 1300);
    let whole = Table::read(&out).unwrap();
    assert_eq!(whole.rows(), 1300);
    let names: Vec<&str> = whole.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["ID", "ROW", "P_MERGER", "CLASS", "P_MERGER_RAW"]);

    // eval's probabilities of the same images (its code path: one file, batches of 256).
    let eval = tidal::train::eval::load_model(&ctx, &ckpt).unwrap();
    let mut ds = tidal::data::load(&g.join("X.npy"), None).unwrap();
    let norm = eval.normalisation(&NormChoice::Target, &ds).unwrap();
    ds.normalise(&norm);
    let idx: Vec<usize> = (0..ds.n).collect();
    let f = tidal::train::evaluate::predict_margins(eval.model.as_ref(), &ctx, &ds, &idx).unwrap();
    let want: Vec<u32> = f
        .margins
        .iter()
        .map(|&m| tidal::train::calibration::calibrated(m, eval.temperature).to_bits())
        .collect();
    assert_eq!(
        f32s(&whole, "P_MERGER"),
        want,
        "predict and eval agree bit for bit"
    );
    assert_eq!(
        f32s(&whole, "P_MERGER_RAW"),
        f.probs.iter().map(|p| p.to_bits()).collect::<Vec<_>>()
    );

    // Three shards merge to the unsharded catalogue exactly.
    let shards: Vec<PathBuf> = (0..3)
        .map(|i| {
            let p = root.join(format!("cat_{i}.fits"));
            let mut o = options(&ckpt, inputs.clone(), p.clone());
            o.shard = Some((i, 3));
            predict::predict(&ctx, &o, |_, _| {}).unwrap();
            p
        })
        .collect();
    let merged = root.join("all.fits");
    assert_eq!(predict::merge(&shards, &merged).unwrap(), 1300);
    let m = Table::read(&merged).unwrap();
    assert_eq!(f32s(&m, "P_MERGER"), f32s(&whole, "P_MERGER"));
    assert_eq!(m.column("ID"), whole.column("ID"));
    // A missing or repeated shard is refused.
    let e = predict::merge(&shards[..2], &root.join("bad.fits"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing"), "{e}");
    let e = predict::merge(
        &[
            shards[0].clone(),
            shards[0].clone(),
            shards[1].clone(),
            shards[2].clone(),
        ],
        &root.join("bad.fits"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("more than one shard"), "{e}");
    assert!(!root.join("bad.fits").exists());

    // IDs and kept columns from a catalogue; an ensemble writes its spread.
    let csv = root.join("ids.csv");
    let mut text = String::from("name,ra,dec\n");
    for i in 0..1300 {
        text.push_str(&format!("GAL-{i},{}.5,-{}.25\n", i % 360, i % 90));
    }
    std::fs::write(&csv, text).unwrap();
    let mut o = options(&ckpt, inputs.clone(), root.join("ens.csv"));
    o.checkpoints = vec![ckpt.clone(), ckpt.clone()];
    o.ids = Ids::Catalogue {
        path: csv,
        column: "name".into(),
    };
    o.keep = vec!["ra".into(), "dec".into()];
    predict::predict(&ctx, &o, |_, _| {}).unwrap();
    let t = Table::read(&root.join("ens.csv")).unwrap();
    assert_eq!(
        t.column("ID").unwrap().values,
        Values::Str((0..1300).map(|i| format!("GAL-{i}")).collect())
    );
    assert!(t.column("RA").is_some() && t.column("P_MERGER_STD").is_some());

    // The FITS header: the documented keywords, and a BINTABLE astropy recognises.
    for k in ["CHECKPT", "CFGHASH", "NORM", "TEMP", "TIDALVER", "NROWS"] {
        assert!(whole.keywords.iter().any(|(key, _)| key == k), "{k}");
    }
    assert!(whole
        .keywords
        .contains(&("NROWS".into(), Keyword::Int(1300))));
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(bytes.len() % 2880, 0);
    assert!(bytes.starts_with(b"SIMPLE  =                    T"));
    assert_eq!(&bytes[2880..2880 + 20], b"XTENSION= 'BINTABLE'");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_truncated_input_fails_naming_the_file_and_offset_and_writes_no_catalogue() {
    let root = scratch("trunc");
    let ctx = Context::from_env().unwrap();
    let ckpt = checkpoint(&root);
    let g = root.join("g");
    generate_to_dir(Domain::Noisy, 600, 3, &g, &|_| {}).unwrap();
    let x = g.join("X.npy");
    let bytes = std::fs::read(&x).unwrap();
    // Cut in the middle of the data; keep the header (which promises 600 images).
    let cut = root.join("cut.npy");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let out = root.join("cat.fits");
    let e = predict::predict(
        &ctx,
        &options(&ckpt, vec![cut.clone()], out.clone()),
        |_, _| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains(&cut.display().to_string()) && e.contains("truncated"),
        "{e}"
    );
    assert!(!e.contains('\n'), "one line: {e}");
    // NpyFile::open already compares the header with the file length.
    assert!(e.contains("bytes"), "{e}");
    assert!(!out.exists(), "no partial catalogue under the final name");
    let leftovers: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
    // A channels-last cube read as channels-first names the fix.
    let hwc = root.join("hwc.npy");
    let v = npy::NpyFile::open(&x).unwrap().read_all_f32().unwrap();
    npy::write_f32(&hwc, &[600, 75, 75, 3], &v).unwrap();
    let e = predict::predict(
        &ctx,
        &options(&ckpt, vec![hwc.clone()], out.clone()),
        |_, _| {},
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("--layout nhwc"), "{e}");
    let mut o = options(&ckpt, vec![hwc], out.clone());
    o.prepare.layout = Layout::Nhwc;
    predict::predict(&ctx, &o, |_, _| {}).unwrap();
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn temperature_scaling_calibrates_an_over_confident_model() {
    use tidal::train::calibration::{calibrated, fit_temperature};
    // True logits z; labels drawn from σ(z); the model reports 4·z (over-confident).
    let mut s = 12345u64;
    let mut unit = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let (mut margins, mut labels) = (Vec::new(), Vec::new());
    for _ in 0..4000 {
        let z = (unit() - 0.5) * 6.0;
        let p = 1.0 / (1.0 + (-z).exp());
        labels.push((unit() < p) as u32);
        margins.push((4.0 * z) as f32);
    }
    let t = fit_temperature(&margins, &labels);
    assert!((t - 4.0).abs() < 0.5, "T = {t}");
    let raw: Vec<f32> = margins.iter().map(|&m| calibrated(m, 1.0)).collect();
    let cal: Vec<f32> = margins.iter().map(|&m| calibrated(m, t)).collect();
    let (before, after) = (
        tidal::report::metrics::compute(&raw, &labels).ece,
        tidal::report::metrics::compute(&cal, &labels).ece,
    );
    assert!(after < before / 2.0, "ECE {before} -> {after}");
    // Nothing to fit: one class, or no data.
    assert_eq!(fit_temperature(&[1.0, 2.0], &[1, 1]), 1.0);
    assert_eq!(fit_temperature(&[], &[]), 1.0);
}

#[test]
fn any_band_count_trains_evaluates_and_predicts_with_bands_selected() {
    let root = scratch("bands");
    let ctx = Context::from_env().unwrap();
    let (s, t) = (root.join("src"), root.join("tgt"));
    generate_to_dir(Domain::Pristine, 60, 1, &s, &|_| {}).unwrap();
    generate_to_dir(Domain::Noisy, 60, 2, &t, &|_| {}).unwrap();
    let p = |d: &Path, f: &str| Some(d.join(f).display().to_string());
    let cfg = TrainConfig {
        epochs: 1,
        batch: 8,
        diagnostics: false,
        bands: vec![0, 2],
        source: p(&s, "X.npy"),
        source_labels: p(&s, "y.npy"),
        target: p(&t, "X.npy"),
        target_labels: p(&t, "y.npy"),
        out: root.join("run").display().to_string(),
        ..TrainConfig::default()
    };
    train(&ctx, &cfg, false, |_, _, _, _| {}).unwrap();
    let ckpt = root.join("run/best.safetensors");
    let loaded = tidal::train::checkpoint::load(&ckpt).unwrap();
    assert_eq!(loaded.tensors["conv1.weight"].0, vec![8, 2, 5, 5]);
    let meta = tidal::train::checkpoint::CheckpointMeta::from_loaded(&loaded, &ckpt)
        .unwrap()
        .unwrap();
    let bands = meta.bands.unwrap();
    assert_eq!((bands.count, bands.selected.clone()), (2, vec![0, 2]));
    assert_eq!(bands.names, ["band0", "band2"]);
    // eval and predict need the same selection; without it the message names the fix.
    use tidal::train::eval::evaluate;
    let x = t.join("X.npy");
    let preds = root.join("p.csv");
    let two = tidal::data::Prepare {
        bands: vec![0, 2],
        ..Default::default()
    };
    let e = evaluate(
        &ctx,
        &tidal::train::eval::EvalRequest {
            checkpoint: &ckpt,
            images: &x,
            labels: None,
            norm: &NormChoice::Target,
            calibrated: true,
            prepare: &Default::default(),
            predictions: &preds,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("takes 2 bands") && e.contains("--bands"), "{e}");
    evaluate(
        &ctx,
        &tidal::train::eval::EvalRequest {
            checkpoint: &ckpt,
            images: &x,
            labels: None,
            norm: &NormChoice::Target,
            calibrated: true,
            prepare: &two,
            predictions: &preds,
        },
    )
    .unwrap();
    let mut o = options(&ckpt, vec![x], root.join("cat.csv"));
    o.prepare = two;
    predict::predict(&ctx, &o, |_, _| {}).unwrap();
    assert_eq!(Table::read(&root.join("cat.csv")).unwrap().rows(), 60);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn layouts_band_selection_and_resizing_prepare_the_models_input() {
    use tidal::data::{Layout, Prepare, Resize};
    let path = Path::new("x.npy");
    // One 2-band 150×150 image, channels last: band b, pixel (y, x) = 1000 b + y + x.
    let (h, w) = (150usize, 150usize);
    let mut hwc = vec![0f32; h * w * 2];
    for y in 0..h {
        for x in 0..w {
            for b in 0..2 {
                hwc[(y * w + x) * 2 + b] = (1000 * b + y + x) as f32;
            }
        }
    }
    let prep = Prepare {
        layout: Layout::Nhwc,
        bands: vec![1],
        resize: Resize::Area,
    };
    assert_eq!(prep.output(path, [h, w, 2]).unwrap(), [1, 75, 75]);
    let out = prep.apply([h, w, 2], &hwc);
    assert_eq!(out.len(), 75 * 75);
    // Area: each output pixel averages a 2×2 block: 1000 + (2y + 0.5) + (2x + 0.5).
    for (y, x) in [(0usize, 0usize), (10, 37), (74, 74)] {
        assert!((out[y * 75 + x] - (1001.0 + 2.0 * (y + x) as f32)).abs() < 1e-3);
    }
    // Bilinear reproduces a linear ramp exactly at interior pixel centres.
    let small: Vec<f32> = (0..50 * 50).map(|k| (k / 50 + k % 50) as f32).collect();
    let up = Prepare {
        resize: Resize::Bilinear,
        ..Default::default()
    }
    .apply([1, 50, 50], &small);
    let want = |v: usize| (v as f32 + 0.5) * 50.0 / 75.0 - 0.5;
    assert!((up[30 * 75 + 40] - (want(30) + want(40))).abs() < 1e-3);
    // Errors name the fix: a size without --resize, channels last read as first, a band
    // out of range.
    let e = Prepare::default()
        .output(path, [3, 100, 100])
        .unwrap_err()
        .to_string();
    assert!(e.contains("--resize"), "{e}");
    let e = Prepare::default()
        .output(path, [75, 75, 3])
        .unwrap_err()
        .to_string();
    assert!(e.contains("--layout nhwc"), "{e}");
    let e = Prepare {
        bands: vec![3],
        ..Default::default()
    }
    .output(path, [3, 75, 75])
    .unwrap_err()
    .to_string();
    assert!(e.contains("band 3"), "{e}");
}
