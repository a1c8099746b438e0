//! FITS in the MAST "deepmerge" layout: HDU0 = images (N,3,75,75 in NumPy order, i.e.
//! NAXIS1 = 75 … NAXIS4 = N), HDU1 = labels (an IMAGE extension of N values, or a BINTABLE
//! whose first column holds them).
//!
//! A small reader and writer of the FITS standard's basic parts (header cards in 2880-byte
//! blocks, big-endian data, BITPIX 8/16/32/64/−32/−64, BSCALE/BZERO, IMAGE and BINTABLE
//! extensions with scalar columns). `fitsrs`, the maintained Rust FITS reader, was not used:
//! it cannot write (the round-trip tests and fixtures need a writer) and pulls an async
//! runtime trait and WCS code this loader does not need.

use crate::error::{Error, Result};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

const BLOCK: usize = 2880;
const CARD: usize = 80;

/// Header blocks read before a missing END is called corruption (2.88 MB of cards).
pub(crate) const BLOCK_SIZE: usize = BLOCK;

const MAX_HEADER_BLOCKS: u64 = 1000;

/// One parsed header (keyword → raw value text, in order).
#[derive(Debug, Clone, Default)]
struct Header {
    cards: Vec<(String, String)>,
}

impl Header {
    fn get(&self, key: &str) -> Option<&str> {
        self.cards
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    fn int(&self, key: &str) -> Option<i64> {
        self.get(key).and_then(|v| v.trim().parse().ok())
    }
    fn float(&self, key: &str) -> Option<f64> {
        self.get(key)
            .and_then(|v| v.trim().replace('D', "E").parse().ok())
    }
    fn string(&self, key: &str) -> Option<String> {
        self.get(key)
            .map(|v| v.trim().trim_matches('\'').trim().to_string())
    }
}

/// One HDU: its header, where its data starts, and its data size.
#[derive(Debug, Clone)]
struct Hdu {
    header: Header,
    data_offset: u64,
    data_len: u64,
    bitpix: i64,
    /// NumPy order (slowest axis first).
    shape: Vec<usize>,
}

fn parse_card(card: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(card);
    let key = text.get(..8).unwrap_or("").trim().to_string();
    let value = if text.get(8..10) == Some("= ") {
        let v = &text[10..];
        // Strip a trailing comment outside quotes.
        let mut in_str = false;
        let mut end = v.len();
        for (i, ch) in v.char_indices() {
            match ch {
                '\'' => in_str = !in_str,
                '/' if !in_str => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        v[..end].trim().to_string()
    } else {
        String::new()
    };
    (key, value)
}

/// Reads every HDU's header of `path` and checks the data fits in the file.
fn scan(path: &Path, file: &mut std::fs::File) -> Result<Vec<Hdu>> {
    let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut hdus = Vec::new();
    let mut pos = 0u64;
    while pos < file_len {
        file.seek(SeekFrom::Start(pos))
            .map_err(|e| Error::io(path, e))?;
        let mut header = Header::default();
        let mut block = vec![0u8; BLOCK];
        let mut ended = false;
        let mut read = 0u64;
        while !ended {
            if read >= MAX_HEADER_BLOCKS * BLOCK as u64 {
                return Err(Error::data(
                    path,
                    format!("HDU{}: no END card in the first {MAX_HEADER_BLOCKS} header blocks (a corrupt header)", hdus.len()),
                ));
            }
            if let Err(e) = file.read_exact(&mut block) {
                if hdus.is_empty() || read > 0 {
                    return Err(Error::data(
                        path,
                        format!("truncated FITS header in HDU{} (expected 2880-byte blocks ending with END): {e}", hdus.len()),
                    ));
                }
                return Ok(hdus);
            }
            read += BLOCK as u64;
            for card in block.chunks(CARD) {
                let (k, v) = parse_card(card);
                if k == "END" {
                    ended = true;
                    break;
                }
                if !k.is_empty() {
                    header.cards.push((k, v));
                }
            }
        }
        if hdus.is_empty() && header.get("SIMPLE").map(str::trim) != Some("T") {
            return Err(Error::data(
                path,
                "not a FITS file: expected SIMPLE = T in the first card",
            ));
        }
        let h = hdus.len();
        let bitpix = header
            .int("BITPIX")
            .ok_or_else(|| Error::data(path, format!("HDU{h} has no BITPIX")))?;
        if ![8, 16, 32, 64, -32, -64].contains(&bitpix) {
            return Err(Error::data(
                path,
                format!("HDU{h} has BITPIX = {bitpix}: expected 8, 16, 32, 64, -32 or -64"),
            ));
        }
        let naxis = header
            .int("NAXIS")
            .ok_or_else(|| Error::data(path, format!("HDU{h} has no NAXIS")))?;
        if !(0..=999).contains(&naxis) {
            return Err(Error::data(
                path,
                format!("HDU{h} has NAXIS = {naxis}: expected 0 to 999"),
            ));
        }
        let mut axes = Vec::with_capacity(naxis as usize);
        for i in 1..=naxis {
            let a = header
                .int(&format!("NAXIS{i}"))
                .ok_or_else(|| Error::data(path, format!("HDU{h} lacks NAXIS{i}")))?;
            if a < 0 {
                return Err(Error::data(
                    path,
                    format!("HDU{h} has NAXIS{i} = {a}: an axis length cannot be negative"),
                ));
            }
            axes.push(a as u64);
        }
        let count = |key: &str, default: i64| -> Result<u64> {
            let v = header.int(key).unwrap_or(default);
            u64::try_from(v).map_err(|_| {
                Error::data(path, format!("HDU{h} has {key} = {v}: expected at least 0"))
            })
        };
        let (pcount, gcount) = (count("PCOUNT", 0)?, count("GCOUNT", 1)?.max(1));
        let overflow = || {
            Error::data(
                path,
                format!("HDU{h}: axes {axes:?} (BITPIX {bitpix}) give a data size beyond 64 bits (a corrupt header)"),
            )
        };
        let elems: u64 = if naxis == 0 {
            0
        } else {
            axes.iter()
                .try_fold(1u64, |a, &d| a.checked_mul(d))
                .ok_or_else(overflow)?
        };
        let data_len = elems
            .checked_add(pcount)
            .and_then(|x| x.checked_mul(gcount))
            .and_then(|x| x.checked_mul(bitpix.unsigned_abs() / 8))
            .ok_or_else(overflow)?;
        let mut axes: Vec<usize> = axes
            .iter()
            .map(|&a| usize::try_from(a).map_err(|_| overflow()))
            .collect::<Result<_>>()?;
        let data_offset = pos + read;
        if data_offset
            .checked_add(data_len)
            .is_none_or(|end| end > file_len)
        {
            return Err(Error::data(
                path,
                format!(
                    "truncated: HDU{} promises {data_len} data bytes (axes {axes:?}, BITPIX {bitpix}) but the file ends {} bytes after its header",
                    hdus.len(),
                    file_len - data_offset
                ),
            ));
        }
        axes.reverse();
        hdus.push(Hdu {
            header,
            data_offset,
            data_len,
            bitpix,
            shape: axes,
        });
        pos = data_offset + data_len.div_ceil(BLOCK as u64) * BLOCK as u64;
    }
    if hdus.is_empty() {
        return Err(Error::data(
            path,
            format!("not a FITS file: {file_len} bytes, no header (expected 2880-byte blocks starting with SIMPLE = T)"),
        ));
    }
    Ok(hdus)
}

fn bitpix_name(bitpix: i64) -> &'static str {
    match bitpix {
        8 => "uint8",
        16 => "int16",
        32 => "int32",
        64 => "int64",
        -32 => "float32",
        -64 => "float64",
        _ => "unknown",
    }
}

/// Decodes `count` big-endian values of `bitpix` starting at the current position.
fn decode(path: &Path, bytes: &[u8], bitpix: i64, scale: f64, zero: f64) -> Result<Vec<f32>> {
    let conv = |raw: f64| (zero + scale * raw) as f32;
    let plain = scale == 1.0 && zero == 0.0;
    Ok(match bitpix {
        -32 if plain => bytes
            .chunks_exact(4)
            .map(|b| f32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        -32 => bytes
            .chunks_exact(4)
            .map(|b| conv(f32::from_be_bytes([b[0], b[1], b[2], b[3]]) as f64))
            .collect(),
        -64 => bytes
            .chunks_exact(8)
            .map(|b| conv(f64::from_be_bytes(b.try_into().unwrap())))
            .collect(),
        8 => bytes.iter().map(|&b| conv(b as f64)).collect(),
        16 => bytes
            .chunks_exact(2)
            .map(|b| conv(i16::from_be_bytes([b[0], b[1]]) as f64))
            .collect(),
        32 => bytes
            .chunks_exact(4)
            .map(|b| conv(i32::from_be_bytes(b.try_into().unwrap()) as f64))
            .collect(),
        64 => bytes
            .chunks_exact(8)
            .map(|b| conv(i64::from_be_bytes(b.try_into().unwrap()) as f64))
            .collect(),
        other => {
            return Err(Error::data(
                path,
                format!("unsupported BITPIX {other}: expected 8, 16, 32, 64, -32 or -64"),
            ))
        }
    })
}

fn read_bytes(path: &Path, file: &mut std::fs::File, offset: u64, len: u64) -> Result<Vec<u8>> {
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| Error::io(path, e))?;
    let mut buf = vec![0u8; len as usize];
    file.read_exact(&mut buf)
        .map_err(|e| Error::data(path, format!("truncated data: {e}")))?;
    Ok(buf)
}

/// The primary image of a FITS file, opened for reading rows (indices of its slowest
/// axis) on demand: a survey cube larger than memory streams through it.
pub struct Cube {
    pub path: std::path::PathBuf,
    /// NumPy order (slowest axis first).
    pub shape: Vec<usize>,
    file: std::fs::File,
    hdu: Hdu,
}

impl Cube {
    pub fn open(path: &Path) -> Result<Cube> {
        let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let hdus = scan(path, &mut file)?;
        let hdu = hdus[0].clone();
        if hdu.shape.is_empty() {
            return Err(Error::data(path, "HDU0 holds no image (NAXIS = 0)"));
        }
        Ok(Cube {
            path: path.to_path_buf(),
            shape: hdu.shape.clone(),
            file,
            hdu,
        })
    }

    /// Rows `start .. start + n` as f32.
    pub fn read_rows(&mut self, start: usize, n: usize) -> Result<Vec<f32>> {
        let row: usize = self.shape.iter().skip(1).product();
        let size = (self.hdu.bitpix.unsigned_abs() / 8) as usize;
        let bytes = read_bytes(
            &self.path,
            &mut self.file,
            self.hdu.data_offset + (start * row * size) as u64,
            (n * row * size) as u64,
        )?;
        decode(
            &self.path,
            &bytes,
            self.hdu.bitpix,
            self.hdu.header.float("BSCALE").unwrap_or(1.0),
            self.hdu.header.float("BZERO").unwrap_or(0.0),
        )
    }
}

fn image_values(path: &Path, file: &mut std::fs::File, hdu: &Hdu) -> Result<Vec<f32>> {
    let bytes = read_bytes(path, file, hdu.data_offset, hdu.data_len)?;
    decode(
        path,
        &bytes,
        hdu.bitpix,
        hdu.header.float("BSCALE").unwrap_or(1.0),
        hdu.header.float("BZERO").unwrap_or(0.0),
    )
}

/// The values of a BINTABLE's first column (scalar columns only).
fn table_first_column(path: &Path, file: &mut std::fs::File, hdu: &Hdu) -> Result<Vec<f32>> {
    // NAXIS1 = bytes per row, NAXIS2 = rows; `shape` holds them validated, slowest first.
    let (rows, row_bytes) = match hdu.shape.as_slice() {
        [rows, row_bytes] => (*rows, *row_bytes),
        other => {
            return Err(Error::data(
                path,
                format!("HDU1 is a BINTABLE with axes {other:?}: expected NAXIS = 2"),
            ))
        }
    };
    let form = hdu.header.string("TFORM1").ok_or_else(|| {
        Error::data(
            path,
            "HDU1 is a BINTABLE without TFORM1: expected a label column",
        )
    })?;
    let code = form.trim_start_matches(|c: char| c.is_ascii_digit());
    let (size, bitpix) = match code.chars().next() {
        Some('E') => (4, -32),
        Some('D') => (8, -64),
        Some('B') | Some('L') => (1, 8),
        Some('I') => (2, 16),
        Some('J') => (4, 32),
        Some('K') => (8, 64),
        _ => {
            return Err(Error::data(
                path,
                format!("HDU1 label column has TFORM1 '{form}': expected a numeric column (E, D, B, L, I, J, K)"),
            ))
        }
    };
    if row_bytes < size {
        return Err(Error::data(
            path,
            format!("HDU1 rows are {row_bytes} bytes, fewer than the {size} of its label column"),
        ));
    }
    let bytes = read_bytes(path, file, hdu.data_offset, (row_bytes * rows) as u64)?;
    let mut col = Vec::with_capacity(rows * size);
    for r in 0..rows {
        col.extend_from_slice(&bytes[r * row_bytes..r * row_bytes + size]);
    }
    let scale = hdu.header.float("TSCAL1").unwrap_or(1.0);
    let zero = hdu.header.float("TZERO1").unwrap_or(0.0);
    let mut v = decode(path, &col, bitpix, scale, zero)?;
    if code.starts_with('L') {
        // Logical: 'T' = true.
        v = col.iter().map(|&b| (b == b'T') as u8 as f32).collect();
    }
    Ok(v)
}

/// Images (and HDU1 labels) of a MAST-layout file.
#[derive(Debug, Clone)]
pub struct FitsData {
    pub shape: Vec<usize>,
    pub images: Vec<f32>,
    pub labels: Option<Vec<u8>>,
}

fn labels_from_values(path: &Path, vals: &[f32], n: usize) -> Result<Vec<u8>> {
    if vals.len() != n {
        return Err(Error::data(
            path,
            format!(
                "HDU1 holds {} labels but HDU0 holds {n} images: expected {n} labels",
                vals.len()
            ),
        ));
    }
    vals.iter()
        .enumerate()
        .map(|(i, &v)| {
            if v == 0.0 || v == 1.0 {
                Ok(v as u8)
            } else {
                Err(Error::data(
                    path,
                    format!("label {i} in HDU1 is {v}: expected 0 or 1"),
                ))
            }
        })
        .collect()
}

/// Reads HDU0's images (float32/float64, 4-D) and, when `want_labels`, HDU1's labels.
pub fn read(path: &Path, want_labels: bool) -> Result<FitsData> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let hdus = scan(path, &mut file)?;
    let h0 = &hdus[0];
    if h0.bitpix != -32 && h0.bitpix != -64 {
        return Err(Error::data(
            path,
            format!(
                "HDU0 images have BITPIX {} ({}): expected -32 (float32) or -64 (float64)",
                h0.bitpix,
                bitpix_name(h0.bitpix)
            ),
        ));
    }
    if h0.shape.len() != 4 {
        return Err(Error::data(
            path,
            format!(
                "HDU0 images have shape {:?}: expected 4-D N×C×H×W (NAXIS = 4)",
                h0.shape
            ),
        ));
    }
    let images = image_values(path, &mut file, h0)?;
    let labels = if want_labels {
        let h1 = hdus.get(1).ok_or_else(|| {
            Error::data(
                path,
                "no HDU1: expected labels in HDU1 (the MAST layout) or a separate labels file",
            )
        })?;
        let vals = hdu_values(path, &mut file, h1)?;
        Some(labels_from_values(path, &vals, h0.shape[0])?)
    } else {
        None
    };
    Ok(FitsData {
        shape: h0.shape.clone(),
        images,
        labels,
    })
}

fn hdu_values(path: &Path, file: &mut std::fs::File, hdu: &Hdu) -> Result<Vec<f32>> {
    if hdu.header.string("XTENSION").as_deref() == Some("BINTABLE") {
        table_first_column(path, file, hdu)
    } else {
        image_values(path, file, hdu)
    }
}

/// Labels from a FITS file: HDU1 if present (MAST layout), else the primary array.
pub fn read_labels(path: &Path) -> Result<Vec<f32>> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let hdus = scan(path, &mut file)?;
    let hdu = if hdus.len() > 1 { &hdus[1] } else { &hdus[0] };
    hdu_values(path, &mut file, hdu)
}

