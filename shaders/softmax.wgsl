// Softmax and log-softmax over the last axis of a tensor viewed as [rows, k] and their
// backward rules (the fused classification losses are in cross_entropy.wgsl).
//
// Row kernels give one invocation a whole row, so every reduction runs in index order
// (deterministic, no atomics, no workgroup memory, which is slow on CPU adapters). The
// forward makes one online pass for the max and the sum of exp(x - max) together (the sum
// is rescaled when the max grows), then one pass that writes the row: two loads per element.
// `_vec4` variants read and write vec4s and need k % 4 == 0 (rows start 16-byte aligned).

struct Params {
    rows: u32,
    k: u32,      // row length; BCE: element count
    scale: f32,  // unused here (the parameter block is shared with cross_entropy.wgsl)
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;          // logits, or y in backward
@group(0) @binding(2) var<storage, read> xv: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> g: array<f32>;          // upstream gradient
@group(0) @binding(4) var<storage, read> gv: array<vec4<f32>>;
@group(0) @binding(9) var<storage, read_write> out: array<f32>;
@group(0) @binding(10) var<storage, read_write> outv: array<vec4<f32>>;

// 0 softmax, 1 log-softmax
override OP: u32 = 0u;

const WG: u32 = 64u;
const NEG_BIG: f32 = -3.4028235e38;

fn row_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

// (max, sum of exp(x - max)) of row r in one pass.
fn row_stats(r: u32) -> vec2<f32> {
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

fn row_stats_vec4(r: u32) -> vec2<f32> {
    let base = r * (p.k / 4u);
    var m = NEG_BIG;
    var s = 0.0;
    for (var j = 0u; j < p.k / 4u; j = j + 1u) {
        let v = xv[base + j];
        let mn = max(m, max(max(v.x, v.y), max(v.z, v.w)));
        let e = exp(v - vec4<f32>(mn));
        s = s * exp(m - mn) + (e.x + e.y) + (e.z + e.w);
        m = mn;
    }
    return vec2<f32>(m, s);
}

// Row r = gid.x + gid.y * nwg.x * 64: out[r, :] = softmax or log-softmax of x[r, :].
@compute @workgroup_size(64)
fn softmax_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = row_index(gid, nwg);
    if (r >= p.rows) { return; }
    let st = row_stats(r);
    let base = r * p.k;
    if (OP == 1u) {
        // (x - max) first: exact near the max, where folding log(sum) into max would round.
        let ls = log(st.y);
        for (var j = 0u; j < p.k; j = j + 1u) { out[base + j] = (x[base + j] - st.x) - ls; }
    } else {
        let inv = 1.0 / st.y;
        for (var j = 0u; j < p.k; j = j + 1u) { out[base + j] = exp(x[base + j] - st.x) * inv; }
    }
}

// As softmax_fwd, on vec4s of the row (k % 4 == 0).
@compute @workgroup_size(64)
fn softmax_fwd_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = row_index(gid, nwg);
    if (r >= p.rows) { return; }
    let st = row_stats_vec4(r);
    let base = r * (p.k / 4u);
    if (OP == 1u) {
        let m = vec4<f32>(st.x);
        let ls = vec4<f32>(log(st.y));
        for (var j = 0u; j < p.k / 4u; j = j + 1u) { outv[base + j] = (xv[base + j] - m) - ls; }
    } else {
        let inv = 1.0 / st.y;
        let m = vec4<f32>(st.x);
        for (var j = 0u; j < p.k / 4u; j = j + 1u) { outv[base + j] = exp(xv[base + j] - m) * inv; }
    }
}

// Row r = gid.x + gid.y * nwg.x * 64, x = the forward output y, g = dL/dy:
//   softmax:      dx = y * (g - sum(g * y))
//   log-softmax:  dx = g - exp(y) * sum(g)
@compute @workgroup_size(64)
fn softmax_bwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = row_index(gid, nwg);
    if (r >= p.rows) { return; }
    let base = r * p.k;
    var s = 0.0;
    for (var j = 0u; j < p.k; j = j + 1u) {
        if (OP == 1u) { s = s + g[base + j]; } else { s = s + g[base + j] * x[base + j]; }
    }
    for (var j = 0u; j < p.k; j = j + 1u) {
        let y = x[base + j];
        let gj = g[base + j];
        if (OP == 1u) { out[base + j] = gj - exp(y) * s; } else { out[base + j] = y * (gj - s); }
    }
}

// As softmax_bwd, on vec4s of the row (k % 4 == 0).
@compute @workgroup_size(64)
fn softmax_bwd_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = row_index(gid, nwg);
    if (r >= p.rows) { return; }
    let base = r * (p.k / 4u);
    var s4 = vec4<f32>(0.0);
    for (var j = 0u; j < p.k / 4u; j = j + 1u) {
        if (OP == 1u) { s4 = s4 + gv[base + j]; } else { s4 = s4 + gv[base + j] * xv[base + j]; }
    }
    let s = vec4<f32>((s4.x + s4.y) + (s4.z + s4.w));
    for (var j = 0u; j < p.k / 4u; j = j + 1u) {
        let y = xv[base + j];
        let gj = gv[base + j];
        if (OP == 1u) { outv[base + j] = gj - exp(y) * s; } else { outv[base + j] = y * (gj - s); }
    }
}
