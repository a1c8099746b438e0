//! Pipeline cache keyed by (shader, entry point, override constants). Bind group layouts
//! are built explicitly from naga's reflection of the entry point: binding 0 is the
//! uniform parameter block (dynamic offset into the ring), storage bindings are read-only
//! or read-write exactly as the shader declares them.

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::rc::Rc;

/// A compiled compute pipeline and the layout facts a dispatch needs.
pub struct Kernel {
    pub shader: &'static str,
    pub entry: &'static str,
    pub label: String,
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
    pub uses_params: bool,
    /// Storage binding numbers used by the entry point, ascending.
    pub storage_bindings: Vec<u32>,
}

struct Parsed {
    module: naga::Module,
    info: naga::valid::ModuleInfo,
    wgpu_module: wgpu::ShaderModule,
}

type Key = (&'static str, &'static str, Vec<(&'static str, u64)>);

#[derive(Default)]
pub(crate) struct Cache {
    modules: HashMap<&'static str, Rc<Parsed>>,
    kernels: HashMap<Key, Rc<Kernel>>,
}

/// Parses and validates a WGSL source with naga; the error names the file and line.
pub fn validate_wgsl(name: &str, source: &str) -> Result<(naga::Module, naga::valid::ModuleInfo)> {
    validate_wgsl_for(name, source, true)
}

/// The capabilities a shader asks for with `enable` directives (f16, cooperative
/// matrices): a device only builds such a shader when it has the matching features.
pub fn enabled_capabilities(source: &str) -> naga::valid::Capabilities {
    use naga::valid::Capabilities;
    let enables = |name: &str| {
        source
            .lines()
            .any(|l| l.trim() == format!("enable {name};"))
    };
    let mut caps = Capabilities::empty();
    if enables("f16") {
        caps |= Capabilities::SHADER_FLOAT16;
    }
    if enables("wgpu_cooperative_matrix") {
        caps |= Capabilities::COOPERATIVE_MATRIX;
    }
    caps
}

/// As `validate_wgsl`, with subgroup operations allowed only when `subgroups` is set (a
/// device without the SUBGROUP feature compiles the module without its subgroup sections).
pub fn validate_wgsl_for(
    name: &str,
    source: &str,
    subgroups: bool,
) -> Result<(naga::Module, naga::valid::ModuleInfo)> {
    let module = naga::front::wgsl::parse_str(source).map_err(|e| Error::Shader {
        shader: name.to_string(),
        message: e.emit_to_string_with_path(source, &format!("shaders/{name}.wgsl")),
    })?;
    let (caps, stages, ops) = if subgroups {
        (
            naga::valid::Capabilities::SUBGROUP,
            naga::valid::ShaderStages::COMPUTE,
            naga::valid::SubgroupOperationSet::all(),
        )
    } else {
        (
            naga::valid::Capabilities::empty(),
            naga::valid::ShaderStages::empty(),
            naga::valid::SubgroupOperationSet::empty(),
        )
    };
    let info = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::default() | caps | enabled_capabilities(source),
    )
    .subgroup_stages(stages)
    .subgroup_operations(ops)
    .validate(&module)
    .map_err(|e| Error::Shader {
        shader: name.to_string(),
        message: e.emit_to_string_with_path(source, &format!("shaders/{name}.wgsl")),
    })?;
    Ok((module, info))
}

impl Cache {
    /// Returns the kernel and whether it was built by this call.
    pub fn get(
        &mut self,
        device: &wgpu::Device,
        shader: &'static str,
        entry: &'static str,
        constants: &[(&'static str, f64)],
    ) -> Result<(Rc<Kernel>, bool)> {
        let key: Key = (
            shader,
            entry,
            constants.iter().map(|&(n, v)| (n, v.to_bits())).collect(),
        );
        if let Some(k) = self.kernels.get(&key) {
            return Ok((k.clone(), false));
        }
        let parsed = match self.modules.get(shader) {
            Some(p) => p.clone(),
            None => {
                let subgroups = device.features().contains(wgpu::Features::SUBGROUP);
                let source = crate::shaders::load(shader, subgroups)
                    .ok_or_else(|| Error::Invalid(format!("unknown shader '{shader}'")))?;
                let (module, info) = validate_wgsl_for(shader, &source, subgroups)?;
                // Checked (bounds-clamped) module: turning the checks off measured no
                // faster on lavapipe, and gather indices come from user data.
                let wgpu_module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(shader),
                    source: wgpu::ShaderSource::Wgsl(source),
                });
                let p = Rc::new(Parsed {
                    module,
                    info,
                    wgpu_module,
                });
                self.modules.insert(shader, p.clone());
                p
            }
        };
        let ep_index = parsed
            .module
            .entry_points
            .iter()
            .position(|e| e.name == entry)
            .ok_or_else(|| Error::NoEntryPoint {
                shader: shader.into(),
                entry: entry.into(),
            })?;
        let uses = parsed.info.get_entry_point(ep_index);
        let mut uses_params = false;
        let mut storage = Vec::new();
        let mut layout_entries = Vec::new();
        for (handle, var) in parsed.module.global_variables.iter() {
            let Some(binding) = &var.binding else {
                continue;
            };
            if uses[handle].is_empty() || binding.group != 0 {
                continue;
            }
            let ty = match var.space {
                naga::AddressSpace::Uniform => {
                    assert_eq!(
                        binding.binding, 0,
                        "{shader}: the uniform block must be binding 0"
                    );
                    uses_params = true;
                    wgpu::BufferBindingType::Uniform
                }
                naga::AddressSpace::Storage { access } => {
                    storage.push(binding.binding);
                    wgpu::BufferBindingType::Storage {
                        read_only: !access.contains(naga::StorageAccess::STORE),
                    }
                }
                _ => continue,
            };
            layout_entries.push(wgpu::BindGroupLayoutEntry {
                binding: binding.binding,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty,
                    has_dynamic_offset: matches!(ty, wgpu::BufferBindingType::Uniform),
                    min_binding_size: None,
                },
                count: None,
            });
        }
        storage.sort_unstable();
        layout_entries.sort_by_key(|e| e.binding);
        let label = if constants.is_empty() {
            format!("{shader}::{entry}")
        } else {
            format!("{shader}::{entry}{constants:?}")
        };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(&label),
            entries: &layout_entries,
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(&label),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(&label),
            layout: Some(&pipeline_layout),
            module: &parsed.wgpu_module,
            entry_point: Some(entry),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants,
                // Kernels initialise their own workgroup memory.
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        });
        let k = Rc::new(Kernel {
            shader,
            entry,
            label,
            pipeline,
            layout,
            uses_params,
            storage_bindings: storage,
        });
        self.kernels.insert(key, k.clone());
        Ok((k, true))
    }
}
