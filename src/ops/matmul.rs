//! Matrix multiply with transposed operands and batching, and its gradient rule.
//!
//! `matmul_t(a, b, ta, tb)` computes op(a) · op(b) with op = transpose when the flag is
//! set; both operands are read through strides, so transposes cost nothing.

use super::{alloc_like, same_ctx, storage};
use crate::autograd::make;
use crate::error::{Error, Result};
use crate::gpu::{Context, Params, Variant};
use crate::tensor::{DType, Tensor};

/// Dispatches C[batch, m, n] = op(A) · op(B) into `c` (raw: no tape).
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm(
    ctx: &Context,
    a: &wgpu::Buffer,
    b: &wgpu::Buffer,
    c: &wgpu::Buffer,
    (batch, m, n, k): (usize, usize, usize, usize),
    (ta, tb): (bool, bool),
    (a_bs, b_bs): (usize, usize),
) -> Result<()> {
    if m == 0 || n == 0 || batch == 0 {
        return Ok(());
    }
    let (a_rs, a_cs) = if ta { (1, m) } else { (k, 1) };
    let (b_rs, b_cs) = if tb { (1, k) } else { (n, 1) };
    let p = Params::new()
        .u32(m as u32)
        .u32(n as u32)
        .u32(k as u32)
        .u32(batch as u32)
        .u32(a_rs as u32)
        .u32(a_cs as u32)
        .u32(b_rs as u32)
        .u32(b_cs as u32)
        .u32(a_bs as u32)
        .u32(b_bs as u32)
        .u32(0)
        .u32(0);
    let variant = Variant::for_context(ctx);
    if n <= 4 {
        // Matrix-vector shapes: the blocked kernels would compute 64–256 columns per lane
        // group and keep one (a 450×2592 · 2592×1 product took 128 ms on lavapipe).
        let kernel = ctx.kernel("matmul", "matmul_skinny", &[])?;
        let groups = crate::gpu::grid_1d(m as u64, 1);
        return ctx.dispatch(
            &kernel,
            p.bytes(),
            &[a, b, c],
            [groups[0], groups[1], batch as u32],
        );
    }
    match variant {
        Variant::Subgroup => {
            // 32 rows x 8 columns per lane, 16 lanes per workgroup (matmul_sg in matmul.wgsl).
            let groups = [n.div_ceil(128) as u32, m.div_ceil(32) as u32, batch as u32];
            if !tb && n % 4 == 0 {
                let kernel = ctx.kernel("matmul", "matmul_sg", &[])?;
                ctx.dispatch(&kernel, p.bytes(), &[a, c, b], groups)
            } else {
                let kernel = ctx.kernel("matmul", "matmul_sg_any", &[])?;
                ctx.dispatch(&kernel, p.bytes(), &[a, b, c], groups)
            }
        }
        // vec4 loads of B need whole, aligned vec4 rows: N % 4 == 0, B untransposed.
        Variant::Register if !tb && n % 4 == 0 => {
            let kernel = ctx.kernel("matmul", "matmul_register", &[])?;
            let groups = [n.div_ceil(512) as u32, m.div_ceil(8) as u32, batch as u32];
            ctx.dispatch(&kernel, p.bytes(), &[a, c, b], groups)
        }
        // Transposed B reads vec4s along k instead: K % 4 == 0.
        Variant::Register if tb && k % 4 == 0 => {
            let kernel = ctx.kernel("matmul", "matmul_register_bt", &[])?;
            let groups = [n.div_ceil(512) as u32, m.div_ceil(8) as u32, batch as u32];
            ctx.dispatch(&kernel, p.bytes(), &[a, c, b], groups)
        }
        Variant::Register => {
            let kernel = ctx.kernel("matmul", "matmul_register_any", &[])?;
            let groups = [n.div_ceil(256) as u32, m.div_ceil(8) as u32, batch as u32];
            ctx.dispatch(&kernel, p.bytes(), &[a, b, c], groups)
        }
        Variant::Tiled => {
            let kernel = ctx.kernel("matmul", "matmul_tiled", &[])?;
            let groups = [n.div_ceil(64) as u32, m.div_ceil(64) as u32, batch as u32];
            ctx.dispatch(&kernel, p.bytes(), &[a, b, c], groups)
        }
    }
}

