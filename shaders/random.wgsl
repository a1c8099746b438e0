// Counter-based random numbers: Threefry-2x32 with 20 rounds (Salmon et al. 2011) keyed by
// the seed, counter = (block index + offset, stream). Only 32-bit adds, rotates and xors,
// so every adapter produces the same bits; src/tensor/create.rs holds the CPU twin.
//
// Element i uses block i / 2 and takes word i % 2 of the block's two outputs.
// Indexing: i = gid.x + gid.y * num_workgroups.x * 256.

struct Params {
    n: u32,
    key0: u32,
    key1: u32,
    offset: u32,
    stream: u32,
    p0: f32,   // uniform: low; normal: mean; dropout: drop probability
    p1: f32,   // uniform: high; normal: std; dropout: 1 / (1 - drop probability)
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;

fn rotl(x: u32, r: u32) -> u32 {
    return (x << r) | (x >> (32u - r));
}

fn threefry(c0: u32, c1: u32, k0: u32, k1: u32) -> vec2<u32> {
    let rot = array<u32, 8>(13u, 15u, 26u, 6u, 17u, 29u, 16u, 24u);
    let ks = array<u32, 3>(k0, k1, 0x1BD11BDAu ^ k0 ^ k1);
    var x0 = c0 + k0;
    var x1 = c1 + k1;
    for (var r = 0u; r < 20u; r = r + 1u) {
        x0 = x0 + x1;
        x1 = rotl(x1, rot[r % 8u]);
        x1 = x1 ^ x0;
        if (r % 4u == 3u) {
            let s = (r + 1u) / 4u;
            x0 = x0 + ks[s % 3u];
            x1 = x1 + ks[(s + 1u) % 3u] + s;
        }
    }
    return vec2<u32>(x0, x1);
}

// 24 high bits -> [0, 1).
fn to_unit(x: u32) -> f32 {
    return f32(x >> 8u) * (1.0 / 16777216.0);
}

fn block(i: u32) -> vec2<u32> {
    return threefry(i / 2u + p.offset, p.stream, p.key0, p.key1);
}

@compute @workgroup_size(256)
fn rand_uniform(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.n) { return; }
    let w = block(i);
    let bits = select(w.x, w.y, (i & 1u) == 1u);
    out[i] = p.p0 + (p.p1 - p.p0) * to_unit(bits);
}

// Box-Muller on the block's two words: element 2j gets r cos t, element 2j+1 gets r sin t.
@compute @workgroup_size(256)
fn rand_normal(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.n) { return; }
    let w = block(i);
    let u1 = (f32(w.x >> 8u) + 1.0) * (1.0 / 16777216.0); // (0, 1]: log is finite
    let u2 = to_unit(w.y);
    let r = sqrt(-2.0 * log(u1));
    let t = 6.283185307179586 * u2;
    let z = select(r * cos(t), r * sin(t), (i & 1u) == 1u);
    out[i] = p.p0 + p.p1 * z;
}

// Inverted dropout: element i is kept when its uniform draw (the one rand_uniform would give
// it) is >= p0, and kept values are scaled by p1. The same counters give the same mask, so
// the backward is this kernel applied to the upstream gradient.
// Invocation j = gid.x + gid.y * nwg.x * 256 owns elements 2j and 2j + 1, the two words of
// block j, so each block is computed once.
@compute @workgroup_size(256)
fn dropout(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let j = gid.x + gid.y * nwg.x * 256u;
    let i = 2u * j;
    if (i >= p.n) { return; }
    let w = threefry(j + p.offset, p.stream, p.key0, p.key1);
    out[i] = select(0.0, x[i] * p.p1, to_unit(w.x) >= p.p0);
    if (i + 1u < p.n) {
        out[i + 1u] = select(0.0, x[i + 1u] * p.p1, to_unit(w.y) >= p.p0);
    }
}
