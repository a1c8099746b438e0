//! The data side: generator properties, file formats, bad inputs, splits, normalisation,
//! sampling and the cache. CPU only; run with `cargo test --release --test data`.

use std::path::{Path, PathBuf};
use tidal::data::synth::{self, Domain, Psf, SceneKind, IMAGE_LEN, PIXELS, SIZE};
use tidal::data::{self, fits, npy, split, Sampler};

/// A fresh, empty scratch folder for one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tidal-data-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Writes an `.npy` file of any plain dtype from raw little-endian data bytes.
fn write_raw_npy(path: &Path, descr: &str, fortran: bool, shape: &[usize], data: &[u8]) {
    let shape_txt = match shape.len() {
        1 => format!("({},)", shape[0]),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape_txt}, }}",
        if fortran { "True" } else { "False" }
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    std::fs::write(path, bytes).unwrap();
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn small_images(n: usize) -> Vec<f32> {
    (0..n * IMAGE_LEN)
        .map(|i| (i % 977) as f32 * 0.01)
        .collect()
}

/// The error of a failed load, checked to be one line that names `path`.
fn one_line_error<T: std::fmt::Debug>(r: tidal::Result<T>, path: &Path) -> String {
    let msg = r.expect_err("expected an error").to_string();
    assert!(!msg.contains('\n'), "error is not one line: {msg}");
    assert!(
        msg.contains(&path.display().to_string()),
        "error does not name {}: {msg}",
        path.display()
    );
    msg
}

#[test]
fn generator_same_seed_gives_identical_bytes_whatever_the_thread_count() {
    for domain in Domain::ALL {
        let a = synth::generate(domain, 12, 7, &|_| {});
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let b = pool.install(|| synth::generate(domain, 12, 7, &|_| {}));
        assert_eq!(a.labels, b.labels);
        let (ba, bb): (Vec<u32>, Vec<u32>) = (
            a.images.iter().map(|v| v.to_bits()).collect(),
            b.images.iter().map(|v| v.to_bits()).collect(),
        );
        assert!(ba == bb, "{domain}: bytes differ between thread counts");
        let c = synth::generate(domain, 12, 8, &|_| {});
        assert_ne!(
            a.images, c.images,
            "{domain}: seeds 7 and 8 gave the same images"
        );
    }
}

