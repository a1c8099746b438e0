//! Tensor creation: host upload, constants, and the seeded counter-based generator.

use super::{numel, DType, Tensor};
use crate::error::{Error, Result};
use crate::gpu::Params;
use crate::gpu::{grid_1d, Context};
use std::rc::Rc;

fn check_len(op: &'static str, len: usize, shape: &[usize]) -> Result<()> {
    if len != numel(shape) {
        return Err(Error::Shape {
            op,
            detail: format!(
                "{len} values do not fill shape {shape:?} ({} elements)",
                numel(shape)
            ),
        });
    }
    Ok(())
}

impl Tensor {
    /// Uploads f32 data into a new tensor of `shape`.
    pub fn from_slice(ctx: &Rc<Context>, data: &[f32], shape: &[usize]) -> Result<Tensor> {
        check_len("from_slice", data.len(), shape)?;
        let t = Tensor::empty(ctx, shape, DType::F32)?;
        ctx.upload_fresh(t.buffer(), bytemuck::cast_slice(data));
        Ok(t)
    }

    /// Uploads u32 data (labels, indices) into a new tensor of `shape`.
    pub fn from_u32(ctx: &Rc<Context>, data: &[u32], shape: &[usize]) -> Result<Tensor> {
        check_len("from_u32", data.len(), shape)?;
        let t = Tensor::empty(ctx, shape, DType::U32)?;
        ctx.upload_fresh(t.buffer(), bytemuck::cast_slice(data));
        Ok(t)
    }

    /// Overwrites this tensor's data in place (e.g. a parameter loaded from a checkpoint).
    pub fn write(&self, data: &[f32]) -> Result<()> {
        check_len("write", data.len(), self.shape())?;
        self.ctx()
            .upload(self.buffer(), 0, bytemuck::cast_slice(data));
        Ok(())
    }

    pub fn full(ctx: &Rc<Context>, shape: &[usize], value: f32) -> Result<Tensor> {
        let t = Tensor::empty(ctx, shape, DType::F32)?;
        let k = ctx.kernel("elementwise", "fill", &[])?;
        let n = t.numel() as u64;
        let params = Params::new().u32(n as u32).u32(0).f32(value).f32(0.0);
        ctx.dispatch(&k, params.bytes(), &[t.buffer()], grid_1d(n, 256))?;
        Ok(t)
    }

    pub fn zeros(ctx: &Rc<Context>, shape: &[usize]) -> Result<Tensor> {
        Tensor::full(ctx, shape, 0.0)
    }

    pub fn ones(ctx: &Rc<Context>, shape: &[usize]) -> Result<Tensor> {
        Tensor::full(ctx, shape, 1.0)
    }

    pub fn zeros_like(&self) -> Result<Tensor> {
        Tensor::zeros(self.ctx(), self.shape())
    }
}
