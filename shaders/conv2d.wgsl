// 2-D convolution, NCHW, groups = 1: the forward pass as an implicit GEMM and its two
// backward kernels (grad input, grad weight partial sums). No im2col buffer: every kernel
// computes its input coordinates and zero-padding checks on the fly.
//
// Why the file is long (over 1000 lines): WGSL has no templates or macros, and the register
// and subgroup kernels keep their accumulators in named registers, unrolled by hand (an
// indexed array spills to memory on lavapipe and measured several times slower). Each
// variant of each of the three kernels is therefore written out in full.
//
//   x [N, C, H, W], w [O, C, KH, KW], y [N, O, OH, OW]
//   y[n, o, oy, ox] = sum_{c, ky, kx} x[n, c, oy*SH - PH + ky*DH, ox*SW - PW + kx*DW] * w[o, c, ky, kx]
//
// Kernel size, stride and dilation are override constants, so the index arithmetic on
// them folds (divisions by the stride become multiplies). Coordinates are
// u32 and may wrap below zero; a wrapped value is >= H (or W), so one comparison checks
// both ends of the image.
//
// All kernels are register-blocked the way matmul_register is (lavapipe pays per load
// instruction, far more than per FMA): each invocation owns a block of 8 pixels x 8 (or 4,
// see CB) channels held in named vec4 accumulators, so each loaded value feeds several
// FMAs. Where a block index comes from workgroup_id only, the weight loads are uniform
// over the workgroup.
//
// Each kernel walks its taps in one flat loop with (ky, kx) counters: on lavapipe nested
// loops measured about twice as slow as the same work in a single loop.

struct Params {
    n: u32,
    c: u32,
    h: u32,
    w: u32,
    o: u32,
    oh: u32,
    ow: u32,
    ph: u32,
    pw: u32,
    flags: u32,   // bit 0: add bias, bit 1: ReLU (forward only)
    chunk: u32,   // grad weight: output pixels per partial sum
    splits: u32,  // grad weight: number of partial sums
    eps: f32,     // conv2d_fold_bn: the batch norm's epsilon
}

override KH: u32 = 1u;
override KW: u32 = 1u;
override SH: u32 = 1u;
override SW: u32 = 1u;
override DH: u32 = 1u;
override DW: u32 = 1u;
// Channels per lane in the forward and grad-input kernels: 8, or 4 where the channel
// count would leave most of a last block of 8 empty (e.g. C = 3 for grad input).
override CB: u32 = 8u;
// Blocks of 8 channels per lane in the subgroup kernels: 1 or 2.
override CT: u32 = 1u;
// Kernel rows per lane in conv2d_grad_weight_row_sg: 1 to 3.
override RP: u32 = 1u;
// Output rows per lane in conv2d_fwd_row_sg: 1 or 2.
override ROWS: u32 = 1u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
// Weights repacked by conv2d_pack (below): one aligned vec4 load fetches 4 channels.
@group(0) @binding(6) var<storage, read> wt4: array<vec4<f32>>;

// x[i] where ok, else 0 (the load stays in bounds either way).
fn ldx(i: u32, ok: bool) -> f32 {
    return select(0.0, x[select(0u, i, ok)], ok);
}

fn ldg(i: u32, ok: bool) -> f32 {
    return select(0.0, g[select(0u, i, ok)], ok);
}

// ---------------------------------------------------------------------------------------
// Forward. Invocation: output pixels q0 .. q0+7 of the flattened [N, OH, OW] space,
// q0 = (gid.x + gid.y * nwg.x * 64) * 8, and output channels o0 .. o0+CB-1, o0 = wid.z * CB
// (uniform, so the weight loads, two vec4s from the repacked weights, are shared by the
// workgroup).
// Reduction over (c, ky, kx) in that order.

// Pixel cursors: (n, row, col) of a flattened [N, rows, cols] index. Only a lane's first
// pixel is found by division (a per-lane integer division is scalarised on CPUs and costs
// more than the FMAs it feeds); the next seven step along the row and wrap.
fn cursor(i: u32, rows: u32, cols: u32) -> vec3<u32> {
    let m = i % (rows * cols);
    return vec3<u32>(i / (rows * cols), m / cols, m % cols);
}

// The next pixel; past the last image the cursor stays on the last pixel (whose results
// are dropped at the store) so its loads stay in bounds.
fn step(v: vec3<u32>, rows: u32, cols: u32) -> vec3<u32> {
    let wrap_col = v.z + 1u == cols;
    let col = select(v.z + 1u, 0u, wrap_col);
    let row0 = select(v.y, v.y + 1u, wrap_col);
    let wrap_row = row0 == rows;
    let row = select(row0, 0u, wrap_row);
    let n = select(v.x, v.x + 1u, wrap_row);
    return select(vec3<u32>(n, row, col), v, n == p.n);
}

// x-side view of output pixel v = (n, oy, ox): (offset of image n in x, oy*SH - PH, ox*SW - PW).
fn fwd_taps(v: vec3<u32>) -> vec3<u32> {
    return vec3<u32>(v.x * p.c * p.h * p.w, v.y * SH - p.ph, v.z * SW - p.pw);
}

// Output offset of pixel v at channel 0.
fn fwd_offset(v: vec3<u32>) -> u32 {
    return (v.x * p.o * p.oh + v.y) * p.ow + v.z;
}

fn fwd_store(ok: bool, off: u32, o: u32, v: f32) {
    if (!ok || o >= p.o) { return; }
    var y = v;
    if ((p.flags & 1u) != 0u) { y = y + bias[o]; }
    if ((p.flags & 2u) != 0u) { y = max(y, 0.0); }
    out[off + o * p.oh * p.ow] = y;
}

// Stores the 8 pixels x 1 channel column a (pixels 0-3), b (pixels 4-7) of accumulators;
// pixels from `valid` on do not exist.
fn fwd_store8(v0: vec3<u32>, valid: u32, o: u32, a: vec4<f32>, b: vec4<f32>) {
    var v = v0;
    fwd_store(0u < valid, fwd_offset(v), o, a.x);
    v = step(v, p.oh, p.ow);
    fwd_store(1u < valid, fwd_offset(v), o, a.y);
    v = step(v, p.oh, p.ow);
    fwd_store(2u < valid, fwd_offset(v), o, a.z);
    v = step(v, p.oh, p.ow);
    fwd_store(3u < valid, fwd_offset(v), o, a.w);
    v = step(v, p.oh, p.ow);
    fwd_store(4u < valid, fwd_offset(v), o, b.x);
    v = step(v, p.oh, p.ow);
    fwd_store(5u < valid, fwd_offset(v), o, b.y);
    v = step(v, p.oh, p.ow);
    fwd_store(6u < valid, fwd_offset(v), o, b.z);
    v = step(v, p.oh, p.ow);
    fwd_store(7u < valid, fwd_offset(v), o, b.w);
}

@compute @workgroup_size(64)
fn conv2d_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let q0 = (gid.x + gid.y * nwg.x * 64u) * 8u;
    if (q0 >= p.n * p.oh * p.ow) { return; }
    let o0 = wid.z * CB;
    let v0 = cursor(q0, p.oh, p.ow);
    let v1 = step(v0, p.oh, p.ow);
    let v2 = step(v1, p.oh, p.ow);
    let v3 = step(v2, p.oh, p.ow);
    let v4 = step(v3, p.oh, p.ow);
    let v5 = step(v4, p.oh, p.ow);
    let v6 = step(v5, p.oh, p.ow);
    let v7 = step(v6, p.oh, p.ow);
    let s0 = fwd_taps(v0);
    let s1 = fwd_taps(v1);
    let s2 = fwd_taps(v2);
    let s3 = fwd_taps(v3);
    let s4 = fwd_taps(v4);
    let s5 = fwd_taps(v5);
    let s6 = fwd_taps(v6);
    let s7 = fwd_taps(v7);
    // Per-pixel base offsets (wrapping u32 arithmetic: padding makes some terms "negative",
    // and the bounds checks below reject exactly those taps).
    let e0 = s0.x + s0.y * p.w + s0.z;
    let e1 = s1.x + s1.y * p.w + s1.z;
    let e2 = s2.x + s2.y * p.w + s2.z;
    let e3 = s3.x + s3.y * p.w + s3.z;
    let e4 = s4.x + s4.y * p.w + s4.z;
    let e5 = s5.x + s5.y * p.w + s5.z;
    let e6 = s6.x + s6.y * p.w + s6.z;
    let e7 = s7.x + s7.y * p.w + s7.z;
    let hw = p.h * p.w;
    let kk = KH * KW;
    let ckk = p.c * kk;
    // Rows past O re-read the last row; their results are dropped at the store.
    // Packed rows hold ceil(O / 8) * 2 vec4s; this lane's CB channels are CB / 4 of them.
    let wq = (p.o + 7u) / 8u * 2u;
    let wl = wid.z * (CB / 4u);
    var a0 = vec4<f32>(0.0);
    var b0 = vec4<f32>(0.0);
    var a1 = vec4<f32>(0.0);
    var b1 = vec4<f32>(0.0);
    var a2 = vec4<f32>(0.0);
    var b2 = vec4<f32>(0.0);
    var a3 = vec4<f32>(0.0);
    var b3 = vec4<f32>(0.0);
    var a4 = vec4<f32>(0.0);
    var b4 = vec4<f32>(0.0);
    var a5 = vec4<f32>(0.0);
    var b5 = vec4<f32>(0.0);
    var a6 = vec4<f32>(0.0);
    var b6 = vec4<f32>(0.0);
    var a7 = vec4<f32>(0.0);
    var b7 = vec4<f32>(0.0);
    var xc = 0u;
    var ky = 0u;
    var kx = 0u;
    for (var wi = 0u; wi < ckk; wi = wi + 1u) {
        let kyd = ky * DH;
        let kxd = kx * DW;
        // The tap's offset is the same for every pixel: one add per pixel per tap.
        let t = xc + kyd * p.w + kxd;
        let xa = vec4<f32>(
            ldx(e0 + t, s0.y + kyd < p.h && s0.z + kxd < p.w),
            ldx(e1 + t, s1.y + kyd < p.h && s1.z + kxd < p.w),
            ldx(e2 + t, s2.y + kyd < p.h && s2.z + kxd < p.w),
            ldx(e3 + t, s3.y + kyd < p.h && s3.z + kxd < p.w));
        let xb = vec4<f32>(
            ldx(e4 + t, s4.y + kyd < p.h && s4.z + kxd < p.w),
            ldx(e5 + t, s5.y + kyd < p.h && s5.z + kxd < p.w),
            ldx(e6 + t, s6.y + kyd < p.h && s6.z + kxd < p.w),
            ldx(e7 + t, s7.y + kyd < p.h && s7.z + kxd < p.w));
        let wv = wt4[wi * wq + wl];
        let v0 = vec4<f32>(wv.x);
        a0 = fma(v0, xa, a0);
        b0 = fma(v0, xb, b0);
        let v1 = vec4<f32>(wv.y);
        a1 = fma(v1, xa, a1);
        b1 = fma(v1, xb, b1);
        let v2 = vec4<f32>(wv.z);
        a2 = fma(v2, xa, a2);
        b2 = fma(v2, xb, b2);
        let v3 = vec4<f32>(wv.w);
        a3 = fma(v3, xa, a3);
        b3 = fma(v3, xb, b3);
        if (CB == 8u) {
            let wu = wt4[wi * wq + wl + 1u];
            let v4 = vec4<f32>(wu.x);
            a4 = fma(v4, xa, a4);
            b4 = fma(v4, xb, b4);
            let v5 = vec4<f32>(wu.y);
            a5 = fma(v5, xa, a5);
            b5 = fma(v5, xb, b5);
            let v6 = vec4<f32>(wu.z);
            a6 = fma(v6, xa, a6);
            b6 = fma(v6, xb, b6);
            let v7 = vec4<f32>(wu.w);
            a7 = fma(v7, xa, a7);
            b7 = fma(v7, xb, b7);
        }
        kx = kx + 1u;
        if (kx == KW) {
            kx = 0u;
            ky = ky + 1u;
            if (ky == KH) {
                ky = 0u;
                xc = xc + hw;
            }
        }
    }
    let valid = p.n * p.oh * p.ow - q0;
    fwd_store8(v0, valid, o0 + 0u, a0, b0);
    fwd_store8(v0, valid, o0 + 1u, a1, b1);
    fwd_store8(v0, valid, o0 + 2u, a2, b2);
    fwd_store8(v0, valid, o0 + 3u, a3, b3);
    if (CB == 8u) {
        fwd_store8(v0, valid, o0 + 4u, a4, b4);
        fwd_store8(v0, valid, o0 + 5u, a5, b5);
        fwd_store8(v0, valid, o0 + 6u, a6, b6);
        fwd_store8(v0, valid, o0 + 7u, a7, b7);
    }
}

// ---------------------------------------------------------------------------------------
// Grad input (the transposed convolution). Invocation: input pixels r0 .. r0+7 of the
// flattened [N, H, W] space, r0 = (gid.x + gid.y * nwg.x * 64) * 8, and input channels
// c0 .. c0+CB-1, c0 = wid.z * CB (uniform weight loads).
//   dx[n, c, iy, ix] = sum_{o, ky, kx} g[n, o, oy, ox] * w[o, c, ky, kx]
// over the (ky, kx) with iy + PH - ky*DH = oy*SH and ix + PW - kx*DW = ox*SW for some
// in-range oy, ox (the divisibility checks handle stride and dilation). Order: o, ky, kx.

// g-side view of input pixel v = (n, iy, ix): (offset of image n in g, iy + PH, ix + PW).
fn gin_taps(v: vec3<u32>) -> vec3<u32> {
    return vec3<u32>(v.x * p.o * p.oh * p.ow, v.y + p.ph, v.z + p.pw);
}

fn gin_store(ok: bool, v: vec3<u32>, c: u32, val: f32) {
    if (!ok || c >= p.c) { return; }
    out[((v.x * p.c + c) * p.h + v.y) * p.w + v.z] = val;
}

fn gin_store8(v0: vec3<u32>, valid: u32, c: u32, a: vec4<f32>, b: vec4<f32>) {
    var v = v0;
    gin_store(0u < valid, v, c, a.x);
    v = step(v, p.h, p.w);
    gin_store(1u < valid, v, c, a.y);
    v = step(v, p.h, p.w);
    gin_store(2u < valid, v, c, a.z);
    v = step(v, p.h, p.w);
    gin_store(3u < valid, v, c, a.w);
    v = step(v, p.h, p.w);
    gin_store(4u < valid, v, c, b.x);
    v = step(v, p.h, p.w);
    gin_store(5u < valid, v, c, b.y);
    v = step(v, p.h, p.w);
    gin_store(6u < valid, v, c, b.z);
    v = step(v, p.h, p.w);
    gin_store(7u < valid, v, c, b.w);
}

// Output row offset (oy * OW) for the padded input row t at kernel row offset kyd, and
// whether that output row exists.
fn gin_row(t: u32, kyd: u32) -> vec2<u32> {
    let ty = t - kyd;
    let oy = ty / SH;
    let ok = kyd <= t && oy * SH == ty && oy < p.oh;
    return vec2<u32>(oy * p.ow, select(0u, 1u, ok));
}

// g value for the row found by gin_row and the padded input column t at offset kxd.
fn gin_load(goff: u32, row: vec2<u32>, t: u32, kxd: u32) -> f32 {
    let tx = t - kxd;
    let ox = tx / SW;
    let ok = row.y == 1u && kxd <= t && ox * SW == tx && ox < p.ow;
    return ldg(goff + row.x + ox, ok);
}

@compute @workgroup_size(64)
fn conv2d_grad_input(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let r0 = (gid.x + gid.y * nwg.x * 64u) * 8u;
    if (r0 >= p.n * p.h * p.w) { return; }
    let c0 = wid.z * CB;
    let v0 = cursor(r0, p.h, p.w);
    let v1 = step(v0, p.h, p.w);
    let v2 = step(v1, p.h, p.w);
    let v3 = step(v2, p.h, p.w);
    let v4 = step(v3, p.h, p.w);
    let v5 = step(v4, p.h, p.w);
    let v6 = step(v5, p.h, p.w);
    let v7 = step(v6, p.h, p.w);
    let s0 = gin_taps(v0);
    let s1 = gin_taps(v1);
    let s2 = gin_taps(v2);
    let s3 = gin_taps(v3);
    let s4 = gin_taps(v4);
    let s5 = gin_taps(v5);
    let s6 = gin_taps(v6);
    let s7 = gin_taps(v7);
    // Stride-1 base offsets into g (wrapping u32 arithmetic, as in the forward).
    let f0 = s0.x + s0.y * p.ow + s0.z;
    let f1 = s1.x + s1.y * p.ow + s1.z;
    let f2 = s2.x + s2.y * p.ow + s2.z;
    let f3 = s3.x + s3.y * p.ow + s3.z;
    let f4 = s4.x + s4.y * p.ow + s4.z;
    let f5 = s5.x + s5.y * p.ow + s5.z;
    let f6 = s6.x + s6.y * p.ow + s6.z;
    let f7 = s7.x + s7.y * p.ow + s7.z;
    let ohw = p.oh * p.ow;
    let kk = KH * KW;
    // Packed rows hold ceil(C / 8) * 2 vec4s; this lane's CB channels are CB / 4 of them.
    let wq = (p.c + 7u) / 8u * 2u;
    let wl = wid.z * (CB / 4u);
    var a0 = vec4<f32>(0.0);
    var b0 = vec4<f32>(0.0);
    var a1 = vec4<f32>(0.0);
    var b1 = vec4<f32>(0.0);
    var a2 = vec4<f32>(0.0);
    var b2 = vec4<f32>(0.0);
    var a3 = vec4<f32>(0.0);
    var b3 = vec4<f32>(0.0);
    var a4 = vec4<f32>(0.0);
    var b4 = vec4<f32>(0.0);
    var a5 = vec4<f32>(0.0);
    var b5 = vec4<f32>(0.0);
    var a6 = vec4<f32>(0.0);
    var b6 = vec4<f32>(0.0);
    var a7 = vec4<f32>(0.0);
    var b7 = vec4<f32>(0.0);
    // One flat loop over the taps (o, ky, kx): nested loops cost far more on lavapipe.
    var go = 0u;
    var ky = 0u;
    var kx = 0u;
    for (var wi = 0u; wi < p.o * kk; wi = wi + 1u) {
        let kyd = ky * DH;
        let kxd = kx * DW;
        var ga: vec4<f32>;
        var gb: vec4<f32>;
        if (SH == 1u && SW == 1u) {
            // Stride 1: output pixel (t.y − kyd, t.z − kxd) always exists when in range, so
            // the tap is one uniform offset and two wrapping range checks per pixel.
            let t = go - kyd * p.ow - kxd;
            ga = vec4<f32>(
                ldg(f0 + t, s0.y - kyd < p.oh && s0.z - kxd < p.ow),
                ldg(f1 + t, s1.y - kyd < p.oh && s1.z - kxd < p.ow),
                ldg(f2 + t, s2.y - kyd < p.oh && s2.z - kxd < p.ow),
                ldg(f3 + t, s3.y - kyd < p.oh && s3.z - kxd < p.ow));
            gb = vec4<f32>(
                ldg(f4 + t, s4.y - kyd < p.oh && s4.z - kxd < p.ow),
                ldg(f5 + t, s5.y - kyd < p.oh && s5.z - kxd < p.ow),
                ldg(f6 + t, s6.y - kyd < p.oh && s6.z - kxd < p.ow),
                ldg(f7 + t, s7.y - kyd < p.oh && s7.z - kxd < p.ow));
        } else {
            ga = vec4<f32>(
                gin_load(s0.x + go, gin_row(s0.y, kyd), s0.z, kxd),
                gin_load(s1.x + go, gin_row(s1.y, kyd), s1.z, kxd),
                gin_load(s2.x + go, gin_row(s2.y, kyd), s2.z, kxd),
                gin_load(s3.x + go, gin_row(s3.y, kyd), s3.z, kxd));
            gb = vec4<f32>(
                gin_load(s4.x + go, gin_row(s4.y, kyd), s4.z, kxd),
                gin_load(s5.x + go, gin_row(s5.y, kyd), s5.z, kxd),
                gin_load(s6.x + go, gin_row(s6.y, kyd), s6.z, kxd),
                gin_load(s7.x + go, gin_row(s7.y, kyd), s7.z, kxd));
        }
        let wv = wt4[wi * wq + wl];
        let v0 = vec4<f32>(wv.x);
        a0 = fma(v0, ga, a0);
        b0 = fma(v0, gb, b0);
        let v1 = vec4<f32>(wv.y);
        a1 = fma(v1, ga, a1);
        b1 = fma(v1, gb, b1);
        let v2 = vec4<f32>(wv.z);
        a2 = fma(v2, ga, a2);
        b2 = fma(v2, gb, b2);
        let v3 = vec4<f32>(wv.w);
        a3 = fma(v3, ga, a3);
        b3 = fma(v3, gb, b3);
        if (CB == 8u) {
            let wu = wt4[wi * wq + wl + 1u];
            let v4 = vec4<f32>(wu.x);
            a4 = fma(v4, ga, a4);
            b4 = fma(v4, gb, b4);
            let v5 = vec4<f32>(wu.y);
            a5 = fma(v5, ga, a5);
            b5 = fma(v5, gb, b5);
            let v6 = vec4<f32>(wu.z);
            a6 = fma(v6, ga, a6);
            b6 = fma(v6, gb, b6);
            let v7 = vec4<f32>(wu.w);
            a7 = fma(v7, ga, a7);
            b7 = fma(v7, gb, b7);
        }
        kx = kx + 1u;
        if (kx == KW) {
            kx = 0u;
            ky = ky + 1u;
            if (ky == KH) {
                ky = 0u;
                go = go + ohw;
            }
        }
    }
    let valid = p.n * p.h * p.w - r0;
    gin_store8(v0, valid, c0 + 0u, a0, b0);
    gin_store8(v0, valid, c0 + 1u, a1, b1);
    gin_store8(v0, valid, c0 + 2u, a2, b2);
    gin_store8(v0, valid, c0 + 3u, a3, b3);
    if (CB == 8u) {
        gin_store8(v0, valid, c0 + 4u, a4, b4);
        gin_store8(v0, valid, c0 + 5u, a5, b5);
        gin_store8(v0, valid, c0 + 6u, a6, b6);
        gin_store8(v0, valid, c0 + 7u, a7, b7);
    }
}

