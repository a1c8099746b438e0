//! Elementwise ops: binary arithmetic with broadcasting (add, sub, mul, div), scalar ops
//! (scale, add_scalar, pow, clamp) and unary maths (exp, log, sqrt, square, relu, sigmoid,
//! tanh, neg). Gradient rules for unary ops run as one `unary_backward` kernel.

use super::{alloc_like, same_ctx, storage};
use crate::autograd::make;
use crate::error::{Error, Result};
use crate::gpu::Params;
use crate::gpu::{grid_1d, Context};
use crate::tensor::{DType, Tensor};

/// Unary op codes: the `OP` override constant of `elementwise::unary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Unary {
    Exp = 0,
    Log = 1,
    Sqrt = 2,
    Square = 3,
    Relu = 4,
    Sigmoid = 5,
    Tanh = 6,
    Neg = 7,
    Pow = 8,
    Clamp = 9,
    Scale = 10,
    AddScalar = 11,
    /// 1 where x ≥ p0, else 0 (a mask; no gradient).
    AtLeast = 12,
}

impl Unary {
    pub fn name(self) -> &'static str {
        match self {
            Unary::Exp => "exp",
            Unary::Log => "log",
            Unary::Sqrt => "sqrt",
            Unary::Square => "square",
            Unary::Relu => "relu",
            Unary::Sigmoid => "sigmoid",
            Unary::Tanh => "tanh",
            Unary::Neg => "neg",
            Unary::Pow => "pow",
            Unary::Clamp => "clamp",
            Unary::Scale => "scale",
            Unary::AddScalar => "add_scalar",
            Unary::AtLeast => "at_least",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Binary {
    Add = 0,
    Sub = 1,
    Mul = 2,
    Div = 3,
}

impl Binary {
    pub fn name(self) -> &'static str {
        match self {
            Binary::Add => "add",
            Binary::Sub => "sub",
            Binary::Mul => "mul",
            Binary::Div => "div",
        }
    }
}

/// The broadcast result shape of two shapes (NumPy rules), or None.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return None;
        };
    }
    Some(out)
}

/// Element strides of `shape` read as the broadcast `out` shape (0 on broadcast dims).
fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let off = out.len() - shape.len();
    let mut strides = vec![0; out.len()];
    let mut s = 1;
    for i in (0..shape.len()).rev() {
        strides[i + off] = if shape[i] == 1 { 0 } else { s };
        s *= shape[i];
    }
    strides
}

/// Merges adjacent output dims whose strides stay contiguous for both operands, so most
/// broadcasts fit the kernel's 8-dimension limit and walk fewer dims.
fn collapse(out: &[usize], sa: &[usize], sb: &[usize]) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let (mut o, mut a, mut b): (Vec<usize>, Vec<usize>, Vec<usize>) = (vec![], vec![], vec![]);
    for i in 0..out.len() {
        if out[i] == 1 {
            continue;
        }
        if let (Some(&lo), Some(&la), Some(&lb)) = (o.last(), a.last(), b.last()) {
            // dim i-1 (last kept) merges with i when stride_prev == stride_i * size_i.
            if la == sa[i] * out[i] && lb == sb[i] * out[i] {
                let k = o.len() - 1;
                o[k] = lo * out[i];
                a[k] = sa[i];
                b[k] = sb[i];
                continue;
            }
        }
        o.push(out[i]);
        a.push(sa[i]);
        b.push(sb[i]);
    }
    if o.is_empty() {
        return (vec![1], vec![0], vec![0]);
    }
    (o, a, b)
}

