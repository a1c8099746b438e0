// Batch normalisation over x [N, C, HW] (HW = H * W, or 1 for [N, C] inputs): channel c
// owns the count = N * HW elements x[(n * C + c) * HW + i], taken in (n, i) order.
//
// Per-channel reductions run in two fixed-order passes, without atomics or workgroup
// barriers: a partial pass where each invocation folds one contiguous chunk of `chunk`
// elements of one channel (chunks channel-major: t = c * chunks + j), then a finalize pass
// where one invocation per channel combines its chunks in order. The elementwise passes
// then apply per-channel coefficients, four elements per invocation through vec4 loads,
// with a scalar entry for the last numel % 4 elements.

struct Params {
    c: u32,
    hw: u32,
    count: u32,      // N * HW: elements per channel
    chunk: u32,      // elements per partial
    chunks: u32,     // partials per channel
    total: u32,      // N * C * HW
    start: u32,      // first element of the scalar tail
    training: u32,   // 1: batch statistics, 0: running statistics
    momentum: f32,
    eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> g4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> gamma: array<f32>;
@group(0) @binding(6) var<storage, read> beta: array<f32>;
@group(0) @binding(7) var<storage, read> running_mean_in: array<f32>;
@group(0) @binding(8) var<storage, read> running_var_in: array<f32>;
@group(0) @binding(9) var<storage, read> part_in: array<vec2<f32>>;
@group(0) @binding(10) var<storage, read> stats_in: array<vec2<f32>>;   // (mean, 1/std)
@group(0) @binding(11) var<storage, read> coef_in: array<vec4<f32>>;
@group(0) @binding(12) var<storage, read_write> part_out: array<vec2<f32>>;
@group(0) @binding(13) var<storage, read_write> stats_out: array<vec2<f32>>;
@group(0) @binding(14) var<storage, read_write> coef_out: array<vec4<f32>>;
@group(0) @binding(15) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(16) var<storage, read_write> running_var: array<f32>;
@group(0) @binding(17) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(18) var<storage, read_write> dbeta: array<f32>;
@group(0) @binding(19) var<storage, read_write> out: array<f32>;
@group(0) @binding(20) var<storage, read_write> out4: array<vec4<f32>>;

const WG: u32 = 256u;

fn linear(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

fn channel_of(e: u32) -> u32 {
    return (e / p.hw) % p.c;
}

// Address of channel c's element q (q in (n, i) order) and its position i in the plane.
fn chunk_start(c: u32, q: u32) -> vec2<u32> {
    let n = q / p.hw;
    let i = q - n * p.hw;
    return vec2<u32>((n * p.c + c) * p.hw + i, i);
}

// 1: the partial statistics take two elements per iteration (llvmpipe blends every
// assignment to a loop-carried variable with the loop mask), with `+rows+flip`
// (ops/batchnorm.rs). Off elsewhere: the order of the sums is the same, but a GPU compiler
// may contract the two forms' multiply-adds differently.
override PAIR: u32 = 0u;

// The element of the same channel after (address, position i in the plane): the next
// one, or the plane's start in the next sample.
fn next_elem(v: vec2<u32>) -> vec2<u32> {
    let wrap = v.y + 1u == p.hw;
    return vec2<u32>(select(v.x + 1u, v.x + 1u + (p.c - 1u) * p.hw, wrap), select(v.y + 1u, 0u, wrap));
}

// Partial statistics of chunk t = c * chunks + j: (mean, sum of squared deviations) of
// its elements, accumulated around the chunk's first element so large means do not
// cancel. Invocation t = gid.x + gid.y * nwg.x * 256.
@compute @workgroup_size(256)
fn bn_stats_partial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = linear(gid, nwg);
    if (t >= p.c * p.chunks) { return; }
    let c = t / p.chunks;
    let q0 = (t - c * p.chunks) * p.chunk;
    let len = min(p.chunk, p.count - q0);
    let s = chunk_start(c, q0);
    var addr = s.x;
    var i = s.y;
    let shift = x[addr];
    var s1 = 0.0;
    var s2 = 0.0;
    if (PAIR == 0u) {
        for (var q = 0u; q < len; q = q + 1u) {
            let v = x[addr] - shift;
            s1 = s1 + v;
            s2 = s2 + v * v;
            let nx = next_elem(vec2<u32>(addr, i));
            addr = nx.x;
            i = nx.y;
        }
    } else {
        // Two elements per iteration (see PAIR), in the same order.
        var q = 0u;
        loop {
            if (q >= len) { break; }
            let pair = q + 1u < len;
            let va = x[addr] - shift;
            let ea = vec2<u32>(addr, i);
            let eb = select(ea, next_elem(ea), pair);
            let ab = eb.x;
            let vb = x[ab] - shift;
            let t1 = s1 + va;
            let t2 = s2 + va * va;
            s1 = select(t1, t1 + vb, pair);
            s2 = select(t2, t2 + vb * vb, pair);
            q = q + select(1u, 2u, pair);
            let en = next_elem(eb);
            addr = en.x;
            i = en.y;
        }
    }
    let fl = f32(len);
    part_out[t] = vec2<f32>(shift + s1 / fl, max(s2 - s1 * s1 / fl, 0.0));
}

// One invocation per channel c = gid.x + gid.y * nwg.x * 64: combines the chunk
// statistics in order (Chan et al.), writes (mean, 1/sqrt(var + eps)) of the batch, the
// forward coefficients y = x * a + b (a = gamma / std, b = beta - mean * a), and updates
// the running statistics in place with the unbiased variance.
@compute @workgroup_size(64)
fn bn_finalize_train(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = gid.x + gid.y * nwg.x * 64u;
    if (c >= p.c) { return; }
    var n = 0.0;
    var mean = 0.0;
    var m2 = 0.0;
    for (var j = 0u; j < p.chunks; j = j + 1u) {
        let nb = f32(min(p.chunk, p.count - j * p.chunk));
        let b = part_in[c * p.chunks + j];
        let d = b.x - mean;
        let nn = n + nb;
        mean = mean + d * (nb / nn);
        m2 = m2 + b.y + d * d * (n * nb / nn);
        n = nn;
    }
    let var_b = m2 / n;
    let inv_std = 1.0 / sqrt(var_b + p.eps);
    stats_out[c] = vec2<f32>(mean, inv_std);
    let a = gamma[c] * inv_std;
    coef_out[c] = vec4<f32>(a, beta[c] - mean * a, 0.0, 0.0);
    let keep = 1.0 - p.momentum;
    running_mean[c] = keep * running_mean[c] + p.momentum * mean;
    running_var[c] = keep * running_var[c] + p.momentum * (m2 / (n - 1.0));
}

// One invocation per channel c (indexed as bn_finalize_train): the eval-mode statistics
// and coefficients from the running statistics (no update).
@compute @workgroup_size(64)
fn bn_finalize_eval(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = gid.x + gid.y * nwg.x * 64u;
    if (c >= p.c) { return; }
    let mean = running_mean_in[c];
    let inv_std = 1.0 / sqrt(running_var_in[c] + p.eps);
    stats_out[c] = vec2<f32>(mean, inv_std);
    let a = gamma[c] * inv_std;
    coef_out[c] = vec4<f32>(a, beta[c] - mean * a, 0.0, 0.0);
}

// out = x * a + b for elements 4v .. 4v + 3 (v = gid.x + gid.y * nwg.x * 256 < total / 4).
// When the four share a channel (the common case) one coefficient load serves them all.
@compute @workgroup_size(256)
fn bn_apply(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let v = linear(gid, nwg);
    if (v >= p.total / 4u) { return; }
    let e = v * 4u;
    let q = e / p.hw;
    let xv = x4[v];
    if (e - q * p.hw + 3u < p.hw) {
        let k = coef_in[q % p.c];
        out4[v] = xv * k.x + k.y;
    } else {
        let k0 = coef_in[channel_of(e)];
        let k1 = coef_in[channel_of(e + 1u)];
        let k2 = coef_in[channel_of(e + 2u)];
        let k3 = coef_in[channel_of(e + 3u)];
        out4[v] = xv * vec4<f32>(k0.x, k1.x, k2.x, k3.x) + vec4<f32>(k0.y, k1.y, k2.y, k3.y);
    }
}

// bn_apply for the scalar tail: element e = start + gid.x (< total).
@compute @workgroup_size(4)
fn bn_apply_tail(@builtin(global_invocation_id) gid: vec3<u32>) {
    let e = p.start + gid.x;
    if (e >= p.total) { return; }
    let k = coef_in[channel_of(e)];
    out[e] = x[e] * k.x + k.y;
}

// Partial gradient sums of chunk t = c * chunks + j (layout as bn_stats_partial):
// (sum g, sum g * (x - mean)). Invocation t = gid.x + gid.y * nwg.x * 256.
@compute @workgroup_size(256)
fn bn_grad_partial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = linear(gid, nwg);
    if (t >= p.c * p.chunks) { return; }
    let c = t / p.chunks;
    let q0 = (t - c * p.chunks) * p.chunk;
    let len = min(p.chunk, p.count - q0);
    let s = chunk_start(c, q0);
    var addr = s.x;
    var i = s.y;
    let mean = stats_in[c].x;
    var sg = 0.0;
    var sgx = 0.0;
    for (var q = 0u; q < len; q = q + 1u) {
        let gv = g[addr];
        sg = sg + gv;
        sgx = sgx + gv * (x[addr] - mean);
        addr = addr + 1u;
        i = i + 1u;
        if (i == p.hw) {
            i = 0u;
            addr = addr + (p.c - 1u) * p.hw;
        }
    }
    part_out[t] = vec2<f32>(sg, sgx);
}