// ---------------------------------------------------------------------------------------
// Grad weight, pass 1 of 2: partial sums over chunks of output pixels.
//   part[s, o, e] = sum_{q in chunk s} g[n, o, oy, ox] * x[n, c, oy*SH - PH + ky*DH, ox*SW - PW + kx*DW]
// with e = (c * KH + ky) * KW + kx and q = (n * OH + oy) * OW + ox running in order over
// [s * chunk, min((s + 1) * chunk, N * OH * OW)). Pass 2 (ops/conv.rs) sums over s in
// order with the reduce kernel, so the result is deterministic.
// Invocation i = gid.x + gid.y * nwg.x * 64 = (s * OB + ob) * EB + eb owns weights
// o0 .. o0+7 (o0 = ob * 8) x e0 .. e0+7 (e0 = eb * 8); OB = ceil(O / 8), EB = ceil(C*KH*KW / 8).

// For weight entry e: (offset of channel c in an image, ky*DH, kx*DW).
fn gw_entry(e: u32) -> vec3<u32> {
    let kk = KH * KW;
    let ee = min(e, p.c * kk - 1u);
    let m = ee % kk;
    return vec3<u32>((ee / kk) * p.h * p.w, (m / KW) * DH, (m % KW) * DW);
}

fn gw_load(xn: u32, iy0: u32, ix0: u32, e: vec3<u32>) -> f32 {
    let iy = iy0 + e.y;
    let ix = ix0 + e.z;
    return ldx(xn + e.x + iy * p.w + ix, iy < p.h && ix < p.w);
}

fn gw_store(base: u32, o: u32, e: u32, v: f32) {
    let ckk = p.c * KH * KW;
    if (o >= p.o || e >= ckk) { return; }
    out[base + o * ckk + e] = v;
}

fn gw_store4(base: u32, o: u32, e0: u32, a: vec4<f32>) {
    gw_store(base, o, e0, a.x);
    gw_store(base, o, e0 + 1u, a.y);
    gw_store(base, o, e0 + 2u, a.z);
    gw_store(base, o, e0 + 3u, a.w);
}

fn gw_store8(base: u32, o: u32, e0: u32, a: vec4<f32>, b: vec4<f32>) {
    gw_store4(base, o, e0, a);
    gw_store4(base, o, e0 + 4u, b);
}

@compute @workgroup_size(64)
fn conv2d_grad_weight(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 64u;
    let ckk = p.c * KH * KW;
    let eblocks = (ckk + 7u) / 8u;
    let oblocks = (p.o + 7u) / 8u;
    if (i >= p.splits * oblocks * eblocks) { return; }
    let e0 = (i % eblocks) * 8u;
    let o0 = ((i / eblocks) % oblocks) * 8u;
    let s = i / (eblocks * oblocks);
    let ohw = p.oh * p.ow;
    let chw = p.c * p.h * p.w;
    let f0 = gw_entry(e0);
    let f1 = gw_entry(e0 + 1u);
    let f2 = gw_entry(e0 + 2u);
    let f3 = gw_entry(e0 + 3u);
    let f4 = gw_entry(e0 + 4u);
    let f5 = gw_entry(e0 + 5u);
    let f6 = gw_entry(e0 + 6u);
    let f7 = gw_entry(e0 + 7u);
    let g0 = min(o0 + 0u, p.o - 1u) * ohw;
    let g1 = min(o0 + 1u, p.o - 1u) * ohw;
    let g2 = min(o0 + 2u, p.o - 1u) * ohw;
    let g3 = min(o0 + 3u, p.o - 1u) * ohw;
    let g4 = min(o0 + 4u, p.o - 1u) * ohw;
    let g5 = min(o0 + 5u, p.o - 1u) * ohw;
    let g6 = min(o0 + 6u, p.o - 1u) * ohw;
    let g7 = min(o0 + 7u, p.o - 1u) * ohw;
    var a0 = vec4<f32>(0.0);
    var b0 = vec4<f32>(0.0);
    var a1 = vec4<f32>(0.0);
    var b1 = vec4<f32>(0.0);
    var a2 = vec4<f32>(0.0);
    var b2 = vec4<f32>(0.0);
    var a3 = vec4<f32>(0.0);
    var b3 = vec4<f32>(0.0);
    var a4 = vec4<f32>(0.0);
    var b4 = vec4<f32>(0.0);
    var a5 = vec4<f32>(0.0);
    var b5 = vec4<f32>(0.0);
    var a6 = vec4<f32>(0.0);
    var b6 = vec4<f32>(0.0);
    var a7 = vec4<f32>(0.0);
    var b7 = vec4<f32>(0.0);
    let q_start = s * p.chunk;
    let q_end = min(q_start + p.chunk, p.n * ohw);
    var n = q_start / ohw;
    var oy = (q_start % ohw) / p.ow;
    var ox = q_start % p.ow;
    for (var q = q_start; q < q_end; q = q + 1u) {
        let gp = n * p.o * ohw + oy * p.ow + ox;
        let xn = n * chw;
        let iy0 = oy * SH - p.ph;
        let ix0 = ox * SW - p.pw;
        let xa = vec4<f32>(gw_load(xn, iy0, ix0, f0), gw_load(xn, iy0, ix0, f1), gw_load(xn, iy0, ix0, f2), gw_load(xn, iy0, ix0, f3));
        let xb = vec4<f32>(gw_load(xn, iy0, ix0, f4), gw_load(xn, iy0, ix0, f5), gw_load(xn, iy0, ix0, f6), gw_load(xn, iy0, ix0, f7));
        let v0 = vec4<f32>(g[gp + g0]);
        a0 = fma(v0, xa, a0);
        b0 = fma(v0, xb, b0);
        let v1 = vec4<f32>(g[gp + g1]);
        a1 = fma(v1, xa, a1);
        b1 = fma(v1, xb, b1);
        let v2 = vec4<f32>(g[gp + g2]);
        a2 = fma(v2, xa, a2);
        b2 = fma(v2, xb, b2);
        let v3 = vec4<f32>(g[gp + g3]);
        a3 = fma(v3, xa, a3);
        b3 = fma(v3, xb, b3);
        let v4 = vec4<f32>(g[gp + g4]);
        a4 = fma(v4, xa, a4);
        b4 = fma(v4, xb, b4);
        let v5 = vec4<f32>(g[gp + g5]);
        a5 = fma(v5, xa, a5);
        b5 = fma(v5, xb, b5);
        let v6 = vec4<f32>(g[gp + g6]);
        a6 = fma(v6, xa, a6);
        b6 = fma(v6, xb, b6);
        let v7 = vec4<f32>(g[gp + g7]);
        a7 = fma(v7, xa, a7);
        b7 = fma(v7, xb, b7);
        ox = ox + 1u;
        if (ox == p.ow) {
            ox = 0u;
            oy = oy + 1u;
            if (oy == p.oh) {
                oy = 0u;
                n = n + 1u;
            }
        }
    }
    let base = s * p.o * ckk;
    gw_store8(base, o0 + 0u, e0, a0, b0);
    gw_store8(base, o0 + 1u, e0, a1, b1);
    gw_store8(base, o0 + 2u, e0, a2, b2);
    gw_store8(base, o0 + 3u, e0, a3, b3);
    gw_store8(base, o0 + 4u, e0, a4, b4);
    gw_store8(base, o0 + 5u, e0, a5, b5);
    gw_store8(base, o0 + 6u, e0, a6, b6);
    gw_store8(base, o0 + 7u, e0, a7, b7);
}

// ---------------------------------------------------------------------------------------
// Weight repacking for the forward and grad-input kernels, so the 8 channels a lane
// multiplies by at one tap are two aligned, workgroup-uniform vec4 loads instead of 8
// scalar ones. Columns are padded with zeros to a multiple of 8.
//   flags bit 2 clear (forward):   pk[e * O8 + o] = w[o, e],  e = (c * KH + ky) * KW + kx
//   flags bit 2 set (grad input):  pk[t * C8 + c] = w[o, c, ky, kx],  t = (o * KH + ky) * KW + kx
// Invocation: element i = gid.x + gid.y * nwg.x * 256 of pk.
@compute @workgroup_size(256)
fn conv2d_pack(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    let kk = KH * KW;
    let for_gin = (p.flags & 4u) != 0u;
    let cols = select(p.o, p.c, for_gin);
    let cols8 = (cols + 7u) / 8u * 8u;
    let rows = select(p.c, p.o, for_gin) * kk;
    if (i >= rows * cols8) { return; }
    let r = i / cols8;
    let col = i % cols8;
    let src = select(col * p.c * kk + r, ((r / kk) * p.c + col) * kk + r % kk, for_gin);
    out[i] = select(0.0, wt[select(0u, src, col < cols)], col < cols);
}

// The weights of the grad input as a forward convolution (stride 1, dilation 1): the
// transposed convolution of g is the convolution of g with w flipped in both spatial
// axes and its channel axes swapped, padded by K - 1 - P (ops/conv2d.rs):
//   out[((c * O + o) * KH + ky) * KW + kx] = w[((o * C + c) * KH + KH - 1 - ky) * KW + KW - 1 - kx]
// Invocation: element i = gid.x + gid.y * nwg.x * 256 of out.
@compute @workgroup_size(256)
fn conv2d_flip(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    let kk = KH * KW;
    if (i >= p.o * p.c * kk) { return; }
    let t = i % kk;
    let co = i / kk;
    let src = ((co % p.o) * p.c + co / p.o) * kk + (kk - 1u - t);
    out[i] = wt[src];
}

// ---------------------------------------------------------------------------------------
// Eval mode, batch norm folded into the convolution (ops/conv2d.rs, conv2d_bn_relu_pool):
//   out[e] = w[o, e] * a[o]                 e < O * C*KH*KW (o = e / (C*KH*KW))
//   out[O * C*KH*KW + o] = bias[o] * a[o] + t[o]
// with a = gamma / sqrt(var + eps) and t = beta - mean * a from the running statistics, as
// bn_finalize_eval computes them, so relu(bn(conv(x, w) + bias)) = relu(conv(x, w') + b').
// flags bit 0: the convolution has a bias. Invocation: element i = gid.x + gid.y * nwg.x * 256.
@group(0) @binding(7) var<storage, read> bn_gamma: array<f32>;
@group(0) @binding(8) var<storage, read> bn_beta: array<f32>;
@group(0) @binding(9) var<storage, read> bn_mean: array<f32>;
@group(0) @binding(10) var<storage, read> bn_var: array<f32>;

@compute @workgroup_size(256)
fn conv2d_fold_bn(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    let ckk = p.c * KH * KW;
    let nw = p.o * ckk;
    if (i >= nw + p.o) { return; }
    let o = select(i - nw, i / ckk, i < nw);
    let a = bn_gamma[o] * (1.0 / sqrt(bn_var[o] + p.eps));
    if (i < nw) {
        out[i] = wt[i] * a;
    } else {
        let b = select(0.0, bias[o], (p.flags & 1u) != 0u);
        out[i] = b * a + (bn_beta[o] - bn_mean[o] * a);
    }
}


//#if subgroups
// ---------------------------------------------------------------------------------------
// conv2d_fwd_sg: the forward for adapters with 8-wide subgroups. Same lanes as conv2d_fwd
// (8 output pixels each), but a lane owns 8 * CT output channels o0 .. o0 + 8*CT - 1,
// o0 = wid.z * 8 * CT, and the weights come by broadcast: at each tap, lane sl of a subgroup
// loads w[o0 + 8t + sl] (t < CT) from the unpacked [O, C*KH*KW] weights and
// subgroupBroadcast hands the 8 values round. llvmpipe gathers every storage load per
// lane even when the address is uniform, so this replaces 8*CT gathered weight loads
// per tap with CT (see matmul_sg).
@compute @workgroup_size(64)
fn conv2d_fwd_sg(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) sl: u32) {
    let total = p.n * p.oh * p.ow;
    let q0 = (gid.x + gid.y * nwg.x * 64u) * 8u;
    // Every lane of a subgroup must take part in the broadcasts: a subgroup leaves only
    // when all its lanes are past the end, and lanes past the end in a subgroup that stays
    // work on the last pixel and store nothing.
    if (subgroupAll(q0 >= total)) { return; }
    let v0 = cursor(min(q0, total - 1u), p.oh, p.ow);
    let v1 = step(v0, p.oh, p.ow);
    let v2 = step(v1, p.oh, p.ow);
    let v3 = step(v2, p.oh, p.ow);
    let v4 = step(v3, p.oh, p.ow);
    let v5 = step(v4, p.oh, p.ow);
    let v6 = step(v5, p.oh, p.ow);
    let v7 = step(v6, p.oh, p.ow);
    let s0 = fwd_taps(v0);
    let s1 = fwd_taps(v1);
    let s2 = fwd_taps(v2);
    let s3 = fwd_taps(v3);
    let s4 = fwd_taps(v4);
    let s5 = fwd_taps(v5);
    let s6 = fwd_taps(v6);
    let s7 = fwd_taps(v7);
    let e0 = s0.x + s0.y * p.w + s0.z;
    let e1 = s1.x + s1.y * p.w + s1.z;
    let e2 = s2.x + s2.y * p.w + s2.z;
    let e3 = s3.x + s3.y * p.w + s3.z;
    let e4 = s4.x + s4.y * p.w + s4.z;
    let e5 = s5.x + s5.y * p.w + s5.z;
    let e6 = s6.x + s6.y * p.w + s6.z;
    let e7 = s7.x + s7.y * p.w + s7.z;
    let hw = p.h * p.w;
    let ckk = p.c * KH * KW;
    let o0 = wid.z * 8u * CT;
    let wrow0 = min(o0 + 0u + sl, p.o - 1u) * ckk;
    let wrow1 = min(o0 + 8u + sl, p.o - 1u) * ckk;
    var a0_0 = vec4<f32>(0.0);
    var b0_0 = vec4<f32>(0.0);
    var a0_1 = vec4<f32>(0.0);
    var b0_1 = vec4<f32>(0.0);
    var a0_2 = vec4<f32>(0.0);
    var b0_2 = vec4<f32>(0.0);
    var a0_3 = vec4<f32>(0.0);
    var b0_3 = vec4<f32>(0.0);
    var a0_4 = vec4<f32>(0.0);
    var b0_4 = vec4<f32>(0.0);
    var a0_5 = vec4<f32>(0.0);
    var b0_5 = vec4<f32>(0.0);
    var a0_6 = vec4<f32>(0.0);
    var b0_6 = vec4<f32>(0.0);
    var a0_7 = vec4<f32>(0.0);
    var b0_7 = vec4<f32>(0.0);
    var a1_0 = vec4<f32>(0.0);
    var b1_0 = vec4<f32>(0.0);
    var a1_1 = vec4<f32>(0.0);
    var b1_1 = vec4<f32>(0.0);
    var a1_2 = vec4<f32>(0.0);
    var b1_2 = vec4<f32>(0.0);
    var a1_3 = vec4<f32>(0.0);
    var b1_3 = vec4<f32>(0.0);
    var a1_4 = vec4<f32>(0.0);
    var b1_4 = vec4<f32>(0.0);
    var a1_5 = vec4<f32>(0.0);
    var b1_5 = vec4<f32>(0.0);
    var a1_6 = vec4<f32>(0.0);
    var b1_6 = vec4<f32>(0.0);
    var a1_7 = vec4<f32>(0.0);
    var b1_7 = vec4<f32>(0.0);
    var xc = 0u;
    var ky = 0u;
    var kx = 0u;
    for (var wi_off = 0u; wi_off < ckk; wi_off = wi_off + 1u) {
        let kyd = ky * DH;
        let kxd = kx * DW;
        let t = xc + kyd * p.w + kxd;
        let xa = vec4<f32>(
            ldx(e0 + t, s0.y + kyd < p.h && s0.z + kxd < p.w),
            ldx(e1 + t, s1.y + kyd < p.h && s1.z + kxd < p.w),
            ldx(e2 + t, s2.y + kyd < p.h && s2.z + kxd < p.w),
            ldx(e3 + t, s3.y + kyd < p.h && s3.z + kxd < p.w));
        let xb = vec4<f32>(
            ldx(e4 + t, s4.y + kyd < p.h && s4.z + kxd < p.w),
            ldx(e5 + t, s5.y + kyd < p.h && s5.z + kxd < p.w),
            ldx(e6 + t, s6.y + kyd < p.h && s6.z + kxd < p.w),
            ldx(e7 + t, s7.y + kyd < p.h && s7.z + kxd < p.w));
        let wl0 = wt[wrow0 + wi_off];
        let w0_0 = vec4<f32>(subgroupBroadcast(wl0, 0u));
        a0_0 = fma(w0_0, xa, a0_0);
        b0_0 = fma(w0_0, xb, b0_0);
        let w0_1 = vec4<f32>(subgroupBroadcast(wl0, 1u));
        a0_1 = fma(w0_1, xa, a0_1);
        b0_1 = fma(w0_1, xb, b0_1);
        let w0_2 = vec4<f32>(subgroupBroadcast(wl0, 2u));
        a0_2 = fma(w0_2, xa, a0_2);
        b0_2 = fma(w0_2, xb, b0_2);
        let w0_3 = vec4<f32>(subgroupBroadcast(wl0, 3u));
        a0_3 = fma(w0_3, xa, a0_3);
        b0_3 = fma(w0_3, xb, b0_3);
        let w0_4 = vec4<f32>(subgroupBroadcast(wl0, 4u));
        a0_4 = fma(w0_4, xa, a0_4);
        b0_4 = fma(w0_4, xb, b0_4);
        let w0_5 = vec4<f32>(subgroupBroadcast(wl0, 5u));
        a0_5 = fma(w0_5, xa, a0_5);
        b0_5 = fma(w0_5, xb, b0_5);
        let w0_6 = vec4<f32>(subgroupBroadcast(wl0, 6u));
        a0_6 = fma(w0_6, xa, a0_6);
        b0_6 = fma(w0_6, xb, b0_6);
        let w0_7 = vec4<f32>(subgroupBroadcast(wl0, 7u));
        a0_7 = fma(w0_7, xa, a0_7);
        b0_7 = fma(w0_7, xb, b0_7);
        if (CT >= 2u) {
            let wl1 = wt[wrow1 + wi_off];
            let w1_0 = vec4<f32>(subgroupBroadcast(wl1, 0u));
            a1_0 = fma(w1_0, xa, a1_0);
            b1_0 = fma(w1_0, xb, b1_0);
            let w1_1 = vec4<f32>(subgroupBroadcast(wl1, 1u));
            a1_1 = fma(w1_1, xa, a1_1);
            b1_1 = fma(w1_1, xb, b1_1);
            let w1_2 = vec4<f32>(subgroupBroadcast(wl1, 2u));
            a1_2 = fma(w1_2, xa, a1_2);
            b1_2 = fma(w1_2, xb, b1_2);
            let w1_3 = vec4<f32>(subgroupBroadcast(wl1, 3u));
            a1_3 = fma(w1_3, xa, a1_3);
            b1_3 = fma(w1_3, xb, b1_3);
            let w1_4 = vec4<f32>(subgroupBroadcast(wl1, 4u));
            a1_4 = fma(w1_4, xa, a1_4);
            b1_4 = fma(w1_4, xb, b1_4);
            let w1_5 = vec4<f32>(subgroupBroadcast(wl1, 5u));
            a1_5 = fma(w1_5, xa, a1_5);
            b1_5 = fma(w1_5, xb, b1_5);
            let w1_6 = vec4<f32>(subgroupBroadcast(wl1, 6u));
            a1_6 = fma(w1_6, xa, a1_6);
            b1_6 = fma(w1_6, xb, b1_6);
            let w1_7 = vec4<f32>(subgroupBroadcast(wl1, 7u));
            a1_7 = fma(w1_7, xa, a1_7);
            b1_7 = fma(w1_7, xb, b1_7);
        }
        kx = kx + 1u;
        if (kx == KW) {
            kx = 0u;
            ky = ky + 1u;
            if (ky == KH) {
                ky = 0u;
                xc = xc + hw;
            }
        }
    }
    let valid = select(0u, total - q0, q0 < total);
    fwd_store8(v0, valid, o0 + 0u, a0_0, b0_0);
    fwd_store8(v0, valid, o0 + 1u, a0_1, b0_1);
    fwd_store8(v0, valid, o0 + 2u, a0_2, b0_2);
    fwd_store8(v0, valid, o0 + 3u, a0_3, b0_3);
    fwd_store8(v0, valid, o0 + 4u, a0_4, b0_4);
    fwd_store8(v0, valid, o0 + 5u, a0_5, b0_5);
    fwd_store8(v0, valid, o0 + 6u, a0_6, b0_6);
    fwd_store8(v0, valid, o0 + 7u, a0_7, b0_7);
    if (CT >= 2u) {
        fwd_store8(v0, valid, o0 + 8u, a1_0, b1_0);
        fwd_store8(v0, valid, o0 + 9u, a1_1, b1_1);
        fwd_store8(v0, valid, o0 + 10u, a1_2, b1_2);
        fwd_store8(v0, valid, o0 + 11u, a1_3, b1_3);
        fwd_store8(v0, valid, o0 + 12u, a1_4, b1_4);
        fwd_store8(v0, valid, o0 + 13u, a1_5, b1_5);
        fwd_store8(v0, valid, o0 + 14u, a1_6, b1_6);
        fwd_store8(v0, valid, o0 + 15u, a1_7, b1_7);
    }
}

