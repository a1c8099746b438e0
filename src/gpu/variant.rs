//! Kernel variants: which of a family's kernels an adapter runs. Matmul and the
//! convolutions share one switch (their subgroup forms need the same 8-wide subgroups);
//! the fused kernel chains have another, and the row-window convolutions (a refinement
//! of the subgroup convolutions for DeepMerge's layers) a third.

use super::Context;

/// Kernel variant: subgroup-broadcast or register-blocked (CPU adapters), or
/// workgroup-tiled (GPUs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Subgroup,
    Register,
    Tiled,
}

impl Variant {
    /// `TIDAL_MATMUL=subgroup|register|tiled` overrides; otherwise CPU adapters use the
    /// subgroup kernel where they have 8-wide subgroups (lavapipe on AVX2: 2.5x the
    /// register kernel at 1024³), else the register kernel (shared-memory tiles with
    /// barriers measured several times slower on lavapipe), and GPUs the tiled one.
    /// A pinned `Subgroup` (see `set_variant`) on a device without 8-wide subgroups reads
    /// as `Register`, so every caller sees a variant the device can run.
    pub fn for_context(ctx: &Context) -> Variant {
        if let Some(v) = ctx.variant.get() {
            return match v {
                Variant::Subgroup if !subgroup_ok(ctx) => Variant::Register,
                v => v,
            };
        }
        let v = match std::env::var("TIDAL_MATMUL").ok().as_deref() {
            Some("subgroup") if subgroup_ok(ctx) => Variant::Subgroup,
            Some("register") => Variant::Register,
            Some("tiled") => Variant::Tiled,
            _ if ctx.is_cpu() && subgroup_ok(ctx) => Variant::Subgroup,
            _ if ctx.is_cpu() => Variant::Register,
            _ => Variant::Tiled,
        };
        ctx.variant.set(Some(v));
        v
    }
}

/// matmul_sg (matmul.wgsl) broadcasts within 8-lane subgroups, so it needs exactly that
/// size.
pub fn subgroup_ok(ctx: &Context) -> bool {
    ctx.device.features().contains(wgpu::Features::SUBGROUP)
        && ctx.info.subgroup_min_size == 8
        && ctx.info.subgroup_max_size == 8
}

/// Pins the variant for this context (tests run both on one adapter). The conv kernels
/// follow it too: `Subgroup` selects their subgroup forms.
pub fn set_variant(ctx: &Context, v: Variant) {
    ctx.variant.set(Some(v));
}

/// Back to the adapter's default variant.
pub fn reset_variant(ctx: &Context) {
    ctx.variant.set(None);
}

/// Whether the fused kernel chains run (batch norm + ReLU + 2×2 max pool as one forward
/// pass and a three-pass backward) or their unfused references, the separate ops. On
/// unless pinned off (`set_fused`, `Kernels::apply`: a run's config does).
pub fn fused(ctx: &Context) -> bool {
    ctx.fused.get().unwrap_or(true)
}

/// Pins the fused kernel chains on or off for this context.
pub fn set_fused(ctx: &Context, on: bool) {
    ctx.fused.set(Some(on));
}

/// Whether the row-window convolution kernels (`conv2d_fwd_row_sg` for kernels up to 5
/// wide, `conv2d_grad_weight_row_sg` for rows of 32 pixels or more; stride 1, dilation 1, and,
/// with the fused chains too, the eval-mode `conv2d_bn_relu_pool_eval` of DeepMerge's
/// blocks) run where the subgroup convolutions do. They round differently from the kernels they
/// replace, so they are a choice of their own: settings written before they existed
/// (`subgroup`, `subgroup+fused`) keep the kernels those runs used. On unless pinned off.
pub fn rows(ctx: &Context) -> bool {
    ctx.rows.get().unwrap_or(true)
}

/// Pins the row-window convolutions on or off for this context.
pub fn set_rows(ctx: &Context, on: bool) {
    ctx.rows.set(Some(on));
}

/// With the row-window kernels, whether the grad input of a stride-1 convolution runs as
/// the row forward over g with the flipped weights (`conv2d_flip`), the row-window weight
/// gradient from rows of 8 pixels (32 without), and long reductions with many outputs one
/// lane per output instead of the workgroup tree. All three round
/// differently from what they replace, so they are a choice of their own (`+flip`):
/// `subgroup+fused+rows` keeps the kernels it always meant. On unless pinned off.
pub fn flip(ctx: &Context) -> bool {
    ctx.flip.get().unwrap_or(true)
}

/// Pins the flipped grad input and lane-per-output reductions on or off for this context.
pub fn set_flip(ctx: &Context, on: bool) {
    ctx.flip.set(Some(on));
}

/// With the flipped grad input, whether the stride-1 3x3 forwards (and so the flipped grad
/// inputs of 3x3 layers) run as Winograd F(2x2, 3x3) (`conv2d_fwd_wino_sg`): 16 multiplies
/// per 2x2 output tile and channel pair where the direct form takes 36. It rounds
/// differently, so it is a choice of its own (`+wino`). Off unless pinned on; the trial picks
/// it only where it times clearly faster than the row kernel (`tune::WINO_MARGIN`), which on
/// lavapipe it does not (README, "Winograd").
pub fn wino(ctx: &Context) -> bool {
    ctx.wino.get().unwrap_or(false)
}

