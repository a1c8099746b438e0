// Data movement: transpose (a general permutation by strides), row gather by index and its
// gradient (a deterministic index-add: each output row sums its matches in index order).
//
// Indexing: one invocation per output element e = gid.x + gid.y * num_workgroups.x * 256.

struct Params {
    n: u32,
    ndim: u32,
    rows: u32,   // gather: index count M; index_add: source rows M
    row_len: u32,
    // permute: output shape and, per output dim, the input's element stride.
    shape: array<vec4<u32>, 2>,
    strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> labels: array<u32>;
@group(0) @binding(5) var<storage, read_write> out4: array<vec4<f32>>;

fn linear(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 256u;
}

// out[e] = x[sum_d coord_d(e) * strides[d]]
@compute @workgroup_size(256)
fn permute(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = linear(gid, nwg);
    if (e >= p.n) { return; }
    var rem = e;
    var src = 0u;
    for (var d = i32(p.ndim) - 1; d >= 0; d = d - 1) {
        let q = u32(d) / 4u;
        let r = u32(d) % 4u;
        let s = p.shape[q][r];
        src = src + (rem % s) * p.strides[q][r];
        rem = rem / s;
    }
    out[e] = x[src];
}

// The two-dimensional transpose out[j, i] = x[i, j] of x [R, C] (shape[0].xy = (R, C)),
// R % 4 == 0: invocation (gid.x, gid.y) = (quad q, column j) writes out[j, 4q .. 4q + 3]
// with one four-wide store and no per-element index division (which permute pays per
// dimension).
@compute @workgroup_size(64)
fn transpose2d4(@builtin(global_invocation_id) gid: vec3<u32>) {
    let rows = p.shape[0].x;
    let cols = p.shape[0].y;
    let q = gid.x;
    let j = gid.y;
    if (4u * q >= rows) { return; }
    let i = 4u * q * cols + j;
    out4[j * (rows / 4u) + q] = vec4<f32>(x[i], x[i + cols], x[i + 2u * cols], x[i + 3u * cols]);
}

// out[m, j] = x[idx[m], j]; out has rows x row_len elements.
@compute @workgroup_size(256)
fn gather_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = linear(gid, nwg);
    if (e >= p.n) { return; }
    let m = e / p.row_len;
    let j = e % p.row_len;
    out[e] = x[idx[m] * p.row_len + j];
}

// out[r, j] = sum over m with idx[m] == r of x[m, j] (in increasing m); out has n / row_len rows.
@compute @workgroup_size(256)
fn index_add_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = linear(gid, nwg);
    if (e >= p.n) { return; }
    let r = e / p.row_len;
    let j = e % p.row_len;
    var s = 0.0;
    for (var m = 0u; m < p.rows; m = m + 1u) {
        if (idx[m] == r) { s = s + x[m * p.row_len + j]; }
    }
    out[e] = s;
}

// out[b, k] = 1 if labels[b] == k else 0; out is [n / row_len, row_len] with row_len = K.
@compute @workgroup_size(256)
fn one_hot(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = linear(gid, nwg);
    if (e >= p.n) { return; }
    out[e] = select(0.0, 1.0, labels[e / p.row_len] == e % p.row_len);
}
