//! Layers: a `Module` trait (forward, parameters, named state, train/eval mode) and the
//! layers a DeepMerge CNN or a ResNet18 needs. Parameters are leaf tensors with
//! `requires_grad`; optimizers update their buffers in place. State names follow PyTorch's
//! `state_dict` (`weight`, `bias`, `running_mean`, `running_var`).

pub mod init;

use crate::error::{Error, Result};
use crate::gpu::Context;
use crate::ops::batchnorm::batch_norm;
use crate::ops::bn_relu_pool::{bn_relu_max_pool2d, bn_relu_pool_ok};
use crate::ops::conv2d::{conv2d, Conv2dParams};
use crate::ops::pool::{avg_pool2d, max_pool2d};
use crate::ops::random::Rng;
use crate::ops::GradReverse;
use crate::tensor::Tensor;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// An integer buffer kept on the host (PyTorch stores it as an int64 scalar).
pub type Counter = Rc<Cell<u64>>;

pub trait Module {
    fn forward(&self, x: &Tensor) -> Result<Tensor>;
    /// Trainable parameters, in `named_state` order.
    fn parameters(&self) -> Vec<Tensor> {
        Vec::new()
    }
    /// Parameters and buffers under PyTorch's `state_dict` names, prefixed with `prefix`.
    fn named_state(&self, _prefix: &str, _out: &mut Vec<(String, Tensor)>) {}
    /// Host-side integer state under its `state_dict` name (batch norm's
    /// `num_batches_tracked`), shared so a checkpoint can read and restore it.
    fn named_counters(&self, _prefix: &str, _out: &mut Vec<(String, Counter)>) {}
    /// Training (batch statistics, dropout on) or evaluation mode.
    fn set_training(&self, _on: bool) {}
}

/// A shared layer (e.g. a Dropout whose generator state a checkpoint saves) is a layer too.
impl<M: Module + ?Sized> Module for Rc<M> {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        (**self).forward(x)
    }
    fn parameters(&self) -> Vec<Tensor> {
        (**self).parameters()
    }
    fn named_state(&self, prefix: &str, out: &mut Vec<(String, Tensor)>) {
        (**self).named_state(prefix, out)
    }
    fn named_counters(&self, prefix: &str, out: &mut Vec<(String, Counter)>) {
        (**self).named_counters(prefix, out)
    }
    fn set_training(&self, on: bool) {
        (**self).set_training(on)
    }
}

/// `prefix.name`, or `name` at the top level.
pub fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

// Parameters and state names of a layer with a weight and an optional bias.
fn weight_bias_params(weight: &Tensor, bias: &Option<Tensor>) -> Vec<Tensor> {
    std::iter::once(weight.clone())
        .chain(bias.clone())
        .collect()
}

fn weight_bias_state(
    prefix: &str,
    weight: &Tensor,
    bias: &Option<Tensor>,
    out: &mut Vec<(String, Tensor)>,
) {
    out.push((join(prefix, "weight"), weight.clone()));
    out.extend(bias.clone().map(|b| (join(prefix, "bias"), b)));
}

/// x · Wᵀ + b with W [out, in] (PyTorch layout).
pub struct Linear {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
}

impl Linear {
    pub fn new(
        ctx: &Rc<Context>,
        rng: &mut Rng,
        fan_in: usize,
        fan_out: usize,
        bias: bool,
    ) -> Result<Linear> {
        Ok(Linear {
            weight: init::kaiming_uniform(ctx, rng, &[fan_out, fan_in], fan_in)?.requires_grad_(),
            bias: if bias {
                Some(init::bias_uniform(ctx, rng, fan_out, fan_in)?.requires_grad_())
            } else {
                None
            },
        })
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = x.matmul_t(&self.weight, false, true)?;
        match &self.bias {
            Some(b) => y.add(b),
            None => Ok(y),
        }
    }
    fn parameters(&self) -> Vec<Tensor> {
        weight_bias_params(&self.weight, &self.bias)
    }
    fn named_state(&self, prefix: &str, out: &mut Vec<(String, Tensor)>) {
        weight_bias_state(prefix, &self.weight, &self.bias, out)
    }
}

/// 2-D convolution, NCHW, weight [out, in, kh, kw]; `params.relu` fuses a ReLU.
pub struct Conv2d {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
    pub params: Conv2dParams,
}

impl Conv2d {
    pub fn new(
        ctx: &Rc<Context>,
        rng: &mut Rng,
        in_ch: usize,
        out_ch: usize,
        kernel: usize,
        params: Conv2dParams,
        bias: bool,
    ) -> Result<Conv2d> {
        let fan_in = in_ch * kernel * kernel;
        Ok(Conv2d {
            weight: init::kaiming_uniform(ctx, rng, &[out_ch, in_ch, kernel, kernel], fan_in)?
                .requires_grad_(),
            bias: if bias {
                Some(init::bias_uniform(ctx, rng, out_ch, fan_in)?.requires_grad_())
            } else {
                None
            },
            params,
        })
    }
}