// conv2d_grad_input_sg: conv2d_grad_input with the weights broadcast as in conv2d_fwd_sg;
// a lane owns 8 input pixels x 8 * CT input channels c0 .., c0 = wid.z * 8 * CT. Taps run
// over (o, ky, kx); lane sl loads w[o, c0 + 8t + sl, ky, kx].
@compute @workgroup_size(64)
fn conv2d_grad_input_sg(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) sl: u32) {
    let total = p.n * p.h * p.w;
    let q0 = (gid.x + gid.y * nwg.x * 64u) * 8u;
    // Every lane of a subgroup must take part in the broadcasts: a subgroup leaves only
    // when all its lanes are past the end, and lanes past the end in a subgroup that stays
    // work on the last pixel and store nothing.
    if (subgroupAll(q0 >= total)) { return; }
    let v0 = cursor(min(q0, total - 1u), p.h, p.w);
    let v1 = step(v0, p.h, p.w);
    let v2 = step(v1, p.h, p.w);
    let v3 = step(v2, p.h, p.w);
    let v4 = step(v3, p.h, p.w);
    let v5 = step(v4, p.h, p.w);
    let v6 = step(v5, p.h, p.w);
    let v7 = step(v6, p.h, p.w);
    let s0 = gin_taps(v0);
    let s1 = gin_taps(v1);
    let s2 = gin_taps(v2);
    let s3 = gin_taps(v3);
    let s4 = gin_taps(v4);
    let s5 = gin_taps(v5);
    let s6 = gin_taps(v6);
    let s7 = gin_taps(v7);
    let f0 = s0.x + s0.y * p.ow + s0.z;
    let f1 = s1.x + s1.y * p.ow + s1.z;
    let f2 = s2.x + s2.y * p.ow + s2.z;
    let f3 = s3.x + s3.y * p.ow + s3.z;
    let f4 = s4.x + s4.y * p.ow + s4.z;
    let f5 = s5.x + s5.y * p.ow + s5.z;
    let f6 = s6.x + s6.y * p.ow + s6.z;
    let f7 = s7.x + s7.y * p.ow + s7.z;
    let ohw = p.oh * p.ow;
    let kk = KH * KW;
    let c0 = wid.z * 8u * CT;
    // w[o, c, ky, kx] = wt[o * C*KK + c * KK + ky * KW + kx]: the per-lane part is c * KK.
    let wrow0 = min(c0 + 0u + sl, p.c - 1u) * kk;
    let wrow1 = min(c0 + 8u + sl, p.c - 1u) * kk;
    var a0_0 = vec4<f32>(0.0);
    var b0_0 = vec4<f32>(0.0);
    var a0_1 = vec4<f32>(0.0);
    var b0_1 = vec4<f32>(0.0);
    var a0_2 = vec4<f32>(0.0);
    var b0_2 = vec4<f32>(0.0);
    var a0_3 = vec4<f32>(0.0);
    var b0_3 = vec4<f32>(0.0);
    var a0_4 = vec4<f32>(0.0);
    var b0_4 = vec4<f32>(0.0);
    var a0_5 = vec4<f32>(0.0);
    var b0_5 = vec4<f32>(0.0);
    var a0_6 = vec4<f32>(0.0);
    var b0_6 = vec4<f32>(0.0);
    var a0_7 = vec4<f32>(0.0);
    var b0_7 = vec4<f32>(0.0);
    var a1_0 = vec4<f32>(0.0);
    var b1_0 = vec4<f32>(0.0);
    var a1_1 = vec4<f32>(0.0);
    var b1_1 = vec4<f32>(0.0);
    var a1_2 = vec4<f32>(0.0);
    var b1_2 = vec4<f32>(0.0);
    var a1_3 = vec4<f32>(0.0);
    var b1_3 = vec4<f32>(0.0);
    var a1_4 = vec4<f32>(0.0);
    var b1_4 = vec4<f32>(0.0);
    var a1_5 = vec4<f32>(0.0);
    var b1_5 = vec4<f32>(0.0);
    var a1_6 = vec4<f32>(0.0);
    var b1_6 = vec4<f32>(0.0);
    var a1_7 = vec4<f32>(0.0);
    var b1_7 = vec4<f32>(0.0);
    var go = 0u;
    var wo = 0u;
    var ky = 0u;
    var kx = 0u;
    for (var ti = 0u; ti < p.o * kk; ti = ti + 1u) {
        let kyd = ky * DH;
        let kxd = kx * DW;
        let wi_off = wo + ky * KW + kx;
        var ga: vec4<f32>;
        var gb: vec4<f32>;
        if (SH == 1u && SW == 1u) {
            let t = go - kyd * p.ow - kxd;
            ga = vec4<f32>(
                ldg(f0 + t, s0.y - kyd < p.oh && s0.z - kxd < p.ow),
                ldg(f1 + t, s1.y - kyd < p.oh && s1.z - kxd < p.ow),
                ldg(f2 + t, s2.y - kyd < p.oh && s2.z - kxd < p.ow),
                ldg(f3 + t, s3.y - kyd < p.oh && s3.z - kxd < p.ow));
            gb = vec4<f32>(
                ldg(f4 + t, s4.y - kyd < p.oh && s4.z - kxd < p.ow),
                ldg(f5 + t, s5.y - kyd < p.oh && s5.z - kxd < p.ow),
                ldg(f6 + t, s6.y - kyd < p.oh && s6.z - kxd < p.ow),
                ldg(f7 + t, s7.y - kyd < p.oh && s7.z - kxd < p.ow));
        } else {
            ga = vec4<f32>(
                gin_load(s0.x + go, gin_row(s0.y, kyd), s0.z, kxd),
                gin_load(s1.x + go, gin_row(s1.y, kyd), s1.z, kxd),
                gin_load(s2.x + go, gin_row(s2.y, kyd), s2.z, kxd),
                gin_load(s3.x + go, gin_row(s3.y, kyd), s3.z, kxd));
            gb = vec4<f32>(
                gin_load(s4.x + go, gin_row(s4.y, kyd), s4.z, kxd),
                gin_load(s5.x + go, gin_row(s5.y, kyd), s5.z, kxd),
                gin_load(s6.x + go, gin_row(s6.y, kyd), s6.z, kxd),
                gin_load(s7.x + go, gin_row(s7.y, kyd), s7.z, kxd));
        }
        let wl0 = wt[wrow0 + wi_off];
        let w0_0 = vec4<f32>(subgroupBroadcast(wl0, 0u));
        a0_0 = fma(w0_0, ga, a0_0);
        b0_0 = fma(w0_0, gb, b0_0);
        let w0_1 = vec4<f32>(subgroupBroadcast(wl0, 1u));
        a0_1 = fma(w0_1, ga, a0_1);
        b0_1 = fma(w0_1, gb, b0_1);
        let w0_2 = vec4<f32>(subgroupBroadcast(wl0, 2u));
        a0_2 = fma(w0_2, ga, a0_2);
        b0_2 = fma(w0_2, gb, b0_2);
        let w0_3 = vec4<f32>(subgroupBroadcast(wl0, 3u));
        a0_3 = fma(w0_3, ga, a0_3);
        b0_3 = fma(w0_3, gb, b0_3);
        let w0_4 = vec4<f32>(subgroupBroadcast(wl0, 4u));
        a0_4 = fma(w0_4, ga, a0_4);
        b0_4 = fma(w0_4, gb, b0_4);
        let w0_5 = vec4<f32>(subgroupBroadcast(wl0, 5u));
        a0_5 = fma(w0_5, ga, a0_5);
        b0_5 = fma(w0_5, gb, b0_5);
        let w0_6 = vec4<f32>(subgroupBroadcast(wl0, 6u));
        a0_6 = fma(w0_6, ga, a0_6);
        b0_6 = fma(w0_6, gb, b0_6);
        let w0_7 = vec4<f32>(subgroupBroadcast(wl0, 7u));
        a0_7 = fma(w0_7, ga, a0_7);
        b0_7 = fma(w0_7, gb, b0_7);
        if (CT >= 2u) {
            let wl1 = wt[wrow1 + wi_off];
            let w1_0 = vec4<f32>(subgroupBroadcast(wl1, 0u));
            a1_0 = fma(w1_0, ga, a1_0);
            b1_0 = fma(w1_0, gb, b1_0);
            let w1_1 = vec4<f32>(subgroupBroadcast(wl1, 1u));
            a1_1 = fma(w1_1, ga, a1_1);
            b1_1 = fma(w1_1, gb, b1_1);
            let w1_2 = vec4<f32>(subgroupBroadcast(wl1, 2u));
            a1_2 = fma(w1_2, ga, a1_2);
            b1_2 = fma(w1_2, gb, b1_2);
            let w1_3 = vec4<f32>(subgroupBroadcast(wl1, 3u));
            a1_3 = fma(w1_3, ga, a1_3);
            b1_3 = fma(w1_3, gb, b1_3);
            let w1_4 = vec4<f32>(subgroupBroadcast(wl1, 4u));
            a1_4 = fma(w1_4, ga, a1_4);
            b1_4 = fma(w1_4, gb, b1_4);
            let w1_5 = vec4<f32>(subgroupBroadcast(wl1, 5u));
            a1_5 = fma(w1_5, ga, a1_5);
            b1_5 = fma(w1_5, gb, b1_5);
            let w1_6 = vec4<f32>(subgroupBroadcast(wl1, 6u));
            a1_6 = fma(w1_6, ga, a1_6);
            b1_6 = fma(w1_6, gb, b1_6);
            let w1_7 = vec4<f32>(subgroupBroadcast(wl1, 7u));
            a1_7 = fma(w1_7, ga, a1_7);
            b1_7 = fma(w1_7, gb, b1_7);
        }
        kx = kx + 1u;
        if (kx == KW) {
            kx = 0u;
            ky = ky + 1u;
            if (ky == KH) {
                ky = 0u;
                go = go + ohw;
                wo = wo + p.c * kk;
            }
        }
    }
    let valid = select(0u, total - q0, q0 < total);
    gin_store8(v0, valid, c0 + 0u, a0_0, b0_0);
    gin_store8(v0, valid, c0 + 1u, a0_1, b0_1);
    gin_store8(v0, valid, c0 + 2u, a0_2, b0_2);
    gin_store8(v0, valid, c0 + 3u, a0_3, b0_3);
    gin_store8(v0, valid, c0 + 4u, a0_4, b0_4);
    gin_store8(v0, valid, c0 + 5u, a0_5, b0_5);
    gin_store8(v0, valid, c0 + 6u, a0_6, b0_6);
    gin_store8(v0, valid, c0 + 7u, a0_7, b0_7);
    if (CT >= 2u) {
        gin_store8(v0, valid, c0 + 8u, a1_0, b1_0);
        gin_store8(v0, valid, c0 + 9u, a1_1, b1_1);
        gin_store8(v0, valid, c0 + 10u, a1_2, b1_2);
        gin_store8(v0, valid, c0 + 11u, a1_3, b1_3);
        gin_store8(v0, valid, c0 + 12u, a1_4, b1_4);
        gin_store8(v0, valid, c0 + 13u, a1_5, b1_5);
        gin_store8(v0, valid, c0 + 14u, a1_6, b1_6);
        gin_store8(v0, valid, c0 + 15u, a1_7, b1_7);
    }
}
// conv2d_grad_weight_sg: pass 1 of the grad weight for adapters with 8-wide subgroups.
// A lane owns 4 weight entries e0 .. e0+3 (e0 = eb * 4) x 8 * CT output channels
// o0 .. (o0 = ob * 8 * CT) of partial sum s, for lane i = (s * OB + ob) * EB + eb with
// EB = ceil(C*KH*KW / 4) rounded up to 8, so the 8 lanes of a subgroup share s and ob
// (subgroups being 8 consecutive invocations, as in llvmpipe; the kernel tests would
// catch an adapter that groups them otherwise).
// At each output pixel, lane sl loads g for channel o0 + 8t + sl and subgroupBroadcast
// hands the 8 values round (as in conv2d_fwd_sg): 4 + CT loads per pixel instead of 16.
// Entries past the end (padding lanes) re-read the last entry and store nothing.
@compute @workgroup_size(64)
fn conv2d_grad_weight_sg(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) sl: u32) {
    let i = gid.x + gid.y * nwg.x * 64u;
    let ckk = p.c * KH * KW;
    let eblocks = ((ckk + 3u) / 4u + 7u) / 8u * 8u;
    let oblocks = (p.o + 8u * CT - 1u) / (8u * CT);
    // Lanes past the end: a subgroup leaves only as a whole (the broadcasts need every
    // lane); in one that stays they work on the last block and store nothing.
    let lanes = p.splits * oblocks * eblocks;
    if (subgroupAll(i >= lanes)) { return; }
    let live = i < lanes;
    let ic = min(i, lanes - 1u);
    let e0 = (ic % eblocks) * 4u;
    let o0 = ((ic / eblocks) % oblocks) * 8u * CT;
    let s = ic / (eblocks * oblocks);
    let ohw = p.oh * p.ow;
    let chw = p.c * p.h * p.w;
    let f0 = gw_entry(e0 + 0u);
    let f1 = gw_entry(e0 + 1u);
    let f2 = gw_entry(e0 + 2u);
    let f3 = gw_entry(e0 + 3u);
    let gl0 = min(o0 + 0u + sl, p.o - 1u) * ohw;
    let gl1 = min(o0 + 8u + sl, p.o - 1u) * ohw;
    var acc0_0 = vec4<f32>(0.0);
    var acc0_1 = vec4<f32>(0.0);
    var acc0_2 = vec4<f32>(0.0);
    var acc0_3 = vec4<f32>(0.0);
    var acc0_4 = vec4<f32>(0.0);
    var acc0_5 = vec4<f32>(0.0);
    var acc0_6 = vec4<f32>(0.0);
    var acc0_7 = vec4<f32>(0.0);
    var acc1_0 = vec4<f32>(0.0);
    var acc1_1 = vec4<f32>(0.0);
    var acc1_2 = vec4<f32>(0.0);
    var acc1_3 = vec4<f32>(0.0);
    var acc1_4 = vec4<f32>(0.0);
    var acc1_5 = vec4<f32>(0.0);
    var acc1_6 = vec4<f32>(0.0);
    var acc1_7 = vec4<f32>(0.0);
    let q_start = s * p.chunk;
    let q_end = min(q_start + p.chunk, p.n * ohw);
    var n = q_start / ohw;
    var oy = (q_start % ohw) / p.ow;
    var ox = q_start % p.ow;
    // Two pixels per iteration, A and the next one B where it is in the chunk: each
    // accumulator is assigned once per pair (llvmpipe blends every assignment to a
    // loop-carried variable with the loop mask). The chains add A, then B only where it
    // exists, so the sums are bit for bit those of one pixel per iteration.
    var q = q_start;
    loop {
        if (q >= q_end) { break; }
        let pair = q + 1u < q_end;
        let gpa = n * p.o * ohw + oy * p.ow + ox;
        let xva = vec4<f32>(gw_load(n * chw, oy * SH - p.ph, ox * SW - p.pw, f0), gw_load(n * chw, oy * SH - p.ph, ox * SW - p.pw, f1), gw_load(n * chw, oy * SH - p.ph, ox * SW - p.pw, f2), gw_load(n * chw, oy * SH - p.ph, ox * SW - p.pw, f3));
        // B's cursor (A's own where there is no B).
        let va = vec3<u32>(n, oy, ox);
        let vb = select(va, step(va, p.oh, p.ow), pair);
        let nb = vb.x;
        let oyb = vb.y;
        let oxb = vb.z;
        let gpb = nb * p.o * ohw + oyb * p.ow + oxb;
        let xvb = vec4<f32>(gw_load(nb * chw, oyb * SH - p.ph, oxb * SW - p.pw, f0), gw_load(nb * chw, oyb * SH - p.ph, oxb * SW - p.pw, f1), gw_load(nb * chw, oyb * SH - p.ph, oxb * SW - p.pw, f2), gw_load(nb * chw, oyb * SH - p.ph, oxb * SW - p.pw, f3));
        let gva0 = g[gpa + gl0];
        let gvb0 = g[gpb + gl0];
        let ga0_0 = vec4<f32>(subgroupBroadcast(gva0, 0u));
        let gb0_0 = vec4<f32>(subgroupBroadcast(gvb0, 0u));
        let t0_0 = fma(ga0_0, xva, acc0_0);
        acc0_0 = select(t0_0, fma(gb0_0, xvb, t0_0), pair);
        let ga0_1 = vec4<f32>(subgroupBroadcast(gva0, 1u));
        let gb0_1 = vec4<f32>(subgroupBroadcast(gvb0, 1u));
        let t0_1 = fma(ga0_1, xva, acc0_1);
        acc0_1 = select(t0_1, fma(gb0_1, xvb, t0_1), pair);
        let ga0_2 = vec4<f32>(subgroupBroadcast(gva0, 2u));
        let gb0_2 = vec4<f32>(subgroupBroadcast(gvb0, 2u));
        let t0_2 = fma(ga0_2, xva, acc0_2);
        acc0_2 = select(t0_2, fma(gb0_2, xvb, t0_2), pair);
        let ga0_3 = vec4<f32>(subgroupBroadcast(gva0, 3u));
        let gb0_3 = vec4<f32>(subgroupBroadcast(gvb0, 3u));
        let t0_3 = fma(ga0_3, xva, acc0_3);
        acc0_3 = select(t0_3, fma(gb0_3, xvb, t0_3), pair);
        let ga0_4 = vec4<f32>(subgroupBroadcast(gva0, 4u));
        let gb0_4 = vec4<f32>(subgroupBroadcast(gvb0, 4u));
        let t0_4 = fma(ga0_4, xva, acc0_4);
        acc0_4 = select(t0_4, fma(gb0_4, xvb, t0_4), pair);
        let ga0_5 = vec4<f32>(subgroupBroadcast(gva0, 5u));
        let gb0_5 = vec4<f32>(subgroupBroadcast(gvb0, 5u));
        let t0_5 = fma(ga0_5, xva, acc0_5);
        acc0_5 = select(t0_5, fma(gb0_5, xvb, t0_5), pair);
        let ga0_6 = vec4<f32>(subgroupBroadcast(gva0, 6u));
        let gb0_6 = vec4<f32>(subgroupBroadcast(gvb0, 6u));
        let t0_6 = fma(ga0_6, xva, acc0_6);
        acc0_6 = select(t0_6, fma(gb0_6, xvb, t0_6), pair);
        let ga0_7 = vec4<f32>(subgroupBroadcast(gva0, 7u));
        let gb0_7 = vec4<f32>(subgroupBroadcast(gvb0, 7u));
        let t0_7 = fma(ga0_7, xva, acc0_7);
        acc0_7 = select(t0_7, fma(gb0_7, xvb, t0_7), pair);
        if (CT >= 2u) {
            let gva1 = g[gpa + gl1];
            let gvb1 = g[gpb + gl1];
            let ga1_0 = vec4<f32>(subgroupBroadcast(gva1, 0u));
            let gb1_0 = vec4<f32>(subgroupBroadcast(gvb1, 0u));
            let t1_0 = fma(ga1_0, xva, acc1_0);
            acc1_0 = select(t1_0, fma(gb1_0, xvb, t1_0), pair);
            let ga1_1 = vec4<f32>(subgroupBroadcast(gva1, 1u));
            let gb1_1 = vec4<f32>(subgroupBroadcast(gvb1, 1u));
            let t1_1 = fma(ga1_1, xva, acc1_1);
            acc1_1 = select(t1_1, fma(gb1_1, xvb, t1_1), pair);
            let ga1_2 = vec4<f32>(subgroupBroadcast(gva1, 2u));
            let gb1_2 = vec4<f32>(subgroupBroadcast(gvb1, 2u));
            let t1_2 = fma(ga1_2, xva, acc1_2);
            acc1_2 = select(t1_2, fma(gb1_2, xvb, t1_2), pair);
            let ga1_3 = vec4<f32>(subgroupBroadcast(gva1, 3u));
            let gb1_3 = vec4<f32>(subgroupBroadcast(gvb1, 3u));
            let t1_3 = fma(ga1_3, xva, acc1_3);
            acc1_3 = select(t1_3, fma(gb1_3, xvb, t1_3), pair);
            let ga1_4 = vec4<f32>(subgroupBroadcast(gva1, 4u));
            let gb1_4 = vec4<f32>(subgroupBroadcast(gvb1, 4u));
            let t1_4 = fma(ga1_4, xva, acc1_4);
            acc1_4 = select(t1_4, fma(gb1_4, xvb, t1_4), pair);
            let ga1_5 = vec4<f32>(subgroupBroadcast(gva1, 5u));
            let gb1_5 = vec4<f32>(subgroupBroadcast(gvb1, 5u));
            let t1_5 = fma(ga1_5, xva, acc1_5);
            acc1_5 = select(t1_5, fma(gb1_5, xvb, t1_5), pair);
            let ga1_6 = vec4<f32>(subgroupBroadcast(gva1, 6u));
            let gb1_6 = vec4<f32>(subgroupBroadcast(gvb1, 6u));
            let t1_6 = fma(ga1_6, xva, acc1_6);
            acc1_6 = select(t1_6, fma(gb1_6, xvb, t1_6), pair);
            let ga1_7 = vec4<f32>(subgroupBroadcast(gva1, 7u));
            let gb1_7 = vec4<f32>(subgroupBroadcast(gvb1, 7u));
            let t1_7 = fma(ga1_7, xva, acc1_7);
            acc1_7 = select(t1_7, fma(gb1_7, xvb, t1_7), pair);
        }
        // The next A: one pixel past B (past A where there was no B).
        q = q + select(1u, 2u, pair);
        let vn = step(vb, p.oh, p.ow);
        n = vn.x;
        oy = vn.y;
        ox = vn.z;
    }
    let base = s * p.o * ckk;
    if (!live) { return; }
    gw_store4(base, o0 + 0u, e0, acc0_0);
    gw_store4(base, o0 + 1u, e0, acc0_1);
    gw_store4(base, o0 + 2u, e0, acc0_2);
    gw_store4(base, o0 + 3u, e0, acc0_3);
    gw_store4(base, o0 + 4u, e0, acc0_4);
    gw_store4(base, o0 + 5u, e0, acc0_5);
    gw_store4(base, o0 + 6u, e0, acc0_6);
    gw_store4(base, o0 + 7u, e0, acc0_7);
    if (CT >= 2u) {
        gw_store4(base, o0 + 8u, e0, acc1_0);
        gw_store4(base, o0 + 9u, e0, acc1_1);
        gw_store4(base, o0 + 10u, e0, acc1_2);
        gw_store4(base, o0 + 11u, e0, acc1_3);
        gw_store4(base, o0 + 12u, e0, acc1_4);
        gw_store4(base, o0 + 13u, e0, acc1_5);
        gw_store4(base, o0 + 14u, e0, acc1_6);
        gw_store4(base, o0 + 15u, e0, acc1_7);
    }
}
// acc plus the KW taps of one kernel row: tap k multiplies w[k] by window columns
// k .. k + 3 (x holds columns 0 .. 7 of the lane's window). A chain of lets, not a loop:
// the row kernels assign each accumulator once per kernel row (see conv2d_fwd_row_sg).
fn taps(acc: vec4<f32>, w: array<f32, 5>, x: array<f32, 8>) -> vec4<f32> {
    let t0 = select(acc, fma(vec4<f32>(w[0]), vec4<f32>(x[0], x[1], x[2], x[3]), acc), KW > 0u);
    let t1 = select(t0, fma(vec4<f32>(w[1]), vec4<f32>(x[1], x[2], x[3], x[4]), t0), KW > 1u);
    let t2 = select(t1, fma(vec4<f32>(w[2]), vec4<f32>(x[2], x[3], x[4], x[5]), t1), KW > 2u);
    let t3 = select(t2, fma(vec4<f32>(w[3]), vec4<f32>(x[3], x[4], x[5], x[6]), t2), KW > 3u);
    return select(t3, fma(vec4<f32>(w[4]), vec4<f32>(x[4], x[5], x[6], x[7]), t3), KW > 4u);
}

