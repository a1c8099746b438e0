//! Losses: the domain-adaptation transfer losses (MMD, CORAL, Fisher, entropy) and the
//! classification losses.

pub mod coral;
pub mod fisher;
pub mod mmd;

pub use mmd::{mmd, Bandwidth, Estimator, MmdConfig};
