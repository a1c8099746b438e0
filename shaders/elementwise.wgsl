// Elementwise kernels: fill, unary maths, their backward rules, and binary arithmetic
// with NumPy broadcasting. OP is a pipeline-override constant, so each op compiles to its
// own branch-free pipeline.
//
// Indexing (all entries): one invocation per output element, linear index
//   i = gid.x + gid.y * num_workgroups.x * 256
// (dispatches fold into y past 65535 groups).

struct Params {
    n: u32,
    ndim: u32,
    p0: f32,
    p1: f32,
    // Broadcast binary only: output shape and the element strides of a and b per output
    // dimension (0 where that operand is broadcast), innermost dimension last.
    shape: array<vec4<u32>, 2>,
    a_strides: array<vec4<u32>, 2>,
    b_strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> c: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

override OP: u32 = 0u;

const WG: u32 = 256u;

fn linear(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

// out[i] = p0
@compute @workgroup_size(256)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear(gid, nwg);
    if (i >= p.n) { return; }
    out[i] = p.p0;
}

// Unary ops on a; p0, p1 are the op's scalars.
// 0 exp, 1 log, 2 sqrt, 3 square, 4 relu, 5 sigmoid, 6 tanh, 7 neg, 8 pow(x, p0),
// 9 clamp(x, p0, p1), 10 scale x*p0, 11 add x+p0, 12 at_least (1 where x >= p0, else 0),
// 13 copy
fn unary_op(x: f32) -> f32 {
    switch OP {
        case 0u: { return exp(x); }
        case 1u: { return log(x); }
        case 2u: { return sqrt(x); }
        case 3u: { return x * x; }
        case 4u: { return max(x, 0.0); }
        case 5u: {
            // Split by sign so exp never overflows.
            if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
            let e = exp(x);
            return e / (1.0 + e);
        }
        case 6u: { return tanh(x); }
        case 7u: { return -x; }
        case 8u: { return pow_signed(x, p.p0); }
        case 9u: { return clamp(x, p.p0, p.p1); }
        case 10u: { return x * p.p0; }
        case 11u: { return x + p.p0; }
        case 12u: { return select(0.0, 1.0, x >= p.p0); }
        default: { return x; }
    }
}

// x^e with integer exponents defined for negative x, as in PyTorch.
fn pow_signed(x: f32, e: f32) -> f32 {
    if (e == 0.0) { return 1.0; }
    if (e == 1.0) { return x; }
    if (e == 2.0) { return x * x; }
    let r = pow(abs(x), e);
    if (x < 0.0 && fract(e) == 0.0) {
        let odd = (i32(e) & 1) == 1;
        return select(r, -r, odd);
    }
    if (x < 0.0) { return bitcast<f32>(0x7fc00000u); }
    return r;
}

@compute @workgroup_size(256)
fn unary(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear(gid, nwg);
    if (i >= p.n) { return; }
    out[i] = unary_op(a[i]);
}

// dL/dx of the unary op OP from x (forward input), y (forward output) and g = dL/dy.
fn unary_grad(x: f32, y: f32, g: f32) -> f32 {
    switch OP {
        case 0u: { return g * y; }
        case 1u: { return g / x; }
        case 2u: { return g * 0.5 / y; }
        case 3u: { return g * 2.0 * x; }
        case 4u: { return select(0.0, g, x > 0.0); }
        case 5u: { return g * y * (1.0 - y); }
        case 6u: { return g * (1.0 - y * y); }
        case 7u: { return -g; }
        case 8u: { return g * p.p0 * pow_signed(x, p.p0 - 1.0); }
        case 9u: { return select(0.0, g, x >= p.p0 && x <= p.p1); }
        case 10u: { return g * p.p0; }
        case 12u: { return 0.0; }    // a step: no gradient
        default: { return g; }
    }
}

// Backward of the unary op OP: a = x (forward input), b = y (forward output), c = dL/dy.
@compute @workgroup_size(256)
fn unary_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear(gid, nwg);
    if (i >= p.n) { return; }
    out[i] = unary_grad(a[i], b[i], c[i]);
}

