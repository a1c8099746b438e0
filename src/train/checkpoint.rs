//! Checkpoints as safetensors: every named tensor (model state under PyTorch's names,
//! discriminator under `discriminator.`, Fisher centres, optimizer moments) as F32, and
//! string metadata (config, epoch, step, normalisation). Written to a temporary name and
//! renamed, so a crash never leaves a half-written checkpoint.

use crate::error::{Error, Result};
use crate::tensor::Tensor;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::HashMap;
use std::path::Path;

fn io(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes `path` atomically (temporary file in the same folder, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    std::fs::write(&tmp, bytes).map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))
}

pub fn save(
    path: &Path,
    tensors: &[(String, Tensor)],
    metadata: HashMap<String, String>,
) -> Result<()> {
    let refs: Vec<&Tensor> = tensors.iter().map(|(_, t)| t).collect();
    let values = Tensor::read_all(&refs)?;
    let bytes: Vec<Vec<u8>> = values
        .iter()
        .map(|v| bytemuck::cast_slice(v).to_vec())
        .collect();
    let mut views = Vec::with_capacity(tensors.len());
    for ((name, t), b) in tensors.iter().zip(&bytes) {
        let view = TensorView::new(Dtype::F32, t.shape().to_vec(), b)
            .map_err(|e| Error::Invalid(format!("checkpoint {name}: {e}")))?;
        views.push((name.clone(), view));
    }
    let out = safetensors::serialize(views, Some(metadata))
        .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
    write_atomic(path, &out)
}

pub struct Loaded {
    pub tensors: HashMap<String, (Vec<usize>, Vec<f32>)>,
    pub metadata: HashMap<String, String>,
}

pub fn load(path: &Path) -> Result<Loaded> {
    let bytes = std::fs::read(path).map_err(|e| io(path, e))?;
    let bad =
        |e: String| Error::Invalid(format!("{}: not a tidal checkpoint: {e}", path.display()));
    let st = SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
    let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
    let mut tensors = HashMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(bad(format!(
                "tensor {name} is {:?}, expected F32",
                view.dtype()
            )));
        }
        let data: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        tensors.insert(name, (view.shape().to_vec(), data));
    }
    Ok(Loaded {
        tensors,
        metadata: meta.metadata().clone().unwrap_or_default(),
    })
}

/// Copies loaded values into `targets` by name; every target must be present with its shape.
pub fn restore(loaded: &Loaded, targets: &[(String, Tensor)], path: &Path) -> Result<()> {
    for (name, t) in targets {
        let (shape, data) = loaded
            .tensors
            .get(name)
            .ok_or_else(|| Error::Invalid(format!("{}: missing tensor {name}", path.display())))?;
        if shape.as_slice() != t.shape() {
            return Err(Error::Shape {
                op: "checkpoint",
                detail: format!(
                    "{}: {name} is {shape:?}, the model expects {:?}",
                    path.display(),
                    t.shape()
                ),
            });
        }
        t.write(data)?;
    }
    Ok(())
}