/// Any FITS file's first data-bearing HDU, for `inspect`.
pub struct AnyFits {
    pub shape: Vec<usize>,
    pub dtype: String,
    pub values: Vec<f32>,
}

pub fn read_any(path: &Path) -> Result<AnyFits> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let hdus = scan(path, &mut file)?;
    let hdu = hdus
        .iter()
        .find(|h| h.data_len > 0)
        .unwrap_or(&hdus[0])
        .clone();
    let values = hdu_values(path, &mut file, &hdu)?;
    let shape = if hdu.header.string("XTENSION").as_deref() == Some("BINTABLE") {
        vec![values.len()]
    } else {
        hdu.shape.clone()
    };
    Ok(AnyFits {
        shape,
        dtype: format!("BITPIX {} ({})", hdu.bitpix, bitpix_name(hdu.bitpix)),
        values,
    })
}

pub(crate) fn header_block(cards: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for c in cards {
        let mut b = format!("{c:<80}").into_bytes();
        b.truncate(CARD);
        out.extend_from_slice(&b);
    }
    out.extend_from_slice(format!("{:<80}", "END").as_bytes());
    while !out.len().is_multiple_of(BLOCK) {
        out.push(b' ');
    }
    out
}

/// A fixed-format card with a number or logical value (right-justified to column 30).
pub(crate) fn card(key: &str, value: &str) -> String {
    format!("{key:<8}= {value:>20}")
}

