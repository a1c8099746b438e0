// 2-D pooling over x [planes = N * C, H, W] (row-major), PyTorch semantics: output
// [planes, OH, OW], window (oy, ox) covers rows oy * sh - ph + [0, kh) and columns
// ox * sw - pw + [0, kw); positions outside the input are padding (-inf for max, 0 for
// average, whose divisor is kh * kw with count_include_pad, else the window's number of
// real pixels).
//
// Backward kernels gather: each input element sums the gradients of the windows that
// cover it, in a fixed order, so no atomics are needed and results are deterministic.
// Indexing (all entries): linear invocation index l = gid.x + gid.y * num_workgroups.x * 256;
// forward: one output per invocation (four for the k2 s2 max pool: quad_max); backward:
// four input elements of a row per invocation (row_run).

struct Params {
    planes: u32,
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    kh: u32,
    kw: u32,
    ph: u32,
    pw: u32,
    scale: f32,   // 1 / (kh * kw) for average pooling
    exclude_pad: u32,  // average pooling: 1 = divide by the real pixels only (count_include_pad = false)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read> arg_in: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> arg_out: array<u32>;
@group(0) @binding(6) var<storage, read> x4: array<vec4<f32>>;   // x again, as vec4s

const WG: u32 = 256u;

fn linear(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

// Window size: pipeline constants when small, so the window loops unroll (measured 1.4x
// faster on lavapipe); 0 takes p.kh / p.kw (large windows, e.g. global pooling).
override KH: u32 = 0u;
override KW: u32 = 0u;

fn kh() -> u32 { return select(p.kh, KH, KH > 0u); }
fn kw() -> u32 { return select(p.kw, KW, KW > 0u); }

// Strides are always pipeline constants: the backward's divisions by them become multiplies.
override SH: u32 = 1u;
override SW: u32 = 1u;

// Input row (or column) of window offset k, clamped into the input. A padded position
// becomes the nearest edge pixel, which lies in the same window and earlier or later in
// window order than every other pixel of its row (column): max and first-argmax are
// unchanged, and the loops need no branches.
fn clamp_in(start: i32, k: u32, n: u32) -> u32 {
    return u32(clamp(start + i32(k), 0, i32(n) - 1));
}

struct WindowMax {
    value: f32,
    at: u32,   // iy * W + ix within the plane
}

// Max of output o's window and the first position (row-major window order) holding it.
fn window_max(o: u32) -> WindowMax {
    let ox = o % p.ow;
    let t = o / p.ow;
    let oy = t % p.oh;
    let base = (t / p.oh) * p.h * p.w;
    let y0 = i32(oy * SH) - i32(p.ph);
    let x0 = i32(ox * SW) - i32(p.pw);
    var best = clamp_in(y0, 0u, p.h) * p.w + clamp_in(x0, 0u, p.w);
    var m = x[base + best];
    for (var ky = 0u; ky < kh(); ky = ky + 1u) {
        let row = clamp_in(y0, ky, p.h) * p.w;
        for (var kx = 0u; kx < kw(); kx = kx + 1u) {
            let at = row + clamp_in(x0, kx, p.w);
            let v = x[base + at];
            if (v > m) {
                m = v;
                best = at;
            }
        }
    }
    return WindowMax(m, best);
}

// out[o] = max over the window of output o.
@compute @workgroup_size(256)
fn max_pool2d(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let o = linear(gid, nwg);
    if (o >= p.planes * p.oh * p.ow) { return; }
    out[o] = window_max(o).value;
}

// As max_pool2d, and arg_out[o] = the plane position (iy * W + ix) of the first maximum.
@compute @workgroup_size(256)
fn max_pool2d_argmax(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let o = linear(gid, nwg);
    if (o >= p.planes * p.oh * p.ow) { return; }
    let r = window_max(o);
    out[o] = r.value;
    arg_out[o] = r.at;
}

// x[e .. e + 8) from the three aligned vec4s covering it (three loads instead of eight:
// lavapipe pays per load instruction). Lanes may read past the input's last element;
// those components are never used.
fn load8(e: u32) -> array<vec4<f32>, 2> {
    let i = e / 4u;
    let a = x4[i];
    let b = x4[i + 1u];
    let c = x4[i + 2u];
    let r = e % 4u;
    let lo = select(select(select(a, vec4<f32>(a.yzw, b.x), r == 1u), vec4<f32>(a.zw, b.xy), r == 2u),
        vec4<f32>(a.w, b.xyz), r == 3u);
    let hi = select(select(select(b, vec4<f32>(b.yzw, c.x), r == 1u), vec4<f32>(b.zw, c.xy), r == 2u),
        vec4<f32>(b.w, c.xyz), r == 3u);
    return array<vec4<f32>, 2>(lo, hi);
}

// Max (and first-argmax offset 0..3 in window order) of a 2 x 2 window whose rows are
// (t0, t1) and (b0, b1).
fn max4(t0: f32, t1: f32, b0: f32, b1: f32) -> vec2<f32> {
    var m = t0;
    var k = 0.0;
    if (t1 > m) { m = t1; k = 1.0; }
    if (b0 > m) { m = b0; k = 2.0; }
    if (b1 > m) { m = b1; k = 3.0; }
    return vec2<f32>(m, k);
}

struct Quad {
    o: u32,          // first of the (up to) four outputs
    n: u32,          // how many of them exist
    at: u32,         // plane position of the first window's top-left pixel
    m: vec4<f32>,    // maxima
    k: vec4<f32>,    // window offsets of the first maxima
}

// The kernel 2, stride 2, no padding case (DeepMerge): invocation l = gid.x + gid.y *
// nwg.x * 256 owns outputs ox = 4 * (l % ceil(OW / 4)) + [0, 4) of row
// oy = (l / ceil(OW / 4)) % OH of plane l / (ceil(OW / 4) * OH), from two load8 rows.
fn quad_max(l: u32) -> Quad {
    let qw = (p.ow + 3u) / 4u;
    let ox = (l % qw) * 4u;
    let t = l / qw;
    let oy = t % p.oh;
    let at = 2u * oy * p.w + 2u * ox;
    let e = (t / p.oh) * p.h * p.w + at;
    let top = load8(e);
    let bot = load8(e + p.w);
    let w0 = max4(top[0].x, top[0].y, bot[0].x, bot[0].y);
    let w1 = max4(top[0].z, top[0].w, bot[0].z, bot[0].w);
    let w2 = max4(top[1].x, top[1].y, bot[1].x, bot[1].y);
    let w3 = max4(top[1].z, top[1].w, bot[1].z, bot[1].w);
    return Quad(t * p.ow + ox, min(4u, p.ow - ox), at, vec4<f32>(w0.x, w1.x, w2.x, w3.x),
        vec4<f32>(w0.y, w1.y, w2.y, w3.y));
}

// max_pool2d for kernel 2, stride 2, no padding: four outputs per invocation (quad_max).
@compute @workgroup_size(256)
fn max_pool2d_k2s2(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let l = linear(gid, nwg);
    if (l >= p.planes * p.oh * ((p.ow + 3u) / 4u)) { return; }
    let q = quad_max(l);
    out[q.o] = q.m.x;
    if (q.n > 1u) { out[q.o + 1u] = q.m.y; }
    if (q.n > 2u) { out[q.o + 2u] = q.m.z; }
    if (q.n > 3u) { out[q.o + 3u] = q.m.w; }
}

// Plane position of window j's first maximum (window offset k in row-major order).
fn quad_at(q: Quad, j: u32, k: f32) -> u32 {
    let ki = u32(k);
    return q.at + 2u * j + (ki / 2u) * p.w + ki % 2u;
}

// As max_pool2d_k2s2, with the argmax (plane position) of each window.
@compute @workgroup_size(256)
fn max_pool2d_k2s2_argmax(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let l = linear(gid, nwg);
    if (l >= p.planes * p.oh * ((p.ow + 3u) / 4u)) { return; }
    let q = quad_max(l);
    out[q.o] = q.m.x;
    arg_out[q.o] = quad_at(q, 0u, q.k.x);
    if (q.n > 1u) {
        out[q.o + 1u] = q.m.y;
        arg_out[q.o + 1u] = quad_at(q, 1u, q.k.y);
    }
    if (q.n > 2u) {
        out[q.o + 2u] = q.m.z;
        arg_out[q.o + 2u] = quad_at(q, 2u, q.k.z);
    }
    if (q.n > 3u) {
        out[q.o + 3u] = q.m.w;
        arg_out[q.o + 3u] = quad_at(q, 3u, q.k.w);
    }
}

// out[o] = scale * sum over the window of output o (padding adds 0).
@compute @workgroup_size(256)
fn avg_pool2d(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let o = linear(gid, nwg);
    if (o >= p.planes * p.oh * p.ow) { return; }
    let ox = o % p.ow;
    let t = o / p.ow;
    let oy = t % p.oh;
    let base = (t / p.oh) * p.h * p.w;
    let y0 = i32(oy * SH) - i32(p.ph);
    let x0 = i32(ox * SW) - i32(p.pw);
    var s = 0.0;
    for (var ky = 0u; ky < kh(); ky = ky + 1u) {
        let iy = y0 + i32(ky);
        let row = base + clamp_in(y0, ky, p.h) * p.w;
        let row_in = iy >= 0 && iy < i32(p.h);
        for (var kx = 0u; kx < kw(); kx = kx + 1u) {
            let ix = x0 + i32(kx);
            // Padding adds 0: load a clamped real pixel and mask it.
            let v = x[row + clamp_in(x0, kx, p.w)];
            s = s + select(0.0, v, row_in && ix >= 0 && ix < i32(p.w));
        }
    }
    out[o] = s * avg_scale(oy, ox);
}

// Number of real (unpadded) positions among `k` starting at padded offset start - pad.
fn real_span(o: u32, k: u32, s: u32, pad: u32, n: u32) -> u32 {
    let a = i32(o * s) - i32(pad);
    return u32(min(a + i32(k), i32(n)) - max(a, 0));
}

// The divisor of window (oy, ox): 1 / (kh * kw), or 1 / (its real pixels) without
// count_include_pad (never 0: padding is at most half the window).
fn avg_scale(oy: u32, ox: u32) -> f32 {
    if (p.exclude_pad == 0u) { return p.scale; }
    return 1.0 / f32(real_span(oy, kh(), SH, p.ph, p.h) * real_span(ox, kw(), SW, p.pw, p.w));
}

// Output rows (or columns) whose windows cover input row i: [lo, hi), for window k,
// stride s, padding pad and n outputs. With k and s pipeline constants the divisions
// become multiplies.
fn covering(i: u32, k: u32, s: u32, pad: u32, n: u32) -> vec2<u32> {
    let top = i + pad;                        // position in the padded input
    let lo = select(0u, (top + 1u - k + s - 1u) / s, top + 1u > k);
    let hi = min(top / s + 1u, n);
    return vec2<u32>(lo, hi);
}

// When windows do not overlap (stride >= kernel, both pipeline constants) the one output
// row (or column) whose window covers input row i, clamped into range, and whether it
// really covers it.
fn single(i: u32, k: u32, s: u32, pad: u32, n: u32) -> vec2<u32> {
    let top = i + pad;
    let o = top / s;
    return vec2<u32>(min(o, n - 1u), u32(top - o * s < k && o < n));
}

// Non-overlapping windows (the common pools): branch-free, no window loops.
fn disjoint() -> bool {
    return KH > 0u && KW > 0u && SH >= KH && SW >= KW;
}

struct RowRun {
    row: u32,      // plane * H + iy
    iy: u32,
    ix0: u32,      // first of the (up to) four input columns
    ry: vec2<u32>, // output rows covering input row iy
    obase: u32,    // first output of the plane
}

// Backward indexing: invocation l = gid.x + gid.y * nwg.x * 256 owns input columns
// ix0 + [0, 4), ix0 = 4 * (l % ceil(W / 4)), of input row l / ceil(W / 4), so the
// per-lane integer divisions (slow on CPU adapters) are shared by four elements.
fn row_run(l: u32) -> RowRun {
    let qw = (p.w + 3u) / 4u;
    let row = l / qw;
    let plane = row / p.h;
    let iy = row - plane * p.h;
    return RowRun(row, iy, (l - row * qw) * 4u, covering(iy, kh(), SH, p.ph, p.oh),
        plane * p.oh * p.ow);
}

// Gradient of max_pool2d: out[e] = sum of g[o] over the windows o covering input e whose
// stored argmax is e. Indexing: row_run.
@compute @workgroup_size(256)
fn max_pool2d_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let l = linear(gid, nwg);
    if (l >= p.planes * p.h * ((p.w + 3u) / 4u)) { return; }
    let r = row_run(l);
    let at_row = r.iy * p.w;
    if (disjoint()) {
        let wy = single(r.iy, KH, SH, p.ph, p.oh);
        for (var j = 0u; j < 4u; j = j + 1u) {
            let ix = r.ix0 + j;
            if (ix >= p.w) { break; }
            let wx = single(ix, KW, SW, p.pw, p.ow);
            let o = r.obase + wy.x * p.ow + wx.x;
            let hit = (wy.y & wx.y) == 1u && arg_in[o] == at_row + ix;
            out[r.row * p.w + ix] = select(0.0, g[o], hit);
        }
        return;
    }
    for (var j = 0u; j < 4u; j = j + 1u) {
        let ix = r.ix0 + j;
        if (ix >= p.w) { break; }
        let rx = covering(ix, kw(), SW, p.pw, p.ow);
        var s = 0.0;
        for (var oy = r.ry.x; oy < r.ry.y; oy = oy + 1u) {
            for (var ox = rx.x; ox < rx.y; ox = ox + 1u) {
                let o = r.obase + oy * p.ow + ox;
                if (arg_in[o] == at_row + ix) { s = s + g[o]; }
            }
        }
        out[r.row * p.w + ix] = s;
    }
}

// Gradient of avg_pool2d: out[e] = scale * sum of g[o] over the windows o covering input
// e. Indexing: row_run.
@compute @workgroup_size(256)
fn avg_pool2d_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let l = linear(gid, nwg);
    if (l >= p.planes * p.h * ((p.w + 3u) / 4u)) { return; }
    let r = row_run(l);
    if (disjoint()) {
        let wy = single(r.iy, KH, SH, p.ph, p.oh);
        for (var j = 0u; j < 4u; j = j + 1u) {
            let ix = r.ix0 + j;
            if (ix >= p.w) { break; }
            let wx = single(ix, KW, SW, p.pw, p.ow);
            let gv = g[r.obase + wy.x * p.ow + wx.x];
            out[r.row * p.w + ix] = select(0.0, gv * avg_scale(wy.x, wx.x), (wy.y & wx.y) == 1u);
        }
        return;
    }
    for (var j = 0u; j < 4u; j = j + 1u) {
        let ix = r.ix0 + j;
        if (ix >= p.w) { break; }
        let rx = covering(ix, kw(), SW, p.pw, p.ow);
        var s = 0.0;
        for (var oy = r.ry.x; oy < r.ry.y; oy = oy + 1u) {
            for (var ox = rx.x; ox < rx.y; ox = ox + 1u) {
                s = s + g[r.obase + oy * p.ow + ox] * avg_scale(oy, ox);
            }
        }
        out[r.row * p.w + ix] = s;
    }
}
