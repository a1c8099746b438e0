//! Learning-rate schedules: the learning rate for step t (0-based).

use std::f64::consts::PI;

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Schedule {
    Constant {
        lr: f32,
    },
    /// The reference recipe's repeating triangle: lr/10 → lr → lr/10 over `period` steps
    /// (period = 0.9 × cycle_length × steps_per_epoch in the reference code).
    OneCycle {
        lr: f32,
        period: u64,
    },
    /// lr · (1 + a·t)^−b (the reference alternative uses a = 0.001, b = 0.75).
    InverseDecay {
        lr: f32,
        a: f32,
        b: f32,
    },
    /// Linear warm-up from 0 to lr over `warmup` steps, then cosine down to `min_lr` at `total`.
    Cosine {
        lr: f32,
        min_lr: f32,
        warmup: u64,
        total: u64,
    },
}

impl Schedule {
    /// The reference triangle for a given epoch length.
    pub fn reference_one_cycle(lr: f32, cycle_length: f32, steps_per_epoch: u64) -> Schedule {
        let period = ((0.9 * cycle_length as f64 * steps_per_epoch as f64).round() as u64).max(2);
        Schedule::OneCycle { lr, period }
    }

    pub fn lr(&self, t: u64) -> f32 {
        match *self {
            Schedule::Constant { lr } => lr,
            Schedule::OneCycle { lr, period } => {
                let (lo, hi) = (lr as f64 / 10.0, lr as f64);
                let half = period as f64 / 2.0;
                let pos = (t % period) as f64;
                let f = if pos < half {
                    pos / half
                } else {
                    (period as f64 - pos) / half
                };
                (lo + (hi - lo) * f) as f32
            }
            Schedule::InverseDecay { lr, a, b } => {
                (lr as f64 * (1.0 + a as f64 * t as f64).powf(-(b as f64))) as f32
            }
            Schedule::Cosine {
                lr,
                min_lr,
                warmup,
                total,
            } => {
                if t < warmup {
                    return (lr as f64 * (t + 1) as f64 / warmup as f64) as f32;
                }
                let span = total.saturating_sub(warmup).max(1) as f64;
                let progress = ((t - warmup) as f64 / span).min(1.0);
                (min_lr as f64 + 0.5 * (lr - min_lr) as f64 * (1.0 + (PI * progress).cos())) as f32
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_cycle_is_a_triangle_from_a_tenth_to_the_peak() {
        let s = Schedule::OneCycle {
            lr: 1e-3,
            period: 10,
        };
        assert!((s.lr(0) - 1e-4).abs() < 1e-9);
        assert!((s.lr(5) - 1e-3).abs() < 1e-9);
        assert!((s.lr(10) - 1e-4).abs() < 1e-9);
        assert!(s.lr(2) < s.lr(3) && s.lr(7) > s.lr(8));
        assert_eq!(
            Schedule::reference_one_cycle(1e-3, 2.0, 100),
            Schedule::OneCycle {
                lr: 1e-3,
                period: 180
            }
        );
    }

    #[test]
    fn inverse_decay_and_cosine_follow_their_formulas() {
        let s = Schedule::InverseDecay {
            lr: 0.01,
            a: 0.001,
            b: 0.75,
        };
        assert!((s.lr(1000) as f64 - 0.01 * 2f64.powf(-0.75)).abs() < 1e-9);
        let c = Schedule::Cosine {
            lr: 1.0,
            min_lr: 0.0,
            warmup: 10,
            total: 110,
        };
        assert!((c.lr(4) - 0.5).abs() < 1e-6);
        assert!((c.lr(10) - 1.0).abs() < 1e-6);
        assert!((c.lr(60) - 0.5).abs() < 1e-6);
        assert!(c.lr(110).abs() < 1e-6);
        assert_eq!(Schedule::Constant { lr: 0.3 }.lr(12345), 0.3);
    }
}
