//! Every kernel against a plain-Rust CPU reference, gradient checks by finite differences,
//! naga validation of every shader, and the end-to-end MLP training test.
//! Tolerances are stated per test.

mod common;

mod autograd;
mod batchnorm;
mod conv;
mod dropout;
mod elementwise;
mod golden;
mod losses;
mod matmul;
mod mlp;
mod naga;
mod nn;
mod optim;
mod pool;
mod random;
mod reduce;
mod runtime;
mod shape;
mod softmax;
mod transfer;
