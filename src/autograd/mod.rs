//! The tape: every op that produces a tensor needing a gradient attaches a `Node` naming
//! the op, its inputs and its gradient rule. `backward` walks the nodes in reverse
//! topological order, recording the gradient kernels into the same step encoder.

use crate::error::{Error, Result};
use crate::gpu::PooledBuffer;
use crate::tensor::{DType, Tensor};
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

/// Gradient rule: upstream gradient in, one optional gradient per input out.
pub type BackwardFn = Box<dyn Fn(&Tensor) -> Result<Vec<Option<Tensor>>>>;

pub struct Node {
    pub name: &'static str,
    pub inputs: Vec<Tensor>,
    pub backward: BackwardFn,
}

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Turns off recording until dropped (restores the previous state).
pub struct NoGradGuard(bool);

impl NoGradGuard {
    pub fn new() -> NoGradGuard {
        NoGradGuard(GRAD_ENABLED.with(|g| g.replace(false)))
    }
}

impl Default for NoGradGuard {
    fn default() -> Self {
        NoGradGuard::new()
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        let prev = self.0;
        GRAD_ENABLED.with(|g| g.set(prev));
    }
}

/// Runs `f` without recording a tape (inference, optimizer updates, gradient rules).
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _g = NoGradGuard::new();
    f()
}

/// Wraps an op's output storage as a tensor, attaching a tape node when any input needs a
/// gradient and recording is on.
pub(crate) fn make(
    storage: Rc<PooledBuffer>,
    shape: Vec<usize>,
    dtype: DType,
    name: &'static str,
    inputs: &[&Tensor],
    backward: impl Fn(&Tensor) -> Result<Vec<Option<Tensor>>> + 'static,
) -> Tensor {
    let needs =
        is_grad_enabled() && dtype == DType::F32 && inputs.iter().any(|t| t.requires_grad());
    let node = needs.then(|| {
        Rc::new(Node {
            name,
            inputs: inputs.iter().map(|&t| t.clone()).collect(),
            backward: Box::new(backward),
        })
    });
    Tensor::from_storage(storage, shape, dtype, node)
}

fn topo_order(root: &Tensor) -> Vec<Tensor> {
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    // Iterative post-order DFS: deep tapes must not overflow the stack.
    let mut stack: Vec<(Tensor, bool)> = vec![(root.clone(), false)];
    while let Some((t, expanded)) = stack.pop() {
        if expanded {
            order.push(t);
            continue;
        }
        if !seen.insert(t.id()) {
            continue;
        }
        stack.push((t.clone(), true));
        if let Some(node) = t.node() {
            for inp in &node.inputs {
                if inp.requires_grad() && !seen.contains(&inp.id()) {
                    stack.push((inp.clone(), false));
                }
            }
        }
    }
    order
}

/// Accumulates d(root)/d(leaf) into every leaf that requires a gradient. With no explicit
/// `grad`, the root must hold one element and its gradient is 1.
pub fn backward(root: &Tensor, grad: Option<&Tensor>) -> Result<()> {
    if !root.requires_grad() {
        return Err(Error::Invalid(
            "backward: the tensor does not require a gradient (no parameter reaches it)".into(),
        ));
    }
    let _guard = NoGradGuard::new();
    let seed = match grad {
        Some(g) => {
            if g.shape() != root.shape() {
                return Err(Error::Shape {
                    op: "backward",
                    detail: format!("gradient {:?} vs tensor {:?}", g.shape(), root.shape()),
                });
            }
            g.clone()
        }
        None => {
            if root.numel() != 1 {
                return Err(Error::Shape {
                    op: "backward",
                    detail: format!(
                        "implicit gradient needs a one-element tensor, got {:?}",
                        root.shape()
                    ),
                });
            }
            Tensor::ones(root.ctx(), root.shape())?
        }
    };
    let mut grads: HashMap<u64, Tensor> = HashMap::new();
    grads.insert(root.id(), seed);
    for t in topo_order(root).into_iter().rev() {
        let Some(g) = grads.remove(&t.id()) else {
            continue;
        };
        match t.node() {
            Some(node) => {
                let gs = (node.backward)(&g)?;
                debug_assert_eq!(
                    gs.len(),
                    node.inputs.len(),
                    "{}: one gradient per input",
                    node.name
                );
                for (inp, gi) in node.inputs.iter().zip(gs) {
                    let Some(gi) = gi else { continue };
                    if !inp.requires_grad() {
                        continue;
                    }
                    if gi.shape() != inp.shape() {
                        return Err(Error::Shape {
                            op: node.name,
                            detail: format!(
                                "gradient {:?} for input {:?}",
                                gi.shape(),
                                inp.shape()
                            ),
                        });
                    }
                    let acc = match grads.remove(&inp.id()) {
                        Some(prev) => prev.add(&gi)?,
                        None => gi,
                    };
                    grads.insert(inp.id(), acc);
                }
            }
            None => {
                let acc = match t.grad() {
                    Some(prev) => prev.add(&g)?,
                    None => g,
                };
                t.set_grad(Some(acc));
            }
        }
    }
    Ok(())
}
