//! Timing on the device: GPU timestamp queries (benchmarks) and the `TIDAL_PROFILE`
//! per-kernel table.

use super::Context;
use crate::error::Result;

impl Context {
    /// The `TIDAL_PROFILE` table: kernels by total time, with dispatches and share.
    pub fn profile_report(&self) -> Option<String> {
        let p = self.profile.as_ref()?.borrow();
        let total: f64 = p.values().map(|v| v.1).sum();
        let mut rows: Vec<_> = p.iter().collect();
        rows.sort_by(|a, b| b.1 .1.total_cmp(&a.1 .1));
        let mut out = format!(
            "TIDAL_PROFILE: {:.3} s in {} kernels (each dispatch waited for alone)\n",
            total,
            rows.len()
        );
        for (label, (n, secs)) in rows {
            out += &format!(
                "{:>9.1} ms {:>5.1}% {:>7} x  {label}\n",
                secs * 1e3,
                100.0 * secs / total.max(1e-12),
                n
            );
        }
        Some(out)
    }

    /// True when GPU timestamps can be written between recorded commands.
    pub fn has_timestamps(&self) -> bool {
        self.device.features().contains(
            wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS,
        )
    }

    /// Records a GPU timestamp into `set[index]` after the work recorded so far (ends the
    /// open compute pass). Needs `has_timestamps()`.
    pub fn write_timestamp(&self, set: &wgpu::QuerySet, index: u32) {
        self.encoder(&mut self.rec.borrow_mut())
            .write_timestamp(set, index);
    }

    /// Resolves and reads back the first `count` timestamps of `set`, in ticks of
    /// `timestamp_period()` nanoseconds (subtract as integers first: absolute ticks exceed
    /// f64's exact range).
    pub fn read_timestamps(&self, set: &wgpu::QuerySet, count: u32) -> Result<Vec<u64>> {
        let bytes = count as u64 * 8;
        let resolved = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("tidal.timestamps"),
            size: bytes,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        self.encoder(&mut self.rec.borrow_mut())
            .resolve_query_set(set, 0..count, &resolved, 0);
        let raw = self.read_many(&[(&resolved, bytes)])?;
        Ok(raw[0]
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect())
    }

    /// Nanoseconds per timestamp tick.
    pub fn timestamp_period(&self) -> f64 {
        self.queue.get_timestamp_period() as f64
    }
}
