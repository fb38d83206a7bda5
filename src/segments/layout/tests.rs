use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;
use crate::model::{CampaignCounts, STATES};
use crate::segments::AxisStart;
use crate::segments::round::{PollRules, poll_with};

const MIN: Duration = Duration::from_secs(60);

/// 2026-01-01T00:00:00Z.
fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_767_225_600)
}

/// A simulated report API: subscribers with an insertion millisecond and a
/// state, answering `start`/`end` inclusively, as the document says.
#[derive(Default, Clone)]
struct Sim {
    subs: Vec<(usize, Millis, &'static str)>,
}

impl Sim {
    fn query(&self, campaign: Option<usize>, r: Range) -> ReadOk {
        let mut counted = Counted::default();
        let mut records = 0;
        for &(c, at, state) in &self.subs {
            let inside = r.start.is_none_or(|s| at >= s) && r.end.is_none_or(|e| at <= e);
            if inside && campaign.is_none_or(|want| want == c) {
                records += 1;
                counted
                    .campaigns
                    .entry(format!("c{c}"))
                    .or_insert_with(CampaignCounts::default)
                    .templates
                    .entry("t".into())
                    .or_default()
                    .add_state(state, 1);
            }
        }
        ReadOk { counted, records }
    }

    /// What a server that ignores `start` and `end` answers any query with.
    fn ignoring_range(&self) -> ReadOk {
        self.query(
            None,
            Range {
                start: None,
                end: None,
            },
        )
    }
}

fn rules(policy: Policy) -> PollRules {
    PollRules {
        policy,
        budget: 10_000,
        max_staleness: 10 * MIN,
        verify_interval: Some(Duration::from_secs(86_400)),
    }
}

fn assert_tiles(layout: &Layout) {
    let s = layout.segments();
    assert!(s[0].lo.is_none(), "the oldest segment has a start");
    assert!(s[s.len() - 1].hi.is_none(), "the newest segment has an end");
    for pair in s.windows(2) {
        let hi = pair[0].hi.expect("only the newest segment is open");
        assert_eq!(pair[1].lo, Some(hi + 1), "gap or overlap in {s:?}");
    }
}

#[test]
fn a_new_target_is_read_whole_and_counted_then_its_segments_tile_the_axis() {
    let policy = Policy::new(MIN, 30 * MIN);
    let sim = Sim {
        subs: vec![(0, millis(t0()) - 3 * DAY_MS, "sent"), (0, 5, "error")],
    };
    let mut layouts = [Layout::new(Axis::ALL, &policy, false, t0())];
    // Never read: one unsegmented read, first of all, after its two
    // halves (cut in the middle of the year before now, at a second's end).
    layouts[0].prepare(t0(), &policy);
    let plan = layouts[0].plan(t0(), &policy);
    assert_eq!(plan.regular.len(), 1);
    assert_eq!(plan.regular[0].class, Class::First);
    assert_eq!(plan.regular[0].cost(), 3);
    let at = to_second_end(millis(t0()) - 365 * DAY_MS / 2);
    let half = |start, end| ReadKind::Check(Range { start, end });
    let kinds: Vec<ReadKind> = plan.regular[0].all_reads().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [
            half(None, Some(at)),
            half(Some(at + 1), None),
            ReadKind::Whole
        ]
    );
    assert_eq!(layouts[0].counts(), None);
    let mut ranges = Vec::new();
    poll_with(&mut layouts, t0(), &rules(policy), |_, r| {
        ranges.push(r);
        Some(sim.query(None, r))
    });
    let range = |start, end| Range { start, end };
    assert_eq!(
        ranges,
        [
            range(None, Some(at)),
            range(Some(at + 1), None),
            range(None, None)
        ]
    );
    // Counted from that read at once, while the segments fill.
    let layout = &layouts[0];
    assert!(matches!(layout.mode(), Mode::Filling(_)));
    assert_eq!(layout.counts().unwrap().total(), 2);
    assert_eq!(layout.refreshed(), Some(t0()));
    assert_tiles(layout);
    assert_eq!(layout.segment_count(), 7);
    // Cut at the end of the second one interval ago: `...59.999Z`.
    let seal = millis(t0()) - 60_000 - 1;
    assert_eq!(layout.segments()[5].hi, Some(seal));
    assert_eq!(layout.segments()[4].hi, Some(seal - HOUR_MS));
    // Every segment is due at the next poll, the newest first.
    let plan = layout.plan(t0() + MIN, &policy);
    assert_eq!(plan.regular.len(), 7);
    assert_eq!(plan.regular[0].class, Class::Newest);
    assert_eq!(plan.regular[0].reads[0].range.start, Some(seal + 1));
    assert_eq!(plan.regular[0].reads[0].range.end, None);
    // Once they are read, the segments' sum is the counts.
    poll_with(&mut layouts, t0() + MIN, &rules(policy), |_, r| {
        Some(sim.query(None, r))
    });
    assert!(matches!(layouts[0].mode(), Mode::Segmented));
    assert_eq!(layouts[0].counts().unwrap().total(), 2);
}

