//! `tidal compare`: the methods × seeds table.

use super::train::{train_config, TrainArgs};
use std::path::PathBuf;

pub fn compare(a: &TrainArgs, methods: &str, seeds: u64) -> anyhow::Result<()> {
    let base = train_config(a)?;
    let ctx = tidal::Context::new(&a.adapter.choice())?;
    let root = PathBuf::from(if a.out.is_some() {
        base.out.as_str()
    } else {
        "runs/compare"
    });
    let methods = methods
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::parse)
        .collect::<tidal::Result<Vec<tidal::train::Method>>>()?;
    let plan = tidal::train::compare::Plan {
        base: &base,
        methods: &methods,
        seeds,
        root: &root,
    };
    let rows = tidal::train::compare::compare(
        &ctx,
        &plan,
        |method, seed, dir| eprintln!("compare: {method}, seed {seed} → {}", dir.display()),
        |method, seed, s| {
            println!(
                "{method} seed {seed}: source acc {:.3}, target acc {}",
                s.source_test.accuracy,
                s.target_test
                    .map(|t| format!("{:.3}", t.accuracy))
                    .unwrap_or_else(|| "n/a".into())
            )
        },
    )?;
    println!("\n{}", tidal::report::compare_table(&rows));
    Ok(())
}