// One invocation per channel c (indexed as bn_finalize_train): sums the chunks in order
// into dbeta = sum g and dgamma = sum g * xhat (xhat = (x - mean) / std), and writes the
// input-gradient coefficients dx = A g + B x + D. Training (batch statistics):
//   dx = gamma / std * (g - mean(g) - xhat * mean(g * xhat));
// eval (constant statistics): dx = gamma / std * g.
@compute @workgroup_size(64)
fn bn_finalize_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = gid.x + gid.y * nwg.x * 64u;
    if (c >= p.c) { return; }
    var sg = 0.0;
    var sgx = 0.0;
    for (var j = 0u; j < p.chunks; j = j + 1u) {
        let b = part_in[c * p.chunks + j];
        sg = sg + b.x;
        sgx = sgx + b.y;
    }
    let st = stats_in[c];
    let sgh = sgx * st.y;
    dgamma[c] = sgh;
    dbeta[c] = sg;
    let a = gamma[c] * st.y;
    var b = 0.0;
    var d = 0.0;
    if (p.training == 1u) {
        let m = f32(p.count);
        b = -a * st.y * sgh / m;
        d = -a * sg / m - b * st.x;
    }
    coef_out[c] = vec4<f32>(a, b, d, 0.0);
}

// dx = A g + B x + D for elements 4v .. 4v + 3 (indexing as bn_apply).
@compute @workgroup_size(256)
fn bn_backward_apply(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let v = linear(gid, nwg);
    if (v >= p.total / 4u) { return; }
    let e = v * 4u;
    let q = e / p.hw;
    let xv = x4[v];
    let gv = g4[v];
    if (e - q * p.hw + 3u < p.hw) {
        let k = coef_in[q % p.c];
        out4[v] = gv * k.x + xv * k.y + k.z;
    } else {
        let k0 = coef_in[channel_of(e)];
        let k1 = coef_in[channel_of(e + 1u)];
        let k2 = coef_in[channel_of(e + 2u)];
        let k3 = coef_in[channel_of(e + 3u)];
        out4[v] = gv * vec4<f32>(k0.x, k1.x, k2.x, k3.x) + xv * vec4<f32>(k0.y, k1.y, k2.y, k3.y)
            + vec4<f32>(k0.z, k1.z, k2.z, k3.z);
    }
}

// bn_backward_apply for the scalar tail: element e = start + gid.x (< total).
@compute @workgroup_size(4)
fn bn_backward_tail(@builtin(global_invocation_id) gid: vec3<u32>) {
    let e = p.start + gid.x;
    if (e >= p.total) { return; }
    let k = coef_in[channel_of(e)];
    out[e] = g[e] * k.x + x[e] * k.y + k.z;
}
