//! `tidal report`: redraw a run directory's pictures and report.md (no GPU needed).

use std::path::Path;

pub fn report(run_dir: &Path) -> anyhow::Result<()> {
    for p in tidal::report::write_report(run_dir)? {
        println!("{}", p.display());
    }
    Ok(())
}
