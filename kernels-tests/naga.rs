use tidal::gpu::validate_wgsl;

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
