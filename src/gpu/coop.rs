//! Cooperative matrices (wgpu's experimental `EXPERIMENTAL_COOPERATIVE_MATRIX`; Vulkan
//! `VK_KHR_cooperative_matrix`): which configuration of the adapter's list the matmul may
//! use. A kernel is only ever dispatched for a configuration the adapter lists; the choice
//! here is pure so it is tested against made-up lists (no GPU in CI).

/// Element types of a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar {
    F16,
    F32,
    I32,
    U32,
}

/// One listed configuration: an M×K by K×N product accumulated into M×N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    pub m: u32,
    pub n: u32,
    pub k: u32,
    /// A and B's type, and the accumulator's (C and the result).
    pub ab: Scalar,
    pub cr: Scalar,
}

impl std::fmt::Display for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = |t: Scalar| match t {
            Scalar::F16 => "f16",
            Scalar::F32 => "f32",
            Scalar::I32 => "i32",
            Scalar::U32 => "u32",
        };
        write!(
            f,
            "{}x{}x{} {}->{}",
            self.m,
            self.n,
            self.k,
            s(self.ab),
            s(self.cr)
        )
    }
}

/// The tidal kernels that use cooperative matrices, one per configuration they are written
/// for (shaders/matmul_coop_*.wgsl): square tiles, f32 accumulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoopKernel {
    /// 16×16×16, f16 operands (converted from f32 while staging), f32 accumulator.
    F16x16,
    /// 8×8×8, f32 operands and accumulator.
    F32x8,
}

impl CoopKernel {
    pub fn config(self) -> Config {
        match self {
            CoopKernel::F16x16 => Config {
                m: 16,
                n: 16,
                k: 16,
                ab: Scalar::F16,
                cr: Scalar::F32,
            },
            CoopKernel::F32x8 => Config {
                m: 8,
                n: 8,
                k: 8,
                ab: Scalar::F32,
                cr: Scalar::F32,
            },
        }
    }

    /// The shader file (without `.wgsl`).
    pub fn shader(self) -> &'static str {
        match self {
            CoopKernel::F16x16 => "matmul_coop_f16",
            CoopKernel::F32x8 => "matmul_coop_f32",
        }
    }
}

/// The cooperative-matrix kernel for the requested precision, if the adapter lists its
/// exact configuration (and, for f16 operands, has SHADER_F16): `mixed` prefers f16
/// operands and falls back to f32 ones; `f32` only takes f32 operands.
pub fn pick(listed: &[Config], shader_f16: bool, mixed: bool) -> Option<CoopKernel> {
    let order: &[CoopKernel] = if mixed {
        &[CoopKernel::F16x16, CoopKernel::F32x8]
    } else {
        &[CoopKernel::F32x8]
    };
    order.iter().copied().find(|k| {
        let c = k.config();
        (c.ab != Scalar::F16 || shader_f16) && listed.contains(&c)
    })
}

/// The configurations an adapter lists (empty when it lacks the feature).
pub fn configs(a: &wgpu::Adapter) -> Vec<Config> {
    if !a
        .features()
        .contains(wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX)
    {
        return Vec::new();
    }
    let scalar = |t: wgpu::CooperativeScalarType| match t {
        wgpu::CooperativeScalarType::F16 => Scalar::F16,
        wgpu::CooperativeScalarType::F32 => Scalar::F32,
        wgpu::CooperativeScalarType::I32 => Scalar::I32,
        wgpu::CooperativeScalarType::U32 => Scalar::U32,
    };
    a.cooperative_matrix_properties()
        .iter()
        .map(|p| Config {
            m: p.m_size,
            n: p.n_size,
            k: p.k_size,
            ab: scalar(p.ab_type),
            cr: scalar(p.cr_type),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(m: u32, ab: Scalar, cr: Scalar) -> Config {
        Config {
            m,
            n: m,
            k: m,
            ab,
            cr,
        }
    }

    #[test]
    fn picks_only_listed_configurations() {
        use Scalar::*;
        // What NVIDIA's Vulkan driver typically lists (subgroup scope, 16x16x16).
        let nvidia = [cfg(16, F16, F16), cfg(16, F16, F32)];
        assert_eq!(pick(&nvidia, true, true), Some(CoopKernel::F16x16));
        assert_eq!(
            pick(&nvidia, false, true),
            None,
            "f16 operands need SHADER_F16"
        );
        assert_eq!(
            pick(&nvidia, true, false),
            None,
            "f32 precision: no f32 operands listed"
        );
        // An adapter with only 8x8 f32 (what wgpu's docs name) serves both precisions.
        let small = [cfg(8, F32, F32)];
        assert_eq!(pick(&small, true, true), Some(CoopKernel::F32x8));
        assert_eq!(pick(&small, true, false), Some(CoopKernel::F32x8));
        // Near misses are never taken: f16 accumulators, rectangular tiles, integers.
        let near = [
            cfg(16, F16, F16),
            Config {
                m: 16,
                n: 8,
                k: 16,
                ab: F16,
                cr: F32,
            },
            cfg(8, I32, I32),
        ];
        assert_eq!(pick(&near, true, true), None);
        assert_eq!(pick(&[], true, true), None);
    }

    #[test]
    fn configurations_print_as_info_shows_them() {
        assert_eq!(CoopKernel::F16x16.config().to_string(), "16x16x16 f16->f32");
    }
}
