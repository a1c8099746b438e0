//! 2-D convolution (NCHW, groups = 1): the forward kernel, an implicit GEMM with an optional
//! fused bias + ReLU epilogue, and its two backward kernels (grad input, grad weight). The
//! bias gradient reuses the reductions.

use super::elementwise::{unary_backward, Unary};
use super::{alloc_like, same_ctx, storage};
use crate::autograd::make;
use crate::error::{Error, Result};
use crate::gpu::grid_1d;
use crate::gpu::Params;
use crate::tensor::{DType, Tensor};

/// Stride, zero padding and dilation per spatial axis (height, width), and whether the
/// bias + ReLU epilogue is fused into the forward kernel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conv2dParams {
    pub stride: (usize, usize),
    pub padding: (usize, usize),
    pub dilation: (usize, usize),
    pub relu: bool,
}

impl Default for Conv2dParams {
    fn default() -> Self {
        Conv2dParams {
            stride: (1, 1),
            padding: (0, 0),
            dilation: (1, 1),
            relu: false,
        }
    }
}

/// Lanes the grad-weight partial-sum pass aims for: enough to keep every core's SIMD
/// lanes busy without making the partial buffer (and pass 2) large.
const GRAD_WEIGHT_LANES: usize = 8192;

/// Sizes of one convolution: x [n, c, h, w], w [o, c, kh, kw], y [n, o, oh, ow].
#[derive(Debug, Clone, Copy)]
struct Geom {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
}

impl Geom {
    fn new(op: &'static str, x: &[usize], w: &[usize], p: &Conv2dParams) -> Result<Geom> {
        let bad = |why: String| Error::Shape {
            op,
            detail: format!("{why}: x {x:?}, w {w:?}, {p:?}"),
        };
        if x.len() != 4 || w.len() != 4 {
            return Err(bad("x must be [N, C, H, W] and w [O, C, KH, KW]".into()));
        }
        if x[1] != w[1] {
            return Err(bad(format!("input channels differ ({} vs {})", x[1], w[1])));
        }
        let (sh, sw) = p.stride;
        let (dh, dw) = p.dilation;
        if sh == 0 || sw == 0 || dh == 0 || dw == 0 {
            return Err(bad("stride and dilation must be positive".into()));
        }
        if x.contains(&0) || w.contains(&0) {
            return Err(bad("empty dimension".into()));
        }
        let span_h = dh * (w[2] - 1) + 1;
        let span_w = dw * (w[3] - 1) + 1;
        let (ph_in, pw_in) = (x[2] + 2 * p.padding.0, x[3] + 2 * p.padding.1);
        if span_h > ph_in || span_w > pw_in {
            return Err(bad(format!(
                "dilated kernel {span_h}x{span_w} larger than padded input {ph_in}x{pw_in}"
            )));
        }
        Ok(Geom {
            n: x[0],
            c: x[1],
            h: x[2],
            w: x[3],
            o: w[0],
            kh: w[2],
            kw: w[3],
            oh: (ph_in - span_h) / sh + 1,
            ow: (pw_in - span_w) / sw + 1,
        })
    }

    fn x_shape(&self) -> [usize; 4] {
        [self.n, self.c, self.h, self.w]
    }
    fn w_shape(&self) -> [usize; 4] {
        [self.o, self.c, self.kh, self.kw]
    }
    fn y_shape(&self) -> [usize; 4] {
        [self.n, self.o, self.oh, self.ow]
    }

    /// The `Params` block of shaders/conv2d.wgsl.
    fn params(&self, p: &Conv2dParams, flags: u32, chunk: usize, splits: usize) -> Params {
        self.params_eps(p, flags, chunk, splits, 0.0)
    }

    /// `params` with the batch norm's epsilon (conv2d_fold_bn reads it).
    fn params_eps(
        &self,
        p: &Conv2dParams,
        flags: u32,
        chunk: usize,
        splits: usize,
        eps: f32,
    ) -> Params {
        Params::new()
            .u32(self.n as u32)
            .u32(self.c as u32)
            .u32(self.h as u32)
            .u32(self.w as u32)
            .u32(self.o as u32)
            .u32(self.oh as u32)
            .u32(self.ow as u32)
            .u32(p.padding.0 as u32)
            .u32(p.padding.1 as u32)
            .u32(flags)
            .u32(chunk as u32)
            .u32(splits as u32)
            .f32(eps)
    }

