//! Benchmarks shared by `cargo bench` (`benches/*.rs`) and `tidal bench`: timing (GPU
//! timestamps where the adapter has them, else wall-clock around a synchronised submit),
//! the adapter's measured FMA and copy peaks, the kernel and training-step suites, a printed
//! table, the JSON report described in DESIGN.md, and side-by-side comparison of reports.

pub mod compare;
mod report;
pub mod suites;

pub use report::{
    git_commit, system_info, AdapterReport, Case, Limits, Peak, Report, System, SCHEMA,
};

use crate::error::Result;
use crate::gpu::Params;
use crate::gpu::{grid_1d, Context};
use crate::tensor::Tensor;
use std::path::Path;
use std::rc::Rc;
use std::time::Instant;

/// What a case does per iteration, for throughput figures.
#[derive(Debug, Clone, Copy)]
pub enum Work {
    Flops(f64),
    Bytes(f64),
    Images(f64),
}

/// How a case is timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// GPU timestamps around the iterations when the adapter has them (kernels).
    Gpu,
    /// Wall-clock around a synchronised submit: what a user waits for, host-side recording
    /// included (training steps).
    Wall,
}

pub struct Bench {
    pub ctx: Rc<Context>,
    pub report: Report,
    /// Fewer samples, smaller peak kernels, a smaller ResNet batch.
    pub quick: bool,
    /// Only cases whose name contains this run.
    pub filter: Option<String>,
    progress: Option<indicatif::ProgressBar>,
    queries: Option<wgpu::QuerySet>,
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}

