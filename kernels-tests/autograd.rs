use crate::common::*;
use tidal::{no_grad, Tensor};

#[test]
fn a_tensor_used_twice_accumulates_both_paths() {
    // y = x*x + 3x: dy/dx = 2x + 3
    let x = param(&[1.0, -2.0, 0.5], &[3]);
    let y = x.mul(&x).unwrap().add(&x.scale(3.0).unwrap()).unwrap();
    y.sum().unwrap().backward().unwrap();
    assert_close(
        &x.grad().unwrap().to_vec().unwrap(),
        &[5.0, -1.0, 4.0],
        1e-6,
        0.0,
        "grad",
    );
}

#[test]
fn backward_twice_accumulates_into_leaf_grads_until_zeroed() {
    let x = param(&[2.0], &[1]);
    for _ in 0..2 {
        x.scale(3.0).unwrap().sum().unwrap().backward().unwrap();
    }
    assert_eq!(x.grad().unwrap().to_vec().unwrap(), vec![6.0]);
    x.zero_grad();
    assert!(x.grad().is_none());
}

#[test]
fn no_grad_records_nothing_and_detach_cuts_the_tape() {
    let x = param(&[1.0, 2.0], &[2]);
    let y = no_grad(|| x.exp().unwrap());
    assert!(!y.requires_grad());
    let z = x.detach().exp().unwrap();
    assert!(!z.requires_grad());
    // Gradient flows only through the attached path: d/dx [x * detach(x)] = detach(x).
    let w = x.mul(&x.detach()).unwrap().sum().unwrap();
    w.backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec().unwrap(), vec![1.0, 2.0]);
}

#[test]
fn backward_on_a_tensor_without_parameters_is_an_error() {
    let t = tensor(&[1.0], &[1]);
    assert!(t.backward().is_err());
    let p = param(&[1.0, 2.0], &[2]);
    let e = p.exp().unwrap().backward().unwrap_err();
    assert!(e.to_string().contains("one-element"), "{e}");
}

#[test]
fn deep_chains_do_not_overflow_the_stack() {
    let x = param(&[1.0], &[1]);
    let mut y = x.clone();
    for _ in 0..5000 {
        y = y.add_scalar(0.0).unwrap();
    }
    y.sum().unwrap().backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec().unwrap(), vec![1.0]);
}

#[test]
fn composite_expression_grad_matches_finite_differences() {
    // softplus-like chain through several ops with broadcasting and a matmul.
    let ins = [
        (data(1, 12), vec![3, 4]),
        (data(2, 4 * 2), vec![4, 2]),
        (data(3, 2), vec![2]),
    ];
    grad_check(
        &ins,
        |t| {
            let h = t[0].matmul(&t[1])?.add(&t[2])?;
            h.tanh()?
                .mul(&h.sigmoid()?)?
                .exp()?
                .log()?
                .sum_axis(1, true)
        },
        1e-2,
        2e-2,
        2e-3,
        "composite",
    );
    let _ = Tensor::zeros(&ctx(), &[1]);
}
