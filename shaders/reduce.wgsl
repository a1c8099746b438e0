// Reductions over one axis of a tensor viewed as [outer, len, inner], and the scatter that
// is max's gradient rule. Every reduction has a fixed order (no atomics), so results are
// bit-identical run to run.
//
// Output o = io * inner + ii reads x[io * len * inner + k * inner + ii] for k in 0..len.

struct Params {
    outer: u32,
    len: u32,
    inner: u32,
    scale: f32,   // multiplies sums (1/len for mean)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> out_idx: array<u32>;
@group(0) @binding(4) var<storage, read> idx: array<u32>;
@group(0) @binding(5) var<storage, read> g: array<f32>;

// 0 sum (times scale), 1 max
override OP: u32 = 0u;

const NEG_INF: f32 = -3.4028235e38;

fn base(o: u32) -> u32 {
    return (o / p.inner) * p.len * p.inner + (o % p.inner);
}

// One invocation per output; for short axes. Index o = gid.x + gid.y * nwg.x * 64.
// Along a contiguous axis (inner = 1) two elements per iteration: llvmpipe blends every
// assignment to a loop-carried variable with the loop mask, and there the pair measured
// 1.5x faster (sum over [1024, 4096]); a strided axis measured 0.93x and keeps one per
// iteration. The sum adds the two in order, and an odd last element alone, so the result
// is the one-element loop's bit for bit.
@compute @workgroup_size(64)
fn reduce_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let o = gid.x + gid.y * nwg.x * 64u;
    if (o >= p.outer * p.inner) { return; }
    let b = base(o);
    var acc = select(0.0, NEG_INF, OP == 1u);
    if (p.inner != 1u) {
        for (var k = 0u; k < p.len; k = k + 1u) {
            let v = x[b + k * p.inner];
            if (OP == 1u) { acc = max(acc, v); } else { acc = acc + v; }
        }
        out[o] = select(acc * p.scale, acc, OP == 1u);
        return;
    }
    var k = 0u;
    loop {
        if (k >= p.len) { break; }
        let pair = k + 1u < p.len;
        let va = x[b + k];
        let vb = x[b + select(k, k + 1u, pair)];
        if (OP == 1u) {
            acc = max(max(acc, va), vb);
        } else {
            let t = acc + va;
            acc = select(t, t + vb, pair);
        }
        k = k + select(1u, 2u, pair);
    }
    out[o] = select(acc * p.scale, acc, OP == 1u);
}

var<workgroup> partial: array<f32, 256>;

// One workgroup per output (o = workgroup x + y * nwg.x); for long axes. Lane l folds
// k = l, l+256, ... then a fixed tree combines the 256 partials.
@compute @workgroup_size(256)
fn reduce_wg(@builtin(local_invocation_index) l: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let o = wid.x + wid.y * nwg.x;
    let valid = o < p.outer * p.inner;
    let b = base(o);
    var acc = select(0.0, NEG_INF, OP == 1u);
    if (valid) {
        for (var k = l; k < p.len; k = k + 256u) {
            let v = x[b + k * p.inner];
            if (OP == 1u) { acc = max(acc, v); } else { acc = acc + v; }
        }
    }
    partial[l] = acc;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s = s >> 1u) {
        if (l < s) {
            if (OP == 1u) {
                partial[l] = max(partial[l], partial[l + s]);
            } else {
                partial[l] = partial[l] + partial[l + s];
            }
        }
        workgroupBarrier();
    }
    if (l == 0u && valid) {
        out[o] = select(partial[0] * p.scale, partial[0], OP == 1u);
    }
}

// Index of the first maximum along the axis, one invocation per output.
@compute @workgroup_size(64)
fn argmax_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let o = gid.x + gid.y * nwg.x * 64u;
    if (o >= p.outer * p.inner) { return; }
    let b = base(o);
    var m = NEG_INF;
    var best = 0u;
    for (var k = 0u; k < p.len; k = k + 1u) {
        let v = x[b + k * p.inner];
        if (v > m) { m = v; best = k; }
    }
    out_idx[o] = best;
}

// Gradient of max: out[io, k, ii] = g[o] where k == idx[o], else 0. One invocation per
// input element e = gid.x + gid.y * nwg.x * 256.
@compute @workgroup_size(256)
fn scatter_axis(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * 256u;
    if (e >= p.outer * p.len * p.inner) { return; }
    let ii = e % p.inner;
    let k = (e / p.inner) % p.len;
    let io = e / (p.inner * p.len);
    let o = io * p.inner + ii;
    out[e] = select(0.0, g[o], idx[o] == k);
}
