//! Kernel variants: which of a family's kernels an adapter runs. Matmul and the
//! convolutions share one switch (their subgroup forms need the same 8-wide subgroups).

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
