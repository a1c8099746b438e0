//! Classification metrics for the merger class (label 1) from predicted probabilities:
//! accuracy, precision, recall, F1 (threshold 0.5), ROC AUC, Brier score and expected
//! calibration error.

use serde::{Deserialize, Deserializer, Serialize};

// JSON has no NaN: serde_json writes an undefined metric (AUC of a one-class set) as null,
// so reading accepts null back as NaN.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Metrics {
    pub n: usize,
    #[serde(deserialize_with = "nan_if_null")]
    pub accuracy: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub precision: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub recall: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub f1: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub auc: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub brier: f64,
    /// Expected calibration error over 15 equal-width confidence bins.
    #[serde(deserialize_with = "nan_if_null")]
    pub ece: f64,
}

/// Reads a number written as `null` (serde_json's NaN) back as NaN.
pub fn nan_if_null<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Ranks from 1, ties sharing their average rank (for AUC and Spearman correlations).
pub fn average_ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && v[order[j + 1]] == v[order[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

/// Area under the ROC curve by the rank-sum (Mann–Whitney) statistic; ties count half.
pub fn roc_auc(p: &[f32], y: &[u32]) -> f64 {
    let pos = y.iter().filter(|&&l| l == 1).count();
    let neg = y.len() - pos;
    if pos == 0 || neg == 0 {
        return f64::NAN;
    }
    let v: Vec<f64> = p.iter().map(|&x| x as f64).collect();
    let ranks = average_ranks(&v);
    let rank_sum: f64 = (0..p.len()).filter(|&k| y[k] == 1).map(|k| ranks[k]).sum();
    (rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos * neg) as f64
}

/// ROC curve points (false-positive rate, true-positive rate) over every threshold.
pub fn roc_curve(p: &[f32], y: &[u32]) -> Vec<(f64, f64)> {
    let pos = y.iter().filter(|&&l| l == 1).count().max(1) as f64;
    let neg = y.iter().filter(|&&l| l != 1).count().max(1) as f64;
    let mut idx: Vec<usize> = (0..p.len()).collect();
    idx.sort_by(|&a, &b| p[b].partial_cmp(&p[a]).unwrap_or(std::cmp::Ordering::Equal));
    let mut pts = vec![(0.0, 0.0)];
    let (mut tp, mut fp) = (0.0, 0.0);
    for (k, &i) in idx.iter().enumerate() {
        if y[i] == 1 {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        if k + 1 == idx.len() || p[idx[k + 1]] != p[i] {
            pts.push((fp / neg, tp / pos));
        }
    }
    pts
}

/// Expected calibration error: Σ_b |B_b|/n · |accuracy_b − confidence_b| with the
/// confidence max(p, 1−p) of the predicted class.
pub fn ece(p: &[f32], y: &[u32], bins: usize) -> f64 {
    let mut count = vec![0usize; bins];
    let mut conf = vec![0.0f64; bins];
    let mut correct = vec![0.0f64; bins];
    for (&pi, &yi) in p.iter().zip(y) {
        let pred = (pi >= 0.5) as u32;
        let c = if pred == 1 {
            pi as f64
        } else {
            1.0 - pi as f64
        };
        let b = ((c * bins as f64) as usize).min(bins - 1);
        count[b] += 1;
        conf[b] += c;
        correct[b] += (pred == yi) as u32 as f64;
    }
    let n = p.len().max(1) as f64;
    (0..bins)
        .filter(|&b| count[b] > 0)
        .map(|b| {
            count[b] as f64 / n * (correct[b] / count[b] as f64 - conf[b] / count[b] as f64).abs()
        })
        .sum()
}

/// All metrics for merger probabilities `p` and labels `y` (1 = merger).
pub fn compute(p: &[f32], y: &[u32]) -> Metrics {
    let (mut tp, mut fp, mut tn, mut fneg) = (0usize, 0usize, 0usize, 0usize);
    let mut brier = 0.0;
    for (&pi, &yi) in p.iter().zip(y) {
        match (pi >= 0.5, yi == 1) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, false) => tn += 1,
            (false, true) => fneg += 1,
        }
        brier += (pi as f64 - yi as f64).powi(2);
    }
    let n = p.len();
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fneg);
    Metrics {
        n,
        accuracy: ratio(tp + tn, n),
        precision,
        recall,
        f1: if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        },
        auc: roc_auc(p, y),
        brier: brier / n.max(1) as f64,
        ece: ece(p, y, 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_of_a_small_known_case() {
        let p = [0.9, 0.8, 0.3, 0.6, 0.1, 0.4];
        let y = [1, 1, 1, 0, 0, 0];
        let m = compute(&p, &y);
        // tp 2 (0.9, 0.8), fn 1 (0.3), fp 1 (0.6), tn 2.
        assert!((m.accuracy - 4.0 / 6.0).abs() < 1e-12);
        assert!((m.precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.recall - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.f1 - 2.0 / 3.0).abs() < 1e-12);
        // Positive/negative pairs ordered correctly: 0.9 and 0.8 beat all 3, 0.3 beats 0.1: 7 of 9.
        assert!((m.auc - 7.0 / 9.0).abs() < 1e-12);
        let brier = (0.01 + 0.04 + 0.49 + 0.36 + 0.01 + 0.16) / 6.0;
        assert!((m.brier - brier).abs() < 1e-6);
    }

    #[test]
    fn auc_counts_ties_as_half_and_curve_ends_at_one() {
        assert!((roc_auc(&[0.5, 0.5], &[1, 0]) - 0.5).abs() < 1e-12);
        assert!((roc_auc(&[0.9, 0.1], &[1, 0]) - 1.0).abs() < 1e-12);
        let c = roc_curve(&[0.9, 0.2, 0.7], &[1, 0, 0]);
        assert_eq!(c.first(), Some(&(0.0, 0.0)));
        assert_eq!(c.last(), Some(&(1.0, 1.0)));
    }

    #[test]
    fn metrics_round_trip_through_json_with_an_undefined_auc() {
        let m = compute(&[0.9, 0.2], &[1, 1]);
        assert!(m.auc.is_nan());
        let text = serde_json::to_string(&m).unwrap();
        assert!(text.contains("\"auc\":null"), "{text}");
        let back: Metrics = serde_json::from_str(&text).unwrap();
        assert!(back.auc.is_nan());
        assert_eq!(
            (back.n, back.accuracy, back.brier),
            (m.n, m.accuracy, m.brier)
        );
    }

    #[test]
    fn calibration_error_is_zero_when_confidence_matches_accuracy() {
        // Confidence 0.75 in one bin with 3 of 4 correct.
        assert!(ece(&[0.75, 0.75, 0.75, 0.75], &[1, 1, 1, 0], 15) < 1e-12);
        assert!((ece(&[1.0, 1.0], &[0, 0], 15) - 1.0).abs() < 1e-12);
    }
}
