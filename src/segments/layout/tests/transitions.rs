//! The target's modes at their edges: counts that stand in expire and are
//! refreshed, a fallback is remembered across an expiry, a whole read that
//! keeps failing does not hold the others back, and a target too big to
//! read whole is read by segments.

use super::*;

fn sim(n: i64) -> Sim {
    Sim {
        subs: (0..n)
            .map(|i| (0, millis(t0()) - i * HOUR_MS, "sent"))
            .collect(),
    }
}

#[test]
fn a_stand_in_whose_segments_keep_failing_expires_and_the_target_is_new_again() {
    let policy = Policy::new(MIN, 30 * MIN);
    let sim = sim(50);
    let mut layouts = [Layout::new(Axis::ALL, &policy, false, t0())];
    let r = rules(policy);
    poll_with(&mut layouts, t0(), &r, |_, q| Some(sim.query(None, q)));
    assert!(matches!(layouts[0].mode(), Mode::Filling(_)));
    // Every read fails from then on: the whole read stands in for ten
    // minutes (max_staleness), then its counts go.
    for round in 1..=10 {
        let applied = poll_with(&mut layouts, t0() + MIN * round, &r, |_, _| None);
        assert!(!applied[0].expired, "round {round}");
        assert_eq!(layouts[0].counts().unwrap().total(), 50, "round {round}");
    }
    let applied = poll_with(&mut layouts, t0() + MIN * 11, &r, |_, _| None);
    assert!(applied[0].expired);
    assert!(matches!(layouts[0].mode(), Mode::New(_)));
    assert_eq!(layouts[0].counts(), None);
}

#[test]
fn a_stand_in_that_cannot_be_replaced_is_read_again_within_the_bound() {
    let policy = Policy::new(MIN, 10 * MIN);
    let sim = sim(50);
    let mut layouts = [Layout::new(Axis::ALL, &policy, false, t0())];
    let mut r = rules(policy);
    // One read a poll: the newest segment takes it, history never fills.
    r.budget = 1;
    for round in 0..40u32 {
        let now = t0() + MIN * round;
        poll_with(&mut layouts, now, &r, |_, q| Some(sim.query(None, q)));
        let age = now.duration_since(layouts[0].refreshed().unwrap()).unwrap();
        assert!(age <= 10 * MIN + MIN, "round {round}: counts {age:?} old");
    }
    assert!(matches!(layouts[0].mode(), Mode::Filling(_)));
}

#[test]
fn a_fallback_is_remembered_when_its_counts_expire() {
    let policy = Policy::new(MIN, 30 * MIN);
    let sim = sim(100);
    let mut layouts = [Layout::new(Axis::ALL, &policy, true, t0())];
    let r = rules(policy);
    let everything = |_, _| Some(sim.ignoring_range());
    poll_with(&mut layouts, t0(), &r, everything);
    poll_with(&mut layouts, t0() + MIN, &r, everything);
    assert!(layouts[0].in_fallback());
    // An outage longer than max_staleness: the counts expire.
    for round in 2..=12 {
        poll_with(&mut layouts, t0() + MIN * round, &r, |_, _| None);
    }
    assert_eq!(layouts[0].counts(), None);
    // Back, still ignoring start and end: read whole, in fallback again,
    // not segments summed six times over.
    for round in 13..20 {
        poll_with(&mut layouts, t0() + MIN * round, &r, everything);
        assert!(layouts[0].in_fallback(), "round {round}");
        assert_eq!(layouts[0].counts().unwrap().total(), 100, "round {round}");
    }
}

#[test]
fn a_whole_read_that_keeps_failing_goes_to_the_back_of_the_queue() {
    let policy = Policy::new(MIN, 30 * MIN);
    let sim = sim(5);
    let mut layouts: Vec<Layout> = (0..3)
        .map(|_| Layout::new(Axis::ALL, &policy, false, t0()))
        .collect();
    let mut r = rules(policy);
    r.budget = 1;
    for round in 0..3u32 {
        poll_with(&mut layouts, t0() + MIN * round, &r, |t, q| {
            (t != 0).then(|| sim.query(None, q))
        });
    }
    assert!(layouts[0].counts().is_none());
    assert!(layouts[1].counts().is_some() && layouts[2].counts().is_some());
}

#[test]
fn a_target_too_big_to_read_whole_is_read_by_segments() {
    let policy = Policy::new(MIN, 30 * MIN);
    let sim = sim(50);
    let mut layouts = [Layout::new(Axis::ALL, &policy, false, t0())];
    layouts[0].read_by_segments(t0(), &policy);
    assert!(matches!(layouts[0].mode(), Mode::Segmented));
    assert_eq!(
        layouts[0].counts(),
        None,
        "no counts until every segment is read"
    );
    let mut ranges = Vec::new();
    poll_with(&mut layouts, t0() + MIN, &rules(policy), |_, q| {
        ranges.push(q);
        Some(sim.query(None, q))
    });
    assert!(
        ranges.iter().all(|q| q.start.is_some() || q.end.is_some()),
        "{ranges:?}"
    );
    assert_eq!(layouts[0].counts().unwrap().total(), 50);
}
