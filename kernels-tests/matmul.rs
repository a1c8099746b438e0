use crate::common::*;
use tidal::gpu::{set_variant, subgroup_ok, Variant};

// N % 4 == 0 shapes (64, 12, 300, 516) take the vec4 path of the register kernel; N <= 4
// shapes (1, 3, 2, 4) the skinny matrix-vector kernel; 64×256×257 is a long-K product.
// 100×260×37 spans several 32-row × 128-column blocks of the subgroup kernel.
const SHAPES: [(usize, usize, usize); 15] = [
    (1, 1, 1),
    (7, 13, 5),
    (64, 64, 64),
    (65, 127, 33),
    (3, 257, 9),
    (130, 3, 70),
    (1, 300, 2),
    (9, 12, 5),
    (17, 516, 3),
    (450, 1, 259),
    (67, 2, 131),
    (5, 4, 1),
    (3, 1, 700),
    (64, 256, 257),
    (100, 260, 37),
];

fn check_variant(v: Variant) {
    let ctx = ctx();
    set_variant(&ctx, v);
    for (m, n, k) in SHAPES {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = data((m * 31 + k) as u64, m * k);
            let b = data((n * 17 + k) as u64, k * n);
            let sa = if ta { [k, m] } else { [m, k] };
            let sb = if tb { [n, k] } else { [k, n] };
            let got = tensor(&a, &sa).matmul_t(&tensor(&b, &sb), ta, tb).unwrap();
            assert_eq!(got.shape(), &[m, n]);
            // f32 accumulation over k terms of |x| < 1: error grows like sqrt(k) ulps.
            let atol = 2e-6 * (k as f32).sqrt().max(10.0);
            assert_close(
                &got.to_vec().unwrap(),
                &cpu_matmul(&a, &b, m, n, k, ta, tb),
                1e-5,
                atol,
                &format!("{v:?} {m}x{n}x{k} ta={ta} tb={tb}"),
            );
        }
    }
}

#[test]
fn matmul_register_matches_cpu_on_odd_shapes_and_transposes() {
    check_variant(Variant::Register);
}

#[test]
fn matmul_subgroup_matches_cpu_on_odd_shapes_and_transposes() {
    let ctx = ctx();
    if !subgroup_ok(&ctx) {
        // lavapipe on AVX2 (the CI adapter) has 8-wide subgroups: there the test must run.
        assert!(
            !(ctx.is_cpu() && ctx.info.name.contains("256 bits")),
            "lavapipe should offer 8-wide subgroups"
        );
        eprintln!("skipped: {} has no 8-wide subgroups", ctx.info.name);
        return;
    }
    check_variant(Variant::Subgroup);
}

#[test]
fn matmul_tiled_matches_cpu_on_odd_shapes_and_transposes() {
    check_variant(Variant::Tiled);
}

#[test]
fn batched_matmul_and_shared_right_operand() {
    for n in [1usize, 3, 7, 8] {
        batched(n);
    }
}

fn batched(n: usize) {
    let (bt, m, k) = (3usize, 5usize, 4usize);
    let a = data(1, bt * m * k);
    let b = data(2, bt * k * n);
    let b2 = data(3, k * n);
    let got = tensor(&a, &[bt, m, k])
        .matmul(&tensor(&b, &[bt, k, n]))
        .unwrap()
        .to_vec()
        .unwrap();
    let shared = tensor(&a, &[bt, m, k])
        .matmul(&tensor(&b2, &[k, n]))
        .unwrap()
        .to_vec()
        .unwrap();
    for i in 0..bt {
        let want = cpu_matmul(
            &a[i * m * k..(i + 1) * m * k],
            &b[i * k * n..(i + 1) * k * n],
            m,
            n,
            k,
            false,
            false,
        );
        assert_close(
            &got[i * m * n..(i + 1) * m * n],
            &want,
            1e-5,
            1e-5,
            "batched",
        );
        let want = cpu_matmul(&a[i * m * k..(i + 1) * m * k], &b2, m, n, k, false, false);
        assert_close(
            &shared[i * m * n..(i + 1) * m * n],
            &want,
            1e-5,
            1e-5,
            "shared",
        );
    }
}

#[test]
fn large_batched_products_with_transposed_b_match_cpu() {
    // Long K and many columns with B transposed, per batch and shared over the batch.
    for_each_cpu_variant(|_| large_batched_bt());
}

fn large_batched_bt() {
    let (bt, m, n, k) = (2usize, 64usize, 256usize, 260usize);
    let a = data(11, bt * m * k);
    let b = data(12, bt * n * k);
    let got = tensor(&a, &[bt, m, k])
        .matmul_t(&tensor(&b, &[bt, n, k]), false, true)
        .unwrap()
        .to_vec()
        .unwrap();
    let shared = tensor(&a, &[bt, m, k])
        .matmul_t(&tensor(&b[..n * k], &[n, k]), false, true)
        .unwrap()
        .to_vec()
        .unwrap();
    for i in 0..bt {
        let ai = &a[i * m * k..(i + 1) * m * k];
        let want = cpu_matmul(ai, &b[i * n * k..(i + 1) * n * k], m, n, k, false, true);
        assert_close(
            &got[i * m * n..(i + 1) * m * n],
            &want,
            1e-5,
            4e-5,
            "batched Bᵀ",
        );
        let want = cpu_matmul(ai, &b[..n * k], m, n, k, false, true);
        assert_close(
            &shared[i * m * n..(i + 1) * m * n],
            &want,
            1e-5,
            4e-5,
            "shared Bᵀ",
        );
    }
}

#[test]
fn matmul_grads_match_finite_differences_for_every_transpose() {
    // n = 5 takes the blocked kernels, n = 1 the skinny one.
    for (m, n, k, ta, tb) in [(false, false), (true, false), (false, true), (true, true)]
        .into_iter()
        .flat_map(|(ta, tb)| [(3usize, 5usize, 4usize, ta, tb), (6, 1, 9, ta, tb)])
    {
        let sa = if ta { vec![k, m] } else { vec![m, k] };
        let sb = if tb { vec![n, k] } else { vec![k, n] };
        let ins = [(data(7, m * k), sa), (data(8, k * n), sb)];
        grad_check(
            &ins,
            |t| t[0].matmul_t(&t[1], ta, tb),
            1e-2,
            1e-2,
            1e-3,
            &format!("matmul {m}x{n}x{k} ta={ta} tb={tb}"),
        );
    }
    // Batched A with a shared 2-D B: B's gradient sums over the batch.
    let ins = [
        (data(9, 2 * 3 * 4), vec![2, 3, 4]),
        (data(10, 4 * 5), vec![4, 5]),
    ];
    grad_check(
        &ins,
        |t| t[0].matmul(&t[1]),
        1e-2,
        1e-2,
        1e-3,
        "batched shared",
    );
}

#[test]
fn matmul_shape_errors_name_both_operands() {
    let e = tensor(&[0.0; 6], &[2, 3])
        .matmul(&tensor(&[0.0; 6], &[2, 3]))
        .unwrap_err();
    assert!(e.to_string().contains("inner dimensions differ"), "{e}");
}
