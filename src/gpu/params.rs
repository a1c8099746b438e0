//! The per-dispatch parameter block every kernel takes at binding 0 (through the uniform
//! ring).

/// Little-endian parameter block matching a WGSL uniform struct: 4-byte scalars, with
/// `align16` before `array<vec4<u32>, N>` members.
#[derive(Default, Clone)]
pub struct Params(Vec<u8>);

impl Params {
    pub fn new() -> Params {
        Params(Vec::with_capacity(64))
    }
    pub fn u32(mut self, v: u32) -> Params {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn f32(mut self, v: f32) -> Params {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn align16(mut self) -> Params {
        while !self.0.len().is_multiple_of(16) {
            self.0.push(0);
        }
        self
    }
    /// Eight u32 slots as `array<vec4<u32>, 2>` (unused slots zero).
    pub fn u32x8(mut self, vals: &[usize]) -> Params {
        assert!(vals.len() <= 8);
        self = self.align16();
        for i in 0..8 {
            self = self.u32(vals.get(i).copied().unwrap_or(0) as u32);
        }
        self
    }
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}