// ---------------------------------------------------------------------------------------
// conv2d_fwd_row_sg: the forward for stride 1, dilation 1 and KW <= 5 on adapters with
// 8-wide subgroups. A lane owns 8 consecutive output pixels of ROWS (override, 1 or 2)
// output rows, ox0 .. ox0+7 (ox0 = 8 * block, OW rounded up to whole blocks per row) of rows
// oy0 = ROWS * pair .. oy0 + ROWS - 1, and 8 * CT output channels (o0 = wid.z * 8 * CT,
// weights broadcast as in conv2d_fwd_sg). At input row (c, r) the 8 + KW - 1 input values
// the lane's pixels see are loaded once and tap k reads columns k .. k + 7 of them, so a
// 5x5 layer loads 12 values per kernel row instead of 40 (llvmpipe loads each one lane by
// lane) and the bounds checks of the columns are made once per lane. With two rows, each
// of the KH + 1 input rows under them feeds kernel row r of the first output row and r - 1
// of the second, so a 5-row kernel loads 6 windows for two rows where one row per lane
// loads 10; the kernel rows that do not apply to an output row (r = KH for the first,
// r = 0 for the second) are skipped, the same for every lane. Each output's sum runs over
// (c, ky, kx) in that order whatever ROWS is, so both give the same bits (tested). Two
// rows only with CT = 1 (ops/conv2d.rs): with sixteen channels it took four times as long
// to compile on lavapipe for 4-8 % more speed. Chosen for kernels up to 5 wide on rows that
// fill the blocks (ops/conv2d.rs), and for the grad input of such layers as a forward over
// g (conv2d_flip, above).
@compute @workgroup_size(64)
fn conv2d_fwd_row_sg(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) sl: u32) {
    let blocks = (p.ow + 7u) / 8u;
    let pairs = (p.oh + ROWS - 1u) / ROWS;
    let total = p.n * pairs * blocks;
    let q = gid.x + gid.y * nwg.x * 64u;
    // As in conv2d_fwd_sg: subgroups leave as a whole; lanes past the end redo the last
    // block and store nothing.
    if (subgroupAll(q >= total)) { return; }
    let v = cursor(min(q, total - 1u), pairs, blocks);
    let ox0 = v.z * 8u;
    let oy0 = ROWS * v.y;
    let iy0 = oy0 - p.ph;
    let ix0 = ox0 - p.pw;
    // Columns ix0 + j of the window (u32: a column left of the image wraps past W).
    // Entries past 8 + KW - 2 are never used: their mask is false, so the load folds away.
    let span = 7u + KW;
    let m0 = ix0 + 0u < p.w && 0u < span;
    let m1 = ix0 + 1u < p.w && 1u < span;
    let m2 = ix0 + 2u < p.w && 2u < span;
    let m3 = ix0 + 3u < p.w && 3u < span;
    let m4 = ix0 + 4u < p.w && 4u < span;
    let m5 = ix0 + 5u < p.w && 5u < span;
    let m6 = ix0 + 6u < p.w && 6u < span;
    let m7 = ix0 + 7u < p.w && 7u < span;
    let m8 = ix0 + 8u < p.w && 8u < span;
    let m9 = ix0 + 9u < p.w && 9u < span;
    let m10 = ix0 + 10u < p.w && 10u < span;
    let m11 = ix0 + 11u < p.w && 11u < span;
    let hw = p.h * p.w;
    let khw = KH * KW;
    let ckk = p.c * khw;
    let o0 = wid.z * 8u * CT;
    let wrow0 = min(o0 + 0u + sl, p.o - 1u) * ckk;
    let wrow1 = min(o0 + 8u + sl, p.o - 1u) * ckk;
    var a00_0 = vec4<f32>(0.0);
    var b00_0 = vec4<f32>(0.0);
    var a00_1 = vec4<f32>(0.0);
    var b00_1 = vec4<f32>(0.0);
    var a00_2 = vec4<f32>(0.0);
    var b00_2 = vec4<f32>(0.0);
    var a00_3 = vec4<f32>(0.0);
    var b00_3 = vec4<f32>(0.0);
    var a00_4 = vec4<f32>(0.0);
    var b00_4 = vec4<f32>(0.0);
    var a00_5 = vec4<f32>(0.0);
    var b00_5 = vec4<f32>(0.0);
    var a00_6 = vec4<f32>(0.0);
    var b00_6 = vec4<f32>(0.0);
    var a00_7 = vec4<f32>(0.0);
    var b00_7 = vec4<f32>(0.0);
    var a01_0 = vec4<f32>(0.0);
    var b01_0 = vec4<f32>(0.0);
    var a01_1 = vec4<f32>(0.0);
    var b01_1 = vec4<f32>(0.0);
    var a01_2 = vec4<f32>(0.0);
    var b01_2 = vec4<f32>(0.0);
    var a01_3 = vec4<f32>(0.0);
    var b01_3 = vec4<f32>(0.0);
    var a01_4 = vec4<f32>(0.0);
    var b01_4 = vec4<f32>(0.0);
    var a01_5 = vec4<f32>(0.0);
    var b01_5 = vec4<f32>(0.0);
    var a01_6 = vec4<f32>(0.0);
    var b01_6 = vec4<f32>(0.0);
    var a01_7 = vec4<f32>(0.0);
    var b01_7 = vec4<f32>(0.0);
    var a10_0 = vec4<f32>(0.0);
    var b10_0 = vec4<f32>(0.0);
    var a10_1 = vec4<f32>(0.0);
    var b10_1 = vec4<f32>(0.0);
    var a10_2 = vec4<f32>(0.0);
    var b10_2 = vec4<f32>(0.0);
    var a10_3 = vec4<f32>(0.0);
    var b10_3 = vec4<f32>(0.0);
    var a10_4 = vec4<f32>(0.0);
    var b10_4 = vec4<f32>(0.0);
    var a10_5 = vec4<f32>(0.0);
    var b10_5 = vec4<f32>(0.0);
    var a10_6 = vec4<f32>(0.0);
    var b10_6 = vec4<f32>(0.0);
    var a10_7 = vec4<f32>(0.0);
    var b10_7 = vec4<f32>(0.0);
    // Input rows (c, r), r = 0 .. KH + ROWS - 2, in one flat loop (see the top of the file).
    var row = v.x * p.c * hw + iy0 * p.w + ix0;
    var iy = iy0;
    var r = 0u;
    var wc = 0u;
    let rows_c = KH + ROWS - 1u;
    for (var it = 0u; it < p.c * rows_c; it = it + 1u) {
        let ok = iy < p.h;
        let c0 = ldx(row + 0u, ok && m0);
        let c1 = ldx(row + 1u, ok && m1);
        let c2 = ldx(row + 2u, ok && m2);
        let c3 = ldx(row + 3u, ok && m3);
        let c4 = ldx(row + 4u, ok && m4);
        let c5 = ldx(row + 5u, ok && m5);
        let c6 = ldx(row + 6u, ok && m6);
        let c7 = ldx(row + 7u, ok && m7);
        let c8 = ldx(row + 8u, ok && m8);
        let c9 = ldx(row + 9u, ok && m9);
        let c10 = ldx(row + 10u, ok && m10);
        let c11 = ldx(row + 11u, ok && m11);
        // Tap k sees columns k .. k + 7. Each accumulator is assigned once per kernel row:
        // llvmpipe blends every assignment to a loop-carried variable with the loop mask,
        // so a chain of lets over the taps costs one blend where a loop over them cost KW.
        let xa = array<f32, 8>(c0, c1, c2, c3, c4, c5, c6, c7);
        let xb = array<f32, 8>(c4, c5, c6, c7, c8, c9, c10, c11);
        if (r < KH) {
            // Kernel row r of the first output row (the weights of taps past KW are dead
            // code once KW is known).
            let wi = wc + r * KW;
            let wf0_0 = wt[wrow0 + min(wi + 0u, ckk - 1u)];
            let wf0_1 = wt[wrow0 + min(wi + 1u, ckk - 1u)];
            let wf0_2 = wt[wrow0 + min(wi + 2u, ckk - 1u)];
            let wf0_3 = wt[wrow0 + min(wi + 3u, ckk - 1u)];
            let wf0_4 = wt[wrow0 + min(wi + 4u, ckk - 1u)];
            let wf1_0 = wt[wrow1 + min(wi + 0u, ckk - 1u)];
            let wf1_1 = wt[wrow1 + min(wi + 1u, ckk - 1u)];
            let wf1_2 = wt[wrow1 + min(wi + 2u, ckk - 1u)];
            let wf1_3 = wt[wrow1 + min(wi + 3u, ckk - 1u)];
            let wf1_4 = wt[wrow1 + min(wi + 4u, ckk - 1u)];
            let w00_0 = array<f32, 5>(subgroupBroadcast(wf0_0, 0u), subgroupBroadcast(wf0_1, 0u), subgroupBroadcast(wf0_2, 0u), subgroupBroadcast(wf0_3, 0u), subgroupBroadcast(wf0_4, 0u));
            a00_0 = taps(a00_0, w00_0, xa);
            b00_0 = taps(b00_0, w00_0, xb);
            let w00_1 = array<f32, 5>(subgroupBroadcast(wf0_0, 1u), subgroupBroadcast(wf0_1, 1u), subgroupBroadcast(wf0_2, 1u), subgroupBroadcast(wf0_3, 1u), subgroupBroadcast(wf0_4, 1u));
            a00_1 = taps(a00_1, w00_1, xa);
            b00_1 = taps(b00_1, w00_1, xb);
            let w00_2 = array<f32, 5>(subgroupBroadcast(wf0_0, 2u), subgroupBroadcast(wf0_1, 2u), subgroupBroadcast(wf0_2, 2u), subgroupBroadcast(wf0_3, 2u), subgroupBroadcast(wf0_4, 2u));
            a00_2 = taps(a00_2, w00_2, xa);
            b00_2 = taps(b00_2, w00_2, xb);
            let w00_3 = array<f32, 5>(subgroupBroadcast(wf0_0, 3u), subgroupBroadcast(wf0_1, 3u), subgroupBroadcast(wf0_2, 3u), subgroupBroadcast(wf0_3, 3u), subgroupBroadcast(wf0_4, 3u));
            a00_3 = taps(a00_3, w00_3, xa);
            b00_3 = taps(b00_3, w00_3, xb);
            let w00_4 = array<f32, 5>(subgroupBroadcast(wf0_0, 4u), subgroupBroadcast(wf0_1, 4u), subgroupBroadcast(wf0_2, 4u), subgroupBroadcast(wf0_3, 4u), subgroupBroadcast(wf0_4, 4u));
            a00_4 = taps(a00_4, w00_4, xa);
            b00_4 = taps(b00_4, w00_4, xb);
            let w00_5 = array<f32, 5>(subgroupBroadcast(wf0_0, 5u), subgroupBroadcast(wf0_1, 5u), subgroupBroadcast(wf0_2, 5u), subgroupBroadcast(wf0_3, 5u), subgroupBroadcast(wf0_4, 5u));
            a00_5 = taps(a00_5, w00_5, xa);
            b00_5 = taps(b00_5, w00_5, xb);
            let w00_6 = array<f32, 5>(subgroupBroadcast(wf0_0, 6u), subgroupBroadcast(wf0_1, 6u), subgroupBroadcast(wf0_2, 6u), subgroupBroadcast(wf0_3, 6u), subgroupBroadcast(wf0_4, 6u));
            a00_6 = taps(a00_6, w00_6, xa);
            b00_6 = taps(b00_6, w00_6, xb);
            let w00_7 = array<f32, 5>(subgroupBroadcast(wf0_0, 7u), subgroupBroadcast(wf0_1, 7u), subgroupBroadcast(wf0_2, 7u), subgroupBroadcast(wf0_3, 7u), subgroupBroadcast(wf0_4, 7u));
            a00_7 = taps(a00_7, w00_7, xa);
            b00_7 = taps(b00_7, w00_7, xb);
            if (CT >= 2u) {
                let w01_0 = array<f32, 5>(subgroupBroadcast(wf1_0, 0u), subgroupBroadcast(wf1_1, 0u), subgroupBroadcast(wf1_2, 0u), subgroupBroadcast(wf1_3, 0u), subgroupBroadcast(wf1_4, 0u));
                a01_0 = taps(a01_0, w01_0, xa);
                b01_0 = taps(b01_0, w01_0, xb);
                let w01_1 = array<f32, 5>(subgroupBroadcast(wf1_0, 1u), subgroupBroadcast(wf1_1, 1u), subgroupBroadcast(wf1_2, 1u), subgroupBroadcast(wf1_3, 1u), subgroupBroadcast(wf1_4, 1u));
                a01_1 = taps(a01_1, w01_1, xa);
                b01_1 = taps(b01_1, w01_1, xb);
                let w01_2 = array<f32, 5>(subgroupBroadcast(wf1_0, 2u), subgroupBroadcast(wf1_1, 2u), subgroupBroadcast(wf1_2, 2u), subgroupBroadcast(wf1_3, 2u), subgroupBroadcast(wf1_4, 2u));
                a01_2 = taps(a01_2, w01_2, xa);
                b01_2 = taps(b01_2, w01_2, xb);
                let w01_3 = array<f32, 5>(subgroupBroadcast(wf1_0, 3u), subgroupBroadcast(wf1_1, 3u), subgroupBroadcast(wf1_2, 3u), subgroupBroadcast(wf1_3, 3u), subgroupBroadcast(wf1_4, 3u));
                a01_3 = taps(a01_3, w01_3, xa);
                b01_3 = taps(b01_3, w01_3, xb);
                let w01_4 = array<f32, 5>(subgroupBroadcast(wf1_0, 4u), subgroupBroadcast(wf1_1, 4u), subgroupBroadcast(wf1_2, 4u), subgroupBroadcast(wf1_3, 4u), subgroupBroadcast(wf1_4, 4u));
                a01_4 = taps(a01_4, w01_4, xa);
                b01_4 = taps(b01_4, w01_4, xb);
                let w01_5 = array<f32, 5>(subgroupBroadcast(wf1_0, 5u), subgroupBroadcast(wf1_1, 5u), subgroupBroadcast(wf1_2, 5u), subgroupBroadcast(wf1_3, 5u), subgroupBroadcast(wf1_4, 5u));
                a01_5 = taps(a01_5, w01_5, xa);
                b01_5 = taps(b01_5, w01_5, xb);
                let w01_6 = array<f32, 5>(subgroupBroadcast(wf1_0, 6u), subgroupBroadcast(wf1_1, 6u), subgroupBroadcast(wf1_2, 6u), subgroupBroadcast(wf1_3, 6u), subgroupBroadcast(wf1_4, 6u));
                a01_6 = taps(a01_6, w01_6, xa);
                b01_6 = taps(b01_6, w01_6, xb);
                let w01_7 = array<f32, 5>(subgroupBroadcast(wf1_0, 7u), subgroupBroadcast(wf1_1, 7u), subgroupBroadcast(wf1_2, 7u), subgroupBroadcast(wf1_3, 7u), subgroupBroadcast(wf1_4, 7u));
                a01_7 = taps(a01_7, w01_7, xa);
                b01_7 = taps(b01_7, w01_7, xb);
            }
        }
        if (ROWS > 1u && r > 0u) {
            // Kernel row r - 1 of the second.
            let wi = wc + (r - 1u) * KW;
            let ws0_0 = wt[wrow0 + min(wi + 0u, ckk - 1u)];
            let ws0_1 = wt[wrow0 + min(wi + 1u, ckk - 1u)];
            let ws0_2 = wt[wrow0 + min(wi + 2u, ckk - 1u)];
            let ws0_3 = wt[wrow0 + min(wi + 3u, ckk - 1u)];
            let ws0_4 = wt[wrow0 + min(wi + 4u, ckk - 1u)];
            let w10_0 = array<f32, 5>(subgroupBroadcast(ws0_0, 0u), subgroupBroadcast(ws0_1, 0u), subgroupBroadcast(ws0_2, 0u), subgroupBroadcast(ws0_3, 0u), subgroupBroadcast(ws0_4, 0u));
            a10_0 = taps(a10_0, w10_0, xa);
            b10_0 = taps(b10_0, w10_0, xb);
            let w10_1 = array<f32, 5>(subgroupBroadcast(ws0_0, 1u), subgroupBroadcast(ws0_1, 1u), subgroupBroadcast(ws0_2, 1u), subgroupBroadcast(ws0_3, 1u), subgroupBroadcast(ws0_4, 1u));
            a10_1 = taps(a10_1, w10_1, xa);
            b10_1 = taps(b10_1, w10_1, xb);
            let w10_2 = array<f32, 5>(subgroupBroadcast(ws0_0, 2u), subgroupBroadcast(ws0_1, 2u), subgroupBroadcast(ws0_2, 2u), subgroupBroadcast(ws0_3, 2u), subgroupBroadcast(ws0_4, 2u));
            a10_2 = taps(a10_2, w10_2, xa);
            b10_2 = taps(b10_2, w10_2, xb);
            let w10_3 = array<f32, 5>(subgroupBroadcast(ws0_0, 3u), subgroupBroadcast(ws0_1, 3u), subgroupBroadcast(ws0_2, 3u), subgroupBroadcast(ws0_3, 3u), subgroupBroadcast(ws0_4, 3u));
            a10_3 = taps(a10_3, w10_3, xa);
            b10_3 = taps(b10_3, w10_3, xb);
            let w10_4 = array<f32, 5>(subgroupBroadcast(ws0_0, 4u), subgroupBroadcast(ws0_1, 4u), subgroupBroadcast(ws0_2, 4u), subgroupBroadcast(ws0_3, 4u), subgroupBroadcast(ws0_4, 4u));
            a10_4 = taps(a10_4, w10_4, xa);
            b10_4 = taps(b10_4, w10_4, xb);
            let w10_5 = array<f32, 5>(subgroupBroadcast(ws0_0, 5u), subgroupBroadcast(ws0_1, 5u), subgroupBroadcast(ws0_2, 5u), subgroupBroadcast(ws0_3, 5u), subgroupBroadcast(ws0_4, 5u));
            a10_5 = taps(a10_5, w10_5, xa);
            b10_5 = taps(b10_5, w10_5, xb);
            let w10_6 = array<f32, 5>(subgroupBroadcast(ws0_0, 6u), subgroupBroadcast(ws0_1, 6u), subgroupBroadcast(ws0_2, 6u), subgroupBroadcast(ws0_3, 6u), subgroupBroadcast(ws0_4, 6u));
            a10_6 = taps(a10_6, w10_6, xa);
            b10_6 = taps(b10_6, w10_6, xb);
            let w10_7 = array<f32, 5>(subgroupBroadcast(ws0_0, 7u), subgroupBroadcast(ws0_1, 7u), subgroupBroadcast(ws0_2, 7u), subgroupBroadcast(ws0_3, 7u), subgroupBroadcast(ws0_4, 7u));
            a10_7 = taps(a10_7, w10_7, xa);
            b10_7 = taps(b10_7, w10_7, xb);
        }
        iy = iy + 1u;
        row = row + p.w;
        r = r + 1u;
        if (r == rows_c) {
            r = 0u;
            iy = iy0;
            row = row + hw - rows_c * p.w;
            wc = wc + khw;
        }
    }
    if (q >= total) { return; }
    let valid = p.ow - ox0;
    let base0 = (v.x * p.o * p.oh + oy0) * p.ow + ox0;
    fwd_row_store8(base0, valid, o0 + 0u, a00_0, b00_0);
    fwd_row_store8(base0, valid, o0 + 1u, a00_1, b00_1);
    fwd_row_store8(base0, valid, o0 + 2u, a00_2, b00_2);
    fwd_row_store8(base0, valid, o0 + 3u, a00_3, b00_3);
    fwd_row_store8(base0, valid, o0 + 4u, a00_4, b00_4);
    fwd_row_store8(base0, valid, o0 + 5u, a00_5, b00_5);
    fwd_row_store8(base0, valid, o0 + 6u, a00_6, b00_6);
    fwd_row_store8(base0, valid, o0 + 7u, a00_7, b00_7);
    if (CT >= 2u) {
        fwd_row_store8(base0, valid, o0 + 8u, a01_0, b01_0);
        fwd_row_store8(base0, valid, o0 + 9u, a01_1, b01_1);
        fwd_row_store8(base0, valid, o0 + 10u, a01_2, b01_2);
        fwd_row_store8(base0, valid, o0 + 11u, a01_3, b01_3);
        fwd_row_store8(base0, valid, o0 + 12u, a01_4, b01_4);
        fwd_row_store8(base0, valid, o0 + 13u, a01_5, b01_5);
        fwd_row_store8(base0, valid, o0 + 14u, a01_6, b01_6);
        fwd_row_store8(base0, valid, o0 + 15u, a01_7, b01_7);
    }
    if (ROWS < 2u || oy0 + 1u >= p.oh) { return; }
    let base1 = base0 + p.ow;
    fwd_row_store8(base1, valid, o0 + 0u, a10_0, b10_0);
    fwd_row_store8(base1, valid, o0 + 1u, a10_1, b10_1);
    fwd_row_store8(base1, valid, o0 + 2u, a10_2, b10_2);
    fwd_row_store8(base1, valid, o0 + 3u, a10_3, b10_3);
    fwd_row_store8(base1, valid, o0 + 4u, a10_4, b10_4);
    fwd_row_store8(base1, valid, o0 + 5u, a10_5, b10_5);
    fwd_row_store8(base1, valid, o0 + 6u, a10_6, b10_6);
    fwd_row_store8(base1, valid, o0 + 7u, a10_7, b10_7);
}

