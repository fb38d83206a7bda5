//! Verification: a server that ignores `start`/`end` is caught, the target
//! falls back to whole reads and recovers; a failed verification read gives
//! no verdict.

use super::*;

#[test]
fn a_server_that_ignores_start_and_end_is_caught_and_the_target_falls_back_then_recovers() {
    let policy = Policy::new(MIN, 30 * MIN);
    let sim = Sim {
        subs: (0..100)
            .map(|i| (0, millis(t0()) - i * HOUR_MS, "sent"))
            .collect(),
    };
    let mut layouts = [Layout::new(Axis::ALL, &policy, true, t0())];
    let mut r = rules(policy);
    r.verify_interval = Some(10 * MIN);
    // A server that answers every query with everything. The first read's
    // check catches it: both halves answer what the whole does.
    let everything = |_, _| Some(sim.ignoring_range());
    let applied = poll_with(&mut layouts, t0(), &r, everything);
    let m = &applied[0].mismatches;
    assert_eq!(m.len(), 1, "{applied:?}");
    assert_eq!(applied[0].cap, None);
    assert_eq!(m[0].unsegmented, 100);
    assert_eq!(m[0].segments_before, 200);
    assert!(layouts[0].in_fallback());
    assert_eq!(
        layouts[0].counts().unwrap().total(),
        100,
        "whole reads count"
    );
    // In fallback: one whole read per poll until the next verification.
    let mut ranges = Vec::new();
    for round in 1..10 {
        poll_with(&mut layouts, t0() + MIN * round, &r, |_, q| {
            ranges.push(q);
            Some(sim.query(None, q))
        });
    }
    assert!(
        ranges.iter().all(|q| q.start.is_none() && q.end.is_none()),
        "{ranges:?}"
    );
    assert_eq!(ranges.len(), 9);
    // The server is fixed; the verification ten minutes on agrees.
    let applied = poll_with(&mut layouts, t0() + MIN * 10, &r, |_, q| {
        Some(sim.query(None, q))
    });
    assert!(
        applied[0].recovered && applied[0].mismatches.is_empty(),
        "{applied:?}"
    );
    assert!(!layouts[0].in_fallback());
    assert_tiles(&layouts[0]);
    assert_eq!(layouts[0].counts().unwrap().total(), 100);
}

#[test]
fn a_verification_with_a_failed_read_waits_a_bound_and_does_not_fall_back() {
    let policy = Policy::new(MIN, 10 * MIN);
    let base = millis(t0());
    let sim = Sim {
        subs: (0..100).map(|i| (0, base - i * HOUR_MS, "sent")).collect(),
    };
    let mut r = rules(policy);
    r.verify_interval = Some(Duration::from_secs(86_400));
    // The oldest segment's read fails in the first verification, the poll
    // after the first (whole) read.
    let mut layouts = [Layout::new(Axis::ALL, &policy, true, t0())];
    let mut whole_reads = Vec::new();
    for round in 0..13u32 {
        let applied = poll_with(&mut layouts, t0() + MIN * round, &r, |_, q| {
            if q.start.is_none() && q.end.is_none() {
                whole_reads.push(round);
            }
            (round != 1 || q.start.is_some() || q.end.is_none()).then(|| sim.query(None, q))
        });
        assert!(
            applied[0].mismatches.is_empty(),
            "round {round}: {applied:?}"
        );
        assert!(!layouts[0].in_fallback());
    }
    // The first read, the verification, then once more a bound (10 min)
    // later: not every poll.
    assert_eq!(whole_reads, [0, 1, 11]);
    // A whole read that holds more series than a read may (it fails as
    // too_large) is no answer: no verdict on it.
    let mut layouts = [Layout::new(Axis::ALL, &policy, true, t0())];
    poll_with(&mut layouts, t0(), &r, |_, q| Some(sim.query(None, q)));
    let applied = poll_with(&mut layouts, t0() + MIN, &r, |_, q| {
        (q.start.is_some() || q.end.is_some()).then(|| sim.query(None, q))
    });
    assert!(applied[0].mismatches.is_empty() && !layouts[0].in_fallback());
    assert_eq!(layouts[0].counts().unwrap().total(), 100);
}
