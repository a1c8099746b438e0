//! Benchmarks shared by `cargo bench` (`benches/*.rs`) and `tidal bench`: timing (GPU
//! timestamps where the adapter has them, else wall-clock around a synchronised submit),
//! the adapter's measured FMA and copy peaks, the kernel and training-step suites, a printed
//! table, the JSON report described in DESIGN.md, and side-by-side comparison of reports.

pub mod compare;
pub mod suites;

use crate::error::{Error, Result};
use crate::gpu::{grid_1d, Context};
use crate::ops::Params;
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;
use std::time::Instant;

/// Version of the JSON report layout. 2 added git commit, timestamp, system, limits and
/// per-case timing; reports of version 1 still load (the new fields read as empty).
pub const SCHEMA: u32 = 2;

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Limits {
    pub max_buffer_size: u64,
    pub max_storage_buffer_binding_size: u64,
    pub max_compute_workgroup_size_x: u32,
    pub max_compute_invocations_per_workgroup: u32,
    pub max_compute_workgroup_storage_size: u32,
    pub max_compute_workgroups_per_dimension: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdapterReport {
    pub name: String,
    pub vendor: u32,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub timestamp_queries: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct System {
    pub os: String,
    pub kernel: String,
    pub arch: String,
    pub cpu: String,
    pub cpu_threads: usize,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default)]
pub struct Peak {
    pub fma_gflops: f64,
    pub copy_gbps: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Case {
    pub name: String,
    pub shape: Vec<usize>,
    pub median_s: f64,
    /// Every timing sample, seconds per iteration.
    pub samples_s: Vec<f64>,
    pub gflops: Option<f64>,
    pub gbps: Option<f64>,
    pub peak_fraction: Option<f64>,
    pub images_per_s: Option<f64>,
    /// "gpu-timestamp" or "wall-clock".
    #[serde(default)]
    pub timing: String,
    /// Extra per-case counters (e.g. dispatches and submits per training step).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counters: BTreeMap<String, f64>,
}

impl Case {
    /// The case's figure of merit: images/s, GFLOP/s or GB/s, else iterations per second.
    pub fn throughput(&self) -> (f64, &'static str) {
        match (self.images_per_s, self.gflops, self.gbps) {
            (Some(v), _, _) => (v, "images/s"),
            (_, Some(v), _) => (v, "GFLOP/s"),
            (_, _, Some(v)) => (v, "GB/s"),
            _ => (1.0 / self.median_s.max(1e-12), "it/s"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub schema: u32,
    pub tidal_version: String,
    #[serde(default)]
    pub git_commit: String,
    /// When the run started, RFC 3339 UTC.
    #[serde(default)]
    pub created: String,
    #[serde(default)]
    pub system: System,
    pub adapter: AdapterReport,
    /// How cases were timed.
    pub timing: String,
    #[serde(default)]
    pub quick: bool,
    pub peak: Peak,
    pub cases: Vec<Case>,
}

impl Report {
    pub fn load(path: &Path) -> Result<Report> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| {
            Error::Invalid(format!("{}: not a tidal bench report: {e}", path.display()))
        })
    }

    /// Writes the JSON report (creating parent folders; temp name + rename).
    pub fn write(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let json = serde_json::to_string_pretty(self).map_err(|e| Error::Invalid(e.to_string()))?;
        crate::train::checkpoint::write_atomic(path, json.as_bytes())
    }
}

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

fn first_line(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_once([':', '=']))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
}

/// OS, kernel, CPU model and thread count of this machine (best effort; empty if unknown).
pub fn system_info() -> System {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let os = first_line(&read("/etc/os-release"), "PRETTY_NAME")
        .unwrap_or_else(|| std::env::consts::OS.to_string());
    let cpu = first_line(&read("/proc/cpuinfo"), "model name")
        .or_else(|| {
            std::process::Command::new("sysctl")
                .args(["-n", "machdep.cpu.brand_string"])
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_default();
    System {
        os,
        kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
        arch: std::env::consts::ARCH.to_string(),
        cpu,
        cpu_threads: std::thread::available_parallelism().map_or(0, |n| n.get()),
    }
}

/// The git commit tidal was run from: `TIDAL_GIT_COMMIT` if set (for copies without .git),
/// else `git rev-parse` in the source tree, with "-dirty" for uncommitted changes.
pub fn git_commit() -> String {
    if let Ok(c) = std::env::var("TIDAL_GIT_COMMIT") {
        return c;
    }
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(env!("CARGO_MANIFEST_DIR"))
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(c) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{c}-dirty")
            } else {
                c
            }
        }
        None => "unknown".into(),
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
        let (samples, timing) = self.time(clock, warm, f)?;
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
        "adapter: {} ({}, {}) {}\ntiming: {}\n{:<34} {:<22} {:>11} {:>8} {:>15} {:>7} {:>10}",
        a.name,
        a.backend,
        a.device_type,
        a.driver,
        report.timing,
        "case",
        "shape",
        "median",
        "spread",
        "throughput",
        "% peak",
        "images/s"
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
        "{:<34} {:<22} {:>9.3}ms {:>7.1}% {:>15} {:>7} {:>10}",
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
    )
}