#[test]
fn halves_tile_their_parent_at_the_millisecond() {
    let range = Range {
        start: Some(1_000),
        end: Some(9_999),
    };
    let [lower, upper] = halves(SegmentId(3), range, 4_999);
    assert_eq!(
        (lower.range.start, lower.range.end),
        (Some(1_000), Some(4_999))
    );
    assert_eq!(
        (upper.range.start, upper.range.end),
        (Some(5_000), Some(9_999))
    );
    assert_eq!(
        upper.kind,
        ReadKind::Half {
            parent: SegmentId(3),
            upper: true,
            at: 4_999
        }
    );
    let open = halves(
        SegmentId(0),
        Range {
            start: None,
            end: None,
        },
        7,
    );
    assert_eq!((open[0].range.start, open[1].range.end), (None, None));
    // Cuts land on the end of a second when they can.
    assert_eq!(to_second_end(12_345), 11_999);
    assert_eq!(to_second_end(11_999), 11_999);
}

#[test]
fn max_interval_equal_to_interval_reads_the_whole_target_every_poll() {
    let policy = Policy::new(MIN, MIN);
    let sim = Sim {
        subs: vec![(0, millis(t0()) - 5, "sent")],
    };
    let mut layouts = [Layout::new(Axis::ALL, &policy, true, t0())];
    let mut ranges = vec![Vec::new(); 5];
    for round in 0..5 {
        let now = t0() + MIN * round;
        poll_with(&mut layouts, now, &rules(policy), |_, r| {
            ranges[round as usize].push(r);
            Some(sim.query(None, r))
        });
    }
    let whole = Range {
        start: None,
        end: None,
    };
    // The first poll checks the whole read by its halves (a cap is a cap
    // however the target is scheduled); its one record, in the upper half,
    // has the half split again until two pieces hold records or a piece
    // cannot be cut: a record at one instant never is.
    assert_eq!(ranges[0][2], whole);
    assert_eq!(ranges[0][0].start, None);
    assert_eq!(ranges[0][1].end, None);
    assert!(ranges[0].len() > 3, "{:?}", ranges[0]);
    for later in &ranges[1..] {
        assert_eq!(
            later,
            &[whole],
            "one unsegmented read per poll, no verification"
        );
    }
    assert_eq!(layouts[0].segment_count(), 1);
    assert_eq!(layouts[0].counts().unwrap().total(), 1);
}

#[test]
fn a_settled_segment_backs_off_to_max_interval_and_the_newest_is_read_every_poll() {
    let policy = Policy::new(MIN, 10 * MIN);
    let sim = Sim {
        subs: (0..50)
            .map(|i| (0, millis(t0()) - 3 * DAY_MS - i, "sent"))
            .collect(),
    };
    let mut layouts = [Layout::new(Axis::ALL, &policy, false, t0())];
    let mut reads_of_old = Vec::new();
    let mut newest_reads = 0;
    for round in 0..40u32 {
        let now = t0() + MIN * round;
        poll_with(&mut layouts, now, &rules(policy), |_, r| {
            // The first poll is the whole read and its check.
            if round > 0 && r.end.is_none() {
                newest_reads += 1;
            }
            let old = millis(t0()) - 3 * DAY_MS;
            if round > 0 && r.start.is_none_or(|s| s <= old) && r.end.is_some_and(|e| e >= old) {
                reads_of_old.push(round);
            }
            Some(sim.query(None, r))
        });
    }
    // Every later poll's newest read.
    assert_eq!(newest_reads, 39);
    // Read whole at 0; its segment first at 1, then at gaps of the time
    // since that read (1, 1, 2, 4, 8 minutes), then the 10-minute bound.
    assert_eq!(
        reads_of_old,
        [1, 2, 3, 5, 9, 17, 27, 37],
        "{reads_of_old:?}"
    );
}

