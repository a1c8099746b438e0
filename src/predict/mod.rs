//! `tidal predict`: a trained model (or an ensemble of them) applied to a survey, streamed
//! in chunks, written as a catalogue (FITS BINTABLE or CSV) with one row per object: ID,
//! input row, calibrated merger probability, class, and the ensemble spread. `--shard I/N`
//! does a contiguous slice so a SLURM array covers a survey; `merge` puts the shards back
//! together, checking that every row is there once.

pub mod input;

use crate::data::split::{ChannelMoments, Normalisation};
use crate::data::table::{Column, Keyword, Table, Values, MAX_STR};
use crate::error::{Error, Result};
use crate::gpu::Context;
use crate::train::calibration::calibrated;
use crate::train::eval::{load_model, LoadedModel, NormChoice};
use crate::train::evaluate::{eval_batch, Features, Keep};
use input::Survey;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

/// Where object IDs come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Ids {
    /// The input row (or, for cutout directories, the file names).
    Default,
    /// Column `column` of a CSV or FITS catalogue with one row per input image.
    Catalogue { path: PathBuf, column: String },
}

impl std::str::FromStr for Ids {
    type Err = Error;
    /// `CATALOGUE:COLUMN`.
    fn from_str(s: &str) -> Result<Ids> {
        let (p, c) = s.rsplit_once(':').ok_or_else(|| {
            Error::config(
                "--ids",
                format!("'{s}': expected CATALOGUE.csv:COLUMN or CATALOGUE.fits:COLUMN"),
            )
        })?;
        Ok(Ids::Catalogue {
            path: p.into(),
            column: c.into(),
        })
    }
}

/// Everything `predict` needs.
pub struct Options {
    pub checkpoints: Vec<PathBuf>,
    pub inputs: Vec<PathBuf>,
    pub out: PathBuf,
    pub ids: Ids,
    /// Catalogue columns copied into the output (from the `--ids` catalogue).
    pub keep: Vec<String>,
    pub norm: NormChoice,
    /// Apply each checkpoint's temperature (false: raw softmax probabilities).
    pub calibrated: bool,
    /// (I, N): the I-th of N contiguous slices.
    pub shard: Option<(usize, usize)>,
    /// Layout, bands to keep and resizing of the stored images.
    pub prepare: crate::data::Prepare,
    /// Images per chunk read from disk (a multiple of the 256-image GPU batch).
    pub chunk: usize,
}

/// Images per GPU batch (as `eval`, so the two give the same numbers).
pub const BATCH: usize = 256;

/// What a finished `predict` did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub rows: usize,
    pub seconds: f64,
    pub images_per_s: f64,
}

/// The rows of shard `i` of `n` over `total` rows: contiguous, starting on a multiple of
/// the GPU batch, so every shard runs the same batches an unsharded run does and the merged
/// catalogue equals it bit for bit.
pub fn shard_rows(total: usize, shard: Option<(usize, usize)>) -> Result<std::ops::Range<usize>> {
    let edge = |k: usize, n: usize| {
        if k == n {
            total
        } else {
            (total / BATCH * k / n) * BATCH
        }
    };
    match shard {
        None => Ok(0..total),
        Some((i, n)) if n > 0 && i < n => Ok(edge(i, n)..edge(i + 1, n)),
        Some((i, n)) => Err(Error::config(
            "--shard",
            format!("{i}/{n}: expected I/N with 0 ≤ I < N"),
        )),
    }
}

/// Per-channel statistics over every input row in order (for `--norm input`; the same for
/// every shard, so shards agree with an unsharded run).
fn input_statistics(
    survey: &mut Survey,
    prep: &crate::data::Prepare,
    shape: [usize; 3],
    chunk: usize,
) -> Result<Normalisation> {
    let [c, h, w] = shape;
    let mut moments = ChannelMoments::new(c, h * w);
    let mut at = 0;
    while at < survey.rows {
        let n = chunk.min(survey.rows - at);
        let v = prep.apply(survey.stored, &survey.read(at, n)?);
        for img in v.chunks(c * h * w) {
            moments.add(img);
        }
        at += n;
    }
    Ok(moments.finish())
}

