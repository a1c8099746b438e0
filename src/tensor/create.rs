//! Tensor creation: host upload, constants, and the seeded counter-based generator.

use super::{numel, DType, Tensor};
use crate::error::{Error, Result};
use crate::gpu::{grid_1d, Context};
use crate::ops::Params;
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

/// A seeded stream of random tensors. Each draw advances the counter, so a sequence of
/// draws is reproducible from the seed alone and identical on every adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rng {
    pub seed: u64,
    /// Blocks consumed so far (one block = two 32-bit words).
    pub counter: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng { seed, counter: 0 }
    }

    /// Reserves the counters of `n` words: returns (offset, stream) for the kernel's params.
    pub(crate) fn take(&mut self, n: usize) -> Result<(u32, u32)> {
        let blocks = n.div_ceil(2) as u64;
        // The counter splits into (offset word, stream word) so streams never overlap.
        let offset = (self.counter & 0xffff_ffff) as u32;
        let stream = (self.counter >> 32) as u32;
        if offset as u64 + blocks > u32::MAX as u64 {
            // Start the next stream instead of wrapping inside this one.
            self.counter = ((stream as u64) + 1) << 32;
            return self.take(n);
        }
        self.counter += blocks;
        Ok((offset, stream))
    }

    fn draw(
        &mut self,
        ctx: &Rc<Context>,
        shape: &[usize],
        entry: &'static str,
        p0: f32,
        p1: f32,
    ) -> Result<Tensor> {
        let t = Tensor::empty(ctx, shape, DType::F32)?;
        let n = t.numel();
        let (offset, stream) = self.take(n)?;
        let k = ctx.kernel("random", entry, &[])?;
        let params = Params::new()
            .u32(n as u32)
            .u32(self.seed as u32)
            .u32((self.seed >> 32) as u32)
            .u32(offset)
            .u32(stream)
            .f32(p0)
            .f32(p1)
            .u32(0);
        ctx.dispatch(&k, params.bytes(), &[t.buffer()], grid_1d(n as u64, 256))?;
        Ok(t)
    }

    /// Uniform samples in [low, high).
    pub fn uniform(
        &mut self,
        ctx: &Rc<Context>,
        shape: &[usize],
        low: f32,
        high: f32,
    ) -> Result<Tensor> {
        self.draw(ctx, shape, "rand_uniform", low, high)
    }

    /// Normal samples N(mean, std²) by Box–Muller.
    pub fn normal(
        &mut self,
        ctx: &Rc<Context>,
        shape: &[usize],
        mean: f32,
        std: f32,
    ) -> Result<Tensor> {
        self.draw(ctx, shape, "rand_normal", mean, std)
    }

    /// The CPU twin of the `uniform` kernel's raw words, for tests and host-side sampling.
    pub fn cpu_words(&mut self, n: usize) -> Vec<u32> {
        let (offset, stream) = self.take(n).expect("counter");
        let k0 = self.seed as u32;
        let k1 = (self.seed >> 32) as u32;
        (0..n)
            .map(|i| {
                let w = threefry2x32([(i / 2) as u32 + offset, stream], [k0, k1]);
                w[i % 2]
            })
            .collect()
    }
}

/// Threefry-2x32, 20 rounds: the same function as `threefry` in shaders/random.wgsl.
pub fn threefry2x32(ctr: [u32; 2], key: [u32; 2]) -> [u32; 2] {
    const ROT: [u32; 8] = [13, 15, 26, 6, 17, 29, 16, 24];
    let ks = [key[0], key[1], 0x1BD1_1BDA ^ key[0] ^ key[1]];
    let mut x0 = ctr[0].wrapping_add(ks[0]);
    let mut x1 = ctr[1].wrapping_add(ks[1]);
    for r in 0..20u32 {
        x0 = x0.wrapping_add(x1);
        x1 = x1.rotate_left(ROT[(r % 8) as usize]);
        x1 ^= x0;
        if r % 4 == 3 {
            let s = (r + 1) / 4;
            x0 = x0.wrapping_add(ks[(s % 3) as usize]);
            x1 = x1.wrapping_add(ks[((s + 1) % 3) as usize]).wrapping_add(s);
        }
    }
    [x0, x1]
}
