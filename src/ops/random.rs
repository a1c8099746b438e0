//! Randomness (shaders/random.wgsl): the seeded counter-based generator `Rng` (Threefry-2x32;
//! uniform and normal tensors, a bit-identical CPU twin) and inverted dropout, whose mask
//! comes from the same generator and is regenerated from the same counters in the
//! backward, so nothing but the counters is saved.

use super::{alloc_like, storage};
use crate::autograd::make;
use crate::error::{Error, Result};
use crate::gpu::{grid_1d, Context, Params};
use crate::tensor::{DType, Tensor};
use std::rc::Rc;

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

/// Inverted dropout: training → zero each element with probability p and scale the kept ones by 1/(1−p);
/// the mask comes from the seeded counter-based generator (advance rng like Rng::uniform does, so a
/// seed gives the same mask on every adapter); eval (training = false) or p = 0 → identity.
///
/// Element i is kept when the i-th value `rng.uniform(.., 0.0, 1.0)` would have drawn is ≥ p.
pub fn dropout(x: &Tensor, p: f32, training: bool, rng: &mut Rng) -> Result<Tensor> {
    x.expect_dtype("dropout", DType::F32)?;
    if !(0.0..=1.0).contains(&p) {
        return Err(Error::Invalid(format!(
            "dropout: probability {p} is outside [0, 1]"
        )));
    }
    if !training || p == 0.0 {
        return Ok(x.clone());
    }
    let n = x.numel();
    let (offset, stream) = rng.take(n)?;
    // p = 1 keeps nothing; a zero scale avoids an infinite one.
    let scale = if p < 1.0 { 1.0 / (1.0 - p) } else { 0.0 };
    let params = Params::new()
        .u32(n as u32)
        .u32(rng.seed as u32)
        .u32((rng.seed >> 32) as u32)
        .u32(offset)
        .u32(stream)
        .f32(p)
        .f32(scale)
        .u32(0);
    let out = apply_mask(x, &params)?;
    Ok(make(
        storage(&out),
        x.shape().to_vec(),
        DType::F32,
        "dropout",
        &[x],
        move |g| Ok(vec![Some(apply_mask(g, &params)?)]),
    ))
}

/// Masks and scales `x` with the mask that `params`' counters give.
fn apply_mask(x: &Tensor, params: &Params) -> Result<Tensor> {
    let ctx = x.ctx();
    let out = alloc_like(x, x.shape(), DType::F32)?;
    let k = ctx.kernel("random", "dropout", &[])?;
    // One invocation per pair of elements (one Threefry block).
    let pairs = x.numel().div_ceil(2) as u64;
    ctx.dispatch(
        &k,
        params.bytes(),
        &[out.buffer(), x.buffer()],
        grid_1d(pairs, 256),
    )?;
    Ok(out)
}
