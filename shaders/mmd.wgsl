// MMD² between source rows X (n) and target rows Y (m), stacked as Z = [X; Y] (N = n + m
// rows). The Gram matrix G = Z·Zᵀ comes from the matmul kernel; these passes turn it into
// pairwise squared distances, evaluate every Gaussian kernel in one pass, and weight each
// pair by its estimator so that MMD² = Σ_ij C_ij (a fixed-order reduction on the host side
// of the op sums C). Nothing of size N x N x K is ever stored.
//
// Kernel family: k(d) = Σ_s exp(−d / (2 σ_s)), σ_s = scale[s] · base (base = 1 for fixed
// bandwidths, the batch's mean pairwise distance for the DAN preset).
//
// Indexing (all entries): one invocation per pair e = i * N + j,
// e = gid.x + gid.y * num_workgroups.x * 256.

struct Params {
    n: u32,
    m: u32,
    k: u32,            // number of bandwidths
    estimator: u32,    // 0 biased (V), 1 unbiased (U), 2 linear-time (disjoint pairs)
    d: u32,            // feature width (columns of Z)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gram: array<f32>;
@group(0) @binding(2) var<storage, read_write> dist: array<f32>;
@group(0) @binding(3) var<storage, read> dist_in: array<f32>;
@group(0) @binding(4) var<storage, read> scales: array<f32>;
@group(0) @binding(5) var<storage, read> base: array<f32>;
@group(0) @binding(6) var<storage, read_write> contrib: array<f32>;
@group(0) @binding(7) var<storage, read_write> coef: array<f32>;
@group(0) @binding(8) var<storage, read> z: array<f32>;

fn pair(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 256u;
}

// d_ij = max(G_ii + G_jj − 2 G_ij, 0), exactly 0 for a point paired with itself. The
// expansion cancels catastrophically for coincident or near-coincident rows (duplicates in a
// batch drawn with replacement): there it leaves a float32 residue of order eps·‖z‖², which
// a bandwidth of 1e-6 turns into a wrong kernel value. Pairs whose expansion is within
// REFINE·(G_ii + G_jj) of zero are recomputed by direct differences Σ_k (z_ik − z_jk)², as
// the published code does: exactly 0 for duplicates, accurate for near-duplicates. Such
// pairs are rare in real batches, so the divergent branch costs little.
const REFINE: f32 = 1e-3;

@compute @workgroup_size(256)
fn mmd_dist(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let nn = p.n + p.m;
    let e = pair(gid, nwg);
    if (e >= nn * nn) { return; }
    let i = e / nn;
    let j = e % nn;
    if (i == j) {
        dist[e] = 0.0;
        return;
    }
    let norms = gram[i * nn + i] + gram[j * nn + j];
    var dd = max(norms - 2.0 * gram[e], 0.0);
    if (dd <= REFINE * norms) {
        var acc = 0.0;
        for (var k = 0u; k < p.d; k = k + 1u) {
            let t = z[i * p.d + k] - z[j * p.d + k];
            acc = acc + t * t;
        }
        dd = acc;
    }
    dist[e] = dd;
}

// Estimator weight of pair (i, j); symmetric, so the cross term −2·mean(Kxy) is split
// into −1/(nm) on each of the XY and YX blocks.
fn weight(i: u32, j: u32) -> f32 {
    let n = p.n;
    let m = p.m;
    let xi = i < n;
    let xj = j < n;
    let fn_ = f32(n);
    let fm = f32(m);
    if (p.estimator == 2u) {
        // Disjoint pairs t < P = min(n, m) / 2: h_t = k(x2t, x2t+1) + k(y2t, y2t+1)
        // − k(x2t, y2t+1) − k(x2t+1, y2t), averaged over t; each term is split over (i, j)
        // and (j, i). Local indices 2t and 2t+1 of either domain form the pattern.
        let pairs = min(n, m) / 2u;
        let li = select(i - n, i, xi);
        let lj = select(j - n, j, xj);
        if (pairs == 0u || li / 2u != lj / 2u || li == lj || li / 2u >= pairs) { return 0.0; }
        let w = 0.5 / f32(pairs);
        return select(-w, w, xi == xj);
    }
    if (xi && xj) {
        if (p.estimator == 1u) {
            if (i == j || n < 2u) { return 0.0; }
            return 1.0 / (fn_ * (fn_ - 1.0));
        }
        return 1.0 / (fn_ * fn_);
    }
    if (!xi && !xj) {
        if (p.estimator == 1u) {
            if (i == j || m < 2u) { return 0.0; }
            return 1.0 / (fm * (fm - 1.0));
        }
        return 1.0 / (fm * fm);
    }
    return -1.0 / (fn_ * fm);
}

// C_ij = w_ij · k(d_ij) and the backward coefficient A_ij = −2 w_ij Σ_s exp(−d/(2σ_s)) / (2σ_s)
// (∂MMD/∂d_ij counted for both (i,j) and (j,i), since w is symmetric). The gradient of pair
// (i, j) is A_ij·(z_i − z_j), which is exactly 0 when d_ij = 0 (a self-pair or a duplicate
// row); A_ij is then set to 0, because the backward's rowsum(A)·Z − A·Z would otherwise
// subtract two terms of order |A_ij|·|z| ≈ 1e6·|z| (σ = 1e-6) whose float32 rounding
// swamps the true gradient.
@compute @workgroup_size(256)
fn mmd_pairs(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let nn = p.n + p.m;
    let e = pair(gid, nwg);
    if (e >= nn * nn) { return; }
    let i = e / nn;
    let j = e % nn;
    let w = weight(i, j);
    let d = dist_in[e];
    let b = base[0];
    var kv = 0.0;
    var dk = 0.0;
    for (var s = 0u; s < p.k; s = s + 1u) {
        let inv = 1.0 / (2.0 * scales[s] * b);
        let ex = exp(-d * inv);
        kv = kv + ex;
        dk = dk + ex * inv;
    }
    contrib[e] = w * kv;
    coef[e] = select(-2.0 * w * dk, 0.0, d == 0.0);
}

var<workgroup> counts: array<u32, 256>;

// Median of the off-diagonal distances (the lower median, so it is one of them), for the
// DAN bandwidth: a bisection over the float bit patterns (monotonic for d >= 0), each step
// counting d <= mid with a fixed-order workgroup reduction. One workgroup of 256 lanes;
// lane l scans pairs l, l+256, ...
@compute @workgroup_size(256)
fn mmd_median(@builtin(local_invocation_index) l: u32) {
    let nn = p.n + p.m;
    let total = nn * nn;
    let want = (nn * (nn - 1u) + 1u) / 2u;
    var lo = 0u;
    var hi = 0x7f800000u;
    for (var step = 0u; step < 32u; step = step + 1u) {
        let mid = lo + (hi - lo) / 2u;
        var c = 0u;
        for (var e = l; e < total; e = e + 256u) {
            if (e / nn != e % nn && bitcast<u32>(dist_in[e]) <= mid) { c = c + 1u; }
        }
        counts[l] = c;
        workgroupBarrier();
        for (var s = 128u; s > 0u; s = s >> 1u) {
            if (l < s) { counts[l] = counts[l] + counts[l + s]; }
            workgroupBarrier();
        }
        let enough = counts[0] >= want;
        workgroupBarrier();
        if (enough) { hi = mid; } else { lo = mid + 1u; }
    }
    if (l == 0u) { dist[0] = bitcast<f32>(lo); }
}