/// Records out = a OP b (the elementwise.wgsl op code) for operands read with element
/// strides `sa`, `sb` over `out_shape` (0 where broadcast). Same shapes and the
/// two-dimensional broadcasts (a row, column or scalar against a full operand) take the
/// four-wide kernels; other broadcasts the general one, which divides per dimension.
#[allow(clippy::too_many_arguments)]
pub(crate) fn dispatch_binary(
    ctx: &Context,
    op: u32,
    name: &'static str,
    [a, b]: [&Tensor; 2],
    out: &Tensor,
    out_shape: &[usize],
    sa: &[usize],
    sb: &[usize],
) -> Result<()> {
    let n = out.numel() as u64;
    let c = [("OP", op as f64)];
    let (o, sa, sb) = collapse(out_shape, sa, sb);
    let bufs = [a.buffer(), b.buffer(), out.buffer()];
    if o.len() == 1 && sa[0] == 1 && sb[0] == 1 {
        let (entry, lanes) = if n.is_multiple_of(4) {
            ("binary_same4", n / 4)
        } else {
            ("binary_same", n)
        };
        let k = ctx.kernel("elementwise", entry, &c)?;
        let p = Params::new().u32(n as u32).u32(0).f32(0.0).f32(0.0);
        return ctx.dispatch(&k, p.bytes(), &bufs, grid_1d(lanes, 256));
    }
    // As [rows, cols]: a 1-D broadcast is one row.
    let (rows, cols, ra, rb) = match (o.len(), &sa[..], &sb[..]) {
        (1, &[ca], &[cb]) => (1, o[0], [0, ca], [0, cb]),
        (2, &[a0, a1], &[b0, b1]) => (o[0], o[1], [a0, a1], [b0, b1]),
        _ => (0, 0, [0, 0], [0, 0]),
    };
    // Contiguous along the row with whole quads per row, or repeated along it.
    let quads = |s: [usize; 2]| (s[1] == 1 && s[0].is_multiple_of(4)) || s[1] == 0;
    let groups = (cols / 4).div_ceil(256);
    if rows > 0
        && rows <= 65535
        && groups <= 65535
        && cols.is_multiple_of(4)
        && quads(ra)
        && quads(rb)
    {
        let k = ctx.kernel("elementwise", "binary_rows4", &c)?;
        let p = Params::new()
            .u32(n as u32)
            .u32(2)
            .f32(0.0)
            .f32(0.0)
            .u32x8(&[rows, cols])
            .u32x8(&ra)
            .u32x8(&rb);
        return ctx.dispatch(
            &k,
            p.bytes(),
            &[a.buffer(), b.buffer(), a.buffer(), b.buffer(), out.buffer()],
            [groups as u32, rows as u32, 1],
        );
    }
    if o.len() > 8 {
        return Err(Error::Shape {
            op: name,
            detail: format!("broadcast over more than 8 dimensions: {out_shape:?}"),
        });
    }
    let k = ctx.kernel("elementwise", "binary", &c)?;
    let p = Params::new()
        .u32(n as u32)
        .u32(o.len() as u32)
        .f32(0.0)
        .f32(0.0)
        .u32x8(&o)
        .u32x8(&sa)
        .u32x8(&sb);
    ctx.dispatch(&k, p.bytes(), &bufs, grid_1d(n, 256))
}

/// Sums `g` (shaped like a broadcast result) down to `shape`, the gradient rule of broadcasting.
pub fn sum_to_shape(g: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if g.shape() == shape {
        return Ok(g.clone());
    }
    let off = g.dims() - shape.len();
    let mut t = g.clone();
    for i in 0..g.dims() {
        let target = if i >= off { shape[i - off] } else { 1 };
        if target == 1 && g.shape()[i] != 1 {
            t = t.sum_axis(i, true)?;
        }
    }
    t.reshape(shape)
}

impl Tensor {
    fn binary(&self, other: &Tensor, op: Binary) -> Result<Tensor> {
        same_ctx(op.name(), self, other)?;
        self.expect_dtype(op.name(), DType::F32)?;
        other.expect_dtype(op.name(), DType::F32)?;
        let out_shape =
            broadcast_shape(self.shape(), other.shape()).ok_or_else(|| Error::Shape {
                op: op.name(),
                detail: format!(
                    "cannot broadcast {:?} with {:?}",
                    self.shape(),
                    other.shape()
                ),
            })?;
        let ctx = self.ctx();
        let out = alloc_like(self, &out_shape, DType::F32)?;
        let sa = broadcast_strides(self.shape(), &out_shape);
        let sb = broadcast_strides(other.shape(), &out_shape);
        dispatch_binary(
            ctx,
            op as u32,
            op.name(),
            [self, other],
            &out,
            &out_shape,
            &sa,
            &sb,
        )?;
        let (a, b) = (self.clone(), other.clone());
        Ok(make(
            storage(&out),
            out_shape,
            DType::F32,
            op.name(),
            &[self, other],
            move |g| {
                let (ga, gb) = match op {
                    Binary::Add => (g.clone(), g.clone()),
                    Binary::Sub => (g.clone(), g.neg()?),
                    Binary::Mul => (g.mul(&b.detach())?, g.mul(&a.detach())?),
                    Binary::Div => {
                        let bd = b.detach();
                        let ga = g.div(&bd)?;
                        // d(a/b)/db = -a/b^2 = -(g*a/b)/b
                        let gb = ga.mul(&a.detach())?.div(&bd)?.neg()?;
                        (ga, gb)
                    }
                };
                let ga = if a.requires_grad() {
                    Some(sum_to_shape(&ga, a.shape())?)
                } else {
                    None
                };
                let gb = if b.requires_grad() {
                    Some(sum_to_shape(&gb, b.shape())?)
                } else {
                    None
                };
                Ok(vec![ga, gb])
            },
        ))
    }

