//! Training losses. Each is one op on the tape with a fused forward and backward.

pub mod cross_entropy;

pub use cross_entropy::{binary_cross_entropy_with_logits, cross_entropy};
