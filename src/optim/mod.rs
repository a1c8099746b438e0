//! Optimizers as fused kernels over all parameters (Adam, AdamW, SGD with momentum and
//! Nesterov), parameter groups with learning-rate multipliers, and learning-rate schedules.
//!
//! Parameters keep their own buffers (every op binds whole buffers); each step the
//! optimizer gathers parameters and gradients into flat buffers with buffer copies, runs
//! one update dispatch per parameter group over its contiguous range, and copies the
//! parameters back. Optimizer state (m, v) lives only in the flat buffers.

pub mod schedule;

pub use schedule::Schedule;

use crate::error::{Error, Result};
use crate::gpu::Params;
use crate::gpu::{grid_1d, Context};
use crate::tensor::{DType, Tensor};
use std::rc::Rc;

/// Which update rule, with PyTorch's parameter names and meanings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Rule {
    /// Adam; `decoupled` = AdamW (weight decay applied to the weights, not the gradient).
    Adam {
        beta1: f32,
        beta2: f32,
        eps: f32,
        weight_decay: f32,
        amsgrad: bool,
        decoupled: bool,
    },
    Sgd {
        momentum: f32,
        dampening: f32,
        weight_decay: f32,
        nesterov: bool,
    },
}

impl Rule {
    /// The reference recipe's Adam: β = (0.7, 0.8), ε = 1e-8, weight decay 1e-4.
    pub fn reference_adam() -> Rule {
        Rule::Adam {
            beta1: 0.7,
            beta2: 0.8,
            eps: 1e-8,
            weight_decay: 1e-4,
            amsgrad: false,
            decoupled: false,
        }
    }
}

/// Parameters sharing a learning-rate multiplier (and optionally their own weight decay).
#[derive(Clone)]
pub struct ParamGroup {
    pub params: Vec<Tensor>,
    pub lr_mult: f32,
    /// Overrides the rule's weight decay for this group.
    pub weight_decay: Option<f32>,
}

impl ParamGroup {
    pub fn new(params: Vec<Tensor>) -> ParamGroup {
        ParamGroup {
            params,
            lr_mult: 1.0,
            weight_decay: None,
        }
    }
    pub fn lr_mult(mut self, m: f32) -> ParamGroup {
        self.lr_mult = m;
        self
    }
}

struct Range {
    start: usize,
    len: usize,
    lr_mult: f32,
    weight_decay: Option<f32>,
}

pub struct Optimizer {
    pub rule: Rule,
    ctx: Rc<Context>,
    /// (parameter, element offset in the flat buffers)
    params: Vec<(Tensor, usize)>,
    groups: Vec<Range>,
    flat_p: Tensor,
    flat_g: Tensor,
    m: Tensor,
    v: Tensor,
    vmax: Tensor,
    /// Completed steps (Adam's t).
    pub step: u64,
}

impl Optimizer {
    pub fn new(rule: Rule, groups: Vec<ParamGroup>) -> Result<Optimizer> {
        let first = groups
            .iter()
            .flat_map(|g| g.params.first())
            .next()
            .ok_or_else(|| Error::Invalid("optimizer: no parameters".into()))?;
        let ctx = first.ctx().clone();
        let mut params = Vec::new();
        let mut ranges = Vec::new();
        let mut total = 0;
        for g in &groups {
            let start = total;
            for p in &g.params {
                p.expect_dtype("optimizer", DType::F32)?;
                if !p.requires_grad() || p.node().is_some() {
                    return Err(Error::Invalid(format!(
                        "optimizer: {p:?} is not a leaf parameter with requires_grad"
                    )));
                }
                params.push((p.clone(), total));
                total += p.numel();
            }
            ranges.push(Range {
                start,
                len: total - start,
                lr_mult: g.lr_mult,
                weight_decay: g.weight_decay,
            });
        }
        let n = total.max(1);
        let vmax_len = match rule {
            Rule::Adam { amsgrad: true, .. } => n,
            _ => 1,
        };
        Ok(Optimizer {
            rule,
            flat_p: Tensor::empty(&ctx, &[n], DType::F32)?,
            flat_g: Tensor::empty(&ctx, &[n], DType::F32)?,
            m: Tensor::zeros(&ctx, &[n])?,
            v: Tensor::zeros(&ctx, &[n])?,
            vmax: Tensor::zeros(&ctx, &[vmax_len])?,
            ctx,
            params,
            groups: ranges,
            step: 0,
        })
    }

