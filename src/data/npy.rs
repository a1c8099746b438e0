//! NumPy `.npy` files: header parsing and writing through `npyz`, data read in chunks
//! (little-endian numbers only, C order), so files larger than memory can be streamed.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;

/// Element types tidal reads (all little-endian; one-byte types have no byte order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem {
    F32,
    F64,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    Bool,
}

impl Elem {
    fn from_descr(d: &str) -> Option<Elem> {
        Some(match d {
            "<f4" => Elem::F32,
            "<f8" => Elem::F64,
            "|i1" | "<i1" => Elem::I8,
            "<i2" => Elem::I16,
            "<i4" => Elem::I32,
            "<i8" => Elem::I64,
            "|u1" | "<u1" => Elem::U8,
            "<u2" => Elem::U16,
            "<u4" => Elem::U32,
            "<u8" => Elem::U64,
            "|b1" => Elem::Bool,
            _ => return None,
        })
    }

    pub fn size(self) -> usize {
        match self {
            Elem::I8 | Elem::U8 | Elem::Bool => 1,
            Elem::I16 | Elem::U16 => 2,
            Elem::F32 | Elem::I32 | Elem::U32 => 4,
            Elem::F64 | Elem::I64 | Elem::U64 => 8,
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, Elem::F32 | Elem::F64)
    }

    /// The NumPy name (`float32`, `int64`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Elem::F32 => "float32",
            Elem::F64 => "float64",
            Elem::I8 => "int8",
            Elem::I16 => "int16",
            Elem::I32 => "int32",
            Elem::I64 => "int64",
            Elem::U8 => "uint8",
            Elem::U16 => "uint16",
            Elem::U32 => "uint32",
            Elem::U64 => "uint64",
            Elem::Bool => "bool",
        }
    }

    /// Decodes one little-endian element as f64.
    fn decode(self, b: &[u8]) -> f64 {
        match self {
            Elem::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
            Elem::F64 => f64::from_le_bytes(b[..8].try_into().unwrap()),
            Elem::I8 => b[0] as i8 as f64,
            Elem::I16 => i16::from_le_bytes([b[0], b[1]]) as f64,
            Elem::I32 => i32::from_le_bytes(b[..4].try_into().unwrap()) as f64,
            Elem::I64 => i64::from_le_bytes(b[..8].try_into().unwrap()) as f64,
            Elem::U8 | Elem::Bool => b[0] as f64,
            Elem::U16 => u16::from_le_bytes([b[0], b[1]]) as f64,
            Elem::U32 => u32::from_le_bytes(b[..4].try_into().unwrap()) as f64,
            Elem::U64 => u64::from_le_bytes(b[..8].try_into().unwrap()) as f64,
        }
    }
}

/// Largest `.npy` header accepted (real ones are under 1 KiB).
const MAX_HEADER: u64 = 1 << 16;

/// Reads the magic, version and header length, refusing a header too long to be real before
/// anything allocates for it, then rewinds.
fn check_header_size(path: &Path, file: &mut File, file_len: u64) -> Result<()> {
    let mut pre = [0u8; 12];
    let n = file.read(&mut pre).map_err(|e| Error::io(path, e))?;
    file.rewind().map_err(|e| Error::io(path, e))?;
    if n < 10 || &pre[..6] != b"\x93NUMPY" {
        return Err(Error::data(
            path,
            "not a NumPy .npy file (expected the \\x93NUMPY magic and a header)",
        ));
    }
    let len = match pre[6] {
        1 => u16::from_le_bytes([pre[8], pre[9]]) as u64,
        _ if n >= 12 => u32::from_le_bytes([pre[8], pre[9], pre[10], pre[11]]) as u64,
        _ => return Err(Error::data(path, "truncated .npy header")),
    };
    if len > MAX_HEADER || len > file_len {
        return Err(Error::data(
            path,
            format!("the .npy header claims {len} bytes (the file has {file_len}; at most {MAX_HEADER} accepted)"),
        ));
    }
    Ok(())
}

/// An open `.npy` file positioned at its data, header checked against the file length.
pub struct NpyFile {
    pub path: std::path::PathBuf,
    pub shape: Vec<usize>,
    pub elem: Elem,
    /// Byte offset of the data.
    offset: u64,
    reader: BufReader<File>,
}

