//! Property tests of the schedule (not only the sums): at start every
//! target is read once before any is read twice, whatever the budget; and
//! a segment that changed at its last read is read again within two
//! intervals while the budget allows.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

/// A random history: each round, state changes of random subscribers and
/// inserts at random ages, in random campaigns.
fn history() -> impl Strategy<Value = Vec<Vec<(usize, i64, usize)>>> {
    prop::collection::vec(
        prop::collection::vec((any::<usize>(), 0..30 * DAY_MS, 0..6usize), 0..8),
        1..30,
    )
}

/// Plays `rounds` on `sim` (one a minute from t0), before each poll;
/// `each` sees the reads of every poll, by target.
fn play(
    layouts: &mut [Layout],
    rules: &PollRules,
    sim: &mut Sim,
    rounds: &[Vec<(usize, i64, usize)>],
    mut each: impl FnMut(u32, &[Layout], &[Vec<Range>]) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    let n = layouts.len();
    for (round, events) in rounds.iter().enumerate() {
        let now = t0() + MIN * round as u32;
        for &(pick, age, state) in events {
            // Half the events insert, half change a subscriber's state.
            if pick % 2 == 0 || sim.subs.is_empty() {
                sim.subs
                    .push((pick / 2 % n, millis(now) - age, STATES[state]));
            } else {
                let len = sim.subs.len();
                sim.subs[pick / 2 % len].2 = STATES[state];
            }
        }
        let mut reads = vec![Vec::new(); n];
        poll_with(layouts, now, rules, |t, q| {
            reads[t].push(q);
            Some(sim.query(Some(t), q))
        });
        each(round as u32, layouts, &reads)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// However many targets and however small the budget, no poll reads a
    /// target again while another target is left unread after it, and each
    /// target's first poll is its whole read, checked by its two halves
    /// (the whole read alone when the budget is below three).
    #[test]
    fn every_target_is_read_once_before_any_is_read_twice(
        targets in 1..40usize,
        budget in 1..60usize,
        rounds in history(),
    ) {
        let policy = Policy::new(MIN, 30 * MIN);
        let mut layouts: Vec<Layout> =
            (0..targets).map(|_| Layout::new(Axis::ALL, &policy, true, t0())).collect();
        let mut r = rules(policy);
        r.budget = budget;
        let mut sim = Sim::default();
        let mut read_count = vec![0usize; targets];
        let first_cost = if budget >= 3 { 3 } else { 1 };
        play(&mut layouts, &r, &mut sim, &rounds, |round, _, reads| {
            let total: usize = reads.iter().map(Vec::len).sum();
            prop_assert!(total <= budget, "round {round}: {total} reads, budget {budget}");
            let unread_before = read_count.iter().filter(|c| **c == 0).count();
            let mut again = None;
            for (t, rs) in reads.iter().enumerate() {
                if read_count[t] == 0 && !rs.is_empty() {
                    // Its check's refining (pieces after the whole read)
                    // comes out of what the budget has left.
                    prop_assert!(rs.len() >= first_cost, "target {}: its first poll", t);
                    prop_assert!(
                        rs.len() == first_cost || first_cost == 3,
                        "target {}: refined without a check", t
                    );
                    let whole = Range { start: None, end: None };
                    prop_assert_eq!(rs[first_cost - 1], whole, "the whole read last");
                    if first_cost == 3 {
                        prop_assert_eq!((rs[0].start, rs[1].end), (None, None), "halves");
                        prop_assert_eq!(rs[1].start, rs[0].end.map(|e| e + 1), "tiled");
                    }
                }
                if read_count[t] > 0 && !rs.is_empty() {
                    again = Some(t);
                }
                read_count[t] += rs.len();
            }
            if let Some(t) = again {
                let unread = read_count.iter().filter(|c| **c == 0).count();
                prop_assert_eq!(unread, 0, "target {} read again while others wait", t);
            }
            // The first reads come first: as many as the budget allows.
            let firsts = unread_before - read_count.iter().filter(|c| **c == 0).count();
            prop_assert_eq!(firsts, (budget / first_cost).min(unread_before));
            Ok(())
        })?;
    }

    /// With the budget to spare, a segment whose last read found a change
    /// (or was its first) is read again within two intervals.
    #[test]
    fn a_segment_that_changed_at_its_last_read_waits_at_most_two_intervals(
        targets in 1..6usize,
        rounds in history(),
    ) {
        let policy = Policy::new(MIN, 30 * MIN);
        let mut layouts: Vec<Layout> =
            (0..targets).map(|_| Layout::new(Axis::ALL, &policy, true, t0())).collect();
        let r = rules(policy);
        let mut sim = Sim::default();
        // Segment (target, id) -> the round whose read found it changed.
        let mut changed: BTreeMap<(usize, SegmentId), u32> = BTreeMap::new();
        play(&mut layouts, &r, &mut sim, &rounds, |round, layouts, _| {
            for (t, l) in layouts.iter().enumerate() {
                for s in l.segments() {
                    let key = (t, s.id);
                    let read_now = s.read_at == Some(t0() + MIN * round);
                    if let Some(since) = changed.get(&key) {
                        prop_assert!(
                            read_now || round < since + 2,
                            "target {} segment {:?} changed at round {} unread at {}",
                            t, s.id, since, round
                        );
                        if read_now {
                            changed.remove(&key);
                        }
                    }
                    if read_now && s.changed_at == s.read_at {
                        changed.insert(key, round);
                    }
                }
            }
            Ok(())
        })?;
    }
}

/// A fixed range that lies in the past (a view's `start`/`end`, say):
/// nothing new can land in it, so once read it settles as any old segment
/// does, and is read about once per `max_interval`, never beyond its bounds;
/// while its end is within an interval of now, it is read every poll.
#[test]
fn a_range_closed_in_the_past_settles_and_is_read_once_per_max_interval() {
    let policy = Policy::new(MIN, 10 * MIN);
    let end = millis(t0()) - DAY_MS;
    let axis = Axis {
        start: AxisStart::Fixed(Some(end - 10 * DAY_MS)),
        end: Some(end),
    };
    let sim = Sim {
        subs: (0..200).map(|i| (0, end - i * HOUR_MS, "sent")).collect(),
    };
    let mut layouts = [Layout::new(axis, &policy, false, t0())];
    let mut reads_per_round = Vec::new();
    for round in 0..120u32 {
        let now = t0() + MIN * round;
        let mut n = 0;
        poll_with(&mut layouts, now, &rules(policy), |_, r| {
            assert!(
                r.start.is_some_and(|s| s >= end - 10 * DAY_MS) && r.end.is_some_and(|e| e <= end),
                "a read beyond the bounds: {r:?}"
            );
            n += 1;
            Some(sim.query(None, r))
        });
        reads_per_round.push(n);
    }
    let segments = layouts[0].segment_count();
    // After its first half hour, every 10-minute bound reads each segment
    // about once: never every poll.
    let late: usize = reads_per_round[60..].iter().sum();
    assert!(
        late <= 6 * segments + 6,
        "{late} reads in an hour of {segments} settled segments: {reads_per_round:?}"
    );
    let idle = reads_per_round[60..].iter().filter(|n| **n == 0).count();
    assert!(
        idle >= 40,
        "most polls read nothing of it: {reads_per_round:?}"
    );
    assert_eq!(
        layouts[0].counts().map(|c| c.campaigns["c0"].total()),
        Some(200)
    );

    // A range that ends now is still growing: its newest segment is read
    // at every poll.
    let open = Axis {
        start: AxisStart::Fixed(Some(millis(t0()) - DAY_MS)),
        end: Some(millis(t0()) + HOUR_MS),
    };
    let mut layouts = [Layout::new(open, &policy, false, t0())];
    let mut polls_reading = 0;
    for round in 0..20u32 {
        let mut n = 0;
        poll_with(&mut layouts, t0() + MIN * round, &rules(policy), |_, r| {
            n += 1;
            Some(sim.query(None, r))
        });
        polls_reading += usize::from(n > 0);
    }
    assert_eq!(polls_reading, 20);
}