impl Module for Conv2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        conv2d(x, &self.weight, self.bias.as_ref(), self.params)
    }
    fn parameters(&self) -> Vec<Tensor> {
        weight_bias_params(&self.weight, &self.bias)
    }
    fn named_state(&self, prefix: &str, out: &mut Vec<(String, Tensor)>) {
        weight_bias_state(prefix, &self.weight, &self.bias, out)
    }
}

/// Batch normalisation over (N, C, H, W) or (N, C): `BatchNorm2d` and `BatchNorm1d` alike.
pub struct BatchNorm {
    pub weight: Tensor,
    pub bias: Tensor,
    pub running_mean: Tensor,
    pub running_var: Tensor,
    pub momentum: f32,
    pub eps: f32,
    /// Forward calls in training mode (PyTorch's `num_batches_tracked`).
    pub num_batches_tracked: Counter,
    training: Cell<bool>,
}

pub type BatchNorm2d = BatchNorm;
pub type BatchNorm1d = BatchNorm;

impl BatchNorm {
    /// Whether it normalises with batch statistics (training) or the running ones (eval).
    pub fn is_training(&self) -> bool {
        self.training.get()
    }

    pub fn new(ctx: &Rc<Context>, channels: usize) -> Result<BatchNorm> {
        Ok(BatchNorm {
            weight: Tensor::ones(ctx, &[channels])?.requires_grad_(),
            bias: Tensor::zeros(ctx, &[channels])?.requires_grad_(),
            running_mean: Tensor::zeros(ctx, &[channels])?,
            running_var: Tensor::ones(ctx, &[channels])?,
            momentum: 0.1,
            eps: 1e-5,
            num_batches_tracked: Rc::new(Cell::new(0)),
            training: Cell::new(true),
        })
    }
}

impl Module for BatchNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let training = self.training.get();
        if training {
            self.num_batches_tracked
                .set(self.num_batches_tracked.get() + 1);
        }
        batch_norm(
            x,
            &self.weight,
            &self.bias,
            &self.running_mean,
            &self.running_var,
            training,
            self.momentum,
            self.eps,
        )
    }
    fn parameters(&self) -> Vec<Tensor> {
        vec![self.weight.clone(), self.bias.clone()]
    }
    fn named_state(&self, prefix: &str, out: &mut Vec<(String, Tensor)>) {
        out.push((join(prefix, "weight"), self.weight.clone()));
        out.push((join(prefix, "bias"), self.bias.clone()));
        out.push((join(prefix, "running_mean"), self.running_mean.clone()));
        out.push((join(prefix, "running_var"), self.running_var.clone()));
    }
    fn named_counters(&self, prefix: &str, out: &mut Vec<(String, Counter)>) {
        out.push((
            join(prefix, "num_batches_tracked"),
            self.num_batches_tracked.clone(),
        ));
    }
    fn set_training(&self, on: bool) {
        self.training.set(on);
    }
}

/// BatchNorm2d → ReLU → MaxPool2d(2) (the tail of each DeepMerge block): the fused kernel
/// chain where the context runs it (`gpu::fused`) and the shape allows, else the three
/// reference ops. State and counters are the batch norm's, under the block's name.
pub struct BnReluPool {
    pub bn: BatchNorm,
}

impl BnReluPool {
    pub fn new(ctx: &Rc<Context>, channels: usize) -> Result<BnReluPool> {
        Ok(BnReluPool {
            bn: BatchNorm::new(ctx, channels)?,
        })
    }

    /// The block before its pool: relu(bn(x)), through the reference ops.
    pub fn bn_relu(&self, x: &Tensor) -> Result<Tensor> {
        self.bn.forward(x)?.relu()
    }
}

impl Module for BnReluPool {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if !(crate::gpu::fused(x.ctx()) && bn_relu_pool_ok(x)) {
            return max_pool2d(&self.bn_relu(x)?, (2, 2), (2, 2), (0, 0));
        }
        let bn = &self.bn;
        let training = bn.training.get();
        if training {
            bn.num_batches_tracked.set(bn.num_batches_tracked.get() + 1);
        }
        bn_relu_max_pool2d(
            x,
            &bn.weight,
            &bn.bias,
            &bn.running_mean,
            &bn.running_var,
            training,
            bn.momentum,
            bn.eps,
        )
    }
    fn parameters(&self) -> Vec<Tensor> {
        self.bn.parameters()
    }
    fn named_state(&self, prefix: &str, out: &mut Vec<(String, Tensor)>) {
        self.bn.named_state(prefix, out)
    }
    fn named_counters(&self, prefix: &str, out: &mut Vec<(String, Counter)>) {
        self.bn.named_counters(prefix, out)
    }
    fn set_training(&self, on: bool) {
        self.bn.set_training(on)
    }
}