    pub fn add(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, Binary::Add)
    }
    pub fn sub(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, Binary::Sub)
    }
    pub fn mul(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, Binary::Mul)
    }
    pub fn div(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, Binary::Div)
    }

    /// Applies unary op `op` with scalars p0, p1 (see `Unary`).
    pub fn unary(&self, op: Unary, p0: f32, p1: f32) -> Result<Tensor> {
        self.expect_dtype(op.name(), DType::F32)?;
        let ctx = self.ctx();
        let out = alloc_like(self, self.shape(), DType::F32)?;
        let n = out.numel() as u64;
        // Four elements per lane where they divide evenly (see unary4).
        let (entry, lanes) = if n.is_multiple_of(4) {
            ("unary4", n / 4)
        } else {
            ("unary", n)
        };
        let k = ctx.kernel("elementwise", entry, &[("OP", op as u32 as f64)])?;
        let p = Params::new().u32(n as u32).u32(0).f32(p0).f32(p1);
        ctx.dispatch(
            &k,
            p.bytes(),
            &[self.buffer(), out.buffer()],
            grid_1d(lanes, 256),
        )?;
        let x = self.clone();
        let y = out.detach();
        Ok(make(
            storage(&out),
            self.shape().to_vec(),
            DType::F32,
            op.name(),
            &[self],
            move |g| Ok(vec![Some(unary_backward(op, &x.detach(), &y, g, p0, p1)?)]),
        ))
    }

    /// In place: self += alpha * x, outside the tape (parameter updates).
    pub fn add_scaled_(&self, x: &Tensor, alpha: f32) -> Result<()> {
        same_ctx("add_scaled_", self, x)?;
        if self.shape() != x.shape() {
            return Err(Error::Shape {
                op: "add_scaled_",
                detail: format!("{:?} += {:?}", self.shape(), x.shape()),
            });
        }
        let ctx = self.ctx();
        let n = self.numel() as u64;
        let k = ctx.kernel("elementwise", "axpy", &[])?;
        let p = Params::new().u32(n as u32).u32(0).f32(alpha).f32(0.0);
        ctx.dispatch(&k, p.bytes(), &[x.buffer(), self.buffer()], grid_1d(n, 256))
    }

    pub fn exp(&self) -> Result<Tensor> {
        self.unary(Unary::Exp, 0.0, 0.0)
    }
    pub fn log(&self) -> Result<Tensor> {
        self.unary(Unary::Log, 0.0, 0.0)
    }
    pub fn sqrt(&self) -> Result<Tensor> {
        self.unary(Unary::Sqrt, 0.0, 0.0)
    }
    pub fn square(&self) -> Result<Tensor> {
        self.unary(Unary::Square, 0.0, 0.0)
    }
    pub fn relu(&self) -> Result<Tensor> {
        self.unary(Unary::Relu, 0.0, 0.0)
    }
    pub fn sigmoid(&self) -> Result<Tensor> {
        self.unary(Unary::Sigmoid, 0.0, 0.0)
    }
    pub fn tanh(&self) -> Result<Tensor> {
        self.unary(Unary::Tanh, 0.0, 0.0)
    }
    pub fn neg(&self) -> Result<Tensor> {
        self.unary(Unary::Neg, 0.0, 0.0)
    }
    /// x^e (integer exponents accept negative x, as in PyTorch).
    pub fn pow(&self, e: f32) -> Result<Tensor> {
        self.unary(Unary::Pow, e, 0.0)
    }
    pub fn clamp(&self, lo: f32, hi: f32) -> Result<Tensor> {
        self.unary(Unary::Clamp, lo, hi)
    }
    pub fn scale(&self, s: f32) -> Result<Tensor> {
        self.unary(Unary::Scale, s, 0.0)
    }
    pub fn add_scalar(&self, s: f32) -> Result<Tensor> {
        self.unary(Unary::AddScalar, s, 0.0)
    }
    /// 1.0 where x ≥ t, else 0.0; its gradient is 0.
    pub fn at_least(&self, t: f32) -> Result<Tensor> {
        self.unary(Unary::AtLeast, t, 0.0)
    }
}

/// dL/dx of a unary op from its input x, output y and upstream gradient g.
pub(crate) fn unary_backward(
    op: Unary,
    x: &Tensor,
    y: &Tensor,
    g: &Tensor,
    p0: f32,
    p1: f32,
) -> Result<Tensor> {
    let ctx = x.ctx();
    let out = alloc_like(x, x.shape(), DType::F32)?;
    let n = out.numel() as u64;
    let (entry, lanes) = if n.is_multiple_of(4) {
        ("unary_backward4", n / 4)
    } else {
        ("unary_backward", n)
    };
    let k = ctx.kernel("elementwise", entry, &[("OP", op as u32 as f64)])?;
    let p = Params::new().u32(n as u32).u32(0).f32(p0).f32(p1);
    ctx.dispatch(
        &k,
        p.bytes(),
        &[x.buffer(), y.buffer(), g.buffer(), out.buffer()],
        grid_1d(lanes, 256),
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_shapes_follow_numpy() {
        assert_eq!(broadcast_shape(&[3, 1, 5], &[4, 1]), Some(vec![3, 4, 5]));
        assert_eq!(broadcast_shape(&[2, 3], &[3]), Some(vec![2, 3]));
        assert_eq!(broadcast_shape(&[2, 3], &[2]), None);
        assert_eq!(broadcast_shape(&[], &[7]), Some(vec![7]));
    }

    #[test]
    fn collapse_merges_contiguous_dims() {
        let out = [2, 3, 4, 5];
        let sa = broadcast_strides(&[2, 3, 4, 5], &out);
        let sb = broadcast_strides(&[4, 5], &out);
        let (o, a, b) = collapse(&out, &sa, &sb);
        assert_eq!(o, vec![6, 20]);
        assert_eq!(a, vec![20, 1]);
        assert_eq!(b, vec![0, 1]);
    }
}
