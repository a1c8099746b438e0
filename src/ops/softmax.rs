//! Softmax and log-softmax over the last axis, with their backward rules
//! (shaders/softmax.wgsl: `softmax_fwd`, `softmax_bwd` and their `_vec4` forms).

use super::{alloc_like, storage};
use crate::autograd::make;
use crate::error::{Error, Result};
use crate::gpu::grid_1d;
use crate::gpu::Params;
use crate::tensor::{DType, Tensor};

/// The `OP` override constant of the softmax entry points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Softmax = 0,
    LogSoftmax = 1,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Softmax => "softmax",
            Kind::LogSoftmax => "log_softmax",
        }
    }
}

/// (rows, row length) of `x` read as [rows, last axis].
pub(crate) fn rows_of(op: &'static str, x: &Tensor) -> Result<(usize, usize)> {
    match x.shape().last() {
        Some(&k) => Ok((x.numel() / k.max(1), k)),
        None => Err(Error::Shape {
            op,
            detail: format!("needs at least one axis, got shape {:?}", x.shape()),
        }),
    }
}

/// Dispatches the forward or backward row kernel over `bufs`, in its vec4 form when every
/// row starts 16-byte aligned.
fn dispatch_rows(
    x: &Tensor,
    backward: bool,
    kind: Kind,
    (rows, k): (usize, usize),
    bufs: &[&wgpu::Buffer],
) -> Result<()> {
    let ctx = x.ctx();
    let entry = match (backward, k.is_multiple_of(4)) {
        (false, false) => "softmax_fwd",
        (false, true) => "softmax_fwd_vec4",
        (true, false) => "softmax_bwd",
        (true, true) => "softmax_bwd_vec4",
    };
    let kern = ctx.kernel("softmax", entry, &[("OP", kind as u32 as f64)])?;
    let p = Params::new().u32(rows as u32).u32(k as u32).f32(1.0).u32(0);
    ctx.dispatch(&kern, p.bytes(), bufs, grid_1d(rows as u64, 64))
}

fn forward(x: &Tensor, kind: Kind) -> Result<Tensor> {
    x.expect_dtype(kind.name(), DType::F32)?;
    let dims = rows_of(kind.name(), x)?;
    let out = alloc_like(x, x.shape(), DType::F32)?;
    dispatch_rows(x, false, kind, dims, &[x.buffer(), out.buffer()])?;
    let y = out.detach();
    Ok(make(
        storage(&out),
        x.shape().to_vec(),
        DType::F32,
        kind.name(),
        &[x],
        move |g| {
            let dx = alloc_like(&y, y.shape(), DType::F32)?;
            dispatch_rows(&y, true, kind, dims, &[y.buffer(), g.buffer(), dx.buffer()])?;
            Ok(vec![Some(dx)])
        },
    ))
}

/// Over the last axis, numerically stable (subtract the row max).
pub fn softmax(x: &Tensor) -> Result<Tensor> {
    forward(x, Kind::Softmax)
}

/// log(softmax(x)) over the last axis, computed as x − max − log Σ exp(x − max).
pub fn log_softmax(x: &Tensor) -> Result<Tensor> {
    forward(x, Kind::LogSoftmax)
}
