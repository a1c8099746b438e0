// Matrix multiply C = op(A) · op(B), batched, with either operand transposed through its
// strides: op(A)[m, k] = a[a_off + m * a_rs + k * a_cs], op(B)[k, n] = b[b_off + k * b_rs + n * b_cs],
// C row-major [batch, M, N]. Edges are handled in the kernel: loads clamp their row/column
// to the last valid one and stores are masked, so no host padding is ever needed.
//
// Why the file is long (over 1000 lines): WGSL has no templates or macros, and each variant
// keeps its block of accumulators in named registers, unrolled by hand (an indexed array
// spills to memory on lavapipe and measured several times slower), so every variant and
// layout is written out in full.
//
// Variants (ops/matmul.rs picks one per adapter, overridable); matmul_skinny serves N <= 4
// and matmul_sg (at the end) CPU adapters with 8-wide subgroups:
// - matmul_register (below) and matmul_register_any: for other CPU adapters.
//   matmul_register_any handles every layout with scalar loads. Workgroup = 64 lanes along N; each lane
//   owns an 8 x 4 block (rows from workgroup_id.y, 4 columns from its lane). The A operands
//   depend only on the workgroup, so lavapipe loads them once for all SIMD lanes; only the
//   4 B values per k differ per lane. Accumulators are named vec4s (not an indexed array),
//   which llvmpipe keeps in registers.
//   rows [wid.y * 8, +8), cols [(wid.x * 64 + lane) * 4, +4), batch wid.z.
// - matmul_tiled: for GPUs. 16 x 16 lanes, 64 x 64 output tile, K staged through
//   workgroup memory in slabs of 16; each lane accumulates a 4 x 4 block.
//   rows [wid.y * 64 + ly * 4, +4), cols [wid.x * 64 + lx * 4, +4), batch wid.z.

struct Params {
    m: u32,
    n: u32,
    k: u32,
    batch: u32,
    a_rs: u32,
    a_cs: u32,
    b_rs: u32,
    b_cs: u32,
    a_bs: u32,   // batch strides (0 broadcasts the operand over the batch)
    b_bs: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

fn store4(row: u32, col: u32, coff: u32, v: vec4<f32>) {
    if (row >= p.m) { return; }
    let base = coff + row * p.n;
    if (col < p.n) { c[base + col] = v.x; }
    if (col + 1u < p.n) { c[base + col + 1u] = v.y; }
    if (col + 2u < p.n) { c[base + col + 2u] = v.z; }
    if (col + 3u < p.n) { c[base + col + 3u] = v.w; }
}

@compute @workgroup_size(64)
fn matmul_register_any(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let batch = wid.z;
    let row0 = wid.y * 8u;
    let col = (wid.x * 64u + lane) * 4u;
    let last_r = p.m - 1u;
    let last_c = p.n - 1u;
    let aoff = batch * p.a_bs;
    let boff = batch * p.b_bs;
    let ar0 = aoff + min(row0 + 0u, last_r) * p.a_rs;
    let ar1 = aoff + min(row0 + 1u, last_r) * p.a_rs;
    let ar2 = aoff + min(row0 + 2u, last_r) * p.a_rs;
    let ar3 = aoff + min(row0 + 3u, last_r) * p.a_rs;
    let ar4 = aoff + min(row0 + 4u, last_r) * p.a_rs;
    let ar5 = aoff + min(row0 + 5u, last_r) * p.a_rs;
    let ar6 = aoff + min(row0 + 6u, last_r) * p.a_rs;
    let ar7 = aoff + min(row0 + 7u, last_r) * p.a_rs;
    let c0 = min(col, last_c) * p.b_cs;
    let c1 = min(col + 1u, last_c) * p.b_cs;
    let c2 = min(col + 2u, last_c) * p.b_cs;
    let c3 = min(col + 3u, last_c) * p.b_cs;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    var acc4 = vec4<f32>(0.0);
    var acc5 = vec4<f32>(0.0);
    var acc6 = vec4<f32>(0.0);
    var acc7 = vec4<f32>(0.0);
    let k4 = p.k & ~3u;
    var k = 0u;
    loop {
        if (k >= k4) { break; }
        let kb0 = boff + (k + 0u) * p.b_rs;
        let bv0 = vec4<f32>(b[kb0 + c0], b[kb0 + c1], b[kb0 + c2], b[kb0 + c3]);
        acc0 = fma(vec4<f32>(a[ar0 + (k + 0u) * p.a_cs]), bv0, acc0);
        acc1 = fma(vec4<f32>(a[ar1 + (k + 0u) * p.a_cs]), bv0, acc1);
        acc2 = fma(vec4<f32>(a[ar2 + (k + 0u) * p.a_cs]), bv0, acc2);
        acc3 = fma(vec4<f32>(a[ar3 + (k + 0u) * p.a_cs]), bv0, acc3);
        acc4 = fma(vec4<f32>(a[ar4 + (k + 0u) * p.a_cs]), bv0, acc4);
        acc5 = fma(vec4<f32>(a[ar5 + (k + 0u) * p.a_cs]), bv0, acc5);
        acc6 = fma(vec4<f32>(a[ar6 + (k + 0u) * p.a_cs]), bv0, acc6);
        acc7 = fma(vec4<f32>(a[ar7 + (k + 0u) * p.a_cs]), bv0, acc7);
        let kb1 = boff + (k + 1u) * p.b_rs;
        let bv1 = vec4<f32>(b[kb1 + c0], b[kb1 + c1], b[kb1 + c2], b[kb1 + c3]);
        acc0 = fma(vec4<f32>(a[ar0 + (k + 1u) * p.a_cs]), bv1, acc0);
        acc1 = fma(vec4<f32>(a[ar1 + (k + 1u) * p.a_cs]), bv1, acc1);
        acc2 = fma(vec4<f32>(a[ar2 + (k + 1u) * p.a_cs]), bv1, acc2);
        acc3 = fma(vec4<f32>(a[ar3 + (k + 1u) * p.a_cs]), bv1, acc3);
        acc4 = fma(vec4<f32>(a[ar4 + (k + 1u) * p.a_cs]), bv1, acc4);
        acc5 = fma(vec4<f32>(a[ar5 + (k + 1u) * p.a_cs]), bv1, acc5);
        acc6 = fma(vec4<f32>(a[ar6 + (k + 1u) * p.a_cs]), bv1, acc6);
        acc7 = fma(vec4<f32>(a[ar7 + (k + 1u) * p.a_cs]), bv1, acc7);
        let kb2 = boff + (k + 2u) * p.b_rs;
        let bv2 = vec4<f32>(b[kb2 + c0], b[kb2 + c1], b[kb2 + c2], b[kb2 + c3]);
        acc0 = fma(vec4<f32>(a[ar0 + (k + 2u) * p.a_cs]), bv2, acc0);
        acc1 = fma(vec4<f32>(a[ar1 + (k + 2u) * p.a_cs]), bv2, acc1);
        acc2 = fma(vec4<f32>(a[ar2 + (k + 2u) * p.a_cs]), bv2, acc2);
        acc3 = fma(vec4<f32>(a[ar3 + (k + 2u) * p.a_cs]), bv2, acc3);
        acc4 = fma(vec4<f32>(a[ar4 + (k + 2u) * p.a_cs]), bv2, acc4);
        acc5 = fma(vec4<f32>(a[ar5 + (k + 2u) * p.a_cs]), bv2, acc5);
        acc6 = fma(vec4<f32>(a[ar6 + (k + 2u) * p.a_cs]), bv2, acc6);
        acc7 = fma(vec4<f32>(a[ar7 + (k + 2u) * p.a_cs]), bv2, acc7);
        let kb3 = boff + (k + 3u) * p.b_rs;
        let bv3 = vec4<f32>(b[kb3 + c0], b[kb3 + c1], b[kb3 + c2], b[kb3 + c3]);
        acc0 = fma(vec4<f32>(a[ar0 + (k + 3u) * p.a_cs]), bv3, acc0);
        acc1 = fma(vec4<f32>(a[ar1 + (k + 3u) * p.a_cs]), bv3, acc1);
        acc2 = fma(vec4<f32>(a[ar2 + (k + 3u) * p.a_cs]), bv3, acc2);
        acc3 = fma(vec4<f32>(a[ar3 + (k + 3u) * p.a_cs]), bv3, acc3);
        acc4 = fma(vec4<f32>(a[ar4 + (k + 3u) * p.a_cs]), bv3, acc4);
        acc5 = fma(vec4<f32>(a[ar5 + (k + 3u) * p.a_cs]), bv3, acc5);
        acc6 = fma(vec4<f32>(a[ar6 + (k + 3u) * p.a_cs]), bv3, acc6);
        acc7 = fma(vec4<f32>(a[ar7 + (k + 3u) * p.a_cs]), bv3, acc7);
        k = k + 4u;
    }
    loop {
        if (k >= p.k) { break; }
        let kb0 = boff + (k) * p.b_rs;
        let bv0 = vec4<f32>(b[kb0 + c0], b[kb0 + c1], b[kb0 + c2], b[kb0 + c3]);
        acc0 = fma(vec4<f32>(a[ar0 + (k) * p.a_cs]), bv0, acc0);
        acc1 = fma(vec4<f32>(a[ar1 + (k) * p.a_cs]), bv0, acc1);
        acc2 = fma(vec4<f32>(a[ar2 + (k) * p.a_cs]), bv0, acc2);
        acc3 = fma(vec4<f32>(a[ar3 + (k) * p.a_cs]), bv0, acc3);
        acc4 = fma(vec4<f32>(a[ar4 + (k) * p.a_cs]), bv0, acc4);
        acc5 = fma(vec4<f32>(a[ar5 + (k) * p.a_cs]), bv0, acc5);
        acc6 = fma(vec4<f32>(a[ar6 + (k) * p.a_cs]), bv0, acc6);
        acc7 = fma(vec4<f32>(a[ar7 + (k) * p.a_cs]), bv0, acc7);
        k = k + 1u;
    }
    let coff = batch * p.m * p.n;
    store4(row0 + 0u, col, coff, acc0);
    store4(row0 + 1u, col, coff, acc1);
    store4(row0 + 2u, col, coff, acc2);
    store4(row0 + 3u, col, coff, acc3);
    store4(row0 + 4u, col, coff, acc4);
    store4(row0 + 5u, col, coff, acc5);
    store4(row0 + 6u, col, coff, acc6);
    store4(row0 + 7u, col, coff, acc7);
}

const TILE: u32 = 64u;
const KS: u32 = 16u;
var<workgroup> tile_a: array<array<f32, 64>, 16>; // [k][m]
var<workgroup> tile_b: array<array<f32, 64>, 16>; // [k][n]

@compute @workgroup_size(16, 16)
fn matmul_tiled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let batch = wid.z;
    let aoff = batch * p.a_bs;
    let boff = batch * p.b_bs;
    let tr = wid.y * TILE;
    let tc = wid.x * TILE;
    let t = lid.y * 16u + lid.x;
    var acc: array<vec4<f32>, 4>;
    for (var i = 0u; i < 4u; i = i + 1u) { acc[i] = vec4<f32>(0.0); }
    for (var k0 = 0u; k0 < p.k; k0 = k0 + KS) {
        // 256 lanes load 16 x 64 elements of each operand: 4 each, zero outside the matrix.
        for (var j = 0u; j < 4u; j = j + 1u) {
            let e = t + j * 256u;
            let kk = e / TILE;
            let mm = e % TILE;
            let gk = k0 + kk;
            var va = 0.0;
            var vb = 0.0;
            if (gk < p.k && tr + mm < p.m) { va = a[aoff + (tr + mm) * p.a_rs + gk * p.a_cs]; }
            if (gk < p.k && tc + mm < p.n) { vb = b[boff + gk * p.b_rs + (tc + mm) * p.b_cs]; }
            tile_a[kk][mm] = va;
            tile_b[kk][mm] = vb;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < KS; kk = kk + 1u) {
            let bv = vec4<f32>(tile_b[kk][lid.x * 4u], tile_b[kk][lid.x * 4u + 1u], tile_b[kk][lid.x * 4u + 2u], tile_b[kk][lid.x * 4u + 3u]);
            for (var i = 0u; i < 4u; i = i + 1u) {
                acc[i] = fma(vec4<f32>(tile_a[kk][lid.y * 4u + i]), bv, acc[i]);
            }
        }
        workgroupBarrier();
    }
    let coff = batch * p.m * p.n;
    for (var i = 0u; i < 4u; i = i + 1u) {
        store4(tr + lid.y * 4u + i, tc + lid.x * 4u, coff, acc[i]);
    }
}