// unary and unary_backward four elements per invocation (v = linear index < n / 4), for
// n % 4 == 0: lavapipe spends most of an elementwise kernel on each lane's load and store
// instructions, and a vec4 access costs about what a scalar one does.
@group(0) @binding(5) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read> c4: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> out4: array<vec4<f32>>;

@compute @workgroup_size(256)
fn unary4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let v = linear(gid, nwg);
    if (v >= p.n / 4u) { return; }
    let x = a4[v];
    out4[v] = vec4<f32>(unary_op(x.x), unary_op(x.y), unary_op(x.z), unary_op(x.w));
}

@compute @workgroup_size(256)
fn unary_backward4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let v = linear(gid, nwg);
    if (v >= p.n / 4u) { return; }
    let x = a4[v];
    let y = b4[v];
    let g = c4[v];
    out4[v] = vec4<f32>(unary_grad(x.x, y.x, g.x), unary_grad(x.y, y.y, g.y),
        unary_grad(x.z, y.z, g.z), unary_grad(x.w, y.w, g.w));
}

// In-place out[i] += p0 * a[i]: the plain SGD update (optimizers proper live in optim.wgsl).
@compute @workgroup_size(256)
fn axpy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear(gid, nwg);
    if (i >= p.n) { return; }
    out[i] = out[i] + p.p0 * a[i];
}

// 0 add, 1 sub, 2 mul, 3 div, 4 right operand (broadcast_to)
fn binary_op(x: f32, y: f32) -> f32 {
    switch OP {
        case 0u: { return x + y; }
        case 1u: { return x - y; }
        case 2u: { return x * y; }
        case 3u: { return x / y; }
        default: { return y; }
    }
}

// Same-shape operands: out[i] = a[i] op b[i].
@compute @workgroup_size(256)
fn binary_same(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear(gid, nwg);
    if (i >= p.n) { return; }
    out[i] = binary_op(a[i], b[i]);
}

// Broadcast operands: decompose i over the output shape (innermost last) and walk a and b
// with their per-dimension strides.
@compute @workgroup_size(256)
fn binary(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear(gid, nwg);
    if (i >= p.n) { return; }
    var rem = i;
    var ia = 0u;
    var ib = 0u;
    for (var d = i32(p.ndim) - 1; d >= 0; d = d - 1) {
        let q = u32(d) / 4u;
        let r = u32(d) % 4u;
        let s = p.shape[q][r];
        let coord = rem % s;
        rem = rem / s;
        ia = ia + coord * p.a_strides[q][r];
        ib = ib + coord * p.b_strides[q][r];
    }
    out[i] = binary_op(a[ia], b[ib]);
}

// binary_same four elements per invocation (v < n / 4), for n % 4 == 0 (see unary4).
@compute @workgroup_size(256)
fn binary_same4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let v = linear(gid, nwg);
    if (v >= p.n / 4u) { return; }
    let x = a4[v];
    let y = b4[v];
    out4[v] = vec4<f32>(binary_op(x.x, y.x), binary_op(x.y, y.y), binary_op(x.z, y.z), binary_op(x.w, y.w));
}

// The broadcast binary for the common two-dimensional case (a row or column vector, or a
// scalar, against a full operand), shape[0].xy = (R, C) with C % 4 == 0: invocation
// (gid.x, gid.y) = (quad j of the row, row r) writes out[r, 4j .. 4j + 3]. No per-element
// index division, which `binary` pays once per dimension.
@compute @workgroup_size(256)
fn binary_rows4(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    let r = gid.y;
    let cols = p.shape[0].y;
    if (j >= cols / 4u) { return; }
    // Each operand contiguous along the row (stride 1, row stride a multiple of 4) or one
    // value repeated along it (stride 0).
    let sa = p.a_strides[0].xy;
    let sb = p.b_strides[0].xy;
    var x = vec4<f32>(0.0);
    if (sa.y == 1u) { x = a4[r * sa.x / 4u + j]; } else { x = vec4<f32>(a[r * sa.x]); }
    var y = vec4<f32>(0.0);
    if (sb.y == 1u) { y = b4[r * sb.x / 4u + j]; } else { y = vec4<f32>(b[r * sb.x]); }
    out4[r * cols / 4u + j] = vec4<f32>(binary_op(x.x, y.x), binary_op(x.y, y.y), binary_op(x.z, y.z), binary_op(x.w, y.w));
}
