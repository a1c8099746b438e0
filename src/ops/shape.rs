//! Shape ops: reshape (free), broadcast_to, transpose, concat and slice along the batch
//! axis (buffer copies), and row gather by index.

use super::{alloc_like, same_ctx, storage};
use crate::autograd::make;
use crate::error::{Error, Result};
use crate::gpu::grid_1d;
use crate::gpu::Params;
use crate::tensor::{numel, DType, Tensor};

fn row_len(shape: &[usize]) -> usize {
    shape[1..].iter().product()
}

impl Tensor {
    /// Same data, new shape (no copy).
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        if numel(shape) != self.numel() {
            return Err(Error::Shape {
                op: "reshape",
                detail: format!(
                    "{:?} ({} elements) to {shape:?}",
                    self.shape(),
                    self.numel()
                ),
            });
        }
        let from = self.shape().to_vec();
        Ok(make(
            storage(self),
            shape.to_vec(),
            self.dtype(),
            "reshape",
            &[self],
            move |g| Ok(vec![Some(g.reshape(&from)?)]),
        ))
    }

    /// Copies the tensor broadcast to `shape` (NumPy rules).
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Tensor> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        match super::elementwise::broadcast_shape(self.shape(), shape) {
            Some(s) if s == shape => {}
            _ => {
                return Err(Error::Shape {
                    op: "broadcast_to",
                    detail: format!("cannot broadcast {:?} to {shape:?}", self.shape()),
                })
            }
        }
        // The binary kernel with op 4 returns its right operand, read with broadcast strides.
        let zero_like = self.detach();
        let out = alloc_like(self, shape, DType::F32)?;
        let ctx = self.ctx();
        let off = shape.len() - self.dims();
        let mut strides = vec![0usize; shape.len()];
        let mut s = 1;
        for i in (0..self.dims()).rev() {
            strides[i + off] = if self.shape()[i] == 1 { 0 } else { s };
            s *= self.shape()[i];
        }
        let zeros = vec![0; shape.len()];
        super::elementwise::dispatch_binary(
            ctx,
            4,
            "broadcast_to",
            [&zero_like, self],
            &out,
            shape,
            &zeros,
            &strides,
        )?;
        let from = self.shape().to_vec();
        Ok(make(
            storage(&out),
            shape.to_vec(),
            DType::F32,
            "broadcast_to",
            &[self],
            move |g| Ok(vec![Some(super::elementwise::sum_to_shape(g, &from)?)]),
        ))
    }

    /// Swaps two axes (copies into the new layout).
    pub fn transpose(&self, d0: usize, d1: usize) -> Result<Tensor> {
        let nd = self.dims();
        if d0 >= nd || d1 >= nd {
            return Err(Error::Shape {
                op: "transpose",
                detail: format!("axes ({d0}, {d1}) for shape {:?}", self.shape()),
            });
        }
        if nd > 8 {
            return Err(Error::Shape {
                op: "transpose",
                detail: format!("more than 8 dimensions: {:?}", self.shape()),
            });
        }
        let mut in_strides = vec![1usize; nd];
        for i in (0..nd.saturating_sub(1)).rev() {
            in_strides[i] = in_strides[i + 1] * self.shape()[i + 1];
        }
        let mut shape = self.shape().to_vec();
        shape.swap(d0, d1);
        in_strides.swap(d0, d1);
        let out = alloc_like(self, &shape, self.dtype())?;
        let n = out.numel();
        let ctx = self.ctx();
        // A matrix [R, C] with R % 4 == 0 (the MMD's features, for instance): the
        // four-wide kernel.
        let (r, c) = (self.shape()[0], self.shape().get(1).copied().unwrap_or(1));
        if nd == 2 && d0 != d1 && r.is_multiple_of(4) && c <= 65535 && r / 4 <= 64 * 65535 {
            let k = ctx.kernel("shape", "transpose2d4", &[])?;
            let p = Params::new()
                .u32(n as u32)
                .u32(2)
                .u32(0)
                .u32(0)
                .u32x8(&[r, c]);
            ctx.dispatch(
                &k,
                p.bytes(),
                &[self.buffer(), out.buffer()],
                [(r / 4).div_ceil(64) as u32, c as u32, 1],
            )?;
        } else {
            let k = ctx.kernel("shape", "permute", &[])?;
            let p = Params::new()
                .u32(n as u32)
                .u32(nd as u32)
                .u32(0)
                .u32(0)
                .u32x8(&shape)
                .u32x8(&in_strides);
            ctx.dispatch(
                &k,
                p.bytes(),
                &[self.buffer(), out.buffer()],
                grid_1d(n as u64, 256),
            )?;
        }
        Ok(make(
            storage(&out),
            shape,
            self.dtype(),
            "transpose",
            &[self],
            move |g| Ok(vec![Some(g.transpose(d0, d1)?)]),
        ))
    }

    /// Joins tensors along axis 0; the other dims must match.
    pub fn concat(parts: &[&Tensor]) -> Result<Tensor> {
        let first = parts
            .first()
            .ok_or_else(|| Error::Invalid("concat of no tensors".into()))?;
        let tail = &first.shape()[1..];
        let mut rows = 0;
        for t in parts {
            same_ctx("concat", first, t)?;
            if t.dims() == 0 || &t.shape()[1..] != tail || t.dtype() != first.dtype() {
                return Err(Error::Shape {
                    op: "concat",
                    detail: format!(
                        "{:?} does not match {:?} after axis 0",
                        t.shape(),
                        first.shape()
                    ),
                });
            }
            rows += t.shape()[0];
        }
        let mut shape = first.shape().to_vec();
        shape[0] = rows;
        let out = alloc_like(first, &shape, first.dtype())?;
        let ctx = first.ctx();
        let mut off = 0;
        let mut splits = Vec::new();
        for t in parts {
            ctx.copy(t.buffer(), 0, out.buffer(), off, t.bytes());
            splits.push((t.shape()[0], t.requires_grad()));
            off += t.bytes();
        }
        Ok(make(
            storage(&out),
            shape,
            first.dtype(),
            "concat",
            parts,
            move |g| {
                let mut start = 0;
                let mut gs = Vec::new();
                for &(r, needs) in &splits {
                    gs.push(if needs {
                        Some(g.slice_rows(start, start + r)?)
                    } else {
                        None
                    });
                    start += r;
                }
                Ok(gs)
            },
        ))
    }

    /// Rows [start, end) along axis 0.
    pub fn slice_rows(&self, start: usize, end: usize) -> Result<Tensor> {
        if self.dims() == 0 || start > end || end > self.shape()[0] {
            return Err(Error::Shape {
                op: "slice_rows",
                detail: format!("rows {start}..{end} of {:?}", self.shape()),
            });
        }
        let rl = row_len(self.shape());
        let mut shape = self.shape().to_vec();
        shape[0] = end - start;
        let out = alloc_like(self, &shape, self.dtype())?;
        self.ctx().copy(
            self.buffer(),
            (start * rl * 4) as u64,
            out.buffer(),
            0,
            out.bytes(),
        );
        let full = self.shape().to_vec();
        Ok(make(
            storage(&out),
            shape,
            self.dtype(),
            "slice_rows",
            &[self],
            move |g| {
                let gx = Tensor::zeros(g.ctx(), &full)?;
                g.ctx().copy(
                    g.buffer(),
                    0,
                    gx.buffer(),
                    (start * rl * 4) as u64,
                    g.bytes(),
                );
                Ok(vec![Some(gx)])
            },
        ))
    }

    /// Rows of `self` picked by the u32 tensor `index` (shape [M]): result [M, ...].
    pub fn gather_rows(&self, index: &Tensor) -> Result<Tensor> {
        same_ctx("gather_rows", self, index)?;
        index.expect_dtype("gather_rows", DType::U32)?;
        self.expect_dtype("gather_rows", DType::F32)?;
        if index.dims() != 1 || self.dims() == 0 {
            return Err(Error::Shape {
                op: "gather_rows",
                detail: format!(
                    "index {:?} must be 1-D, source {:?} at least 1-D",
                    index.shape(),
                    self.shape()
                ),
            });
        }
        let rl = row_len(self.shape());
        let m = index.shape()[0];
        let mut shape = self.shape().to_vec();
        shape[0] = m;
        let out = alloc_like(self, &shape, DType::F32)?;
        let ctx = self.ctx();
        let k = ctx.kernel("shape", "gather_rows", &[])?;
        let n = out.numel();
        let p = Params::new()
            .u32(n as u32)
            .u32(0)
            .u32(m as u32)
            .u32(rl as u32);
        ctx.dispatch(
            &k,
            p.bytes(),
            &[self.buffer(), index.buffer(), out.buffer()],
            grid_1d(n as u64, 256),
        )?;
        let full = self.shape().to_vec();
        let index = index.clone();
        Ok(make(
            storage(&out),
            shape,
            DType::F32,
            "gather_rows",
            &[self],
            move |g| {
                let gx = Tensor::empty(g.ctx(), &full, DType::F32)?;
                let ctx = g.ctx();
                let k = ctx.kernel("shape", "index_add_rows", &[])?;
                let n = gx.numel();
                let p = Params::new()
                    .u32(n as u32)
                    .u32(0)
                    .u32(m as u32)
                    .u32(rl as u32);
                ctx.dispatch(
                    &k,
                    p.bytes(),
                    &[g.buffer(), index.buffer(), gx.buffer()],
                    grid_1d(n as u64, 256),
                )?;
                Ok(vec![Some(gx)])
            },
        ))
    }

    /// One-hot f32 rows [B, classes] from u32 labels [B] (labels ≥ classes give a zero row).
    pub fn one_hot(&self, classes: usize) -> Result<Tensor> {
        self.expect_dtype("one_hot", DType::U32)?;
        if self.dims() != 1 {
            return Err(Error::Shape {
                op: "one_hot",
                detail: format!("labels must be 1-D, got {:?}", self.shape()),
            });
        }
        let b = self.shape()[0];
        let out = alloc_like(self, &[b, classes], DType::F32)?;
        let ctx = self.ctx();
        let k = ctx.kernel("shape", "one_hot", &[])?;
        let n = b * classes;
        let p = Params::new()
            .u32(n as u32)
            .u32(0)
            .u32(b as u32)
            .u32(classes as u32);
        ctx.dispatch(
            &k,
            p.bytes(),
            &[out.buffer(), self.buffer()],
            grid_1d(n as u64, 256),
        )?;
        Ok(out)
    }
}
