//! Tensor: a shape, an element type, a pooled GPU buffer and (when it was made by an op
//! that needs a gradient) a link to the tape node that made it.

pub mod create;

use crate::autograd::{self, Node};
use crate::error::{Error, Result};
use crate::gpu::{Context, PooledBuffer};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F32,
    U32,
}

impl DType {
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::U32 => "u32",
        }
    }
}

pub(crate) struct Inner {
    pub id: u64,
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub storage: Rc<PooledBuffer>,
    pub node: Option<Rc<Node>>,
    pub requires_grad: Cell<bool>,
    pub grad: RefCell<Option<Tensor>>,
}

/// A GPU tensor. Cloning is cheap (shared handle); ops return new tensors.
#[derive(Clone)]
pub struct Tensor(pub(crate) Rc<Inner>);

thread_local! {
    static NEXT_ID: Cell<u64> = const { Cell::new(1) };
}

fn next_id() -> u64 {
    NEXT_ID.with(|c| {
        let v = c.get();
        c.set(v + 1);
        v
    })
}

pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

impl Tensor {
    pub(crate) fn from_storage(
        storage: Rc<PooledBuffer>,
        shape: Vec<usize>,
        dtype: DType,
        node: Option<Rc<Node>>,
    ) -> Tensor {
        let requires_grad = node.is_some();
        Tensor(Rc::new(Inner {
            id: next_id(),
            shape,
            dtype,
            storage,
            node,
            requires_grad: Cell::new(requires_grad),
            grad: RefCell::new(None),
        }))
    }

    /// An uninitialised tensor whose buffer comes from the pool (kernels fill it).
    pub fn empty(ctx: &Rc<Context>, shape: &[usize], dtype: DType) -> Result<Tensor> {
        let bytes = (numel(shape) * 4) as u64;
        let buf = ctx.alloc(bytes)?;
        Ok(Tensor::from_storage(
            Rc::new(buf),
            shape.to_vec(),
            dtype,
            None,
        ))
    }

    pub fn id(&self) -> u64 {
        self.0.id
    }
    pub fn shape(&self) -> &[usize] {
        &self.0.shape
    }
    pub fn dims(&self) -> usize {
        self.0.shape.len()
    }
    pub fn numel(&self) -> usize {
        numel(&self.0.shape)
    }
    pub fn dtype(&self) -> DType {
        self.0.dtype
    }
    pub fn ctx(&self) -> &Rc<Context> {
        self.0.storage.ctx()
    }
    pub fn buffer(&self) -> &wgpu::Buffer {
        self.0.storage.buffer()
    }
    pub fn bytes(&self) -> u64 {
        (self.numel() * 4) as u64
    }
    pub(crate) fn node(&self) -> Option<&Rc<Node>> {
        self.0.node.as_ref()
    }

    /// Whether gradients flow to (or through) this tensor.
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad.get()
    }

    /// Marks a leaf tensor as a parameter whose gradient `backward` accumulates.
    pub fn set_requires_grad(&self, on: bool) -> &Tensor {
        assert!(
            self.0.node.is_none() || on,
            "cannot turn off gradients of a non-leaf tensor; use detach()"
        );
        self.0.requires_grad.set(on);
        self
    }

    /// Builder form of `set_requires_grad(true)`.
    pub fn requires_grad_(self) -> Tensor {
        self.set_requires_grad(true);
        self
    }

    /// The accumulated gradient of a leaf, if `backward` reached it.
    pub fn grad(&self) -> Option<Tensor> {
        self.0.grad.borrow().clone()
    }
    pub fn set_grad(&self, g: Option<Tensor>) {
        *self.0.grad.borrow_mut() = g;
    }
    /// Drops the accumulated gradient (PyTorch's `zero_grad(set_to_none=True)`).
    pub fn zero_grad(&self) {
        self.set_grad(None);
    }

    /// The same data, cut from the tape: no gradient flows through the result.
    pub fn detach(&self) -> Tensor {
        Tensor::from_storage(
            self.0.storage.clone(),
            self.0.shape.clone(),
            self.0.dtype,
            None,
        )
    }

    /// Reads the tensor back as f32 (submits pending work and waits).
    pub fn to_vec(&self) -> Result<Vec<f32>> {
        self.expect_dtype("to_vec", DType::F32)?;
        let bytes = self.ctx().read_many(&[(self.buffer(), self.bytes())])?;
        Ok(bytemuck::cast_slice(&bytes[0]).to_vec())
    }

    pub fn to_vec_u32(&self) -> Result<Vec<u32>> {
        self.expect_dtype("to_vec_u32", DType::U32)?;
        let bytes = self.ctx().read_many(&[(self.buffer(), self.bytes())])?;
        Ok(bytemuck::cast_slice(&bytes[0]).to_vec())
    }

    /// The single value of a one-element tensor.
    pub fn item(&self) -> Result<f32> {
        if self.numel() != 1 {
            return Err(Error::Shape {
                op: "item",
                detail: format!("needs one element, tensor has shape {:?}", self.shape()),
            });
        }
        Ok(self.to_vec()?[0])
    }

    /// Reads many f32 tensors with one submission and one map.
    pub fn read_all(tensors: &[&Tensor]) -> Result<Vec<Vec<f32>>> {
        let Some(first) = tensors.first() else {
            return Ok(Vec::new());
        };
        let parts: Vec<_> = tensors.iter().map(|t| (t.buffer(), t.bytes())).collect();
        let raw = first.ctx().read_many(&parts)?;
        Ok(raw
            .iter()
            .map(|b| bytemuck::cast_slice(b).to_vec())
            .collect())
    }

    pub(crate) fn expect_dtype(&self, op: &'static str, dt: DType) -> Result<()> {
        if self.dtype() != dt {
            return Err(Error::DType {
                op,
                expected: dt.name(),
                got: self.dtype().name(),
            });
        }
        Ok(())
    }

    /// Runs backward from this (scalar) tensor; see `autograd::backward`.
    pub fn backward(&self) -> Result<()> {
        autograd::backward(self, None)
    }

    /// Runs backward with an explicit upstream gradient of this tensor's shape.
    pub fn backward_with(&self, grad: &Tensor) -> Result<()> {
        autograd::backward(self, Some(grad))
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Tensor(id={}, shape={:?}, dtype={}, requires_grad={})",
            self.id(),
            self.shape(),
            self.dtype().name(),
            self.requires_grad()
        )
    }
}
