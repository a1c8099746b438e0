use tidal::gpu::{validate_wgsl, validate_wgsl_for};

#[test]
fn every_shader_file_parses_and_validates_with_naga() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("wgsl") {
            continue;
        }
        let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
        let src = std::fs::read_to_string(&path).unwrap();
        if let Err(e) = validate_wgsl(&stem, &src) {
            panic!("{e}");
        }
        // What a device without the SUBGROUP feature compiles.
        if let Err(e) = validate_wgsl_for(&stem, &tidal::shaders::without_subgroups(&src), false) {
            panic!("without subgroups: {e}");
        }
        assert_eq!(
            tidal::shaders::source(&stem),
            Some(src.as_str()),
            "shaders/{stem}.wgsl must be registered in src/shaders.rs"
        );
        seen += 1;
    }
    assert_eq!(
        seen,
        tidal::shaders::ALL.len(),
        "every registered shader exists as a file"
    );
}

#[test]
fn naga_reports_file_and_line_of_a_broken_shader() {
    let err = validate_wgsl(
        "broken",
        "@compute @workgroup_size(1)\nfn main() {\n  let x: f32 = 1u;\n}\n",
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("shaders/broken.wgsl:3"), "{msg}");
}

#[test]
fn subgroup_sections_are_left_out_only_without_subgroups() {
    let src = "fn a() {}\n//#if subgroups\nfn b() {}\n//#endif\nfn c() {}\n";
    let stripped = tidal::shaders::without_subgroups(src);
    assert!(stripped.contains("fn a()") && stripped.contains("fn c()"));
    assert!(!stripped.contains("fn b()"));
    // Line numbers of what is left stay where they were.
    assert_eq!(stripped.lines().count(), src.lines().count());
    assert_eq!(stripped.lines().nth(4), Some("fn c() {}"));
    // A kernel that uses subgroup builtins is rejected without the capability.
    let sg = "@compute @workgroup_size(8)\nfn k(@builtin(subgroup_invocation_id) s: u32) {}\n";
    assert!(validate_wgsl_for("sg", sg, true).is_ok());
    assert!(validate_wgsl_for("sg", sg, false).is_err());
}

#[test]
fn cooperative_matrix_shaders_validate_and_translate_to_spirv() {
    // No adapter in CI has cooperative matrices: naga's SPIR-V writer stands in for the
    // driver's front door, so a shader a GPU would reject fails here first.
    let mut seen = 0;
    for (name, src) in tidal::shaders::ALL {
        let caps = tidal::gpu::enabled_capabilities(src);
        if !caps.contains(naga::valid::Capabilities::COOPERATIVE_MATRIX) {
            continue;
        }
        let (module, info) = validate_wgsl(name, src).unwrap_or_else(|e| panic!("{e}"));
        let opts = naga::back::spv::Options {
            lang_version: (1, 6),
            ..Default::default()
        };
        for ep in &module.entry_points {
            // The workgroup is one subgroup: 32 lanes on NVIDIA, 64 on AMD's wave64.
            for wg in [32.0, 64.0] {
                let mut constants = naga::back::PipelineConstants::default();
                constants.insert("WG".to_string(), wg);
                let stage = Some((naga::ShaderStage::Compute, ep.name.as_str()));
                let (m, i) = naga::back::pipeline_constants::process_overrides(
                    &module, &info, stage, &constants,
                )
                .unwrap_or_else(|e| panic!("{name}::{}: overrides: {e}", ep.name));
                let pipe = naga::back::spv::PipelineOptions {
                    shader_stage: naga::ShaderStage::Compute,
                    entry_point: ep.name.clone(),
                };
                let words = naga::back::spv::write_vec(&m, &i, &opts, Some(&pipe))
                    .unwrap_or_else(|e| panic!("{name}::{}: SPIR-V: {e}", ep.name));
                assert_eq!(words[0], 0x0723_0203, "{name}: SPIR-V magic number");
            }
        }
        seen += 1;
    }
    assert_eq!(seen, 2, "both cooperative-matrix matmul shaders");
}
