// The fused classification losses over logits viewed as [rows, k]: cross-entropy (softmax +
// negative log-likelihood, plain, weighted or per sample) and binary cross-entropy with
// logits. One invocation owns a row (or an element), so every reduction runs in index order
// (deterministic, no atomics); the batch mean is a fixed-order reduction on the Rust side.

struct Params {
    rows: u32,
    k: u32,      // row length; BCE: element count
    scale: f32,  // unweighted losses: 1 / count (the mean's divisor)
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;          // logits, or softmax in backward
@group(0) @binding(3) var<storage, read> g: array<f32>;          // upstream gradient
@group(0) @binding(5) var<storage, read> labels: array<u32>;
@group(0) @binding(6) var<storage, read> w: array<f32>;          // loss weights
@group(0) @binding(7) var<storage, read> wsum: array<f32>;       // [1]: sum of the weights
@group(0) @binding(8) var<storage, read> t: array<f32>;          // BCE targets
@group(0) @binding(9) var<storage, read_write> out: array<f32>;
@group(0) @binding(11) var<storage, read_write> loss: array<f32>; // per-row / per-element loss

const WG: u32 = 64u;
const NEG_BIG: f32 = -3.4028235e38;

fn row_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

fn nan() -> f32 {
    return bitcast<f32>(0x7fc00000u);
}

// (max, sum of exp(x - max)) of row r in one online pass (softmax.wgsl's forward does the
// same; WGSL has no includes).
fn row_max_sumexp(r: u32) -> vec2<f32> {
    let base = r * p.k;
    var m = NEG_BIG;
    var s = 0.0;
    for (var j = 0u; j < p.k; j = j + 1u) {
        let v = x[base + j];
        let mn = max(m, v);
        s = s * exp(m - mn) + exp(v - mn);
        m = mn;
    }
    return vec2<f32>(m, s);
}

// Cross-entropy of row r: writes softmax(x[r, :]) to out (the backward needs it) and returns
// -log softmax(x[r, :])[label], NaN when the label is outside [0, k).
fn cross_entropy_row(r: u32) -> f32 {
    let st = row_max_sumexp(r);
    let base = r * p.k;
    let inv = 1.0 / st.y;
    for (var j = 0u; j < p.k; j = j + 1u) { out[base + j] = exp(x[base + j] - st.x) * inv; }
    let label = labels[r];
    if (label >= p.k) { return nan(); }
    return (st.x - x[base + label]) + log(st.y);
}

// Row r = gid.x + gid.y * nwg.x * 64: loss[r] = cross-entropy of row r, out[r, :] = softmax.
@compute @workgroup_size(64)
fn cross_entropy_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = row_index(gid, nwg);
    if (r >= p.rows) { return; }
    loss[r] = cross_entropy_row(r);
}

// As cross_entropy_fwd with loss[r] = w[r] * cross-entropy of row r.
@compute @workgroup_size(64)
fn cross_entropy_fwd_weighted(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = row_index(gid, nwg);
    if (r >= p.rows) { return; }
    loss[r] = w[r] * cross_entropy_row(r);
}

// Element e = gid.x + gid.y * nwg.x * 64 of grad logits [rows, k], x = softmax:
//   (x[e] - onehot(label[e / k])[e % k]) * g[0] * scale    (scale = 1 / rows)
@compute @workgroup_size(64)
fn cross_entropy_bwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = row_index(gid, nwg);
    if (e >= p.rows * p.k) { return; }
    let r = e / p.k;
    let hit = select(0.0, 1.0, labels[r] == e % p.k);
    out[e] = (x[e] - hit) * (g[0] * p.scale);
}

// As cross_entropy_bwd with the weighted mean: (x[e] - onehot) * w[r] * g[0] / wsum[0].
@compute @workgroup_size(64)
fn cross_entropy_bwd_weighted(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = row_index(gid, nwg);
    if (e >= p.rows * p.k) { return; }
    let r = e / p.k;
    let hit = select(0.0, 1.0, labels[r] == e % p.k);
    out[e] = (x[e] - hit) * (w[r] * g[0] / wsum[0]);
}

// Per-sample cross-entropy (reduction = none): the upstream gradient has one entry per
// row, (x[e] - onehot(label[e / k])[e % k]) * g[e / k]. Indexing as cross_entropy_bwd.
@compute @workgroup_size(64)
fn cross_entropy_bwd_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = row_index(gid, nwg);
    if (e >= p.rows * p.k) { return; }
    let r = e / p.k;
    let hit = select(0.0, 1.0, labels[r] == e % p.k);
    out[e] = (x[e] - hit) * g[r];
}

// log(1 + u) for u in [0, 1], accurate when u is tiny (1 + u rounds to 1): the rounding
// error of 1 + u is divided out (Goldberg's trick, no log1p in WGSL).
fn log1p_small(u: f32) -> f32 {
    let v = 1.0 + u;
    if (v == 1.0) { return u; }
    return log(v) * (u / (v - 1.0));
}

// Stable BCE with logits: max(z, 0) - z t + log(1 + exp(-|z|)).
fn bce(z: f32, tt: f32) -> f32 {
    return max(z, 0.0) - z * tt + log1p_small(exp(-abs(z)));
}

// Sigmoid split by sign so exp never overflows.
fn sigmoid(z: f32) -> f32 {
    if (z >= 0.0) { return 1.0 / (1.0 + exp(-z)); }
    let e = exp(z);
    return e / (1.0 + e);
}

// Element e = gid.x + gid.y * nwg.x * 64 (p.k elements): loss[e] = bce(x[e], t[e]).
@compute @workgroup_size(64)
fn bce_logits_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = row_index(gid, nwg);
    if (e >= p.k) { return; }
    loss[e] = bce(x[e], t[e]);
}

// As bce_logits_fwd with loss[e] = w[e] * bce(x[e], t[e]).
@compute @workgroup_size(64)
fn bce_logits_fwd_weighted(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = row_index(gid, nwg);
    if (e >= p.k) { return; }
    loss[e] = w[e] * bce(x[e], t[e]);
}

// Element e as bce_logits_fwd: grad logits out[e] = (sigmoid(x[e]) - t[e]) * g[0] * scale.
@compute @workgroup_size(64)
fn bce_logits_bwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = row_index(gid, nwg);
    if (e >= p.k) { return; }
    out[e] = (sigmoid(x[e]) - t[e]) * (g[0] * p.scale);
}

// As bce_logits_bwd for the mean of w·loss (PyTorch's `weight`):
// (sigmoid(x[e]) - t[e]) * w[e] * g[0] * scale.
@compute @workgroup_size(64)
fn bce_logits_bwd_weighted(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = row_index(gid, nwg);
    if (e >= p.k) { return; }
    out[e] = (sigmoid(x[e]) - t[e]) * (w[e] * g[0] * p.scale);
}
