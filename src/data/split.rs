//! Train/validation/test splits (70/10/20, seeded) and per-channel normalisation.

use super::rng::DataRng;
use super::Dataset;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Shares of the train and validation splits; the test split takes the rest.
pub const TRAIN_FRACTION: f64 = 0.7;
pub const VAL_FRACTION: f64 = 0.1;

/// A seeded permutation of `0..n` (Fisher–Yates on a SplitMix64 stream).
pub fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    let mut r = DataRng::keyed(seed, 0, 0x5B11);
    for i in (1..n).rev() {
        let j = r.below(i + 1);
        idx.swap(i, j);
    }
    idx
}

/// Splits `0..n` into train / validation / test (70 / 10 / 20 %, rounded; test takes the
/// remainder) from `seed`. The three are disjoint, cover `0..n`, and each is sorted.
pub fn split_indices(n: usize, seed: u64) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let perm = permutation(n, seed);
    let n_train = (n as f64 * TRAIN_FRACTION).round() as usize;
    let n_val = ((n as f64 * VAL_FRACTION).round() as usize).min(n - n_train);
    let mut train = perm[..n_train].to_vec();
    let mut val = perm[n_train..n_train + n_val].to_vec();
    let mut test = perm[n_train + n_val..].to_vec();
    train.sort_unstable();
    val.sort_unstable();
    test.sort_unstable();
    (train, val, test)
}

/// Per-channel mean and standard deviation, computed on a (training) split and applied as
/// Per-channel sums over whole C×H×W images in f64, in the order given; `finish` gives
/// the mean and population standard deviation (std 1 for a channel with zero spread).
/// The training split's normalisation and predict's `--norm input` both use it.
pub struct ChannelMoments {
    sum: Vec<f64>,
    sq: Vec<f64>,
    plane: usize,
    images: usize,
}

impl ChannelMoments {
    pub fn new(channels: usize, plane: usize) -> ChannelMoments {
        ChannelMoments {
            sum: vec![0.0; channels],
            sq: vec![0.0; channels],
            plane,
            images: 0,
        }
    }

    /// Adds one image (C×H×W).
    pub fn add(&mut self, image: &[f32]) {
        let plane = self.plane;
        for (c, (sum, sq)) in self.sum.iter_mut().zip(&mut self.sq).enumerate() {
            let (mut s, mut q) = (0f64, 0f64);
            for &v in &image[c * plane..(c + 1) * plane] {
                s += v as f64;
                q += v as f64 * v as f64;
            }
            *sum += s;
            *sq += q;
        }
        self.images += 1;
    }

    pub fn finish(&self) -> Normalisation {
        let count = (self.images * self.plane).max(1) as f64;
        let mean = self.sum.iter().map(|s| (s / count) as f32).collect();
        let std = self
            .sum
            .iter()
            .zip(&self.sq)
            .map(|(s, q)| {
                let m = s / count;
                let sd = (q / count - m * m).max(0.0).sqrt() as f32;
                if sd > 0.0 && sd.is_finite() {
                    sd
                } else {
                    1.0
                }
            })
            .collect();
        Normalisation { mean, std }
    }
}

/// `(x − mean[c]) / std[c]`. Stored with a run as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normalisation {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl Normalisation {
    /// Mean and (population) standard deviation per channel over the images `indices` of
    /// `data` (every pixel, every image; f64 accumulation in a fixed order). A channel with
    /// zero spread gets std 1.
    pub fn compute(data: &Dataset, indices: &[usize]) -> Normalisation {
        let mut m = ChannelMoments::new(data.c, data.h * data.w);
        for &i in indices {
            m.add(data.image(i));
        }
        m.finish()
    }

    /// Normalises a batch of images (B×C×H×W, C = `self.mean.len()`, `plane` = H×W) in
    /// place.
    pub fn apply(&self, images: &mut [f32], plane: usize) {
        let c = self.mean.len();
        if c == 0 || plane == 0 {
            return;
        }
        for (k, chunk) in images.chunks_mut(plane).enumerate() {
            let ch = k % c;
            let (m, inv) = (self.mean[ch], 1.0 / self.std[ch]);
            for v in chunk {
                *v = (*v - m) * inv;
            }
        }
    }

    /// Saves as JSON (atomically).
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).expect("serialisable");
        crate::atomic::write(path, text.as_bytes())
    }

    /// Loads from JSON.
    pub fn load(path: &Path) -> Result<Normalisation> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        let n: Normalisation = serde_json::from_str(&text).map_err(|e| Error::Data {
            path: path.display().to_string(),
            reason: format!("expected a JSON object {{\"mean\": [..], \"std\": [..]}}: {e}"),
        })?;
        if n.mean.len() != n.std.len() {
            return Err(Error::Data {
                path: path.display().to_string(),
                reason: format!(
                    "mean has {} channels but std has {}",
                    n.mean.len(),
                    n.std.len()
                ),
            });
        }
        Ok(n)
    }
}
