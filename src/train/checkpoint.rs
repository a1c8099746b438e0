//! Checkpoints as safetensors: every named tensor (model state under PyTorch's names,
//! discriminator under `discriminator.`, Fisher centres, optimizer moments) as F32, batch
//! norm's `num_batches_tracked` as I64 scalars (as PyTorch writes them), and string
//! metadata (config, epoch, step, normalisation). Written to a temporary name and renamed,
//! so a crash never leaves a half-written checkpoint.
//!
//! Files written by PyTorch (`safetensors.torch.save_file(model.state_dict(), path)`) load
//! too: float tensors of any safetensors float type are converted to f32, integer scalars
//! named `*.num_batches_tracked` become counters, and no metadata is required.

use super::selection::Selection;
use crate::data::split::Normalisation;
use crate::error::{Error, Result};
use crate::models::ModelKind;
use crate::nn::Counter;
use crate::ops::random::Rng;
use crate::tensor::Tensor;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::HashMap;
use std::path::Path;

fn bad(path: &Path, key: &str, reason: impl Into<String>) -> Error {
    Error::Checkpoint {
        path: path.display().to_string(),
        key: key.to_string(),
        reason: reason.into(),
    }
}

/// Writes the tensors (F32), the counters (I64 scalars) and the metadata.
/// The first non-finite value among `values` (one per tensor of `tensors`): its tensor's
/// name, index and value.
pub fn first_non_finite<'a>(
    tensors: &'a [(String, Tensor)],
    values: &[Vec<f32>],
) -> Option<(&'a str, usize, f32)> {
    tensors.iter().zip(values).find_map(|((name, _), v)| {
        v.iter()
            .position(|x| !x.is_finite())
            .map(|i| (name.as_str(), i, v[i]))
    })
}

/// Writes the tensors (F32), the counters (I64 scalars) and the metadata; refuses
/// non-finite weights (an error naming the tensor; nothing is written).
pub fn save(
    path: &Path,
    tensors: &[(String, Tensor)],
    counters: &[(String, Counter)],
    metadata: HashMap<String, String>,
) -> Result<()> {
    let refs: Vec<&Tensor> = tensors.iter().map(|(_, t)| t).collect();
    let values = Tensor::read_all(&refs)?;
    save_values(path, tensors, &values, counters, metadata)
}

/// `save` with the tensors' values already read back.
pub fn save_values(
    path: &Path,
    tensors: &[(String, Tensor)],
    values: &[Vec<f32>],
    counters: &[(String, Counter)],
    metadata: HashMap<String, String>,
) -> Result<()> {
    if let Some((name, i, v)) = first_non_finite(tensors, values) {
        return Err(bad(
            path,
            name,
            format!("element {i} is {v} (not saving non-finite weights)"),
        ));
    }
    let mut bytes: Vec<Vec<u8>> = values
        .iter()
        .map(|v| bytemuck::cast_slice(v).to_vec())
        .collect();
    bytes.extend(
        counters
            .iter()
            .map(|(_, c)| (c.get() as i64).to_le_bytes().to_vec()),
    );
    let mut views = Vec::with_capacity(tensors.len() + counters.len());
    let shapes = tensors
        .iter()
        .map(|(n, t)| (n, Dtype::F32, t.shape().to_vec()))
        .chain(counters.iter().map(|(n, _)| (n, Dtype::I64, Vec::new())));
    for ((name, dtype, shape), b) in shapes.zip(&bytes) {
        let view = TensorView::new(dtype, shape, b).map_err(|e| bad(path, name, e.to_string()))?;
        views.push((name.clone(), view));
    }
    let out = safetensors::serialize(views, Some(metadata))
        .map_err(|e| bad(path, "(file)", e.to_string()))?;
    crate::atomic::write(path, &out)
}

#[derive(Debug)]
pub struct Loaded {
    pub tensors: HashMap<String, (Vec<usize>, Vec<f32>)>,
    /// Integer scalars (`num_batches_tracked`).
    pub counters: HashMap<String, u64>,
    pub metadata: HashMap<String, String>,
}

impl Loaded {
    /// True when the file was written by tidal (it then carries its run's metadata).
    pub fn is_tidal(&self) -> bool {
        self.metadata.get("format").map(String::as_str) == Some("tidal-checkpoint-1")
    }
}

/// f32 values of a float tensor of any safetensors float type.
fn floats(dtype: Dtype, data: &[u8]) -> Option<Vec<f32>> {
    let v = match dtype {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
            .collect(),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        Dtype::BF16 => data
            .chunks_exact(2)
            .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16))
            .collect(),
        _ => return None,
    };
    Some(v)
}

