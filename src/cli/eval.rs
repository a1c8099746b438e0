//! `tidal eval` and `tidal gradcam`: a checkpoint on images.

use super::{AdapterArgs, CheckpointArgs};
use std::path::Path;

pub fn eval(args: &AdapterArgs, r: &tidal::train::eval::EvalRequest) -> anyhow::Result<()> {
    let ctx = tidal::Context::new(&args.choice())?;
    let summary = tidal::train::eval::evaluate(&ctx, r)?;
    println!(
        "{} images; predictions written to {}",
        summary.n,
        r.predictions.display()
    );
    if let Some(m) = summary.metrics {
        print!("{}", tidal::report::metrics_table(&[("data", Some(&m))]));
    }
    Ok(())
}

pub fn gradcam(
    model: &CheckpointArgs,
    index: &[usize],
    pair: Option<&Path>,
    norm: &tidal::train::eval::NormChoice,
    method: &str,
    out: &Path,
) -> anyhow::Result<()> {
    let ctx = tidal::Context::new(&model.adapter.choice())?;
    let req = tidal::train::gradcam::Request {
        checkpoint: &model.checkpoint,
        data: &model.data,
        pair,
        indices: index,
        norm,
        method: method.parse()?,
        out,
    };
    let written = tidal::train::gradcam::write_gradcam(&ctx, &req)?;
    for (path, p) in written {
        let probs: Vec<String> = p.iter().map(|v| format!("{v:.3}")).collect();
        println!("{} (p(merger) = {})", path.display(), probs.join(" | "));
    }
    Ok(())
}
