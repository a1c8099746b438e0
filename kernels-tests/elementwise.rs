use crate::common::*;
use tidal::ops::elementwise::Unary;
use tidal::Tensor;

fn cpu_unary(op: Unary, x: f32, p0: f32, p1: f32) -> f32 {
    match op {
        Unary::Exp => x.exp(),
        Unary::Log => x.ln(),
        Unary::Sqrt => x.sqrt(),
        Unary::Square => x * x,
        Unary::Relu => x.max(0.0),
        Unary::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        Unary::Tanh => x.tanh(),
        Unary::Neg => -x,
        Unary::Pow => x.powf(p0),
        Unary::Clamp => x.clamp(p0, p1),
        Unary::Scale => x * p0,
        Unary::AddScalar => x + p0,
        Unary::AtLeast => f32::from(x >= p0),
    }
}

const ALL: [(Unary, f32, f32); 13] = [
    (Unary::Exp, 0.0, 0.0),
    (Unary::Log, 0.0, 0.0),
    (Unary::Sqrt, 0.0, 0.0),
    (Unary::Square, 0.0, 0.0),
    (Unary::Relu, 0.0, 0.0),
    (Unary::Sigmoid, 0.0, 0.0),
    (Unary::Tanh, 0.0, 0.0),
    (Unary::Neg, 0.0, 0.0),
    (Unary::Pow, 2.5, 0.0),
    (Unary::Clamp, -0.3, 0.4),
    (Unary::Scale, -1.7, 0.0),
    (Unary::AddScalar, 0.25, 0.0),
    (Unary::AtLeast, 0.1, 0.0),
];

/// log, sqrt and fractional pow need positive inputs.
fn input(op: Unary, n: usize, seed: u64) -> Vec<f32> {
    let d = data(seed, n);
    match op {
        Unary::Log | Unary::Sqrt | Unary::Pow => d.iter().map(|x| x.abs() + 0.2).collect(),
        Unary::Sigmoid | Unary::Exp => d.iter().map(|x| x * 8.0).collect(),
        _ => d,
    }
}

#[test]
fn unary_ops_match_cpu_on_odd_sizes() {
    // 1, a prime, and a size past one workgroup that is no multiple of 256 (scalar kernel);
    // multiples of 4, one of them past a workgroup of vec4 lanes (unary4).
    for n in [1usize, 7, 1031, 12, 1028] {
        for &(op, p0, p1) in &ALL {
            let x = input(op, n, n as u64);
            let got = tensor(&x, &[n])
                .unary(op, p0, p1)
                .unwrap()
                .to_vec()
                .unwrap();
            let want: Vec<f32> = x.iter().map(|&v| cpu_unary(op, v, p0, p1)).collect();
            // Transcendentals on GPUs are within a few ulp: 2e-6 relative.
            assert_close(&got, &want, 2e-6, 1e-6, &format!("{} n={n}", op.name()));
        }
    }
}

#[test]
fn pow_with_integer_exponent_accepts_negative_base() {
    let got = tensor(&[-2.0, -0.5, 3.0], &[3])
        .pow(3.0)
        .unwrap()
        .to_vec()
        .unwrap();
    assert_close(&got, &[-8.0, -0.125, 27.0], 1e-6, 0.0, "pow3");
}

#[test]
fn sigmoid_is_finite_at_extremes() {
    let got = tensor(&[-100.0, 100.0, 0.0], &[3])
        .sigmoid()
        .unwrap()
        .to_vec()
        .unwrap();
    // exp(-100) is subnormal in f32; adapters may flush it to zero.
    assert!(got[0] >= 0.0 && got[0] < 1e-38, "{}", got[0]);
    assert_eq!(&got[1..], &[1.0, 0.5]);
}

#[test]
fn unary_grads_match_finite_differences() {
    // n = 11 takes the scalar backward kernel, n = 12 the vec4 one.
    for (&(op, p0, p1), n) in ALL.iter().flat_map(|c| [(c, 11usize), (c, 12)]) {
        // Keep clamp/relu inputs away from their kinks, where differences are undefined.
        let mut x = input(op, n, 5);
        if matches!(op, Unary::Relu | Unary::Clamp | Unary::AtLeast) {
            for v in x.iter_mut() {
                if (*v - p0).abs() < 0.05 || (*v - p1).abs() < 0.05 || v.abs() < 0.05 {
                    *v += 0.11;
                }
            }
        }
        if op == Unary::Exp || op == Unary::Sigmoid {
            x.iter_mut().for_each(|v| *v *= 0.25);
        }
        grad_check(
            &[(x, vec![n])],
            |t| t[0].unary(op, p0, p1),
            1e-2,
            2e-2,
            2e-3,
            op.name(),
        );
    }
}