// Stores channel o of 8 pixels of one output row (off: the first pixel at channel 0), a = pixels 0-3,
// b = 4-7; pixels from `valid` on do not exist.
fn fwd_row_store8(off: u32, valid: u32, o: u32, a: vec4<f32>, b: vec4<f32>) {
    fwd_store(0u < valid, off + 0u, o, a.x);
    fwd_store(1u < valid, off + 1u, o, a.y);
    fwd_store(2u < valid, off + 2u, o, a.z);
    fwd_store(3u < valid, off + 3u, o, a.w);
    fwd_store(4u < valid, off + 4u, o, b.x);
    fwd_store(5u < valid, off + 5u, o, b.y);
    fwd_store(6u < valid, off + 6u, o, b.z);
    fwd_store(7u < valid, off + 7u, o, b.w);
}


// The window of the next pixel along a row: taps 0-3 in w, tap 4 in s, nv the value
// entering under the last tap.
struct Win {
    w: vec4<f32>,
    s: f32,
}

fn slide(w: vec4<f32>, s: f32, nv: f32) -> Win {
    if (KW == 5u) {
        return Win(vec4<f32>(w.yzw, s), nv);
    } else if (KW == 4u) {
        return Win(vec4<f32>(w.yzw, nv), 0.0);
    } else if (KW == 3u) {
        return Win(vec4<f32>(w.yz, nv, 0.0), 0.0);
    } else if (KW == 2u) {
        return Win(vec4<f32>(w.y, nv, 0.0, 0.0), 0.0);
    }
    return Win(vec4<f32>(nv, 0.0, 0.0, 0.0), 0.0);
}

