//! The GPU runtime: adapter choice, device, buffer pool, pipeline cache, uniform ring,
//! command recording (one submission per step), bulk readback, kernel-variant choice
//! (`variant`), the per-dispatch parameter block (`params`), and GPU timestamps and
//! `TIDAL_PROFILE` (`profile`).

mod adapter;
pub mod coop;
mod params;
mod pipeline;
mod pool;
mod profile;
mod variant;

pub use adapter::{list_adapters, AdapterChoice, AdapterSummary};
pub use params::Params;
pub use pipeline::{enabled_capabilities, validate_wgsl, validate_wgsl_for, Kernel};
pub use pool::{Memory, PooledBuffer};
pub use variant::{
    describe, flip, fused, reset_variant, row_pairs, rows, set_flip, set_fused, set_row_pairs,
    set_rows, set_variant, set_wino, subgroup_ok, wino, KernelSetting, Kernels, Variant,
};

use crate::error::{Error, Result};
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// Largest parameter block a kernel may take through the uniform ring.
pub const PARAMS_BYTES: u64 = 256;
/// Uniform ring capacity in dispatches per submission; a fuller step is split.
const RING_SLOTS: u64 = 8192;

/// Counters a benchmark or test reads to check the data path (submits per step,
/// allocations after warm-up).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub submits: u64,
    pub dispatches: u64,
    pub buffer_allocations: u64,
    pub pipelines_built: u64,
}

pub(super) struct Recorder {
    encoder: Option<wgpu::CommandEncoder>,
    pass: Option<wgpu::ComputePass<'static>>,
    /// Parameter blocks of the dispatches recorded since the last submit, one ring slot each.
    ring_bytes: Vec<u8>,
}

impl Drop for Context {
    fn drop(&mut self) {
        if let Some(report) = self.profile_report() {
            eprint!("{report}");
        }
    }
}

/// One wgpu device and everything needed to run tidal's kernels on it.
pub struct Context {
    pub adapter: wgpu::Adapter,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    ring: wgpu::Buffer,
    ring_align: u64,
    rec: RefCell<Recorder>,
    pool: RefCell<pool::Pool>,
    pipelines: RefCell<pipeline::Cache>,
    stats: Cell<Stats>,
    /// Kernel variant chosen for this adapter (see `Variant`).
    pub(crate) variant: Cell<Option<Variant>>,
    /// Whether the fused kernel chains run (see `variant::fused`).
    pub(crate) fused: Cell<Option<bool>>,
    /// Whether the row-window convolution kernels run (see `variant::rows`).
    pub(crate) rows: Cell<Option<bool>>,
    /// Whether the flipped grad input and lane-per-output reductions run (`variant::flip`).
    pub(crate) flip: Cell<Option<bool>>,
    /// Whether the 3x3 forwards run as Winograd F(2x2, 3x3) (`variant::wino`).
    pub(crate) wino: Cell<Option<bool>>,
    /// Whether the row forward takes two output rows per lane (`variant::row_pairs`).
    pub(crate) row_pairs: Cell<bool>,
    /// With `TIDAL_PROFILE` set: (dispatches, seconds) per kernel label, each dispatch
    /// submitted and waited for on its own, printed when the context is dropped.
    profile: Option<RefCell<std::collections::BTreeMap<String, (u64, f64)>>>,
    /// `TIDAL_PROFILE=grid`: the table keys each kernel by its workgroup grid too, so the
    /// dispatches of one kernel on different shapes show apart.
    profile_grid: bool,
}

