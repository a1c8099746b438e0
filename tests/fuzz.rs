//! Fuzzing the three parsers users feed files to — `.npy`, FITS and safetensors checkpoints —
//! with a seeded mutation loop over valid files: truncations, bit flips, byte runs, and
//! header edits (huge, negative and overflowing dimensions, bad dtypes, long headers).
//! Every case must return (no panic), an error must name the file, and no single
//! allocation may exceed `ALLOC_CAP` (checked by a counting allocator).
//!
//! `TIDAL_FUZZ_CASES=N` sets the cases per format (default 300, about 10 s in all);
//! `TIDAL_FUZZ_SEED=S` another stream of mutations. For a long run:
//! `TIDAL_FUZZ_CASES=200000 cargo test --release --test fuzz -- --nocapture`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Largest single allocation a parser may make on a mutated file of at most a few hundred
/// KiB (its own size, a few buffers, a 1 MiB read buffer).
const ALLOC_CAP: usize = 64 << 20;

/// Records the largest allocation made while `TRACK` is on. Only the fuzz cases run with it
/// on (one at a time, under `SERIAL`).
struct Counting;
static TRACK: AtomicBool = AtomicBool::new(false);
static LARGEST: AtomicUsize = AtomicUsize::new(0);
static SERIAL: Mutex<()> = Mutex::new(());

