//! Ops: each file holds one family's forward dispatches and, next to each, its gradient
//! rule. Names match the shader entry points and the kernels-tests.

pub mod batchnorm;
pub mod conv;
pub mod dropout;
pub mod elementwise;
pub mod grad_reverse;
pub mod matmul;
pub mod pool;
pub mod reduce;
pub mod shape;
pub mod softmax;

pub use grad_reverse::{GradReverse, GrlSchedule};

use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};
use std::rc::Rc;

/// Little-endian parameter block matching a WGSL uniform struct: 4-byte scalars, with
/// `align16` before `array<vec4<u32>, N>` members.
#[derive(Default, Clone)]
pub struct Params(Vec<u8>);

impl Params {
    pub fn new() -> Params {
        Params(Vec::with_capacity(64))
    }
    pub fn u32(mut self, v: u32) -> Params {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn f32(mut self, v: f32) -> Params {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn align16(mut self) -> Params {
        while !self.0.len().is_multiple_of(16) {
            self.0.push(0);
        }
        self
    }
    /// Eight u32 slots as `array<vec4<u32>, 2>` (unused slots zero).
    pub fn u32x8(mut self, vals: &[usize]) -> Params {
        assert!(vals.len() <= 8);
        self = self.align16();
        for i in 0..8 {
            self = self.u32(vals.get(i).copied().unwrap_or(0) as u32);
        }
        self
    }
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A fresh output tensor's storage on `like`'s context.
pub(crate) fn alloc_like(like: &Tensor, shape: &[usize], dtype: DType) -> Result<Tensor> {
    Tensor::empty(like.ctx(), shape, dtype)
}

/// Takes the storage out of a freshly made tensor so `autograd::make` can wrap it.
pub(crate) fn storage(t: &Tensor) -> Rc<crate::gpu::PooledBuffer> {
    t.0.storage.clone()
}

pub(crate) fn same_ctx(op: &'static str, a: &Tensor, b: &Tensor) -> Result<()> {
    if !Rc::ptr_eq(a.ctx(), b.ctx()) {
        return Err(Error::Invalid(format!(
            "{op}: tensors live on different devices"
        )));
    }
    Ok(())
}
