//! The images of a survey: `.npy` cubes (streamed), FITS cubes (HDU0 N×C×H×W, streamed) and
//! single-object FITS cutouts (C×H×W or H×W×C), read as rows of one image each, as stored,
//! in the order the inputs were given (`data::Prepare` then makes them the model's input).

use crate::data::fits::Cube;
use crate::data::npy::NpyFile;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

pub use crate::data::Layout;

enum Kind {
    Npy(NpyFile),
    Fits(Cube),
    /// One image per file.
    Cutouts(Vec<PathBuf>),
}

struct Source {
    path: PathBuf,
    kind: Kind,
    rows: usize,
}

/// All inputs, as one sequence of rows.
pub struct Survey {
    sources: Vec<Source>,
    /// The shape of every image as stored (C×H×W, or H×W×C for channels-last inputs).
    pub stored: [usize; 3],
    pub rows: usize,
}

/// The stored shape of one image of an array shape (one image, or `rows` of them).
fn image_shape(path: &Path, dims: &[usize], one: bool) -> Result<[usize; 3]> {
    let want = if one { 3 } else { 4 };
    let d = if one {
        dims
    } else {
        dims.get(1..).unwrap_or(&[])
    };
    if dims.len() != want || d.len() != 3 {
        return Err(Error::data(
            path,
            format!(
                "shape {dims:?}: expected {} ({})",
                if one {
                    "C×H×W or H×W×C"
                } else {
                    "N×C×H×W or N×H×W×C"
                },
                if one { "one cutout" } else { "a cube" }
            ),
        ));
    }
    Ok([d[0], d[1], d[2]])
}

impl Survey {
    /// Opens every input (a `.npy` or FITS cube, a FITS cutout, or a directory of cutouts);
    /// every image must have the same stored shape.
    pub fn open(inputs: &[PathBuf]) -> Result<Survey> {
        let mut sources = Vec::new();
        let mut shape: Option<[usize; 3]> = None;
        let mut agree = |path: &Path, s: [usize; 3]| -> Result<()> {
            match shape {
                None => shape = Some(s),
                Some(t) if t != s => {
                    return Err(Error::data(
                        path,
                        format!("images of {s:?}, earlier inputs have {t:?}"),
                    ))
                }
                _ => {}
            }
            Ok(())
        };
        for p in inputs {
            let mut files = Vec::new();
            if p.is_dir() {
                let mut names: Vec<PathBuf> = std::fs::read_dir(p)
                    .map_err(|e| Error::io(p, e))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|f| crate::data::is_fits(f))
                    .collect();
                names.sort();
                if names.is_empty() {
                    return Err(Error::data(p, "a directory without .fits cutouts"));
                }
                files = names;
            }
            if !files.is_empty() {
                let first = Cube::open(&files[0])?;
                agree(&files[0], image_shape(&files[0], &first.shape, true)?)?;
                sources.push(Source {
                    path: p.clone(),
                    rows: files.len(),
                    kind: Kind::Cutouts(files),
                });
            } else if crate::data::is_fits(p) {
                let cube = Cube::open(p)?;
                if cube.shape.len() == 3 {
                    agree(p, image_shape(p, &cube.shape, true)?)?;
                    sources.push(Source {
                        path: p.clone(),
                        rows: 1,
                        kind: Kind::Cutouts(vec![p.clone()]),
                    });
                } else {
                    agree(p, image_shape(p, &cube.shape, false)?)?;
                    sources.push(Source {
                        path: p.clone(),
                        rows: cube.shape[0],
                        kind: Kind::Fits(cube),
                    });
                }
            } else {
                let f = NpyFile::open(p)?;
                if !f.elem.is_float() {
                    return Err(Error::data(
                        p,
                        format!(
                            "images have dtype {}: expected float32 or float64",
                            f.elem.name()
                        ),
                    ));
                }
                agree(p, image_shape(p, &f.shape, false)?)?;
                sources.push(Source {
                    path: p.clone(),
                    rows: f.shape[0],
                    kind: Kind::Npy(f),
                });
            }
        }
        let stored = shape.ok_or_else(|| Error::config("--data", "no input given"))?;
        let rows = sources.iter().map(|s| s.rows).sum();
        Ok(Survey {
            sources,
            stored,
            rows,
        })
    }

    /// The object names of a cutout directory's files (their stems), or `None` when the
    /// inputs are not all cutouts.
    pub fn cutout_names(&self) -> Option<Vec<String>> {
        let mut out = Vec::new();
        for s in &self.sources {
            match &s.kind {
                Kind::Cutouts(files) => out.extend(files.iter().map(|f| {
                    f.file_stem()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                })),
                _ => return None,
            }
        }
        Some(out)
    }

    /// Rows `start .. start + n` of the survey as stored (float32), every pixel checked
    /// finite (an error names the file, the row and the pixel).
    pub fn read(&mut self, start: usize, n: usize) -> Result<Vec<f32>> {
        let per = self.stored.iter().product::<usize>();
        let mut out = Vec::with_capacity(n * per);
        let (mut at, mut first) = (0usize, start);
        let shape = self.stored;
        for s in &mut self.sources {
            if out.len() == n * per {
                break;
            }
            if first >= at + s.rows {
                at += s.rows;
                continue;
            }
            let local = first - at;
            let take = (s.rows - local).min(n - out.len() / per);
            let vals = match &mut s.kind {
                Kind::Npy(f) => f.read_rows(local, take)?,
                Kind::Fits(c) => c.read_rows(local, take)?,
                Kind::Cutouts(files) => {
                    let mut v = Vec::with_capacity(take * per);
                    for f in &files[local..local + take] {
                        let mut c = Cube::open(f)?;
                        if image_shape(f, &c.shape, true)? != shape {
                            return Err(Error::data(
                                f,
                                format!(
                                    "a cutout of {:?}, the others are {shape:?} (C×H×W)",
                                    c.shape
                                ),
                            ));
                        }
                        v.extend(c.read_rows(0, c.shape[0])?);
                    }
                    v
                }
            };
            if let Some(bad) = vals.iter().position(|v| !v.is_finite()) {
                return Err(Error::data(
                    &s.path,
                    format!(
                        "row {} has a non-finite pixel ({})",
                        local + bad / per,
                        vals[bad]
                    ),
                ));
            }
            out.extend_from_slice(&vals);
            first += take;
            at += s.rows;
        }
        Ok(out)
    }
}
