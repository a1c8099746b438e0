//! `tidal data inspect`: shape, dtype, per-channel statistics, labels and non-finite counts
//! of a `.npy` or FITS file, streamed so files larger than memory work.

use super::{fits, is_fits, npy};
use crate::error::Result;
use serde::Serialize;
use std::path::Path;

/// Per-channel statistics of a file (see [`inspect`]).
#[derive(Debug, Clone, Serialize)]
pub struct ChannelStats {
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub std: f64,
}

/// What `tidal data inspect` reports about one file.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub path: String,
    pub format: &'static str,
    pub shape: Vec<usize>,
    pub dtype: String,
    /// Per channel for 4-D images; one entry for anything else.
    pub channels: Vec<ChannelStats>,
    /// Value → count for label-like arrays (1-D or N×1 with at most 16 distinct values).
    pub label_counts: Option<std::collections::BTreeMap<String, usize>>,
    pub nan: usize,
    pub inf: usize,
}

struct Acc {
    min: f64,
    max: f64,
    sum: f64,
    sq: f64,
    count: u64,
}

impl Acc {
    fn new() -> Acc {
        Acc {
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            sum: 0.0,
            sq: 0.0,
            count: 0,
        }
    }
    fn stats(&self) -> ChannelStats {
        let n = self.count.max(1) as f64;
        let mean = self.sum / n;
        ChannelStats {
            min: self.min,
            max: self.max,
            mean,
            std: (self.sq / n - mean * mean).max(0.0).sqrt(),
        }
    }
}

/// Streams a `.npy` or FITS file and reports shape, dtype, per-channel min/max/mean/std
/// (finite values only), label counts and NaN/Inf counts.
pub fn inspect(path: &Path) -> Result<Inspection> {
    let (format, shape, dtype, values): (&str, Vec<usize>, String, Box<dyn ValueSource>) =
        if is_fits(path) {
            let f = fits::read_any(path)?;
            let shape = f.shape.clone();
            ("FITS", shape, f.dtype.clone(), Box::new(f.values))
        } else {
            let f = npy::NpyFile::open(path)?;
            let dtype = f.elem.name().to_string();
            ("npy", f.shape.clone(), dtype, Box::new(f))
        };
    let (c, plane) = if shape.len() == 4 {
        (shape[1], shape[2] * shape[3])
    } else {
        (1, shape.iter().product::<usize>().max(1))
    };
    let label_like = shape.len() == 1 || (shape.len() == 2 && shape[1] == 1);
    let mut accs: Vec<Acc> = (0..c).map(|_| Acc::new()).collect();
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    let mut too_many = false;
    let (mut nan, mut inf) = (0usize, 0usize);
    let chunk = plane.max(1) * 64;
    values.each(chunk, &mut |start, vals| {
        for (k, &v) in vals.iter().enumerate() {
            let e = start + k;
            if v.is_nan() {
                nan += 1;
                continue;
            }
            if v.is_infinite() {
                inf += 1;
                continue;
            }
            let a = &mut accs[(e / plane) % c];
            let v64 = v as f64;
            a.min = a.min.min(v64);
            a.max = a.max.max(v64);
            a.sum += v64;
            a.sq += v64 * v64;
            a.count += 1;
            if label_like && !too_many {
                *counts.entry(format!("{v}")).or_insert(0) += 1;
                too_many = counts.len() > 16;
            }
        }
        Ok(())
    })?;
    Ok(Inspection {
        path: path.display().to_string(),
        format,
        shape,
        dtype,
        channels: accs.iter().map(Acc::stats).collect(),
        label_counts: if label_like && !too_many {
            Some(counts)
        } else {
            None
        },
        nan,
        inf,
    })
}

/// Something that streams f32 values in chunks (an open `.npy` file or FITS data in memory).
trait ValueSource {
    fn each(
        self: Box<Self>,
        chunk: usize,
        f: &mut dyn FnMut(usize, &[f32]) -> Result<()>,
    ) -> Result<()>;
}

impl ValueSource for npy::NpyFile {
    fn each(
        self: Box<Self>,
        chunk: usize,
        f: &mut dyn FnMut(usize, &[f32]) -> Result<()>,
    ) -> Result<()> {
        self.for_each_chunk(chunk, f)
    }
}

impl ValueSource for Vec<f32> {
    fn each(
        self: Box<Self>,
        chunk: usize,
        f: &mut dyn FnMut(usize, &[f32]) -> Result<()>,
    ) -> Result<()> {
        for (k, c) in self.chunks(chunk.max(1)).enumerate() {
            f(k * chunk.max(1), c)?;
        }
        Ok(())
    }
}

impl std::fmt::Display for Inspection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shape: Vec<String> = self.shape.iter().map(|d| d.to_string()).collect();
        writeln!(f, "{} ({})", self.path, self.format)?;
        writeln!(f, "  shape {}  dtype {}", shape.join("×"), self.dtype)?;
        let many = self.channels.len() > 1 || self.shape.len() == 4;
        for (i, s) in self.channels.iter().enumerate() {
            let name = if many {
                format!("channel {i}")
            } else {
                "values".to_string()
            };
            writeln!(
                f,
                "  {name:<10} min {:>11.4e}  max {:>11.4e}  mean {:>11.4e}  std {:>11.4e}",
                s.min, s.max, s.mean, s.std
            )?;
        }
        if let Some(c) = &self.label_counts {
            let total: usize = c.values().sum();
            let parts: Vec<String> = c
                .iter()
                .map(|(k, v)| format!("{k}: {v} ({:.1}%)", 100.0 * *v as f64 / total.max(1) as f64))
                .collect();
            writeln!(f, "  labels     {}", parts.join(", "))?;
        }
        write!(f, "  NaN {}  Inf {}", self.nan, self.inf)
    }
}