/// Rounds (one a minute from t0) at which a read covering `at` was made.
fn reads_covering(
    at: Millis,
    rounds: std::ops::Range<u32>,
    sim: &mut Sim,
    change: impl Fn(u32, &mut Sim),
    policy: Policy,
) -> (Vec<u32>, Layout) {
    let mut layouts = [Layout::new(Axis::ALL, &policy, false, t0())];
    let mut reads = Vec::new();
    for round in rounds {
        change(round, sim);
        poll_with(&mut layouts, t0() + MIN * round, &rules(policy), |_, r| {
            if r.start.is_none_or(|s| s <= at) && r.end.is_some_and(|e| e >= at) {
                reads.push(round);
            }
            Some(sim.query(None, r))
        });
    }
    let [layout] = layouts;
    (reads, layout)
}

#[test]
fn a_single_late_change_costs_two_reads_and_the_segment_goes_back_to_its_long_gap() {
    let policy = Policy::new(MIN, 10 * MIN);
    let old = millis(t0()) - 3 * DAY_MS;
    let mut sim = Sim {
        subs: (0..3000).map(|i| (0, old - i, "sent")).collect(),
    };
    // A reply at round 40, when the segment has long settled.
    let (reads, layout) = reads_covering(
        old,
        0..70,
        &mut sim,
        |round, sim| {
            if round == 40 {
                sim.subs[7].2 = "completed";
            }
        },
        policy,
    );
    let after: Vec<u32> = reads.iter().copied().filter(|r| *r > 31).collect();
    // Read on schedule (whole at 0, then backing off to every 10): the
    // change made at 40 is seen at 47, confirmed unchanged at 48, and the
    // 10-minute gap comes straight back: no split, no slow backoff.
    assert_eq!(after, [37, 47, 48, 58, 68], "{reads:?}");
    assert_tiles(&layout);
    assert_eq!(layout.counts().unwrap().total(), 3000);
}

#[test]
fn a_region_changing_at_every_read_is_split_until_its_pieces_are_small() {
    let mut policy = Policy::new(MIN, 10 * MIN);
    policy.split_records = 100;
    // 3000 subscribers over the six days of the grid's week-old segment.
    let week = millis(t0()) - 60_001 - 7 * DAY_MS;
    let mut sim = Sim {
        subs: (0..3000)
            .map(|i| (0, week + 1 + i * 172_800, "pending"))
            .collect(),
    };
    // From round 10 on, one of the oldest 70 changes at every round.
    let (_, layout) = reads_covering(
        week + 1,
        0..70,
        &mut sim,
        |round, sim| {
            if round >= 10 {
                sim.subs[round as usize].2 = "sent";
            }
        },
        policy,
    );
    assert_tiles(&layout);
    let holding = |at: Millis| {
        layout
            .segments()
            .iter()
            .find(|s| s.lo.is_none_or(|lo| lo <= at) && s.hi.is_some_and(|hi| hi >= at))
            .map(|s| s.records)
            .unwrap()
    };
    // Where the changes are, the segment was halved from 3000 records down
    // to a few hundred.
    assert!(
        holding(week + 1 + 40 * 172_800) < 400,
        "{:?}",
        layout
            .segments()
            .iter()
            .map(|s| s.records)
            .collect::<Vec<_>>()
    );
    assert_eq!(layout.counts().unwrap().total(), 3000);
}

#[test]
fn a_failed_read_keeps_the_last_counts_until_max_staleness() {
    let policy = Policy::new(MIN, MIN);
    let sim = Sim {
        subs: vec![(0, 1, "sent"), (0, 2, "error")],
    };
    let mut layouts = [Layout::new(Axis::ALL, &policy, false, t0())];
    let r = rules(policy);
    poll_with(&mut layouts, t0(), &r, |_, q| Some(sim.query(None, q)));
    let good = layouts[0].counts().unwrap();
    for round in 1..=10 {
        let applied = poll_with(&mut layouts, t0() + MIN * round, &r, |_, _| None);
        assert!(!applied[0].expired);
        assert_eq!(layouts[0].counts().as_ref(), Some(&good), "round {round}");
    }
    // Failing since round 1: ten minutes later, at round 11, the counts go.
    let applied = poll_with(&mut layouts, t0() + MIN * 11, &r, |_, _| None);
    assert!(applied[0].expired);
    assert_eq!(layouts[0].counts(), None);
    poll_with(&mut layouts, t0() + MIN * 12, &r, |_, q| {
        Some(sim.query(None, q))
    });
    assert_eq!(layouts[0].counts(), Some(good));
}

