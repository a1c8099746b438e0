//! CORAL (Sun & Saenko 2016): ‖C_s − C_t‖²_F / (4d²) between the feature covariances of
//! the source and target batches, composed from tape ops.

use crate::error::{Error, Result};
use crate::tensor::Tensor;

fn covariance(x: &Tensor) -> Result<Tensor> {
    let n = x.shape()[0];
    let xc = x.sub(&x.mean_axis(0, true)?)?;
    xc.matmul_t(&xc, true, false)?
        .scale(1.0 / (n.max(2) - 1) as f32)
}

pub fn coral(source: &Tensor, target: &Tensor) -> Result<Tensor> {
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
    covariance(source)?
        .sub(&covariance(target)?)?
        .square()?
        .sum()?
        .scale(1.0 / (4.0 * d * d))
}