type BinaryFn = fn(&Tensor, &Tensor) -> tidal::Result<Tensor>;
type BinaryCase = (&'static str, BinaryFn, fn(f32, f32) -> f32);

fn cpu_broadcast(
    a: &[f32],
    sa: &[usize],
    b: &[f32],
    sb: &[usize],
    f: impl Fn(f32, f32) -> f32,
) -> (Vec<f32>, Vec<usize>) {
    let nd = sa.len().max(sb.len());
    let pad = |s: &[usize]| {
        let mut v = vec![1; nd - s.len()];
        v.extend_from_slice(s);
        v
    };
    let (pa, pb) = (pad(sa), pad(sb));
    let out: Vec<usize> = (0..nd).map(|i| pa[i].max(pb[i])).collect();
    let n = numel(&out);
    let mut res = vec![0.0; n];
    for (e, r) in res.iter_mut().enumerate() {
        let mut rem = e;
        let (mut ia, mut ib) = (0, 0);
        let (mut sta, mut stb) = (1, 1);
        for d in (0..nd).rev() {
            let c = rem % out[d];
            rem /= out[d];
            if pa[d] > 1 {
                ia += c * sta;
            }
            if pb[d] > 1 {
                ib += c * stb;
            }
            sta *= pa[d];
            stb *= pb[d];
        }
        *r = f(a[ia], b[ib]);
    }
    (res, out)
}

const SHAPES: [(&[usize], &[usize]); 6] = [
    (&[1031], &[1031]),
    (&[3, 1, 5], &[4, 1]),
    (&[2, 3], &[3]),
    (&[1], &[5, 7]),
    (&[7, 1, 3, 1], &[1, 5, 1, 2]),
    (&[1, 2, 1, 3, 1, 1, 1, 1, 5], &[3, 1, 5]),
];

// Shapes that take the four-wide kernels: same shape with n % 4 == 0 (binary_same4), and
// two-dimensional broadcasts with whole quads per row (binary_rows4): column vector, row
// vector, scalar, both operands broadcast, and the MMD backward's [256, 2592] by its row
// sums and by the upstream scalar. Rows past 65535 fall back to the general kernel.
const QUAD_SHAPES: [(&[usize], &[usize]); 9] = [
    (&[1032], &[1032]),
    (&[6, 12], &[6, 1]),
    (&[12], &[6, 12]),
    (&[1, 12], &[6, 1]),
    (&[2, 16, 4], &[1]),
    (&[1], &[3, 8]),
    (&[256, 2592], &[256, 1]),
    (&[256, 2592], &[1, 1]),
    (&[70000, 4], &[70000, 1]),
];

#[test]
fn binary_ops_broadcast_like_numpy() {
    let ops: [BinaryCase; 4] = [
        ("add", |a, b| a.add(b), |x, y| x + y),
        ("sub", |a, b| a.sub(b), |x, y| x - y),
        ("mul", |a, b| a.mul(b), |x, y| x * y),
        ("div", |a, b| a.div(b), |x, y| x / y),
    ];
    for (sa, sb) in SHAPES.into_iter().chain(QUAD_SHAPES) {
        let a = data(1, numel(sa));
        let b: Vec<f32> = data(2, numel(sb)).iter().map(|v| v + 2.0).collect();
        for (name, op, f) in &ops {
            let (want, shape) = cpu_broadcast(&a, sa, &b, sb, f);
            let got = op(&tensor(&a, sa), &tensor(&b, sb)).unwrap();
            assert_eq!(got.shape(), shape.as_slice(), "{name} {sa:?} {sb:?}");
            assert_close(
                &got.to_vec().unwrap(),
                &want,
                1e-6,
                0.0,
                &format!("{name} {sa:?} {sb:?}"),
            );
        }
    }
}

#[test]
fn binary_grads_reduce_over_broadcast_dims() {
    for (sa, sb) in SHAPES[1..5].iter().chain(&QUAD_SHAPES[1..6]) {
        let a = data(3, numel(sa));
        let b: Vec<f32> = data(4, numel(sb)).iter().map(|v| v + 2.0).collect();
        let ins = [(a, sa.to_vec()), (b, sb.to_vec())];
        grad_check(&ins, |t| t[0].add(&t[1]), 1e-2, 1e-2, 1e-3, "add");
        grad_check(&ins, |t| t[0].sub(&t[1]), 1e-2, 1e-2, 1e-3, "sub");
        grad_check(&ins, |t| t[0].mul(&t[1]), 1e-2, 1e-2, 1e-3, "mul");
        grad_check(&ins, |t| t[0].div(&t[1]), 1e-2, 2e-2, 2e-3, "div");
    }
}

#[test]
fn broadcast_shape_mismatch_is_a_clear_error() {
    let e = tensor(&[1.0; 6], &[2, 3])
        .add(&tensor(&[1.0; 2], &[2]))
        .unwrap_err();
    assert!(
        e.to_string().contains("cannot broadcast [2, 3] with [2]"),
        "{e}"
    );
}

#[test]
fn fill_zeros_ones_full() {
    let c = ctx();
    assert_eq!(
        Tensor::zeros(&c, &[3, 3]).unwrap().to_vec().unwrap(),
        vec![0.0; 9]
    );
    assert_eq!(
        Tensor::ones(&c, &[257]).unwrap().to_vec().unwrap(),
        vec![1.0; 257]
    );
    assert_eq!(
        Tensor::full(&c, &[2], -3.5).unwrap().to_vec().unwrap(),
        vec![-3.5; 2]
    );
}

#[test]
fn broadcast_to_copies_like_numpy() {
    // The general kernel (three dimensions, odd rows) and the four-wide one (column, row,
    // scalar).
    let cases: [(&[usize], &[usize]); 5] = [
        (&[3, 1, 5], &[2, 3, 4, 5]),
        (&[6, 1], &[6, 12]),
        (&[12], &[6, 12]),
        (&[1], &[2, 16, 4]),
        (&[5, 1], &[5, 7]),
    ];
    for (from, to) in cases {
        let a = data(5, numel(from));
        let (want, shape) = cpu_broadcast(&vec![0.0; numel(to)], to, &a, from, |_, y| y);
        assert_eq!(shape, to);
        let got = tensor(&a, from).broadcast_to(to).unwrap();
        assert_eq!(got.shape(), to);
        assert_eq!(got.to_vec().unwrap(), want, "{from:?} -> {to:?}");
    }
}