impl Bench {
    pub fn new(ctx: Rc<Context>, quick: bool) -> Bench {
        let i = &ctx.info;
        let l = &ctx.limits;
        let stamps = ctx.has_timestamps();
        let report = Report {
            schema: SCHEMA,
            tidal_version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: git_commit(),
            created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            system: system_info(),
            adapter: AdapterReport {
                name: i.name.clone(),
                vendor: i.vendor,
                backend: format!("{:?}", i.backend),
                device_type: format!("{:?}", i.device_type),
                driver: format!("{} {}", i.driver, i.driver_info).trim().to_string(),
                limits: Limits {
                    max_buffer_size: l.max_buffer_size,
                    max_storage_buffer_binding_size: l.max_storage_buffer_binding_size,
                    max_compute_workgroup_size_x: l.max_compute_workgroup_size_x,
                    max_compute_invocations_per_workgroup: l.max_compute_invocations_per_workgroup,
                    max_compute_workgroup_storage_size: l.max_compute_workgroup_storage_size,
                    max_compute_workgroups_per_dimension: l.max_compute_workgroups_per_dimension,
                },
                timestamp_queries: stamps,
            },
            kernels: crate::gpu::Kernels::current(&ctx).to_string(),
            timing: if stamps {
                "kernels: GPU timestamps before the first and after the last iteration of a \
                 sample (gaps between submissions included: tiny kernels measure launch \
                 cost); training steps: wall-clock around a synchronised submit; median of \
                 samples after warm-up"
            } else {
                "wall-clock around a synchronised submit (no timestamp queries on this \
                 adapter); median of samples after warm-up"
            }
            .into(),
            quick,
            peak: Peak::default(),
            cases: Vec::new(),
        };
        let queries = stamps.then(|| {
            ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("tidal.bench"),
                ty: wgpu::QueryType::Timestamp,
                count: 2,
            })
        });
        Bench {
            ctx,
            report,
            quick,
            filter: None,
            progress: None,
            queries,
        }
    }

    /// Shows a progress bar (cases run / expected); the table prints above it.
    pub fn show_progress(&mut self) {
        let pb = indicatif::ProgressBar::new(0);
        pb.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} cases {elapsed} {msg}")
                .expect("valid template"),
        );
        self.progress = Some(pb);
    }

    /// Adds `n` cases to the progress bar's expected total.
    pub fn expect(&self, n: usize) {
        if let Some(pb) = &self.progress {
            pb.inc_length(n as u64);
        }
    }

    pub fn finish_progress(&mut self) {
        if let Some(pb) = self.progress.take() {
            pb.finish_and_clear();
        }
    }

    /// Prints above the progress bar, if one is shown.
    pub fn println(&self, line: &str) {
        match &self.progress {
            // A hidden bar (output not a terminal) would swallow the line.
            Some(pb) if !pb.is_hidden() => pb.println(line),
            _ => println!("{line}"),
        }
    }

    /// True when `name` passes the filter.
    pub fn wants(&self, name: &str) -> bool {
        self.filter.as_deref().is_none_or(|f| name.contains(f))
    }

    /// Times `f` (which records GPU work): one warm-up call (pipelines are built there,
    /// outside the timed region) unless `warm`, one calibration call that sets iterations per
    /// sample, then samples of ~50 ms (20 ms quick) each, one submission per iteration.
    /// Returns seconds per iteration of each sample and the clock used.
    pub fn time(
        &self,
        clock: Clock,
        warm: bool,
        mut f: impl FnMut() -> Result<()>,
    ) -> Result<(Vec<f64>, &'static str)> {
        let ctx = &self.ctx;
        if !warm {
            f()?;
            ctx.sync()?;
        }
        let t = Instant::now();
        f()?;
        ctx.sync()?;
        let once = t.elapsed().as_secs_f64();
        let min_sample_s = if self.quick { 0.02 } else { 0.05 };
        // Slow cases (a ResNet step on a CPU) get fewer samples so a suite ends in time.
        let case_budget_s = if self.quick { 3.0 } else { 20.0 };
        let iters = ((min_sample_s / once.max(1e-7)).ceil() as usize).clamp(1, 1000);
        let max_samples = if self.quick { 3 } else { 7 };
        let samples = ((case_budget_s / (once * iters as f64)) as usize).clamp(1, max_samples);
        let stamps = self.queries.as_ref().filter(|_| clock == Clock::Gpu);
        let (mut gpu, mut wall) = (Vec::with_capacity(samples), Vec::with_capacity(samples));
        for _ in 0..samples {
            if let Some(q) = stamps {
                ctx.write_timestamp(q, 0);
            }
            let t = Instant::now();
            for _ in 0..iters {
                f()?;
                ctx.submit();
            }
            if let Some(q) = stamps {
                ctx.write_timestamp(q, 1);
            }
            ctx.sync()?;
            wall.push(t.elapsed().as_secs_f64() / iters as f64);
            if let Some(q) = stamps {
                let ts = ctx.read_timestamps(q, 2)?;
                let ticks = ts[1].wrapping_sub(ts[0]);
                gpu.push(ticks as f64 * ctx.timestamp_period() * 1e-9 / iters as f64);
            }
        }
        // Some drivers report zeros or go backwards: then the wall clock serves every
        // sample, so one case never mixes clocks.
        let gpu_ok = stamps.is_some() && gpu.iter().all(|&g| g > 0.0 && g < 1e3);
        let (out, used) = if gpu_ok {
            (gpu, "gpu-timestamp")
        } else {
            (wall, "wall-clock")
        };
        Ok((out, used))
    }

    /// Times and records one case (skipped when filtered out).
    pub fn case(
        &mut self,
        name: &str,
        shape: &[usize],
        work: Work,
        f: impl FnMut() -> Result<()>,
    ) -> Result<()> {
        self.case_with(name, shape, work, Clock::Gpu, false, f)
    }

    /// As `case`, choosing the clock, and skipping the warm-up call when the caller has
    /// already run `f` once.
    pub fn case_with(
        &mut self,
        name: &str,
        shape: &[usize],
        work: Work,
        clock: Clock,
        warm: bool,
        f: impl FnMut() -> Result<()>,
    ) -> Result<()> {
        if !self.wants(name) {
            if let Some(pb) = &self.progress {
                pb.set_length(pb.length().unwrap_or(1).saturating_sub(1));
            }
            return Ok(());
        }
        if let Some(pb) = &self.progress {
            pb.set_message(name.to_string());
        }
        self.ctx.reset_memory_peak();
        crate::host::reset_peak_rss();
        let (samples, timing) = self.time(clock, warm, f)?;
        let gpu_peak_bytes = Some(self.ctx.memory().peak);
        let peak_rss_bytes = crate::host::peak_rss_bytes();
        let med = median(&samples);
        let peak = self.report.peak;
        let (mut gflops, mut gbps, mut frac, mut ips) = (None, None, None, None);
        match work {
            Work::Flops(fl) => {
                let g = fl / med / 1e9;
                gflops = Some(g);
                frac = (peak.fma_gflops > 0.0).then(|| g / peak.fma_gflops);
            }
            Work::Bytes(b) => {
                let g = b / med / 1e9;
                gbps = Some(g);
                frac = (peak.copy_gbps > 0.0).then(|| g / peak.copy_gbps);
            }
            Work::Images(n) => ips = Some(n / med),
        }
        self.report.cases.push(Case {
            name: name.to_string(),
            shape: shape.to_vec(),
            median_s: med,
            samples_s: samples,
            gflops,
            gbps,
            peak_fraction: frac,
            images_per_s: ips,
            timing: timing.into(),
            gpu_peak_bytes,
            peak_rss_bytes,
            counters: Default::default(),
        });
        self.println(&format_row(self.report.cases.last().unwrap()));
        if let Some(pb) = &self.progress {
            pb.inc(1);
        }
        Ok(())
    }

    /// Attaches a counter to the most recent case.
    pub fn counter(&mut self, name: &str, value: f64) {
        if let Some(c) = self.report.cases.last_mut() {
            c.counters.insert(name.to_string(), value);
        }
    }

    fn last_case(&self, name: &str) -> Option<&Case> {
        self.report.cases.iter().rev().find(|c| c.name == name)
    }

    /// Measures the FMA and copy peaks of this adapter (run first: cases report fractions;
    /// never filtered out).
    pub fn measure_peaks(&mut self) -> Result<Peak> {
        let filter = self.filter.take();
        let r = self.peaks_inner();
        self.filter = filter;
        r
    }

    fn peaks_inner(&mut self) -> Result<Peak> {
        self.expect(2);
        let ctx = self.ctx.clone();
        // Enough lanes to fill a large GPU (an H100 runs ~260k threads at once).
        let lanes: usize = if ctx.is_cpu() { 256 * 256 } else { 1 << 20 };
        let iters: u32 = if self.quick { 512 } else { 2048 };
        let out = Tensor::empty(&ctx, &[lanes * 4], crate::DType::F32)?;
        let k = ctx.kernel("peak", "fma_peak", &[])?;
        let flops = lanes as f64 * iters as f64 * 8.0 * 4.0 * 2.0;
        let p = Params::new().u32(lanes as u32).u32(iters).u32(0).u32(0);
        self.case(
            "peak/fma",
            // Iterations per lane differ in quick mode; the rate does not, so the shape
            // (which comparisons match on) leaves them out.
            &[lanes],
            Work::Flops(flops),
            || ctx.dispatch(&k, p.bytes(), &[out.buffer()], grid_1d(lanes as u64, 256)),
        )?;
        let fma_gflops = self.last_case("peak/fma").and_then(|c| c.gflops).unwrap();
        // Copy: 32 MiB in, 32 MiB out (larger than any CPU cache on the CI class); 256 MiB
        // on a GPU, whose last-level cache is 50 MB or more.
        let bytes = if ctx.is_cpu() {
            32usize << 20
        } else {
            256 << 20
        };
        let n4 = bytes / 16;
        let src = Tensor::zeros(&ctx, &[n4 * 4])?;
        let dst = Tensor::empty(&ctx, &[n4 * 4], crate::DType::F32)?;
        let k = ctx.kernel("peak", "copy", &[])?;
        let p = Params::new().u32(n4 as u32).u32(0).u32(0).u32(0);
        self.case(
            "peak/copy",
            &[n4 * 4],
            Work::Bytes((n4 * 32) as f64),
            || {
                ctx.dispatch(
                    &k,
                    p.bytes(),
                    &[src.buffer(), dst.buffer()],
                    grid_1d(n4 as u64, 256),
                )
            },
        )?;
        let copy_gbps = self.last_case("peak/copy").and_then(|c| c.gbps).unwrap();
        self.report.peak = Peak {
            fma_gflops,
            copy_gbps,
        };
        // The peak rows themselves are fractions of themselves.
        for c in self
            .report
            .cases
            .iter_mut()
            .filter(|c| c.name.starts_with("peak/"))
        {
            c.peak_fraction = Some(1.0);
        }
        Ok(self.report.peak)
    }

    /// Writes the JSON report.
    pub fn write(&self, path: &Path) -> Result<()> {
        self.report.write(path)
    }
}

