// Batch norm + ReLU + 2x2 max pool (stride 2, no padding) in one pass over the activation,
// and the matching backward without materialising the pooled, rectified or normalised
// gradients (DeepMerge's blocks: each unfused pass streams the whole activation).
//
// x is [planes = N * C, H, W]; the pooled output y is [planes, OH, OW] with OH = H / 2,
// OW = W / 2 (floor, PyTorch), and the window argmax (arg_code) comes four windows of a row
// to a u32, [planes, OH, ceil(OW / 4)], byte j for ox = 4 * word + j (one store for a
// forward quad and one load for the backward's four windows: lavapipe pays per access). The per-channel
// coefficients come from batchnorm.wgsl's finalize passes: forward (a, b) with
// bn(x) = a x + b; backward (A, B, D) with dx = A gz + B x + D, gz being the gradient that
// reaches the normalised value: g of its window when it is that window's first maximum
// and the maximum is positive (the ReLU passes it), else 0.
//
// Indexing: linear invocation l = gid.x + gid.y * num_workgroups.x * 256; forward: four
// outputs of an output row (quad); partial: one chunk of one channel's outputs;
// backward apply: 2 x 8 inputs over four windows.

struct Params {
    c: u32,
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    planes: u32,
    chunk: u32,      // outputs folded by one partial
    chunks: u32,     // partials per channel
    count_out: u32,  // N * OH * OW: outputs per channel
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> x4: array<vec4<f32>>;   // x again, as vec4s
@group(0) @binding(3) var<storage, read> coef_in: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> stats_in: array<vec2<f32>>;  // (mean, 1/std)
@group(0) @binding(5) var<storage, read> g: array<f32>;         // gradient of y
@group(0) @binding(7) var<storage, read> arg_in: array<u32>;    // arg_codes, four to a word
@group(0) @binding(8) var<storage, read_write> out: array<f32>;
@group(0) @binding(9) var<storage, read_write> arg_out: array<u32>;
@group(0) @binding(10) var<storage, read_write> part_out: array<vec2<f32>>;

const WG: u32 = 256u;

// 1: brp_grad_partial takes two outputs per iteration, with `+rows+flip` (as batchnorm.wgsl's
// PAIR, and off elsewhere for the same reason).
override PAIR: u32 = 0u;

fn linear(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

// 1: divmod divides exactly (a pass with 2^22 invocations or more, ops/bn_relu_pool.rs).
override EXACT: u32 = 0u;

// (a / d, a % d). Below 2^22 (EXACT = 0) the float quotient is off by less than one even
// with Vulkan's 2.5-ulp division and is corrected once: CPUs divide integers one lane at a
// time, and the per-element passes divided three times per invocation.
fn divmod(a: u32, d: u32) -> vec2<u32> {
    if (EXACT != 0u) { return vec2<u32>(a / d, a % d); }
    let di = i32(d);
    let q0 = i32(f32(a) * (1.0 / f32(d)));
    let r0 = i32(a) - q0 * di;
    let lo = r0 < 0;
    let q1 = select(q0, q0 - 1, lo);
    let r1 = select(r0, r0 + di, lo);
    let hi = r1 >= di;
    return vec2<u32>(u32(select(q1, q1 + 1, hi)), u32(select(r1, r1 - di, hi)));
}

// x[e .. e + 8) from the three aligned vec4s covering it (lavapipe pays per load
// instruction). Components past the input's end are never used.
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

// Max and first-argmax offset (row-major, 0..3) of the window (t0, t1 / b0, b1): ties keep
// the earlier position, as max_pool2d does.
fn max4(t0: f32, t1: f32, b0: f32, b1: f32) -> vec2<f32> {
    var m = t0;
    var k = 0.0;
    if (t1 > m) { m = t1; k = 1.0; }
    if (b0 > m) { m = b0; k = 2.0; }
    if (b1 > m) { m = b1; k = 3.0; }
    return vec2<f32>(m, k);
}

// The saved argmax of a window (max, offset) from max4: the offset, plus 4 where the
// maximum is not positive, so the ReLU passes no gradient (the backward then needs no
// load of the pooled output).
fn arg_code(w: vec2<f32>) -> u32 {
    return u32(w.y) + select(4u, 0u, w.x > 0.0);
}

struct Quad {
    o: u32,                       // first of the (up to) four outputs
    n: u32,                       // how many of them exist
    k: vec4<f32>,                 // the plane's coefficients
    top: array<vec4<f32>, 2>,     // x of the windows' top rows (8 values)
    bot: array<vec4<f32>, 2>,     // and bottom rows
}

// The inputs of outputs ox = 4 * (l % ceil(OW / 4)) + [0, 4) of row
// oy = (l / ceil(OW / 4)) % OH of plane l / (ceil(OW / 4) * OH).
fn quad(l: u32) -> Quad {
    let qw = (p.ow + 3u) / 4u;
    let a = divmod(l, qw);
    let ox = a.y * 4u;
    let t = a.x;
    let b = divmod(t, p.oh);
    let oy = b.y;
    let plane = b.x;
    let e = plane * p.h * p.w + 2u * oy * p.w + 2u * ox;
    return Quad(t * p.ow + ox, min(4u, p.ow - ox), coef_in[divmod(plane, p.c).y], load8(e), load8(e + p.w));
}

// y = maxpool(relu(a x + b)) and its argmax for the outputs of quad(l).
@compute @workgroup_size(256)
fn brp_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let l = linear(gid, nwg);
    let qw = (p.ow + 3u) / 4u;
    if (l >= p.planes * p.oh * qw) { return; }
    let q = quad(l);
    let k = q.k;
    let top = q.top;
    let bot = q.bot;
    let t0 = max(top[0] * k.x + k.y, vec4<f32>(0.0));
    let t1 = max(top[1] * k.x + k.y, vec4<f32>(0.0));
    let b0 = max(bot[0] * k.x + k.y, vec4<f32>(0.0));
    let b1 = max(bot[1] * k.x + k.y, vec4<f32>(0.0));
    let w0 = max4(t0.x, t0.y, b0.x, b0.y);
    let w1 = max4(t0.z, t0.w, b0.z, b0.w);
    let w2 = max4(t1.x, t1.y, b1.x, b1.y);
    let w3 = max4(t1.z, t1.w, b1.z, b1.w);
    let o = q.o;
    let n = q.n;
    out[o] = w0.x;
    if (n > 1u) { out[o + 1u] = w1.x; }
    if (n > 2u) { out[o + 2u] = w2.x; }
    if (n > 3u) { out[o + 3u] = w3.x; }
    // The quad's word (l runs over (plane, oy, ox / 4) as the words do).
    arg_out[l] = arg_code(w0) | (arg_code(w1) << 8u) | (arg_code(w2) << 16u) | (arg_code(w3) << 24u);
}

// As brp_forward without the argmax (inference).
@compute @workgroup_size(256)
fn brp_forward_eval(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let l = linear(gid, nwg);
    let qw = (p.ow + 3u) / 4u;
    if (l >= p.planes * p.oh * qw) { return; }
    let q = quad(l);
    let k = q.k;
    let top = q.top;
    let bot = q.bot;
    // max(relu(u), relu(v)) = relu(max(u, v)): pool first, rectify once.
    let r0 = max(top[0] * k.x + k.y, bot[0] * k.x + k.y);
    let r1 = max(top[1] * k.x + k.y, bot[1] * k.x + k.y);
    let o = q.o;
    let n = q.n;
    out[o] = max(max(r0.x, r0.y), 0.0);
    if (n > 1u) { out[o + 1u] = max(max(r0.z, r0.w), 0.0); }
    if (n > 2u) { out[o + 2u] = max(max(r1.x, r1.y), 0.0); }
    if (n > 3u) { out[o + 3u] = max(max(r1.z, r1.w), 0.0); }
}

// The arg_code of output (plane, oy, ox).
fn code_at(plane: u32, oy: u32, ox: u32) -> u32 {
    let word = arg_in[(plane * p.oh + oy) * ((p.ow + 3u) / 4u) + ox / 4u];
    return (word >> (8u * (ox % 4u))) & 0xffu;
}

// The output after (n, oy, ox) in (n, oy, ox) order.
fn next_out(v: vec3<u32>) -> vec3<u32> {
    let wrap_x = v.z + 1u == p.ow;
    let wrap_y = wrap_x && v.y + 1u == p.oh;
    return vec3<u32>(select(v.x, v.x + 1u, wrap_y), select(select(v.y, v.y + 1u, wrap_x), 0u, wrap_y), select(v.z + 1u, 0u, wrap_x));
}

// Partial gradient sums of chunk t = c * chunks + j over channel c's outputs in (n, oy, ox)
// order: (sum gz, sum gz * (x - mean)) where only each window's argmax carries gz, so the
// sums over the channel's inputs are sums over its outputs.
@compute @workgroup_size(256)
fn brp_grad_partial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = linear(gid, nwg);
    if (t >= p.c * p.chunks) { return; }
    let c = t / p.chunks;
    let q0 = (t - c * p.chunks) * p.chunk;
    let len = min(p.chunk, p.count_out - q0);
    let ohw = p.oh * p.ow;
    var n = q0 / ohw;
    let i0 = q0 - n * ohw;
    var oy = i0 / p.ow;
    var ox = i0 - oy * p.ow;
    let mean = stats_in[c].x;
    var sg = 0.0;
    var sgx = 0.0;
    if (PAIR == 0u) {
        for (var q = 0u; q < len; q = q + 1u) {
            let plane = n * p.c + c;
            let o = plane * ohw + oy * p.ow + ox;
            let code = code_at(plane, oy, ox);
            let kk = code & 3u;
            let e = plane * p.h * p.w + (2u * oy + kk / 2u) * p.w + 2u * ox + kk % 2u;
            let gz = select(0.0, g[o], code < 4u);
            sg = sg + gz;
            sgx = sgx + gz * (x[e] - mean);
            let v = next_out(vec3<u32>(n, oy, ox));
            n = v.x;
            oy = v.y;
            ox = v.z;
        }
    } else {
        // Two outputs per iteration (see PAIR), in the same order.
        var q = 0u;
        loop {
            if (q >= len) { break; }
            let pair = q + 1u < len;
            // The next output's cursor (this one's where there is none).
            let va = vec3<u32>(n, oy, ox);
            let vb = select(va, next_out(va), pair);
            let nb = vb.x;
            let oyb = vb.y;
            let oxb = vb.z;
            let pa = n * p.c + c;
            let oa = pa * ohw + oy * p.ow + ox;
            let codea = code_at(pa, oy, ox);
            let ka = codea & 3u;
            let ea = pa * p.h * p.w + (2u * oy + ka / 2u) * p.w + 2u * ox + ka % 2u;
            let gza = select(0.0, g[oa], codea < 4u);
            let pb = nb * p.c + c;
            let ob = pb * ohw + oyb * p.ow + oxb;
            let codeb = code_at(pb, oyb, oxb);
            let kb = codeb & 3u;
            let eb = pb * p.h * p.w + (2u * oyb + kb / 2u) * p.w + 2u * oxb + kb % 2u;
            let gzb = select(0.0, g[ob], codeb < 4u);
            let t1 = sg + gza;
            let t2 = sgx + gza * (x[ea] - mean);
            sg = select(t1, t1 + gzb, pair);
            sgx = select(t2, t2 + gzb * (x[eb] - mean), pair);
            q = q + select(1u, 2u, pair);
            let vn = next_out(vb);
            n = vn.x;
            oy = vn.y;
            ox = vn.z;
        }
    }
    part_out[t] = vec2<f32>(sg, sgx);
}