    /// Clears every parameter's gradient.
    pub fn zero_grad(&self) {
        for (p, _) in &self.params {
            p.zero_grad();
        }
    }

    pub fn num_params(&self) -> usize {
        self.params.iter().map(|(p, _)| p.numel()).sum()
    }

    /// One update with base learning rate `lr` (each group scales it by its multiplier).
    /// A parameter without a gradient is updated with a zero gradient.
    pub fn step(&mut self, lr: f32) -> Result<()> {
        let ctx = self.ctx.clone();
        let zero_needed = self.params.iter().any(|(p, _)| p.grad().is_none());
        if zero_needed {
            let n = self.flat_g.numel() as u64;
            let k = ctx.kernel("elementwise", "fill", &[])?;
            let fill = Params::new().u32(n as u32).u32(0).f32(0.0).f32(0.0);
            ctx.dispatch(&k, fill.bytes(), &[self.flat_g.buffer()], grid_1d(n, 256))?;
        }
        for (p, off) in &self.params {
            let at = (*off * 4) as u64;
            ctx.copy(p.buffer(), 0, self.flat_p.buffer(), at, p.bytes());
            if let Some(g) = p.grad() {
                ctx.copy(g.buffer(), 0, self.flat_g.buffer(), at, g.bytes());
            }
        }
        self.step += 1;
        let t = self.step as i32;
        for r in &self.groups {
            if r.len == 0 {
                continue;
            }
            let glr = lr * r.lr_mult;
            let (entry, consts, params) = match self.rule {
                Rule::Adam {
                    beta1,
                    beta2,
                    eps,
                    weight_decay,
                    amsgrad,
                    decoupled,
                } => {
                    let wd = r.weight_decay.unwrap_or(weight_decay);
                    let bc1 = 1.0 - (beta1 as f64).powi(t);
                    let bc2 = 1.0 - (beta2 as f64).powi(t);
                    (
                        "adam",
                        vec![
                            ("DECOUPLED", decoupled as u32 as f64),
                            ("AMSGRAD", amsgrad as u32 as f64),
                        ],
                        Params::new()
                            .u32(r.start as u32)
                            .u32(r.len as u32)
                            .f32(glr)
                            .f32(wd)
                            .f32(beta1)
                            .f32(beta2)
                            .f32(eps)
                            .f32(bc1 as f32)
                            .f32(bc2.sqrt() as f32)
                            .u32(0)
                            .u32(0)
                            .u32(0),
                    )
                }
                Rule::Sgd {
                    momentum,
                    dampening,
                    weight_decay,
                    nesterov,
                } => {
                    let wd = r.weight_decay.unwrap_or(weight_decay);
                    (
                        "sgd",
                        vec![
                            ("MOMENTUM", (momentum != 0.0) as u32 as f64),
                            ("NESTEROV", nesterov as u32 as f64),
                        ],
                        Params::new()
                            .u32(r.start as u32)
                            .u32(r.len as u32)
                            .f32(glr)
                            .f32(wd)
                            .f32(momentum)
                            .f32(dampening)
                            .f32(0.0)
                            .f32(1.0)
                            .f32(1.0)
                            .u32((t == 1) as u32)
                            .u32(0)
                            .u32(0),
                    )
                }
            };
            let k = ctx.kernel("optim", entry, &consts)?;
            let bufs: Vec<&wgpu::Buffer> = match entry {
                "adam" => vec![
                    self.flat_g.buffer(),
                    self.flat_p.buffer(),
                    self.m.buffer(),
                    self.v.buffer(),
                    self.vmax.buffer(),
                ],
                _ => vec![self.flat_g.buffer(), self.flat_p.buffer(), self.m.buffer()],
            };
            ctx.dispatch(&k, params.bytes(), &bufs, grid_1d(r.len as u64, 256))?;
        }
        for (p, off) in &self.params {
            ctx.copy(
                self.flat_p.buffer(),
                (*off * 4) as u64,
                p.buffer(),
                0,
                p.bytes(),
            );
        }
        Ok(())
    }

    /// The optimizer state tensors (first and second moments; max second moment for
    /// amsgrad), for checkpoints.
    pub fn state(&self) -> (&Tensor, &Tensor, &Tensor) {
        (&self.m, &self.v, &self.vmax)
    }
}
