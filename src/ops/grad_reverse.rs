//! Gradient reversal (Ganin et al. 2016): identity forward, gradient times −λ backward.
//! λ lives in a shared cell so a trainer can change it every step without rebuilding
//! anything; the value read is the one current when `backward` runs.

use super::storage;
use crate::autograd::make;
use crate::error::Result;
use crate::tensor::Tensor;
use std::cell::Cell;
use std::rc::Rc;

#[derive(Debug, Clone)]
pub struct GradReverse {
    lambda: Rc<Cell<f32>>,
}

impl GradReverse {
    pub fn new(lambda: f32) -> GradReverse {
        GradReverse {
            lambda: Rc::new(Cell::new(lambda)),
        }
    }
    pub fn set_lambda(&self, lambda: f32) {
        self.lambda.set(lambda);
    }
    pub fn lambda(&self) -> f32 {
        self.lambda.get()
    }

    pub fn apply(&self, x: &Tensor) -> Result<Tensor> {
        let lambda = self.lambda.clone();
        Ok(make(
            storage(x),
            x.shape().to_vec(),
            x.dtype(),
            "grad_reverse",
            &[x],
            move |g| Ok(vec![Some(g.scale(-lambda.get())?)]),
        ))
    }
}
