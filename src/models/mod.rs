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
use crate::nn::Module;
use crate::tensor::Tensor;

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