/// A fixed-format card with a string value: the quote in column 11, at least 8 characters
/// inside, quotes doubled (the FITS standard's form, which every reader accepts).
pub(crate) fn str_card(key: &str, value: &str) -> String {
    let v: String = value
        .chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control())
        .collect::<String>()
        .replace('\'', "''");
    let mut c = format!("{key:<8}= '{v:<8}'");
    c.truncate(CARD);
    c
}

fn image_hdu(primary: bool, shape: &[usize], data: &[f32]) -> Vec<u8> {
    let mut cards = vec![if primary {
        card("SIMPLE", "T")
    } else {
        str_card("XTENSION", "IMAGE")
    }];
    cards.push(card("BITPIX", "-32"));
    cards.push(card("NAXIS", &shape.len().to_string()));
    for (i, d) in shape.iter().rev().enumerate() {
        cards.push(card(&format!("NAXIS{}", i + 1), &d.to_string()));
    }
    if primary {
        cards.push(card("EXTEND", "T"));
    } else {
        cards.push(card("PCOUNT", "0"));
        cards.push(card("GCOUNT", "1"));
    }
    let mut out = header_block(&cards);
    for v in data {
        out.extend_from_slice(&v.to_be_bytes());
    }
    while !out.len().is_multiple_of(BLOCK) {
        out.push(0);
    }
    out
}