/// A stand-in dataset of the right shape, for normalisation choices that need one.
fn shape_only(shape: [usize; 3]) -> crate::data::Dataset {
    crate::data::Dataset {
        images: Vec::new(),
        labels: None,
        n: 0,
        c: shape[0],
        h: shape[1],
        w: shape[2],
    }
}

/// The IDs of `rows` and the kept catalogue columns.
fn ids_and_kept(
    o: &Options,
    survey: &Survey,
    rows: &std::ops::Range<usize>,
) -> Result<(Values, Vec<Column>)> {
    match &o.ids {
        Ids::Default => {
            if !o.keep.is_empty() {
                return Err(Error::config(
                    "--keep",
                    "needs a catalogue: pass --ids CATALOGUE:COLUMN",
                ));
            }
            Ok((
                match survey.cutout_names() {
                    Some(names) => Values::Str(names[rows.clone()].to_vec()),
                    None => Values::I64(rows.clone().map(|r| r as i64).collect()),
                },
                Vec::new(),
            ))
        }
        Ids::Catalogue { path, column } => {
            let t = Table::read(path)?;
            if t.rows() != survey.rows {
                return Err(Error::data(
                    path,
                    format!("{} rows, the inputs hold {} images", t.rows(), survey.rows),
                ));
            }
            let col = |name: &str| {
                t.column(name).ok_or_else(|| {
                    let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
                    Error::data(
                        path,
                        format!("no column '{name}' (columns: {})", names.join(", ")),
                    )
                })
            };
            let order: Vec<usize> = rows.clone().collect();
            // Integer IDs stay 64-bit integers; anything else becomes a string.
            let ids = match &col(column)?.values {
                Values::I64(v) => Values::I64(order.iter().map(|&i| v[i]).collect()),
                Values::Str(v) => Values::Str(order.iter().map(|&i| v[i].clone()).collect()),
                Values::I16(v) => Values::I64(order.iter().map(|&i| v[i] as i64).collect()),
                Values::F32(v) => Values::Str(order.iter().map(|&i| v[i].to_string()).collect()),
                Values::F64(v) => Values::Str(order.iter().map(|&i| v[i].to_string()).collect()),
            };
            if let Values::Str(v) = &ids {
                if let Some(long) = v.iter().find(|s| s.len() > MAX_STR) {
                    return Err(Error::data(
                        path,
                        format!("ID '{long}' is longer than {MAX_STR} bytes"),
                    ));
                }
            }
            let kept = o
                .keep
                .iter()
                .map(|k| {
                    Ok(Column {
                        name: k.to_ascii_uppercase(),
                        values: col(k)?.values.take(&order),
                    })
                })
                .collect::<Result<_>>()?;
            Ok((ids, kept))
        }
    }
}

