use crate::common::*;

fn cpu_reduce(x: &[f32], shape: &[usize], axis: usize, f: fn(&[f32]) -> f32) -> Vec<f32> {
    let outer: usize = shape[..axis].iter().product();
    let len = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let mut out = Vec::new();
    for o in 0..outer {
        for i in 0..inner {
            let v: Vec<f32> = (0..len)
                .map(|k| x[o * len * inner + k * inner + i])
                .collect();
            out.push(f(&v));
        }
    }
    out
}

fn sum(v: &[f32]) -> f32 {
    v.iter().map(|&x| x as f64).sum::<f64>() as f32
}
fn mean(v: &[f32]) -> f32 {
    sum(v) / v.len() as f32
}
fn max(v: &[f32]) -> f32 {
    v.iter().cloned().fold(f32::NEG_INFINITY, f32::max)
}

#[test]
fn axis_reductions_match_cpu_on_odd_shapes() {
    // [3, 5, 7] every axis, and a long axis (1031 > 512) that takes the workgroup path.
    for shape in [vec![3usize, 5, 7], vec![2, 1031, 3], vec![1, 1, 1]] {
        let x = data(11, numel(&shape));
        let t = tensor(&x, &shape);
        for axis in 0..shape.len() {
            let s = t.sum_axis(axis, false).unwrap().to_vec().unwrap();
            assert_close(
                &s,
                &cpu_reduce(&x, &shape, axis, sum),
                1e-5,
                1e-5,
                &format!("sum {shape:?} axis {axis}"),
            );
            let m = t.mean_axis(axis, true).unwrap();
            let mut ks = shape.clone();
            ks[axis] = 1;
            assert_eq!(m.shape(), ks.as_slice());
            assert_close(
                &m.to_vec().unwrap(),
                &cpu_reduce(&x, &shape, axis, mean),
                1e-5,
                1e-6,
                "mean",
            );
            let mx = t.max_axis(axis, false).unwrap().to_vec().unwrap();
            assert_eq!(
                mx,
                cpu_reduce(&x, &shape, axis, max),
                "max {shape:?} axis {axis}"
            );
        }
    }
}

#[test]
fn long_axes_with_many_outputs_match_cpu_with_flip_on_and_off() {
    // Long axes (> 512) with at least 256 outputs: one lane per output under `+rows+flip`
    // on the subgroup variant, the workgroup tree otherwise (and on other adapters). The
    // shapes of the conv bias gradients: [N, O, OH*OW] summed over the pixels.
    use tidal::gpu::set_flip;
    let ctx = ctx();
    for (i, shape) in [vec![300usize, 1031], vec![4, 67, 700]]
        .into_iter()
        .enumerate()
    {
        let n: usize = shape.iter().product();
        let x = data(70 + i as u64, n);
        let axis = shape.len() - 1;
        let want = cpu_reduce(&x, &shape, axis, sum);
        for flip in [true, false] {
            set_flip(&ctx, flip);
            let got = tensor(&x, &shape)
                .sum_axis(axis, false)
                .unwrap()
                .to_vec()
                .unwrap();
            assert_close(&got, &want, 1e-5, 1e-4, &format!("{shape:?} flip={flip}"));
        }
    }
    set_flip(&ctx, true);
}

#[test]
fn full_reductions_over_one_to_a_hundred_thousand_elements() {
    for n in [1usize, 1000, 100_003] {
        let x = data(n as u64, n);
        let t = tensor(&x, &[n]);
        assert_close(
            &[t.sum().unwrap().item().unwrap()],
            &[sum(&x)],
            1e-5,
            1e-3,
            &format!("sum {n}"),
        );
        assert_close(
            &[t.mean().unwrap().item().unwrap()],
            &[mean(&x)],
            1e-5,
            1e-6,
            &format!("mean {n}"),
        );
        assert_eq!(t.max().unwrap().item().unwrap(), max(&x), "max {n}");
    }
}

#[test]
fn reductions_are_bit_identical_across_runs() {
    let x = data(5, 100_003);
    let a = tensor(&x, &[100_003]).sum().unwrap().item().unwrap();
    let b = tensor(&x, &[100_003]).sum().unwrap().item().unwrap();
    assert_eq!(a.to_bits(), b.to_bits());
}

#[test]
fn argmax_picks_the_first_maximum() {
    let x = [1.0, 3.0, 3.0, -1.0, 0.0, 2.0, 7.0, 7.0, 7.0];
    let t = tensor(&x, &[3, 3]);
    assert_eq!(
        t.argmax_axis(1).unwrap().to_vec_u32().unwrap(),
        vec![1, 2, 0]
    );
    assert_eq!(
        t.argmax_axis(0).unwrap().to_vec_u32().unwrap(),
        vec![2, 2, 2]
    );
}

#[test]
fn reduction_grads_match_finite_differences() {
    let shape = vec![3usize, 4, 5];
    let x = data(21, numel(&shape));
    for axis in 0..3 {
        let ins = [(x.clone(), shape.clone())];
        grad_check(
            &ins,
            |t| t[0].sum_axis(axis, false),
            1e-2,
            1e-2,
            1e-3,
            "sum",
        );
        grad_check(
            &ins,
            |t| t[0].mean_axis(axis, true),
            1e-2,
            1e-2,
            1e-3,
            "mean",
        );
        // Random data has distinct values; eps far below their gaps keeps max differentiable.
        grad_check(
            &ins,
            |t| t[0].max_axis(axis, false),
            1e-3,
            2e-2,
            2e-3,
            "max",
        );
    }
    grad_check(&[(x, shape)], |t| t[0].sum(), 1e-2, 1e-2, 1e-3, "sum all");
}

#[test]
fn axis_out_of_range_is_an_error() {
    let e = tensor(&[1.0; 6], &[2, 3]).sum_axis(2, false).unwrap_err();
    assert!(e.to_string().contains("axis 2 out of range"), "{e}");
}