/// Pins the Winograd forward on or off for this context.
pub fn set_wino(ctx: &Context, on: bool) {
    ctx.wino.set(Some(on));
}

/// Whether the row kernels take several rows per lane where they can: two output rows in
/// the forward (`conv2d_fwd_row_sg` with `ROWS` = 2), two or three kernel rows in the weight gradient
/// (`conv2d_grad_weight_row_sg` with `RP` > 1). They compute the one-row kernels' sums bit for bit, so
/// they are no choice of their own; the switch is for the tests that hold them to that.
pub fn row_pairs(ctx: &Context) -> bool {
    ctx.row_pairs.get()
}

/// Turns the multi-row kernels on (the default) or off for this context.
pub fn set_row_pairs(ctx: &Context, on: bool) {
    ctx.row_pairs.set(on);
}

/// The kernels a context runs: the matmul/conv family's variant, whether the fused
/// chains run, whether the row-window convolutions do and, with them, the flipped grad
/// input. Written `subgroup`, `register+fused`, `subgroup+fused+rows+flip`, ...
/// (`Display`, `parse`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kernels {
    pub matmul: Variant,
    pub fused: bool,
    pub rows: bool,
    pub flip: bool,
    pub wino: bool,
}

impl Kernels {
    /// What this context runs now.
    pub fn current(ctx: &Context) -> Kernels {
        let matmul = Variant::for_context(ctx);
        // Each refinement holds only on top of the one before it.
        let rows = rows(ctx) && matmul == Variant::Subgroup;
        let flip = flip(ctx) && rows;
        Kernels {
            matmul,
            fused: fused(ctx),
            rows,
            flip,
            wino: wino(ctx) && flip,
        }
    }

    /// Pins every family on this context (a subgroup variant the device cannot run reads
    /// as `register`, see `Variant::for_context`).
    pub fn apply(&self, ctx: &Context) {
        set_variant(ctx, self.matmul);
        set_fused(ctx, self.fused);
        set_rows(ctx, self.rows);
        set_flip(ctx, self.flip);
        set_wino(ctx, self.wino);
    }

    /// `<matmul>[+fused][+rows[+flip[+wino]]]`, the suffixes in that order; `+rows` only after
    /// `subgroup` (the row-window kernels are subgroup kernels), `+flip` only after `+rows`,
    /// `+wino` only after `+flip`.
    pub fn parse(s: &str) -> Option<Kernels> {
        let (s, wino) = match s.strip_suffix("+wino") {
            Some(n) => (n, true),
            None => (s, false),
        };
        let (s, flip) = match s.strip_suffix("+flip") {
            Some(n) => (n, true),
            None => (s, false),
        };
        let (s, rows) = match s.strip_suffix("+rows") {
            Some(n) => (n, true),
            None => (s, false),
        };
        let (name, fused) = match s.strip_suffix("+fused") {
            Some(n) => (n, true),
            None => (s, false),
        };
        let matmul = match name {
            "subgroup" => Variant::Subgroup,
            "register" => Variant::Register,
            "tiled" => Variant::Tiled,
            _ => return None,
        };
        if (rows && matmul != Variant::Subgroup) || (flip && !rows) || (wino && !flip) {
            return None;
        }
        Some(Kernels {
            matmul,
            fused,
            rows,
            flip,
            wino,
        })
    }
}

impl std::fmt::Display for Kernels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = match self.matmul {
            Variant::Subgroup => "subgroup",
            Variant::Register => "register",
            Variant::Tiled => "tiled",
        };
        let rows = self.rows && self.matmul == Variant::Subgroup;
        write!(
            f,
            "{m}{}{}{}{}",
            if self.fused { "+fused" } else { "" },
            if rows { "+rows" } else { "" },
            if rows && self.flip { "+flip" } else { "" },
            if rows && self.flip && self.wino {
                "+wino"
            } else {
                ""
            }
        )
    }
}

/// A config's `kernels` setting: resolved per adapter (`Auto`), the adapter's default
/// matmul variant with the separate ops (`Default`, what every run did before the setting
/// existed), or pinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelSetting {
    Auto,
    Default,
    Pinned(Kernels),
}

impl KernelSetting {
    pub fn parse(s: &str) -> Option<KernelSetting> {
        match s {
            "auto" => Some(KernelSetting::Auto),
            "default" => Some(KernelSetting::Default),
            _ => Kernels::parse(s).map(KernelSetting::Pinned),
        }
    }
}

/// The kernels a run trains with, as recorded in its summary: the matmul/conv variant,
/// `+fused` when the fused chains run (runs recorded without it used the separate ops),
/// `+rows` when the row-window convolutions do and `+flip` when the flipped grad input does.
pub fn describe(ctx: &Context) -> String {
    let v = Variant::for_context(ctx);
    let rows = v == Variant::Subgroup && rows(ctx);
    format!(
        "{v:?}{}{}{}{}",
        if fused(ctx) { "+fused" } else { "" },
        if rows { "+rows" } else { "" },
        if rows && flip(ctx) { "+flip" } else { "" },
        if rows && flip(ctx) && wino(ctx) {
            "+wino"
        } else {
            ""
        }
    )
}
