//! Size-class buffer pool: tensors take storage buffers from free lists and give them back
//! when dropped, so a training step allocates nothing once warm.

use super::Context;
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::rc::Rc;

/// Smallest class: tiny tensors (scalars, losses) share 256-byte buffers.
const MIN_CLASS: u64 = 256;

/// Rounds up to a class: powers of two split into quarters, so at most 25% is wasted.
pub(crate) fn size_class(bytes: u64) -> u64 {
    let b = bytes.max(MIN_CLASS);
    let p = 63 - (b - 1).leading_zeros() as u64; // 2^p < b <= 2^(p+1)
    let base = 1u64 << p;
    let quarter = (base / 4).max(1);
    b.div_ceil(quarter) * quarter
}

pub(crate) struct Pool {
    free: HashMap<u64, Vec<wgpu::Buffer>>,
    /// Released while work that may use them is recorded but not submitted.
    pending: Vec<(u64, wgpu::Buffer)>,
    max_binding: u64,
    memory: Memory,
}

/// Bytes of the pool's buffers: held by tensors now, the most held at once since the last
/// `reset_peak`, and created in all (the pool keeps what it creates).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    pub in_use: u64,
    pub peak: u64,
    pub allocated: u64,
}

impl Pool {
    pub fn new(max_binding: u64) -> Pool {
        Pool {
            free: HashMap::new(),
            pending: Vec::new(),
            max_binding,
            memory: Memory::default(),
        }
    }

    /// Returns (buffer, class, newly allocated?).
    pub fn take(&mut self, device: &wgpu::Device, bytes: u64) -> Result<(wgpu::Buffer, u64, bool)> {
        let class = size_class(bytes);
        if class > self.max_binding && bytes > self.max_binding {
            return Err(Error::BufferTooLarge {
                bytes,
                limit: self.max_binding,
            });
        }
        let class = class.min(self.max_binding.max(bytes));
        self.memory.in_use += class;
        self.memory.peak = self.memory.peak.max(self.memory.in_use);
        if let Some(b) = self.free.get_mut(&class).and_then(|v| v.pop()) {
            return Ok((b, class, false));
        }
        self.memory.allocated += class;
        let buf = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("tidal.tensor"),
            size: class,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Ok((buf, class, true))
    }

    pub fn release(&mut self, buf: wgpu::Buffer, class: u64, idle: bool) {
        self.memory.in_use = self.memory.in_use.saturating_sub(class);
        if idle {
            self.free.entry(class).or_default().push(buf);
        } else {
            self.pending.push((class, buf));
        }
    }

    pub fn memory(&self) -> Memory {
        self.memory
    }

    /// Starts a new high-water mark at what is held now.
    pub fn reset_peak(&mut self) {
        self.memory.peak = self.memory.in_use;
    }

    pub fn recycle(&mut self) {
        for (class, buf) in self.pending.drain(..) {
            self.free.entry(class).or_default().push(buf);
        }
    }
}

/// A pooled storage buffer; dropping it returns the buffer to its context's pool.
pub struct PooledBuffer {
    ctx: Rc<Context>,
    buf: Option<wgpu::Buffer>,
    class: u64,
}

impl PooledBuffer {
    pub(crate) fn new(ctx: Rc<Context>, buf: wgpu::Buffer, class: u64) -> PooledBuffer {
        PooledBuffer {
            ctx,
            buf: Some(buf),
            class,
        }
    }
    pub fn buffer(&self) -> &wgpu::Buffer {
        self.buf.as_ref().expect("buffer present until drop")
    }
    pub fn ctx(&self) -> &Rc<Context> {
        &self.ctx
    }
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        if let Some(b) = self.buf.take() {
            self.ctx.release(b, self.class);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::size_class;

    #[test]
    fn size_classes_round_up_by_at_most_a_quarter() {
        assert_eq!(size_class(1), 256);
        assert_eq!(size_class(256), 256);
        assert_eq!(size_class(257), 320);
        assert_eq!(size_class(1000), 1024);
        for b in [300u64, 4097, 100_000, 12_345_678] {
            let c = size_class(b);
            assert!(c >= b && (c as f64) <= b as f64 * 1.25 + 1.0, "{b} -> {c}");
        }
    }
}
