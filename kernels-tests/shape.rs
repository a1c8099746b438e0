use crate::common::*;
use tidal::{GradReverse, Tensor};

#[test]
fn reshape_shares_data_and_checks_size() {
    let t = tensor(&data(1, 12), &[3, 4]);
    assert_eq!(
        t.reshape(&[2, 6]).unwrap().to_vec().unwrap(),
        t.to_vec().unwrap()
    );
    assert!(t.reshape(&[5]).is_err());
}

#[test]
fn transpose_matches_cpu_and_its_grad_checks() {
    let shape = [2usize, 3, 5];
    let x = data(2, 30);
    let t = tensor(&x, &shape).transpose(1, 2).unwrap();
    assert_eq!(t.shape(), &[2, 5, 3]);
    let got = t.to_vec().unwrap();
    for b in 0..2 {
        for i in 0..5 {
            for j in 0..3 {
                assert_eq!(got[b * 15 + i * 3 + j], x[b * 15 + j * 5 + i]);
            }
        }
    }
    let t0 = tensor(&x, &shape).transpose(0, 2).unwrap();
    assert_eq!(t0.shape(), &[5, 3, 2]);
    // out[i=1, j=2, b=1] = x[b=1, j=2, i=1]
    assert_eq!(t0.to_vec().unwrap()[6 + 2 * 2 + 1], x[15 + 2 * 5 + 1]);
    grad_check(
        &[(x, shape.to_vec())],
        |t| t[0].transpose(0, 2),
        1e-2,
        1e-2,
        1e-3,
        "transpose",
    );
}

#[test]
fn matrix_transpose_matches_cpu_on_both_kernels() {
    // R % 4 == 0 takes the four-wide kernel (the MMD's [256, 2592] features among them);
    // the others the general permute.
    for (r, c) in [(8, 13), (4, 1), (256, 2592), (6, 5), (1, 7)] {
        let x = data(7, r * c);
        let got = tensor(&x, &[r, c]).transpose(0, 1).unwrap();
        assert_eq!(got.shape(), &[c, r]);
        let got = got.to_vec().unwrap();
        for j in 0..c {
            for i in 0..r {
                assert_eq!(got[j * r + i], x[i * c + j], "[{r}, {c}] at ({i}, {j})");
            }
        }
    }
    grad_check(
        &[(data(8, 4 * 3), vec![4, 3])],
        |t| t[0].transpose(1, 0),
        1e-2,
        1e-2,
        1e-3,
        "transpose 2-D",
    );
}

#[test]
fn concat_and_slice_along_the_batch_axis() {
    let a = data(3, 2 * 3);
    let b = data(4, 5 * 3);
    let c = Tensor::concat(&[&tensor(&a, &[2, 3]), &tensor(&b, &[5, 3])]).unwrap();
    assert_eq!(c.shape(), &[7, 3]);
    let mut want = a.clone();
    want.extend(&b);
    assert_eq!(c.to_vec().unwrap(), want);
    let s = c.slice_rows(1, 4).unwrap();
    assert_eq!(s.shape(), &[3, 3]);
    assert_eq!(s.to_vec().unwrap(), want[3..12].to_vec());
    assert!(c.slice_rows(5, 8).is_err());
    assert!(Tensor::concat(&[&tensor(&a, &[2, 3]), &tensor(&a, &[3, 2])]).is_err());
    grad_check(
        &[(a.clone(), vec![2, 3]), (b.clone(), vec![5, 3])],
        |t| Tensor::concat(&[&t[0], &t[1]]),
        1e-2,
        1e-2,
        1e-3,
        "concat",
    );
    grad_check(
        &[(b, vec![5, 3])],
        |t| t[0].slice_rows(1, 4),
        1e-2,
        1e-2,
        1e-3,
        "slice",
    );
}

#[test]
fn gather_rows_matches_cpu_and_sums_repeated_indices_in_its_grad() {
    let x = data(5, 7 * 3);
    let idx = [6u32, 0, 6, 2, 2, 2];
    let it = Tensor::from_u32(&ctx(), &idx, &[6]).unwrap();
    let got = tensor(&x, &[7, 3])
        .gather_rows(&it)
        .unwrap()
        .to_vec()
        .unwrap();
    let want: Vec<f32> = idx
        .iter()
        .flat_map(|&i| x[i as usize * 3..i as usize * 3 + 3].to_vec())
        .collect();
    assert_eq!(got, want);
    grad_check(
        &[(x, vec![7, 3])],
        |t| t[0].gather_rows(&it),
        1e-2,
        1e-2,
        1e-3,
        "gather",
    );
}

#[test]
fn grad_reverse_is_identity_forward_and_minus_lambda_backward() {
    let grl = GradReverse::new(0.5);
    let x = param(&[1.0, -2.0, 3.0], &[3]);
    let y = grl.apply(&x).unwrap();
    assert_eq!(y.to_vec().unwrap(), vec![1.0, -2.0, 3.0]);
    y.sum().unwrap().backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec().unwrap(), vec![-0.5; 3]);
    // λ set for the next step is the one its backward uses.
    x.zero_grad();
    grl.set_lambda(2.0);
    grl.apply(&x)
        .unwrap()
        .scale(3.0)
        .unwrap()
        .sum()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(x.grad().unwrap().to_vec().unwrap(), vec![-6.0; 3]);
}

#[test]
fn one_hot_rows_from_labels() {
    let l = Tensor::from_u32(&ctx(), &[2, 0, 1, 2], &[4]).unwrap();
    assert_eq!(
        l.one_hot(3).unwrap().to_vec().unwrap(),
        vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    );
}