impl NpyFile {
    /// Opens `path` and checks: a readable header, a supported little-endian dtype, C order,
    /// and at least as many data bytes as the shape needs (else "truncated").
    pub fn open(path: &Path) -> Result<NpyFile> {
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        check_header_size(path, &mut file, file_len)?;
        let header = npyz::NpyHeader::from_reader(&mut file).map_err(|e| {
            Error::data(
                path,
                format!("not a readable NumPy .npy file (expected the \\x93NUMPY magic and a header): {e}"),
            )
        })?;
        let offset = file.stream_position().map_err(|e| Error::io(path, e))?;
        let descr = match header.dtype() {
            npyz::DType::Plain(ts) => ts.to_string(),
            other => {
                return Err(Error::data(
                    path,
                    format!("unsupported dtype {}: expected a plain little-endian number type (float32/float64 images, int or float labels)", other.descr()),
                ))
            }
        };
        let elem = Elem::from_descr(&descr).ok_or_else(|| {
            Error::data(
                path,
                format!("unsupported dtype '{descr}': expected little-endian float32 ('<f4') or float64 ('<f8') images, int/float/bool labels"),
            )
        })?;
        if header.order() != npyz::Order::C && header.shape().iter().filter(|&&d| d > 1).count() > 1
        {
            return Err(Error::data(
                path,
                "array is in Fortran order: expected C order (numpy.ascontiguousarray before saving)",
            ));
        }
        let shape: Vec<usize> = header
            .shape()
            .iter()
            .map(|&d| usize::try_from(d).ok())
            .collect::<Option<_>>()
            .ok_or_else(|| {
                Error::data(
                    path,
                    format!("shape {:?} does not fit this machine", header.shape()),
                )
            })?;
        let need = shape
            .iter()
            .try_fold(elem.size() as u64, |a, &d| a.checked_mul(d as u64))
            .ok_or_else(|| {
                Error::data(
                    path,
                    format!(
                        "shape {shape:?}: the element count overflows 64 bits (a corrupt header)"
                    ),
                )
            })?;
        let have = file_len.saturating_sub(offset);
        if have < need {
            return Err(Error::data(
                path,
                format!(
                    "truncated: the header promises shape {shape:?} of {} ({need} data bytes) but the file holds {have}",
                    elem.name()
                ),
            ));
        }
        Ok(NpyFile {
            path: path.to_path_buf(),
            shape,
            elem,
            offset,
            reader: BufReader::with_capacity(1 << 20, file),
        })
    }

    /// Element count (checked against the file's length when opened, so no overflow).
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Streams every element as f32 in chunks of up to `chunk` values (C order). `f` gets the
    /// index of the first element of each chunk.
    pub fn for_each_chunk(
        mut self,
        chunk: usize,
        mut f: impl FnMut(usize, &[f32]) -> Result<()>,
    ) -> Result<()> {
        let total = self.len();
        let size = self.elem.size();
        let mut bytes = vec![0u8; chunk.max(1) * size];
        let mut vals = Vec::with_capacity(chunk.max(1));
        let mut at = 0;
        while at < total {
            let m = (total - at).min(chunk.max(1));
            let buf = &mut bytes[..m * size];
            self.reader.read_exact(buf).map_err(|e| {
                Error::data(
                    &self.path,
                    format!("truncated or unreadable data at element {at} of {total}: {e}"),
                )
            })?;
            vals.clear();
            if self.elem == Elem::F32 {
                vals.extend(
                    buf.chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                );
            } else {
                vals.extend(buf.chunks_exact(size).map(|b| self.elem.decode(b) as f32));
            }
            f(at, &vals)?;
            at += m;
        }
        Ok(())
    }

    /// Reads rows `start .. start + n` (a row = the elements of one index of the first axis)
    /// as f32, for streaming a file larger than memory in any order; an error names the file
    /// and the byte offset where the data ran out.
    pub fn read_rows(&mut self, start: usize, n: usize) -> Result<Vec<f32>> {
        let row: usize = self.shape.iter().skip(1).product();
        let size = self.elem.size();
        let at = self.offset + (start * row * size) as u64;
        self.reader
            .seek(std::io::SeekFrom::Start(at))
            .map_err(|e| Error::io(&self.path, e))?;
        let mut buf = vec![0u8; n * row * size];
        let mut got = 0;
        while got < buf.len() {
            match self.reader.read(&mut buf[got..]) {
                Ok(0) => {
                    return Err(Error::data(
                        &self.path,
                        format!(
                            "truncated: the data ends at byte {}, inside row {} (rows {start}..{} asked for)",
                            at + got as u64,
                            start + got / (row * size).max(1),
                            start + n
                        ),
                    ))
                }
                Ok(k) => got += k,
                Err(e) => return Err(Error::io(&self.path, e)),
            }
        }
        Ok(if self.elem == Elem::F32 {
            buf.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        } else {
            buf.chunks_exact(size)
                .map(|b| self.elem.decode(b) as f32)
                .collect()
        })
    }

    /// Reads all elements as f32.
    pub fn read_all_f32(self) -> Result<Vec<f32>> {
        let mut out = Vec::with_capacity(self.len());
        self.for_each_chunk(1 << 18, |_, v| {
            out.extend_from_slice(v);
            Ok(())
        })?;
        Ok(out)
    }
}

/// Writes `data` (C order, `shape`) as a little-endian float32 `.npy` file, atomically
/// (`crate::atomic`).
pub fn write_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    crate::atomic::write_with(path, |w| {
        let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
        use npyz::WriterBuilder;
        let mut npy = npyz::WriteOptions::<f32>::new()
            .dtype(npyz::DType::Plain(
                "<f4".parse().expect("valid type string"),
            ))
            .shape(&shape)
            .writer(w)
            .begin_nd()?;
        npy.extend(data.iter().copied())?;
        npy.finish()
    })
}

/// Writes labels as a little-endian float32 `.npy` vector (the published files' layout),
/// atomically.
pub fn write_labels(path: &Path, labels: &[u8]) -> Result<()> {
    let vals: Vec<f32> = labels.iter().map(|&l| l as f32).collect();
    write_f32(path, &[labels.len()], &vals)
}
