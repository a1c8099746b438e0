//! 2-D pooling over [N, C, H, W]: max_pool2d (argmax saved for the gradient),
//! avg_pool2d (with or without count_include_pad) and global_avg_pool2d, with gather-style backward
//! kernels (no atomics).

use super::{alloc_like, storage};
use crate::autograd::{is_grad_enabled, make};
use crate::error::{Error, Result};
use crate::gpu::grid_1d;
use crate::gpu::Params;
use crate::tensor::{DType, Tensor};

/// Largest window (kh * kw) whose loops are unrolled through pipeline constants.
const MAX_UNROLL: usize = 49;

/// Geometry of one pooling call: input [planes, h, w] → output [planes, oh, ow].
#[derive(Debug, Clone, Copy)]
struct Geom {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    k: (usize, usize),
    s: (usize, usize),
    pad: (usize, usize),
}

impl Geom {
    fn new(
        op: &'static str,
        x: &Tensor,
        k: (usize, usize),
        s: (usize, usize),
        pad: (usize, usize),
    ) -> Result<Geom> {
        x.expect_dtype(op, DType::F32)?;
        let &[n, c, h, w] = x.shape() else {
            return Err(Error::Shape {
                op,
                detail: format!("expects x [N, C, H, W], got {:?}", x.shape()),
            });
        };
        if k.0 == 0 || k.1 == 0 || s.0 == 0 || s.1 == 0 {
            return Err(Error::Invalid(format!(
                "{op}: kernel {k:?} and stride {s:?} must be positive"
            )));
        }
        // PyTorch's rule; it also guarantees every window holds at least one real pixel.
        if 2 * pad.0 > k.0 || 2 * pad.1 > k.1 {
            return Err(Error::Invalid(format!(
                "{op}: padding {pad:?} must be at most half the kernel {k:?}"
            )));
        }
        let (ph, pw) = (h + 2 * pad.0, w + 2 * pad.1);
        if ph < k.0 || pw < k.1 {
            return Err(Error::Shape {
                op,
                detail: format!(
                    "kernel {k:?} larger than the padded input {:?} (padding {pad:?})",
                    x.shape()
                ),
            });
        }
        Ok(Geom {
            n,
            c,
            h,
            w,
            oh: (ph - k.0) / s.0 + 1,
            ow: (pw - k.1) / s.1 + 1,
            k,
            s,
            pad,
        })
    }

    fn out_shape(&self) -> Vec<usize> {
        vec![self.n, self.c, self.oh, self.ow]
    }
    fn in_shape(&self) -> Vec<usize> {
        vec![self.n, self.c, self.h, self.w]
    }

