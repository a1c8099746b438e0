//! `tidal data`: generate, inspect, preview and the default dataset.

use clap::Subcommand;
use std::path::PathBuf;
use tidal::data::{self, synth::Domain};

#[derive(Subcommand)]
pub enum DataCommand {
    /// Generate N synthetic images of a domain into DIR: X.npy (float32, N×3×75×75),
    /// y.npy (float32, 1 = merger) and params.json (the generator's parameters)
    Generate {
        /// pristine (PSF only), noisy (PSF + sky and shot noise to 25 mag/arcsec²) or sdss
        #[arg(long, value_parser = parse_domain)]
        domain: Domain,
        /// Number of images
        #[arg(long, default_value_t = 2000)]
        n: usize,
        /// Seed (same seed, same bytes)
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output folder (created if missing)
        #[arg(long)]
        out: PathBuf,
        /// Surface-brightness limit in mag/arcsec² for every band (noisy and sdss only;
        /// default: the preset's, 25 for noisy)
        #[arg(long)]
        sb_limit: Option<f32>,
    },
    /// Shape, dtype, per-channel min/max/mean/std, label counts and NaN/Inf counts of .npy or
    /// FITS files (streamed, so files larger than memory work)
    Inspect {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Write a PNG grid of generated examples: per domain a merger row and a non-merger row
    /// (asinh-stretched colour composites: R = channel 2, G = 1, B = 0)
    Preview {
        /// Output PNG
        #[arg(long, default_value = "grid.png")]
        out: PathBuf,
        /// Examples per row
        #[arg(long, default_value_t = 8)]
        per_row: usize,
        /// Seed of the generated scenes
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Domains, comma-separated
        #[arg(long, value_delimiter = ',', value_parser = parse_domain, default_value = "pristine,noisy,sdss")]
        domains: Vec<Domain>,
    },
    /// Generate (or find) the default training data in the cache: source pristine and target
    /// noisy, 3000 images each
    Default {
        /// Cache folder
        #[arg(long)]
        cache: Option<PathBuf>,
    },
}

fn parse_domain(s: &str) -> Result<Domain, String> {
    s.parse::<Domain>().map_err(|e| e.to_string())
}

pub fn data(cmd: &DataCommand) -> anyhow::Result<()> {
    match cmd {
        DataCommand::Generate {
            domain,
            n,
            seed,
            out,
            sb_limit,
        } => {
            let mut preset = domain.preset();
            if let Some(mu) = sb_limit {
                preset = preset.with_sb_limit(*mu)?;
            }
            let threads = rayon::current_num_threads();
            println!(
                "generating {n} {domain} images (seed {seed}) on {threads} thread(s) into {}",
                out.display()
            );
            let bar = data::progress_bar(*n as u64, "images");
            let t = std::time::Instant::now();
            let side = data::generate_to_dir_with(&preset, *n, *seed, out, &|d| {
                bar.set_position(d as u64)
            })?;
            bar.finish_and_clear();
            println!(
                "wrote X.npy ({n}×3×75×75 float32), y.npy ({} mergers, {} non-mergers), params.json in {:.1} s",
                side.mergers,
                side.non_mergers,
                t.elapsed().as_secs_f64()
            );
        }
        DataCommand::Inspect { files, json } => {
            let mut all = Vec::new();
            for f in files {
                let r = data::inspect(f)?;
                if !*json {
                    println!("{r}");
                }
                all.push(r);
            }
            if *json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            }
        }
        DataCommand::Preview {
            out,
            per_row,
            seed,
            domains,
        } => {
            let (w, h) = data::preview::write_grid(out, domains, *per_row, *seed)?;
            let names: Vec<&str> = domains.iter().map(|d| d.name()).collect();
            println!(
                "wrote {} ({w}×{h}): rows {} × (merger, non-merger), {per_row} examples each; left strip orange = merger, blue = non-merger",
                out.display(),
                names.join(", ")
            );
        }
        DataCommand::Default { cache } => {
            let dir = cache.clone().unwrap_or_else(data::default_cache_dir);
            let (s, t) = data::default_dataset(&dir)?;
            println!(
                "default dataset in {}: source pristine {} images, target noisy {} images",
                dir.display(),
                s.n,
                t.n
            );
        }
    }
    Ok(())
}
