//! Which kernel variants an adapter runs, chosen by a short timed trial on first use and
//! cached per adapter, driver and shader sources (DESIGN.md: variants are picked per
//! adapter by measurement, never by timing inside a run).
//!
//! Families and their candidates: `matmul` (the matmul and convolution kernels: subgroup
//! where the adapter has 8-wide subgroups, register, tiled), `conv` (with the subgroup
//! kernels: the row-window convolutions, with the flipped grad input, with that and the
//! Winograd 3x3 forward, or none) and `bn_relu_pool` (the fused chain or
//! the separate ops). Each family has one shape class today, the DeepMerge-sized
//! case it is timed on. A run records the variants it resolved in its config
//! (`TrainConfig::kernels`), so timing noise never changes a rerun, a resume or the eval of
//! its checkpoints.
//!
//! The cache is `variants.json` in `$TIDAL_CACHE_DIR`, else `$XDG_CACHE_HOME/tidal`, else
//! `~/.cache/tidal`. `TIDAL_KERNELS=<setting>` (`default` or a pinned `subgroup+fused+rows`, ...)
//! replaces the trial and the cache for `auto` (tests use it to stay independent of the
//! machine).

use crate::error::{Error, Result};
use crate::gpu::{self, Context, KernelSetting, Kernels, Variant};
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Instant;

/// One adapter's cached choice and the trial medians it came from (milliseconds).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    pub kernels: String,
    pub trial_ms: BTreeMap<String, f64>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CacheFile {
    schema: u32,
    /// Keyed by `cache_key`.
    entries: BTreeMap<String, Entry>,
}

/// The cache file's path (None without a home or cache directory).
pub fn cache_path() -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let dir = env("TIDAL_CACHE_DIR")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("tidal")))
        .or_else(|| env("HOME").map(|h| h.join(".cache").join("tidal")))?;
    Some(dir.join("variants.json"))
}

