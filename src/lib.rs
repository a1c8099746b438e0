//! tidal: a deep-learning engine on wgpu with hand-written WGSL kernels, a tape-based
//! autodiff, and (built on them) domain-adaptation training for galaxy-merger classifiers.
//!
//! ```no_run
//! use tidal::{Context, Tensor};
//! let ctx = Context::from_env()?;
//! let w = Tensor::from_slice(&ctx, &[1.0, 2.0, 3.0, 4.0], &[2, 2])?.requires_grad_();
//! let x = Tensor::from_slice(&ctx, &[0.5, -1.0], &[1, 2])?;
//! let loss = x.matmul(&w)?.relu()?.sum()?;
//! loss.backward()?;
//! println!("{:?}", w.grad().unwrap().to_vec()?);
//! # Ok::<(), tidal::Error>(())
//! ```

// --- engine: never imports the application modules below ---
pub mod autograd;
pub mod error;
pub mod gpu;
pub mod losses;
pub mod models;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod shaders;
pub mod tensor;

// --- application, layered bottom to top: atomic (file writing) → data → report → train →
// bench, predict, sweep (compare lives in sweep); demo uses the engine only ---
pub mod atomic;
pub mod bench;
pub mod data;
pub mod demo;
pub mod host;
pub mod predict;
pub mod report;
pub mod sweep;
pub mod train;
pub mod tune;

pub use autograd::{no_grad, NoGradGuard};
pub use error::{Error, Result};
pub use gpu::{AdapterChoice, Context};
pub use ops::random::Rng;
pub use ops::GradReverse;
pub use tensor::{DType, Tensor};
