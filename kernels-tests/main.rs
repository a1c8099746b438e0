//! Every kernel against a plain-Rust CPU reference, gradient checks by finite differences,
//! naga validation of every shader, and the end-to-end MLP training test.
//! Tolerances are stated per test.

mod common;

mod autograd;
mod batchnorm;
mod bn_relu_pool;
mod conv2d;
mod coral;
mod cross_entropy;
mod elementwise;
mod entropy;
mod fisher;
mod golden;
mod matmul;
mod mlp;
mod mmd;
mod naga;
mod nn;
mod optim;
mod pool;
mod random;
mod reduce;
mod runtime;
mod shape;
mod softmax;