/// Adapter name, driver, driver info and a hash of every shader source: a new driver or
/// an edited kernel is timed again.
pub fn cache_key(ctx: &Context) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, src) in crate::shaders::ALL {
        for b in name.bytes().chain(src.bytes()) {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!(
        "{} | {} | {} | shaders {h:016x}",
        ctx.info.name, ctx.info.driver, ctx.info.driver_info
    )
}

fn load_cache() -> CacheFile {
    cache_path()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// Every cached choice (for `tidal info`).
pub fn cached_entries() -> BTreeMap<String, Entry> {
    load_cache().entries
}

/// The cached choice for this adapter, if any (and still parseable).
pub fn cached(ctx: &Context) -> Option<Entry> {
    load_cache()
        .entries
        .remove(&cache_key(ctx))
        .filter(|e| Kernels::parse(&e.kernels).is_some())
}

fn store(ctx: &Context, entry: &Entry) -> Result<()> {
    let path = cache_path()
        .ok_or_else(|| Error::Invalid("no cache directory (set TIDAL_CACHE_DIR or HOME)".into()))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut file = load_cache();
    file.schema = 1;
    file.entries.insert(cache_key(ctx), entry.clone());
    let text = serde_json::to_string_pretty(&file).expect("cache serialises");
    crate::atomic::write(&path, text.as_bytes())
}

/// The kernels a setting means on this context, without applying them: `auto` takes
/// `TIDAL_KERNELS`, else the cache, else a timed trial (whose result is cached).
pub fn resolve(ctx: &Rc<Context>, setting: &str) -> Result<Kernels> {
    let parsed = KernelSetting::parse(setting).ok_or_else(|| {
        Error::config(
            format!("kernels = {setting:?}"),
            "must be auto, default, or subgroup/register/tiled optionally followed by +fused \
             (and subgroup by +rows, after +fused, that by +flip, and that by +wino)",
        )
    })?;
    match parsed {
        KernelSetting::Pinned(k) => Ok(k),
        KernelSetting::Default => Ok(adapter_default(ctx)),
        KernelSetting::Auto => {
            if let Ok(env) = std::env::var("TIDAL_KERNELS") {
                if env != "auto" {
                    return resolve(ctx, &env);
                }
            }
            if let Some(e) = cached(ctx) {
                return Ok(Kernels::parse(&e.kernels).expect("filtered by cached"));
            }
            eprintln!(
                "choosing kernel variants for {} by a short timed trial (once per adapter and \
                 driver; cached in {})",
                ctx.info.name,
                cache_path().map_or("nowhere".into(), |p| p.display().to_string())
            );
            let started = Instant::now();
            let entry = trial(ctx)?;
            eprintln!(
                "  chose {} in {:.1} s",
                entry.kernels,
                started.elapsed().as_secs_f64()
            );
            if let Err(e) = store(ctx, &entry) {
                eprintln!("warning: the kernel choice could not be cached: {e}");
            }
            Ok(Kernels::parse(&entry.kernels).expect("trial names a valid choice"))
        }
    }
}

/// The adapter's default matmul variant (`TIDAL_MATMUL` honoured) with the separate ops:
/// what every run did before variants were chosen by trial.
pub fn adapter_default(ctx: &Context) -> Kernels {
    let pinned = ctx.pinned_variant();
    gpu::reset_variant(ctx);
    let matmul = Variant::for_context(ctx);
    if let Some(v) = pinned {
        gpu::set_variant(ctx, v);
    }
    Kernels {
        matmul,
        fused: false,
        rows: false,
        flip: false,
        wino: false,
    }
}

/// Resolves `setting` and pins the result on `ctx`; returns it.
pub fn apply(ctx: &Rc<Context>, setting: &str) -> Result<Kernels> {
    let k = resolve(ctx, setting)?;
    k.apply(ctx);
    Ok(k)
}

/// The candidates of the matmul family on this adapter.
fn matmul_candidates(ctx: &Context) -> Vec<Variant> {
    let mut v = Vec::new();
    if gpu::subgroup_ok(ctx) {
        v.push(Variant::Subgroup);
    }
    v.extend([Variant::Register, Variant::Tiled]);
    v
}

/// Rounds of the timed trial per candidate.
const TRIAL_ROUNDS: usize = 5;

/// Median wall-clock milliseconds of `f` (each call ends with a read-back) for each of `n`
/// candidates (`setup(i)` switches to candidate i) over `TRIAL_ROUNDS` rounds after one
/// warm-up each (which also builds the pipelines), and the index of the fastest. The
/// candidates take turns within each round, so a load that comes and goes (another process
/// on the cores) falls on all of them alike instead of on whichever ran during it. (Timed
/// one after another while a training run shared the cores, the fused chain once lost by
/// 4 % to the separate ops it beats 1.6x on an idle machine.) The fastest is the one with
/// the lowest median, over rounds, of its time relative to that round's best: a slow
/// round then counts once for every candidate instead of moving one median (a trial on a
/// busy VM once put `rows` 4 % ahead of `rows+flip`, which is 10 % faster when idle).
fn time_alternating(
    n: usize,
    setup: impl FnMut(usize),
    f: impl FnMut() -> Result<()>,
) -> Result<(Vec<f64>, usize)> {
    let t = time_rounds(n, setup, f)?;
    Ok((t.iter().map(|v| median(v)).collect(), fastest(&t)))
}

/// The times of `time_alternating`: t[candidate][round], milliseconds.
fn time_rounds(
    n: usize,
    mut setup: impl FnMut(usize),
    mut f: impl FnMut() -> Result<()>,
) -> Result<Vec<Vec<f64>>> {
    for i in 0..n {
        setup(i);
        f()?;
    }
    let mut t = vec![Vec::with_capacity(TRIAL_ROUNDS); n];
    for _ in 0..TRIAL_ROUNDS {
        for (i, ti) in t.iter_mut().enumerate() {
            setup(i);
            let s = Instant::now();
            f()?;
            ti.push(s.elapsed().as_secs_f64() * 1e3);
        }
    }
    Ok(t)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The candidate with the lowest median of t[i][round] / min_j t[j][round] (the first of
/// equals).
fn fastest(t: &[Vec<f64>]) -> usize {
    let rounds = t.first().map_or(0, Vec::len);
    let best: Vec<f64> = (0..rounds)
        .map(|r| t.iter().map(|ti| ti[r]).fold(f64::INFINITY, f64::min))
        .collect();
    let score = |ti: &Vec<f64>| {
        let rel: Vec<f64> = ti.iter().zip(&best).map(|(a, b)| a / b).collect();
        median(&rel)
    };
    (0..t.len())
        .min_by(|&i, &j| score(&t[i]).total_cmp(&score(&t[j])))
        .expect("at least one candidate")
}

/// The median per-round time of the Winograd forward relative to the direct row kernels
/// below which the trial picks it. It gives a run other numbers, and on lavapipe the two
/// timed within a few per cent of each other on its layers while the whole DeepMerge step
/// measured 1-2.5 % slower with it (README, "Winograd"): noise must not pick it.
const WINO_MARGIN: f64 = 0.95;

/// Whether `new` timed below `margin` times `old`: the median over rounds of the per-round
/// ratio (rounds alternate the two, so a slow round counts against both).
fn clearly_faster(new: &[f64], old: &[f64], margin: f64) -> bool {
    let ratio: Vec<f64> = new.iter().zip(old).map(|(a, b)| a / b).collect();
    median(&ratio) < margin
}

/// Times every candidate of each family on its DeepMerge-sized case and keeps the fastest.
pub fn trial(ctx: &Rc<Context>) -> Result<Entry> {
    use crate::nn::{BnReluPool, Module};
    use crate::ops::conv2d::{conv2d, Conv2dParams};
    let before = Kernels::current(ctx);
    let mut rng = crate::ops::random::Rng::new(7);
    let mut trial_ms = BTreeMap::new();
    // matmul family: conv2's forward and weight gradient (batch 32) and the fc1 product.
    let x = rng
        .normal(ctx, &[32, 8, 37, 37], 0.0, 1.0)?
        .requires_grad_();
    let w = rng.normal(ctx, &[16, 8, 3, 3], 0.0, 0.1)?.requires_grad_();
    let a = rng.normal(ctx, &[256, 2592], 0.0, 1.0)?;
    let b = rng.normal(ctx, &[2592, 64], 0.0, 0.02)?;
    let p = Conv2dParams {
        padding: (1, 1),
        ..Default::default()
    };
    // The base kernels of each variant (the row-window ones are timed next).
    gpu::set_rows(ctx, false);
    let cands = matmul_candidates(ctx);
    let (ms, fastest_matmul) = time_alternating(
        cands.len(),
        |i| gpu::set_variant(ctx, cands[i]),
        || {
            let y = conv2d(&x, &w, None, p)?;
            y.sum()?.backward()?;
            let z = a.matmul(&b)?;
            Tensor::read_all(&[&z.sum()?, &w.grad().expect("w has a gradient")])?;
            Ok(())
        },
    )?;
    for (&v, &ms) in cands.iter().zip(&ms) {
        let name = Kernels {
            matmul: v,
            fused: false,
            rows: false,
            flip: false,
            wino: false,
        };
        trial_ms.insert(format!("matmul={name}"), ms);
    }
    let matmul = cands[fastest_matmul];
    gpu::set_variant(ctx, matmul);
    // The row-window convolutions (subgroup kernels only), without and with the flipped
    // grad input, against the subgroup kernels they replace: DeepMerge's conv1 forward and
    // weight gradient, and conv2 with its bias, forward and all three gradients (batch 32).
    // Then, with the flipped grad input, Winograd against the direct row kernel.
    let (rows, flip, wino) = if matmul == Variant::Subgroup {
        let x0 = rng.normal(ctx, &[32, 3, 75, 75], 0.0, 1.0)?;
        let w0 = rng.normal(ctx, &[8, 3, 5, 5], 0.0, 0.1)?.requires_grad_();
        let b2 = rng.normal(ctx, &[16], 0.0, 0.1)?.requires_grad_();
        let p0 = Conv2dParams {
            padding: (2, 2),
            ..Default::default()
        };
        // (rows, flip) per candidate, in the order of the names below.
        let cands = [(true, true), (true, false), (false, false)];
        gpu::set_wino(ctx, false);
        let (ms, best) = time_alternating(
            cands.len(),
            |i| {
                gpu::set_rows(ctx, cands[i].0);
                gpu::set_flip(ctx, cands[i].1);
            },
            || {
                conv2d(&x0, &w0, None, p0)?.sum()?.backward()?;
                conv2d(&x, &w, Some(&b2), p)?.sum()?.backward()?;
                let gw = [&w0, &w, &b2].map(|t| t.grad().expect("a gradient"));
                let gx = x.grad().expect("x has a gradient");
                Tensor::read_all(&[&gw[0].sum()?, &gw[1].sum()?, &gw[2].sum()?, &gx.sum()?])?;
                Ok(())
            },
        )?;
        for (name, &t) in ["conv=rows+flip", "conv=rows", "conv=subgroup"]
            .iter()
            .zip(&ms)
        {
            trial_ms.insert((*name).into(), t);
        }
        let (rows, flip) = cands[best];
        gpu::set_rows(ctx, rows);
        gpu::set_flip(ctx, flip);
        // With the flipped grad input, the Winograd 3x3 forward against the row kernel on
        // the layers it runs: conv2 and conv3, forward and grad input (batch 32).
        let wino = flip && {
            use crate::ops::conv2d::conv2d_grad_input;
            let x3 = rng.normal(ctx, &[32, 16, 18, 18], 0.0, 1.0)?;
            let w3 = rng.normal(ctx, &[32, 16, 3, 3], 0.0, 0.1)?;
            let g2 = rng.normal(ctx, &[32, 16, 37, 37], 0.0, 1.0)?;
            let g3 = rng.normal(ctx, &[32, 32, 18, 18], 0.0, 1.0)?;
            let (x2, w2) = (x.detach(), w.detach());
            let t = time_rounds(
                2,
                |i| gpu::set_wino(ctx, i == 1),
                || {
                    let y2 = conv2d(&x2, &w2, None, p)?;
                    let y3 = conv2d(&x3, &w3, None, p)?;
                    let gx2 = conv2d_grad_input(&g2, &w2, x2.shape(), p)?;
                    let gx3 = conv2d_grad_input(&g3, &w3, x3.shape(), p)?;
                    Tensor::read_all(&[&y2.sum()?, &y3.sum()?, &gx2.sum()?, &gx3.sum()?])?;
                    Ok(())
                },
            )?;
            trial_ms.insert("wino=direct".into(), median(&t[0]));
            trial_ms.insert("wino=winograd".into(), median(&t[1]));
            clearly_faster(&t[1], &t[0], WINO_MARGIN)
        };
        (rows, flip, wino)
    } else {
        (false, false, false)
    };
    // bn_relu_pool family: DeepMerge's first block, batch 32, forward and backward.
    let block = BnReluPool::new(ctx, 8)?;
    let x1 = rng
        .normal(ctx, &[32, 8, 75, 75], 0.0, 1.0)?
        .requires_grad_();
    let (fused_ms, fastest_brp) = time_alternating(
        2,
        |i| gpu::set_fused(ctx, i == 0),
        || {
            block.forward(&x1)?.sum()?.backward()?;
            x1.grad().expect("x has a gradient").sum()?.to_vec()?;
            Ok(())
        },
    )?;
    trial_ms.insert("bn_relu_pool=fused".into(), fused_ms[0]);
    trial_ms.insert("bn_relu_pool=separate".into(), fused_ms[1]);
    before.apply(ctx);
    let chosen = Kernels {
        matmul,
        fused: fastest_brp == 0,
        rows,
        flip,
        wino,
    };
    Ok(Entry {
        kernels: chosen.to_string(),
        trial_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::{clearly_faster, fastest};

    #[test]
    fn the_fastest_wins_most_rounds_not_the_lowest_median() {
        // B is 5 % faster in four rounds of five; a load that fell on B alone in round 3
        // and a slow phase over rounds 1-2 give A the lower median (10 against 19).
        let a = vec![10.0, 20.0, 20.0, 10.0, 10.0];
        let b = vec![9.5, 19.0, 19.0, 19.0, 9.5];
        assert_eq!(fastest(&[a.clone(), b.clone()]), 1);
        assert_eq!(fastest(&[b, a]), 0);
        // Ties keep the first candidate; one candidate is its own fastest.
        assert_eq!(fastest(&[vec![5.0; 5], vec![5.0; 5]]), 0);
        assert_eq!(fastest(&[vec![7.0, 3.0, 9.0]]), 0);
    }

    #[test]
    fn a_variant_with_other_numbers_must_win_by_the_margin() {
        let old = vec![10.0, 20.0, 10.0, 10.0, 10.0];
        // 3 % faster in every round: fastest, but not by 5 %.
        let near: Vec<f64> = old.iter().map(|t| t * 0.97).collect();
        assert!(!clearly_faster(&near, &old, 0.95));
        // 10 % faster in three rounds of five, slower in two: the median ratio decides.
        let mostly = vec![9.0, 18.0, 9.0, 11.0, 11.0];
        assert!(clearly_faster(&mostly, &old, 0.95));
        let rarely = vec![9.0, 22.0, 11.0, 11.0, 9.0];
        assert!(!clearly_faster(&rarely, &old, 0.95));
    }
}
