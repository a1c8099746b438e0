use crate::common::*;
use tidal::optim::{Optimizer, ParamGroup, Rule};

/// PyTorch's update rules in plain f32, in the kernel's operation order.
struct CpuOpt {
    rule: Rule,
    m: Vec<f32>,
    v: Vec<f32>,
    vmax: Vec<f32>,
    t: i32,
}

impl CpuOpt {
    fn step(&mut self, w: &mut [f32], g: &[f32], lr: f32, lr_mult: &[f32]) {
        self.t += 1;
        for i in 0..w.len() {
            let lr = lr * lr_mult[i];
            match self.rule {
                Rule::Adam {
                    beta1,
                    beta2,
                    eps,
                    weight_decay,
                    amsgrad,
                    decoupled,
                } => {
                    let mut gi = g[i];
                    if decoupled {
                        w[i] *= 1.0 - lr * weight_decay;
                    } else {
                        gi += weight_decay * w[i];
                    }
                    self.m[i] = beta1 * self.m[i] + (1.0 - beta1) * gi;
                    self.v[i] = beta2 * self.v[i] + (1.0 - beta2) * gi * gi;
                    let mut vh = self.v[i];
                    if amsgrad {
                        vh = self.vmax[i].max(vh);
                        self.vmax[i] = vh;
                    }
                    let bc1 = (1.0 - (beta1 as f64).powi(self.t)) as f32;
                    let bc2 = ((1.0 - (beta2 as f64).powi(self.t)) as f32).sqrt();
                    let denom = vh.sqrt() / bc2 + eps;
                    w[i] -= (lr / bc1) * (self.m[i] / denom);
                }
                Rule::Sgd {
                    momentum,
                    dampening,
                    weight_decay,
                    nesterov,
                } => {
                    let mut gi = g[i] + weight_decay * w[i];
                    if momentum != 0.0 {
                        let b = if self.t == 1 {
                            gi
                        } else {
                            momentum * self.m[i] + (1.0 - dampening) * gi
                        };
                        self.m[i] = b;
                        gi = if nesterov { gi + momentum * b } else { b };
                    }
                    w[i] -= lr * gi;
                }
            }
        }
    }
}

fn run(rule: Rule) {
    // Two groups (the second at a tenth of the rate) over parameters of odd sizes.
    let shapes = [vec![7usize], vec![3, 5], vec![1]];
    let init: Vec<Vec<f32>> = shapes
        .iter()
        .enumerate()
        .map(|(i, s)| data(10 + i as u64, numel(s)))
        .collect();
    let params: Vec<_> = init.iter().zip(&shapes).map(|(d, s)| param(d, s)).collect();
    let mut opt = Optimizer::new(
        rule,
        vec![
            ParamGroup::new(params[..2].to_vec()),
            ParamGroup::new(params[2..].to_vec()).lr_mult(0.1),
        ],
    )
    .unwrap();
    let mut w: Vec<f32> = init.concat();
    let n = w.len();
    let lr_mult: Vec<f32> = (0..n).map(|i| if i < 22 { 1.0 } else { 0.1 }).collect();
    let mut cpu = CpuOpt {
        rule,
        m: vec![0.0; n],
        v: vec![0.0; n],
        vmax: vec![0.0; n],
        t: 0,
    };
    let c = data(77, n);
    for step in 0..10 {
        // Gradient of sum(c·w + w²/2 + w³/3) = c + w + w², set directly so only the
        // optimizer kernel is under test.
        let g: Vec<f32> = w.iter().zip(&c).map(|(wi, ci)| ci + wi + wi * wi).collect();
        let mut off = 0;
        for p in &params {
            p.set_grad(Some(tensor(&g[off..off + p.numel()], p.shape())));
            off += p.numel();
        }
        let lr = 0.05 * (1.0 + step as f32 * 0.1);
        opt.step(lr).unwrap();
        cpu.step(&mut w, &g, lr, &lr_mult);
        let got: Vec<f32> = params.iter().flat_map(|p| p.to_vec().unwrap()).collect();
        // 1e-6 relative (sqrt and division may differ by an ulp or two on the GPU).
        assert_close(&got, &w, 1e-6, 1e-7, &format!("{rule:?} step {step}"));
        // Continue from the GPU's values so rounding differences do not compound.
        w = got;
    }
}

#[test]
fn ten_adam_steps_match_the_cpu_reference() {
    run(Rule::reference_adam());
    run(Rule::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.0,
        amsgrad: true,
        decoupled: false,
    });
}

#[test]
fn ten_adamw_steps_match_the_cpu_reference() {
    run(Rule::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.01,
        amsgrad: false,
        decoupled: true,
    });
}

#[test]
fn ten_sgd_steps_match_the_cpu_reference() {
    run(Rule::Sgd {
        momentum: 0.0,
        dampening: 0.0,
        weight_decay: 0.0,
        nesterov: false,
    });
    run(Rule::Sgd {
        momentum: 0.9,
        dampening: 0.1,
        weight_decay: 1e-3,
        nesterov: false,
    });
    run(Rule::Sgd {
        momentum: 0.9,
        dampening: 0.0,
        weight_decay: 1e-4,
        nesterov: true,
    });
}

#[test]
fn optimizer_refuses_non_parameters() {
    let t = tensor(&[1.0], &[1]);
    assert!(Optimizer::new(Rule::reference_adam(), vec![ParamGroup::new(vec![t])]).is_err());
    assert!(Optimizer::new(Rule::reference_adam(), vec![]).is_err());
}
