//! Inverted dropout (shaders/random.wgsl `dropout`): the mask comes from the seeded
//! counter-based generator and is regenerated from the same counters in the backward, so
//! nothing but the counters is saved.

use super::{alloc_like, storage, Params};
use crate::autograd::make;
use crate::error::{Error, Result};
use crate::gpu::grid_1d;
use crate::tensor::create::Rng;
use crate::tensor::{DType, Tensor};

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
