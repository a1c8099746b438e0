//! `compare`: the same data and base settings trained with several methods and seeds,
//! each (method, seed) in its own run directory, and the table of their test metrics.

use super::{train, Method, Summary, TrainConfig};
use crate::error::{Error, Result};
use crate::gpu::Context;
use crate::report::{compare_table, CompareRow};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// What to compare: every method of `methods` with seeds `base.seed .. base.seed + seeds`,
/// under `root` (one directory per run, `compare.md` and `compare.json` beside them).
pub struct Plan<'a> {
    pub base: &'a TrainConfig,
    pub methods: &'a [Method],
    pub seeds: u64,
    pub root: &'a Path,
}

/// The run directory of (method, seed).
pub fn run_dir(root: &Path, method: Method, seed: u64) -> PathBuf {
    root.join(format!(
        "{}-seed{seed}",
        method.to_string().replace('+', "_")
    ))
}

/// Trains every (method, seed) of `plan` in turn; `started` and `finished` are told about
/// each run. Returns the rows of the table, which is also written to `compare.md`, and the
/// rows as `compare.json`.
pub fn compare(
    ctx: &Rc<Context>,
    plan: &Plan,
    mut started: impl FnMut(Method, u64, &Path),
    mut finished: impl FnMut(Method, u64, &Summary),
) -> Result<Vec<CompareRow>> {
    // Every config is checked before the first run trains.
    let mut configs = Vec::new();
    for &method in plan.methods {
        let mut per_seed = Vec::new();
        for k in 0..plan.seeds.max(1) {
            let mut cfg = plan.base.clone();
            cfg.method = method;
            cfg.seed = plan.base.seed + k;
            cfg.out = run_dir(plan.root, method, cfg.seed).display().to_string();
            cfg.validate()?;
            per_seed.push(cfg);
        }
        configs.push((method, per_seed));
    }
    let mut rows = Vec::new();
    for (method, per_seed) in configs {
        let mut row = CompareRow {
            method: method.to_string(),
            source: Vec::new(),
            target: Vec::new(),
        };
        for cfg in per_seed {
            started(method, cfg.seed, Path::new(&cfg.out));
            let s = train(ctx, &cfg, false, |_, _, _, _| {})?;
            finished(method, cfg.seed, &s);
            row.source.push(s.source_test);
            row.target.extend(s.target_test);
        }
        rows.push(row);
    }
    let table = compare_table(&rows);
    std::fs::create_dir_all(plan.root).map_err(|e| Error::io(plan.root, e))?;
    crate::atomic::write(&plan.root.join("compare.md"), table.as_bytes())?;
    crate::atomic::write(
        &plan.root.join("compare.json"),
        serde_json::to_string_pretty(&rows)
            .expect("rows serialise")
            .as_bytes(),
    )?;
    Ok(rows)
}