pub struct MaxPool2d {
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    pub padding: (usize, usize),
}

impl MaxPool2d {
    /// Square window, stride = kernel, no padding (PyTorch's `MaxPool2d(k)`).
    pub fn new(k: usize) -> MaxPool2d {
        MaxPool2d {
            kernel: (k, k),
            stride: (k, k),
            padding: (0, 0),
        }
    }
}

impl Module for MaxPool2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        max_pool2d(x, self.kernel, self.stride, self.padding)
    }
}

pub struct AvgPool2d {
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    pub padding: (usize, usize),
    /// PyTorch's flag: padding counts in each window's divisor.
    pub count_include_pad: bool,
}

impl Module for AvgPool2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        avg_pool2d(
            x,
            self.kernel,
            self.stride,
            self.padding,
            self.count_include_pad,
        )
    }
}

pub struct ReLU;

impl Module for ReLU {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.relu()
    }
}

/// Flattens every axis after the batch axis.
pub struct Flatten;

impl Module for Flatten {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let n = *x.shape().first().ok_or_else(|| Error::Shape {
            op: "flatten",
            detail: "needs a batch axis".into(),
        })?;
        x.reshape(&[n, x.numel() / n.max(1)])
    }
}

/// Inverted dropout with a seeded, deterministic mask; identity in eval mode.
pub struct Dropout {
    pub p: f32,
    rng: RefCell<Rng>,
    training: Cell<bool>,
}

impl Dropout {
    pub fn new(p: f32, rng: Rng) -> Dropout {
        Dropout {
            p,
            rng: RefCell::new(rng),
            training: Cell::new(true),
        }
    }
    /// The generator state (saved with checkpoints so a resumed run draws the same masks).
    pub fn rng(&self) -> Rng {
        *self.rng.borrow()
    }
    /// Restores the generator state (resuming a run).
    pub fn set_rng(&self, rng: Rng) {
        *self.rng.borrow_mut() = rng;
    }
}

impl Module for Dropout {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        crate::ops::random::dropout(x, self.p, self.training.get(), &mut self.rng.borrow_mut())
    }
    fn set_training(&self, on: bool) {
        self.training.set(on);
    }
}

/// Gradient reversal as a layer (identity forward, gradient × −λ backward).
pub struct GradReverseLayer(pub GradReverse);

impl Module for GradReverseLayer {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.0.apply(x)
    }
}

/// Layers applied in order; state names are `<index>.<name>` unless a layer is named.
#[derive(Default)]
pub struct Sequential {
    layers: Vec<(String, Box<dyn Module>)>,
}

impl Sequential {
    pub fn new() -> Sequential {
        Sequential::default()
    }
    /// Appends a layer named by its position.
    pub fn push(mut self, layer: impl Module + 'static) -> Sequential {
        let name = self.layers.len().to_string();
        self.layers.push((name, Box::new(layer)));
        self
    }
    /// Appends a layer under a state name (e.g. "conv1").
    pub fn named(mut self, name: &str, layer: impl Module + 'static) -> Sequential {
        self.layers.push((name.to_string(), Box::new(layer)));
        self
    }
    pub fn len(&self) -> usize {
        self.layers.len()
    }
    /// Applies layers `range` only (e.g. a network up to its last convolution).
    pub fn forward_range(&self, x: &Tensor, range: std::ops::Range<usize>) -> Result<Tensor> {
        let mut h = x.clone();
        for (_, l) in &self.layers[range] {
            h = l.forward(&h)?;
        }
        Ok(h)
    }
    /// Position of the layer named `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.layers.iter().position(|(n, _)| n == name)
    }
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

impl Module for Sequential {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = x.clone();
        for (_, l) in &self.layers {
            h = l.forward(&h)?;
        }
        Ok(h)
    }
    fn parameters(&self) -> Vec<Tensor> {
        self.layers
            .iter()
            .flat_map(|(_, l)| l.parameters())
            .collect()
    }
    fn named_counters(&self, prefix: &str, out: &mut Vec<(String, Counter)>) {
        for (name, l) in &self.layers {
            l.named_counters(&join(prefix, name), out);
        }
    }
    fn named_state(&self, prefix: &str, out: &mut Vec<(String, Tensor)>) {
        for (name, l) in &self.layers {
            l.named_state(&join(prefix, name), out);
        }
    }
    fn set_training(&self, on: bool) {
        for (_, l) in &self.layers {
            l.set_training(on);
        }
    }
}
