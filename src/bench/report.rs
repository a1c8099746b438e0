//! The JSON report of a bench run (the layout DESIGN.md describes, schema 2): the adapter,
//! the system, the measured peaks and every case with its samples.

use super::compare;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

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
    /// High-water mark of the GPU buffer pool's bytes in use during the case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_peak_bytes: Option<u64>,
    /// Peak resident memory of the process during the case (Linux; the whole run's peak
    /// where it cannot be reset per case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_bytes: Option<u64>,
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
    /// The kernel variants the cases ran (`subgroup+fused`, ...; empty in older reports).
    #[serde(default)]
    pub kernels: String,
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
        let mut report: Report = serde_json::from_str(&text)
            .map_err(|e| Error::data(path, format!("not a tidal bench report: {e}")))?;
        if report.schema == 0 || report.schema > SCHEMA {
            return Err(Error::data(
                path,
                format!(
                    "report schema {}: this tidal reads schemas 1 to {SCHEMA} (a newer tidal wrote it?)",
                    report.schema
                ),
            ));
        }
        for c in &mut report.cases {
            c.name = compare::current_name(&c.name);
        }
        Ok(report)
    }

    /// Writes the JSON report (creating parent folders; temp name + rename).
    pub fn write(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let json = serde_json::to_string_pretty(self).expect("a report serialises");
        crate::atomic::write(path, json.as_bytes())
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
