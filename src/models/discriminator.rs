//! The DANN domain discriminator: Linear(d→1024) ReLU Dropout(0.5) → Linear(1024→1024)
//! ReLU Dropout(0.5) → Linear(1024→1), one logit per row (source = 1, target = 0), behind
//! a gradient-reversal layer. Unlike the published code, its parameters are trained.

use crate::error::Result;
use crate::gpu::Context;
use crate::nn::{Dropout, GradReverseLayer, Linear, Module, ReLU, Sequential};
use crate::ops::random::Rng;
use crate::ops::GradReverse;
use crate::tensor::Tensor;
use std::rc::Rc;

pub struct Discriminator {
    pub grl: GradReverse,
    net: Sequential,
    dropouts: [Rc<Dropout>; 2],
}

impl Discriminator {
    pub fn new(
        ctx: &Rc<Context>,
        rng: &mut Rng,
        in_dim: usize,
        hidden: usize,
    ) -> Result<Discriminator> {
        let grl = GradReverse::new(1.0);
        let dropouts = [
            Rc::new(Dropout::new(0.5, Rng::new(rng.seed ^ 0xD15C_0001))),
            Rc::new(Dropout::new(0.5, Rng::new(rng.seed ^ 0xD15C_0002))),
        ];
        let net = Sequential::new()
            .named("grl", GradReverseLayer(grl.clone()))
            .named("ad_layer1", Linear::new(ctx, rng, in_dim, hidden, true)?)
            .named("relu1", ReLU)
            .named("dropout1", dropouts[0].clone())
            .named("ad_layer2", Linear::new(ctx, rng, hidden, hidden, true)?)
            .named("relu2", ReLU)
            .named("dropout2", dropouts[1].clone())
            .named("ad_layer3", Linear::new(ctx, rng, hidden, 1, true)?);
        Ok(Discriminator { grl, net, dropouts })
    }

    /// The dropout generators' states, for checkpoints.
    pub fn dropout_rngs(&self) -> Vec<Rng> {
        self.dropouts.iter().map(|d| d.rng()).collect()
    }

    pub fn set_dropout_rngs(&self, rngs: &[Rng]) {
        for (d, r) in self.dropouts.iter().zip(rngs) {
            d.set_rng(*r);
        }
    }
}

impl Module for Discriminator {
    /// Domain logits [B, 1] of features [B, d] (gradient reversed on the way back).
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.net.forward(x)
    }
    fn parameters(&self) -> Vec<Tensor> {
        self.net.parameters()
    }
    fn named_state(&self, prefix: &str, out: &mut Vec<(String, Tensor)>) {
        self.net.named_state(prefix, out)
    }
    fn set_training(&self, on: bool) {
        self.net.set_training(on)
    }
}
