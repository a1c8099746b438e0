//! ResNet18 in torchvision's layout (unchanged stem: 7×7 stride-2 conv, 3×3 stride-2
//! maxpool; a 75×75 input leaves a 3×3 map after layer4), global average pooling, then the
//! DeepMerge II head: bottleneck Linear 512→256 (init N(0, 0.005), bias 0) whose output the
//! transfer losses act on, and Linear 256→2 (init N(0, 0.01), bias 0). State names follow
//! torchvision (conv1, bn1, layer1.0.conv1, layer2.0.downsample.0, ...).

use super::{Classifier, Output};
use crate::error::Result;
use crate::gpu::Context;
use crate::nn::{init, join, BatchNorm2d, Conv2d, Counter, Linear, MaxPool2d, Module, ReLU};
use crate::ops::conv2d::Conv2dParams;
use crate::ops::pool::global_avg_pool2d;
use crate::ops::random::Rng;
use crate::tensor::Tensor;
use std::rc::Rc;

fn conv(
    ctx: &Rc<Context>,
    rng: &mut Rng,
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
) -> Result<Conv2d> {
    let p = Conv2dParams {
        stride: (stride, stride),
        padding: (k / 2, k / 2),
        ..Default::default()
    };
    Conv2d::new(ctx, rng, cin, cout, k, p, false)
}

struct BasicBlock {
    conv1: Conv2d,
    bn1: BatchNorm2d,
    conv2: Conv2d,
    bn2: BatchNorm2d,
    downsample: Option<(Conv2d, BatchNorm2d)>,
}

impl BasicBlock {
    fn new(
        ctx: &Rc<Context>,
        rng: &mut Rng,
        cin: usize,
        cout: usize,
        stride: usize,
    ) -> Result<BasicBlock> {
        let downsample = if stride != 1 || cin != cout {
            Some((
                conv(ctx, rng, cin, cout, 1, stride)?,
                BatchNorm2d::new(ctx, cout)?,
            ))
        } else {
            None
        };
        Ok(BasicBlock {
            conv1: conv(ctx, rng, cin, cout, 3, stride)?,
            bn1: BatchNorm2d::new(ctx, cout)?,
            conv2: conv(ctx, rng, cout, cout, 3, 1)?,
            bn2: BatchNorm2d::new(ctx, cout)?,
            downsample,
        })
    }

    fn parts(&self) -> Vec<(&str, &dyn Module)> {
        let mut v: Vec<(&str, &dyn Module)> = vec![
            ("conv1", &self.conv1),
            ("bn1", &self.bn1),
            ("conv2", &self.conv2),
            ("bn2", &self.bn2),
        ];
        if let Some((c, b)) = &self.downsample {
            v.push(("downsample.0", c));
            v.push(("downsample.1", b));
        }
        v
    }
}

impl Module for BasicBlock {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.bn1.forward(&self.conv1.forward(x)?)?.relu()?;
        let h = self.bn2.forward(&self.conv2.forward(&h)?)?;
        let skip = match &self.downsample {
            Some((c, b)) => b.forward(&c.forward(x)?)?,
            None => x.clone(),
        };
        h.add(&skip)?.relu()
    }
    fn parameters(&self) -> Vec<Tensor> {
        self.parts()
            .iter()
            .flat_map(|(_, m)| m.parameters())
            .collect()
    }
    fn named_state(&self, prefix: &str, out: &mut Vec<(String, Tensor)>) {
        for (n, m) in self.parts() {
            m.named_state(&format!("{prefix}.{n}"), out);
        }
    }
    fn named_counters(&self, prefix: &str, out: &mut Vec<(String, Counter)>) {
        for (n, m) in self.parts() {
            m.named_counters(&format!("{prefix}.{n}"), out);
        }
    }
    fn set_training(&self, on: bool) {
        for (_, m) in self.parts() {
            m.set_training(on);
        }
    }
}