#[test]
fn a_window_drops_the_segments_it_leaves_behind() {
    let policy = Policy::new(MIN, 30 * MIN);
    let axis = Axis {
        start: AxisStart::Window(Duration::from_secs(2 * 86_400)),
        end: None,
    };
    let base = millis(t0());
    let sim = Sim {
        subs: (0..48)
            .map(|h| (0, base - h * HOUR_MS - 1, "sent"))
            .collect(),
    };
    let mut layouts = [Layout::new(axis, &policy, false, t0())];
    let r = rules(policy);
    poll_with(&mut layouts, t0(), &r, |_, q| Some(sim.query(None, q)));
    assert_eq!(layouts[0].counts().unwrap().total(), 48);
    // A day on, half of them are older than the window.
    let later = t0() + Duration::from_secs(86_400);
    let mut after = 0;
    for round in 0..=30 {
        poll_with(&mut layouts, later + MIN * round, &r, |_, q| {
            Some(sim.query(None, q))
        });
        after = layouts[0].counts().unwrap().total();
    }
    assert_eq!(after, 24);
    assert!(layouts[0].segments()[0].lo.is_none());
}

#[test]
fn a_year_of_settled_history_stays_in_few_segments() {
    let mut policy = Policy::new(MIN, 30 * MIN);
    policy.seal_records = 10;
    policy.split_records = 10;
    let base = millis(t0());
    // One subscriber a day for a year, each changing state once, late.
    let mut sim = Sim {
        subs: (0..365)
            .map(|d| (0, base - d * DAY_MS, "pending"))
            .collect(),
    };
    let mut layouts = [Layout::new(Axis::ALL, &policy, false, t0())];
    let r = rules(policy);
    let mut most = 0;
    for round in 0..600u32 {
        if round % 10 == 0 && (round as usize / 10) < sim.subs.len() {
            sim.subs[round as usize / 10].2 = "sent";
        }
        poll_with(&mut layouts, t0() + MIN * round, &r, |_, q| {
            Some(sim.query(None, q))
        });
        most = most.max(layouts[0].segment_count());
    }
    assert!(most <= policy.max_segments, "{most} segments");
    let shape: Vec<_> = layouts[0]
        .segments()
        .iter()
        .map(|s| (s.lo.map(|l| (base - l) / DAY_MS), s.records, s.unchanged))
        .collect();
    assert!(layouts[0].segment_count() <= 8, "{shape:?}");
    assert_tiles(&layouts[0]);
}

#[test]
fn windowed_counts_equal_a_query_over_the_window_within_max_interval() {
    let policy = Policy::new(MIN, 10 * MIN);
    let window = Duration::from_secs(2 * 86_400);
    let axis = Axis {
        start: AxisStart::Window(window),
        end: None,
    };
    let base = millis(t0());
    // A subscriber every 7 minutes over the last ten days.
    let sim = Sim {
        subs: (0..2000)
            .map(|i| (0, base - i * 7 * 60_000 - 13, "sent"))
            .collect(),
    };
    let mut layouts = [Layout::new(axis, &policy, true, t0())];
    let r = rules(policy);
    let total_at = |t: SystemTime| {
        let q = Range {
            start: axis.start_at(millis(t)),
            end: None,
        };
        sim.query(None, q).counted.total()
    };
    for round in 0..300u32 {
        let now = t0() + MIN * round;
        poll_with(&mut layouts, now, &r, |_, q| Some(sim.query(None, q)));
        let got = layouts[0].counts().unwrap().total();
        // No inserts: the window's count only falls. The exporter's lies
        // between the count now and the count one bound (and a poll) ago.
        let earliest = now
            .checked_sub(policy.max_interval + MIN)
            .filter(|t| *t >= t0())
            .unwrap_or(t0());
        assert!(
            total_at(now) <= got && got <= total_at(earliest),
            "round {round}: {got} outside [{}, {}]",
            total_at(now),
            total_at(earliest)
        );
    }
    assert!(layouts[0].segment_count() <= policy.max_segments);
}

mod cap;
mod properties;
mod schedule;
mod transitions;
mod verification;
