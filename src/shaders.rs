//! Every WGSL file in `shaders/`, embedded at build time. The naga test validates each one.

/// (name, source) for every shader; the name is the file stem.
pub const ALL: &[(&str, &str)] = &[
    ("elementwise", include_str!("../shaders/elementwise.wgsl")),
    ("random", include_str!("../shaders/random.wgsl")),
    ("reduce", include_str!("../shaders/reduce.wgsl")),
    ("matmul", include_str!("../shaders/matmul.wgsl")),
    ("conv2d", include_str!("../shaders/conv2d.wgsl")),
    ("shape", include_str!("../shaders/shape.wgsl")),
    ("peak", include_str!("../shaders/peak.wgsl")),
    ("optim", include_str!("../shaders/optim.wgsl")),
    ("mmd", include_str!("../shaders/mmd.wgsl")),
    ("softmax", include_str!("../shaders/softmax.wgsl")),
    (
        "cross_entropy",
        include_str!("../shaders/cross_entropy.wgsl"),
    ),
    ("pool", include_str!("../shaders/pool.wgsl")),
    ("batchnorm", include_str!("../shaders/batchnorm.wgsl")),
    ("bn_relu_pool", include_str!("../shaders/bn_relu_pool.wgsl")),
    (
        "matmul_coop_f16",
        include_str!("../shaders/matmul_coop_f16.wgsl"),
    ),
    (
        "matmul_coop_f32",
        include_str!("../shaders/matmul_coop_f32.wgsl"),
    ),
];

pub fn source(name: &str) -> Option<&'static str> {
    ALL.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// The source the engine compiles for a device: `source(name)`, unless `TIDAL_SHADER_DIR`
/// is set, in which case `$TIDAL_SHADER_DIR/<name>.wgsl` is read at first use (a kernel can
/// be edited and re-benchmarked without rebuilding; builds still embed the files). Without
/// `subgroups`, the lines between `//#if subgroups` and `//#endif` are left out, so one file
/// can hold kernels that need the SUBGROUP feature next to those that do not.
pub fn load(name: &str, subgroups: bool) -> Option<std::borrow::Cow<'static, str>> {
    let mut text: std::borrow::Cow<'static, str> = source(name)?.into();
    if let Some(dir) = std::env::var_os("TIDAL_SHADER_DIR") {
        let path = std::path::Path::new(&dir).join(format!("{name}.wgsl"));
        if let Ok(t) = std::fs::read_to_string(&path) {
            text = t.into();
        }
    }
    if !subgroups && text.contains("//#if subgroups") {
        text = without_subgroups(&text).into();
    }
    Some(text)
}

/// `source` minus its `//#if subgroups` ... `//#endif` sections (blank lines keep the line
/// numbers of error messages).
pub fn without_subgroups(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut skipping = false;
    for line in source.lines() {
        match line.trim() {
            "//#if subgroups" => skipping = true,
            "//#endif" => skipping = false,
            _ if !skipping => out.push_str(line),
            _ => {}
        }
        out.push('\n');
    }
    out
}