#[test]
fn generate_to_dir_writes_identical_files_for_the_same_seed() {
    let d = scratch("det");
    data::generate_to_dir(Domain::Noisy, 10, 3, &d.join("a"), &|_| {}).unwrap();
    data::generate_to_dir(Domain::Noisy, 10, 3, &d.join("b"), &|_| {}).unwrap();
    data::generate_to_dir(Domain::Noisy, 10, 4, &d.join("c"), &|_| {}).unwrap();
    for f in ["X.npy", "y.npy", "params.json"] {
        let a = std::fs::read(d.join("a").join(f)).unwrap();
        let b = std::fs::read(d.join("b").join(f)).unwrap();
        assert!(a == b, "{f} differs for the same seed");
    }
    let a = std::fs::read(d.join("a/X.npy")).unwrap();
    let c = std::fs::read(d.join("c/X.npy")).unwrap();
    assert!(a != c);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn labels_are_balanced_and_every_scene_kind_occurs() {
    let n = 2000;
    let mergers: usize = (0..n).map(|i| synth::label_of(5, i) as usize).sum();
    assert_eq!(mergers, n / 2, "pairs hold one merger each");
    let g = synth::generate(Domain::Pristine, 300, 11, &|_| {});
    let m = g.labels.iter().filter(|&&l| l == 1).count();
    assert_eq!(m, 150);
    for (i, k) in g.kinds.iter().enumerate() {
        assert_eq!(k.is_merger() as u8, g.labels[i]);
    }
    for kind in [
        SceneKind::MajorMerger,
        SceneKind::MinorMerger,
        SceneKind::PostMerger,
        SceneKind::Isolated,
        SceneKind::Clumpy,
        SceneKind::Barred,
        SceneKind::Projection,
    ] {
        assert!(
            g.kinds.contains(&kind),
            "{kind:?} never drawn in 300 images"
        );
    }
    // Labels must not follow index parity.
    let even: usize = (0..n)
        .step_by(2)
        .map(|i| synth::label_of(5, i) as usize)
        .sum();
    assert!((even as f64 / (n / 2) as f64 - 0.5).abs() < 0.05);
}

#[test]
fn psf_convolution_conserves_flux_within_one_percent() {
    // Point sources within 20 px of the centre, and isolated galaxies.
    let mut band = vec![0.0f32; PIXELS];
    for (dx, dy, f) in [
        (0i64, 0i64, 5.0f32),
        (13, -7, 1.0),
        (-18, 4, 2.5),
        (6, 19, 0.7),
    ] {
        let c = (SIZE / 2) as i64;
        band[((c + dy) * SIZE as i64 + c + dx) as usize] += f;
    }
    let mut cases = vec![band];
    for i in 0..40 {
        let (kind, scene) = synth::render_scene(21, i);
        if kind == SceneKind::Isolated {
            cases.push(scene[PIXELS..2 * PIXELS].to_vec());
        }
    }
    assert!(cases.len() > 3);
    let psfs = [
        Psf::Gaussian { fwhm_px: 1.25 },
        Psf::Gaussian { fwhm_px: 1.9 },
        Psf::Moffat {
            fwhm_px: 3.4,
            beta: 2.5,
        },
    ];
    for psf in psfs {
        for b in &cases {
            let before: f64 = b.iter().map(|&v| v as f64).sum();
            let after: f64 = synth::convolve(b, &psf).iter().map(|&v| v as f64).sum();
            assert!(
                ((after - before) / before).abs() < 0.01,
                "{psf:?}: flux {before} became {after}"
            );
        }
    }
}

#[test]
fn noise_matches_the_surface_brightness_limit_within_five_percent() {
    let noisy = Domain::Noisy.preset();
    // 25 mag/arcsec² at zero point 25 is 1 flux unit per arcsec²; per 0.08" pixel σ = 0.08.
    assert!((noisy.sigma_pixel(0) - 0.08).abs() < 1e-6);
    for domain in [Domain::Noisy, Domain::Sdss] {
        let p = domain.preset();
        // Blank sky: noise only.
        let blank = vec![0.0f32; IMAGE_LEN];
        let mut sums = [(0f64, 0f64, 0usize); 3];
        for idx in 0..4 {
            let img = synth::observe(&blank, &p, 99, idx);
            for (b, s) in sums.iter_mut().enumerate() {
                for &v in &img[b * PIXELS..(b + 1) * PIXELS] {
                    s.0 += v as f64;
                    s.1 += v as f64 * v as f64;
                    s.2 += 1;
                }
            }
        }
        for (b, (s, q, n)) in sums.iter().enumerate() {
            let mean = s / *n as f64;
            let std = (q / *n as f64 - mean * mean).sqrt();
            let want = p.sigma_pixel(b) as f64;
            assert!(
                (std / want - 1.0).abs() < 0.05,
                "{domain} band {b}: blank-sky std {std} vs σ {want}"
            );
            assert!(mean.abs() < 0.05 * want, "sky not subtracted: mean {mean}");
        }
    }
    // A chosen limit: 24 mag/arcsec² is 10^0.4 × the noise of 25.
    let p24 = noisy.with_sb_limit(24.0).unwrap();
    let img = synth::observe(&vec![0.0f32; IMAGE_LEN], &p24, 5, 0);
    let std = (img.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / img.len() as f64).sqrt();
    assert!(
        (std / (0.08 * 10f64.powf(0.4)) - 1.0).abs() < 0.05,
        "σ at 24: {std}"
    );
    assert!(Domain::Pristine.preset().with_sb_limit(24.0).is_err());
    assert!(noisy.with_sb_limit(f32::NAN).is_err());
    // In generated images: the robust spread (MAD × 1.4826) of the 10×10 corners.
    let g = synth::generate(Domain::Noisy, 100, 13, &|_| {});
    for b in 0..3 {
        let mut vals = Vec::new();
        for i in 0..100 {
            let img = &g.images[i * IMAGE_LEN + b * PIXELS..i * IMAGE_LEN + (b + 1) * PIXELS];
            for y in (0..10).chain(SIZE - 10..SIZE) {
                for x in (0..10).chain(SIZE - 10..SIZE) {
                    vals.push(img[y * SIZE + x]);
                }
            }
        }
        vals.sort_by(|a, b| a.total_cmp(b));
        let med = vals[vals.len() / 2];
        let mut dev: Vec<f32> = vals.iter().map(|v| (v - med).abs()).collect();
        dev.sort_by(|a, b| a.total_cmp(b));
        let sigma = dev[dev.len() / 2] as f64 * 1.4826;
        let want = noisy.sigma_pixel(b) as f64;
        assert!(
            (sigma / want - 1.0).abs() < 0.05,
            "band {b}: corner noise {sigma} vs σ {want}"
        );
    }
}

#[test]
fn faint_merger_evidence_falls_below_the_noise() {
    // The features alone (tails, bridges, shells), PSF-convolved, against the noisy preset's σ.
    let p = Domain::Pristine.preset();
    let sigma = Domain::Noisy.preset().sigma_pixel(1);
    let mut peaks: std::collections::HashMap<SceneKind, Vec<f32>> = Default::default();
    for i in 0..400 {
        let (kind, _, features) = synth::render_scene_parts(31, i);
        if !kind.is_merger() {
            assert!(
                features.iter().all(|&v| v == 0.0),
                "{kind:?} has merger features"
            );
            continue;
        }
        let f = synth::observe(&features, &p, 31, i);
        let peak = f[PIXELS..2 * PIXELS].iter().cloned().fold(0.0f32, f32::max);
        peaks.entry(kind).or_default().push(peak / sigma);
    }
    for kind in [SceneKind::MinorMerger, SceneKind::PostMerger] {
        let mut v = peaks[&kind].clone();
        v.sort_by(|a, b| a.total_cmp(b));
        let p90 = v[v.len() * 9 / 10];
        assert!(p90 < 1.0, "{kind:?}: 90th percentile feature peak {p90}σ");
        assert!(v[v.len() / 2] > 0.0, "{kind:?}: no features");
    }
    // Major mergers keep tails near the noise level: partly visible.
    let mut v = peaks[&SceneKind::MajorMerger].clone();
    v.sort_by(|a, b| a.total_cmp(b));
    assert!(
        v[v.len() / 2] > 0.5,
        "major-merger tails too faint: {}",
        v[v.len() / 2]
    );
}

#[test]
fn npy_round_trip_for_images_and_every_label_type() {
    let d = scratch("npy");
    let x = small_images(3);
    npy::write_f32(&d.join("X.npy"), &[3, 3, 75, 75], &x).unwrap();
    npy::write_labels(&d.join("y.npy"), &[1, 0, 1]).unwrap();
    let ds = data::load(&d.join("X.npy"), Some(&d.join("y.npy"))).unwrap();
    assert_eq!((ds.n, ds.c, ds.h, ds.w), (3, 3, 75, 75));
    assert_eq!(ds.images, x);
    assert_eq!(ds.labels.as_deref(), Some(&[1u8, 0, 1][..]));
    assert_eq!(ds.label_counts(), Some((1, 2)));
    // Streamed in batches of 2: the same values, in order.
    let mut streamed = Vec::new();
    let mut starts = Vec::new();
    let shape = data::stream_images(&d.join("X.npy"), 2, Some([3, 75, 75]), |start, v| {
        starts.push(start);
        streamed.extend_from_slice(v);
        Ok(())
    })
    .unwrap();
    assert_eq!(shape, [3, 3, 75, 75]);
    assert_eq!(starts, vec![0, 2]);
    assert_eq!(streamed, x);
    // float64 images.
    let x64: Vec<u8> = x.iter().flat_map(|&v| (v as f64).to_le_bytes()).collect();
    write_raw_npy(&d.join("X64.npy"), "<f8", false, &[3, 3, 75, 75], &x64);
    assert_eq!(data::load(&d.join("X64.npy"), None).unwrap().images, x);
    // Labels as int64, int32, uint8, bool, float64 and N×1.
    let cases: Vec<(&str, Vec<u8>, Vec<usize>)> = vec![
        (
            "<i8",
            [1i64, 0, 1].iter().flat_map(|v| v.to_le_bytes()).collect(),
            vec![3],
        ),
        (
            "<i4",
            [1i32, 0, 1].iter().flat_map(|v| v.to_le_bytes()).collect(),
            vec![3],
        ),
        ("|u1", vec![1, 0, 1], vec![3]),
        ("|b1", vec![1, 0, 1], vec![3]),
        (
            "<f8",
            [1f64, 0., 1.]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
            vec![3, 1],
        ),
    ];
    for (descr, bytes, shape) in cases {
        let p = d.join("ly.npy");
        write_raw_npy(&p, descr, false, &shape, &bytes);
        let ds = data::load(&d.join("X.npy"), Some(&p)).unwrap();
        assert_eq!(ds.labels.as_deref(), Some(&[1u8, 0, 1][..]), "{descr}");
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn fits_round_trip_in_the_mast_layout() {
    let d = scratch("fits");
    let x = small_images(2);
    let p = d.join("sim.fits");
    fits::write(&p, &[2, 3, 75, 75], &x, Some(&[0, 1])).unwrap();
    assert_eq!(std::fs::metadata(&p).unwrap().len() % 2880, 0);
    let ds = data::load(&p, None).unwrap();
    assert_eq!((ds.n, ds.c, ds.h, ds.w), (2, 3, 75, 75));
    assert_eq!(ds.images, x);
    assert_eq!(ds.labels.as_deref(), Some(&[0u8, 1][..]));
    // Labels from a separate npy file override HDU1.
    npy::write_labels(&d.join("y.npy"), &[1, 1]).unwrap();
    let ds = data::load(&p, Some(&d.join("y.npy"))).unwrap();
    assert_eq!(ds.labels.as_deref(), Some(&[1u8, 1][..]));
    let r = data::inspect(&p).unwrap();
    assert_eq!(r.shape, vec![2, 3, 75, 75]);

    // HDU1 as a BINTABLE: an int32 label column followed by a float column.
    let p = d.join("table.fits");
    fits::write(&p, &[2, 3, 75, 75], &x, None).unwrap();
    let mut bytes = std::fs::read(&p).unwrap();
    let cards = [
        "XTENSION= 'BINTABLE'",
        "BITPIX  =                    8",
        "NAXIS   =                    2",
        "NAXIS1  =                    8",
        "NAXIS2  =                    2",
        "PCOUNT  =                    0",
        "GCOUNT  =                    1",
        "TFIELDS =                    2",
        "TFORM1  = '1J      '           / merger label",
        "TTYPE1  = 'label   '",
        "TFORM2  = 'E       '",
        "END",
    ];
    let mut hdu: Vec<u8> = cards
        .iter()
        .flat_map(|c| format!("{c:<80}").into_bytes())
        .collect();
    hdu.resize(2880, b' ');
    for (label, other) in [(1i32, 0.5f32), (0, 2.0)] {
        hdu.extend_from_slice(&label.to_be_bytes());
        hdu.extend_from_slice(&other.to_be_bytes());
    }
    hdu.resize(2 * 2880, 0);
    bytes.extend(hdu);
    std::fs::write(&p, bytes).unwrap();
    let ds = data::load(&p, None).unwrap();
    assert_eq!(ds.labels.as_deref(), Some(&[1u8, 0][..]));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn bad_inputs_give_one_line_errors_naming_the_file_and_expectation() {
    let d = scratch("bad");
    let good_x = d.join("X.npy");
    npy::write_f32(&good_x, &[2, 3, 75, 75], &small_images(2)).unwrap();

    // Wrong shape: 3-D, and 4-D of another image size.
    let p = d.join("shape3.npy");
    write_raw_npy(
        &p,
        "<f4",
        false,
        &[2, 3, 75],
        &f32_bytes(&vec![0.0; 2 * 3 * 75]),
    );
    let m = one_line_error(data::load(&p, None), &p);
    assert!(m.contains("expected 4-D N×3×75×75"), "{m}");
    let p = d.join("shape64.npy");
    write_raw_npy(
        &p,
        "<f4",
        false,
        &[1, 3, 64, 64],
        &f32_bytes(&vec![0.0; 3 * 64 * 64]),
    );
    let m = one_line_error(data::load(&p, None), &p);
    assert!(m.contains("expected N×3×75×75"), "{m}");

    // Wrong dtype: int32 images, big-endian floats.
    let p = d.join("int.npy");
    write_raw_npy(&p, "<i4", false, &[1, 3, 75, 75], &vec![0u8; IMAGE_LEN * 4]);
    let m = one_line_error(data::load(&p, None), &p);
    assert!(m.contains("expected float32 or float64"), "{m}");
    let p = d.join("be.npy");
    write_raw_npy(&p, ">f4", false, &[1, 3, 75, 75], &vec![0u8; IMAGE_LEN * 4]);
    let m = one_line_error(data::load(&p, None), &p);
    assert!(m.contains("little-endian"), "{m}");

    // Fortran order.
    let p = d.join("fortran.npy");
    write_raw_npy(&p, "<f4", true, &[1, 3, 75, 75], &vec![0u8; IMAGE_LEN * 4]);
    let m = one_line_error(data::load(&p, None), &p);
    assert!(m.contains("C order"), "{m}");

    // NaN pixels.
    let mut x = small_images(2);
    x[IMAGE_LEN + 2 * PIXELS + 5 * SIZE + 7] = f32::NAN;
    let p = d.join("nan.npy");
    npy::write_f32(&p, &[2, 3, 75, 75], &x).unwrap();
    let m = one_line_error(data::load(&p, None), &p);
    assert!(
        m.contains("image 1") && m.contains("channel 2, y 5, x 7"),
        "{m}"
    );
    assert!(m.contains("expected finite"), "{m}");

    // Label count mismatch, labels that are not 0/1, labels of the wrong shape.
    let p = d.join("y3.npy");
    npy::write_labels(&p, &[0, 1, 1]).unwrap();
    let m = one_line_error(data::load(&good_x, Some(&p)), &p);
    assert!(
        m.contains("3 labels") && m.contains("expected 2 labels"),
        "{m}"
    );
    let p = d.join("y7.npy");
    npy::write_f32(&p, &[2], &[0.0, 7.0]).unwrap();
    let m = one_line_error(data::load(&good_x, Some(&p)), &p);
    assert!(m.contains("expected 0 (non-merger) or 1 (merger)"), "{m}");
    let p = d.join("y2d.npy");
    npy::write_f32(&p, &[1, 2], &[0.0, 1.0]).unwrap();
    let m = one_line_error(data::load(&good_x, Some(&p)), &p);
    assert!(m.contains("expected (2,)"), "{m}");

    // Truncated files: npy cut inside the data, cut inside the header; FITS cut short.
    let bytes = std::fs::read(&good_x).unwrap();
    let p = d.join("trunc.npy");
    std::fs::write(&p, &bytes[..bytes.len() - 100]).unwrap();
    let m = one_line_error(data::load(&p, None), &p);
    assert!(m.contains("truncated"), "{m}");
    let p = d.join("trunc_header.npy");
    std::fs::write(&p, &bytes[..20]).unwrap();
    one_line_error(data::load(&p, None), &p);
    let p = d.join("trunc.fits");
    fits::write(&p, &[2, 3, 75, 75], &small_images(2), Some(&[0, 1])).unwrap();
    let fb = std::fs::read(&p).unwrap();
    std::fs::write(&p, &fb[..fb.len() / 2]).unwrap();
    let m = one_line_error(data::load(&p, None), &p);
    assert!(m.contains("truncated"), "{m}");

    // FITS without HDU1 and no labels file; FITS with integer images.
    let p = d.join("nolabels.fits");
    fits::write(&p, &[2, 3, 75, 75], &small_images(2), None).unwrap();
    let m = one_line_error(data::load(&p, None), &p);
    assert!(m.contains("HDU1"), "{m}");
    assert!(data::load(&p, Some(&d.join("y3.npy"))).is_err());

    // Not an npy file at all.
    let p = d.join("text.npy");
    std::fs::write(&p, "hello").unwrap();
    one_line_error(data::load(&p, None), &p);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn nothing_is_written_when_writing_fails() {
    let d = scratch("atomic");
    // The target is an existing folder: the rename fails, the folder stays, no temp file.
    let target = d.join("X.npy");
    std::fs::create_dir_all(target.join("keep")).unwrap();
    assert!(npy::write_f32(&target, &[1], &[1.0]).is_err());
    assert!(target.join("keep").is_dir());
    let left: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("X.npy")],
        "no temporary file is left"
    );
    // An existing good file is not touched by a failed write into a missing folder.
    let good = d.join("good.npy");
    npy::write_f32(&good, &[2], &[1.0, 2.0]).unwrap();
    let before = std::fs::read(&good).unwrap();
    assert!(npy::write_f32(&d.join("missing/dir/X.npy"), &[1], &[1.0]).is_err());
    assert_eq!(std::fs::read(&good).unwrap(), before);
    assert!(!d.join("missing").exists());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn splits_are_70_10_20_disjoint_and_seeded() {
    let (tr, va, te) = split::split_indices(1000, 3);
    assert_eq!((tr.len(), va.len(), te.len()), (700, 100, 200));
    let mut all: Vec<usize> = tr.iter().chain(&va).chain(&te).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..1000).collect::<Vec<_>>());
    assert_eq!(split::split_indices(1000, 3), (tr.clone(), va, te));
    assert_ne!(split::split_indices(1000, 4).0, tr);
    let (a, b, c) = split::split_indices(7, 1);
    assert_eq!(a.len() + b.len() + c.len(), 7);
}

#[test]
fn normalisation_from_the_training_split_standardises_each_channel() {
    let g = synth::generate(Domain::Noisy, 40, 2, &|_| {});
    let mut ds = data::Dataset {
        images: g.images,
        labels: Some(g.labels),
        n: 40,
        c: 3,
        h: 75,
        w: 75,
    };
    let (train, _, _) = split::split_indices(ds.n, 9);
    let norm = split::Normalisation::compute(&ds, &train);
    assert_eq!(norm.mean.len(), 3);
    ds.normalise(&norm);
    let again = split::Normalisation::compute(&ds, &train);
    for c in 0..3 {
        assert!(again.mean[c].abs() < 1e-3, "{:?}", again.mean);
        assert!((again.std[c] - 1.0).abs() < 1e-3, "{:?}", again.std);
    }
    let d = scratch("norm");
    norm.save(&d.join("norm.json")).unwrap();
    assert_eq!(
        split::Normalisation::load(&d.join("norm.json")).unwrap(),
        norm
    );
    // gather_images applies the same normalisation to a batch.
    let mut batch = Vec::new();
    let raw = synth::generate(Domain::Noisy, 40, 2, &|_| {});
    let ds_raw = data::Dataset {
        images: raw.images,
        labels: Some(raw.labels),
        n: 40,
        c: 3,
        h: 75,
        w: 75,
    };
    ds_raw.gather_images(&[5, 9], Some(&norm), &mut batch);
    assert_eq!(&batch[..IMAGE_LEN], ds.image(5));
    assert_eq!(&batch[IMAGE_LEN..], ds.image(9));
    assert_eq!(ds_raw.gather_labels(&[5, 9]).unwrap().len(), 2);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn sampler_draws_128_plus_128_with_replacement_from_a_seed() {
    let source: Vec<usize> = (0..50).collect();
    let target: Vec<usize> = (100..110).collect();
    let mut a = Sampler::new(5);
    let mut b = Sampler::new(5);
    let (s, t) = a.step(&source, &target, data::BATCH_PER_DOMAIN);
    assert_eq!((s.len(), t.len()), (128, 128));
    assert!(s.iter().all(|i| source.contains(i)));
    assert!(t.iter().all(|i| target.contains(i)));
    let mut u = t.clone();
    u.sort_unstable();
    u.dedup();
    assert!(u.len() <= 10, "with replacement from 10 indices");
    assert_eq!(b.step(&source, &target, 128), (s.clone(), t));
    assert_ne!(a.step(&source, &target, 128).0, s, "steps differ");
    assert_ne!(Sampler::new(6).draw(&source, 128), s);
    let chunks: Vec<&[usize]> = data::batches(&source, 16).collect();
    assert_eq!(chunks.len(), 4);
    assert_eq!(chunks[3].len(), 2);
}

#[test]
fn cached_sets_are_generated_once_and_reused() {
    let d = scratch("cache");
    let a = data::cached(&d, Domain::Noisy, 6, 1).unwrap();
    let entry = data::cache_entry(&d, Domain::Noisy, 6, 1);
    let t0 = std::fs::metadata(entry.join("X.npy"))
        .unwrap()
        .modified()
        .unwrap();
    let b = data::cached(&d, Domain::Noisy, 6, 1).unwrap();
    let t1 = std::fs::metadata(entry.join("X.npy"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(t0, t1, "the cached file was rewritten");
    assert_eq!(a, b);
    assert_eq!(a.n, 6);
    let leftovers: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn inspect_reports_shape_channels_labels_and_non_finite_counts() {
    let d = scratch("inspect");
    let mut x = small_images(2);
    x[3] = f32::NAN;
    x[PIXELS + 1] = f32::INFINITY;
    npy::write_f32(&d.join("X.npy"), &[2, 3, 75, 75], &x).unwrap();
    npy::write_labels(&d.join("y.npy"), &[1, 0]).unwrap();
    let r = data::inspect(&d.join("X.npy")).unwrap();
    assert_eq!(r.shape, vec![2, 3, 75, 75]);
    assert_eq!(r.dtype, "float32");
    assert_eq!(r.channels.len(), 3);
    assert_eq!((r.nan, r.inf), (1, 1));
    let y = data::inspect(&d.join("y.npy")).unwrap();
    let counts = y.label_counts.unwrap();
    assert_eq!(counts.get("0"), Some(&1));
    assert_eq!(counts.get("1"), Some(&1));
    assert!(format!("{r}").contains("shape 2×3×75×75"));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn preview_writes_a_png_grid_of_every_domain_and_class() {
    let d = scratch("preview");
    let p = d.join("grid.png");
    let (w, h) = data::preview::write_grid(&p, &Domain::ALL, 3, 1).unwrap();
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&p).unwrap()));
    let reader = decoder.read_info().unwrap();
    let info = reader.info();
    assert_eq!((info.width as usize, info.height as usize), (w, h));
    assert_eq!(h, 6 * (75 * 2 + 4) + 4);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn cli_generate_then_inspect_reports_shape_and_balance_and_bad_files_fail_in_one_line() {
    let d = scratch("cli");
    let exe = env!("CARGO_BIN_EXE_tidal");
    let out = d.join("n");
    let run = |args: &[&str]| std::process::Command::new(exe).args(args).output().unwrap();
    let g = run(&[
        "data",
        "generate",
        "--domain",
        "noisy",
        "--n",
        "8",
        "--seed",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    for f in ["X.npy", "y.npy", "params.json"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let side: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("params.json")).unwrap()).unwrap();
    assert_eq!(side["domain"], "noisy");
    assert_eq!(side["preset"]["noise"]["sb_limit"][0], 25.0);
    let i = run(&[
        "data",
        "inspect",
        out.join("X.npy").to_str().unwrap(),
        out.join("y.npy").to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&i.stdout);
    assert!(i.status.success());
    assert!(text.contains("shape 8×3×75×75  dtype float32"), "{text}");
    assert!(text.contains("0: 4 (50.0%), 1: 4 (50.0%)"), "{text}");
    assert!(text.contains("NaN 0  Inf 0"), "{text}");
    // A truncated file: failure, one line on stderr naming the file.
    let bytes = std::fs::read(out.join("X.npy")).unwrap();
    let bad = d.join("cut.npy");
    std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
    let b = run(&["data", "inspect", bad.to_str().unwrap()]);
    assert!(!b.status.success());
    let err = String::from_utf8_lossy(&b.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.starts_with("error: ") && err.contains("cut.npy") && err.contains("truncated"));
    // Generating into a path that is a file writes nothing.
    let file = d.join("file");
    std::fs::write(&file, "x").unwrap();
    let f = run(&[
        "data",
        "generate",
        "--domain",
        "pristine",
        "--n",
        "2",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(!f.status.success());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
    let _ = std::fs::remove_dir_all(&d);
}
