//! The model zoo: the DeepMerge CNN, ResNet18 with a bottleneck, and the DANN domain
//! discriminator. Each classifier returns the feature tensor the transfer losses act on
//! together with its logits.

pub mod deepmerge;
pub mod discriminator;
pub mod resnet18;

pub use deepmerge::DeepMerge;
pub use discriminator::Discriminator;
pub use resnet18::ResNet18;

use crate::error::Result;
use crate::gpu::Context;
use crate::nn::Module;
use crate::ops::random::Rng;
use crate::tensor::Tensor;
use std::rc::Rc;

/// Output of a classifier: transfer-loss features and class logits [B, 2].
pub struct Output {
    pub features: Tensor,
    pub logits: Tensor,
}

/// A classifier the trainer can drive.
pub trait Classifier {
    fn run(&self, x: &Tensor) -> Result<Output>;
    /// The network as a module (parameters, named state, train/eval mode).
    fn module(&self) -> &dyn Module;
    /// Width of the feature tensor the transfer losses act on.
    fn feature_dim(&self) -> usize;
    /// The activations of the last convolution block, [N, C, H', W'] (Grad-CAM's maps).
    fn last_conv(&self, x: &Tensor) -> Result<Tensor>;
    /// The logits computed from `last_conv`'s output: `run(x).logits` in two halves.
    fn logits_from_last_conv(&self, a: &Tensor) -> Result<Tensor>;
}

/// The classifiers of the zoo, as configs and checkpoints name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    DeepMerge,
    ResNet18,
}

impl std::str::FromStr for ModelKind {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<ModelKind> {
        match s.to_ascii_lowercase().as_str() {
            "deepmerge" => Ok(ModelKind::DeepMerge),
            "resnet18" => Ok(ModelKind::ResNet18),
            other => Err(crate::Error::config(
                "model",
                format!("unknown model '{other}' (expected deepmerge or resnet18)"),
            )),
        }
    }
}

/// A freshly initialised classifier of `kind` for images of `bands` channels.
pub fn build(
    kind: ModelKind,
    bands: usize,
    ctx: &Rc<Context>,
    rng: &mut Rng,
) -> Result<Box<dyn Classifier>> {
    Ok(match kind {
        ModelKind::DeepMerge => Box::new(DeepMerge::with_bands(ctx, rng, bands)?),
        ModelKind::ResNet18 => Box::new(ResNet18::with_bands(ctx, rng, bands)?),
    })
}
