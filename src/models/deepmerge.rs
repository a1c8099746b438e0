//! The DeepMerge CNN (Ćiprijanović et al. 2020), input 3×75×75:
//! conv 3→8 k5 p2 → BN → ReLU → maxpool 2 (75→37) · conv 8→16 k3 p1 → BN → ReLU → maxpool 2
//! (37→18) · conv 16→32 k3 p1 → BN → ReLU → maxpool 2 (18→9) · flatten 2592 → fc 64 → ReLU
//! → fc 32 → ReLU → fc 2. Transfer losses act on the 2592-d flattened conv output. State
//! names are the published PyTorch `state_dict` names (conv1, batchn1, ..., fc3). Each
//! BN → ReLU → pool tail is one `BnReluPool` layer under the batch norm's name, so the
//! fused kernels can run it. In eval mode without gradients, with the fused chains and the
//! row-window kernels chosen, each whole block (conv → BN → ReLU → pool) runs as one
//! kernel with the batch norm folded into the convolution (`conv2d_bn_relu_pool_eval`).

use super::{Classifier, Output};
use crate::autograd::is_grad_enabled;
use crate::error::Result;
use crate::gpu::Context;
use crate::nn::{BnReluPool, Conv2d, Counter, Flatten, Linear, Module, ReLU, Sequential};
use crate::ops::conv2d::{conv2d_bn_relu_pool_eval, conv_bn_relu_pool_ok, Conv2dParams};
use crate::ops::pool::max_pool2d;
use crate::ops::random::Rng;
use crate::tensor::Tensor;
use std::rc::Rc;

pub struct DeepMerge {
    features: Sequential,
    head: Sequential,
    /// The last block's tail, also called on its own for the last conv activation.
    block3: Rc<BnReluPool>,
    /// The three blocks' convolutions and tails (also in `features`), for the folded
    /// eval-mode path.
    blocks: Vec<(Rc<Conv2d>, Rc<BnReluPool>)>,
    all: Vec<(String, Tensor)>,
}

pub const FEATURES: usize = 2592;

impl DeepMerge {
    /// The published three-band network.
    pub fn new(ctx: &Rc<Context>, rng: &mut Rng) -> Result<DeepMerge> {
        DeepMerge::with_bands(ctx, rng, 3)
    }

    /// The network for images of `bands` channels (its first convolution takes them).
    pub fn with_bands(ctx: &Rc<Context>, rng: &mut Rng, bands: usize) -> Result<DeepMerge> {
        let conv = |pad| Conv2dParams {
            padding: (pad, pad),
            ..Default::default()
        };
        // Drawn in the order the published model declares them (the seed's weights).
        let conv1 = Rc::new(Conv2d::new(ctx, rng, bands, 8, 5, conv(2), true)?);
        let block1 = Rc::new(BnReluPool::new(ctx, 8)?);
        let conv2 = Rc::new(Conv2d::new(ctx, rng, 8, 16, 3, conv(1), true)?);
        let block2 = Rc::new(BnReluPool::new(ctx, 16)?);
        let conv3 = Rc::new(Conv2d::new(ctx, rng, 16, 32, 3, conv(1), true)?);
        let block3 = Rc::new(BnReluPool::new(ctx, 32)?);
        let features = Sequential::new()
            .named("conv1", conv1.clone())
            .named("batchn1", block1.clone())
            .named("conv2", conv2.clone())
            .named("batchn2", block2.clone())
            .named("conv3", conv3.clone())
            .named("batchn3", block3.clone())
            .named("flatten", Flatten);
        let blocks = vec![(conv1, block1), (conv2, block2), (conv3, block3.clone())];
        let head = Sequential::new()
            .named("fc1", Linear::new(ctx, rng, FEATURES, 64, true)?)
            .named("relu4", ReLU)
            .named("fc2", Linear::new(ctx, rng, 64, 32, true)?)
            .named("relu5", ReLU)
            .named("fc3", Linear::new(ctx, rng, 32, 2, true)?);
        let mut all = Vec::new();
        features.named_state("", &mut all);
        head.named_state("", &mut all);
        Ok(DeepMerge {
            features,
            head,
            block3,
            blocks,
            all,
        })
    }
}

impl Module for DeepMerge {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.head.forward(&self.feature_pass(x)?)
    }
    fn parameters(&self) -> Vec<Tensor> {
        let mut p = self.features.parameters();
        p.extend(self.head.parameters());
        p
    }
    fn named_state(&self, prefix: &str, out: &mut Vec<(String, Tensor)>) {
        for (n, t) in &self.all {
            out.push((
                if prefix.is_empty() {
                    n.clone()
                } else {
                    format!("{prefix}.{n}")
                },
                t.clone(),
            ));
        }
    }
    fn named_counters(&self, prefix: &str, out: &mut Vec<(String, Counter)>) {
        self.features.named_counters(prefix, out);
        self.head.named_counters(prefix, out);
    }
    fn set_training(&self, on: bool) {
        self.features.set_training(on);
        self.head.set_training(on);
    }
}

impl Classifier for DeepMerge {
    fn run(&self, x: &Tensor) -> Result<Output> {
        let features = self.feature_pass(x)?;
        let logits = self.head.forward(&features)?;
        Ok(Output { features, logits })
    }
    fn module(&self) -> &dyn Module {
        self
    }
    fn feature_dim(&self) -> usize {
        FEATURES
    }
    fn last_conv(&self, x: &Tensor) -> Result<Tensor> {
        let conv3 = self.features.forward_range(x, 0..self.split())?;
        self.block3.bn_relu(&conv3)
    }
    fn logits_from_last_conv(&self, a: &Tensor) -> Result<Tensor> {
        let pooled = max_pool2d(a, (2, 2), (2, 2), (0, 0))?;
        let f = self
            .features
            .forward_range(&pooled, self.split() + 1..self.features.len())?;
        self.head.forward(&f)
    }
}

impl DeepMerge {
    /// The flattened features: the folded block kernels where they apply (eval mode, no
    /// gradient wanted, `+fused+rows`), else the layers one by one.
    fn feature_pass(&self, x: &Tensor) -> Result<Tensor> {
        let ctx = x.ctx();
        let folded = !is_grad_enabled()
            && !self.blocks[0].1.bn.is_training()
            && conv_bn_relu_pool_ok(
                ctx,
                x.shape(),
                self.blocks[0].0.weight.shape(),
                &self.blocks[0].0.params,
            );
        if !folded {
            return self.features.forward(x);
        }
        let mut h = x.clone();
        for (conv, block) in &self.blocks {
            let bn = &block.bn;
            h = if conv_bn_relu_pool_ok(ctx, h.shape(), conv.weight.shape(), &conv.params) {
                conv2d_bn_relu_pool_eval(
                    &h,
                    &conv.weight,
                    conv.bias.as_ref(),
                    conv.params,
                    &bn.weight,
                    &bn.bias,
                    &bn.running_mean,
                    &bn.running_var,
                    bn.eps,
                )?
            } else {
                block.forward(&conv.forward(&h)?)?
            };
        }
        let n = h.shape()[0];
        h.reshape(&[n, FEATURES])
    }

    /// The last block's BN → ReLU → pool layer (after conv3).
    fn split(&self) -> usize {
        self.features
            .position("batchn3")
            .expect("DeepMerge has batchn3")
    }
}