/// Writes a MAST-layout file: HDU0 = float32 images of `shape` (N,C,H,W), HDU1 = float32
/// labels (an IMAGE extension of N values), atomically.
pub fn write(path: &Path, shape: &[usize], images: &[f32], labels: Option<&[u8]>) -> Result<()> {
    let mut bytes = image_hdu(true, shape, images);
    if let Some(l) = labels {
        let vals: Vec<f32> = l.iter().map(|&v| v as f32).collect();
        bytes.extend(image_hdu(false, &[l.len()], &vals));
    }
    crate::atomic::write(path, &bytes)
}

/// The first BINTABLE of a FITS file as a table (scalar columns of forms A, B, I, J, K, E
/// and D; J and B read as 64-bit integers), with its non-structural keywords.
pub fn read_table(path: &Path) -> Result<super::table::Table> {
    use super::table::{Column, Keyword, Table, Values};
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let hdus = scan(path, &mut file)?;
    let hdu = hdus
        .iter()
        .find(|h| h.header.string("XTENSION").as_deref() == Some("BINTABLE"))
        .ok_or_else(|| Error::data(path, "no BINTABLE extension: expected a catalogue table"))?
        .clone();
    let (rows, row_bytes) = match hdu.shape.as_slice() {
        [r, b] => (*r, *b),
        other => {
            return Err(Error::data(
                path,
                format!("the BINTABLE has axes {other:?}: expected NAXIS = 2"),
            ))
        }
    };
    let fields = hdu.header.int("TFIELDS").unwrap_or(0);
    if !(0..=999).contains(&fields) {
        return Err(Error::data(
            path,
            format!("TFIELDS = {fields}: expected 0 to 999"),
        ));
    }
    let bytes = read_bytes(path, &mut file, hdu.data_offset, (rows * row_bytes) as u64)?;
    let mut columns = Vec::new();
    let mut at = 0usize;
    for i in 1..=fields {
        let name = hdu
            .header
            .string(&format!("TTYPE{i}"))
            .unwrap_or_else(|| format!("COL{i}"));
        let form = hdu
            .header
            .string(&format!("TFORM{i}"))
            .ok_or_else(|| Error::data(path, format!("column {i} has no TFORM{i}")))?;
        let digits: String = form.chars().take_while(|c| c.is_ascii_digit()).collect();
        let repeat: usize = if digits.is_empty() {
            1
        } else {
            digits.parse().unwrap_or(0)
        };
        let code = form[digits.len()..].chars().next().unwrap_or(' ');
        let size = match code {
            'A' | 'B' | 'L' => 1,
            'I' => 2,
            'J' | 'E' => 4,
            'K' | 'D' => 8,
            _ => 0,
        };
        if size == 0 || (code != 'A' && repeat != 1) {
            return Err(Error::data(
                path,
                format!("column {name} has TFORM '{form}': expected a scalar A, B, I, J, K, E or D column"),
            ));
        }
        let width = size * repeat;
        if at + width > row_bytes {
            return Err(Error::data(
                path,
                format!("column {name} ends past the {row_bytes}-byte rows"),
            ));
        }
        let cell = |r: usize| &bytes[r * row_bytes + at..r * row_bytes + at + width];
        let values = match code {
            'A' => Values::Str(
                (0..rows)
                    .map(|r| {
                        String::from_utf8_lossy(cell(r))
                            .trim_end_matches(['\0', ' '])
                            .to_string()
                    })
                    .collect(),
            ),
            'B' | 'L' => Values::I64((0..rows).map(|r| cell(r)[0] as i64).collect()),
            'I' => Values::I16(
                (0..rows)
                    .map(|r| i16::from_be_bytes(cell(r).try_into().expect("2 bytes")))
                    .collect(),
            ),
            'J' => Values::I64(
                (0..rows)
                    .map(|r| i32::from_be_bytes(cell(r).try_into().expect("4 bytes")) as i64)
                    .collect(),
            ),
            'K' => Values::I64(
                (0..rows)
                    .map(|r| i64::from_be_bytes(cell(r).try_into().expect("8 bytes")))
                    .collect(),
            ),
            'E' => Values::F32(
                (0..rows)
                    .map(|r| f32::from_be_bytes(cell(r).try_into().expect("4 bytes")))
                    .collect(),
            ),
            _ => Values::F64(
                (0..rows)
                    .map(|r| f64::from_be_bytes(cell(r).try_into().expect("8 bytes")))
                    .collect(),
            ),
        };
        at += width;
        columns.push(Column { name, values });
    }
    let structural = |k: &str| {
        ["XTENSION", "BITPIX", "NAXIS", "PCOUNT", "GCOUNT", "TFIELDS"].contains(&k)
            || k.starts_with("NAXIS")
            || k.starts_with("TTYPE")
            || k.starts_with("TFORM")
    };
    let keywords = hdu
        .header
        .cards
        .iter()
        .filter(|(k, _)| !structural(k))
        .map(|(k, v)| {
            let v = v.trim();
            let kw = if let Some(s) = v.strip_prefix('\'') {
                Keyword::Str(
                    s.trim_end_matches('\'')
                        .replace("''", "'")
                        .trim_end()
                        .to_string(),
                )
            } else if let Ok(i) = v.parse() {
                Keyword::Int(i)
            } else if let Ok(f) = v.parse() {
                Keyword::Float(f)
            } else {
                Keyword::Str(v.to_string())
            };
            (k.clone(), kw)
        })
        .collect();
    Ok(Table { columns, keywords })
}
