//! Adapter discovery and choice: `--adapter <index|name substring>`, `--backend`,
//! or the `TIDAL_ADAPTER` / `TIDAL_BACKEND` environment variables.

use crate::error::{Error, Result};

/// Which adapter to open. Empty fields mean "the first suitable one".
#[derive(Debug, Clone, Default)]
pub struct AdapterChoice {
    /// An index into the list `tidal info` prints, or a case-insensitive name substring.
    pub adapter: Option<String>,
    /// vulkan, metal, dx12 or gl.
    pub backend: Option<String>,
}

impl AdapterChoice {
    pub fn from_env() -> AdapterChoice {
        AdapterChoice {
            adapter: std::env::var("TIDAL_ADAPTER")
                .ok()
                .filter(|s| !s.is_empty()),
            backend: std::env::var("TIDAL_BACKEND")
                .ok()
                .filter(|s| !s.is_empty()),
        }
    }

    /// Flags win over the environment.
    pub fn with_env_fallback(adapter: Option<String>, backend: Option<String>) -> AdapterChoice {
        let env = AdapterChoice::from_env();
        AdapterChoice {
            adapter: adapter.or(env.adapter),
            backend: backend.or(env.backend),
        }
    }
}

pub fn parse_backend(s: &str) -> Result<wgpu::Backends> {
    match s.to_ascii_lowercase().as_str() {
        "vulkan" | "vk" => Ok(wgpu::Backends::VULKAN),
        "metal" | "mtl" => Ok(wgpu::Backends::METAL),
        "dx12" | "d3d12" => Ok(wgpu::Backends::DX12),
        "gl" | "gles" | "opengl" => Ok(wgpu::Backends::GL),
        _ => Err(Error::UnknownBackend(s.to_string())),
    }
}

/// What `tidal info` prints for one adapter.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AdapterSummary {
    pub index: usize,
    pub name: String,
    pub vendor: u32,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub driver_info: String,
    pub max_storage_buffer_binding_size: u64,
    pub max_compute_workgroup_size: [u32; 3],
    pub max_compute_invocations_per_workgroup: u32,
    pub max_compute_workgroup_storage_size: u32,
    /// f16 in shaders (`SHADER_F16`).
    pub shader_f16: bool,
    /// The cooperative-matrix configurations the adapter lists (empty without the
    /// experimental feature), as `MxNxK ab->cr`.
    pub cooperative_matrix: Vec<String>,
}

/// One wgpu instance per backend set for the whole process. Creating an instance per
/// context (as one context per test thread did) exhausted the NVIDIA driver after ~30
/// instances ("no adapter") and hung when 16 threads created them at once.
fn instance(backends: wgpu::Backends) -> wgpu::Instance {
    static INSTANCES: std::sync::Mutex<Vec<(wgpu::Backends, wgpu::Instance)>> =
        std::sync::Mutex::new(Vec::new());
    let mut all = INSTANCES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, i)) = all.iter().find(|(b, _)| *b == backends) {
        return i.clone();
    }
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends;
    let i = wgpu::Instance::new(desc);
    all.push((backends, i.clone()));
    i
}

/// Every adapter wgpu finds, in a stable order: discrete GPUs, integrated, virtual, CPU, other.
fn enumerate(backends: wgpu::Backends) -> Vec<wgpu::Adapter> {
    let inst = instance(backends);
    let mut adapters = pollster::block_on(inst.enumerate_adapters(backends));
    let rank = |t: wgpu::DeviceType| match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    };
    // GL duplicates Vulkan adapters with fewer features: prefer Vulkan/Metal/DX12 first.
    let brank = |b: wgpu::Backend| if b == wgpu::Backend::Gl { 1 } else { 0 };
    adapters.sort_by_key(|a| {
        let i = a.get_info();
        (brank(i.backend), rank(i.device_type), i.name.clone())
    });
    adapters
}

fn summary(index: usize, a: &wgpu::Adapter) -> AdapterSummary {
    let i = a.get_info();
    let l = a.limits();
    AdapterSummary {
        index,
        name: i.name,
        vendor: i.vendor,
        backend: format!("{:?}", i.backend),
        device_type: format!("{:?}", i.device_type),
        driver: i.driver,
        driver_info: i.driver_info,
        max_storage_buffer_binding_size: l.max_storage_buffer_binding_size,
        max_compute_workgroup_size: [
            l.max_compute_workgroup_size_x,
            l.max_compute_workgroup_size_y,
            l.max_compute_workgroup_size_z,
        ],
        max_compute_invocations_per_workgroup: l.max_compute_invocations_per_workgroup,
        max_compute_workgroup_storage_size: l.max_compute_workgroup_storage_size,
        shader_f16: a.features().contains(wgpu::Features::SHADER_F16),
        cooperative_matrix: super::coop::configs(a)
            .iter()
            .map(|c| c.to_string())
            .collect(),
    }
}

fn backends_for(choice: &AdapterChoice) -> Result<wgpu::Backends> {
    match &choice.backend {
        Some(b) => parse_backend(b),
        None => Ok(wgpu::Backends::all()),
    }
}

/// All adapters for the chosen backend, and the index `pick` would open.
pub fn list_adapters(choice: &AdapterChoice) -> Result<(Vec<AdapterSummary>, Option<usize>)> {
    let adapters = enumerate(backends_for(choice)?);
    let list: Vec<_> = adapters
        .iter()
        .enumerate()
        .map(|(i, a)| summary(i, a))
        .collect();
    let chosen = select(&adapters, choice).ok().map(|(i, _)| i);
    Ok((list, chosen))
}

fn select(adapters: &[wgpu::Adapter], choice: &AdapterChoice) -> Result<(usize, wgpu::Adapter)> {
    if adapters.is_empty() {
        return Err(Error::NoAdapter);
    }
    match &choice.adapter {
        None => Ok((0, adapters[0].clone())),
        Some(q) => {
            if let Ok(i) = q.parse::<usize>() {
                if let Some(a) = adapters.get(i) {
                    return Ok((i, a.clone()));
                }
            }
            let ql = q.to_lowercase();
            adapters
                .iter()
                .enumerate()
                .find(|(_, a)| a.get_info().name.to_lowercase().contains(&ql))
                .map(|(i, a)| (i, a.clone()))
                .ok_or_else(|| Error::AdapterNotFound {
                    query: q.clone(),
                    available: adapters
                        .iter()
                        .enumerate()
                        .map(|(i, a)| {
                            let info = a.get_info();
                            format!("[{i}] {} ({:?})", info.name, info.backend)
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                })
        }
    }
}

pub(crate) fn pick(choice: &AdapterChoice) -> Result<wgpu::Adapter> {
    // With no choice, only the native backends are asked first: GL adapters sort last
    // anyway, and initialising EGL from many threads at once (one context per test thread)
    // hung the NVIDIA driver. GL remains the fallback when nothing native exists.
    if choice.adapter.is_none() && choice.backend.is_none() {
        let native = enumerate(wgpu::Backends::PRIMARY);
        if !native.is_empty() {
            return select(&native, choice).map(|(_, a)| a);
        }
    }
    let adapters = enumerate(backends_for(choice)?);
    select(&adapters, choice).map(|(_, a)| a)
}
