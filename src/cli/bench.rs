//! `tidal bench`: run the suites on one adapter (or all) and write a report, or compare
//! reports.

use super::AdapterArgs;
use clap::Args;
use std::path::{Path, PathBuf};
use tidal::gpu::{list_adapters, AdapterChoice};

#[derive(Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub adapter: AdapterArgs,
    /// Run on every adapter `tidal info` lists (one report each, then a comparison)
    #[arg(long, conflicts_with = "adapter")]
    pub all_adapters: bool,
    /// Fewer samples and a smaller ResNet batch: under 3 minutes on lavapipe
    #[arg(long)]
    pub quick: bool,
    /// Suites to run: kernels, train or all
    #[arg(long, default_value = "all")]
    pub suite: String,
    /// Run only cases whose name contains this (peaks always run)
    #[arg(long)]
    pub filter: Option<String>,
    /// The JSON report (with --all-adapters, one file per adapter named after it)
    #[arg(long, default_value = "bench-report.json")]
    pub out: PathBuf,
    /// Compare these reports instead of running: the same cases side by side with ratios
    /// to the first report
    #[arg(long, num_args = 2.., value_name = "REPORT")]
    pub compare: Vec<PathBuf>,
    /// With --compare: also write a Markdown copy of the table here
    #[arg(long, requires = "compare")]
    pub markdown: Option<PathBuf>,
    /// With --compare: a PNG bar chart of each report's ratios to the first (one file per
    /// report after the first when more than two are compared)
    #[arg(long, requires = "compare")]
    pub png: Option<PathBuf>,
}

fn bench_compare(
    paths: &[PathBuf],
    markdown: Option<&Path>,
    png: Option<&Path>,
) -> anyhow::Result<()> {
    use tidal::bench::{compare, Report};
    let reports = paths
        .iter()
        .map(|p| Report::load(p).map(|r| (compare::label(p, &r), r)))
        .collect::<tidal::Result<Vec<_>>>()?;
    for (l, r) in &reports {
        println!(
            "{l}: {} {} on {} ({}, {} threads), {}{}",
            r.adapter.backend,
            r.adapter.driver,
            r.system.os,
            r.system.cpu,
            r.system.cpu_threads,
            r.created,
            if r.quick { ", quick" } else { "" }
        );
    }
    let cmp = compare::compare(&reports);
    let table = cmp.table();
    println!("\nratio = throughput over the first report's (> 1: faster)\n{table}");
    if let Some(md) = markdown {
        std::fs::write(md, &table)?;
        println!("wrote {}", md.display());
    }
    if let Some(png) = png {
        for j in 1..cmp.labels.len() {
            let path = if cmp.labels.len() > 2 {
                let stem = png.file_stem().unwrap_or_default().to_string_lossy();
                png.with_file_name(format!("{stem}-{j}.png"))
            } else {
                png.to_path_buf()
            };
            let bars: Vec<(String, f64)> = cmp
                .rows
                .iter()
                .filter_map(|r| {
                    let dims: Vec<String> = r.shape.iter().map(|d| d.to_string()).collect();
                    r.ratios[j].map(|x| (format!("{} {}", r.name, dims.join("×")), x))
                })
                .collect();
            let title = format!("{} vs {}", cmp.labels[j], cmp.labels[0]);
            tidal::report::plot::bar_chart(&path, &title, "throughput ratio", &bars, Some(1.0))?;
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}

fn bench_one(
    choice: &AdapterChoice,
    a: &BenchArgs,
    suite: tidal::bench::suites::Suite,
    out: &Path,
) -> anyhow::Result<()> {
    let ctx = tidal::Context::new(choice)?;
    tidal::tune::apply(&ctx, "auto")?;
    let mut b = tidal::bench::Bench::new(ctx, a.quick);
    b.filter = a.filter.clone();
    tidal::bench::print_header(&b.report);
    b.show_progress();
    let started = std::time::Instant::now();
    let r = tidal::bench::suites::run(&mut b, suite);
    b.finish_progress();
    r?;
    b.write(out)?;
    println!(
        "{} cases in {:.0} s; wrote {}",
        b.report.cases.len(),
        started.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(())
}

pub fn bench(a: &BenchArgs) -> anyhow::Result<()> {
    if !a.compare.is_empty() {
        return bench_compare(&a.compare, a.markdown.as_deref(), a.png.as_deref());
    }
    let suite: tidal::bench::suites::Suite = a.suite.parse()?;
    if !a.all_adapters {
        return bench_one(&a.adapter.choice(), a, suite, &a.out);
    }
    let base = a.adapter.choice();
    let (list, _) = list_adapters(&base)?;
    if list.is_empty() {
        return Err(tidal::Error::NoAdapter.into());
    }
    let mut written = Vec::new();
    for ad in &list {
        let slug: String = ad
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let stem = a.out.file_stem().unwrap_or_default().to_string_lossy();
        let out = a.out.with_file_name(format!(
            "{stem}-{}-{}-{}.json",
            ad.index,
            slug.trim_matches('-'),
            ad.backend.to_lowercase()
        ));
        println!("\n== [{}] {} ({}) ==", ad.index, ad.name, ad.backend);
        let choice = AdapterChoice {
            adapter: Some(ad.index.to_string()),
            backend: base.backend.clone(),
        };
        // One adapter failing (a GL context without compute, say) must not lose the others.
        match bench_one(&choice, a, suite, &out) {
            Ok(()) => written.push(out),
            Err(e) => eprintln!("adapter [{}] {}: {e}", ad.index, ad.name),
        }
    }
    if written.len() > 1 {
        bench_compare(&written, None, None)?;
    }
    Ok(())
}
