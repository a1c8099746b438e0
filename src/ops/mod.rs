//! Ops: each file holds one family's forward dispatches and, next to each, its gradient
//! rule. Names match the shader entry points and the kernels-tests.

pub mod batchnorm;
pub mod bn_relu_pool;
pub mod conv2d;
pub mod elementwise;
pub mod grad_reverse;
pub mod matmul;
pub mod pool;
pub mod random;
pub mod reduce;
pub mod shape;
pub mod softmax;

pub use grad_reverse::{GradReverse, GrlSchedule};

use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};
use std::rc::Rc;

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