/// FNV-1a of a text (the config hash in the catalogue's header).
fn fnv(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Runs the checkpoints of `o` over its inputs and writes the catalogue; `progress(done,
/// total)` is told as chunks finish. Memory holds about three chunks of images.
pub fn predict(
    ctx: &Rc<Context>,
    o: &Options,
    mut progress: impl FnMut(usize, usize),
) -> Result<Outcome> {
    if o.checkpoints.is_empty() {
        return Err(Error::config("--checkpoint", "no checkpoint given"));
    }
    if o.chunk == 0 || !o.chunk.is_multiple_of(BATCH) {
        return Err(Error::config(
            "--chunk",
            format!("{}: expected a positive multiple of {BATCH}", o.chunk),
        ));
    }
    if crate::data::is_fits(&o.out) == o.out.extension().is_some_and(|e| e == "csv") {
        return Err(Error::config(
            "--out",
            format!("{}: expected a .fits or .csv catalogue", o.out.display()),
        ));
    }
    let mut survey = Survey::open(&o.inputs)?;
    let shape = o.prepare.output(&o.inputs[0], survey.stored)?;
    let rows = shard_rows(survey.rows, o.shard)?;
    let (ids, kept) = ids_and_kept(o, &survey, &rows)?;
    let models: Vec<LoadedModel> = o
        .checkpoints
        .iter()
        .map(|c| load_model(ctx, c))
        .collect::<Result<_>>()?;
    for (m, c) in models.iter().zip(&o.checkpoints) {
        if m.bands != shape[0] {
            return Err(Error::checkpoint(
                c,
                "conv1.weight",
                format!(
                    "the model takes {} bands, the inputs give {} (select bands with --bands)",
                    m.bands, shape[0]
                ),
            ));
        }
    }
    let shape_ds = shape_only(shape);
    let norms: Vec<Normalisation> = match o.norm {
        NormChoice::Input => {
            let n = input_statistics(&mut survey, &o.prepare, shape, o.chunk)?;
            vec![n; models.len()]
        }
        _ => models
            .iter()
            .map(|m| m.normalisation(&o.norm, &shape_ds))
            .collect::<Result<_>>()?,
    };
    let temps: Vec<f64> = models
        .iter()
        .map(|m| if o.calibrated { m.temperature } else { 1.0 })
        .collect();
    let [c, h, w] = shape;
    let per = c * h * w;
    let started = Instant::now();
    let total = rows.len();
    let (mut mean, mut raw, mut spread) = (
        Vec::with_capacity(total),
        Vec::with_capacity(total),
        Vec::new(),
    );
    // A reader thread reads and checks chunk k + 1 from disk while the device runs chunk k.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<f32>>>(1);
    let chunk = o.chunk;
    let (first, end) = (rows.start, rows.end);
    let prep = &o.prepare;
    std::thread::scope(|scope| -> Result<()> {
        let survey = &mut survey;
        scope.spawn(move || {
            let mut at = first;
            while at < end {
                let n = chunk.min(end - at);
                let stored = survey.stored;
                let r = survey.read(at, n).map(|v| prep.apply(stored, &v));
                let failed = r.is_err();
                if tx.send(r).is_err() || failed {
                    return;
                }
                at += n;
            }
        });
        let mut done = 0;
        while done < total {
            let mut images = rx
                .recv()
                .map_err(|_| Error::Invalid("the input reader stopped".into()))??;
            let n = images.len() / per;
            let mut probs: Vec<Vec<f32>> = Vec::with_capacity(models.len());
            let mut raws: Vec<Vec<f32>> = Vec::with_capacity(models.len());
            for (k, ((m, norm), &t)) in models.iter().zip(&norms).zip(&temps).enumerate() {
                m.model.module().set_training(false);
                // The last model normalises the chunk in place (no 138 MB copy per chunk).
                let mut x = if k + 1 == models.len() {
                    std::mem::take(&mut images)
                } else {
                    images.clone()
                };
                norm.apply(&mut x, h * w);
                let mut f = Features::default();
                crate::autograd::no_grad(|| -> Result<()> {
                    for b in x.chunks(BATCH * per) {
                        eval_batch(
                            m.model.as_ref(),
                            ctx,
                            b,
                            [b.len() / per, c, h, w],
                            Keep::Margins,
                            &mut f,
                        )?;
                    }
                    Ok(())
                })?;
                probs.push(if t == 1.0 && !o.calibrated {
                    f.probs.clone()
                } else {
                    f.margins.iter().map(|&mg| calibrated(mg, t)).collect()
                });
                raws.push(f.probs);
            }
            for i in 0..n {
                let k = models.len() as f64;
                let m = probs.iter().map(|p| p[i] as f64).sum::<f64>() / k;
                mean.push(m as f32);
                raw.push((raws.iter().map(|p| p[i] as f64).sum::<f64>() / k) as f32);
                if models.len() > 1 {
                    let var =
                        probs.iter().map(|p| (p[i] as f64 - m).powi(2)).sum::<f64>() / (k - 1.0);
                    spread.push(var.sqrt() as f32);
                }
            }
            done += n;
            progress(done, total);
        }
        Ok(())
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let mut columns = vec![
        Column {
            name: "ID".into(),
            values: ids,
        },
        Column {
            name: "ROW".into(),
            values: Values::I64(rows.clone().map(|r| r as i64).collect()),
        },
        Column {
            name: "P_MERGER".into(),
            values: Values::F32(mean.clone()),
        },
        Column {
            name: "CLASS".into(),
            values: Values::I16(mean.iter().map(|&p| (p >= 0.5) as i16).collect()),
        },
        Column {
            name: "P_MERGER_RAW".into(),
            values: Values::F32(raw),
        },
    ];
    if models.len() > 1 {
        columns.push(Column {
            name: "P_MERGER_STD".into(),
            values: Values::F32(spread),
        });
    }
    columns.extend(kept);
    let first = &models[0];
    let name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let keywords = vec![
        ("CHECKPT".into(), Keyword::Str(name(&o.checkpoints[0]))),
        ("NCHECKPT".into(), Keyword::Int(models.len() as i64)),
        (
            "CFGHASH".into(),
            Keyword::Str(
                first
                    .meta
                    .as_ref()
                    .map(|m| fnv(&m.config))
                    .unwrap_or_default(),
            ),
        ),
        (
            "NORM".into(),
            Keyword::Str(match &o.norm {
                NormChoice::Source => "source".into(),
                NormChoice::Target => "target".into(),
                NormChoice::Input => "input".into(),
                NormChoice::File(p) => name(p),
            }),
        ),
        ("TEMP".into(), Keyword::Float(temps[0])),
        (
            "CALIBRAT".into(),
            Keyword::Str(if o.calibrated { "T" } else { "F" }.into()),
        ),
        ("NROWS".into(), Keyword::Int(survey.rows as i64)),
        (
            "SHARD".into(),
            Keyword::Str(
                o.shard
                    .map(|(i, n)| format!("{i}/{n}"))
                    .unwrap_or_else(|| "0/1".into()),
            ),
        ),
        (
            "TIDALVER".into(),
            Keyword::Str(env!("CARGO_PKG_VERSION").into()),
        ),
    ];
    Table { columns, keywords }.write(&o.out)?;
    Ok(Outcome {
        rows: total,
        seconds,
        images_per_s: total as f64 / seconds.max(1e-9),
    })
}

/// Concatenates shard catalogues in input order (by ROW), checking that every row of the
/// survey (NROWS) is there exactly once; writes `out` atomically.
pub fn merge(shards: &[PathBuf], out: &Path) -> Result<usize> {
    let first = shards
        .first()
        .ok_or_else(|| Error::config("--merge", "no shard given"))?;
    let mut all = Table::read(first)?;
    for s in &shards[1..] {
        all.append(&Table::read(s)?, s)?;
    }
    let rows = match all.column("ROW").map(|c| &c.values) {
        Some(Values::I64(r)) => r.clone(),
        _ => {
            return Err(Error::data(
                first,
                "no integer ROW column: not a tidal predict shard",
            ))
        }
    };
    let expected = all
        .keywords
        .iter()
        .find(|(k, _)| k == "NROWS")
        .and_then(|(_, v)| match v {
            Keyword::Int(n) => Some(*n as usize),
            _ => None,
        })
        .unwrap_or(rows.len());
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&i| rows[i]);
    let mut seen = vec![false; expected];
    for &r in &rows {
        let r = usize::try_from(r)
            .ok()
            .filter(|&r| r < expected)
            .ok_or_else(|| {
                Error::data(
                    first,
                    format!("row {r} outside the survey's {expected} rows"),
                )
            })?;
        if std::mem::replace(&mut seen[r], true) {
            return Err(Error::data(
                first,
                format!("row {r} appears in more than one shard"),
            ));
        }
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        let n = seen.iter().filter(|s| !**s).count();
        return Err(Error::data(
            first,
            format!(
                "{n} of {expected} rows are missing from the shards (the first is row {missing})"
            ),
        ));
    }
    let mut merged = all.take(&order);
    merged.keywords.retain(|(k, _)| k != "SHARD");
    merged.write(out)?;
    Ok(expected)
}