    /// Pipeline constants: the strides, and the window size when small enough to unroll
    /// (0 = from the params).
    fn window(&self) -> [(&'static str, f64); 4] {
        let (kh, kw) = if self.k.0 * self.k.1 <= MAX_UNROLL {
            self.k
        } else {
            (0, 0)
        };
        [
            ("KH", kh as f64),
            ("KW", kw as f64),
            ("SH", self.s.0 as f64),
            ("SW", self.s.1 as f64),
        ]
    }

    fn params(&self) -> Params {
        self.params_with(false)
    }

    /// `exclude_pad`: average pooling divides by the real pixels of each window.
    fn params_with(&self, exclude_pad: bool) -> Params {
        Params::new()
            .u32((self.n * self.c) as u32)
            .u32(self.h as u32)
            .u32(self.w as u32)
            .u32(self.oh as u32)
            .u32(self.ow as u32)
            .u32(self.k.0 as u32)
            .u32(self.k.1 as u32)
            .u32(self.pad.0 as u32)
            .u32(self.pad.1 as u32)
            .f32(1.0 / (self.k.0 * self.k.1) as f32)
            .u32(exclude_pad as u32)
    }
}

/// x [N, C, H, W]; PyTorch semantics, floor output size OH = (H + 2p − k)/s + 1; padding counts as −inf for max.
pub fn max_pool2d(
    x: &Tensor,
    kernel: (usize, usize),
    stride: (usize, usize),
    padding: (usize, usize),
) -> Result<Tensor> {
    let geo = Geom::new("max_pool2d", x, kernel, stride, padding)?;
    let ctx = x.ctx();
    let out = alloc_like(x, &geo.out_shape(), DType::F32)?;
    let n_out = out.numel() as u64;
    let p = geo.params();
    let want_arg = x.requires_grad() && is_grad_enabled();
    let arg = if want_arg {
        Some(alloc_like(x, &geo.out_shape(), DType::U32)?)
    } else {
        None
    };
    // DeepMerge's pool: four outputs per invocation from vec4 loads (which need the buffer
    // to hold whole vec4s; pooled buffers always do, below the binding-size cap).
    let k2s2 = geo.k == (2, 2) && geo.s == (2, 2) && geo.pad == (0, 0);
    if k2s2 && x.buffer().size().is_multiple_of(16) {
        let entry = if want_arg {
            "max_pool2d_k2s2_argmax"
        } else {
            "max_pool2d_k2s2"
        };
        let k = ctx.kernel("pool", entry, &[])?;
        let mut bufs = vec![out.buffer()];
        bufs.extend(arg.as_ref().map(|a| a.buffer()));
        bufs.push(x.buffer());
        let lanes = geo.n * geo.c * geo.oh * geo.ow.div_ceil(4);
        ctx.dispatch(&k, p.bytes(), &bufs, grid_1d(lanes as u64, 256))?;
    } else {
        let entry = if want_arg {
            "max_pool2d_argmax"
        } else {
            "max_pool2d"
        };
        let k = ctx.kernel("pool", entry, &geo.window())?;
        let mut bufs = vec![x.buffer(), out.buffer()];
        bufs.extend(arg.as_ref().map(|a| a.buffer()));
        ctx.dispatch(&k, p.bytes(), &bufs, grid_1d(n_out, 256))?;
    }
    Ok(make(
        storage(&out),
        geo.out_shape(),
        DType::F32,
        "max_pool2d",
        &[x],
        move |g| {
            let arg = arg
                .as_ref()
                .expect("argmax saved when a gradient is needed");
            Ok(vec![Some(pool_backward(
                "max_pool2d_backward",
                &geo,
                g,
                Some(arg),
                false,
            )?)])
        },
    ))
}

/// PyTorch avg_pool2d: with `count_include_pad` every window divides by kh·kw (padding
/// counts as zeros), without it by the number of real pixels it covers.
pub fn avg_pool2d(
    x: &Tensor,
    kernel: (usize, usize),
    stride: (usize, usize),
    padding: (usize, usize),
    count_include_pad: bool,
) -> Result<Tensor> {
    let geo = Geom::new("avg_pool2d", x, kernel, stride, padding)?;
    let ctx = x.ctx();
    let out = alloc_like(x, &geo.out_shape(), DType::F32)?;
    let k = ctx.kernel("pool", "avg_pool2d", &geo.window())?;
    let exclude = !count_include_pad;
    ctx.dispatch(
        &k,
        geo.params_with(exclude).bytes(),
        &[x.buffer(), out.buffer()],
        grid_1d(out.numel() as u64, 256),
    )?;
    Ok(make(
        storage(&out),
        geo.out_shape(),
        DType::F32,
        "avg_pool2d",
        &[x],
        move |g| {
            Ok(vec![Some(pool_backward(
                "avg_pool2d_backward",
                &geo,
                g,
                None,
                exclude,
            )?)])
        },
    ))
}

/// mean over H and W → [N, C].
pub fn global_avg_pool2d(x: &Tensor) -> Result<Tensor> {
    let &[n, c, h, w] = x.shape() else {
        return Err(Error::Shape {
            op: "global_avg_pool2d",
            detail: format!("expects x [N, C, H, W], got {:?}", x.shape()),
        });
    };
    // One window spanning the whole plane: the average pool's kernels and gradient.
    avg_pool2d(x, (h, w), (1, 1), (0, 0), true)?.reshape(&[n, c])
}

/// Input gradient of a pool: each input element gathers from the windows covering it.
fn pool_backward(
    entry: &'static str,
    geo: &Geom,
    g: &Tensor,
    arg: Option<&Tensor>,
    exclude_pad: bool,
) -> Result<Tensor> {
    let ctx = g.ctx();
    let gx = alloc_like(g, &geo.in_shape(), DType::F32)?;
    let k = ctx.kernel("pool", entry, &geo.window())?;
    let mut bufs = vec![g.buffer()];
    if let Some(a) = arg {
        bufs.push(a.buffer());
    }
    bufs.push(gx.buffer());
    ctx.dispatch(
        &k,
        geo.params_with(exclude_pad).bytes(),
        &bufs,
        grid_1d((geo.n * geo.c * geo.h * geo.w.div_ceil(4)) as u64, 256),
    )?;
    Ok(gx)
}