/// The adapter line and column heads of the results table.
pub fn header(report: &Report) -> String {
    let a = &report.adapter;
    format!(
        "adapter: {} ({}, {}) {}\nkernels: {}\ntiming: {}\n{:<34} {:<22} {:>11} {:>8} {:>15} {:>7} {:>10} {:>8} {:>8}",
        a.name,
        a.backend,
        a.device_type,
        a.driver,
        report.kernels,
        report.timing,
        "case",
        "shape",
        "median",
        "spread",
        "throughput",
        "% peak",
        "images/s",
        "GPU MB",
        "RSS MB"
    )
}

pub fn print_header(report: &Report) {
    println!("{}", header(report));
}

/// One table row: median, spread (max − min over median), throughput, % of peak, images/s.
pub fn format_row(c: &Case) -> String {
    let lo = c.samples_s.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = c.samples_s.iter().cloned().fold(0.0, f64::max);
    let spread = if c.median_s > 0.0 {
        (hi - lo) / c.median_s * 100.0
    } else {
        0.0
    };
    let thr = match (c.gflops, c.gbps) {
        (Some(g), _) => format!("{g:.2} GFLOP/s"),
        (_, Some(b)) => format!("{b:.2} GB/s"),
        _ => String::new(),
    };
    format!(
        "{:<34} {:<22} {:>9.3}ms {:>7.1}% {:>15} {:>7} {:>10} {:>8} {:>8}",
        c.name,
        format!("{:?}", c.shape),
        c.median_s * 1e3,
        spread,
        thr,
        c.peak_fraction
            .map(|f| format!("{:.1}", f * 100.0))
            .unwrap_or_default(),
        c.images_per_s
            .map(|v| format!("{v:.1}"))
            .unwrap_or_default(),
        mb(c.gpu_peak_bytes),
        mb(c.peak_rss_bytes),
    )
}

/// Bytes as MB for the table ("" when unknown).
fn mb(b: Option<u64>) -> String {
    b.map(|b| format!("{:.0}", b as f64 / 1e6))
        .unwrap_or_default()
}