// ---------------------------------------------------------------------------------------
// conv2d_grad_weight_row_sg: pass 1 of the grad weight for stride 1, dilation 1 and
// KW <= 5 on adapters with 8-wide subgroups (chosen for rows of 32 pixels or more, or 8
// with +flip: see ops/conv2d.rs). A lane owns RP kernel rows (override, 1 to 3), rows
// r_k = r + k * RB of r = c * KH + ky, all KW taps of each, x 8 * CT output channels o0 ..
// of partial sum s, for lane i = (s * OB + ob) * RB + r with RB = ceil(C * KH / (8 * RP))
// * 8 (so the 8 lanes of a subgroup share s and ob, as in conv2d_grad_weight_sg). Walking
// the chunk's output pixels along a row, the KW input values under a kernel row slide by
// one column per pixel: a lane loads one new x value per pixel and row (plus KW at the
// start of each row) where conv2d_grad_weight_sg loads 4, and g comes by broadcast as
// there, feeding all RP rows' taps (1/RP as many subgroups load it). Taps 0-3 accumulate
// in a vec4 per channel, tap 4 in a scalar. The chunks of pixels do not depend on RP
// (ops/conv2d.rs) and each sum runs over them in the same order, so every RP gives the
// same bits (tested).
@compute @workgroup_size(64)
fn conv2d_grad_weight_row_sg(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) sl: u32) {
    let i = gid.x + gid.y * nwg.x * 64u;
    let ckh = p.c * KH;
    let rb = (ckh + 8u * RP - 1u) / (8u * RP) * 8u;
    let oblocks = (p.o + 8u * CT - 1u) / (8u * CT);
    let lanes = p.splits * oblocks * rb;
    if (subgroupAll(i >= lanes)) { return; }
    let ic = min(i, lanes - 1u);
    let r = ic % rb;
    let o0 = ((ic / rb) % oblocks) * 8u * CT;
    let s = ic / (rb * oblocks);
    let ohw = p.oh * p.ow;
    let chw = p.c * p.h * p.w;
    let live0 = i < lanes && r + 0u * rb < ckh && 0u < RP;
    let rc0 = min(r + 0u * rb, ckh - 1u);
    let ky0 = rc0 % KH;
    let xc0 = (rc0 / KH) * p.h * p.w;
    let live1 = i < lanes && r + 1u * rb < ckh && 1u < RP;
    let rc1 = min(r + 1u * rb, ckh - 1u);
    let ky1 = rc1 % KH;
    let xc1 = (rc1 / KH) * p.h * p.w;
    let live2 = i < lanes && r + 2u * rb < ckh && 2u < RP;
    let rc2 = min(r + 2u * rb, ckh - 1u);
    let ky2 = rc2 % KH;
    let xc2 = (rc2 / KH) * p.h * p.w;
    let gl0 = min(o0 + 0u + sl, p.o - 1u) * ohw;
    let gl1 = min(o0 + 8u + sl, p.o - 1u) * ohw;
    var a00_0 = vec4<f32>(0.0);
    var z00_0 = 0.0;
    var a00_1 = vec4<f32>(0.0);
    var z00_1 = 0.0;
    var a00_2 = vec4<f32>(0.0);
    var z00_2 = 0.0;
    var a00_3 = vec4<f32>(0.0);
    var z00_3 = 0.0;
    var a00_4 = vec4<f32>(0.0);
    var z00_4 = 0.0;
    var a00_5 = vec4<f32>(0.0);
    var z00_5 = 0.0;
    var a00_6 = vec4<f32>(0.0);
    var z00_6 = 0.0;
    var a00_7 = vec4<f32>(0.0);
    var z00_7 = 0.0;
    var a01_0 = vec4<f32>(0.0);
    var z01_0 = 0.0;
    var a01_1 = vec4<f32>(0.0);
    var z01_1 = 0.0;
    var a01_2 = vec4<f32>(0.0);
    var z01_2 = 0.0;
    var a01_3 = vec4<f32>(0.0);
    var z01_3 = 0.0;
    var a01_4 = vec4<f32>(0.0);
    var z01_4 = 0.0;
    var a01_5 = vec4<f32>(0.0);
    var z01_5 = 0.0;
    var a01_6 = vec4<f32>(0.0);
    var z01_6 = 0.0;
    var a01_7 = vec4<f32>(0.0);
    var z01_7 = 0.0;
    var a10_0 = vec4<f32>(0.0);
    var z10_0 = 0.0;
    var a10_1 = vec4<f32>(0.0);
    var z10_1 = 0.0;
    var a10_2 = vec4<f32>(0.0);
    var z10_2 = 0.0;
    var a10_3 = vec4<f32>(0.0);
    var z10_3 = 0.0;
    var a10_4 = vec4<f32>(0.0);
    var z10_4 = 0.0;
    var a10_5 = vec4<f32>(0.0);
    var z10_5 = 0.0;
    var a10_6 = vec4<f32>(0.0);
    var z10_6 = 0.0;
    var a10_7 = vec4<f32>(0.0);
    var z10_7 = 0.0;
    var a11_0 = vec4<f32>(0.0);
    var z11_0 = 0.0;
    var a11_1 = vec4<f32>(0.0);
    var z11_1 = 0.0;
    var a11_2 = vec4<f32>(0.0);
    var z11_2 = 0.0;
    var a11_3 = vec4<f32>(0.0);
    var z11_3 = 0.0;
    var a11_4 = vec4<f32>(0.0);
    var z11_4 = 0.0;
    var a11_5 = vec4<f32>(0.0);
    var z11_5 = 0.0;
    var a11_6 = vec4<f32>(0.0);
    var z11_6 = 0.0;
    var a11_7 = vec4<f32>(0.0);
    var z11_7 = 0.0;
    var a20_0 = vec4<f32>(0.0);
    var z20_0 = 0.0;
    var a20_1 = vec4<f32>(0.0);
    var z20_1 = 0.0;
    var a20_2 = vec4<f32>(0.0);
    var z20_2 = 0.0;
    var a20_3 = vec4<f32>(0.0);
    var z20_3 = 0.0;
    var a20_4 = vec4<f32>(0.0);
    var z20_4 = 0.0;
    var a20_5 = vec4<f32>(0.0);
    var z20_5 = 0.0;
    var a20_6 = vec4<f32>(0.0);
    var z20_6 = 0.0;
    var a20_7 = vec4<f32>(0.0);
    var z20_7 = 0.0;
    var a21_0 = vec4<f32>(0.0);
    var z21_0 = 0.0;
    var a21_1 = vec4<f32>(0.0);
    var z21_1 = 0.0;
    var a21_2 = vec4<f32>(0.0);
    var z21_2 = 0.0;
    var a21_3 = vec4<f32>(0.0);
    var z21_3 = 0.0;
    var a21_4 = vec4<f32>(0.0);
    var z21_4 = 0.0;
    var a21_5 = vec4<f32>(0.0);
    var z21_5 = 0.0;
    var a21_6 = vec4<f32>(0.0);
    var z21_6 = 0.0;
    var a21_7 = vec4<f32>(0.0);
    var z21_7 = 0.0;
    let q_start = s * p.chunk;
    let q_end = min(q_start + p.chunk, p.n * ohw);
    var n = q_start / ohw;
    var oy = (q_start % ohw) / p.ow;
    var ox = q_start % p.ow;
    var xw0 = vec4<f32>(0.0);
    var xs0 = 0.0;
    var row0 = 0u;
    var rok0 = false;
    var xw1 = vec4<f32>(0.0);
    var xs1 = 0.0;
    var row1 = 0u;
    var rok1 = false;
    var xw2 = vec4<f32>(0.0);
    var xs2 = 0.0;
    var row2 = 0u;
    var rok2 = false;
    var fresh = true;
    // Up to four pixels per iteration (consecutive on one output row and in the chunk):
    // llvmpipe blends every assignment to a loop-carried variable with the loop mask, so
    // each accumulator is assigned once per four pixels, as one chain in pixel order (the
    // order of the one-pixel loop). A pixel past the row or chunk gets g = 0 and x = 0: its
    // products are +0, and adding +0 leaves every sum bit for bit as it was (a sum started
    // at +0 never becomes -0), so the results are those of one pixel per iteration.
    var q = q_start;
    loop {
        if (q >= q_end) { break; }
        let ix = ox - p.pw;
        if (fresh || ox == 0u) {
            let iy0 = oy + ky0 - p.ph;
            rok0 = iy0 < p.h && 0u < RP;
            row0 = n * chw + xc0 + iy0 * p.w;
            xw0 = vec4<f32>(
                ldx(row0 + ix, rok0 && ix < p.w),
                ldx(row0 + ix + 1u, rok0 && ix + 1u < p.w && 1u < KW),
                ldx(row0 + ix + 2u, rok0 && ix + 2u < p.w && 2u < KW),
                ldx(row0 + ix + 3u, rok0 && ix + 3u < p.w && 3u < KW));
            xs0 = ldx(row0 + ix + 4u, rok0 && ix + 4u < p.w && 4u < KW);
            let iy1 = oy + ky1 - p.ph;
            rok1 = iy1 < p.h && 1u < RP;
            row1 = n * chw + xc1 + iy1 * p.w;
            xw1 = vec4<f32>(
                ldx(row1 + ix, rok1 && ix < p.w),
                ldx(row1 + ix + 1u, rok1 && ix + 1u < p.w && 1u < KW),
                ldx(row1 + ix + 2u, rok1 && ix + 2u < p.w && 2u < KW),
                ldx(row1 + ix + 3u, rok1 && ix + 3u < p.w && 3u < KW));
            xs1 = ldx(row1 + ix + 4u, rok1 && ix + 4u < p.w && 4u < KW);
            let iy2 = oy + ky2 - p.ph;
            rok2 = iy2 < p.h && 2u < RP;
            row2 = n * chw + xc2 + iy2 * p.w;
            xw2 = vec4<f32>(
                ldx(row2 + ix, rok2 && ix < p.w),
                ldx(row2 + ix + 1u, rok2 && ix + 1u < p.w && 1u < KW),
                ldx(row2 + ix + 2u, rok2 && ix + 2u < p.w && 2u < KW),
                ldx(row2 + ix + 3u, rok2 && ix + 3u < p.w && 3u < KW));
            xs2 = ldx(row2 + ix + 4u, rok2 && ix + 4u < p.w && 4u < KW);
            fresh = false;
        } else {
            let nx = ix + KW - 1u;
            let wn0 = slide(xw0, xs0, ldx(row0 + nx, rok0 && nx < p.w));
            xw0 = wn0.w;
            xs0 = wn0.s;
            let wn1 = slide(xw1, xs1, ldx(row1 + nx, rok1 && nx < p.w));
            xw1 = wn1.w;
            xs1 = wn1.s;
            let wn2 = slide(xw2, xs2, ldx(row2 + nx, rok2 && nx < p.w));
            xw2 = wn2.w;
            xs2 = wn2.s;
        }
        let left = min(q_end - q, p.ow - ox);
        let hb = left > 1u;
        let hc = left > 2u;
        let hd = left > 3u;
        let nb = ix + KW;
        let xw0a = xw0;
        let xs0a = xs0;
        let w0b = slide(xw0a, xs0a, ldx(row0 + nb, hb && rok0 && nb < p.w));
        let xw0b = select(vec4<f32>(0.0), w0b.w, hb);
        let xs0b = select(0.0, w0b.s, hb);
        let w0c = slide(xw0b, xs0b, ldx(row0 + nb + 1u, hc && rok0 && nb + 1u < p.w));
        let xw0c = select(vec4<f32>(0.0), w0c.w, hc);
        let xs0c = select(0.0, w0c.s, hc);
        let w0d = slide(xw0c, xs0c, ldx(row0 + nb + 2u, hd && rok0 && nb + 2u < p.w));
        let xw0d = select(vec4<f32>(0.0), w0d.w, hd);
        let xs0d = select(0.0, w0d.s, hd);
        let xw1a = xw1;
        let xs1a = xs1;
        let w1b = slide(xw1a, xs1a, ldx(row1 + nb, hb && rok1 && nb < p.w));
        let xw1b = select(vec4<f32>(0.0), w1b.w, hb);
        let xs1b = select(0.0, w1b.s, hb);
        let w1c = slide(xw1b, xs1b, ldx(row1 + nb + 1u, hc && rok1 && nb + 1u < p.w));
        let xw1c = select(vec4<f32>(0.0), w1c.w, hc);
        let xs1c = select(0.0, w1c.s, hc);
        let w1d = slide(xw1c, xs1c, ldx(row1 + nb + 2u, hd && rok1 && nb + 2u < p.w));
        let xw1d = select(vec4<f32>(0.0), w1d.w, hd);
        let xs1d = select(0.0, w1d.s, hd);
        let xw2a = xw2;
        let xs2a = xs2;
        let w2b = slide(xw2a, xs2a, ldx(row2 + nb, hb && rok2 && nb < p.w));
        let xw2b = select(vec4<f32>(0.0), w2b.w, hb);
        let xs2b = select(0.0, w2b.s, hb);
        let w2c = slide(xw2b, xs2b, ldx(row2 + nb + 1u, hc && rok2 && nb + 1u < p.w));
        let xw2c = select(vec4<f32>(0.0), w2c.w, hc);
        let xs2c = select(0.0, w2c.s, hc);
        let w2d = slide(xw2c, xs2c, ldx(row2 + nb + 2u, hd && rok2 && nb + 2u < p.w));
        let xw2d = select(vec4<f32>(0.0), w2d.w, hd);
        let xs2d = select(0.0, w2d.s, hd);
        let gpa = n * p.o * ohw + oy * p.ow + ox;
        let gva0 = g[gpa + gl0];
        let gvb0 = select(0.0, g[gpa + select(0u, 1u, hb) + gl0], hb);
        let gvc0 = select(0.0, g[gpa + select(0u, 2u, hc) + gl0], hc);
        let gvd0 = select(0.0, g[gpa + select(0u, 3u, hd) + gl0], hd);
        let ga0_0 = subgroupBroadcast(gva0, 0u);
        let gb0_0 = subgroupBroadcast(gvb0, 0u);
        let gc0_0 = subgroupBroadcast(gvc0, 0u);
        let gd0_0 = subgroupBroadcast(gvd0, 0u);
        a00_0 = fma(vec4<f32>(gd0_0), xw0d, fma(vec4<f32>(gc0_0), xw0c, fma(vec4<f32>(gb0_0), xw0b, fma(vec4<f32>(ga0_0), xw0a, a00_0))));
        z00_0 = fma(gd0_0, xs0d, fma(gc0_0, xs0c, fma(gb0_0, xs0b, fma(ga0_0, xs0a, z00_0))));
        if (RP > 1u) {
            a10_0 = fma(vec4<f32>(gd0_0), xw1d, fma(vec4<f32>(gc0_0), xw1c, fma(vec4<f32>(gb0_0), xw1b, fma(vec4<f32>(ga0_0), xw1a, a10_0))));
            z10_0 = fma(gd0_0, xs1d, fma(gc0_0, xs1c, fma(gb0_0, xs1b, fma(ga0_0, xs1a, z10_0))));
        }
        if (RP > 2u) {
            a20_0 = fma(vec4<f32>(gd0_0), xw2d, fma(vec4<f32>(gc0_0), xw2c, fma(vec4<f32>(gb0_0), xw2b, fma(vec4<f32>(ga0_0), xw2a, a20_0))));
            z20_0 = fma(gd0_0, xs2d, fma(gc0_0, xs2c, fma(gb0_0, xs2b, fma(ga0_0, xs2a, z20_0))));
        }
        let ga0_1 = subgroupBroadcast(gva0, 1u);
        let gb0_1 = subgroupBroadcast(gvb0, 1u);
        let gc0_1 = subgroupBroadcast(gvc0, 1u);
        let gd0_1 = subgroupBroadcast(gvd0, 1u);
        a00_1 = fma(vec4<f32>(gd0_1), xw0d, fma(vec4<f32>(gc0_1), xw0c, fma(vec4<f32>(gb0_1), xw0b, fma(vec4<f32>(ga0_1), xw0a, a00_1))));
        z00_1 = fma(gd0_1, xs0d, fma(gc0_1, xs0c, fma(gb0_1, xs0b, fma(ga0_1, xs0a, z00_1))));
        if (RP > 1u) {
            a10_1 = fma(vec4<f32>(gd0_1), xw1d, fma(vec4<f32>(gc0_1), xw1c, fma(vec4<f32>(gb0_1), xw1b, fma(vec4<f32>(ga0_1), xw1a, a10_1))));
            z10_1 = fma(gd0_1, xs1d, fma(gc0_1, xs1c, fma(gb0_1, xs1b, fma(ga0_1, xs1a, z10_1))));
        }
        if (RP > 2u) {
            a20_1 = fma(vec4<f32>(gd0_1), xw2d, fma(vec4<f32>(gc0_1), xw2c, fma(vec4<f32>(gb0_1), xw2b, fma(vec4<f32>(ga0_1), xw2a, a20_1))));
            z20_1 = fma(gd0_1, xs2d, fma(gc0_1, xs2c, fma(gb0_1, xs2b, fma(ga0_1, xs2a, z20_1))));
        }
        let ga0_2 = subgroupBroadcast(gva0, 2u);
        let gb0_2 = subgroupBroadcast(gvb0, 2u);
        let gc0_2 = subgroupBroadcast(gvc0, 2u);
        let gd0_2 = subgroupBroadcast(gvd0, 2u);
        a00_2 = fma(vec4<f32>(gd0_2), xw0d, fma(vec4<f32>(gc0_2), xw0c, fma(vec4<f32>(gb0_2), xw0b, fma(vec4<f32>(ga0_2), xw0a, a00_2))));
        z00_2 = fma(gd0_2, xs0d, fma(gc0_2, xs0c, fma(gb0_2, xs0b, fma(ga0_2, xs0a, z00_2))));
        if (RP > 1u) {
            a10_2 = fma(vec4<f32>(gd0_2), xw1d, fma(vec4<f32>(gc0_2), xw1c, fma(vec4<f32>(gb0_2), xw1b, fma(vec4<f32>(ga0_2), xw1a, a10_2))));
            z10_2 = fma(gd0_2, xs1d, fma(gc0_2, xs1c, fma(gb0_2, xs1b, fma(ga0_2, xs1a, z10_2))));
        }
        if (RP > 2u) {
            a20_2 = fma(vec4<f32>(gd0_2), xw2d, fma(vec4<f32>(gc0_2), xw2c, fma(vec4<f32>(gb0_2), xw2b, fma(vec4<f32>(ga0_2), xw2a, a20_2))));
            z20_2 = fma(gd0_2, xs2d, fma(gc0_2, xs2c, fma(gb0_2, xs2b, fma(ga0_2, xs2a, z20_2))));
        }
        let ga0_3 = subgroupBroadcast(gva0, 3u);
        let gb0_3 = subgroupBroadcast(gvb0, 3u);
        let gc0_3 = subgroupBroadcast(gvc0, 3u);
        let gd0_3 = subgroupBroadcast(gvd0, 3u);
        a00_3 = fma(vec4<f32>(gd0_3), xw0d, fma(vec4<f32>(gc0_3), xw0c, fma(vec4<f32>(gb0_3), xw0b, fma(vec4<f32>(ga0_3), xw0a, a00_3))));
        z00_3 = fma(gd0_3, xs0d, fma(gc0_3, xs0c, fma(gb0_3, xs0b, fma(ga0_3, xs0a, z00_3))));
        if (RP > 1u) {
            a10_3 = fma(vec4<f32>(gd0_3), xw1d, fma(vec4<f32>(gc0_3), xw1c, fma(vec4<f32>(gb0_3), xw1b, fma(vec4<f32>(ga0_3), xw1a, a10_3))));
            z10_3 = fma(gd0_3, xs1d, fma(gc0_3, xs1c, fma(gb0_3, xs1b, fma(ga0_3, xs1a, z10_3))));
        }
        if (RP > 2u) {
            a20_3 = fma(vec4<f32>(gd0_3), xw2d, fma(vec4<f32>(gc0_3), xw2c, fma(vec4<f32>(gb0_3), xw2b, fma(vec4<f32>(ga0_3), xw2a, a20_3))));
            z20_3 = fma(gd0_3, xs2d, fma(gc0_3, xs2c, fma(gb0_3, xs2b, fma(ga0_3, xs2a, z20_3))));
        }
        let ga0_4 = subgroupBroadcast(gva0, 4u);
        let gb0_4 = subgroupBroadcast(gvb0, 4u);
        let gc0_4 = subgroupBroadcast(gvc0, 4u);
        let gd0_4 = subgroupBroadcast(gvd0, 4u);
        a00_4 = fma(vec4<f32>(gd0_4), xw0d, fma(vec4<f32>(gc0_4), xw0c, fma(vec4<f32>(gb0_4), xw0b, fma(vec4<f32>(ga0_4), xw0a, a00_4))));
        z00_4 = fma(gd0_4, xs0d, fma(gc0_4, xs0c, fma(gb0_4, xs0b, fma(ga0_4, xs0a, z00_4))));
        if (RP > 1u) {
            a10_4 = fma(vec4<f32>(gd0_4), xw1d, fma(vec4<f32>(gc0_4), xw1c, fma(vec4<f32>(gb0_4), xw1b, fma(vec4<f32>(ga0_4), xw1a, a10_4))));
            z10_4 = fma(gd0_4, xs1d, fma(gc0_4, xs1c, fma(gb0_4, xs1b, fma(ga0_4, xs1a, z10_4))));
        }
        if (RP > 2u) {
            a20_4 = fma(vec4<f32>(gd0_4), xw2d, fma(vec4<f32>(gc0_4), xw2c, fma(vec4<f32>(gb0_4), xw2b, fma(vec4<f32>(ga0_4), xw2a, a20_4))));
            z20_4 = fma(gd0_4, xs2d, fma(gc0_4, xs2c, fma(gb0_4, xs2b, fma(ga0_4, xs2a, z20_4))));
        }
        let ga0_5 = subgroupBroadcast(gva0, 5u);
        let gb0_5 = subgroupBroadcast(gvb0, 5u);
        let gc0_5 = subgroupBroadcast(gvc0, 5u);
        let gd0_5 = subgroupBroadcast(gvd0, 5u);
        a00_5 = fma(vec4<f32>(gd0_5), xw0d, fma(vec4<f32>(gc0_5), xw0c, fma(vec4<f32>(gb0_5), xw0b, fma(vec4<f32>(ga0_5), xw0a, a00_5))));
        z00_5 = fma(gd0_5, xs0d, fma(gc0_5, xs0c, fma(gb0_5, xs0b, fma(ga0_5, xs0a, z00_5))));
        if (RP > 1u) {
            a10_5 = fma(vec4<f32>(gd0_5), xw1d, fma(vec4<f32>(gc0_5), xw1c, fma(vec4<f32>(gb0_5), xw1b, fma(vec4<f32>(ga0_5), xw1a, a10_5))));
            z10_5 = fma(gd0_5, xs1d, fma(gc0_5, xs1c, fma(gb0_5, xs1b, fma(ga0_5, xs1a, z10_5))));
        }
        if (RP > 2u) {
            a20_5 = fma(vec4<f32>(gd0_5), xw2d, fma(vec4<f32>(gc0_5), xw2c, fma(vec4<f32>(gb0_5), xw2b, fma(vec4<f32>(ga0_5), xw2a, a20_5))));
            z20_5 = fma(gd0_5, xs2d, fma(gc0_5, xs2c, fma(gb0_5, xs2b, fma(ga0_5, xs2a, z20_5))));
        }
        let ga0_6 = subgroupBroadcast(gva0, 6u);
        let gb0_6 = subgroupBroadcast(gvb0, 6u);
        let gc0_6 = subgroupBroadcast(gvc0, 6u);
        let gd0_6 = subgroupBroadcast(gvd0, 6u);
        a00_6 = fma(vec4<f32>(gd0_6), xw0d, fma(vec4<f32>(gc0_6), xw0c, fma(vec4<f32>(gb0_6), xw0b, fma(vec4<f32>(ga0_6), xw0a, a00_6))));
        z00_6 = fma(gd0_6, xs0d, fma(gc0_6, xs0c, fma(gb0_6, xs0b, fma(ga0_6, xs0a, z00_6))));
        if (RP > 1u) {
            a10_6 = fma(vec4<f32>(gd0_6), xw1d, fma(vec4<f32>(gc0_6), xw1c, fma(vec4<f32>(gb0_6), xw1b, fma(vec4<f32>(ga0_6), xw1a, a10_6))));
            z10_6 = fma(gd0_6, xs1d, fma(gc0_6, xs1c, fma(gb0_6, xs1b, fma(ga0_6, xs1a, z10_6))));
        }
        if (RP > 2u) {
            a20_6 = fma(vec4<f32>(gd0_6), xw2d, fma(vec4<f32>(gc0_6), xw2c, fma(vec4<f32>(gb0_6), xw2b, fma(vec4<f32>(ga0_6), xw2a, a20_6))));
            z20_6 = fma(gd0_6, xs2d, fma(gc0_6, xs2c, fma(gb0_6, xs2b, fma(ga0_6, xs2a, z20_6))));
        }
        let ga0_7 = subgroupBroadcast(gva0, 7u);
        let gb0_7 = subgroupBroadcast(gvb0, 7u);
        let gc0_7 = subgroupBroadcast(gvc0, 7u);
        let gd0_7 = subgroupBroadcast(gvd0, 7u);
        a00_7 = fma(vec4<f32>(gd0_7), xw0d, fma(vec4<f32>(gc0_7), xw0c, fma(vec4<f32>(gb0_7), xw0b, fma(vec4<f32>(ga0_7), xw0a, a00_7))));
        z00_7 = fma(gd0_7, xs0d, fma(gc0_7, xs0c, fma(gb0_7, xs0b, fma(ga0_7, xs0a, z00_7))));
        if (RP > 1u) {
            a10_7 = fma(vec4<f32>(gd0_7), xw1d, fma(vec4<f32>(gc0_7), xw1c, fma(vec4<f32>(gb0_7), xw1b, fma(vec4<f32>(ga0_7), xw1a, a10_7))));
            z10_7 = fma(gd0_7, xs1d, fma(gc0_7, xs1c, fma(gb0_7, xs1b, fma(ga0_7, xs1a, z10_7))));
        }
        if (RP > 2u) {
            a20_7 = fma(vec4<f32>(gd0_7), xw2d, fma(vec4<f32>(gc0_7), xw2c, fma(vec4<f32>(gb0_7), xw2b, fma(vec4<f32>(ga0_7), xw2a, a20_7))));
            z20_7 = fma(gd0_7, xs2d, fma(gc0_7, xs2c, fma(gb0_7, xs2b, fma(ga0_7, xs2a, z20_7))));
        }
        if (CT >= 2u) {
            let gva1 = g[gpa + gl1];
            let gvb1 = select(0.0, g[gpa + select(0u, 1u, hb) + gl1], hb);
            let gvc1 = select(0.0, g[gpa + select(0u, 2u, hc) + gl1], hc);
            let gvd1 = select(0.0, g[gpa + select(0u, 3u, hd) + gl1], hd);
            let ga1_0 = subgroupBroadcast(gva1, 0u);
            let gb1_0 = subgroupBroadcast(gvb1, 0u);
            let gc1_0 = subgroupBroadcast(gvc1, 0u);
            let gd1_0 = subgroupBroadcast(gvd1, 0u);
            a01_0 = fma(vec4<f32>(gd1_0), xw0d, fma(vec4<f32>(gc1_0), xw0c, fma(vec4<f32>(gb1_0), xw0b, fma(vec4<f32>(ga1_0), xw0a, a01_0))));
            z01_0 = fma(gd1_0, xs0d, fma(gc1_0, xs0c, fma(gb1_0, xs0b, fma(ga1_0, xs0a, z01_0))));
            if (RP > 1u) {
                a11_0 = fma(vec4<f32>(gd1_0), xw1d, fma(vec4<f32>(gc1_0), xw1c, fma(vec4<f32>(gb1_0), xw1b, fma(vec4<f32>(ga1_0), xw1a, a11_0))));
                z11_0 = fma(gd1_0, xs1d, fma(gc1_0, xs1c, fma(gb1_0, xs1b, fma(ga1_0, xs1a, z11_0))));
            }
            if (RP > 2u) {
                a21_0 = fma(vec4<f32>(gd1_0), xw2d, fma(vec4<f32>(gc1_0), xw2c, fma(vec4<f32>(gb1_0), xw2b, fma(vec4<f32>(ga1_0), xw2a, a21_0))));
                z21_0 = fma(gd1_0, xs2d, fma(gc1_0, xs2c, fma(gb1_0, xs2b, fma(ga1_0, xs2a, z21_0))));
            }
            let ga1_1 = subgroupBroadcast(gva1, 1u);
            let gb1_1 = subgroupBroadcast(gvb1, 1u);
            let gc1_1 = subgroupBroadcast(gvc1, 1u);
            let gd1_1 = subgroupBroadcast(gvd1, 1u);
            a01_1 = fma(vec4<f32>(gd1_1), xw0d, fma(vec4<f32>(gc1_1), xw0c, fma(vec4<f32>(gb1_1), xw0b, fma(vec4<f32>(ga1_1), xw0a, a01_1))));
            z01_1 = fma(gd1_1, xs0d, fma(gc1_1, xs0c, fma(gb1_1, xs0b, fma(ga1_1, xs0a, z01_1))));
            if (RP > 1u) {
                a11_1 = fma(vec4<f32>(gd1_1), xw1d, fma(vec4<f32>(gc1_1), xw1c, fma(vec4<f32>(gb1_1), xw1b, fma(vec4<f32>(ga1_1), xw1a, a11_1))));
                z11_1 = fma(gd1_1, xs1d, fma(gc1_1, xs1c, fma(gb1_1, xs1b, fma(ga1_1, xs1a, z11_1))));
            }
            if (RP > 2u) {
                a21_1 = fma(vec4<f32>(gd1_1), xw2d, fma(vec4<f32>(gc1_1), xw2c, fma(vec4<f32>(gb1_1), xw2b, fma(vec4<f32>(ga1_1), xw2a, a21_1))));
                z21_1 = fma(gd1_1, xs2d, fma(gc1_1, xs2c, fma(gb1_1, xs2b, fma(ga1_1, xs2a, z21_1))));
            }
            let ga1_2 = subgroupBroadcast(gva1, 2u);
            let gb1_2 = subgroupBroadcast(gvb1, 2u);
            let gc1_2 = subgroupBroadcast(gvc1, 2u);
            let gd1_2 = subgroupBroadcast(gvd1, 2u);
            a01_2 = fma(vec4<f32>(gd1_2), xw0d, fma(vec4<f32>(gc1_2), xw0c, fma(vec4<f32>(gb1_2), xw0b, fma(vec4<f32>(ga1_2), xw0a, a01_2))));
            z01_2 = fma(gd1_2, xs0d, fma(gc1_2, xs0c, fma(gb1_2, xs0b, fma(ga1_2, xs0a, z01_2))));
            if (RP > 1u) {
                a11_2 = fma(vec4<f32>(gd1_2), xw1d, fma(vec4<f32>(gc1_2), xw1c, fma(vec4<f32>(gb1_2), xw1b, fma(vec4<f32>(ga1_2), xw1a, a11_2))));
                z11_2 = fma(gd1_2, xs1d, fma(gc1_2, xs1c, fma(gb1_2, xs1b, fma(ga1_2, xs1a, z11_2))));
            }
            if (RP > 2u) {
                a21_2 = fma(vec4<f32>(gd1_2), xw2d, fma(vec4<f32>(gc1_2), xw2c, fma(vec4<f32>(gb1_2), xw2b, fma(vec4<f32>(ga1_2), xw2a, a21_2))));
                z21_2 = fma(gd1_2, xs2d, fma(gc1_2, xs2c, fma(gb1_2, xs2b, fma(ga1_2, xs2a, z21_2))));
            }
            let ga1_3 = subgroupBroadcast(gva1, 3u);
            let gb1_3 = subgroupBroadcast(gvb1, 3u);
            let gc1_3 = subgroupBroadcast(gvc1, 3u);
            let gd1_3 = subgroupBroadcast(gvd1, 3u);
            a01_3 = fma(vec4<f32>(gd1_3), xw0d, fma(vec4<f32>(gc1_3), xw0c, fma(vec4<f32>(gb1_3), xw0b, fma(vec4<f32>(ga1_3), xw0a, a01_3))));
            z01_3 = fma(gd1_3, xs0d, fma(gc1_3, xs0c, fma(gb1_3, xs0b, fma(ga1_3, xs0a, z01_3))));
            if (RP > 1u) {
                a11_3 = fma(vec4<f32>(gd1_3), xw1d, fma(vec4<f32>(gc1_3), xw1c, fma(vec4<f32>(gb1_3), xw1b, fma(vec4<f32>(ga1_3), xw1a, a11_3))));
                z11_3 = fma(gd1_3, xs1d, fma(gc1_3, xs1c, fma(gb1_3, xs1b, fma(ga1_3, xs1a, z11_3))));
            }
            if (RP > 2u) {
                a21_3 = fma(vec4<f32>(gd1_3), xw2d, fma(vec4<f32>(gc1_3), xw2c, fma(vec4<f32>(gb1_3), xw2b, fma(vec4<f32>(ga1_3), xw2a, a21_3))));
                z21_3 = fma(gd1_3, xs2d, fma(gc1_3, xs2c, fma(gb1_3, xs2b, fma(ga1_3, xs2a, z21_3))));
            }
            let ga1_4 = subgroupBroadcast(gva1, 4u);
            let gb1_4 = subgroupBroadcast(gvb1, 4u);
            let gc1_4 = subgroupBroadcast(gvc1, 4u);
            let gd1_4 = subgroupBroadcast(gvd1, 4u);
            a01_4 = fma(vec4<f32>(gd1_4), xw0d, fma(vec4<f32>(gc1_4), xw0c, fma(vec4<f32>(gb1_4), xw0b, fma(vec4<f32>(ga1_4), xw0a, a01_4))));
            z01_4 = fma(gd1_4, xs0d, fma(gc1_4, xs0c, fma(gb1_4, xs0b, fma(ga1_4, xs0a, z01_4))));
            if (RP > 1u) {
                a11_4 = fma(vec4<f32>(gd1_4), xw1d, fma(vec4<f32>(gc1_4), xw1c, fma(vec4<f32>(gb1_4), xw1b, fma(vec4<f32>(ga1_4), xw1a, a11_4))));
                z11_4 = fma(gd1_4, xs1d, fma(gc1_4, xs1c, fma(gb1_4, xs1b, fma(ga1_4, xs1a, z11_4))));
            }
            if (RP > 2u) {
                a21_4 = fma(vec4<f32>(gd1_4), xw2d, fma(vec4<f32>(gc1_4), xw2c, fma(vec4<f32>(gb1_4), xw2b, fma(vec4<f32>(ga1_4), xw2a, a21_4))));
                z21_4 = fma(gd1_4, xs2d, fma(gc1_4, xs2c, fma(gb1_4, xs2b, fma(ga1_4, xs2a, z21_4))));
            }
            let ga1_5 = subgroupBroadcast(gva1, 5u);
            let gb1_5 = subgroupBroadcast(gvb1, 5u);
            let gc1_5 = subgroupBroadcast(gvc1, 5u);
            let gd1_5 = subgroupBroadcast(gvd1, 5u);
            a01_5 = fma(vec4<f32>(gd1_5), xw0d, fma(vec4<f32>(gc1_5), xw0c, fma(vec4<f32>(gb1_5), xw0b, fma(vec4<f32>(ga1_5), xw0a, a01_5))));
            z01_5 = fma(gd1_5, xs0d, fma(gc1_5, xs0c, fma(gb1_5, xs0b, fma(ga1_5, xs0a, z01_5))));
            if (RP > 1u) {
                a11_5 = fma(vec4<f32>(gd1_5), xw1d, fma(vec4<f32>(gc1_5), xw1c, fma(vec4<f32>(gb1_5), xw1b, fma(vec4<f32>(ga1_5), xw1a, a11_5))));
                z11_5 = fma(gd1_5, xs1d, fma(gc1_5, xs1c, fma(gb1_5, xs1b, fma(ga1_5, xs1a, z11_5))));
            }
            if (RP > 2u) {
                a21_5 = fma(vec4<f32>(gd1_5), xw2d, fma(vec4<f32>(gc1_5), xw2c, fma(vec4<f32>(gb1_5), xw2b, fma(vec4<f32>(ga1_5), xw2a, a21_5))));
                z21_5 = fma(gd1_5, xs2d, fma(gc1_5, xs2c, fma(gb1_5, xs2b, fma(ga1_5, xs2a, z21_5))));
            }
            let ga1_6 = subgroupBroadcast(gva1, 6u);
            let gb1_6 = subgroupBroadcast(gvb1, 6u);
            let gc1_6 = subgroupBroadcast(gvc1, 6u);
            let gd1_6 = subgroupBroadcast(gvd1, 6u);
            a01_6 = fma(vec4<f32>(gd1_6), xw0d, fma(vec4<f32>(gc1_6), xw0c, fma(vec4<f32>(gb1_6), xw0b, fma(vec4<f32>(ga1_6), xw0a, a01_6))));
            z01_6 = fma(gd1_6, xs0d, fma(gc1_6, xs0c, fma(gb1_6, xs0b, fma(ga1_6, xs0a, z01_6))));
            if (RP > 1u) {
                a11_6 = fma(vec4<f32>(gd1_6), xw1d, fma(vec4<f32>(gc1_6), xw1c, fma(vec4<f32>(gb1_6), xw1b, fma(vec4<f32>(ga1_6), xw1a, a11_6))));
                z11_6 = fma(gd1_6, xs1d, fma(gc1_6, xs1c, fma(gb1_6, xs1b, fma(ga1_6, xs1a, z11_6))));
            }
            if (RP > 2u) {
                a21_6 = fma(vec4<f32>(gd1_6), xw2d, fma(vec4<f32>(gc1_6), xw2c, fma(vec4<f32>(gb1_6), xw2b, fma(vec4<f32>(ga1_6), xw2a, a21_6))));
                z21_6 = fma(gd1_6, xs2d, fma(gc1_6, xs2c, fma(gb1_6, xs2b, fma(ga1_6, xs2a, z21_6))));
            }
            let ga1_7 = subgroupBroadcast(gva1, 7u);
            let gb1_7 = subgroupBroadcast(gvb1, 7u);
            let gc1_7 = subgroupBroadcast(gvc1, 7u);
            let gd1_7 = subgroupBroadcast(gvd1, 7u);
            a01_7 = fma(vec4<f32>(gd1_7), xw0d, fma(vec4<f32>(gc1_7), xw0c, fma(vec4<f32>(gb1_7), xw0b, fma(vec4<f32>(ga1_7), xw0a, a01_7))));
            z01_7 = fma(gd1_7, xs0d, fma(gc1_7, xs0c, fma(gb1_7, xs0b, fma(ga1_7, xs0a, z01_7))));
            if (RP > 1u) {
                a11_7 = fma(vec4<f32>(gd1_7), xw1d, fma(vec4<f32>(gc1_7), xw1c, fma(vec4<f32>(gb1_7), xw1b, fma(vec4<f32>(ga1_7), xw1a, a11_7))));
                z11_7 = fma(gd1_7, xs1d, fma(gc1_7, xs1c, fma(gb1_7, xs1b, fma(ga1_7, xs1a, z11_7))));
            }
            if (RP > 2u) {
                a21_7 = fma(vec4<f32>(gd1_7), xw2d, fma(vec4<f32>(gc1_7), xw2c, fma(vec4<f32>(gb1_7), xw2b, fma(vec4<f32>(ga1_7), xw2a, a21_7))));
                z21_7 = fma(gd1_7, xs2d, fma(gc1_7, xs2c, fma(gb1_7, xs2b, fma(ga1_7, xs2a, z21_7))));
            }
        }
        xw0 = xw0d;
        xs0 = xs0d;
        xw1 = xw1d;
        xs1 = xs1d;
        xw2 = xw2d;
        xs2 = xs2d;
        let step_px = min(left, 4u);
        q = q + step_px;
        ox = ox + step_px;
        if (ox == p.ow) {
            ox = 0u;
            oy = oy + 1u;
            if (oy == p.oh) {
                oy = 0u;
                n = n + 1u;
            }
        }
    }
    let base = s * p.o * p.c * KH * KW;
    if (live0) {
        gw_row_store(base, o0 + 0u, rc0 * KW, a00_0, z00_0);
        gw_row_store(base, o0 + 1u, rc0 * KW, a00_1, z00_1);
        gw_row_store(base, o0 + 2u, rc0 * KW, a00_2, z00_2);
        gw_row_store(base, o0 + 3u, rc0 * KW, a00_3, z00_3);
        gw_row_store(base, o0 + 4u, rc0 * KW, a00_4, z00_4);
        gw_row_store(base, o0 + 5u, rc0 * KW, a00_5, z00_5);
        gw_row_store(base, o0 + 6u, rc0 * KW, a00_6, z00_6);
        gw_row_store(base, o0 + 7u, rc0 * KW, a00_7, z00_7);
        if (CT >= 2u) {
            gw_row_store(base, o0 + 8u, rc0 * KW, a01_0, z01_0);
            gw_row_store(base, o0 + 9u, rc0 * KW, a01_1, z01_1);
            gw_row_store(base, o0 + 10u, rc0 * KW, a01_2, z01_2);
            gw_row_store(base, o0 + 11u, rc0 * KW, a01_3, z01_3);
            gw_row_store(base, o0 + 12u, rc0 * KW, a01_4, z01_4);
            gw_row_store(base, o0 + 13u, rc0 * KW, a01_5, z01_5);
            gw_row_store(base, o0 + 14u, rc0 * KW, a01_6, z01_6);
            gw_row_store(base, o0 + 15u, rc0 * KW, a01_7, z01_7);
        }
    }
    if (live1) {
        gw_row_store(base, o0 + 0u, rc1 * KW, a10_0, z10_0);
        gw_row_store(base, o0 + 1u, rc1 * KW, a10_1, z10_1);
        gw_row_store(base, o0 + 2u, rc1 * KW, a10_2, z10_2);
        gw_row_store(base, o0 + 3u, rc1 * KW, a10_3, z10_3);
        gw_row_store(base, o0 + 4u, rc1 * KW, a10_4, z10_4);
        gw_row_store(base, o0 + 5u, rc1 * KW, a10_5, z10_5);
        gw_row_store(base, o0 + 6u, rc1 * KW, a10_6, z10_6);
        gw_row_store(base, o0 + 7u, rc1 * KW, a10_7, z10_7);
        if (CT >= 2u) {
            gw_row_store(base, o0 + 8u, rc1 * KW, a11_0, z11_0);
            gw_row_store(base, o0 + 9u, rc1 * KW, a11_1, z11_1);
            gw_row_store(base, o0 + 10u, rc1 * KW, a11_2, z11_2);
            gw_row_store(base, o0 + 11u, rc1 * KW, a11_3, z11_3);
            gw_row_store(base, o0 + 12u, rc1 * KW, a11_4, z11_4);
            gw_row_store(base, o0 + 13u, rc1 * KW, a11_5, z11_5);
            gw_row_store(base, o0 + 14u, rc1 * KW, a11_6, z11_6);
            gw_row_store(base, o0 + 15u, rc1 * KW, a11_7, z11_7);
        }
    }
    if (live2) {
        gw_row_store(base, o0 + 0u, rc2 * KW, a20_0, z20_0);
        gw_row_store(base, o0 + 1u, rc2 * KW, a20_1, z20_1);
        gw_row_store(base, o0 + 2u, rc2 * KW, a20_2, z20_2);
        gw_row_store(base, o0 + 3u, rc2 * KW, a20_3, z20_3);
        gw_row_store(base, o0 + 4u, rc2 * KW, a20_4, z20_4);
        gw_row_store(base, o0 + 5u, rc2 * KW, a20_5, z20_5);
        gw_row_store(base, o0 + 6u, rc2 * KW, a20_6, z20_6);
        gw_row_store(base, o0 + 7u, rc2 * KW, a20_7, z20_7);
        if (CT >= 2u) {
            gw_row_store(base, o0 + 8u, rc2 * KW, a21_0, z21_0);
            gw_row_store(base, o0 + 9u, rc2 * KW, a21_1, z21_1);
            gw_row_store(base, o0 + 10u, rc2 * KW, a21_2, z21_2);
            gw_row_store(base, o0 + 11u, rc2 * KW, a21_3, z21_3);
            gw_row_store(base, o0 + 12u, rc2 * KW, a21_4, z21_4);
            gw_row_store(base, o0 + 13u, rc2 * KW, a21_5, z21_5);
            gw_row_store(base, o0 + 14u, rc2 * KW, a21_6, z21_6);
            gw_row_store(base, o0 + 15u, rc2 * KW, a21_7, z21_7);
        }
    }
}

