//! The library's error type: every failure a user can cause or meet is a value with the
//! shapes, names and limits that explain it.

use thiserror::Error;

/// The hint printed whenever no GPU adapter is found.
pub const LAVAPIPE_HINT: &str = "no GPU adapter found. On Linux without a GPU install Mesa's software Vulkan driver (lavapipe): sudo apt-get install -y mesa-vulkan-drivers";

#[derive(Debug, Error)]
pub enum Error {
    #[error("{LAVAPIPE_HINT}")]
    NoAdapter,
    #[error("no adapter matches '{query}'; available: {available}")]
    AdapterNotFound { query: String, available: String },
    #[error("unknown backend '{0}' (expected vulkan, metal, dx12 or gl)")]
    UnknownBackend(String),
    #[error("could not open the device on adapter '{adapter}': {source}")]
    RequestDevice {
        adapter: String,
        source: wgpu::RequestDeviceError,
    },
    #[error("shader '{shader}' is invalid:\n{message}")]
    Shader { shader: String, message: String },
    #[error("shader '{shader}' has no entry point '{entry}'")]
    NoEntryPoint { shader: String, entry: String },
    #[error("{op}: shape mismatch: {detail}")]
    Shape { op: &'static str, detail: String },
    #[error("{op}: expected dtype {expected}, got {got}")]
    DType {
        op: &'static str,
        expected: &'static str,
        got: &'static str,
    },
    #[error("buffer of {bytes} bytes exceeds the adapter's max_storage_buffer_binding_size of {limit} bytes")]
    BufferTooLarge { bytes: u64, limit: u64 },
    #[error("reading back from the GPU failed: {0}")]
    Readback(String),
    /// An argument an op or function cannot take (a zero stride, a probability above 1).
    #[error("{0}")]
    Invalid(String),
    /// A setting out of range or unknown: `key` names it (a config key or a flag).
    #[error("{key}: {reason}")]
    Config { key: String, reason: String },
    /// Bad or unreadable data: `path` names the file, `reason` says what was expected.
    #[error("{path}: {reason}")]
    Data { path: String, reason: String },
    /// Training stopped on Ctrl-C or SIGTERM after a step, its checkpoint written.
    #[error("interrupted at step {step} (epoch {epoch}); {checkpoint} written")]
    Interrupted {
        step: u64,
        epoch: usize,
        checkpoint: String,
    },
    /// A loss term (or the weights) became NaN or infinite.
    #[error("loss term '{term}' is {value} at step {step} (epoch {epoch}); {last_good}")]
    NonFinite {
        term: String,
        value: f32,
        step: u64,
        epoch: usize,
        /// Which checkpoint holds the last good state, or that none does.
        last_good: String,
    },
    /// A checkpoint file that cannot be used: `key` names the tensor or metadata entry.
    #[error("{path}: {key}: {reason}")]
    Checkpoint {
        path: String,
        key: String,
        reason: String,
    },
    /// A chart could not be drawn (plotters' message).
    #[error("{path}: drawing failed: {message}")]
    Plot { path: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.display().to_string(),
            source,
        }
    }
    pub fn data(path: &std::path::Path, reason: impl Into<String>) -> Error {
        Error::Data {
            path: path.display().to_string(),
            reason: reason.into(),
        }
    }
    pub fn config(key: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Config {
            key: key.into(),
            reason: reason.into(),
        }
    }
    pub fn checkpoint(
        path: &std::path::Path,
        key: impl Into<String>,
        reason: impl Into<String>,
    ) -> Error {
        Error::Checkpoint {
            path: path.display().to_string(),
            key: key.into(),
            reason: reason.into(),
        }
    }
}