// matmul_register: B read as vec4 (needs N % 4 == 0 and B not transposed, so a lane's 8
// columns are two aligned vec4 loads); lavapipe pays per load instruction, and a vec4
// load costs about what a scalar one does. 64 lanes along N, each 8 rows x 8 columns;
// rows come from workgroup_id.y only, so the A loads are the same for every lane.
//   rows [wid.y * 8, +8), cols [(wid.x * 64 + lane) * 8, +8), batch wid.z.
@group(0) @binding(4) var<storage, read> b4: array<vec4<f32>>;

@compute @workgroup_size(64)
fn matmul_register(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let batch = wid.z;
    let row0 = wid.y * 8u;
    let col = (wid.x * 64u + lane) * 8u;
    let n4 = p.n / 4u;
    let aoff = batch * p.a_bs;
    let boff4 = batch * p.b_bs / 4u;
    // Clamped loads keep edge lanes in bounds; their results are masked at the store.
    let q0 = min(col / 4u, n4 - 1u);
    let q1 = min(col / 4u + 1u, n4 - 1u);
    let ar0 = aoff + min(row0 + 0u, p.m - 1u) * p.a_rs;
    let ar1 = aoff + min(row0 + 1u, p.m - 1u) * p.a_rs;
    let ar2 = aoff + min(row0 + 2u, p.m - 1u) * p.a_rs;
    let ar3 = aoff + min(row0 + 3u, p.m - 1u) * p.a_rs;
    let ar4 = aoff + min(row0 + 4u, p.m - 1u) * p.a_rs;
    let ar5 = aoff + min(row0 + 5u, p.m - 1u) * p.a_rs;
    let ar6 = aoff + min(row0 + 6u, p.m - 1u) * p.a_rs;
    let ar7 = aoff + min(row0 + 7u, p.m - 1u) * p.a_rs;
    var acc0_0 = vec4<f32>(0.0);
    var acc0_1 = vec4<f32>(0.0);
    var acc1_0 = vec4<f32>(0.0);
    var acc1_1 = vec4<f32>(0.0);
    var acc2_0 = vec4<f32>(0.0);
    var acc2_1 = vec4<f32>(0.0);
    var acc3_0 = vec4<f32>(0.0);
    var acc3_1 = vec4<f32>(0.0);
    var acc4_0 = vec4<f32>(0.0);
    var acc4_1 = vec4<f32>(0.0);
    var acc5_0 = vec4<f32>(0.0);
    var acc5_1 = vec4<f32>(0.0);
    var acc6_0 = vec4<f32>(0.0);
    var acc6_1 = vec4<f32>(0.0);
    var acc7_0 = vec4<f32>(0.0);
    var acc7_1 = vec4<f32>(0.0);
    for (var k = 0u; k < p.k; k = k + 1u) {
        let kb = boff4 + k * n4;
        let b0 = b4[kb + q0];
        let b1 = b4[kb + q1];
        let a0 = vec4<f32>(a[ar0 + k * p.a_cs]);
        acc0_0 = fma(a0, b0, acc0_0);
        acc0_1 = fma(a0, b1, acc0_1);
        let a1 = vec4<f32>(a[ar1 + k * p.a_cs]);
        acc1_0 = fma(a1, b0, acc1_0);
        acc1_1 = fma(a1, b1, acc1_1);
        let a2 = vec4<f32>(a[ar2 + k * p.a_cs]);
        acc2_0 = fma(a2, b0, acc2_0);
        acc2_1 = fma(a2, b1, acc2_1);
        let a3 = vec4<f32>(a[ar3 + k * p.a_cs]);
        acc3_0 = fma(a3, b0, acc3_0);
        acc3_1 = fma(a3, b1, acc3_1);
        let a4 = vec4<f32>(a[ar4 + k * p.a_cs]);
        acc4_0 = fma(a4, b0, acc4_0);
        acc4_1 = fma(a4, b1, acc4_1);
        let a5 = vec4<f32>(a[ar5 + k * p.a_cs]);
        acc5_0 = fma(a5, b0, acc5_0);
        acc5_1 = fma(a5, b1, acc5_1);
        let a6 = vec4<f32>(a[ar6 + k * p.a_cs]);
        acc6_0 = fma(a6, b0, acc6_0);
        acc6_1 = fma(a6, b1, acc6_1);
        let a7 = vec4<f32>(a[ar7 + k * p.a_cs]);
        acc7_0 = fma(a7, b0, acc7_0);
        acc7_1 = fma(a7, b1, acc7_1);
    }
    let coff = batch * p.m * p.n;
    store4(row0 + 0u, col, coff, acc0_0);
    store4(row0 + 0u, col + 4u, coff, acc0_1);
    store4(row0 + 1u, col, coff, acc1_0);
    store4(row0 + 1u, col + 4u, coff, acc1_1);
    store4(row0 + 2u, col, coff, acc2_0);
    store4(row0 + 2u, col + 4u, coff, acc2_1);
    store4(row0 + 3u, col, coff, acc3_0);
    store4(row0 + 3u, col + 4u, coff, acc3_1);
    store4(row0 + 4u, col, coff, acc4_0);
    store4(row0 + 4u, col + 4u, coff, acc4_1);
    store4(row0 + 5u, col, coff, acc5_0);
    store4(row0 + 5u, col + 4u, coff, acc5_1);
    store4(row0 + 6u, col, coff, acc6_0);
    store4(row0 + 6u, col + 4u, coff, acc6_1);
    store4(row0 + 7u, col, coff, acc7_0);
    store4(row0 + 7u, col + 4u, coff, acc7_1);
}