// Stores the KW taps of one kernel row (entries e0 .., taps 0-3 in a, tap 4 in z) of
// channel o.
fn gw_row_store(base: u32, o: u32, e0: u32, a: vec4<f32>, z: f32) {
    if (o >= p.o) { return; }
    let off = base + o * p.c * KH * KW + e0;
    out[off] = a.x;
    if (KW > 1u) { out[off + 1u] = a.y; }
    if (KW > 2u) { out[off + 2u] = a.z; }
    if (KW > 3u) { out[off + 3u] = a.w; }
    if (KW > 4u) { out[off + 4u] = z; }
}


// conv2d_fwd_pool_sg: eval mode, relu(conv(x, w') + b') max-pooled 2x2 (stride 2, floor) in
// one pass over x, for stride 1, dilation 1 and KW <= 5 on adapters with 8-wide subgroups;
// w' and b' come folded by conv2d_fold_bn in one buffer (wt: the weights, then the O
// biases). A lane owns pooled pixels (py, 2pp) and (py, 2pp + 1) of image n, i.e. the
// 2 x 4 convolution outputs under them (rows 2py, 2py + 1; columns 4pp .. 4pp + 3), and
// 8 * CT channels (o0 = wid.z * 8 * CT, weights broadcast as in conv2d_fwd_sg). Per kernel
// row (c, ky) it loads the 4 + KW - 1 input columns of each of its two rows once and tap k
// reads columns k .. k + 3 of them (as conv2d_fwd_row_sg). The pooled value is the
// window maximum plus the bias, rectified: adding a constant and max commute exactly in
// floating point, and so do max and relu. The convolution output itself is never written.
@compute @workgroup_size(64)
fn conv2d_fwd_pool_sg(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) sl: u32) {
    let pooled_h = p.oh / 2u;
    let pooled_w = p.ow / 2u;
    let pairs = (pooled_w + 1u) / 2u;
    let total = p.n * pooled_h * pairs;
    let q = gid.x + gid.y * nwg.x * 64u;
    // As in conv2d_fwd_sg: subgroups leave as a whole; lanes past the end redo the last
    // pair and store nothing.
    if (subgroupAll(q >= total)) { return; }
    let v = cursor(min(q, total - 1u), pooled_h, pairs);
    let iy0 = v.y * 2u - p.ph;
    let ix0 = v.z * 4u - p.pw;
    // Columns ix0 + j (u32: left of the image wraps past W); only 3 + KW are used.
    let span = 3u + KW;
    let m0 = ix0 + 0u < p.w && 0u < span;
    let m1 = ix0 + 1u < p.w && 1u < span;
    let m2 = ix0 + 2u < p.w && 2u < span;
    let m3 = ix0 + 3u < p.w && 3u < span;
    let m4 = ix0 + 4u < p.w && 4u < span;
    let m5 = ix0 + 5u < p.w && 5u < span;
    let m6 = ix0 + 6u < p.w && 6u < span;
    let m7 = ix0 + 7u < p.w && 7u < span;
    let hw = p.h * p.w;
    let ckk = p.c * KH * KW;
    let o0 = wid.z * 8u * CT;
    let wrow0 = min(o0 + 0u + sl, p.o - 1u) * ckk;
    let wrow1 = min(o0 + 8u + sl, p.o - 1u) * ckk;
    var a0_0 = vec4<f32>(0.0);
    var b0_0 = vec4<f32>(0.0);
    var a0_1 = vec4<f32>(0.0);
    var b0_1 = vec4<f32>(0.0);
    var a0_2 = vec4<f32>(0.0);
    var b0_2 = vec4<f32>(0.0);
    var a0_3 = vec4<f32>(0.0);
    var b0_3 = vec4<f32>(0.0);
    var a0_4 = vec4<f32>(0.0);
    var b0_4 = vec4<f32>(0.0);
    var a0_5 = vec4<f32>(0.0);
    var b0_5 = vec4<f32>(0.0);
    var a0_6 = vec4<f32>(0.0);
    var b0_6 = vec4<f32>(0.0);
    var a0_7 = vec4<f32>(0.0);
    var b0_7 = vec4<f32>(0.0);
    var a1_0 = vec4<f32>(0.0);
    var b1_0 = vec4<f32>(0.0);
    var a1_1 = vec4<f32>(0.0);
    var b1_1 = vec4<f32>(0.0);
    var a1_2 = vec4<f32>(0.0);
    var b1_2 = vec4<f32>(0.0);
    var a1_3 = vec4<f32>(0.0);
    var b1_3 = vec4<f32>(0.0);
    var a1_4 = vec4<f32>(0.0);
    var b1_4 = vec4<f32>(0.0);
    var a1_5 = vec4<f32>(0.0);
    var b1_5 = vec4<f32>(0.0);
    var a1_6 = vec4<f32>(0.0);
    var b1_6 = vec4<f32>(0.0);
    var a1_7 = vec4<f32>(0.0);
    var b1_7 = vec4<f32>(0.0);
    var row = v.x * p.c * hw + iy0 * p.w + ix0;
    var iy = iy0;
    var ky = 0u;
    for (var wi = 0u; wi < ckk; wi = wi + KW) {
        let oka = iy < p.h;
        let okb = iy + 1u < p.h;
        // Both rows' windows, columns ix0 .. ix0 + 7, and the weights of the KW taps, as in
        // conv2d_fwd_row_sg.
        let ra0 = ldx(row + 0u, oka && m0);
        let ra1 = ldx(row + 1u, oka && m1);
        let ra2 = ldx(row + 2u, oka && m2);
        let ra3 = ldx(row + 3u, oka && m3);
        let ra4 = ldx(row + 4u, oka && m4);
        let ra5 = ldx(row + 5u, oka && m5);
        let ra6 = ldx(row + 6u, oka && m6);
        let ra7 = ldx(row + 7u, oka && m7);
        let rb0 = ldx(row + p.w + 0u, okb && m0);
        let rb1 = ldx(row + p.w + 1u, okb && m1);
        let rb2 = ldx(row + p.w + 2u, okb && m2);
        let rb3 = ldx(row + p.w + 3u, okb && m3);
        let rb4 = ldx(row + p.w + 4u, okb && m4);
        let rb5 = ldx(row + p.w + 5u, okb && m5);
        let rb6 = ldx(row + p.w + 6u, okb && m6);
        let rb7 = ldx(row + p.w + 7u, okb && m7);
        let wl0_0 = wt[wrow0 + min(wi + 0u, ckk - 1u)];
        let wl1_0 = wt[wrow1 + min(wi + 0u, ckk - 1u)];
        let wl0_1 = wt[wrow0 + min(wi + 1u, ckk - 1u)];
        let wl1_1 = wt[wrow1 + min(wi + 1u, ckk - 1u)];
        let wl0_2 = wt[wrow0 + min(wi + 2u, ckk - 1u)];
        let wl1_2 = wt[wrow1 + min(wi + 2u, ckk - 1u)];
        let wl0_3 = wt[wrow0 + min(wi + 3u, ckk - 1u)];
        let wl1_3 = wt[wrow1 + min(wi + 3u, ckk - 1u)];
        let wl0_4 = wt[wrow0 + min(wi + 4u, ckk - 1u)];
        let wl1_4 = wt[wrow1 + min(wi + 4u, ckk - 1u)];
        // One assignment per accumulator per kernel row (see conv2d_fwd_row_sg).
        let xa = array<f32, 8>(ra0, ra1, ra2, ra3, ra4, ra5, ra6, ra7);
        let xb = array<f32, 8>(rb0, rb1, rb2, rb3, rb4, rb5, rb6, rb7);
        let w0_0 = array<f32, 5>(subgroupBroadcast(wl0_0, 0u), subgroupBroadcast(wl0_1, 0u), subgroupBroadcast(wl0_2, 0u), subgroupBroadcast(wl0_3, 0u), subgroupBroadcast(wl0_4, 0u));
        a0_0 = taps(a0_0, w0_0, xa);
        b0_0 = taps(b0_0, w0_0, xb);
        let w0_1 = array<f32, 5>(subgroupBroadcast(wl0_0, 1u), subgroupBroadcast(wl0_1, 1u), subgroupBroadcast(wl0_2, 1u), subgroupBroadcast(wl0_3, 1u), subgroupBroadcast(wl0_4, 1u));
        a0_1 = taps(a0_1, w0_1, xa);
        b0_1 = taps(b0_1, w0_1, xb);
        let w0_2 = array<f32, 5>(subgroupBroadcast(wl0_0, 2u), subgroupBroadcast(wl0_1, 2u), subgroupBroadcast(wl0_2, 2u), subgroupBroadcast(wl0_3, 2u), subgroupBroadcast(wl0_4, 2u));
        a0_2 = taps(a0_2, w0_2, xa);
        b0_2 = taps(b0_2, w0_2, xb);
        let w0_3 = array<f32, 5>(subgroupBroadcast(wl0_0, 3u), subgroupBroadcast(wl0_1, 3u), subgroupBroadcast(wl0_2, 3u), subgroupBroadcast(wl0_3, 3u), subgroupBroadcast(wl0_4, 3u));
        a0_3 = taps(a0_3, w0_3, xa);
        b0_3 = taps(b0_3, w0_3, xb);
        let w0_4 = array<f32, 5>(subgroupBroadcast(wl0_0, 4u), subgroupBroadcast(wl0_1, 4u), subgroupBroadcast(wl0_2, 4u), subgroupBroadcast(wl0_3, 4u), subgroupBroadcast(wl0_4, 4u));
        a0_4 = taps(a0_4, w0_4, xa);
        b0_4 = taps(b0_4, w0_4, xb);
        let w0_5 = array<f32, 5>(subgroupBroadcast(wl0_0, 5u), subgroupBroadcast(wl0_1, 5u), subgroupBroadcast(wl0_2, 5u), subgroupBroadcast(wl0_3, 5u), subgroupBroadcast(wl0_4, 5u));
        a0_5 = taps(a0_5, w0_5, xa);
        b0_5 = taps(b0_5, w0_5, xb);
        let w0_6 = array<f32, 5>(subgroupBroadcast(wl0_0, 6u), subgroupBroadcast(wl0_1, 6u), subgroupBroadcast(wl0_2, 6u), subgroupBroadcast(wl0_3, 6u), subgroupBroadcast(wl0_4, 6u));
        a0_6 = taps(a0_6, w0_6, xa);
        b0_6 = taps(b0_6, w0_6, xb);
        let w0_7 = array<f32, 5>(subgroupBroadcast(wl0_0, 7u), subgroupBroadcast(wl0_1, 7u), subgroupBroadcast(wl0_2, 7u), subgroupBroadcast(wl0_3, 7u), subgroupBroadcast(wl0_4, 7u));
        a0_7 = taps(a0_7, w0_7, xa);
        b0_7 = taps(b0_7, w0_7, xb);
        if (CT >= 2u) {
            let w1_0 = array<f32, 5>(subgroupBroadcast(wl1_0, 0u), subgroupBroadcast(wl1_1, 0u), subgroupBroadcast(wl1_2, 0u), subgroupBroadcast(wl1_3, 0u), subgroupBroadcast(wl1_4, 0u));
            a1_0 = taps(a1_0, w1_0, xa);
            b1_0 = taps(b1_0, w1_0, xb);
            let w1_1 = array<f32, 5>(subgroupBroadcast(wl1_0, 1u), subgroupBroadcast(wl1_1, 1u), subgroupBroadcast(wl1_2, 1u), subgroupBroadcast(wl1_3, 1u), subgroupBroadcast(wl1_4, 1u));
            a1_1 = taps(a1_1, w1_1, xa);
            b1_1 = taps(b1_1, w1_1, xb);
            let w1_2 = array<f32, 5>(subgroupBroadcast(wl1_0, 2u), subgroupBroadcast(wl1_1, 2u), subgroupBroadcast(wl1_2, 2u), subgroupBroadcast(wl1_3, 2u), subgroupBroadcast(wl1_4, 2u));
            a1_2 = taps(a1_2, w1_2, xa);
            b1_2 = taps(b1_2, w1_2, xb);
            let w1_3 = array<f32, 5>(subgroupBroadcast(wl1_0, 3u), subgroupBroadcast(wl1_1, 3u), subgroupBroadcast(wl1_2, 3u), subgroupBroadcast(wl1_3, 3u), subgroupBroadcast(wl1_4, 3u));
            a1_3 = taps(a1_3, w1_3, xa);
            b1_3 = taps(b1_3, w1_3, xb);
            let w1_4 = array<f32, 5>(subgroupBroadcast(wl1_0, 4u), subgroupBroadcast(wl1_1, 4u), subgroupBroadcast(wl1_2, 4u), subgroupBroadcast(wl1_3, 4u), subgroupBroadcast(wl1_4, 4u));
            a1_4 = taps(a1_4, w1_4, xa);
            b1_4 = taps(b1_4, w1_4, xb);
            let w1_5 = array<f32, 5>(subgroupBroadcast(wl1_0, 5u), subgroupBroadcast(wl1_1, 5u), subgroupBroadcast(wl1_2, 5u), subgroupBroadcast(wl1_3, 5u), subgroupBroadcast(wl1_4, 5u));
            a1_5 = taps(a1_5, w1_5, xa);
            b1_5 = taps(b1_5, w1_5, xb);
            let w1_6 = array<f32, 5>(subgroupBroadcast(wl1_0, 6u), subgroupBroadcast(wl1_1, 6u), subgroupBroadcast(wl1_2, 6u), subgroupBroadcast(wl1_3, 6u), subgroupBroadcast(wl1_4, 6u));
            a1_6 = taps(a1_6, w1_6, xa);
            b1_6 = taps(b1_6, w1_6, xb);
            let w1_7 = array<f32, 5>(subgroupBroadcast(wl1_0, 7u), subgroupBroadcast(wl1_1, 7u), subgroupBroadcast(wl1_2, 7u), subgroupBroadcast(wl1_3, 7u), subgroupBroadcast(wl1_4, 7u));
            a1_7 = taps(a1_7, w1_7, xa);
            b1_7 = taps(b1_7, w1_7, xb);
        }
        iy = iy + 1u;
        row = row + p.w;
        ky = ky + 1u;
        if (ky == KH) {
            ky = 0u;
            iy = iy0;
            row = row + hw - KH * p.w;
        }
    }
    if (q >= total) { return; }
    let px = v.z * 2u;
    let base = (v.x * p.o * pooled_h + v.y) * pooled_w + px;
    // The second pooled pixel of the last pair of an odd row does not exist.
    let two = px + 1u < pooled_w;
    let nb = p.o * ckk;
    pool_store(base, two, o0 + 0u, nb, pooled_h * pooled_w, a0_0, b0_0);
    pool_store(base, two, o0 + 1u, nb, pooled_h * pooled_w, a0_1, b0_1);
    pool_store(base, two, o0 + 2u, nb, pooled_h * pooled_w, a0_2, b0_2);
    pool_store(base, two, o0 + 3u, nb, pooled_h * pooled_w, a0_3, b0_3);
    pool_store(base, two, o0 + 4u, nb, pooled_h * pooled_w, a0_4, b0_4);
    pool_store(base, two, o0 + 5u, nb, pooled_h * pooled_w, a0_5, b0_5);
    pool_store(base, two, o0 + 6u, nb, pooled_h * pooled_w, a0_6, b0_6);
    pool_store(base, two, o0 + 7u, nb, pooled_h * pooled_w, a0_7, b0_7);
    if (CT >= 2u) {
        pool_store(base, two, o0 + 8u, nb, pooled_h * pooled_w, a1_0, b1_0);
        pool_store(base, two, o0 + 9u, nb, pooled_h * pooled_w, a1_1, b1_1);
        pool_store(base, two, o0 + 10u, nb, pooled_h * pooled_w, a1_2, b1_2);
        pool_store(base, two, o0 + 11u, nb, pooled_h * pooled_w, a1_3, b1_3);
        pool_store(base, two, o0 + 12u, nb, pooled_h * pooled_w, a1_4, b1_4);
        pool_store(base, two, o0 + 13u, nb, pooled_h * pooled_w, a1_5, b1_5);
        pool_store(base, two, o0 + 14u, nb, pooled_h * pooled_w, a1_6, b1_6);
        pool_store(base, two, o0 + 15u, nb, pooled_h * pooled_w, a1_7, b1_7);
    }
}

