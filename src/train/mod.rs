//! Training: metrics now; the trainer, DA methods, checkpoints and the run directory build
//! on them.

pub mod metrics;