// matmul_register_bt: B transposed (stored [N, K]) with K % 4 == 0. Each lane reads its 8
// columns as 8 vec4 loads along k (one per column) per 4 steps of k — the same loads per
// FMA as matmul_register — and regroups them into column vec4s in registers.
//   rows [wid.y * 8, +8), cols [(wid.x * 64 + lane) * 8, +8), batch wid.z.
@compute @workgroup_size(64)
fn matmul_register_bt(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let batch = wid.z;
    let row0 = wid.y * 8u;
    let col = (wid.x * 64u + lane) * 8u;
    let k4 = p.k / 4u;
    let aoff = batch * p.a_bs;
    let boff4 = batch * p.b_bs / 4u;
    let n0 = boff4 + min(col + 0u, p.n - 1u) * k4;
    let n1 = boff4 + min(col + 1u, p.n - 1u) * k4;
    let n2 = boff4 + min(col + 2u, p.n - 1u) * k4;
    let n3 = boff4 + min(col + 3u, p.n - 1u) * k4;
    let n4 = boff4 + min(col + 4u, p.n - 1u) * k4;
    let n5 = boff4 + min(col + 5u, p.n - 1u) * k4;
    let n6 = boff4 + min(col + 6u, p.n - 1u) * k4;
    let n7 = boff4 + min(col + 7u, p.n - 1u) * k4;
    let ar0 = aoff + min(row0 + 0u, p.m - 1u) * p.a_rs;
    let ar1 = aoff + min(row0 + 1u, p.m - 1u) * p.a_rs;
    let ar2 = aoff + min(row0 + 2u, p.m - 1u) * p.a_rs;
    let ar3 = aoff + min(row0 + 3u, p.m - 1u) * p.a_rs;
    let ar4 = aoff + min(row0 + 4u, p.m - 1u) * p.a_rs;
    let ar5 = aoff + min(row0 + 5u, p.m - 1u) * p.a_rs;
    let ar6 = aoff + min(row0 + 6u, p.m - 1u) * p.a_rs;
    let ar7 = aoff + min(row0 + 7u, p.m - 1u) * p.a_rs;
    var acc0_0 = vec4<f32>(0.0);
    var acc0_1 = vec4<f32>(0.0);
    var acc1_0 = vec4<f32>(0.0);
    var acc1_1 = vec4<f32>(0.0);
    var acc2_0 = vec4<f32>(0.0);
    var acc2_1 = vec4<f32>(0.0);
    var acc3_0 = vec4<f32>(0.0);
    var acc3_1 = vec4<f32>(0.0);
    var acc4_0 = vec4<f32>(0.0);
    var acc4_1 = vec4<f32>(0.0);
    var acc5_0 = vec4<f32>(0.0);
    var acc5_1 = vec4<f32>(0.0);
    var acc6_0 = vec4<f32>(0.0);
    var acc6_1 = vec4<f32>(0.0);
    var acc7_0 = vec4<f32>(0.0);
    var acc7_1 = vec4<f32>(0.0);
    for (var kq = 0u; kq < k4; kq = kq + 1u) {
        let c0 = b4[n0 + kq];
        let c1 = b4[n1 + kq];
        let c2 = b4[n2 + kq];
        let c3 = b4[n3 + kq];
        let c4 = b4[n4 + kq];
        let c5 = b4[n5 + kq];
        let c6 = b4[n6 + kq];
        let c7 = b4[n7 + kq];
        let lo0 = vec4<f32>(c0.x, c1.x, c2.x, c3.x);
        let hi0 = vec4<f32>(c4.x, c5.x, c6.x, c7.x);
        let lo1 = vec4<f32>(c0.y, c1.y, c2.y, c3.y);
        let hi1 = vec4<f32>(c4.y, c5.y, c6.y, c7.y);
        let lo2 = vec4<f32>(c0.z, c1.z, c2.z, c3.z);
        let hi2 = vec4<f32>(c4.z, c5.z, c6.z, c7.z);
        let lo3 = vec4<f32>(c0.w, c1.w, c2.w, c3.w);
        let hi3 = vec4<f32>(c4.w, c5.w, c6.w, c7.w);
        let a00 = vec4<f32>(a[ar0 + (kq * 4u + 0u) * p.a_cs]);
        acc0_0 = fma(a00, lo0, acc0_0);
        acc0_1 = fma(a00, hi0, acc0_1);
        let a01 = vec4<f32>(a[ar1 + (kq * 4u + 0u) * p.a_cs]);
        acc1_0 = fma(a01, lo0, acc1_0);
        acc1_1 = fma(a01, hi0, acc1_1);
        let a02 = vec4<f32>(a[ar2 + (kq * 4u + 0u) * p.a_cs]);
        acc2_0 = fma(a02, lo0, acc2_0);
        acc2_1 = fma(a02, hi0, acc2_1);
        let a03 = vec4<f32>(a[ar3 + (kq * 4u + 0u) * p.a_cs]);
        acc3_0 = fma(a03, lo0, acc3_0);
        acc3_1 = fma(a03, hi0, acc3_1);
        let a04 = vec4<f32>(a[ar4 + (kq * 4u + 0u) * p.a_cs]);
        acc4_0 = fma(a04, lo0, acc4_0);
        acc4_1 = fma(a04, hi0, acc4_1);
        let a05 = vec4<f32>(a[ar5 + (kq * 4u + 0u) * p.a_cs]);
        acc5_0 = fma(a05, lo0, acc5_0);
        acc5_1 = fma(a05, hi0, acc5_1);
        let a06 = vec4<f32>(a[ar6 + (kq * 4u + 0u) * p.a_cs]);
        acc6_0 = fma(a06, lo0, acc6_0);
        acc6_1 = fma(a06, hi0, acc6_1);
        let a07 = vec4<f32>(a[ar7 + (kq * 4u + 0u) * p.a_cs]);
        acc7_0 = fma(a07, lo0, acc7_0);
        acc7_1 = fma(a07, hi0, acc7_1);
        let a10 = vec4<f32>(a[ar0 + (kq * 4u + 1u) * p.a_cs]);
        acc0_0 = fma(a10, lo1, acc0_0);
        acc0_1 = fma(a10, hi1, acc0_1);
        let a11 = vec4<f32>(a[ar1 + (kq * 4u + 1u) * p.a_cs]);
        acc1_0 = fma(a11, lo1, acc1_0);
        acc1_1 = fma(a11, hi1, acc1_1);
        let a12 = vec4<f32>(a[ar2 + (kq * 4u + 1u) * p.a_cs]);
        acc2_0 = fma(a12, lo1, acc2_0);
        acc2_1 = fma(a12, hi1, acc2_1);
        let a13 = vec4<f32>(a[ar3 + (kq * 4u + 1u) * p.a_cs]);
        acc3_0 = fma(a13, lo1, acc3_0);
        acc3_1 = fma(a13, hi1, acc3_1);
        let a14 = vec4<f32>(a[ar4 + (kq * 4u + 1u) * p.a_cs]);
        acc4_0 = fma(a14, lo1, acc4_0);
        acc4_1 = fma(a14, hi1, acc4_1);
        let a15 = vec4<f32>(a[ar5 + (kq * 4u + 1u) * p.a_cs]);
        acc5_0 = fma(a15, lo1, acc5_0);
        acc5_1 = fma(a15, hi1, acc5_1);
        let a16 = vec4<f32>(a[ar6 + (kq * 4u + 1u) * p.a_cs]);
        acc6_0 = fma(a16, lo1, acc6_0);
        acc6_1 = fma(a16, hi1, acc6_1);
        let a17 = vec4<f32>(a[ar7 + (kq * 4u + 1u) * p.a_cs]);
        acc7_0 = fma(a17, lo1, acc7_0);
        acc7_1 = fma(a17, hi1, acc7_1);
        let a20 = vec4<f32>(a[ar0 + (kq * 4u + 2u) * p.a_cs]);
        acc0_0 = fma(a20, lo2, acc0_0);
        acc0_1 = fma(a20, hi2, acc0_1);
        let a21 = vec4<f32>(a[ar1 + (kq * 4u + 2u) * p.a_cs]);
        acc1_0 = fma(a21, lo2, acc1_0);
        acc1_1 = fma(a21, hi2, acc1_1);
        let a22 = vec4<f32>(a[ar2 + (kq * 4u + 2u) * p.a_cs]);
        acc2_0 = fma(a22, lo2, acc2_0);
        acc2_1 = fma(a22, hi2, acc2_1);
        let a23 = vec4<f32>(a[ar3 + (kq * 4u + 2u) * p.a_cs]);
        acc3_0 = fma(a23, lo2, acc3_0);
        acc3_1 = fma(a23, hi2, acc3_1);
        let a24 = vec4<f32>(a[ar4 + (kq * 4u + 2u) * p.a_cs]);
        acc4_0 = fma(a24, lo2, acc4_0);
        acc4_1 = fma(a24, hi2, acc4_1);
        let a25 = vec4<f32>(a[ar5 + (kq * 4u + 2u) * p.a_cs]);
        acc5_0 = fma(a25, lo2, acc5_0);
        acc5_1 = fma(a25, hi2, acc5_1);
        let a26 = vec4<f32>(a[ar6 + (kq * 4u + 2u) * p.a_cs]);
        acc6_0 = fma(a26, lo2, acc6_0);
        acc6_1 = fma(a26, hi2, acc6_1);
        let a27 = vec4<f32>(a[ar7 + (kq * 4u + 2u) * p.a_cs]);
        acc7_0 = fma(a27, lo2, acc7_0);
        acc7_1 = fma(a27, hi2, acc7_1);
        let a30 = vec4<f32>(a[ar0 + (kq * 4u + 3u) * p.a_cs]);
        acc0_0 = fma(a30, lo3, acc0_0);
        acc0_1 = fma(a30, hi3, acc0_1);
        let a31 = vec4<f32>(a[ar1 + (kq * 4u + 3u) * p.a_cs]);
        acc1_0 = fma(a31, lo3, acc1_0);
        acc1_1 = fma(a31, hi3, acc1_1);
        let a32 = vec4<f32>(a[ar2 + (kq * 4u + 3u) * p.a_cs]);
        acc2_0 = fma(a32, lo3, acc2_0);
        acc2_1 = fma(a32, hi3, acc2_1);
        let a33 = vec4<f32>(a[ar3 + (kq * 4u + 3u) * p.a_cs]);
        acc3_0 = fma(a33, lo3, acc3_0);
        acc3_1 = fma(a33, hi3, acc3_1);
        let a34 = vec4<f32>(a[ar4 + (kq * 4u + 3u) * p.a_cs]);
        acc4_0 = fma(a34, lo3, acc4_0);
        acc4_1 = fma(a34, hi3, acc4_1);
        let a35 = vec4<f32>(a[ar5 + (kq * 4u + 3u) * p.a_cs]);
        acc5_0 = fma(a35, lo3, acc5_0);
        acc5_1 = fma(a35, hi3, acc5_1);
        let a36 = vec4<f32>(a[ar6 + (kq * 4u + 3u) * p.a_cs]);
        acc6_0 = fma(a36, lo3, acc6_0);
        acc6_1 = fma(a36, hi3, acc6_1);
        let a37 = vec4<f32>(a[ar7 + (kq * 4u + 3u) * p.a_cs]);
        acc7_0 = fma(a37, lo3, acc7_0);
        acc7_1 = fma(a37, hi3, acc7_1);
    }
    let coff = batch * p.m * p.n;
    store4(row0 + 0u, col, coff, acc0_0);
    store4(row0 + 0u, col + 4u, coff, acc0_1);
    store4(row0 + 1u, col, coff, acc1_0);
    store4(row0 + 1u, col + 4u, coff, acc1_1);
    store4(row0 + 2u, col, coff, acc2_0);
    store4(row0 + 2u, col + 4u, coff, acc2_1);
    store4(row0 + 3u, col, coff, acc3_0);
    store4(row0 + 3u, col + 4u, coff, acc3_1);
    store4(row0 + 4u, col, coff, acc4_0);
    store4(row0 + 4u, col + 4u, coff, acc4_1);
    store4(row0 + 5u, col, coff, acc5_0);
    store4(row0 + 5u, col + 4u, coff, acc5_1);
    store4(row0 + 6u, col, coff, acc6_0);
    store4(row0 + 6u, col + 4u, coff, acc6_1);
    store4(row0 + 7u, col, coff, acc7_0);
    store4(row0 + 7u, col + 4u, coff, acc7_1);
}

// matmul_skinny: N <= 4 (matrix-vector products, logistic regressions, 2-class heads), for
// which the blocked kernels above would leave most lanes idle. One workgroup per output
// row: lanes stride over K accumulating all N columns in a vec4, then a tree reduction in
// workgroup memory. Columns past N read the last valid one and are dropped by store4.
// row = wid.x + wid.y * nwg.x (folded for M > 65535), batch wid.z.
var<workgroup> partial: array<vec4<f32>, 64>;

@compute @workgroup_size(64)
fn matmul_skinny(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let row = wid.x + wid.y * nwg.x;
    if (row >= p.m) { return; }
    let batch = wid.z;
    let arow = batch * p.a_bs + row * p.a_rs;
    let boff = batch * p.b_bs;
    let c1 = min(1u, p.n - 1u) * p.b_cs;
    let c2 = min(2u, p.n - 1u) * p.b_cs;
    let c3 = min(3u, p.n - 1u) * p.b_cs;
    var acc = vec4<f32>(0.0);
    for (var kk = lane; kk < p.k; kk = kk + 64u) {
        let bk = boff + kk * p.b_rs;
        acc = fma(vec4<f32>(a[arow + kk * p.a_cs]), vec4<f32>(b[bk], b[bk + c1], b[bk + c2], b[bk + c3]), acc);
    }
    partial[lane] = acc;
    workgroupBarrier();
    for (var s = 32u; s > 0u; s = s >> 1u) {
        if (lane < s) {
            partial[lane] = partial[lane] + partial[lane + s];
        }
        workgroupBarrier();
    }
    if (lane == 0u) {
        store4(row, 0u, batch * p.m * p.n, partial[0]);
    }
}

//#if subgroups
// ---------------------------------------------------------------------------------------
// matmul_sg and matmul_sg_any: for CPU adapters with 8-wide subgroups (lavapipe on AVX2).
//
// Why another kernel: Mesa's llvmpipe (25.0) turns every storage load whose address it
// cannot prove constant into a per-lane scalar gather with a bounds-check branch, even when
// all lanes read the same address. The register kernels above therefore pay 8
// gathered loads for each A value they share across a workgroup. Here each 8-lane subgroup
// loads 8 different A rows at once (one per lane) and hands them round with
// subgroupBroadcast, which llvmpipe compiles to an extract and a splat. Measured on lavapipe
// (2-core Zen 3) at 1024³: ~33 GFLOP/s against ~13 for matmul_register, and a 32 x 8 block
// per lane beat 16/24/40/48/64 rows and 4/12/16 columns, and unrolling k (more live values).
// Needs the SUBGROUP feature with subgroup size 8; ops/matmul.rs checks both.
//
// Lane layout: workgroup of 16 lanes (two subgroups) along N; each lane owns rows
// [wid.y * 32, +32) and columns [(wid.x * 16 + lane) * 8, +8) of batch wid.z. Loads clamp to
// the last valid row/column and stores are masked, so any shape works without padding.
// Whole-workgroup uniformity is not needed: each subgroup broadcasts only among itself.
// The two entry points differ only in how they load B; one kernel with the layout as an
// override constant measured about 10% slower at 1024³ and 2048³, so both stay.

