//! Reductions: sum, mean and max over one axis or over all elements, and argmax.

use super::{alloc_like, storage};
use crate::autograd::make;
use crate::error::{Error, Result};
use crate::gpu::grid_1d;
use crate::gpu::Params;
use crate::tensor::{DType, Tensor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sum,
    Mean,
    Max,
}

/// Axis length above which one workgroup cooperates on each output.
const WG_THRESHOLD: usize = 512;
/// Outputs from which a long reduction runs one lane per output under `gpu::flip`: four
/// workgroups of 64.
const ROWS_MIN_OUTPUTS: u64 = 256;

fn split(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    let outer = shape[..axis].iter().product();
    let inner = shape[axis + 1..].iter().product();
    (outer, shape[axis], inner)
}

fn out_shape(shape: &[usize], axis: usize, keepdim: bool) -> Vec<usize> {
    let mut s = shape.to_vec();
    if keepdim {
        s[axis] = 1;
    } else {
        s.remove(axis);
    }
    s
}

impl Tensor {
    fn check_axis(&self, op: &'static str, axis: usize) -> Result<()> {
        if axis >= self.dims() {
            return Err(Error::Shape {
                op,
                detail: format!("axis {axis} out of range for shape {:?}", self.shape()),
            });
        }
        Ok(())
    }

    /// Dispatches a reduction of a contiguous [outer, len, inner] view into `out`.
    fn reduce_into(
        &self,
        out: &Tensor,
        (outer, len, inner): (usize, usize, usize),
        kind: Kind,
    ) -> Result<()> {
        let ctx = self.ctx();
        let op = if kind == Kind::Max { 1.0 } else { 0.0 };
        let scale = if kind == Kind::Mean {
            1.0 / len as f32
        } else {
            1.0
        };
        let p = Params::new()
            .u32(outer as u32)
            .u32(len as u32)
            .u32(inner as u32)
            .f32(scale);
        let n_out = (outer * inner) as u64;
        // With `+rows+flip` on a CPU adapter (`gpu::flip` and the subgroup variant), a
        // long axis still takes one lane per output where there are enough outputs to fill
        // the cores: llvmpipe runs each workgroup barrier of reduce_wg's tree as a switch
        // of every subgroup's coroutine, which cost more than the loads (sum over
        // [1024, 4096] 3x faster one lane per row; the conv bias gradients of the MMD step
        // are such sums).
        let lane_per_row = n_out >= ROWS_MIN_OUTPUTS
            && crate::gpu::rows(ctx)
            && crate::gpu::flip(ctx)
            && crate::gpu::Variant::for_context(ctx) == crate::gpu::Variant::Subgroup;
        if len > WG_THRESHOLD && n_out <= 65535 * 64 && !lane_per_row {
            let k = ctx.kernel("reduce", "reduce_wg", &[("OP", op)])?;
            ctx.dispatch(
                &k,
                p.bytes(),
                &[self.buffer(), out.buffer()],
                grid_1d(n_out, 1),
            )
        } else {
            let k = ctx.kernel("reduce", "reduce_rows", &[("OP", op)])?;
            ctx.dispatch(
                &k,
                p.bytes(),
                &[self.buffer(), out.buffer()],
                grid_1d(n_out, 64),
            )
        }
    }

    fn reduce(&self, axis: usize, keepdim: bool, kind: Kind, name: &'static str) -> Result<Tensor> {
        self.expect_dtype(name, DType::F32)?;
        self.check_axis(name, axis)?;
        let dims = split(self.shape(), axis);
        let shape = out_shape(self.shape(), axis, keepdim);
        let out = alloc_like(self, &shape, DType::F32)?;
        self.reduce_into(&out, dims, kind)?;
        let in_shape = self.shape().to_vec();
        let keep_shape = out_shape(self.shape(), axis, true);
        let idx = if kind == Kind::Max && self.requires_grad() && crate::autograd::is_grad_enabled()
        {
            Some(self.argmax_axis(axis)?)
        } else {
            None
        };
        Ok(make(
            storage(&out),
            shape,
            DType::F32,
            name,
            &[self],
            move |g| {
                let g = g.reshape(&keep_shape)?;
                let gx = match kind {
                    Kind::Sum => g.broadcast_to(&in_shape)?,
                    Kind::Mean => g.broadcast_to(&in_shape)?.scale(1.0 / dims.1 as f32)?,
                    Kind::Max => {
                        scatter_axis(&g, idx.as_ref().expect("argmax saved"), &in_shape, dims)?
                    }
                };
                Ok(vec![Some(gx)])
            },
        ))
    }

    pub fn sum_axis(&self, axis: usize, keepdim: bool) -> Result<Tensor> {
        self.reduce(axis, keepdim, Kind::Sum, "sum")
    }
    pub fn mean_axis(&self, axis: usize, keepdim: bool) -> Result<Tensor> {
        self.reduce(axis, keepdim, Kind::Mean, "mean")
    }
    pub fn max_axis(&self, axis: usize, keepdim: bool) -> Result<Tensor> {
        self.reduce(axis, keepdim, Kind::Max, "max")
    }

    /// Sum of all elements, shape [].
    pub fn sum(&self) -> Result<Tensor> {
        self.reshape(&[self.numel()])?.sum_axis(0, false)
    }
    /// Mean of all elements, shape [].
    pub fn mean(&self) -> Result<Tensor> {
        self.reshape(&[self.numel()])?.mean_axis(0, false)
    }
    /// Max of all elements, shape [].
    pub fn max(&self) -> Result<Tensor> {
        self.reshape(&[self.numel()])?.max_axis(0, false)
    }

    /// Index (u32) of the first maximum along `axis`; the axis is removed.
    pub fn argmax_axis(&self, axis: usize) -> Result<Tensor> {
        self.expect_dtype("argmax", DType::F32)?;
        self.check_axis("argmax", axis)?;
        let (outer, len, inner) = split(self.shape(), axis);
        let out = alloc_like(self, &out_shape(self.shape(), axis, false), DType::U32)?;
        let ctx = self.ctx();
        let k = ctx.kernel("reduce", "argmax_rows", &[])?;
        let p = Params::new()
            .u32(outer as u32)
            .u32(len as u32)
            .u32(inner as u32)
            .f32(1.0);
        ctx.dispatch(
            &k,
            p.bytes(),
            &[self.buffer(), out.buffer()],
            grid_1d((outer * inner) as u64, 64),
        )?;
        Ok(out)
    }
}

/// Routes g[o] to the position idx[o] along the axis; zeros elsewhere.
fn scatter_axis(
    g: &Tensor,
    idx: &Tensor,
    in_shape: &[usize],
    (outer, len, inner): (usize, usize, usize),
) -> Result<Tensor> {
    let out = alloc_like(g, in_shape, DType::F32)?;
    let ctx = g.ctx();
    let k = ctx.kernel("reduce", "scatter_axis", &[])?;
    let p = Params::new()
        .u32(outer as u32)
        .u32(len as u32)
        .u32(inner as u32)
        .f32(1.0);
    ctx.dispatch(
        &k,
        p.bytes(),
        &[out.buffer(), idx.buffer(), g.buffer()],
        grid_1d((outer * len * inner) as u64, 256),
    )?;
    Ok(out)
}
