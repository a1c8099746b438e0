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
    ("pool", include_str!("../shaders/pool.wgsl")),
    ("batchnorm", include_str!("../shaders/batchnorm.wgsl")),
];

pub fn source(name: &str) -> Option<&'static str> {
    ALL.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}