// B row-major with N % 4 == 0.
@compute @workgroup_size(16)
fn matmul_sg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32, @builtin(subgroup_invocation_id) sl: u32) {
    let batch = wid.z;
    let row0 = wid.y * 32u;
    let col = (wid.x * 16u + lane) * 8u;
    // A subgroup with all its columns past N leaves (whole, so the broadcasts below still
    // see every lane of the subgroups that stay).
    if (subgroupAll(col >= p.n)) { return; }
    let aoff = batch * p.a_bs;
    // Lane sl of each 8-lane subgroup loads rows row0 + sl, + 8, + 16, + 24; the other
    // lanes get them by broadcast.
    let ar0 = aoff + min(row0 + 0u + sl, p.m - 1u) * p.a_rs;
    let ar1 = aoff + min(row0 + 8u + sl, p.m - 1u) * p.a_rs;
    let ar2 = aoff + min(row0 + 16u + sl, p.m - 1u) * p.a_rs;
    let ar3 = aoff + min(row0 + 24u + sl, p.m - 1u) * p.a_rs;
    let n4 = p.n / 4u;
    let boff4 = batch * p.b_bs / 4u;
    let q0 = min(col / 4u, n4 - 1u);
    let q1 = min(col / 4u + 1u, n4 - 1u);
    var acc0_0 = vec4<f32>(0.0);
    var acc0_1 = vec4<f32>(0.0);
    var acc1_0 = vec4<f32>(0.0);
    var acc1_1 = vec4<f32>(0.0);
    var acc2_0 = vec4<f32>(0.0);
    var acc2_1 = vec4<f32>(0.0);
    var acc3_0 = vec4<f32>(0.0);
    var acc3_1 = vec4<f32>(0.0);
    var acc4_0 = vec4<f32>(0.0);
    var acc4_1 = vec4<f32>(0.0);
    var acc5_0 = vec4<f32>(0.0);
    var acc5_1 = vec4<f32>(0.0);
    var acc6_0 = vec4<f32>(0.0);
    var acc6_1 = vec4<f32>(0.0);
    var acc7_0 = vec4<f32>(0.0);
    var acc7_1 = vec4<f32>(0.0);
    var acc8_0 = vec4<f32>(0.0);
    var acc8_1 = vec4<f32>(0.0);
    var acc9_0 = vec4<f32>(0.0);
    var acc9_1 = vec4<f32>(0.0);
    var acc10_0 = vec4<f32>(0.0);
    var acc10_1 = vec4<f32>(0.0);
    var acc11_0 = vec4<f32>(0.0);
    var acc11_1 = vec4<f32>(0.0);
    var acc12_0 = vec4<f32>(0.0);
    var acc12_1 = vec4<f32>(0.0);
    var acc13_0 = vec4<f32>(0.0);
    var acc13_1 = vec4<f32>(0.0);
    var acc14_0 = vec4<f32>(0.0);
    var acc14_1 = vec4<f32>(0.0);
    var acc15_0 = vec4<f32>(0.0);
    var acc15_1 = vec4<f32>(0.0);
    var acc16_0 = vec4<f32>(0.0);
    var acc16_1 = vec4<f32>(0.0);
    var acc17_0 = vec4<f32>(0.0);
    var acc17_1 = vec4<f32>(0.0);
    var acc18_0 = vec4<f32>(0.0);
    var acc18_1 = vec4<f32>(0.0);
    var acc19_0 = vec4<f32>(0.0);
    var acc19_1 = vec4<f32>(0.0);
    var acc20_0 = vec4<f32>(0.0);
    var acc20_1 = vec4<f32>(0.0);
    var acc21_0 = vec4<f32>(0.0);
    var acc21_1 = vec4<f32>(0.0);
    var acc22_0 = vec4<f32>(0.0);
    var acc22_1 = vec4<f32>(0.0);
    var acc23_0 = vec4<f32>(0.0);
    var acc23_1 = vec4<f32>(0.0);
    var acc24_0 = vec4<f32>(0.0);
    var acc24_1 = vec4<f32>(0.0);
    var acc25_0 = vec4<f32>(0.0);
    var acc25_1 = vec4<f32>(0.0);
    var acc26_0 = vec4<f32>(0.0);
    var acc26_1 = vec4<f32>(0.0);
    var acc27_0 = vec4<f32>(0.0);
    var acc27_1 = vec4<f32>(0.0);
    var acc28_0 = vec4<f32>(0.0);
    var acc28_1 = vec4<f32>(0.0);
    var acc29_0 = vec4<f32>(0.0);
    var acc29_1 = vec4<f32>(0.0);
    var acc30_0 = vec4<f32>(0.0);
    var acc30_1 = vec4<f32>(0.0);
    var acc31_0 = vec4<f32>(0.0);
    var acc31_1 = vec4<f32>(0.0);
    // Two steps of k per iteration where there are two: each accumulator is assigned once
    // per pair (llvmpipe blends every assignment to a loop-carried variable with the loop
    // mask, and spills these accumulators). The chains add step k, then k + 1 only where
    // it exists, so the sums are bit for bit those of one step per iteration.
    var k = 0u;
    loop {
        if (k >= p.k) { break; }
        let pair = k + 1u < p.k;
        let k_p = k;
        let kb_p = boff4 + k_p * n4;
        let b0_p = b4[kb_p + q0];
        let b1_p = b4[kb_p + q1];
        let ka_p = k_p * p.a_cs;
        let av0_p = a[ar0 + ka_p];
        let av1_p = a[ar1 + ka_p];
        let av2_p = a[ar2 + ka_p];
        let av3_p = a[ar3 + ka_p];
        let a0_p = vec4<f32>(subgroupBroadcast(av0_p, 0u));
        let a1_p = vec4<f32>(subgroupBroadcast(av0_p, 1u));
        let a2_p = vec4<f32>(subgroupBroadcast(av0_p, 2u));
        let a3_p = vec4<f32>(subgroupBroadcast(av0_p, 3u));
        let a4_p = vec4<f32>(subgroupBroadcast(av0_p, 4u));
        let a5_p = vec4<f32>(subgroupBroadcast(av0_p, 5u));
        let a6_p = vec4<f32>(subgroupBroadcast(av0_p, 6u));
        let a7_p = vec4<f32>(subgroupBroadcast(av0_p, 7u));
        let a8_p = vec4<f32>(subgroupBroadcast(av1_p, 0u));
        let a9_p = vec4<f32>(subgroupBroadcast(av1_p, 1u));
        let a10_p = vec4<f32>(subgroupBroadcast(av1_p, 2u));
        let a11_p = vec4<f32>(subgroupBroadcast(av1_p, 3u));
        let a12_p = vec4<f32>(subgroupBroadcast(av1_p, 4u));
        let a13_p = vec4<f32>(subgroupBroadcast(av1_p, 5u));
        let a14_p = vec4<f32>(subgroupBroadcast(av1_p, 6u));
        let a15_p = vec4<f32>(subgroupBroadcast(av1_p, 7u));
        let a16_p = vec4<f32>(subgroupBroadcast(av2_p, 0u));
        let a17_p = vec4<f32>(subgroupBroadcast(av2_p, 1u));
        let a18_p = vec4<f32>(subgroupBroadcast(av2_p, 2u));
        let a19_p = vec4<f32>(subgroupBroadcast(av2_p, 3u));
        let a20_p = vec4<f32>(subgroupBroadcast(av2_p, 4u));
        let a21_p = vec4<f32>(subgroupBroadcast(av2_p, 5u));
        let a22_p = vec4<f32>(subgroupBroadcast(av2_p, 6u));
        let a23_p = vec4<f32>(subgroupBroadcast(av2_p, 7u));
        let a24_p = vec4<f32>(subgroupBroadcast(av3_p, 0u));
        let a25_p = vec4<f32>(subgroupBroadcast(av3_p, 1u));
        let a26_p = vec4<f32>(subgroupBroadcast(av3_p, 2u));
        let a27_p = vec4<f32>(subgroupBroadcast(av3_p, 3u));
        let a28_p = vec4<f32>(subgroupBroadcast(av3_p, 4u));
        let a29_p = vec4<f32>(subgroupBroadcast(av3_p, 5u));
        let a30_p = vec4<f32>(subgroupBroadcast(av3_p, 6u));
        let a31_p = vec4<f32>(subgroupBroadcast(av3_p, 7u));
        let k_q = select(k, k + 1u, pair);
        let kb_q = boff4 + k_q * n4;
        let b0_q = b4[kb_q + q0];
        let b1_q = b4[kb_q + q1];
        let ka_q = k_q * p.a_cs;
        let av0_q = a[ar0 + ka_q];
        let av1_q = a[ar1 + ka_q];
        let av2_q = a[ar2 + ka_q];
        let av3_q = a[ar3 + ka_q];
        let a0_q = vec4<f32>(subgroupBroadcast(av0_q, 0u));
        let a1_q = vec4<f32>(subgroupBroadcast(av0_q, 1u));
        let a2_q = vec4<f32>(subgroupBroadcast(av0_q, 2u));
        let a3_q = vec4<f32>(subgroupBroadcast(av0_q, 3u));
        let a4_q = vec4<f32>(subgroupBroadcast(av0_q, 4u));
        let a5_q = vec4<f32>(subgroupBroadcast(av0_q, 5u));
        let a6_q = vec4<f32>(subgroupBroadcast(av0_q, 6u));
        let a7_q = vec4<f32>(subgroupBroadcast(av0_q, 7u));
        let a8_q = vec4<f32>(subgroupBroadcast(av1_q, 0u));
        let a9_q = vec4<f32>(subgroupBroadcast(av1_q, 1u));
        let a10_q = vec4<f32>(subgroupBroadcast(av1_q, 2u));
        let a11_q = vec4<f32>(subgroupBroadcast(av1_q, 3u));
        let a12_q = vec4<f32>(subgroupBroadcast(av1_q, 4u));
        let a13_q = vec4<f32>(subgroupBroadcast(av1_q, 5u));
        let a14_q = vec4<f32>(subgroupBroadcast(av1_q, 6u));
        let a15_q = vec4<f32>(subgroupBroadcast(av1_q, 7u));
        let a16_q = vec4<f32>(subgroupBroadcast(av2_q, 0u));
        let a17_q = vec4<f32>(subgroupBroadcast(av2_q, 1u));
        let a18_q = vec4<f32>(subgroupBroadcast(av2_q, 2u));
        let a19_q = vec4<f32>(subgroupBroadcast(av2_q, 3u));
        let a20_q = vec4<f32>(subgroupBroadcast(av2_q, 4u));
        let a21_q = vec4<f32>(subgroupBroadcast(av2_q, 5u));
        let a22_q = vec4<f32>(subgroupBroadcast(av2_q, 6u));
        let a23_q = vec4<f32>(subgroupBroadcast(av2_q, 7u));
        let a24_q = vec4<f32>(subgroupBroadcast(av3_q, 0u));
        let a25_q = vec4<f32>(subgroupBroadcast(av3_q, 1u));
        let a26_q = vec4<f32>(subgroupBroadcast(av3_q, 2u));
        let a27_q = vec4<f32>(subgroupBroadcast(av3_q, 3u));
        let a28_q = vec4<f32>(subgroupBroadcast(av3_q, 4u));
        let a29_q = vec4<f32>(subgroupBroadcast(av3_q, 5u));
        let a30_q = vec4<f32>(subgroupBroadcast(av3_q, 6u));
        let a31_q = vec4<f32>(subgroupBroadcast(av3_q, 7u));
        let acc0_0_t = fma(a0_p, b0_p, acc0_0);
        acc0_0 = select(acc0_0_t, fma(a0_q, b0_q, acc0_0_t), pair);
        let acc0_1_t = fma(a0_p, b1_p, acc0_1);
        acc0_1 = select(acc0_1_t, fma(a0_q, b1_q, acc0_1_t), pair);
        let acc1_0_t = fma(a1_p, b0_p, acc1_0);
        acc1_0 = select(acc1_0_t, fma(a1_q, b0_q, acc1_0_t), pair);
        let acc1_1_t = fma(a1_p, b1_p, acc1_1);
        acc1_1 = select(acc1_1_t, fma(a1_q, b1_q, acc1_1_t), pair);
        let acc2_0_t = fma(a2_p, b0_p, acc2_0);
        acc2_0 = select(acc2_0_t, fma(a2_q, b0_q, acc2_0_t), pair);
        let acc2_1_t = fma(a2_p, b1_p, acc2_1);
        acc2_1 = select(acc2_1_t, fma(a2_q, b1_q, acc2_1_t), pair);
        let acc3_0_t = fma(a3_p, b0_p, acc3_0);
        acc3_0 = select(acc3_0_t, fma(a3_q, b0_q, acc3_0_t), pair);
        let acc3_1_t = fma(a3_p, b1_p, acc3_1);
        acc3_1 = select(acc3_1_t, fma(a3_q, b1_q, acc3_1_t), pair);
        let acc4_0_t = fma(a4_p, b0_p, acc4_0);
        acc4_0 = select(acc4_0_t, fma(a4_q, b0_q, acc4_0_t), pair);
        let acc4_1_t = fma(a4_p, b1_p, acc4_1);
        acc4_1 = select(acc4_1_t, fma(a4_q, b1_q, acc4_1_t), pair);
        let acc5_0_t = fma(a5_p, b0_p, acc5_0);
        acc5_0 = select(acc5_0_t, fma(a5_q, b0_q, acc5_0_t), pair);
        let acc5_1_t = fma(a5_p, b1_p, acc5_1);
        acc5_1 = select(acc5_1_t, fma(a5_q, b1_q, acc5_1_t), pair);
        let acc6_0_t = fma(a6_p, b0_p, acc6_0);
        acc6_0 = select(acc6_0_t, fma(a6_q, b0_q, acc6_0_t), pair);
        let acc6_1_t = fma(a6_p, b1_p, acc6_1);
        acc6_1 = select(acc6_1_t, fma(a6_q, b1_q, acc6_1_t), pair);
        let acc7_0_t = fma(a7_p, b0_p, acc7_0);
        acc7_0 = select(acc7_0_t, fma(a7_q, b0_q, acc7_0_t), pair);
        let acc7_1_t = fma(a7_p, b1_p, acc7_1);
        acc7_1 = select(acc7_1_t, fma(a7_q, b1_q, acc7_1_t), pair);
        let acc8_0_t = fma(a8_p, b0_p, acc8_0);
        acc8_0 = select(acc8_0_t, fma(a8_q, b0_q, acc8_0_t), pair);
        let acc8_1_t = fma(a8_p, b1_p, acc8_1);
        acc8_1 = select(acc8_1_t, fma(a8_q, b1_q, acc8_1_t), pair);
        let acc9_0_t = fma(a9_p, b0_p, acc9_0);
        acc9_0 = select(acc9_0_t, fma(a9_q, b0_q, acc9_0_t), pair);
        let acc9_1_t = fma(a9_p, b1_p, acc9_1);
        acc9_1 = select(acc9_1_t, fma(a9_q, b1_q, acc9_1_t), pair);
        let acc10_0_t = fma(a10_p, b0_p, acc10_0);
        acc10_0 = select(acc10_0_t, fma(a10_q, b0_q, acc10_0_t), pair);
        let acc10_1_t = fma(a10_p, b1_p, acc10_1);
        acc10_1 = select(acc10_1_t, fma(a10_q, b1_q, acc10_1_t), pair);
        let acc11_0_t = fma(a11_p, b0_p, acc11_0);
        acc11_0 = select(acc11_0_t, fma(a11_q, b0_q, acc11_0_t), pair);
        let acc11_1_t = fma(a11_p, b1_p, acc11_1);
        acc11_1 = select(acc11_1_t, fma(a11_q, b1_q, acc11_1_t), pair);
        let acc12_0_t = fma(a12_p, b0_p, acc12_0);
        acc12_0 = select(acc12_0_t, fma(a12_q, b0_q, acc12_0_t), pair);
        let acc12_1_t = fma(a12_p, b1_p, acc12_1);
        acc12_1 = select(acc12_1_t, fma(a12_q, b1_q, acc12_1_t), pair);
        let acc13_0_t = fma(a13_p, b0_p, acc13_0);
        acc13_0 = select(acc13_0_t, fma(a13_q, b0_q, acc13_0_t), pair);
        let acc13_1_t = fma(a13_p, b1_p, acc13_1);
        acc13_1 = select(acc13_1_t, fma(a13_q, b1_q, acc13_1_t), pair);
        let acc14_0_t = fma(a14_p, b0_p, acc14_0);
        acc14_0 = select(acc14_0_t, fma(a14_q, b0_q, acc14_0_t), pair);
        let acc14_1_t = fma(a14_p, b1_p, acc14_1);
        acc14_1 = select(acc14_1_t, fma(a14_q, b1_q, acc14_1_t), pair);
        let acc15_0_t = fma(a15_p, b0_p, acc15_0);
        acc15_0 = select(acc15_0_t, fma(a15_q, b0_q, acc15_0_t), pair);
        let acc15_1_t = fma(a15_p, b1_p, acc15_1);
        acc15_1 = select(acc15_1_t, fma(a15_q, b1_q, acc15_1_t), pair);
        let acc16_0_t = fma(a16_p, b0_p, acc16_0);
        acc16_0 = select(acc16_0_t, fma(a16_q, b0_q, acc16_0_t), pair);
        let acc16_1_t = fma(a16_p, b1_p, acc16_1);
        acc16_1 = select(acc16_1_t, fma(a16_q, b1_q, acc16_1_t), pair);
        let acc17_0_t = fma(a17_p, b0_p, acc17_0);
        acc17_0 = select(acc17_0_t, fma(a17_q, b0_q, acc17_0_t), pair);
        let acc17_1_t = fma(a17_p, b1_p, acc17_1);
        acc17_1 = select(acc17_1_t, fma(a17_q, b1_q, acc17_1_t), pair);
        let acc18_0_t = fma(a18_p, b0_p, acc18_0);
        acc18_0 = select(acc18_0_t, fma(a18_q, b0_q, acc18_0_t), pair);
        let acc18_1_t = fma(a18_p, b1_p, acc18_1);
        acc18_1 = select(acc18_1_t, fma(a18_q, b1_q, acc18_1_t), pair);
        let acc19_0_t = fma(a19_p, b0_p, acc19_0);
        acc19_0 = select(acc19_0_t, fma(a19_q, b0_q, acc19_0_t), pair);
        let acc19_1_t = fma(a19_p, b1_p, acc19_1);
        acc19_1 = select(acc19_1_t, fma(a19_q, b1_q, acc19_1_t), pair);
        let acc20_0_t = fma(a20_p, b0_p, acc20_0);
        acc20_0 = select(acc20_0_t, fma(a20_q, b0_q, acc20_0_t), pair);
        let acc20_1_t = fma(a20_p, b1_p, acc20_1);
        acc20_1 = select(acc20_1_t, fma(a20_q, b1_q, acc20_1_t), pair);
        let acc21_0_t = fma(a21_p, b0_p, acc21_0);
        acc21_0 = select(acc21_0_t, fma(a21_q, b0_q, acc21_0_t), pair);
        let acc21_1_t = fma(a21_p, b1_p, acc21_1);
        acc21_1 = select(acc21_1_t, fma(a21_q, b1_q, acc21_1_t), pair);
        let acc22_0_t = fma(a22_p, b0_p, acc22_0);
        acc22_0 = select(acc22_0_t, fma(a22_q, b0_q, acc22_0_t), pair);
        let acc22_1_t = fma(a22_p, b1_p, acc22_1);
        acc22_1 = select(acc22_1_t, fma(a22_q, b1_q, acc22_1_t), pair);
        let acc23_0_t = fma(a23_p, b0_p, acc23_0);
        acc23_0 = select(acc23_0_t, fma(a23_q, b0_q, acc23_0_t), pair);
        let acc23_1_t = fma(a23_p, b1_p, acc23_1);
        acc23_1 = select(acc23_1_t, fma(a23_q, b1_q, acc23_1_t), pair);
        let acc24_0_t = fma(a24_p, b0_p, acc24_0);
        acc24_0 = select(acc24_0_t, fma(a24_q, b0_q, acc24_0_t), pair);
        let acc24_1_t = fma(a24_p, b1_p, acc24_1);
        acc24_1 = select(acc24_1_t, fma(a24_q, b1_q, acc24_1_t), pair);
        let acc25_0_t = fma(a25_p, b0_p, acc25_0);
        acc25_0 = select(acc25_0_t, fma(a25_q, b0_q, acc25_0_t), pair);
        let acc25_1_t = fma(a25_p, b1_p, acc25_1);
        acc25_1 = select(acc25_1_t, fma(a25_q, b1_q, acc25_1_t), pair);
        let acc26_0_t = fma(a26_p, b0_p, acc26_0);
        acc26_0 = select(acc26_0_t, fma(a26_q, b0_q, acc26_0_t), pair);
        let acc26_1_t = fma(a26_p, b1_p, acc26_1);
        acc26_1 = select(acc26_1_t, fma(a26_q, b1_q, acc26_1_t), pair);
        let acc27_0_t = fma(a27_p, b0_p, acc27_0);
        acc27_0 = select(acc27_0_t, fma(a27_q, b0_q, acc27_0_t), pair);
        let acc27_1_t = fma(a27_p, b1_p, acc27_1);
        acc27_1 = select(acc27_1_t, fma(a27_q, b1_q, acc27_1_t), pair);
        let acc28_0_t = fma(a28_p, b0_p, acc28_0);
        acc28_0 = select(acc28_0_t, fma(a28_q, b0_q, acc28_0_t), pair);
        let acc28_1_t = fma(a28_p, b1_p, acc28_1);
        acc28_1 = select(acc28_1_t, fma(a28_q, b1_q, acc28_1_t), pair);
        let acc29_0_t = fma(a29_p, b0_p, acc29_0);
        acc29_0 = select(acc29_0_t, fma(a29_q, b0_q, acc29_0_t), pair);
        let acc29_1_t = fma(a29_p, b1_p, acc29_1);
        acc29_1 = select(acc29_1_t, fma(a29_q, b1_q, acc29_1_t), pair);
        let acc30_0_t = fma(a30_p, b0_p, acc30_0);
        acc30_0 = select(acc30_0_t, fma(a30_q, b0_q, acc30_0_t), pair);
        let acc30_1_t = fma(a30_p, b1_p, acc30_1);
        acc30_1 = select(acc30_1_t, fma(a30_q, b1_q, acc30_1_t), pair);
        let acc31_0_t = fma(a31_p, b0_p, acc31_0);
        acc31_0 = select(acc31_0_t, fma(a31_q, b0_q, acc31_0_t), pair);
        let acc31_1_t = fma(a31_p, b1_p, acc31_1);
        acc31_1 = select(acc31_1_t, fma(a31_q, b1_q, acc31_1_t), pair);
        k = k + select(1u, 2u, pair);
    }
    let coff = batch * p.m * p.n;
    store4(row0 + 0u, col, coff, acc0_0);
    store4(row0 + 0u, col + 4u, coff, acc0_1);
    store4(row0 + 1u, col, coff, acc1_0);
    store4(row0 + 1u, col + 4u, coff, acc1_1);
    store4(row0 + 2u, col, coff, acc2_0);
    store4(row0 + 2u, col + 4u, coff, acc2_1);
    store4(row0 + 3u, col, coff, acc3_0);
    store4(row0 + 3u, col + 4u, coff, acc3_1);
    store4(row0 + 4u, col, coff, acc4_0);
    store4(row0 + 4u, col + 4u, coff, acc4_1);
    store4(row0 + 5u, col, coff, acc5_0);
    store4(row0 + 5u, col + 4u, coff, acc5_1);
    store4(row0 + 6u, col, coff, acc6_0);
    store4(row0 + 6u, col + 4u, coff, acc6_1);
    store4(row0 + 7u, col, coff, acc7_0);
    store4(row0 + 7u, col + 4u, coff, acc7_1);
    store4(row0 + 8u, col, coff, acc8_0);
    store4(row0 + 8u, col + 4u, coff, acc8_1);
    store4(row0 + 9u, col, coff, acc9_0);
    store4(row0 + 9u, col + 4u, coff, acc9_1);
    store4(row0 + 10u, col, coff, acc10_0);
    store4(row0 + 10u, col + 4u, coff, acc10_1);
    store4(row0 + 11u, col, coff, acc11_0);
    store4(row0 + 11u, col + 4u, coff, acc11_1);
    store4(row0 + 12u, col, coff, acc12_0);
    store4(row0 + 12u, col + 4u, coff, acc12_1);
    store4(row0 + 13u, col, coff, acc13_0);
    store4(row0 + 13u, col + 4u, coff, acc13_1);
    store4(row0 + 14u, col, coff, acc14_0);
    store4(row0 + 14u, col + 4u, coff, acc14_1);
    store4(row0 + 15u, col, coff, acc15_0);
    store4(row0 + 15u, col + 4u, coff, acc15_1);
    store4(row0 + 16u, col, coff, acc16_0);
    store4(row0 + 16u, col + 4u, coff, acc16_1);
    store4(row0 + 17u, col, coff, acc17_0);
    store4(row0 + 17u, col + 4u, coff, acc17_1);
    store4(row0 + 18u, col, coff, acc18_0);
    store4(row0 + 18u, col + 4u, coff, acc18_1);
    store4(row0 + 19u, col, coff, acc19_0);
    store4(row0 + 19u, col + 4u, coff, acc19_1);
    store4(row0 + 20u, col, coff, acc20_0);
    store4(row0 + 20u, col + 4u, coff, acc20_1);
    store4(row0 + 21u, col, coff, acc21_0);
    store4(row0 + 21u, col + 4u, coff, acc21_1);
    store4(row0 + 22u, col, coff, acc22_0);
    store4(row0 + 22u, col + 4u, coff, acc22_1);
    store4(row0 + 23u, col, coff, acc23_0);
    store4(row0 + 23u, col + 4u, coff, acc23_1);
    store4(row0 + 24u, col, coff, acc24_0);
    store4(row0 + 24u, col + 4u, coff, acc24_1);
    store4(row0 + 25u, col, coff, acc25_0);
    store4(row0 + 25u, col + 4u, coff, acc25_1);
    store4(row0 + 26u, col, coff, acc26_0);
    store4(row0 + 26u, col + 4u, coff, acc26_1);
    store4(row0 + 27u, col, coff, acc27_0);
    store4(row0 + 27u, col + 4u, coff, acc27_1);
    store4(row0 + 28u, col, coff, acc28_0);
    store4(row0 + 28u, col + 4u, coff, acc28_1);
    store4(row0 + 29u, col, coff, acc29_0);
    store4(row0 + 29u, col + 4u, coff, acc29_1);
    store4(row0 + 30u, col, coff, acc30_0);
    store4(row0 + 30u, col + 4u, coff, acc30_1);
    store4(row0 + 31u, col, coff, acc31_0);
    store4(row0 + 31u, col + 4u, coff, acc31_1);
}