impl Tensor {
    /// a · b for a [.., m, k] and b [.., k, n]; b may be 2-D and shared over a's batch.
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        self.matmul_t(other, false, false)
    }

    /// op(a) · op(b), op = transpose of the last two axes where the flag is set.
    pub fn matmul_t(&self, other: &Tensor, ta: bool, tb: bool) -> Result<Tensor> {
        same_ctx("matmul", self, other)?;
        self.expect_dtype("matmul", DType::F32)?;
        other.expect_dtype("matmul", DType::F32)?;
        let bad = |why: &str| Error::Shape {
            op: "matmul",
            detail: format!(
                "{why}: a {:?}{} · b {:?}{}",
                self.shape(),
                if ta { "ᵀ" } else { "" },
                other.shape(),
                if tb { "ᵀ" } else { "" }
            ),
        };
        if self.dims() < 2 || other.dims() < 2 {
            return Err(bad("both operands need at least 2 dimensions"));
        }
        let (ad, bd) = (self.shape(), other.shape());
        let (ar, ac) = (ad[ad.len() - 2], ad[ad.len() - 1]);
        let (br, bc) = (bd[bd.len() - 2], bd[bd.len() - 1]);
        let (m, k) = if ta { (ac, ar) } else { (ar, ac) };
        let (k2, n) = if tb { (bc, br) } else { (br, bc) };
        if k != k2 {
            return Err(bad("inner dimensions differ"));
        }
        let a_batch: usize = ad[..ad.len() - 2].iter().product();
        let b_batch: usize = bd[..bd.len() - 2].iter().product();
        let (batch, out_prefix) = if bd.len() == 2 || ad[..ad.len() - 2] == bd[..bd.len() - 2] {
            (a_batch, ad[..ad.len() - 2].to_vec())
        } else if ad.len() == 2 {
            (b_batch, bd[..bd.len() - 2].to_vec())
        } else {
            return Err(bad("batch dimensions differ"));
        };
        let a_bs = if ad.len() == 2 { 0 } else { m * k };
        let b_bs = if bd.len() == 2 { 0 } else { k * n };
        let mut shape = out_prefix;
        shape.extend([m, n]);
        let out = alloc_like(self, &shape, DType::F32)?;
        gemm(
            self.ctx(),
            self.buffer(),
            other.buffer(),
            out.buffer(),
            (batch, m, n, k),
            (ta, tb),
            (a_bs, b_bs),
        )?;
        let (a, b) = (self.clone(), other.clone());
        Ok(make(
            storage(&out),
            shape,
            DType::F32,
            "matmul",
            &[self, other],
            move |g| {
                let (ad, bd) = (a.detach(), b.detach());
                // C = op(A) op(B): dop(A) = G op(B)ᵀ, dop(B) = op(A)ᵀ G, each written so the
                // result already has the stored (possibly transposed) layout.
                let ga = if a.requires_grad() {
                    let ga = if ta {
                        bd.matmul_t(g, tb, true)?
                    } else {
                        g.matmul_t(&bd, false, !tb)?
                    };
                    Some(super::elementwise::sum_to_shape(&ga, a.shape())?)
                } else {
                    None
                };
                let gb = if b.requires_grad() {
                    let gb = if tb {
                        g.matmul_t(&ad, true, ta)?
                    } else {
                        ad.matmul_t(g, !ta, false)?
                    };
                    Some(reduce_batch(&gb, b.shape())?)
                } else {
                    None
                };
                Ok(vec![ga, gb])
            },
        ))
    }
}

/// Sums a batched gradient over leading axes to match a 2-D (batch-shared) operand.
fn reduce_batch(g: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if g.shape() == shape {
        return Ok(g.clone());
    }
    let rows: usize = g.shape()[..g.dims() - 2].iter().product();
    let flat = g.reshape(&[rows, shape[0] * shape[1]])?;
    flat.sum_axis(0, false)?.reshape(shape)
}
