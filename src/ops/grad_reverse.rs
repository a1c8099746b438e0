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

/// How λ of the gradient-reversal layer evolves over training.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum GrlSchedule {
    Constant(f32),
    /// Ganin et al.: λ_p = 2 / (1 + exp(−γ·p)) − 1, p = training progress in [0, 1].
    Ganin {
        gamma: f32,
    },
}

impl GrlSchedule {
    pub fn lambda(&self, progress: f32) -> f32 {
        match *self {
            GrlSchedule::Constant(l) => l,
            GrlSchedule::Ganin { gamma } => {
                let p = progress.clamp(0.0, 1.0) as f64;
                (2.0 / (1.0 + (-(gamma as f64) * p).exp()) - 1.0) as f32
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::GrlSchedule;

    #[test]
    fn ganin_schedule_rises_from_zero_towards_one() {
        let s = GrlSchedule::Ganin { gamma: 10.0 };
        assert_eq!(s.lambda(0.0), 0.0);
        assert!((s.lambda(1.0) - 0.999_909_2).abs() < 1e-6);
        assert!((s.lambda(0.1) - (2.0 / (1.0 + (-1.0f32).exp()) - 1.0)).abs() < 1e-6);
        assert_eq!(GrlSchedule::Constant(0.3).lambda(0.7), 0.3);
    }
}
