//! End to end: a small MLP learns two interleaved spirals with the tape and plain SGD.

use crate::common::*;
use tidal::demo::{train_spirals, SpiralsConfig};

#[test]
fn mlp_learns_two_spirals_with_one_submit_per_step() {
    let ctx = ctx();
    let cfg = SpiralsConfig::default();
    let r = train_spirals(&ctx, &cfg, |_, _| {}).unwrap();
    let first = r.losses.first().unwrap().1;
    let last = r.losses.last().unwrap().1;
    // Thresholds: chance is ln 2 = 0.69 and 50%; a fitted net separates the spirals.
    assert!(first > 0.5, "starts untrained: {first}");
    assert!(last < 0.15, "final loss {last}");
    assert!(r.accuracy > 0.95, "accuracy {}", r.accuracy);
    assert_eq!(
        r.max_submits_per_step, 1,
        "forward, backward and update of a step are one submission"
    );
    assert!(
        r.dispatches_per_step > 20,
        "a step records many dispatches: {}",
        r.dispatches_per_step
    );
    assert_eq!(
        r.allocations_after_warmup, 0,
        "the pool serves every step after warm-up"
    );
}

#[test]
fn same_seed_gives_bit_identical_losses() {
    let ctx = ctx();
    let cfg = SpiralsConfig {
        steps: 60,
        ..SpiralsConfig::default()
    };
    let a = train_spirals(&ctx, &cfg, |_, _| {}).unwrap();
    let b = train_spirals(&ctx, &cfg, |_, _| {}).unwrap();
    let bits = |r: &tidal::demo::SpiralsReport| {
        r.losses
            .iter()
            .map(|(s, l)| (*s, l.to_bits()))
            .collect::<Vec<_>>()
    };
    assert_eq!(bits(&a), bits(&b));
}