    /// Override constants: the kernel window, stride and dilation.
    fn constants(&self, p: &Conv2dParams) -> [(&'static str, f64); 6] {
        [
            ("KH", self.kh as f64),
            ("KW", self.kw as f64),
            ("SH", p.stride.0 as f64),
            ("SW", p.stride.1 as f64),
            ("DH", p.dilation.0 as f64),
            ("DW", p.dilation.1 as f64),
        ]
    }
}

/// Channels per lane (the `CB` override) in the register kernels: 4 where blocks of 8
/// would carry more padding.
fn channel_block(channels: usize) -> usize {
    if channels.div_ceil(4) * 4 < channels.div_ceil(8) * 8 {
        4
    } else {
        8
    }
}

/// Blocks of 8 channels per lane (the `CT` override) in the subgroup kernels: 1 or 2. 16
/// channels per lane measured best on lavapipe (DeepMerge conv3 forward 18.6 GFLOP/s
/// against 15.9 with 8, 14.3 with 32; the per-pixel state leaves less room for
/// accumulators than in matmul_sg).
fn subgroup_blocks(channels: usize) -> usize {
    channels.div_ceil(8).clamp(1, 2)
}

/// `subgroup_blocks` for the output channels, and the override constants of a subgroup
/// kernel whose lanes own 8 * CT output channels (the window constants plus `CT`).
fn output_channel_blocks(geo: &Geom, p: &Conv2dParams) -> (usize, Vec<(&'static str, f64)>) {
    let ct = subgroup_blocks(geo.o);
    let mut consts = geo.constants(p).to_vec();
    consts.push(("CT", ct as f64));
    (ct, consts)
}

/// Whether the conv kernels take their subgroup forms: they follow the matmul variant.
fn use_subgroups(ctx: &crate::gpu::Context) -> bool {
    crate::gpu::Variant::for_context(ctx) == crate::gpu::Variant::Subgroup
}

/// Looks up a forward or grad-input kernel, whose lanes own 8 pixels (flattened over
/// `pixels`) and a block of `channels`, and its grid (x folded into y, z over channel
/// blocks): the subgroup form `<entry>_sg` (8 * CT channels per lane) where the adapter
/// takes it, else `entry` (CB channels per lane). Returns whether it is the subgroup form,
/// whose bindings differ.
fn pixel_channel_kernel(
    ctx: &crate::gpu::Context,
    entries: [&'static str; 2],
    consts: [(&'static str, f64); 6],
    pixels: usize,
    channels: usize,
) -> Result<(std::rc::Rc<crate::gpu::Kernel>, [u32; 3], bool)> {
    let sg = use_subgroups(ctx);
    let (entry, name, block, per_lane) = if sg {
        let ct = subgroup_blocks(channels);
        (entries[1], "CT", ct, 8 * ct)
    } else {
        let cb = channel_block(channels);
        (entries[0], "CB", cb, cb)
    };
    let mut all = consts.to_vec();
    all.push((name, block as f64));
    let kernel = ctx.kernel("conv2d", entry, &all)?;
    let [gx, gy, _] = grid_1d(pixels.div_ceil(8) as u64, 64);
    Ok((kernel, [gx, gy, channels.div_ceil(per_lane) as u32], sg))
}

/// Whether the forward takes `conv2d_fwd_row_sg`: the row-window kernels on, a kernel at
/// most 5 wide (its window holds 8 + KW − 1 columns) and rows wide enough that padding each
/// to whole blocks of 8 pixels idles at most a quarter of the lanes. Measured on lavapipe
/// against conv2d_fwd_sg, three alternated pairs, once its taps were chained (one
/// assignment per accumulator per kernel row): DeepMerge conv1 (5x5) 1.45x, conv2 (3x3,
/// rows of 37) 1.1-1.5x, conv3 (rows of 18) 1.3x. ResNet's short rows fail the lane test.
fn row_forward_ok(ctx: &crate::gpu::Context, geo: &Geom, p: &Conv2dParams) -> bool {
    row_kernels(ctx, p) && geo.kw <= 5 && geo.ow.div_ceil(8) * 8 * 3 <= geo.ow * 4
}

/// Whether the grad weight takes `conv2d_grad_weight_row_sg`: the row-window kernels
/// on, stride 1, dilation 1, a kernel at most 5 wide and output rows of at least 32
/// pixels (the window is reloaded at every row start). Measured on lavapipe against
/// conv2d_grad_weight_sg: DeepMerge conv1 1.83x, conv2 (rows of 37) 1.21x, conv3 (18)
/// 0.99x, ResNet's 3x3 layers (10 and 3) 0.86-0.89x. Once both kernels took two pixels
/// per iteration the row kernel also won on rows of 18 (conv3, 1.14-1.18x) and 10 (ResNet's
/// layer 2, 1.07-1.12x), so `gpu::flip` takes it from rows of 8 (the shorter threshold
/// rounds differently, so it belongs to that choice; `+rows` alone keeps 32).
fn row_grad_weight_ok(ctx: &crate::gpu::Context, geo: &Geom, p: &Conv2dParams) -> bool {
    let min_row = if crate::gpu::flip(ctx) { 8 } else { 32 };
    row_kernels(ctx, p) && geo.kw <= 5 && geo.ow >= min_row
}

/// Kernel rows per lane for conv2d_grad_weight_row_sg (`RP`): of 1 to 3, the most that pad the
/// C * KH rows to whole subgroups with the fewest empty rows.
fn grad_weight_rows_per_lane(ckh: usize) -> usize {
    let waste = |rp: usize| ckh.div_ceil(8 * rp) * 8 * rp - ckh;
    (1..=3).rev().min_by_key(|&rp| waste(rp)).unwrap_or(1)
}

/// The row-window kernels are chosen (`gpu::rows`), run as subgroup kernels, and the
/// convolution has stride 1 and dilation 1 (one column of window per output pixel).
fn row_kernels(ctx: &crate::gpu::Context, p: &Conv2dParams) -> bool {
    crate::gpu::rows(ctx) && use_subgroups(ctx) && p.stride == (1, 1) && p.dilation == (1, 1)
}

/// Dispatches the forward of a layer that passes `row_forward_ok`: `conv2d_fwd_row_sg`, whose
/// lanes own 8 pixels of two output rows or one (rows padded to whole blocks of 8), or, where
/// `wino_forward_ok`, `conv2d_wino_weights` (U = G w G^T per channel pair, [O, C, 16]) and
/// `conv2d_fwd_wino_sg`, whose lanes own 2 rows x 8 columns (four 2x2 tiles).
fn forward_rows(
    x: &Tensor,
    w: &Tensor,
    b_buf: &wgpu::Buffer,
    out: &Tensor,
    geo: &Geom,
    p: &Conv2dParams,
    flags: u32,
) -> Result<()> {
    let ctx = x.ctx();
    // (kernel, output rows per lane, output channels per lane, transformed weights)
    let (k, rows, per_lane, u) = if wino_forward_ok(ctx, geo, p) {
        let u = alloc_like(w, &[geo.o * geo.c * 16], DType::F32)?;
        let kw = ctx.kernel("conv2d", "conv2d_wino_weights", &[])?;
        ctx.dispatch(
            &kw,
            geo.params(p, 0, 0, 0).bytes(),
            &[w.buffer(), u.buffer()],
            grid_1d((geo.o * geo.c) as u64, 256),
        )?;
        // 8 output channels per lane: with 16 (`CT` = 2, as conv2d_fwd_row_sg takes for
        // conv2 and conv3) it measured 5-10 % slower on lavapipe.
        let k = ctx.kernel("conv2d", "conv2d_fwd_wino_sg", &[])?;
        (k, 2, 8, Some(u))
    } else {
        let (ct, mut consts) = output_channel_blocks(geo, p);
        // Two output rows per lane where there are two and a lane has 8 channels: the input
        // rows under both are loaded once (the same sums, bit for bit; see the kernel for why
        // not with 16).
        let rows = if geo.oh >= 2 && ct == 1 && crate::gpu::row_pairs(ctx) {
            consts.push(("ROWS", 2.0));
            2
        } else {
            1
        };
        let k = ctx.kernel("conv2d", "conv2d_fwd_row_sg", &consts)?;
        (k, rows, 8 * ct, None)
    };
    let lanes = geo.n * geo.oh.div_ceil(rows) * geo.ow.div_ceil(8);
    let [gx, gy, _] = grid_1d(lanes as u64, 64);
    let grid = [gx, gy, geo.o.div_ceil(per_lane) as u32];
    let params = geo.params(p, flags, 0, 0);
    match &u {
        Some(u) => {
            let bufs = [x.buffer(), b_buf, out.buffer(), u.buffer()];
            ctx.dispatch(&k, params.bytes(), &bufs, grid)
        }
        None => {
            let bufs = [x.buffer(), w.buffer(), b_buf, out.buffer()];
            ctx.dispatch(&k, params.bytes(), &bufs, grid)
        }
    }
}

/// Whether a forward takes the Winograd F(2x2, 3x3) kernel `conv2d_fwd_wino_sg`: `+wino`
/// chosen (with `+flip`), a stride-1 3x3 kernel and rows that pass `row_forward_ok` (its
/// lanes own blocks of 8 columns as the row kernel's do).
fn wino_forward_ok(ctx: &crate::gpu::Context, geo: &Geom, p: &Conv2dParams) -> bool {
    crate::gpu::wino(ctx)
        && crate::gpu::flip(ctx)
        && geo.kh == 3
        && geo.kw == 3
        && row_forward_ok(ctx, geo, p)
}

/// The grad input of a stride-1, dilation-1 convolution as a forward one, so it runs on
/// the row kernel: g [N, O, OH, OW] convolved with w flipped in both spatial axes and its
/// channel axes swapped (`conv2d_flip`, [C, O, KH, KW]), padded by K − 1 − P. None where
/// the row kernels or `gpu::flip` are off, the padding is not below the kernel size, or the rows fail
/// `row_forward_ok`. Measured on lavapipe against conv2d_grad_input_sg: see README.
fn grad_input_rows(g: &Tensor, w: &Tensor, geo: &Geom, p: &Conv2dParams) -> Result<Option<Tensor>> {
    let ctx = g.ctx();
    let (ph, pw) = p.padding;
    if !row_kernels(ctx, p) || !crate::gpu::flip(ctx) || ph >= geo.kh || pw >= geo.kw {
        return Ok(None);
    }
    let tp = Conv2dParams {
        padding: (geo.kh - 1 - ph, geo.kw - 1 - pw),
        ..Conv2dParams::default()
    };
    let flipped = [geo.c, geo.o, geo.kh, geo.kw];
    let tgeo = Geom::new("conv2d_grad_input", g.shape(), &flipped, &tp)?;
    if !row_forward_ok(ctx, &tgeo, &tp) {
        return Ok(None);
    }
    let wf = alloc_like(w, &flipped, DType::F32)?;
    let k = ctx.kernel("conv2d", "conv2d_flip", &geo.constants(p))?;
    ctx.dispatch(
        &k,
        geo.params(p, 0, 0, 0).bytes(),
        &[w.buffer(), wf.buffer()],
        grid_1d(wf.numel() as u64, 256),
    )?;
    let out = alloc_like(g, &geo.x_shape(), DType::F32)?;
    // No bias: the kernel never reads its bias binding; wf stands in for it.
    forward_rows(g, &wf, wf.buffer(), &out, &tgeo, &tp, 0)?;
    Ok(Some(out))
}

/// w repacked by `conv2d_pack` for the forward (rows (c, ky, kx), columns o) or the grad
/// input kernel (rows (o, ky, kx), columns c), columns zero-padded to a multiple of 8.
fn pack_weights(w: &Tensor, geo: &Geom, p: &Conv2dParams, for_grad_input: bool) -> Result<Tensor> {
    let (rows, cols) = if for_grad_input {
        (geo.o, geo.c)
    } else {
        (geo.c, geo.o)
    };
    let len = rows * geo.kh * geo.kw * cols.div_ceil(8) * 8;
    let out = alloc_like(w, &[len], DType::F32)?;
    let ctx = w.ctx();
    let k = ctx.kernel("conv2d", "conv2d_pack", &geo.constants(p))?;
    ctx.dispatch(
        &k,
        geo.params(p, (for_grad_input as u32) << 2, 0, 0).bytes(),
        &[w.buffer(), out.buffer()],
        grid_1d(len as u64, 256),
    )?;
    Ok(out)
}

fn expect_shape(op: &'static str, what: &str, t: &Tensor, want: &[usize]) -> Result<()> {
    if t.shape() != want {
        return Err(Error::Shape {
            op,
            detail: format!("{what} has shape {:?}, expected {want:?}", t.shape()),
        });
    }
    Ok(())
}

/// x [N, C, H, W], w [O, C, KH, KW], bias [O] → [N, O, OH, OW] with PyTorch's output size
/// OH = (H + 2ph − dh(KH−1) − 1)/sh + 1 (floor). relu = fused bias+ReLU epilogue.
pub fn conv2d(x: &Tensor, w: &Tensor, bias: Option<&Tensor>, p: Conv2dParams) -> Result<Tensor> {
    const OP: &str = "conv2d";
    same_ctx(OP, x, w)?;
    x.expect_dtype(OP, DType::F32)?;
    w.expect_dtype(OP, DType::F32)?;
    let geo = Geom::new(OP, x.shape(), w.shape(), &p)?;
    if let Some(b) = bias {
        same_ctx(OP, x, b)?;
        b.expect_dtype(OP, DType::F32)?;
        expect_shape(OP, "bias", b, &[geo.o])?;
    }
    let shape = geo.y_shape().to_vec();
    let out = alloc_like(x, &shape, DType::F32)?;
    let flags = bias.is_some() as u32 | (p.relu as u32) << 1;
    let ctx = x.ctx();
    let pixels = geo.n * geo.oh * geo.ow;
    // Without a bias the kernel never reads its bias binding; w stands in for it.
    let b_buf = bias.map_or(w.buffer(), |b| b.buffer());
    let params = geo.params(&p, flags, 0, 0);
    if row_forward_ok(ctx, &geo, &p) {
        forward_rows(x, w, b_buf, &out, &geo, &p, flags)?;
    } else {
        let (k, grid, sg) = pixel_channel_kernel(
            ctx,
            ["conv2d_fwd", "conv2d_fwd_sg"],
            geo.constants(&p),
            pixels,
            geo.o,
        )?;
        if sg {
            // Reads w as it is; lanes share its values by broadcast.
            let bufs = [x.buffer(), w.buffer(), b_buf, out.buffer()];
            ctx.dispatch(&k, params.bytes(), &bufs, grid)?;
        } else {
            let packed = pack_weights(w, &geo, &p, false)?;
            let bufs = [x.buffer(), b_buf, out.buffer(), packed.buffer()];
            ctx.dispatch(&k, params.bytes(), &bufs, grid)?;
        }
    }

    let mut inputs = vec![x, w];
    inputs.extend(bias);
    let (xs, ws) = (x.clone(), w.clone());
    let bias_grad = bias.is_some_and(|b| b.requires_grad());
    // The raw output (no tape node) is kept only for the ReLU mask; holding it creates no
    // cycle through the tape.
    let y = p.relu.then(|| out.clone());
    Ok(make(
        storage(&out),
        shape,
        DType::F32,
        OP,
        &inputs,
        move |g| {
            let g = match &y {
                Some(y) => unary_backward(Unary::Relu, y, y, g, 0.0, 0.0)?,
                None => g.clone(),
            };
            let gx = if xs.requires_grad() {
                Some(conv2d_grad_input(&g, &ws.detach(), xs.shape(), p)?)
            } else {
                None
            };
            let gw = if ws.requires_grad() {
                Some(conv2d_grad_weight(&g, &xs.detach(), ws.shape(), p)?)
            } else {
                None
            };
            let mut grads = vec![gx, gw];
            if bias_grad {
                let (n, o) = (g.shape()[0], g.shape()[1]);
                let per_image = g.reshape(&[n, o, geo.oh * geo.ow])?.sum_axis(2, false)?;
                grads.push(Some(per_image.sum_axis(0, false)?));
            }
            Ok(grads)
        },
    ))
}

/// Gradient of conv2d with respect to x (shape `x_shape`) given the upstream gradient g
/// [N, O, OH, OW] (already masked when the ReLU is fused): the transposed convolution.
/// Has no gradient of its own. `p.relu` is ignored.
pub fn conv2d_grad_input(
    g: &Tensor,
    w: &Tensor,
    x_shape: &[usize],
    p: Conv2dParams,
) -> Result<Tensor> {
    const OP: &str = "conv2d_grad_input";
    same_ctx(OP, g, w)?;
    let geo = Geom::new(OP, x_shape, w.shape(), &p)?;
    expect_shape(OP, "g", g, &geo.y_shape())?;
    if let Some(out) = grad_input_rows(g, w, &geo, &p)? {
        return Ok(out);
    }
    let out = alloc_like(g, &geo.x_shape(), DType::F32)?;
    let ctx = g.ctx();
    let pixels = geo.n * geo.h * geo.w;
    let params = geo.params(&p, 0, 0, 0);
    let (k, grid, sg) = pixel_channel_kernel(
        ctx,
        ["conv2d_grad_input", "conv2d_grad_input_sg"],
        geo.constants(&p),
        pixels,
        geo.c,
    )?;
    if sg {
        ctx.dispatch(
            &k,
            params.bytes(),
            &[w.buffer(), g.buffer(), out.buffer()],
            grid,
        )?;
    } else {
        let packed = pack_weights(w, &geo, &p, true)?;
        let bufs = [g.buffer(), out.buffer(), packed.buffer()];
        ctx.dispatch(&k, params.bytes(), &bufs, grid)?;
    }
    Ok(out)
}

/// Gradient of conv2d with respect to w (shape `w_shape`) given x and the upstream
/// gradient g [N, O, OH, OW] (already masked when the ReLU is fused). Partial sums over
/// chunks of output pixels, then a fixed-order sum over the chunks. Has no gradient of its
/// own. `p.relu` is ignored.
pub fn conv2d_grad_weight(
    g: &Tensor,
    x: &Tensor,
    w_shape: &[usize],
    p: Conv2dParams,
) -> Result<Tensor> {
    const OP: &str = "conv2d_grad_weight";
    same_ctx(OP, g, x)?;
    let geo = Geom::new(OP, x.shape(), w_shape, &p)?;
    expect_shape(OP, "g", g, &geo.y_shape())?;
    let pixels = geo.n * geo.oh * geo.ow;
    let ckk = geo.c * geo.kh * geo.kw;
    let ctx = g.ctx();
    // Lanes per partial sum, and the kernel with its override constants. (The row kernel
    // dispatches fewer lanes where each takes several kernel rows: `lanes_rows`.)
    let mut lanes_rows = None;
    let (blocks, entry, consts) = if row_grad_weight_ok(ctx, &geo, &p) {
        // RP kernel rows (c, ky) x 8 * CT channels per lane; rows padded to whole
        // subgroups. The pixel chunks come from the count with one row per lane whatever
        // RP is, so the sums do not depend on it.
        let (ct, mut consts) = output_channel_blocks(&geo, &p);
        let ckh = geo.c * geo.kh;
        let blocks = geo.o.div_ceil(8 * ct) * ckh.div_ceil(8) * 8;
        let rp = if crate::gpu::row_pairs(ctx) {
            grad_weight_rows_per_lane(ckh)
        } else {
            1
        };
        if rp > 1 {
            consts.push(("RP", rp as f64));
        }
        lanes_rows = Some(geo.o.div_ceil(8 * ct) * ckh.div_ceil(8 * rp) * 8);
        (blocks, "conv2d_grad_weight_row_sg", consts)
    } else if use_subgroups(ctx) {
        // 4 entries x 8 * CT channels per lane; entry blocks padded to whole subgroups.
        let (ct, consts) = output_channel_blocks(&geo, &p);
        let blocks = geo.o.div_ceil(8 * ct) * ckk.div_ceil(4).div_ceil(8) * 8;
        (blocks, "conv2d_grad_weight_sg", consts)
    } else {
        let blocks = geo.o.div_ceil(8) * ckk.div_ceil(8);
        (blocks, "conv2d_grad_weight", geo.constants(&p).to_vec())
    };
    // Split the pixel sum only as far as needed to fill the lanes, keeping each chunk long
    // enough that the partial sums stay cheap to add up.
    let want = GRAD_WEIGHT_LANES
        .div_ceil(blocks)
        .clamp(1, pixels.div_ceil(64));
    let chunk = pixels.div_ceil(want);
    let splits = pixels.div_ceil(chunk);
    let part = alloc_like(g, &[splits, geo.o * ckk], DType::F32)?;
    let k = ctx.kernel("conv2d", entry, &consts)?;
    ctx.dispatch(
        &k,
        geo.params(&p, 0, chunk, splits).bytes(),
        &[x.buffer(), g.buffer(), part.buffer()],
        grid_1d((splits * lanes_rows.unwrap_or(blocks)) as u64, 64),
    )?;
    let w_shape = geo.w_shape();
    if splits == 1 {
        return part.reshape(&w_shape);
    }
    part.sum_axis(0, false)?.reshape(&w_shape)
}

/// Whether `conv2d_bn_relu_pool_eval` runs on this context and shape: the fused chains and
/// the row-window kernels chosen (`+fused+rows`), the subgroup kernels, stride 1, dilation
/// 1, no fused ReLU of the convolution's own, a kernel at most 5 wide and an output of at
/// least 2 x 2.
pub fn conv_bn_relu_pool_ok(
    ctx: &crate::gpu::Context,
    x: &[usize],
    w: &[usize],
    p: &Conv2dParams,
) -> bool {
    if !crate::gpu::fused(ctx) || !row_kernels(ctx, p) || p.relu {
        return false;
    }
    match Geom::new("conv2d_bn_relu_pool_eval", x, w, p) {
        Ok(g) => g.kw <= 5 && g.oh >= 2 && g.ow >= 2,
        Err(_) => false,
    }
}

/// Eval-mode `max_pool2d(relu(batch_norm(conv2d(x, w, bias))), 2, 2)`, batch norm from its
/// running statistics (the arguments and semantics of those ops), as two dispatches: one
/// folds the batch norm into the convolution's weights and bias (w' = a w, b' = a b + t with
/// a = γ/√(var + ε), t = β − mean · a; recomputed on every call, so it follows any change of
/// the weights or statistics), one convolves, adds the bias, rectifies and pools without
/// writing the convolution's output. No gradient (inference only): where one is wanted, or
/// `conv_bn_relu_pool_ok` says no, use the separate ops, which are its tested reference.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_bn_relu_pool_eval(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    p: Conv2dParams,
    gamma: &Tensor,
    beta: &Tensor,
    running_mean: &Tensor,
    running_var: &Tensor,
    eps: f32,
) -> Result<Tensor> {
    const OP: &str = "conv2d_bn_relu_pool_eval";
    same_ctx(OP, x, w)?;
    x.expect_dtype(OP, DType::F32)?;
    w.expect_dtype(OP, DType::F32)?;
    let ctx = x.ctx();
    if !conv_bn_relu_pool_ok(ctx, x.shape(), w.shape(), &p) {
        return Err(Error::Invalid(format!(
            "{OP}: not available for x {:?}, w {:?}, {p:?} with these kernels (see conv_bn_relu_pool_ok)",
            x.shape(),
            w.shape()
        )));
    }
    let geo = Geom::new(OP, x.shape(), w.shape(), &p)?;
    for (what, t) in [
        ("gamma", gamma),
        ("beta", beta),
        ("running_mean", running_mean),
        ("running_var", running_var),
    ]
    .into_iter()
    .chain(bias.map(|b| ("bias", b)))
    {
        same_ctx(OP, x, t)?;
        t.expect_dtype(OP, DType::F32)?;
        expect_shape(OP, what, t, &[geo.o])?;
    }
    let ckk = geo.c * geo.kh * geo.kw;
    let folded = alloc_like(w, &[geo.o * ckk + geo.o], DType::F32)?;
    let fold = ctx.kernel("conv2d", "conv2d_fold_bn", &geo.constants(&p))?;
    ctx.dispatch(
        &fold,
        geo.params_eps(&p, bias.is_some() as u32, 0, 0, eps).bytes(),
        &[
            w.buffer(),
            bias.map_or(w.buffer(), |b| b.buffer()),
            folded.buffer(),
            gamma.buffer(),
            beta.buffer(),
            running_mean.buffer(),
            running_var.buffer(),
        ],
        grid_1d((geo.o * ckk + geo.o) as u64, 256),
    )?;
    let (ph, pw) = (geo.oh / 2, geo.ow / 2);
    let out = alloc_like(x, &[geo.n, geo.o, ph, pw], DType::F32)?;
    let (ct, consts) = output_channel_blocks(&geo, &p);
    let k = ctx.kernel("conv2d", "conv2d_fwd_pool_sg", &consts)?;
    // Lanes own two neighbouring pooled pixels of a row.
    let lanes = geo.n * ph * pw.div_ceil(2);
    let [gx, gy, _] = grid_1d(lanes as u64, 64);
    ctx.dispatch(
        &k,
        geo.params(&p, 0, 0, 0).bytes(),
        &[x.buffer(), folded.buffer(), out.buffer()],
        [gx, gy, geo.o.div_ceil(8 * ct) as u32],
    )?;
    Ok(out)
}
