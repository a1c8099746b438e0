// Peak measurements for the benchmarks: FMA throughput and copy bandwidth, so every case
// can be reported as a fraction of what this adapter does in the same run.
//
// fma_peak: each invocation runs 8 independent vec4 FMA chains for p.iters iterations
// (8 * 4 * 2 flop per iteration; p.iters must be a multiple of 4) and writes one value so
// nothing is optimised away.
// copy: out[i] = x[i] over vec4 elements, i = gid.x + gid.y * nwg.x * 256.

struct Params {
    n: u32,
    iters: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;

@compute @workgroup_size(256)
fn fma_peak(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    let s = f32(i & 7u) * 1e-3;
    var a0 = vec4<f32>(s); var a1 = vec4<f32>(s + 0.1); var a2 = vec4<f32>(s + 0.2); var a3 = vec4<f32>(s + 0.3);
    var a4 = vec4<f32>(s + 0.4); var a5 = vec4<f32>(s + 0.5); var a6 = vec4<f32>(s + 0.6); var a7 = vec4<f32>(s + 0.7);
    let m = vec4<f32>(0.999);
    let c = vec4<f32>(1e-4);
    // Four rounds per trip: llvmpipe spends several instructions on each loop trip (exec
    // masks), which cost a single-round loop ~half the measured peak (54 vs 100 GFLOP/s).
    for (var t = 0u; t < p.iters / 4u; t = t + 1u) {
        a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c); a3 = fma(a3, m, c);
        a4 = fma(a4, m, c); a5 = fma(a5, m, c); a6 = fma(a6, m, c); a7 = fma(a7, m, c);
        a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c); a3 = fma(a3, m, c);
        a4 = fma(a4, m, c); a5 = fma(a5, m, c); a6 = fma(a6, m, c); a7 = fma(a7, m, c);
        a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c); a3 = fma(a3, m, c);
        a4 = fma(a4, m, c); a5 = fma(a5, m, c); a6 = fma(a6, m, c); a7 = fma(a7, m, c);
        a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c); a3 = fma(a3, m, c);
        a4 = fma(a4, m, c); a5 = fma(a5, m, c); a6 = fma(a6, m, c); a7 = fma(a7, m, c);
    }
    if (i < p.n) {
        out[i] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
    }
}

@compute @workgroup_size(256)
fn copy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.n) { return; }
    out[i] = x[i];
}