pub struct ResNet18 {
    conv1: Conv2d,
    bn1: BatchNorm2d,
    pool: MaxPool2d,
    blocks: Vec<(String, BasicBlock)>,
    bottleneck: Linear,
    fc: Linear,
}

pub const FEATURES: usize = 256;

impl ResNet18 {
    /// The three-band network.
    pub fn new(ctx: &Rc<Context>, rng: &mut Rng) -> Result<ResNet18> {
        ResNet18::with_bands(ctx, rng, 3)
    }

    /// The network for images of `bands` channels (its stem takes them).
    pub fn with_bands(ctx: &Rc<Context>, rng: &mut Rng, bands: usize) -> Result<ResNet18> {
        let mut blocks = Vec::new();
        let mut cin = 64;
        for (li, (cout, stride)) in [(64, 1), (128, 2), (256, 2), (512, 2)]
            .into_iter()
            .enumerate()
        {
            for bi in 0..2 {
                let s = if bi == 0 { stride } else { 1 };
                blocks.push((
                    format!("layer{}.{bi}", li + 1),
                    BasicBlock::new(ctx, rng, cin, cout, s)?,
                ));
                cin = cout;
            }
        }
        let head = |rng: &mut Rng, i: usize, o: usize, std: f32| -> Result<Linear> {
            Ok(Linear {
                weight: init::normal(ctx, rng, &[o, i], std)?.requires_grad_(),
                bias: Some(Tensor::zeros(ctx, &[o])?.requires_grad_()),
            })
        };
        Ok(ResNet18 {
            conv1: conv(ctx, rng, bands, 64, 7, 2)?,
            bn1: BatchNorm2d::new(ctx, 64)?,
            pool: MaxPool2d {
                kernel: (3, 3),
                stride: (2, 2),
                padding: (1, 1),
            },
            blocks,
            bottleneck: head(rng, 512, FEATURES, 0.005)?,
            fc: head(rng, FEATURES, 2, 0.01)?,
        })
    }

    fn parts(&self) -> Vec<(String, &dyn Module)> {
        let mut v: Vec<(String, &dyn Module)> =
            vec![("conv1".into(), &self.conv1), ("bn1".into(), &self.bn1)];
        for (n, b) in &self.blocks {
            v.push((n.clone(), b));
        }
        v.push(("bottleneck".into(), &self.bottleneck));
        v.push(("fc".into(), &self.fc));
        v
    }
}

impl Module for ResNet18 {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.run(x)?.logits)
    }
    fn parameters(&self) -> Vec<Tensor> {
        self.parts()
            .iter()
            .flat_map(|(_, m)| m.parameters())
            .collect()
    }
    fn named_state(&self, prefix: &str, out: &mut Vec<(String, Tensor)>) {
        for (n, m) in self.parts() {
            m.named_state(&join(prefix, &n), out);
        }
    }
    fn named_counters(&self, prefix: &str, out: &mut Vec<(String, Counter)>) {
        for (n, m) in self.parts() {
            m.named_counters(&join(prefix, &n), out);
        }
    }
    fn set_training(&self, on: bool) {
        for (_, m) in self.parts() {
            m.set_training(on);
        }
    }
}

impl Classifier for ResNet18 {
    fn run(&self, x: &Tensor) -> Result<Output> {
        let h = self.last_conv(x)?;
        let features = self.bottleneck.forward(&global_avg_pool2d(&h)?)?;
        let logits = self.fc.forward(&features)?;
        Ok(Output { features, logits })
    }
    fn last_conv(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = ReLU.forward(&self.bn1.forward(&self.conv1.forward(x)?)?)?;
        h = self.pool.forward(&h)?;
        for (_, b) in &self.blocks {
            h = b.forward(&h)?;
        }
        Ok(h)
    }
    fn logits_from_last_conv(&self, a: &Tensor) -> Result<Tensor> {
        self.fc
            .forward(&self.bottleneck.forward(&global_avg_pool2d(a)?)?)
    }
    fn module(&self) -> &dyn Module {
        self
    }
    fn feature_dim(&self) -> usize {
        FEATURES
    }
}
