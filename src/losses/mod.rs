//! Losses: the classification losses (fused cross-entropy and binary cross-entropy) and
//! the domain-adaptation transfer losses (MMD, CORAL, Fisher).

pub mod coral;
pub mod cross_entropy;
pub mod entropy;
pub mod fisher;
pub mod mmd;

pub use cross_entropy::{binary_cross_entropy_with_logits, cross_entropy};
pub use entropy::{domain_loss, entropy};
pub use mmd::{mmd, Bandwidth, Estimator, MmdConfig};
