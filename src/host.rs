//! The process's peak resident memory, for bench cases and training summaries (Linux's
//! /proc; elsewhere unknown).

/// Peak resident set size in bytes (VmHWM) since the process started or the last
/// `reset_peak_rss`; None where /proc is not available.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Restarts the peak at the current resident size (Linux: "5" to clear_refs). Returns
/// whether it could; when not, `peak_rss_bytes` keeps the whole process's peak.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}
