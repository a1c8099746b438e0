enable f16;
enable wgpu_cooperative_matrix;

// Matrix multiply C = op(A) · op(B) on cooperative matrices, 16 x 16 x 16, f16 operands,
// f32 accumulator: the same Params, bindings, strides and batching as matmul.wgsl (its
// twin, matmul_coop_f32.wgsl, differs in tile size and operand type). One workgroup is one
// subgroup (WG = the adapter's fixed subgroup size: the matrices have subgroup scope) and
// owns a 32 x 32 block of C as 2 x 2 tiles of 16 x 16. Each K slab of 16 is staged through
// workgroup memory, converted to f16, its loads clamped to the last valid row and column
// and masked to zero beyond them, so edges need no host padding; the block goes back
// through workgroup memory and its stores are masked. Every cooperative call is in uniform
// control flow (the K loop bound is uniform). Chosen only where the adapter lists the
// configuration (gpu::coop::pick).

struct Params {
    m: u32,
    n: u32,
    k: u32,
    batch: u32,
    a_rs: u32,
    a_cs: u32,
    b_rs: u32,
    b_cs: u32,
    a_bs: u32,
    b_bs: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

override WG: u32 = 32u;
const T: u32 = 16u;
const BM: u32 = 32u;

var<workgroup> sa: array<f16, 512>;   // BM x T, row-major
var<workgroup> sb: array<f16, 512>;   // T x BM, row-major
var<workgroup> sc: array<f32, 1024>;  // BM x BM, row-major

// op(A)[r, kk] of the block, zero outside A.
fn load_a(aoff: u32, r: u32, kk: u32) -> f32 {
    let v = a[aoff + min(r, p.m - 1u) * p.a_rs + min(kk, p.k - 1u) * p.a_cs];
    return select(0.0, v, r < p.m && kk < p.k);
}

// op(B)[kk, col], zero outside B.
fn load_b(boff: u32, kk: u32, col: u32) -> f32 {
    let v = b[boff + min(kk, p.k - 1u) * p.b_rs + min(col, p.n - 1u) * p.b_cs];
    return select(0.0, v, kk < p.k && col < p.n);
}

@compute @workgroup_size(WG)
fn matmul_coop(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let row0 = wid.y * BM;
    let col0 = wid.x * BM;
    let aoff = wid.z * p.a_bs;
    let boff = wid.z * p.b_bs;
    for (var i = lane; i < BM * BM; i = i + WG) {
        sc[i] = 0.0;
    }
    workgroupBarrier();
    var c00 = coopLoadT<coop_mat16x16<f32, C>>(&sc[0], BM);
    var c01 = coopLoadT<coop_mat16x16<f32, C>>(&sc[T], BM);
    var c10 = coopLoadT<coop_mat16x16<f32, C>>(&sc[T * BM], BM);
    var c11 = coopLoadT<coop_mat16x16<f32, C>>(&sc[T * BM + T], BM);
    for (var k0 = 0u; k0 < p.k; k0 = k0 + T) {
        workgroupBarrier();
        for (var i = lane; i < BM * T; i = i + WG) {
            sa[i] = f16(load_a(aoff, row0 + i / T, k0 + i % T));
            sb[i] = f16(load_b(boff, k0 + i / BM, col0 + i % BM));
        }
        workgroupBarrier();
        let a0 = coopLoadT<coop_mat16x16<f16, A>>(&sa[0], T);
        let a1 = coopLoadT<coop_mat16x16<f16, A>>(&sa[T * T], T);
        let b0 = coopLoadT<coop_mat16x16<f16, B>>(&sb[0], BM);
        let b1 = coopLoadT<coop_mat16x16<f16, B>>(&sb[T], BM);
        c00 = coopMultiplyAdd(a0, b0, c00);
        c01 = coopMultiplyAdd(a0, b1, c01);
        c10 = coopMultiplyAdd(a1, b0, c10);
        c11 = coopMultiplyAdd(a1, b1, c11);
    }
    workgroupBarrier();
    coopStoreT(c00, &sc[0], BM);
    coopStoreT(c01, &sc[T], BM);
    coopStoreT(c10, &sc[T * BM], BM);
    coopStoreT(c11, &sc[T * BM + T], BM);
    workgroupBarrier();
    let coff = wid.z * p.m * p.n;
    for (var i = lane; i < BM * BM; i = i + WG) {
        let r = row0 + i / BM;
        let col = col0 + i % BM;
        if (r < p.m && col < p.n) {
            c[coff + r * p.n + col] = sc[i];
        }
    }
}