// SAFETY: every call is forwarded unchanged to the system allocator; the wrapper only
// records sizes in atomics (which do not allocate).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if TRACK.load(Ordering::Relaxed) {
            LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if TRACK.load(Ordering::Relaxed) {
            LARGEST.fetch_max(new_size, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn cases() -> usize {
    std::env::var("TIDAL_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

fn seed() -> u64 {
    std::env::var("TIDAL_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20261201)
}

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 11
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Replaces the first occurrence of `from` by `to` (for header edits).
fn edit(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    let f = from.as_bytes();
    match bytes.windows(f.len()).position(|w| w == f) {
        Some(i) => [&bytes[..i], to.as_bytes(), &bytes[i + f.len()..]].concat(),
        None => bytes.to_vec(),
    }
}

/// One mutation of `valid`: a header edit from `edits`, a truncation, bit flips, or a run of
/// random bytes.
fn mutate(r: &mut Lcg, valid: &[u8], edits: &[(&str, &str)]) -> Vec<u8> {
    let mut b = valid.to_vec();
    match r.below(5) {
        0 if !edits.is_empty() => {
            let (from, to) = edits[r.below(edits.len())];
            b = edit(&b, from, to);
        }
        1 => b.truncate(r.below(valid.len() + 1)),
        2 => {
            for _ in 0..1 + r.below(8) {
                let i = r.below(b.len());
                b[i] ^= 1 << r.below(8);
            }
        }
        3 => {
            // Bytes near the front, where the headers are.
            let start = r.below(b.len().min(4096));
            for k in 0..1 + r.below(64) {
                if let Some(x) = b.get_mut(start + k) {
                    *x = r.next() as u8;
                }
            }
        }
        _ => {
            let (from, to) = edits
                .get(r.below(edits.len().max(1)))
                .copied()
                .unwrap_or(("", ""));
            b = edit(&b, from, to);
            b.truncate(r.below(b.len() + 1).max(b.len() / 2));
        }
    }
    b
}

/// Runs `parse` on `cases()` mutations of `valid` written to `path`.
fn fuzz<T>(
    name: &str,
    valid: &[u8],
    path: &Path,
    edits: &[(&str, &str)],
    parse: impl Fn(&Path) -> tidal::Result<T>,
) {
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut r = Lcg(seed() ^ name.len() as u64);
    let (mut ok, mut err) = (0, 0);
    for case in 0..cases() {
        let bytes = mutate(&mut r, valid, edits);
        std::fs::write(path, &bytes).unwrap();
        LARGEST.store(0, Ordering::Relaxed);
        TRACK.store(true, Ordering::Relaxed);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parse(path)));
        TRACK.store(false, Ordering::Relaxed);
        let largest = LARGEST.load(Ordering::Relaxed);
        let keep = path.with_extension(format!("case{case}"));
        match result {
            Err(_) => {
                std::fs::copy(path, &keep).unwrap();
                panic!(
                    "{name} case {case}: the parser panicked; the input is {}",
                    keep.display()
                );
            }
            Ok(Err(e)) => {
                let msg = e.to_string();
                assert!(
                    msg.contains(&path.display().to_string()),
                    "{name} case {case}: the error does not name the file: {msg}"
                );
                err += 1;
            }
            Ok(Ok(_)) => ok += 1,
        }
        if largest > ALLOC_CAP {
            std::fs::copy(path, &keep).unwrap();
            panic!(
                "{name} case {case}: an allocation of {largest} bytes (cap {ALLOC_CAP}); the input is {}",
                keep.display()
            );
        }
    }
    eprintln!(
        "{name}: {} cases, {ok} parsed, {err} refused with an error naming the file",
        cases()
    );
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tidal-fuzz-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Two small 3×75×75 images and their labels.
fn images() -> (Vec<f32>, Vec<u8>) {
    let mut r = Lcg(7);
    let x: Vec<f32> = (0..2 * 3 * 75 * 75)
        .map(|_| (r.below(1000) as f32) / 100.0)
        .collect();
    (x, vec![1, 0])
}

#[test]
fn npy_reader_survives_mutated_files() {
    let d = scratch("npy");
    let (x, y) = images();
    let valid = d.join("valid.npy");
    tidal::data::npy::write_f32(&valid, &[2, 3, 75, 75], &x).unwrap();
    let bytes = std::fs::read(&valid).unwrap();
    let edits = [
        ("(2, 3, 75, 75)", "(99999999999999, 3, 75, 75)"),
        ("(2, 3, 75, 75)", "(4294967296, 4294967296, 4294967296, 75)"),
        ("(2, 3, 75, 75)", "(-2, 3, 75, 75)"),
        ("(2, 3, 75, 75)", "(2, 3, 75)"),
        ("(2, 3, 75, 75)", "()"),
        ("<f4", "<c8"),
        ("<f4", ">f4"),
        ("<f4", "|O"),
        ("False", "True"),
        ("\x01\x00", "\x02\x00"),
    ];
    let path = d.join("case.npy");
    fuzz("npy images", &bytes, &path, &edits, |p| {
        tidal::data::load(p, None)
    });
    let labels = d.join("y.npy");
    tidal::data::npy::write_labels(&labels, &y).unwrap();
    let lbytes = std::fs::read(&labels).unwrap();
    let lpath = d.join("labels.npy");
    fuzz(
        "npy labels",
        &lbytes,
        &lpath,
        &[("(2,)", "(99999999999,)")],
        |p| tidal::data::read_labels(p, 2, &valid),
    );
    fuzz("npy inspect", &bytes, &path, &edits, tidal::data::inspect);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn fits_reader_survives_mutated_files() {
    let d = scratch("fits");
    let (x, y) = images();
    let valid = d.join("valid.fits");
    tidal::data::fits::write(&valid, &[2, 3, 75, 75], &x, Some(&y)).unwrap();
    let bytes = std::fs::read(&valid).unwrap();
    let card = |k: &str, v: &str| format!("{k:<8}= {v:>20}");
    let edits: Vec<(String, String)> = vec![
        (card("NAXIS4", "2"), card("NAXIS4", "9999999999")),
        (card("NAXIS4", "2"), card("NAXIS4", "-2")),
        (card("NAXIS1", "75"), card("NAXIS1", "4611686018427387904")),
        (card("NAXIS", "4"), card("NAXIS", "999")),
        (card("NAXIS", "4"), card("NAXIS", "-1")),
        (card("BITPIX", "-32"), card("BITPIX", "7")),
        (card("BITPIX", "-32"), card("BITPIX", "64")),
        ("END     ".into(), "NOTEND  ".into()),
        ("SIMPLE  =".into(), "SIMPLE  X".into()),
    ];
    let edits: Vec<(&str, &str)> = edits
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let path = d.join("case.fits");
    fuzz("fits", &bytes, &path, &edits, |p| {
        tidal::data::load(p, None)
    });
    fuzz("fits inspect", &bytes, &path, &edits, tidal::data::inspect);
    // A 0-byte file.
    std::fs::write(&path, b"").unwrap();
    let e = tidal::data::load(&path, None).unwrap_err().to_string();
    assert!(
        e.contains("not a FITS file") && e.contains(&path.display().to_string()),
        "{e}"
    );
    let e = tidal::data::inspect(&path).unwrap_err().to_string();
    assert!(e.contains(&path.display().to_string()), "{e}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn checkpoint_reader_survives_mutated_files() {
    use safetensors::tensor::{Dtype, TensorView};
    let d = scratch("ckpt");
    let w: Vec<u8> = (0..8 * 3 * 5 * 5)
        .flat_map(|i| (i as f32 * 0.01).to_le_bytes())
        .collect();
    let b: Vec<u8> = (0..8).flat_map(|i| (i as f32).to_le_bytes()).collect();
    let n = 7i64.to_le_bytes();
    let views = vec![
        (
            "conv1.weight".to_string(),
            TensorView::new(Dtype::F32, vec![8, 3, 5, 5], &w).unwrap(),
        ),
        (
            "conv1.bias".to_string(),
            TensorView::new(Dtype::F32, vec![8], &b).unwrap(),
        ),
        (
            "batchn1.num_batches_tracked".to_string(),
            TensorView::new(Dtype::I64, vec![], &n).unwrap(),
        ),
    ];
    let meta =
        std::collections::HashMap::from([("format".to_string(), "tidal-checkpoint-1".to_string())]);
    let bytes = safetensors::serialize(views, Some(meta)).unwrap();
    let edits = [
        ("[8,3,5,5]", "[99999999999,3,5,5]"),
        ("[8,3,5,5]", "[8,3,5,6]"),
        ("\"F32\"", "\"F16\""),
        ("\"F32\"", "\"I32\""),
        ("\"I64\"", "\"F32\""),
        ("[0,", "[999999999999,"),
        ("data_offsets", "data_offsetz"),
    ];
    let path = d.join("case.safetensors");
    fuzz(
        "safetensors",
        &bytes,
        &path,
        &edits,
        tidal::train::checkpoint::load,
    );
    // A header length far beyond the file.
    let mut huge = bytes.clone();
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    std::fs::write(&path, &huge).unwrap();
    let e = tidal::train::checkpoint::load(&path)
        .unwrap_err()
        .to_string();
    assert!(e.contains(&path.display().to_string()), "{e}");
    let _ = std::fs::remove_dir_all(&d);
}
