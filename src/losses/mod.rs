//! Losses: the classification losses (fused cross-entropy and binary cross-entropy, and
//! DANN's domain loss on the latter), entropy minimisation, and the domain-adaptation
//! transfer losses (MMD, CORAL, Fisher).

pub mod coral;
pub mod cross_entropy;
pub mod entropy;
pub mod fisher;
pub mod mmd;

pub use coral::{coral, CoralForm};
pub use cross_entropy::{
    binary_cross_entropy_with_logits, cross_entropy, cross_entropy_per_sample, domain_loss,
};
pub use entropy::{entropy, EntropyForm};
pub use fisher::{FisherConfig, FisherForm, FisherNorm};
pub use mmd::{mmd, mmd_joint, Bandwidth, Estimator, MmdConfig};
