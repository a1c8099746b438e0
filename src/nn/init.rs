//! Initialisers matching PyTorch's defaults, all drawn from the seeded GPU generator.

use crate::error::Result;
use crate::gpu::Context;
use crate::ops::random::Rng;
use crate::tensor::Tensor;
use std::rc::Rc;

/// PyTorch's default for Conv2d/Linear weights: kaiming_uniform_(a = √5), which is
/// U(−b, b) with b = gain·√(3/fan_in), gain = √(2/(1 + a²)) = √(1/3), so b = 1/√fan_in.
pub fn kaiming_uniform(
    ctx: &Rc<Context>,
    rng: &mut Rng,
    shape: &[usize],
    fan_in: usize,
) -> Result<Tensor> {
    let bound = 1.0 / (fan_in as f32).sqrt();
    rng.uniform(ctx, shape, -bound, bound)
}

/// PyTorch's default bias for Conv2d/Linear: U(−1/√fan_in, 1/√fan_in).
pub fn bias_uniform(ctx: &Rc<Context>, rng: &mut Rng, len: usize, fan_in: usize) -> Result<Tensor> {
    let bound = 1.0 / (fan_in as f32).sqrt();
    rng.uniform(ctx, &[len], -bound, bound)
}

/// N(0, σ²), e.g. the reference bottleneck's N(0, 0.005) and classifier's N(0, 0.01).
pub fn normal(ctx: &Rc<Context>, rng: &mut Rng, shape: &[usize], std: f32) -> Result<Tensor> {
    rng.normal(ctx, shape, 0.0, std)
}
