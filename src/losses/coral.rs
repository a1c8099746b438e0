//! CORAL (Sun & Saenko 2016): ‖C_s − C_t‖²_F / (4d²) between the feature covariances of
//! the source and target batches (Deep CORAL), or the reference code's mean over the d²
//! entries, ‖C_s − C_t‖²_F / d²; composed from tape ops. Covariances use 1/(n − 1).

use crate::error::{Error, Result};
use crate::tensor::Tensor;

fn covariance(x: &Tensor) -> Result<Tensor> {
    let n = x.shape()[0];
    let xc = x.sub(&x.mean_axis(0, true)?)?;
    xc.matmul_t(&xc, true, false)?
        .scale(1.0 / (n.max(2) - 1) as f32)
}

/// Which normalisation of the squared covariance difference.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CoralForm {
    /// Deep CORAL: ‖C_s − C_t‖²_F / (4d²).
    #[default]
    DeepCoral,
    /// The reference code: the mean over the d×d entries, ‖C_s − C_t‖²_F / d².
    Published,
}

pub fn coral(source: &Tensor, target: &Tensor, form: CoralForm) -> Result<Tensor> {
    if source.dims() != 2 || target.dims() != 2 || source.shape()[1] != target.shape()[1] {
        return Err(Error::Shape {
            op: "coral",
            detail: format!(
                "needs [n, d] and [m, d], got {:?} and {:?}",
                source.shape(),
                target.shape()
            ),
        });
    }
    let d = source.shape()[1] as f32;
    let div = match form {
        CoralForm::DeepCoral => 4.0 * d * d,
        CoralForm::Published => d * d,
    };
    covariance(source)?
        .sub(&covariance(target)?)?
        .square()?
        .sum()?
        .scale(1.0 / div)
}