impl Context {
    /// Opens the adapter chosen by `choice` (CLI flags, else `TIDAL_ADAPTER` / `TIDAL_BACKEND`).
    pub fn new(choice: &AdapterChoice) -> Result<Rc<Context>> {
        let adapter = adapter::pick(choice)?;
        let info = adapter.get_info();
        // Ask for the adapter's real limits: the defaults cap storage bindings at 128 MiB.
        let limits = adapter.limits();
        // Timestamp queries only serve benchmarks; ask for them where the adapter has them.
        let mut features = adapter.features()
            & (wgpu::Features::TIMESTAMP_QUERY
                | wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS
                | wgpu::Features::SUBGROUP
                | wgpu::Features::SHADER_F16);
        // Cooperative matrices are experimental in wgpu: asked for only where the adapter
        // lists a configuration tidal has a kernel for (coop::pick).
        let coop = coop::pick(
            &coop::configs(&adapter),
            features.contains(wgpu::Features::SHADER_F16),
            true,
        )
        .is_some();
        if coop {
            features |= wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX;
        }
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("tidal"),
            required_features: features,
            required_limits: limits.clone(),
            // SAFETY: the only experimental feature requested is cooperative matrices, used
            // only by the matmul_coop kernels for configurations the adapter lists.
            experimental_features: if coop {
                unsafe { wgpu::ExperimentalFeatures::enabled() }
            } else {
                wgpu::ExperimentalFeatures::disabled()
            },
            ..Default::default()
        }))
        .map_err(|source| Error::RequestDevice {
            adapter: info.name.clone(),
            source,
        })?;
        let ring_align = (limits.min_uniform_buffer_offset_alignment as u64).max(PARAMS_BYTES);
        let ring = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("tidal.uniform_ring"),
            size: ring_align * RING_SLOTS,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let max_binding = limits.max_storage_buffer_binding_size;
        Ok(Rc::new(Context {
            adapter,
            device,
            queue,
            info,
            limits,
            ring,
            ring_align,
            rec: RefCell::new(Recorder {
                encoder: None,
                pass: None,
                ring_bytes: Vec::new(),
            }),
            pool: RefCell::new(pool::Pool::new(max_binding)),
            pipelines: RefCell::new(pipeline::Cache::default()),
            stats: Cell::new(Stats::default()),
            variant: Cell::new(None),
            fused: Cell::new(None),
            rows: Cell::new(None),
            flip: Cell::new(None),
            wino: Cell::new(None),
            row_pairs: Cell::new(true),
            profile: std::env::var("TIDAL_PROFILE")
                .is_ok_and(|v| !v.is_empty() && v != "0")
                .then(RefCell::default),
            profile_grid: std::env::var("TIDAL_PROFILE").is_ok_and(|v| v == "grid"),
        }))
    }

    /// Opens the adapter named by the environment (or the default choice).
    pub fn from_env() -> Result<Rc<Context>> {
        Context::new(&AdapterChoice::from_env())
    }

    pub fn stats(&self) -> Stats {
        self.stats.get()
    }

    /// The matmul/conv variant pinned on (or already chosen for) this context, if any.
    pub fn pinned_variant(&self) -> Option<Variant> {
        self.variant.get()
    }

    /// The buffer pool's bytes in use, high-water mark and total (see `Memory`).
    pub fn memory(&self) -> Memory {
        self.pool.borrow().memory()
    }

    /// Starts a new high-water mark of the pool's bytes in use (per bench case).
    pub fn reset_memory_peak(&self) {
        self.pool.borrow_mut().reset_peak();
    }

    fn bump(&self, f: impl FnOnce(&mut Stats)) {
        let mut s = self.stats.get();
        f(&mut s);
        self.stats.set(s);
    }

    /// True when the adapter is a CPU (lavapipe, SwiftShader, WARP).
    pub fn is_cpu(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// A storage buffer of at least `bytes` bytes from the pool.
    pub fn alloc(self: &Rc<Self>, bytes: u64) -> Result<PooledBuffer> {
        let (buf, class, fresh) = self.pool.borrow_mut().take(&self.device, bytes)?;
        if fresh {
            self.bump(|s| s.buffer_allocations += 1);
        }
        Ok(PooledBuffer::new(self.clone(), buf, class))
    }

    pub(crate) fn release(&self, buf: wgpu::Buffer, class: u64) {
        // With nothing recorded, no unsubmitted work can reference the buffer: reuse it now.
        let idle = self
            .rec
            .try_borrow()
            .map(|r| r.encoder.is_none())
            .unwrap_or(false);
        self.pool.borrow_mut().release(buf, class, idle);
    }

    /// Looks up (or builds once) the pipeline for `shader`'s `entry` with override `constants`.
    pub fn kernel(
        &self,
        shader: &'static str,
        entry: &'static str,
        constants: &[(&'static str, f64)],
    ) -> Result<Rc<Kernel>> {
        let (k, built) = self
            .pipelines
            .borrow_mut()
            .get(&self.device, shader, entry, constants)?;
        if built {
            self.bump(|s| s.pipelines_built += 1);
        }
        Ok(k)
    }

    /// Records one dispatch of `kernel` into the step's compute pass. `buffers` bind, in
    /// ascending binding order, the storage bindings that the entry point uses; `params`
    /// goes to binding 0 through the uniform ring.
    pub fn dispatch(
        &self,
        kernel: &Kernel,
        params: &[u8],
        buffers: &[&wgpu::Buffer],
        groups: [u32; 3],
    ) -> Result<()> {
        if buffers.len() != kernel.storage_bindings.len() {
            return Err(Error::Invalid(format!(
                "kernel {}::{} binds {} storage buffers, {} given",
                kernel.shader,
                kernel.entry,
                kernel.storage_bindings.len(),
                buffers.len()
            )));
        }
        assert!(
            params.len() as u64 <= PARAMS_BYTES,
            "params block too large"
        );
        let max = self.limits.max_compute_workgroups_per_dimension;
        if groups.iter().any(|&g| g > max) {
            return Err(Error::Invalid(format!(
                "kernel {}::{}: dispatch {:?} exceeds max_compute_workgroups_per_dimension {max}",
                kernel.shader, kernel.entry, groups
            )));
        }
        if groups.contains(&0) {
            return Ok(());
        }
        let mut rec = self.rec.borrow_mut();
        if rec.ring_bytes.len() as u64 >= self.ring_align * RING_SLOTS {
            drop(rec);
            self.submit();
            rec = self.rec.borrow_mut();
        }
        let offset = rec.ring_bytes.len() as u64;
        rec.ring_bytes.extend_from_slice(params);
        rec.ring_bytes
            .resize((offset + self.ring_align) as usize, 0);

        let mut entries = Vec::with_capacity(buffers.len() + 1);
        if kernel.uses_params {
            entries.push(wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &self.ring,
                    offset: 0,
                    size: wgpu::BufferSize::new(PARAMS_BYTES),
                }),
            });
        }
        for (b, &binding) in buffers.iter().zip(&kernel.storage_bindings) {
            entries.push(wgpu::BindGroupEntry {
                binding,
                resource: b.as_entire_binding(),
            });
        }
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(kernel.label.as_str()),
            layout: &kernel.layout,
            entries: &entries,
        });
        let pass = self.pass(&mut rec);
        pass.set_pipeline(&kernel.pipeline);
        let offsets: &[u32] = if kernel.uses_params {
            &[offset as u32]
        } else {
            &[]
        };
        pass.set_bind_group(0, &bind_group, offsets);
        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
        drop(rec);
        self.bump(|s| s.dispatches += 1);
        if let Some(profile) = &self.profile {
            // Serialises the step (one submit per dispatch): for finding where time goes,
            // not for measuring totals.
            let t = std::time::Instant::now();
            self.sync()?;
            let mut p = profile.borrow_mut();
            let key = if self.profile_grid {
                format!("{} grid {:?}", kernel.label, groups)
            } else {
                kernel.label.clone()
            };
            let e = p.entry(key).or_default();
            e.0 += 1;
            e.1 += t.elapsed().as_secs_f64();
        }
        Ok(())
    }

    /// The step's command encoder with no compute pass open (copies and queries go here).
    pub(super) fn encoder<'a>(&self, rec: &'a mut Recorder) -> &'a mut wgpu::CommandEncoder {
        rec.pass = None;
        rec.encoder.get_or_insert_with(|| {
            self.device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("tidal.step"),
                })
        })
    }

    fn pass<'a>(&self, rec: &'a mut Recorder) -> &'a mut wgpu::ComputePass<'static> {
        if rec.pass.is_none() {
            let pass = self
                .encoder(rec)
                .begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("tidal.step"),
                    timestamp_writes: None,
                })
                .forget_lifetime();
            rec.pass = Some(pass);
        }
        rec.pass.as_mut().unwrap()
    }

    /// Records a buffer-to-buffer copy (ends the open compute pass; the next dispatch opens another).
    pub fn copy(
        &self,
        src: &wgpu::Buffer,
        src_off: u64,
        dst: &wgpu::Buffer,
        dst_off: u64,
        bytes: u64,
    ) {
        if bytes == 0 {
            return;
        }
        self.encoder(&mut self.rec.borrow_mut())
            .copy_buffer_to_buffer(src, src_off, dst, dst_off, bytes);
    }

    /// Uploads bytes into a buffer. The write lands before any work recorded but not yet
    /// submitted, so recorded work is flushed first to keep program order.
    pub fn upload(&self, dst: &wgpu::Buffer, offset: u64, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if self.has_pending() {
            self.submit();
        }
        self.queue.write_buffer(dst, offset, bytes);
    }

    /// Uploads into a buffer that no recorded command has touched yet (fresh from the
    /// pool, which recycles buffers only at submit), so no flush is needed.
    pub(crate) fn upload_fresh(&self, dst: &wgpu::Buffer, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.queue.write_buffer(dst, 0, bytes);
        }
    }

    pub fn has_pending(&self) -> bool {
        self.rec.borrow().encoder.is_some()
    }

    /// Submits everything recorded since the last submit as one command buffer.
    pub fn submit(&self) {
        let mut rec = self.rec.borrow_mut();
        rec.pass = None;
        let Some(enc) = rec.encoder.take() else {
            return;
        };
        if !rec.ring_bytes.is_empty() {
            self.queue.write_buffer(&self.ring, 0, &rec.ring_bytes);
            rec.ring_bytes.clear();
        }
        drop(rec);
        self.queue.submit(Some(enc.finish()));
        // Buffers dropped while recording were still referenced by that work: they become
        // reusable only now, so an upload never overwrites data a pending kernel still reads.
        self.pool.borrow_mut().recycle();
        self.bump(|s| s.submits += 1);
    }

    /// Submits pending work and waits for the device to finish it.
    pub fn sync(&self) -> Result<()> {
        self.submit();
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Readback(e.to_string()))?;
        Ok(())
    }

    /// Reads several buffer ranges back with one copy each into one staging buffer and a
    /// single map: the bulk readback used at logging intervals.
    pub fn read_many(&self, parts: &[(&wgpu::Buffer, u64)]) -> Result<Vec<Vec<u8>>> {
        let mut offsets = Vec::with_capacity(parts.len());
        let mut total = 0u64;
        for &(_, bytes) in parts {
            offsets.push(total);
            total += bytes.div_ceil(8) * 8;
        }
        if total == 0 {
            return Ok(parts.iter().map(|_| Vec::new()).collect());
        }
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("tidal.readback"),
            size: total,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        for (&(buf, bytes), &off) in parts.iter().zip(&offsets) {
            self.copy(buf, 0, &staging, off, bytes.div_ceil(4) * 4);
        }
        self.submit();
        let slice = staging.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Readback(e.to_string()))?;
        rx.recv()
            .map_err(|e| Error::Readback(e.to_string()))?
            .map_err(|e| Error::Readback(e.to_string()))?;
        let out = {
            let view = slice
                .get_mapped_range()
                .map_err(|e| Error::Readback(format!("{e:?}")))?;
            parts
                .iter()
                .zip(&offsets)
                .map(|(&(_, bytes), &off)| view[off as usize..(off + bytes) as usize].to_vec())
                .collect()
        };
        staging.unmap();
        Ok(out)
    }
}

/// Workgroup counts covering `n` invocations of a 1-D kernel with `wg` lanes per group,
/// folded into y when x would exceed the 65535 per-dimension limit. Shaders recover the
/// linear index as `gid.x + gid.y * nwg.x * wg`.
pub fn grid_1d(n: u64, wg: u32) -> [u32; 3] {
    let groups = n.div_ceil(wg as u64).max(1);
    if groups <= 65535 {
        [groups as u32, 1, 1]
    } else {
        let y = groups.div_ceil(65535);
        [groups.div_ceil(y) as u32, y as u32, 1]
    }
}
