//! Catalogues: tables of named columns written as FITS binary tables (BINTABLE, the form
//! astropy's `Table.read` and TOPCAT open) or CSV, and read back from either (merging
//! shards, reading object IDs and columns to pass through from an input catalogue).

use super::fits::{card, header_block, str_card, BLOCK_SIZE};
use crate::error::{Error, Result};
use std::path::Path;

/// One column's values.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Fixed-width ASCII strings (FITS `nA`).
    Str(Vec<String>),
    /// 64-bit integers (FITS `K`).
    I64(Vec<i64>),
    /// 16-bit integers (FITS `I`).
    I16(Vec<i16>),
    /// float32 (FITS `E`).
    F32(Vec<f32>),
    /// float64 (FITS `D`).
    F64(Vec<f64>),
}

impl Values {
    pub fn len(&self) -> usize {
        match self {
            Values::Str(v) => v.len(),
            Values::I64(v) => v.len(),
            Values::I16(v) => v.len(),
            Values::F32(v) => v.len(),
            Values::F64(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Row `i` as CSV text.
    fn text(&self, i: usize) -> String {
        match self {
            Values::Str(v) => csv_quote(&v[i]),
            Values::I64(v) => v[i].to_string(),
            Values::I16(v) => v[i].to_string(),
            Values::F32(v) => format!("{:.6}", v[i]),
            Values::F64(v) => v[i].to_string(),
        }
    }
    /// The rows `order` of this column.
    pub fn take(&self, order: &[usize]) -> Values {
        match self {
            Values::Str(v) => Values::Str(order.iter().map(|&i| v[i].clone()).collect()),
            Values::I64(v) => Values::I64(order.iter().map(|&i| v[i]).collect()),
            Values::I16(v) => Values::I16(order.iter().map(|&i| v[i]).collect()),
            Values::F32(v) => Values::F32(order.iter().map(|&i| v[i]).collect()),
            Values::F64(v) => Values::F64(order.iter().map(|&i| v[i]).collect()),
        }
    }
    /// This column followed by `other` (of the same type).
    fn append(&mut self, other: &Values) -> bool {
        match (self, other) {
            (Values::Str(a), Values::Str(b)) => a.extend_from_slice(b),
            (Values::I64(a), Values::I64(b)) => a.extend_from_slice(b),
            (Values::I16(a), Values::I16(b)) => a.extend_from_slice(b),
            (Values::F32(a), Values::F32(b)) => a.extend_from_slice(b),
            (Values::F64(a), Values::F64(b)) => a.extend_from_slice(b),
            _ => return false,
        }
        true
    }
}

/// A named column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub values: Values,
}

/// Columns of equal length, and header keywords (FITS) or a comment line (CSV).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    pub columns: Vec<Column>,
    /// (keyword, value): numbers as text, strings quoted by the writer.
    pub keywords: Vec<(String, Keyword)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Keyword {
    Str(String),
    Int(i64),
    Float(f64),
}

/// Longest string an ID or string column may hold (bytes).
pub const MAX_STR: usize = 64;

fn csv_quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

impl Table {
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, |c| c.values.len())
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// Appends the rows of `other` (same column names and types, in order).
    pub fn append(&mut self, other: &Table, path: &Path) -> Result<()> {
        let names = |t: &Table| t.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        if names(self) != names(other) {
            return Err(Error::data(
                path,
                format!(
                    "columns {:?}, the first file has {:?}",
                    names(other),
                    names(self)
                ),
            ));
        }
        for (a, b) in self.columns.iter_mut().zip(&other.columns) {
            if !a.values.append(&b.values) {
                return Err(Error::data(
                    path,
                    format!("column {} has another type", b.name),
                ));
            }
        }
        Ok(())
    }

    /// The rows `order`.
    pub fn take(&self, order: &[usize]) -> Table {
        Table {
            columns: self
                .columns
                .iter()
                .map(|c| Column {
                    name: c.name.clone(),
                    values: c.values.take(order),
                })
                .collect(),
            keywords: self.keywords.clone(),
        }
    }

    /// Writes `.fits` (BINTABLE) or `.csv` by the extension, atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let bytes = if super::is_fits(path) {
            self.fits_bytes(path)?
        } else {
            self.csv_bytes().into_bytes()
        };
        crate::atomic::write(path, &bytes)
    }

    fn csv_bytes(&self) -> String {
        let mut s = String::new();
        if !self.keywords.is_empty() {
            let kv: Vec<String> = self
                .keywords
                .iter()
                .map(|(k, v)| match v {
                    Keyword::Str(x) => format!("{k}={x}"),
                    Keyword::Int(x) => format!("{k}={x}"),
                    Keyword::Float(x) => format!("{k}={x}"),
                })
                .collect();
            s.push_str(&format!("# {}\n", kv.join("; ").replace('\n', " ")));
        }
        let names: Vec<String> = self.columns.iter().map(|c| csv_quote(&c.name)).collect();
        s.push_str(&names.join(","));
        s.push('\n');
        for i in 0..self.rows() {
            let row: Vec<String> = self.columns.iter().map(|c| c.values.text(i)).collect();
            s.push_str(&row.join(","));
            s.push('\n');
        }
        s
    }

    fn fits_bytes(&self, path: &Path) -> Result<Vec<u8>> {
        let rows = self.rows();
        let mut forms = Vec::new();
        for c in &self.columns {
            if c.values.len() != rows {
                return Err(Error::data(
                    path,
                    format!("column {} has {} rows, not {rows}", c.name, c.values.len()),
                ));
            }
            forms.push(match &c.values {
                Values::Str(v) => {
                    let w = v.iter().map(String::len).max().unwrap_or(0).max(1);
                    if w > MAX_STR {
                        return Err(Error::data(
                            path,
                            format!("column {}: strings of {w} bytes, at most {MAX_STR}", c.name),
                        ));
                    }
                    (format!("{w}A"), w)
                }
                Values::I64(_) => ("1K".into(), 8),
                Values::I16(_) => ("1I".into(), 2),
                Values::F32(_) => ("1E".into(), 4),
                Values::F64(_) => ("1D".into(), 8),
            });
        }
        let row_bytes: usize = forms.iter().map(|f| f.1).sum();
        let mut out = header_block(&[
            card("SIMPLE", "T"),
            card("BITPIX", "8"),
            card("NAXIS", "0"),
            card("EXTEND", "T"),
        ]);
        let mut cards = vec![
            str_card("XTENSION", "BINTABLE"),
            card("BITPIX", "8"),
            card("NAXIS", "2"),
            card("NAXIS1", &row_bytes.to_string()),
            card("NAXIS2", &rows.to_string()),
            card("PCOUNT", "0"),
            card("GCOUNT", "1"),
            card("TFIELDS", &self.columns.len().to_string()),
        ];
        for (i, (c, f)) in self.columns.iter().zip(&forms).enumerate() {
            cards.push(str_card(&format!("TTYPE{}", i + 1), &c.name));
            cards.push(str_card(&format!("TFORM{}", i + 1), &f.0));
        }
        for (k, v) in &self.keywords {
            let key: String = k.to_ascii_uppercase().chars().take(8).collect();
            cards.push(match v {
                Keyword::Str(x) => str_card(&key, x),
                Keyword::Int(x) => card(&key, &x.to_string()),
                Keyword::Float(x) => card(&key, &format!("{x:E}")),
            });
        }
        out.extend(header_block(&cards));
        let start = out.len();
        for i in 0..rows {
            for (c, f) in self.columns.iter().zip(&forms) {
                match &c.values {
                    Values::Str(v) => {
                        let mut b = v[i].as_bytes().to_vec();
                        b.resize(f.1, b' ');
                        out.extend_from_slice(&b);
                    }
                    Values::I64(v) => out.extend_from_slice(&v[i].to_be_bytes()),
                    Values::I16(v) => out.extend_from_slice(&v[i].to_be_bytes()),
                    Values::F32(v) => out.extend_from_slice(&v[i].to_be_bytes()),
                    Values::F64(v) => out.extend_from_slice(&v[i].to_be_bytes()),
                }
            }
        }
        debug_assert_eq!(out.len() - start, rows * row_bytes);
        while !out.len().is_multiple_of(BLOCK_SIZE) {
            out.push(0);
        }
        Ok(out)
    }

    /// Reads a table written by `write` (or any FITS BINTABLE of scalar A/K/J/I/E/D columns,
    /// or a CSV file with a header line: numeric columns become f64, others strings).
    pub fn read(path: &Path) -> Result<Table> {
        if super::is_fits(path) {
            super::fits::read_table(path)
        } else {
            read_csv(path)
        }
    }
}