// The gradient reaching bn(x) of one window's four inputs, in window order: g at its
// first maximum when that is positive (an arg_code below 4), else 0.
fn window_gz(o: u32, code: u32) -> vec4<f32> {
    return select(vec4<f32>(0.0), vec4<f32>(g[o]), vec4<u32>(0u, 1u, 2u, 3u) == vec4<u32>(code));
}

// dx = A gz + B x + D over input rows 2 rp, 2 rp + 1 and columns 8 qc + [0, 8) of one plane,
// invocation l = (plane * ceil(H / 2) + rp) * ceil(W / 8) + qc: the four windows below them
// load g and the argmax word once for 16 inputs, and x comes in through load8. Rows and
// columns past the last window (odd H or W) get gz = 0.
@compute @workgroup_size(256)
fn brp_backward_apply(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let l = linear(gid, nwg);
    let qw = (p.w + 7u) / 8u;
    let rows = (p.h + 1u) / 2u;
    if (l >= p.planes * rows * qw) { return; }
    let a = divmod(l, qw);
    let qc = a.y;
    let t = a.x;
    let b = divmod(t, rows);
    let rp = b.y;
    let plane = b.x;
    let k = coef_in[divmod(plane, p.c).y];
    let ix0 = qc * 8u;
    // Window gradients of windows ox0 .. ox0 + 3 (zero where there is no window).
    let ox0 = qc * 4u;
    let orow = plane * p.oh + min(rp, p.oh - 1u);
    let obase = orow * p.ow;
    let qw4 = (p.ow + 3u) / 4u;
    // The four windows' codes: one word (ox0 = 4 qc).
    let word = arg_in[orow * qw4 + min(qc, qw4 - 1u)];
    var wg: array<vec4<f32>, 4>;
    for (var j = 0u; j < 4u; j = j + 1u) {
        let ox = ox0 + j;
        let has = rp < p.oh && ox < p.ow;
        let code = (word >> (8u * j)) & 0xffu;
        wg[j] = select(vec4<f32>(0.0), window_gz(obase + min(ox, p.ow - 1u), code), has);
    }
    for (var r = 0u; r < 2u; r = r + 1u) {
        let iy = 2u * rp + r;
        if (iy >= p.h) { break; }
        let e = (plane * p.h + iy) * p.w + ix0;
        let xv = load8(e);
        // gz of the row's eight inputs: window j's top (r = 0) or bottom pair.
        let lo = vec4<f32>(wg[0][2u * r], wg[0][2u * r + 1u], wg[1][2u * r], wg[1][2u * r + 1u]);
        let hi = vec4<f32>(wg[2][2u * r], wg[2][2u * r + 1u], wg[3][2u * r], wg[3][2u * r + 1u]);
        let d0 = lo * k.x + xv[0] * k.y + k.z;
        let d1 = hi * k.x + xv[1] * k.y + k.z;
        let n = min(8u, p.w - ix0);
        out[e] = d0.x;
        if (n > 1u) { out[e + 1u] = d0.y; }
        if (n > 2u) { out[e + 2u] = d0.z; }
        if (n > 3u) { out[e + 3u] = d0.w; }
        if (n > 4u) { out[e + 4u] = d1.x; }
        if (n > 5u) { out[e + 5u] = d1.y; }
        if (n > 6u) { out[e + 6u] = d1.z; }
        if (n > 7u) { out[e + 7u] = d1.w; }
    }
}
