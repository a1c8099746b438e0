// Fused optimizer updates over one contiguous range of the flat parameter buffer (one
// parameter group: every parameter of the group, one dispatch). The optimizer gathers
// parameters and gradients into the flat buffers with copies, runs one dispatch per group
// and scatters the parameters back.
//
// Indexing: i = start + gid.x + gid.y * num_workgroups.x * 256 for i < start + len.
// Formulas follow PyTorch's torch.optim.Adam / AdamW / SGD exactly.

struct Params {
    start: u32,
    len: u32,
    lr: f32,
    weight_decay: f32,
    beta1: f32,        // Adam β1; SGD momentum
    beta2: f32,        // Adam β2; SGD dampening
    eps: f32,
    bc1: f32,          // Adam: 1 − β1^t
    bc2_sqrt: f32,     // Adam: sqrt(1 − β2^t)
    first_step: u32,   // SGD: 1 on the first step (momentum buffer starts as the gradient)
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> param: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read_write> vmax: array<f32>;

// 1: AdamW (decoupled weight decay), 0: Adam (L2 added to the gradient)
override DECOUPLED: u32 = 0u;
override AMSGRAD: u32 = 0u;
override NESTEROV: u32 = 0u;
// SGD with momentum (0: plain SGD, no buffer)
override MOMENTUM: u32 = 0u;

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 256u;
}

@compute @workgroup_size(256)
fn adam(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let j = index(gid, nwg);
    if (j >= p.len) { return; }
    let i = p.start + j;
    var w = param[i];
    var g = grad[i];
    if (DECOUPLED == 1u) {
        w = w * (1.0 - p.lr * p.weight_decay);
    } else {
        g = g + p.weight_decay * w;
    }
    let mi = p.beta1 * m[i] + (1.0 - p.beta1) * g;
    let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    var vh = vi;
    if (AMSGRAD == 1u) {
        vh = max(vmax[i], vi);
        vmax[i] = vh;
    }
    let denom = sqrt(vh) / p.bc2_sqrt + p.eps;
    param[i] = w - (p.lr / p.bc1) * (mi / denom);
}

@compute @workgroup_size(256)
fn sgd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let j = index(gid, nwg);
    if (j >= p.len) { return; }
    let i = p.start + j;
    let w = param[i];
    var g = grad[i] + p.weight_decay * w;
    if (MOMENTUM == 1u) {
        var b = g;
        if (p.first_step == 0u) {
            b = p.beta1 * m[i] + (1.0 - p.beta2) * g;
        }
        m[i] = b;
        if (NESTEROV == 1u) {
            g = g + p.beta1 * b;
        } else {
            g = b;
        }
    }
    param[i] = w - p.lr * g;
}
