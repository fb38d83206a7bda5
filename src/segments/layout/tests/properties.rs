//! Property tests of the layout: random histories of inserts and state
//! changes, read through the segments, always sum to what one query over
//! the whole axis counts.

use proptest::prelude::*;

use super::*;

/// What happens in one round of a random history.
#[derive(Debug, Clone)]
enum Event {
    /// Insert into campaign `c` at an instant: a fresh one, a boundary of
    /// the current layout (or one millisecond off it), or deep in the past.
    Insert { c: usize, at: InsertAt },
    /// Subscriber `i` (modulo the count) moves to state `s`.
    Change { i: usize, s: usize },
}

#[derive(Debug, Clone)]
enum InsertAt {
    Now(i64),
    Boundary { pick: usize, off: i64 },
    Past(i64),
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (0..3usize, 0..60_000i64).prop_map(|(c, ms)| Event::Insert {
            c,
            at: InsertAt::Now(ms)
        }),
        (0..3usize, any::<usize>(), -1..=1i64).prop_map(|(c, pick, off)| Event::Insert {
            c,
            at: InsertAt::Boundary { pick, off }
        }),
        (0..3usize, 0..400 * DAY_MS).prop_map(|(c, ms)| Event::Insert {
            c,
            at: InsertAt::Past(ms)
        }),
        (any::<usize>(), 0..6usize).prop_map(|(i, s)| Event::Change { i, s }),
    ]
}

fn policy() -> impl Strategy<Value = Policy> {
    (
        2..12u32,
        1..40u64,
        1..40u64,
        5..400u64,
        3..24usize,
        1..4u32,
        1..120u64,
    )
        .prop_map(
            |(max, seal, split, merge, segments, settled, age_min)| Policy {
                seal_records: seal,
                seal_age: MIN * age_min as u32,
                split_records: split,
                merge_records: merge,
                max_segments: segments,
                settled_after: settled,
                ..Policy::new(MIN, MIN * max)
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Once every segment has been read since the last change, the counts
    /// equal one unsegmented query's, for any history and any layout the
    /// splitting and merging made; and verification never cries wolf.
    #[test]
    fn settled_counts_equal_one_unsegmented_query(
        policy in policy(),
        rounds in prop::collection::vec(prop::collection::vec(event(), 0..6), 1..40),
    ) {
        let base = millis(t0());
        let fixed = Axis { start: AxisStart::Fixed(Some(base - 30 * DAY_MS)), end: Some(base + 20 * 60_000) };
        let mut sim = Sim::default();
        // Discovery, then one layout per campaign, then campaign 0 on a fixed range.
        let axes = [Axis::ALL, Axis::ALL, Axis::ALL, Axis::ALL, fixed];
        let mut layouts: Vec<Layout> = axes.iter().map(|a| Layout::new(*a, &policy, true, t0())).collect();
        let mut r = rules(policy);
        r.verify_interval = Some(7 * MIN);
        let query_of = |t: usize| if t == 0 { None } else { Some((t - 1) % 3) };
        let mut round = 0u32;
        let quiet = policy.max_interval.as_secs() as u32 / 60 + 2;
        for events in rounds.iter().map(Some).chain(std::iter::repeat_n(None, quiet as usize)) {
            let now = t0() + MIN * round;
            let now_ms = millis(now);
            for e in events.into_iter().flatten() {
                match e {
                    Event::Insert { c, at } => {
                        let at = match at {
                            InsertAt::Now(ms) => now_ms - ms,
                            InsertAt::Past(ms) => now_ms - ms,
                            InsertAt::Boundary { pick, off } => {
                                let all: Vec<Millis> = layouts.iter()
                                    .flat_map(|l| l.segments().iter().flat_map(|s| [s.lo, s.hi]))
                                    .flatten().collect();
                                all.get(pick % all.len().max(1)).map_or(now_ms, |b| b + off)
                            }
                        };
                        sim.subs.push((*c, at, STATES[0]));
                    }
                    Event::Change { i, s } if !sim.subs.is_empty() => {
                        let n = sim.subs.len();
                        sim.subs[i % n].2 = STATES[*s];
                    }
                    Event::Change { .. } => {}
                }
            }
            let applied = poll_with(&mut layouts, now, &r, |t, q| Some(sim.query(query_of(t), q)));
            for a in &applied {
                prop_assert!(a.mismatches.is_empty(), "false mismatch: {:?}", a.mismatches);
            }
            round += 1;
        }
        let now_ms = millis(t0() + MIN * round);
        for (t, layout) in layouts.iter().enumerate() {
            assert_tiles(layout);
            prop_assert!(layout.segment_count() <= policy.max_segments.max(7));
            let whole = Range { start: layout.axis().start_at(now_ms), end: layout.axis().end };
            let expected = sim.query(query_of(t), whole).counted;
            let got = layout.counts().unwrap_or_default();
            prop_assert_eq!(got, expected, "target {}", t);
        }
    }
}