/// Splits one CSV line into fields (double quotes group and escape).
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn read_csv(path: &Path) -> Result<Table> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty());
    let (_, header) = lines
        .next()
        .ok_or_else(|| Error::data(path, "empty: expected a header line of column names"))?;
    let names: Vec<String> = csv_fields(header)
        .into_iter()
        .map(|n| n.trim().to_string())
        .collect();
    let mut cells: Vec<Vec<String>> = vec![Vec::new(); names.len()];
    for (i, l) in lines {
        let f = csv_fields(l);
        if f.len() != names.len() {
            return Err(Error::data(
                path,
                format!(
                    "line {}: {} fields, the header has {}",
                    i + 1,
                    f.len(),
                    names.len()
                ),
            ));
        }
        for (c, v) in cells.iter_mut().zip(f) {
            c.push(v.trim().to_string());
        }
    }
    let columns = names
        .into_iter()
        .zip(cells)
        .map(|(name, vals)| {
            let ints: Option<Vec<i64>> = vals.iter().map(|v| v.parse().ok()).collect();
            let floats: Option<Vec<f64>> = vals.iter().map(|v| v.parse().ok()).collect();
            let values = match (ints, floats) {
                (Some(i), _) if !vals.is_empty() => Values::I64(i),
                (_, Some(f)) if !vals.is_empty() => Values::F64(f),
                _ => Values::Str(vals),
            };
            Column { name, values }
        })
        .collect();
    Ok(Table {
        columns,
        keywords: Vec::new(),
    })
}