/// IEEE half to single precision (exact).
fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, f) => {
            // Subnormal: f · 2^−24, exact in f32.
            let v = f as f32 * 2f32.powi(-24);
            return if sign != 0 { -v } else { v };
        }
        (31, 0) => sign | 0x7f80_0000,
        (31, f) => sign | 0x7f80_0000 | (f << 13),
        (e, f) => sign | ((e + 112) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

/// An integer scalar's value, for the integer types PyTorch writes.
fn integer(dtype: Dtype, data: &[u8]) -> Option<i64> {
    Some(match dtype {
        Dtype::I64 => i64::from_le_bytes(data.try_into().ok()?),
        Dtype::I32 => i32::from_le_bytes(data.try_into().ok()?) as i64,
        Dtype::U8 => *data.first()? as i64,
        _ => return None,
    })
}

pub fn load(path: &Path) -> Result<Loaded> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let not_st = |e: String| bad(path, "(file)", format!("not a safetensors checkpoint: {e}"));
    let st = SafeTensors::deserialize(&bytes).map_err(|e| not_st(e.to_string()))?;
    let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| not_st(e.to_string()))?;
    let mut tensors = HashMap::new();
    let mut counters = HashMap::new();
    for (name, view) in st.tensors() {
        if name.ends_with("num_batches_tracked") {
            let v = integer(view.dtype(), view.data())
                .filter(|v| *v >= 0)
                .ok_or_else(|| {
                    bad(
                        path,
                        &name,
                        format!(
                            "expected a non-negative integer scalar, got {:?} {:?}",
                            view.dtype(),
                            view.shape()
                        ),
                    )
                })?;
            counters.insert(name, v as u64);
            continue;
        }
        let data = floats(view.dtype(), view.data()).ok_or_else(|| {
            bad(
                path,
                &name,
                format!("dtype {:?}; expected a float tensor", view.dtype()),
            )
        })?;
        if let Some(i) = data.iter().position(|x| !x.is_finite()) {
            return Err(bad(path, &name, format!("element {i} is {}", data[i])));
        }
        tensors.insert(name, (view.shape().to_vec(), data));
    }
    Ok(Loaded {
        tensors,
        counters,
        metadata: meta.metadata().clone().unwrap_or_default(),
    })
}

/// Sets metadata entry `key` of the checkpoint at `path`, keeping its tensors byte for
/// byte (rewritten atomically).
pub fn set_metadata(path: &Path, key: &str, value: &str) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let not_st = |e: String| bad(path, "(file)", format!("not a safetensors checkpoint: {e}"));
    let st = SafeTensors::deserialize(&bytes).map_err(|e| not_st(e.to_string()))?;
    let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| not_st(e.to_string()))?;
    let mut metadata = meta.metadata().clone().unwrap_or_default();
    metadata.insert(key.to_string(), value.to_string());
    let views: Vec<(String, TensorView)> = st
        .tensors()
        .into_iter()
        .map(|(name, v)| {
            let view = TensorView::new(v.dtype(), v.shape().to_vec(), v.data())
                .map_err(|e| bad(path, &name, e.to_string()))?;
            Ok((name, view))
        })
        .collect::<Result<_>>()?;
    let out = safetensors::serialize(views, Some(metadata))
        .map_err(|e| bad(path, "(file)", e.to_string()))?;
    crate::atomic::write(path, &out)
}

/// Copies loaded values into `targets` by name; every target must be present with its shape.
pub fn restore(loaded: &Loaded, targets: &[(String, Tensor)], path: &Path) -> Result<()> {
    for (name, t) in targets {
        let (shape, data) = loaded
            .tensors
            .get(name)
            .ok_or_else(|| bad(path, name, "missing tensor"))?;
        if shape.as_slice() != t.shape() {
            return Err(bad(
                path,
                name,
                format!("shape {shape:?}, the model expects {:?}", t.shape()),
            ));
        }
        t.write(data)?;
    }
    Ok(())
}

/// Sets the counters the file has (older tidal checkpoints have none: they keep their value).
pub fn restore_counters(loaded: &Loaded, counters: &[(String, Counter)]) {
    for (name, c) in counters {
        if let Some(&v) = loaded.counters.get(name) {
            c.set(v);
        }
    }
}

/// Both domains' normalisation of a run, as its checkpoints store them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Norms {
    pub source: Normalisation,
    pub target: Normalisation,
}

/// What a tidal checkpoint's metadata says about its run (string entries in the
/// safetensors header; `config` is the run's TOML).
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointMeta {
    pub model: ModelKind,
    pub method: String,
    /// Epochs whose evaluation finished.
    pub epochs_done: usize,
    /// Optimisation steps taken.
    pub step: u64,
    pub rng_seed: u64,
    pub dropout_rngs: Vec<Rng>,
    pub selection: Selection,
    pub normalisation: Norms,
    pub config: String,
    /// The data files the run trains on (absent in checkpoints of older versions).
    pub data: Option<DataIdentity>,
    /// The bands the model takes (absent in older checkpoints: three, as published).
    pub bands: Option<Bands>,
}

/// The input bands of a model: how many, which bands of the files, and their names.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Bands {
    pub count: usize,
    /// Indices into the files' bands (all of them when the run kept every band).
    pub selected: Vec<usize>,
    pub names: Vec<String>,
}