// Stores channel o of a lane's two pooled pixels: max over each 2 x 2 window (a: row 0,
// b: row 1; columns 0-1 and 2-3), plus the folded bias (wt[nb + o]), rectified.
fn pool_store(base: u32, two: bool, o: u32, nb: u32, plane: u32, a: vec4<f32>, b: vec4<f32>) {
    if (o >= p.o) { return; }
    let bo = wt[nb + o];
    let off = base + o * plane;
    out[off] = max(max(max(a.x, a.y), max(b.x, b.y)) + bo, 0.0);
    if (two) {
        out[off + 1u] = max(max(max(a.z, a.w), max(b.z, b.w)) + bo, 0.0);
    }
}


// ---------------------------------------------------------------------------------------
// Winograd F(2x2, 3x3) forward (`+wino`; stride 1, dilation 1, 3x3 kernels) on adapters
// with 8-wide subgroups. An output tile of 2x2 pixels is sum_c A^T [U_c (.) V_c] A with
// U = G w G^T the 4x4 transform of a 3x3 kernel (conv2d_wino_weights) and V = B^T d B of
// the 4x4 input patch d under the tile: 16 multiplies per tile and channel pair where the
// direct form takes 36. A lane owns two output rows oy0, oy0 + 1 (oy0 = 2 * pair) by 8
// columns ox0 .. ox0 + 7 (four tiles side by side, held as one vec4 per transform
// position, components .x to .w = tiles 0 to 3) and 8 output channels o0 .. o0 + 7 (o0 = wid.z * 8;
// lane sl loads the 16 transformed weights of channel o0 + sl as 4 vec4s and broadcasts
// them). Per input channel it loads the 4 x 10 input values under its tiles, once.
// The sums run in another order and through the transforms, so they round differently from
// the direct kernels: a choice of its own (gpu::wino). Error against float64 is stated in
// README ("Winograd").
//
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
//   G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
//   A^T = [1 1 1 0; 0 1 -1 -1]

// 16 values of a 4x4 transform, position (i, j) in p<4i + j>, each a vec4 over 4 tiles.
struct Wino {
    p0: vec4<f32>, p1: vec4<f32>, p2: vec4<f32>, p3: vec4<f32>,
    p4: vec4<f32>, p5: vec4<f32>, p6: vec4<f32>, p7: vec4<f32>,
    p8: vec4<f32>, p9: vec4<f32>, p10: vec4<f32>, p11: vec4<f32>,
    p12: vec4<f32>, p13: vec4<f32>, p14: vec4<f32>, p15: vec4<f32>,
}

// One input row under the lane's tiles (columns ix0 .. ix0 + 9, zero outside the image)
// times B on the right: column j of the result holds tile t's (d B)[j] in component t.
fn wino_row(off: u32, ok: bool, m: array<bool, 10>) -> array<vec4<f32>, 4> {
    let d0 = ldx(off + 0u, ok && m[0]);
    let d1 = ldx(off + 1u, ok && m[1]);
    let d2 = ldx(off + 2u, ok && m[2]);
    let d3 = ldx(off + 3u, ok && m[3]);
    let d4 = ldx(off + 4u, ok && m[4]);
    let d5 = ldx(off + 5u, ok && m[5]);
    let d6 = ldx(off + 6u, ok && m[6]);
    let d7 = ldx(off + 7u, ok && m[7]);
    let d8 = ldx(off + 8u, ok && m[8]);
    let d9 = ldx(off + 9u, ok && m[9]);
    // Tile t starts at column 2t: its columns 0 .. 3 are D0 .. D3 in component t.
    let e0 = vec4<f32>(d0, d2, d4, d6);
    let e1 = vec4<f32>(d1, d3, d5, d7);
    let e2 = vec4<f32>(d2, d4, d6, d8);
    let e3 = vec4<f32>(d3, d5, d7, d9);
    return array<vec4<f32>, 4>(e0 - e2, e1 + e2, e2 - e1, e1 - e3);
}

// V = B^T (d B) from the four rows of d B.
fn wino_input(r0: array<vec4<f32>, 4>, r1: array<vec4<f32>, 4>, r2: array<vec4<f32>, 4>, r3: array<vec4<f32>, 4>) -> Wino {
    return Wino(
        r0[0] - r2[0], r0[1] - r2[1], r0[2] - r2[2], r0[3] - r2[3],
        r1[0] + r2[0], r1[1] + r2[1], r1[2] + r2[2], r1[3] + r2[3],
        r2[0] - r1[0], r2[1] - r1[1], r2[2] - r1[2], r2[3] - r1[3],
        r1[0] - r3[0], r1[1] - r3[1], r1[2] - r3[2], r1[3] - r3[3],
    );
}

// One output channel's 2x2 tiles (rows 0 and 1, columns 0 and 1 of each; components .x to
// .w = tiles 0 to 3).
struct WinoOut {
    y00: vec4<f32>,
    y01: vec4<f32>,
    y10: vec4<f32>,
    y11: vec4<f32>,
}

// y + A^T (U (.) V) A: one input channel's contribution to one output channel, U's 16
// values in u0 .. u3 (positions 4k .. 4k + 3 in uk), the same for every tile. Transformed
// back per channel, not once after the sum over channels: the sum then carries 4 values per
// tile instead of 16 (32 vec4 accumulators per lane, where the 128 of the sum in the
// transformed domain spilled and ran at 0.71-0.87x), for 24 more additions per channel pair.
fn wino_mac(y: WinoOut, u0: vec4<f32>, u1: vec4<f32>, u2: vec4<f32>, u3: vec4<f32>, v: Wino) -> WinoOut {
    let m0 = u0.x * v.p0;
    let m1 = u0.y * v.p1;
    let m2 = u0.z * v.p2;
    let m3 = u0.w * v.p3;
    let m4 = u1.x * v.p4;
    let m5 = u1.y * v.p5;
    let m6 = u1.z * v.p6;
    let m7 = u1.w * v.p7;
    let m8 = u2.x * v.p8;
    let m9 = u2.y * v.p9;
    let m10 = u2.z * v.p10;
    let m11 = u2.w * v.p11;
    let m12 = u3.x * v.p12;
    let m13 = u3.y * v.p13;
    let m14 = u3.z * v.p14;
    let m15 = u3.w * v.p15;
    // A^T M: rows 0 and 1, then times A: columns 0 and 1.
    let a00 = m0 + m4 + m8;
    let a01 = m1 + m5 + m9;
    let a02 = m2 + m6 + m10;
    let a03 = m3 + m7 + m11;
    let a10 = m4 - m8 - m12;
    let a11 = m5 - m9 - m13;
    let a12 = m6 - m10 - m14;
    let a13 = m7 - m11 - m15;
    return WinoOut(
        y.y00 + (a00 + a01 + a02),
        y.y01 + (a01 - a02 - a03),
        y.y10 + (a10 + a11 + a12),
        y.y11 + (a11 - a12 - a13),
    );
}

fn wino_zero() -> WinoOut {
    let z = vec4<f32>(0.0);
    return WinoOut(z, z, z, z);
}

// Channel o's two output rows; tile t's columns are 2t and 2t + 1.
fn wino_store(base: u32, valid: u32, second: bool, o: u32, y: WinoOut) {
    fwd_row_store8(base, valid, o, vec4<f32>(y.y00.x, y.y01.x, y.y00.y, y.y01.y), vec4<f32>(y.y00.z, y.y01.z, y.y00.w, y.y01.w));
    if (second) {
        fwd_row_store8(base + p.ow, valid, o, vec4<f32>(y.y10.x, y.y11.x, y.y10.y, y.y11.y), vec4<f32>(y.y10.z, y.y11.z, y.y10.w, y.y11.w));
    }
}

@compute @workgroup_size(64)
fn conv2d_fwd_wino_sg(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) sl: u32) {
    let blocks = (p.ow + 7u) / 8u;
    let pairs = (p.oh + 1u) / 2u;
    let total = p.n * pairs * blocks;
    let q = gid.x + gid.y * nwg.x * 64u;
    // As in conv2d_fwd_sg: subgroups leave as a whole; lanes past the end redo the last
    // block and store nothing.
    if (subgroupAll(q >= total)) { return; }
    let v = cursor(min(q, total - 1u), pairs, blocks);
    let ox0 = v.z * 8u;
    let oy0 = 2u * v.y;
    let iy0 = oy0 - p.ph;
    let ix0 = ox0 - p.pw;
    // u32 columns and rows: one left of or above the image wraps past W (H).
    let m = array<bool, 10>(ix0 < p.w, ix0 + 1u < p.w, ix0 + 2u < p.w, ix0 + 3u < p.w, ix0 + 4u < p.w,
        ix0 + 5u < p.w, ix0 + 6u < p.w, ix0 + 7u < p.w, ix0 + 8u < p.w, ix0 + 9u < p.w);
    let ok0 = iy0 < p.h;
    let ok1 = iy0 + 1u < p.h;
    let ok2 = iy0 + 2u < p.h;
    let ok3 = iy0 + 3u < p.h;
    let hw = p.h * p.w;
    let o0 = wid.z * 8u;
    // Lane sl's weights: channel o0 + sl (the last channel past the end; never stored).
    var u = min(o0 + sl, p.o - 1u) * p.c * 4u;
    var acc0 = wino_zero();
    var acc1 = wino_zero();
    var acc2 = wino_zero();
    var acc3 = wino_zero();
    var acc4 = wino_zero();
    var acc5 = wino_zero();
    var acc6 = wino_zero();
    var acc7 = wino_zero();
    var row = v.x * p.c * hw + iy0 * p.w + ix0;
    for (var c = 0u; c < p.c; c = c + 1u) {
        let vt = wino_input(
            wino_row(row, ok0, m),
            wino_row(row + p.w, ok1, m),
            wino_row(row + 2u * p.w, ok2, m),
            wino_row(row + 3u * p.w, ok3, m),
        );
        let w0 = wt4[u];
        let w1 = wt4[u + 1u];
        let w2 = wt4[u + 2u];
        let w3 = wt4[u + 3u];
        acc0 = wino_mac(acc0, subgroupBroadcast(w0, 0u), subgroupBroadcast(w1, 0u), subgroupBroadcast(w2, 0u), subgroupBroadcast(w3, 0u), vt);
        acc1 = wino_mac(acc1, subgroupBroadcast(w0, 1u), subgroupBroadcast(w1, 1u), subgroupBroadcast(w2, 1u), subgroupBroadcast(w3, 1u), vt);
        acc2 = wino_mac(acc2, subgroupBroadcast(w0, 2u), subgroupBroadcast(w1, 2u), subgroupBroadcast(w2, 2u), subgroupBroadcast(w3, 2u), vt);
        acc3 = wino_mac(acc3, subgroupBroadcast(w0, 3u), subgroupBroadcast(w1, 3u), subgroupBroadcast(w2, 3u), subgroupBroadcast(w3, 3u), vt);
        acc4 = wino_mac(acc4, subgroupBroadcast(w0, 4u), subgroupBroadcast(w1, 4u), subgroupBroadcast(w2, 4u), subgroupBroadcast(w3, 4u), vt);
        acc5 = wino_mac(acc5, subgroupBroadcast(w0, 5u), subgroupBroadcast(w1, 5u), subgroupBroadcast(w2, 5u), subgroupBroadcast(w3, 5u), vt);
        acc6 = wino_mac(acc6, subgroupBroadcast(w0, 6u), subgroupBroadcast(w1, 6u), subgroupBroadcast(w2, 6u), subgroupBroadcast(w3, 6u), vt);
        acc7 = wino_mac(acc7, subgroupBroadcast(w0, 7u), subgroupBroadcast(w1, 7u), subgroupBroadcast(w2, 7u), subgroupBroadcast(w3, 7u), vt);
        row = row + hw;
        u = u + 4u;
    }
    if (q >= total) { return; }
    let valid = p.ow - ox0;
    let second = oy0 + 1u < p.oh;
    let base = (v.x * p.o * p.oh + oy0) * p.ow + ox0;
    wino_store(base, valid, second, o0 + 0u, acc0);
    wino_store(base, valid, second, o0 + 1u, acc1);
    wino_store(base, valid, second, o0 + 2u, acc2);
    wino_store(base, valid, second, o0 + 3u, acc3);
    wino_store(base, valid, second, o0 + 4u, acc4);
    wino_store(base, valid, second, o0 + 5u, acc5);
    wino_store(base, valid, second, o0 + 6u, acc6);
    wino_store(base, valid, second, o0 + 7u, acc7);
}

// U = G w G^T for every (o, c) of a 3x3 weight [O, C, 3, 3], written [O, C, 16] (row-major
// 4x4) for conv2d_fwd_wino_sg. Invocation i = o * C + c.
@compute @workgroup_size(256)
fn conv2d_wino_weights(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.o * p.c) { return; }
    let b = i * 9u;
    // t = G w: rows of 3.
    let w0 = vec3<f32>(wt[b], wt[b + 1u], wt[b + 2u]);
    let w1 = vec3<f32>(wt[b + 3u], wt[b + 4u], wt[b + 5u]);
    let w2 = vec3<f32>(wt[b + 6u], wt[b + 7u], wt[b + 8u]);
    let t0 = w0;
    let t1 = 0.5 * (w0 + w1 + w2);
    let t2 = 0.5 * (w0 - w1 + w2);
    let t3 = w2;
    let o = i * 16u;
    wino_weight_row(o, t0);
    wino_weight_row(o + 4u, t1);
    wino_weight_row(o + 8u, t2);
    wino_weight_row(o + 12u, t3);
}

// One row of U: t G^T.
fn wino_weight_row(o: u32, t: vec3<f32>) {
    out[o] = t.x;
    out[o + 1u] = 0.5 * (t.x + t.y + t.z);
    out[o + 2u] = 0.5 * (t.x - t.y + t.z);
    out[o + 3u] = t.z;
}
//#endif