// Any layout: B read as 8 scalars per k through its strides.
@compute @workgroup_size(16)
fn matmul_sg_any(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32, @builtin(subgroup_invocation_id) sl: u32) {
    let batch = wid.z;
    let row0 = wid.y * 32u;
    let col = (wid.x * 16u + lane) * 8u;
    // A subgroup with all its columns past N leaves (whole, so the broadcasts below still
    // see every lane of the subgroups that stay).
    if (subgroupAll(col >= p.n)) { return; }
    let aoff = batch * p.a_bs;
    // Lane sl of each 8-lane subgroup loads rows row0 + sl, + 8, + 16, + 24; the other
    // lanes get them by broadcast.
    let ar0 = aoff + min(row0 + 0u + sl, p.m - 1u) * p.a_rs;
    let ar1 = aoff + min(row0 + 8u + sl, p.m - 1u) * p.a_rs;
    let ar2 = aoff + min(row0 + 16u + sl, p.m - 1u) * p.a_rs;
    let ar3 = aoff + min(row0 + 24u + sl, p.m - 1u) * p.a_rs;
    let boff = batch * p.b_bs;
    let c0 = boff + min(col + 0u, p.n - 1u) * p.b_cs;
    let c1 = boff + min(col + 1u, p.n - 1u) * p.b_cs;
    let c2 = boff + min(col + 2u, p.n - 1u) * p.b_cs;
    let c3 = boff + min(col + 3u, p.n - 1u) * p.b_cs;
    let c4 = boff + min(col + 4u, p.n - 1u) * p.b_cs;
    let c5 = boff + min(col + 5u, p.n - 1u) * p.b_cs;
    let c6 = boff + min(col + 6u, p.n - 1u) * p.b_cs;
    let c7 = boff + min(col + 7u, p.n - 1u) * p.b_cs;
    var acc0_0 = vec4<f32>(0.0);
    var acc0_1 = vec4<f32>(0.0);
    var acc1_0 = vec4<f32>(0.0);
    var acc1_1 = vec4<f32>(0.0);
    var acc2_0 = vec4<f32>(0.0);
    var acc2_1 = vec4<f32>(0.0);
    var acc3_0 = vec4<f32>(0.0);
    var acc3_1 = vec4<f32>(0.0);
    var acc4_0 = vec4<f32>(0.0);
    var acc4_1 = vec4<f32>(0.0);
    var acc5_0 = vec4<f32>(0.0);
    var acc5_1 = vec4<f32>(0.0);
    var acc6_0 = vec4<f32>(0.0);
    var acc6_1 = vec4<f32>(0.0);
    var acc7_0 = vec4<f32>(0.0);
    var acc7_1 = vec4<f32>(0.0);
    var acc8_0 = vec4<f32>(0.0);
    var acc8_1 = vec4<f32>(0.0);
    var acc9_0 = vec4<f32>(0.0);
    var acc9_1 = vec4<f32>(0.0);
    var acc10_0 = vec4<f32>(0.0);
    var acc10_1 = vec4<f32>(0.0);
    var acc11_0 = vec4<f32>(0.0);
    var acc11_1 = vec4<f32>(0.0);
    var acc12_0 = vec4<f32>(0.0);
    var acc12_1 = vec4<f32>(0.0);
    var acc13_0 = vec4<f32>(0.0);
    var acc13_1 = vec4<f32>(0.0);
    var acc14_0 = vec4<f32>(0.0);
    var acc14_1 = vec4<f32>(0.0);
    var acc15_0 = vec4<f32>(0.0);
    var acc15_1 = vec4<f32>(0.0);
    var acc16_0 = vec4<f32>(0.0);
    var acc16_1 = vec4<f32>(0.0);
    var acc17_0 = vec4<f32>(0.0);
    var acc17_1 = vec4<f32>(0.0);
    var acc18_0 = vec4<f32>(0.0);
    var acc18_1 = vec4<f32>(0.0);
    var acc19_0 = vec4<f32>(0.0);
    var acc19_1 = vec4<f32>(0.0);
    var acc20_0 = vec4<f32>(0.0);
    var acc20_1 = vec4<f32>(0.0);
    var acc21_0 = vec4<f32>(0.0);
    var acc21_1 = vec4<f32>(0.0);
    var acc22_0 = vec4<f32>(0.0);
    var acc22_1 = vec4<f32>(0.0);
    var acc23_0 = vec4<f32>(0.0);
    var acc23_1 = vec4<f32>(0.0);
    var acc24_0 = vec4<f32>(0.0);
    var acc24_1 = vec4<f32>(0.0);
    var acc25_0 = vec4<f32>(0.0);
    var acc25_1 = vec4<f32>(0.0);
    var acc26_0 = vec4<f32>(0.0);
    var acc26_1 = vec4<f32>(0.0);
    var acc27_0 = vec4<f32>(0.0);
    var acc27_1 = vec4<f32>(0.0);
    var acc28_0 = vec4<f32>(0.0);
    var acc28_1 = vec4<f32>(0.0);
    var acc29_0 = vec4<f32>(0.0);
    var acc29_1 = vec4<f32>(0.0);
    var acc30_0 = vec4<f32>(0.0);
    var acc30_1 = vec4<f32>(0.0);
    var acc31_0 = vec4<f32>(0.0);
    var acc31_1 = vec4<f32>(0.0);
    // Two steps of k per iteration where there are two: each accumulator is assigned once
    // per pair (llvmpipe blends every assignment to a loop-carried variable with the loop
    // mask, and spills these accumulators). The chains add step k, then k + 1 only where
    // it exists, so the sums are bit for bit those of one step per iteration.
    var k = 0u;
    loop {
        if (k >= p.k) { break; }
        let pair = k + 1u < p.k;
        let k_p = k;
        let kb_p = k_p * p.b_rs;
        let b0_p = vec4<f32>(b[kb_p + c0], b[kb_p + c1], b[kb_p + c2], b[kb_p + c3]);
        let b1_p = vec4<f32>(b[kb_p + c4], b[kb_p + c5], b[kb_p + c6], b[kb_p + c7]);
        let ka_p = k_p * p.a_cs;
        let av0_p = a[ar0 + ka_p];
        let av1_p = a[ar1 + ka_p];
        let av2_p = a[ar2 + ka_p];
        let av3_p = a[ar3 + ka_p];
        let a0_p = vec4<f32>(subgroupBroadcast(av0_p, 0u));
        let a1_p = vec4<f32>(subgroupBroadcast(av0_p, 1u));
        let a2_p = vec4<f32>(subgroupBroadcast(av0_p, 2u));
        let a3_p = vec4<f32>(subgroupBroadcast(av0_p, 3u));
        let a4_p = vec4<f32>(subgroupBroadcast(av0_p, 4u));
        let a5_p = vec4<f32>(subgroupBroadcast(av0_p, 5u));
        let a6_p = vec4<f32>(subgroupBroadcast(av0_p, 6u));
        let a7_p = vec4<f32>(subgroupBroadcast(av0_p, 7u));
        let a8_p = vec4<f32>(subgroupBroadcast(av1_p, 0u));
        let a9_p = vec4<f32>(subgroupBroadcast(av1_p, 1u));
        let a10_p = vec4<f32>(subgroupBroadcast(av1_p, 2u));
        let a11_p = vec4<f32>(subgroupBroadcast(av1_p, 3u));
        let a12_p = vec4<f32>(subgroupBroadcast(av1_p, 4u));
        let a13_p = vec4<f32>(subgroupBroadcast(av1_p, 5u));
        let a14_p = vec4<f32>(subgroupBroadcast(av1_p, 6u));
        let a15_p = vec4<f32>(subgroupBroadcast(av1_p, 7u));
        let a16_p = vec4<f32>(subgroupBroadcast(av2_p, 0u));
        let a17_p = vec4<f32>(subgroupBroadcast(av2_p, 1u));
        let a18_p = vec4<f32>(subgroupBroadcast(av2_p, 2u));
        let a19_p = vec4<f32>(subgroupBroadcast(av2_p, 3u));
        let a20_p = vec4<f32>(subgroupBroadcast(av2_p, 4u));
        let a21_p = vec4<f32>(subgroupBroadcast(av2_p, 5u));
        let a22_p = vec4<f32>(subgroupBroadcast(av2_p, 6u));
        let a23_p = vec4<f32>(subgroupBroadcast(av2_p, 7u));
        let a24_p = vec4<f32>(subgroupBroadcast(av3_p, 0u));
        let a25_p = vec4<f32>(subgroupBroadcast(av3_p, 1u));
        let a26_p = vec4<f32>(subgroupBroadcast(av3_p, 2u));
        let a27_p = vec4<f32>(subgroupBroadcast(av3_p, 3u));
        let a28_p = vec4<f32>(subgroupBroadcast(av3_p, 4u));
        let a29_p = vec4<f32>(subgroupBroadcast(av3_p, 5u));
        let a30_p = vec4<f32>(subgroupBroadcast(av3_p, 6u));
        let a31_p = vec4<f32>(subgroupBroadcast(av3_p, 7u));
        let k_q = select(k, k + 1u, pair);
        let kb_q = k_q * p.b_rs;
        let b0_q = vec4<f32>(b[kb_q + c0], b[kb_q + c1], b[kb_q + c2], b[kb_q + c3]);
        let b1_q = vec4<f32>(b[kb_q + c4], b[kb_q + c5], b[kb_q + c6], b[kb_q + c7]);
        let ka_q = k_q * p.a_cs;
        let av0_q = a[ar0 + ka_q];
        let av1_q = a[ar1 + ka_q];
        let av2_q = a[ar2 + ka_q];
        let av3_q = a[ar3 + ka_q];
        let a0_q = vec4<f32>(subgroupBroadcast(av0_q, 0u));
        let a1_q = vec4<f32>(subgroupBroadcast(av0_q, 1u));
        let a2_q = vec4<f32>(subgroupBroadcast(av0_q, 2u));
        let a3_q = vec4<f32>(subgroupBroadcast(av0_q, 3u));
        let a4_q = vec4<f32>(subgroupBroadcast(av0_q, 4u));
        let a5_q = vec4<f32>(subgroupBroadcast(av0_q, 5u));
        let a6_q = vec4<f32>(subgroupBroadcast(av0_q, 6u));
        let a7_q = vec4<f32>(subgroupBroadcast(av0_q, 7u));
        let a8_q = vec4<f32>(subgroupBroadcast(av1_q, 0u));
        let a9_q = vec4<f32>(subgroupBroadcast(av1_q, 1u));
        let a10_q = vec4<f32>(subgroupBroadcast(av1_q, 2u));
        let a11_q = vec4<f32>(subgroupBroadcast(av1_q, 3u));
        let a12_q = vec4<f32>(subgroupBroadcast(av1_q, 4u));
        let a13_q = vec4<f32>(subgroupBroadcast(av1_q, 5u));
        let a14_q = vec4<f32>(subgroupBroadcast(av1_q, 6u));
        let a15_q = vec4<f32>(subgroupBroadcast(av1_q, 7u));
        let a16_q = vec4<f32>(subgroupBroadcast(av2_q, 0u));
        let a17_q = vec4<f32>(subgroupBroadcast(av2_q, 1u));
        let a18_q = vec4<f32>(subgroupBroadcast(av2_q, 2u));
        let a19_q = vec4<f32>(subgroupBroadcast(av2_q, 3u));
        let a20_q = vec4<f32>(subgroupBroadcast(av2_q, 4u));
        let a21_q = vec4<f32>(subgroupBroadcast(av2_q, 5u));
        let a22_q = vec4<f32>(subgroupBroadcast(av2_q, 6u));
        let a23_q = vec4<f32>(subgroupBroadcast(av2_q, 7u));
        let a24_q = vec4<f32>(subgroupBroadcast(av3_q, 0u));
        let a25_q = vec4<f32>(subgroupBroadcast(av3_q, 1u));
        let a26_q = vec4<f32>(subgroupBroadcast(av3_q, 2u));
        let a27_q = vec4<f32>(subgroupBroadcast(av3_q, 3u));
        let a28_q = vec4<f32>(subgroupBroadcast(av3_q, 4u));
        let a29_q = vec4<f32>(subgroupBroadcast(av3_q, 5u));
        let a30_q = vec4<f32>(subgroupBroadcast(av3_q, 6u));
        let a31_q = vec4<f32>(subgroupBroadcast(av3_q, 7u));
        let acc0_0_t = fma(a0_p, b0_p, acc0_0);
        acc0_0 = select(acc0_0_t, fma(a0_q, b0_q, acc0_0_t), pair);
        let acc0_1_t = fma(a0_p, b1_p, acc0_1);
        acc0_1 = select(acc0_1_t, fma(a0_q, b1_q, acc0_1_t), pair);
        let acc1_0_t = fma(a1_p, b0_p, acc1_0);
        acc1_0 = select(acc1_0_t, fma(a1_q, b0_q, acc1_0_t), pair);
        let acc1_1_t = fma(a1_p, b1_p, acc1_1);
        acc1_1 = select(acc1_1_t, fma(a1_q, b1_q, acc1_1_t), pair);
        let acc2_0_t = fma(a2_p, b0_p, acc2_0);
        acc2_0 = select(acc2_0_t, fma(a2_q, b0_q, acc2_0_t), pair);
        let acc2_1_t = fma(a2_p, b1_p, acc2_1);
        acc2_1 = select(acc2_1_t, fma(a2_q, b1_q, acc2_1_t), pair);
        let acc3_0_t = fma(a3_p, b0_p, acc3_0);
        acc3_0 = select(acc3_0_t, fma(a3_q, b0_q, acc3_0_t), pair);
        let acc3_1_t = fma(a3_p, b1_p, acc3_1);
        acc3_1 = select(acc3_1_t, fma(a3_q, b1_q, acc3_1_t), pair);
        let acc4_0_t = fma(a4_p, b0_p, acc4_0);
        acc4_0 = select(acc4_0_t, fma(a4_q, b0_q, acc4_0_t), pair);
        let acc4_1_t = fma(a4_p, b1_p, acc4_1);
        acc4_1 = select(acc4_1_t, fma(a4_q, b1_q, acc4_1_t), pair);
        let acc5_0_t = fma(a5_p, b0_p, acc5_0);
        acc5_0 = select(acc5_0_t, fma(a5_q, b0_q, acc5_0_t), pair);
        let acc5_1_t = fma(a5_p, b1_p, acc5_1);
        acc5_1 = select(acc5_1_t, fma(a5_q, b1_q, acc5_1_t), pair);
        let acc6_0_t = fma(a6_p, b0_p, acc6_0);
        acc6_0 = select(acc6_0_t, fma(a6_q, b0_q, acc6_0_t), pair);
        let acc6_1_t = fma(a6_p, b1_p, acc6_1);
        acc6_1 = select(acc6_1_t, fma(a6_q, b1_q, acc6_1_t), pair);
        let acc7_0_t = fma(a7_p, b0_p, acc7_0);
        acc7_0 = select(acc7_0_t, fma(a7_q, b0_q, acc7_0_t), pair);
        let acc7_1_t = fma(a7_p, b1_p, acc7_1);
        acc7_1 = select(acc7_1_t, fma(a7_q, b1_q, acc7_1_t), pair);
        let acc8_0_t = fma(a8_p, b0_p, acc8_0);
        acc8_0 = select(acc8_0_t, fma(a8_q, b0_q, acc8_0_t), pair);
        let acc8_1_t = fma(a8_p, b1_p, acc8_1);
        acc8_1 = select(acc8_1_t, fma(a8_q, b1_q, acc8_1_t), pair);
        let acc9_0_t = fma(a9_p, b0_p, acc9_0);
        acc9_0 = select(acc9_0_t, fma(a9_q, b0_q, acc9_0_t), pair);
        let acc9_1_t = fma(a9_p, b1_p, acc9_1);
        acc9_1 = select(acc9_1_t, fma(a9_q, b1_q, acc9_1_t), pair);
        let acc10_0_t = fma(a10_p, b0_p, acc10_0);
        acc10_0 = select(acc10_0_t, fma(a10_q, b0_q, acc10_0_t), pair);
        let acc10_1_t = fma(a10_p, b1_p, acc10_1);
        acc10_1 = select(acc10_1_t, fma(a10_q, b1_q, acc10_1_t), pair);
        let acc11_0_t = fma(a11_p, b0_p, acc11_0);
        acc11_0 = select(acc11_0_t, fma(a11_q, b0_q, acc11_0_t), pair);
        let acc11_1_t = fma(a11_p, b1_p, acc11_1);
        acc11_1 = select(acc11_1_t, fma(a11_q, b1_q, acc11_1_t), pair);
        let acc12_0_t = fma(a12_p, b0_p, acc12_0);
        acc12_0 = select(acc12_0_t, fma(a12_q, b0_q, acc12_0_t), pair);
        let acc12_1_t = fma(a12_p, b1_p, acc12_1);
        acc12_1 = select(acc12_1_t, fma(a12_q, b1_q, acc12_1_t), pair);
        let acc13_0_t = fma(a13_p, b0_p, acc13_0);
        acc13_0 = select(acc13_0_t, fma(a13_q, b0_q, acc13_0_t), pair);
        let acc13_1_t = fma(a13_p, b1_p, acc13_1);
        acc13_1 = select(acc13_1_t, fma(a13_q, b1_q, acc13_1_t), pair);
        let acc14_0_t = fma(a14_p, b0_p, acc14_0);
        acc14_0 = select(acc14_0_t, fma(a14_q, b0_q, acc14_0_t), pair);
        let acc14_1_t = fma(a14_p, b1_p, acc14_1);
        acc14_1 = select(acc14_1_t, fma(a14_q, b1_q, acc14_1_t), pair);
        let acc15_0_t = fma(a15_p, b0_p, acc15_0);
        acc15_0 = select(acc15_0_t, fma(a15_q, b0_q, acc15_0_t), pair);
        let acc15_1_t = fma(a15_p, b1_p, acc15_1);
        acc15_1 = select(acc15_1_t, fma(a15_q, b1_q, acc15_1_t), pair);
        let acc16_0_t = fma(a16_p, b0_p, acc16_0);
        acc16_0 = select(acc16_0_t, fma(a16_q, b0_q, acc16_0_t), pair);
        let acc16_1_t = fma(a16_p, b1_p, acc16_1);
        acc16_1 = select(acc16_1_t, fma(a16_q, b1_q, acc16_1_t), pair);
        let acc17_0_t = fma(a17_p, b0_p, acc17_0);
        acc17_0 = select(acc17_0_t, fma(a17_q, b0_q, acc17_0_t), pair);
        let acc17_1_t = fma(a17_p, b1_p, acc17_1);
        acc17_1 = select(acc17_1_t, fma(a17_q, b1_q, acc17_1_t), pair);
        let acc18_0_t = fma(a18_p, b0_p, acc18_0);
        acc18_0 = select(acc18_0_t, fma(a18_q, b0_q, acc18_0_t), pair);
        let acc18_1_t = fma(a18_p, b1_p, acc18_1);
        acc18_1 = select(acc18_1_t, fma(a18_q, b1_q, acc18_1_t), pair);
        let acc19_0_t = fma(a19_p, b0_p, acc19_0);
        acc19_0 = select(acc19_0_t, fma(a19_q, b0_q, acc19_0_t), pair);
        let acc19_1_t = fma(a19_p, b1_p, acc19_1);
        acc19_1 = select(acc19_1_t, fma(a19_q, b1_q, acc19_1_t), pair);
        let acc20_0_t = fma(a20_p, b0_p, acc20_0);
        acc20_0 = select(acc20_0_t, fma(a20_q, b0_q, acc20_0_t), pair);
        let acc20_1_t = fma(a20_p, b1_p, acc20_1);
        acc20_1 = select(acc20_1_t, fma(a20_q, b1_q, acc20_1_t), pair);
        let acc21_0_t = fma(a21_p, b0_p, acc21_0);
        acc21_0 = select(acc21_0_t, fma(a21_q, b0_q, acc21_0_t), pair);
        let acc21_1_t = fma(a21_p, b1_p, acc21_1);
        acc21_1 = select(acc21_1_t, fma(a21_q, b1_q, acc21_1_t), pair);
        let acc22_0_t = fma(a22_p, b0_p, acc22_0);
        acc22_0 = select(acc22_0_t, fma(a22_q, b0_q, acc22_0_t), pair);
        let acc22_1_t = fma(a22_p, b1_p, acc22_1);
        acc22_1 = select(acc22_1_t, fma(a22_q, b1_q, acc22_1_t), pair);
        let acc23_0_t = fma(a23_p, b0_p, acc23_0);
        acc23_0 = select(acc23_0_t, fma(a23_q, b0_q, acc23_0_t), pair);
        let acc23_1_t = fma(a23_p, b1_p, acc23_1);
        acc23_1 = select(acc23_1_t, fma(a23_q, b1_q, acc23_1_t), pair);
        let acc24_0_t = fma(a24_p, b0_p, acc24_0);
        acc24_0 = select(acc24_0_t, fma(a24_q, b0_q, acc24_0_t), pair);
        let acc24_1_t = fma(a24_p, b1_p, acc24_1);
        acc24_1 = select(acc24_1_t, fma(a24_q, b1_q, acc24_1_t), pair);
        let acc25_0_t = fma(a25_p, b0_p, acc25_0);
        acc25_0 = select(acc25_0_t, fma(a25_q, b0_q, acc25_0_t), pair);
        let acc25_1_t = fma(a25_p, b1_p, acc25_1);
        acc25_1 = select(acc25_1_t, fma(a25_q, b1_q, acc25_1_t), pair);
        let acc26_0_t = fma(a26_p, b0_p, acc26_0);
        acc26_0 = select(acc26_0_t, fma(a26_q, b0_q, acc26_0_t), pair);
        let acc26_1_t = fma(a26_p, b1_p, acc26_1);
        acc26_1 = select(acc26_1_t, fma(a26_q, b1_q, acc26_1_t), pair);
        let acc27_0_t = fma(a27_p, b0_p, acc27_0);
        acc27_0 = select(acc27_0_t, fma(a27_q, b0_q, acc27_0_t), pair);
        let acc27_1_t = fma(a27_p, b1_p, acc27_1);
        acc27_1 = select(acc27_1_t, fma(a27_q, b1_q, acc27_1_t), pair);
        let acc28_0_t = fma(a28_p, b0_p, acc28_0);
        acc28_0 = select(acc28_0_t, fma(a28_q, b0_q, acc28_0_t), pair);
        let acc28_1_t = fma(a28_p, b1_p, acc28_1);
        acc28_1 = select(acc28_1_t, fma(a28_q, b1_q, acc28_1_t), pair);
        let acc29_0_t = fma(a29_p, b0_p, acc29_0);
        acc29_0 = select(acc29_0_t, fma(a29_q, b0_q, acc29_0_t), pair);
        let acc29_1_t = fma(a29_p, b1_p, acc29_1);
        acc29_1 = select(acc29_1_t, fma(a29_q, b1_q, acc29_1_t), pair);
        let acc30_0_t = fma(a30_p, b0_p, acc30_0);
        acc30_0 = select(acc30_0_t, fma(a30_q, b0_q, acc30_0_t), pair);
        let acc30_1_t = fma(a30_p, b1_p, acc30_1);
        acc30_1 = select(acc30_1_t, fma(a30_q, b1_q, acc30_1_t), pair);
        let acc31_0_t = fma(a31_p, b0_p, acc31_0);
        acc31_0 = select(acc31_0_t, fma(a31_q, b0_q, acc31_0_t), pair);
        let acc31_1_t = fma(a31_p, b1_p, acc31_1);
        acc31_1 = select(acc31_1_t, fma(a31_q, b1_q, acc31_1_t), pair);
        k = k + select(1u, 2u, pair);
    }
    let coff = batch * p.m * p.n;
    store4(row0 + 0u, col, coff, acc0_0);
    store4(row0 + 0u, col + 4u, coff, acc0_1);
    store4(row0 + 1u, col, coff, acc1_0);
    store4(row0 + 1u, col + 4u, coff, acc1_1);
    store4(row0 + 2u, col, coff, acc2_0);
    store4(row0 + 2u, col + 4u, coff, acc2_1);
    store4(row0 + 3u, col, coff, acc3_0);
    store4(row0 + 3u, col + 4u, coff, acc3_1);
    store4(row0 + 4u, col, coff, acc4_0);
    store4(row0 + 4u, col + 4u, coff, acc4_1);
    store4(row0 + 5u, col, coff, acc5_0);
    store4(row0 + 5u, col + 4u, coff, acc5_1);
    store4(row0 + 6u, col, coff, acc6_0);
    store4(row0 + 6u, col + 4u, coff, acc6_1);
    store4(row0 + 7u, col, coff, acc7_0);
    store4(row0 + 7u, col + 4u, coff, acc7_1);
    store4(row0 + 8u, col, coff, acc8_0);
    store4(row0 + 8u, col + 4u, coff, acc8_1);
    store4(row0 + 9u, col, coff, acc9_0);
    store4(row0 + 9u, col + 4u, coff, acc9_1);
    store4(row0 + 10u, col, coff, acc10_0);
    store4(row0 + 10u, col + 4u, coff, acc10_1);
    store4(row0 + 11u, col, coff, acc11_0);
    store4(row0 + 11u, col + 4u, coff, acc11_1);
    store4(row0 + 12u, col, coff, acc12_0);
    store4(row0 + 12u, col + 4u, coff, acc12_1);
    store4(row0 + 13u, col, coff, acc13_0);
    store4(row0 + 13u, col + 4u, coff, acc13_1);
    store4(row0 + 14u, col, coff, acc14_0);
    store4(row0 + 14u, col + 4u, coff, acc14_1);
    store4(row0 + 15u, col, coff, acc15_0);
    store4(row0 + 15u, col + 4u, coff, acc15_1);
    store4(row0 + 16u, col, coff, acc16_0);
    store4(row0 + 16u, col + 4u, coff, acc16_1);
    store4(row0 + 17u, col, coff, acc17_0);
    store4(row0 + 17u, col + 4u, coff, acc17_1);
    store4(row0 + 18u, col, coff, acc18_0);
    store4(row0 + 18u, col + 4u, coff, acc18_1);
    store4(row0 + 19u, col, coff, acc19_0);
    store4(row0 + 19u, col + 4u, coff, acc19_1);
    store4(row0 + 20u, col, coff, acc20_0);
    store4(row0 + 20u, col + 4u, coff, acc20_1);
    store4(row0 + 21u, col, coff, acc21_0);
    store4(row0 + 21u, col + 4u, coff, acc21_1);
    store4(row0 + 22u, col, coff, acc22_0);
    store4(row0 + 22u, col + 4u, coff, acc22_1);
    store4(row0 + 23u, col, coff, acc23_0);
    store4(row0 + 23u, col + 4u, coff, acc23_1);
    store4(row0 + 24u, col, coff, acc24_0);
    store4(row0 + 24u, col + 4u, coff, acc24_1);
    store4(row0 + 25u, col, coff, acc25_0);
    store4(row0 + 25u, col + 4u, coff, acc25_1);
    store4(row0 + 26u, col, coff, acc26_0);
    store4(row0 + 26u, col + 4u, coff, acc26_1);
    store4(row0 + 27u, col, coff, acc27_0);
    store4(row0 + 27u, col + 4u, coff, acc27_1);
    store4(row0 + 28u, col, coff, acc28_0);
    store4(row0 + 28u, col + 4u, coff, acc28_1);
    store4(row0 + 29u, col, coff, acc29_0);
    store4(row0 + 29u, col + 4u, coff, acc29_1);
    store4(row0 + 30u, col, coff, acc30_0);
    store4(row0 + 30u, col + 4u, coff, acc30_1);
    store4(row0 + 31u, col, coff, acc31_0);
    store4(row0 + 31u, col + 4u, coff, acc31_1);
}
//#endif