/// Which files a run read: path, size and a hash of the first MiB of each (header and a
/// sample of the images), so resuming with other files is caught without reading them all.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DataIdentity {
    pub files: Vec<FileIdentity>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileIdentity {
    pub path: String,
    pub size: u64,
    /// FNV-1a of the first MiB and the last 4 KiB.
    pub hash: String,
}

impl DataIdentity {
    pub fn of(paths: &[std::path::PathBuf]) -> Result<DataIdentity> {
        use std::io::{Read, Seek, SeekFrom};
        let mut files = Vec::new();
        for p in paths {
            let mut f = std::fs::File::open(p).map_err(|e| Error::io(p, e))?;
            let size = f.metadata().map_err(|e| Error::io(p, e))?.len();
            let mut head = Vec::new();
            (&mut f)
                .take(1 << 20)
                .read_to_end(&mut head)
                .map_err(|e| Error::io(p, e))?;
            let mut tail = Vec::new();
            if size > 1 << 20 {
                f.seek(SeekFrom::Start(size.saturating_sub(4096)))
                    .and_then(|_| f.read_to_end(&mut tail))
                    .map_err(|e| Error::io(p, e))?;
            }
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for b in head.iter().chain(&tail) {
                h = (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3);
            }
            files.push(FileIdentity {
                path: p.canonicalize().unwrap_or(p.clone()).display().to_string(),
                size,
                hash: format!("{h:016x}"),
            });
        }
        Ok(DataIdentity { files })
    }

    /// What differs between the files a run was started on and `now`, if anything.
    pub fn mismatch(&self, now: &DataIdentity) -> Option<String> {
        if self.files.len() != now.files.len() {
            return Some(format!(
                "the run trained on {} files, the config now names {}",
                self.files.len(),
                now.files.len()
            ));
        }
        self.files.iter().zip(&now.files).find(|(a, b)| a != b).map(|(a, b)| {
            format!(
                "the run trained on {} ({} bytes); the config now names {} ({} bytes{}); resume with the same files or start a new run",
                a.path,
                a.size,
                b.path,
                b.size,
                if a.size == b.size { ", other contents" } else { "" }
            )
        })
    }
}

const FORMAT: &str = "tidal-checkpoint-1";

impl CheckpointMeta {
    pub fn to_map(&self) -> HashMap<String, String> {
        fn json<T: serde::Serialize>(v: &T) -> String {
            serde_json::to_string(v).expect("metadata serialises")
        }
        HashMap::from([
            ("format".into(), FORMAT.into()),
            ("model".into(), format!("{:?}", self.model).to_lowercase()),
            ("method".into(), self.method.clone()),
            ("epochs_done".into(), self.epochs_done.to_string()),
            ("step".into(), self.step.to_string()),
            ("rng_seed".into(), self.rng_seed.to_string()),
            ("dropout_rngs".into(), json(&self.dropout_rngs)),
            ("selection".into(), json(&self.selection)),
            ("normalisation".into(), json(&self.normalisation)),
            ("config".into(), self.config.clone()),
            ("data".into(), json(&self.data)),
            ("bands".into(), json(&self.bands)),
        ])
    }

    /// The metadata of a tidal checkpoint; `None` for a file without it (written by
    /// PyTorch), an error naming the key for a tidal file whose metadata is damaged.
    pub fn from_loaded(loaded: &Loaded, path: &Path) -> Result<Option<CheckpointMeta>> {
        if !loaded.is_tidal() {
            return Ok(None);
        }
        let m = &loaded.metadata;
        let field = |k: &str| {
            m.get(k)
                .ok_or_else(|| bad(path, k, "missing from the metadata"))
        };
        fn parse<T: serde::de::DeserializeOwned>(path: &Path, k: &str, text: &str) -> Result<T> {
            serde_json::from_str(text).map_err(|e| bad(path, k, e.to_string()))
        }
        let number = |k: &str| -> Result<u64> {
            field(k)?.parse().map_err(|e| bad(path, k, format!("{e}")))
        };
        Ok(Some(CheckpointMeta {
            model: field("model")?
                .parse()
                .map_err(|e: Error| bad(path, "model", e.to_string()))?,
            method: field("method")?.clone(),
            epochs_done: number("epochs_done")? as usize,
            step: number("step")?,
            rng_seed: number("rng_seed")?,
            dropout_rngs: parse(path, "dropout_rngs", field("dropout_rngs")?)?,
            selection: parse(path, "selection", field("selection")?)?,
            normalisation: parse(path, "normalisation", field("normalisation")?)?,
            config: field("config")?.clone(),
            data: match m.get("data") {
                Some(t) => parse(path, "data", t)?,
                None => None,
            },
            bands: match m.get("bands") {
                Some(t) => parse(path, "bands", t)?,
                None => None,
            },
        }))
    }
}
