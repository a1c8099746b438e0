//! End to end: a small MLP learns two interleaved spirals with the tape and plain SGD.

use crate::common::*;
use tidal::{no_grad, Rng, Tensor};

fn spirals(n_per_class: usize) -> (Vec<f32>, Vec<f32>, Vec<u32>) {
    let mut x = Vec::new();
    let mut onehot = Vec::new();
    let mut labels = Vec::new();
    let noise = data(42, 4 * n_per_class);
    for class in 0..2u32 {
        for i in 0..n_per_class {
            let t = i as f32 / n_per_class as f32;
            let r = 0.1 + 0.9 * t;
            let a = 3.0 * std::f32::consts::PI * t + class as f32 * std::f32::consts::PI;
            let j = (class as usize * n_per_class + i) * 2;
            x.push(r * a.cos() + 0.02 * noise[j]);
            x.push(r * a.sin() + 0.02 * noise[j + 1]);
            onehot.extend(if class == 0 { [1.0, 0.0] } else { [0.0, 1.0] });
            labels.push(class);
        }
    }
    (x, onehot, labels)
}

/// -mean log softmax(logits)[label], composed from the tape's ops.
fn cross_entropy(logits: &Tensor, onehot: &Tensor) -> tidal::Result<Tensor> {
    let m = logits.max_axis(1, true)?.detach();
    let z = logits.sub(&m)?;
    let lse = z.exp()?.sum_axis(1, true)?.log()?;
    let logp = z.sub(&lse)?;
    logp.mul(onehot)?.sum()?.scale(-1.0 / logits.shape()[0] as f32)
}

#[test]
fn mlp_learns_two_spirals_with_one_submit_per_step() {
    let ctx = ctx();
    let n = 200;
    let (xs, oh, labels) = spirals(n);
    let x = tensor(&xs, &[2 * n, 2]);
    let y = tensor(&oh, &[2 * n, 2]);
    let mut rng = Rng::new(1234);
    let dims = [2usize, 64, 64, 2];
    let mut params = Vec::new();
    for w in dims.windows(2) {
        let std = (2.0 / w[0] as f32).sqrt();
        params.push(rng.normal(&ctx, &[w[0], w[1]], 0.0, std).unwrap().requires_grad_());
        params.push(Tensor::zeros(&ctx, &[w[1]]).unwrap().requires_grad_());
    }
    let forward = |params: &[Tensor]| -> tidal::Result<Tensor> {
        let mut h = x.clone();
        for (i, wb) in params.chunks(2).enumerate() {
            h = h.matmul(&wb[0])?.add(&wb[1])?;
            if i < 2 {
                h = h.tanh()?;
            }
        }
        Ok(h)
    };
    let lr = 0.3;
    let mut first_loss = None;
    let mut last_loss = 0.0;
    for step in 0..1500 {
        ctx.submit();
        let s0 = ctx.stats().submits;
        for p in &params {
            p.zero_grad();
        }
        let loss = cross_entropy(&forward(&params).unwrap(), &y).unwrap();
        loss.backward().unwrap();
        for p in &params {
            p.add_scaled_(&p.grad().unwrap(), -lr).unwrap();
        }
        ctx.submit();
        assert_eq!(ctx.stats().submits, s0 + 1, "forward, backward and update of a step are one submission");
        if step % 250 == 0 || step == 1499 {
            last_loss = loss.item().unwrap();
            first_loss.get_or_insert(last_loss);
        }
    }
    let pred = no_grad(|| forward(&params).unwrap().argmax_axis(1).unwrap().to_vec_u32().unwrap());
    let acc = pred.iter().zip(&labels).filter(|(p, l)| p == l).count() as f32 / labels.len() as f32;
    // Thresholds: chance is 0.5 / ln 2 = 0.69; a fitted net separates the spirals.
    assert!(first_loss.unwrap() > 0.5, "starts untrained: {first_loss:?}");
    assert!(last_loss < 0.15, "final loss {last_loss}");
    assert!(acc > 0.95, "accuracy {acc}");
}
