//! Benchmark machinery shared by `benches/*.rs` (and the `tidal bench` command): timing
//! around synchronised submits, the adapter's measured FMA and copy peaks, a printed table
//! and the JSON report described in DESIGN.md.

use crate::error::{Error, Result};
use crate::gpu::{grid_1d, Context};
use crate::ops::Params;
use crate::tensor::Tensor;
use serde::Serialize;
use std::rc::Rc;
use std::time::Instant;

#[derive(Debug, Clone, Serialize)]
pub struct AdapterReport {
    pub name: String,
    pub vendor: u32,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
}

#[derive(Debug, Clone, Copy, Serialize, Default)]
pub struct Peak {
    pub fma_gflops: f64,
    pub copy_gbps: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Case {
    pub name: String,
    pub shape: Vec<usize>,
    pub median_s: f64,
    pub samples_s: Vec<f64>,
    pub gflops: Option<f64>,
    pub gbps: Option<f64>,
    pub peak_fraction: Option<f64>,
    pub images_per_s: Option<f64>,
    /// Extra per-case counters (e.g. dispatches and submits per training step).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub counters: std::collections::BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: u32,
    pub tidal_version: String,
    pub adapter: AdapterReport,
    /// How cases were timed.
    pub timing: String,
    pub peak: Peak,
    pub cases: Vec<Case>,
}

/// What a case does per iteration, for throughput figures.
#[derive(Debug, Clone, Copy)]
pub enum Work {
    Flops(f64),
    Bytes(f64),
    Images(f64),
}

pub struct Bench {
    pub ctx: Rc<Context>,
    pub report: Report,
    /// Fewer samples and smaller peak kernels.
    pub quick: bool,
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}

impl Bench {
    pub fn new(ctx: Rc<Context>, quick: bool) -> Bench {
        let i = &ctx.info;
        let report = Report {
            schema: 1,
            tidal_version: env!("CARGO_PKG_VERSION").to_string(),
            adapter: AdapterReport {
                name: i.name.clone(),
                vendor: i.vendor,
                backend: format!("{:?}", i.backend),
                device_type: format!("{:?}", i.device_type),
                driver: format!("{} {}", i.driver, i.driver_info).trim().to_string(),
            },
            timing: "wall-clock around a synchronised submit (median of samples)".into(),
            peak: Peak::default(),
            cases: Vec::new(),
        };
        Bench { ctx, report, quick }
    }

    /// Times `f` (which records GPU work): warm-up first (pipelines are built there, outside
    /// the timed region), then samples of enough iterations to last ~`min_sample_s`.
    pub fn time(&self, mut f: impl FnMut() -> Result<()>) -> Result<Vec<f64>> {
        let ctx = &self.ctx;
        f()?;
        ctx.sync()?;
        let t = Instant::now();
        f()?;
        ctx.sync()?;
        let once = t.elapsed().as_secs_f64();
        let min_sample_s = if self.quick { 0.02 } else { 0.05 };
        let iters = ((min_sample_s / once.max(1e-6)).ceil() as usize).clamp(1, 1000);
        let samples = if self.quick { 3 } else { 7 };
        let mut out = Vec::with_capacity(samples);
        for _ in 0..samples {
            let t = Instant::now();
            for _ in 0..iters {
                f()?;
                // One submission per iteration, as a training step would.
                ctx.submit();
            }
            ctx.sync()?;
            out.push(t.elapsed().as_secs_f64() / iters as f64);
        }
        Ok(out)
    }

    /// Times and records one case.
    pub fn case(
        &mut self,
        name: &str,
        shape: &[usize],
        work: Work,
        f: impl FnMut() -> Result<()>,
    ) -> Result<&Case> {
        let samples = self.time(f)?;
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
            counters: Default::default(),
        });
        let c = self.report.cases.last().unwrap();
        print_row(c);
        Ok(c)
    }

    /// Attaches a counter to the most recent case.
    pub fn counter(&mut self, name: &str, value: f64) {
        if let Some(c) = self.report.cases.last_mut() {
            c.counters.insert(name.to_string(), value);
        }
    }

    /// Measures the FMA and copy peaks of this adapter (run first: cases report fractions).
    pub fn measure_peaks(&mut self) -> Result<Peak> {
        let ctx = self.ctx.clone();
        let lanes: usize = 256 * 256;
        let iters: u32 = if self.quick { 512 } else { 2048 };
        let out = Tensor::empty(&ctx, &[lanes * 4], crate::DType::F32)?;
        let k = ctx.kernel("peak", "fma_peak", &[])?;
        let flops = lanes as f64 * iters as f64 * 8.0 * 4.0 * 2.0;
        let p = Params::new().u32(lanes as u32).u32(iters).u32(0).u32(0);
        let fma = self.case(
            "peak/fma",
            &[lanes, iters as usize],
            Work::Flops(flops),
            || ctx.dispatch(&k, p.bytes(), &[out.buffer()], grid_1d(lanes as u64, 256)),
        )?;
        let fma_gflops = fma.gflops.unwrap();
        // Copy: 32 MiB in, 32 MiB out (larger than any CPU cache on the CI class).
        let n4 = (32usize << 20) / 16;
        let src = Tensor::zeros(&ctx, &[n4 * 4])?;
        let dst = Tensor::empty(&ctx, &[n4 * 4], crate::DType::F32)?;
        let k = ctx.kernel("peak", "copy", &[])?;
        let p = Params::new().u32(n4 as u32).u32(0).u32(0).u32(0);
        let copy = self.case(
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
        let copy_gbps = copy.gbps.unwrap();
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

    /// Writes the JSON report (creating parent folders).
    pub fn write(&self, path: &std::path::Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let json = serde_json::to_string_pretty(&self.report)
            .map_err(|e| Error::Invalid(e.to_string()))?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, json)
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|source| Error::Io {
                path: path.display().to_string(),
                source,
            })
    }
}

pub fn print_header(adapter: &AdapterReport) {
    println!(
        "adapter: {} ({}, {}) {}",
        adapter.name, adapter.backend, adapter.device_type, adapter.driver
    );
    println!(
        "{:<34} {:<22} {:>11} {:>8} {:>12} {:>7} {:>10}",
        "case", "shape", "median", "spread", "throughput", "% peak", "images/s"
    );
}

fn print_row(c: &Case) {
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
    println!(
        "{:<34} {:<22} {:>9.3}ms {:>7.1}% {:>12} {:>7} {:>10}",
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
    );
}
