//! A server that cuts every answer at some number of records, silently:
//! caught by the first read's check (or by a verification), the target
//! shows no counts while a segment is at the cap, splits those segments,
//! and shows the exact counts once every one is below it.

use super::*;

const CAP: usize = 200;

/// `n` subscribers of campaign 0 over the last 300 days, oldest first, in
/// states that change with their age (so reads of different ranges count
/// differently).
fn spread(n: i64) -> Sim {
    let now = millis(t0());
    Sim {
        subs: (0..n)
            .map(|i| {
                let state = ["sent", "pending", "completed", "error"][(i * 4 / n) as usize];
                (0, now - 300 * DAY_MS + i * (300 * DAY_MS / n), state)
            })
            .collect(),
    }
}

/// What a server that cuts every answer at `cap` records answers: the
/// first `cap` of the range's subscribers, oldest first.
fn capped(sim: &Sim, r: Range, cap: usize) -> ReadOk {
    let mut subs: Vec<_> = sim
        .subs
        .iter()
        .filter(|s| r.start.is_none_or(|st| s.1 >= st) && r.end.is_none_or(|e| s.1 <= e))
        .copied()
        .collect();
    subs.sort_by_key(|s| s.1);
    subs.truncate(cap);
    Sim { subs }.query(
        None,
        Range {
            start: None,
            end: None,
        },
    )
}

/// Polls once a minute from `from` until `done` holds, at most `rounds`
/// polls; returns the polls made.
fn poll_until(
    layouts: &mut [Layout],
    r: &PollRules,
    read: impl Fn(Range) -> ReadOk,
    from: u32,
    rounds: u32,
    done: impl Fn(&Layout, &Applied) -> bool,
) -> Option<u32> {
    (from..from + rounds).find(|round| {
        let applied = poll_with(layouts, t0() + MIN * *round, r, |_, q| Some(read(q)));
        done(&layouts[0], &applied[0])
    })
}

#[test]
fn a_silent_cap_is_caught_at_the_first_poll_and_counts_show_once_every_segment_is_below_it() {
    let policy = Policy::new(MIN, 30 * MIN);
    let sim = spread(600);
    let mut layouts = [Layout::new(Axis::ALL, &policy, true, t0())];
    let r = rules(policy);
    let mut reads = 0;
    let applied = poll_with(&mut layouts, t0(), &r, |_, q| {
        reads += 1;
        Some(capped(&sim, q, CAP))
    });
    assert_eq!(reads, 3, "two halves and the whole");
    let cap = applied[0].cap.as_ref().expect("a cap is found");
    assert_eq!((cap.whole, cap.parts.as_slice()), (200, &[200, 200][..]));
    assert_eq!(applied[0].mismatches.len(), 1);
    assert_eq!(applied[0].mismatches[0].unsegmented, 200);
    assert_eq!(layouts[0].cap(), Some(200));
    assert!(matches!(layouts[0].mode(), Mode::Segmented));
    assert_eq!(layouts[0].segments().len(), 2);
    assert_tiles(&layouts[0]);
    assert_eq!(layouts[0].counts(), None, "the whole read is not shown");
    let why = applied[0].incomplete.as_deref().expect("incomplete");
    assert!(why.contains("cut answers at 200 records"), "{why}");
    // Said once: the next polls split, and say nothing more of it.
    let read = |q| capped(&sim, q, CAP);
    let done = poll_until(&mut layouts, &r, read, 1, 30, |l, a| {
        assert!(a.cap.is_none() && a.mismatches.is_empty(), "{a:?}");
        l.counts().is_some()
    });
    assert!(done.is_some(), "counts within 30 polls");
    let layout = &layouts[0];
    assert_eq!(layout.counts().unwrap().total(), 600);
    assert!(layout.segments().iter().all(|s| (s.records as usize) < CAP));
    assert_eq!(layout.shortfall(t0() + MIN * 31), None);
    assert_tiles(layout);
    // Segments stay below the cap: merges do not undo the splits.
    poll_until(&mut layouts, &r, read, 40, 200, |l, a| {
        assert_eq!(l.counts().map(|c| c.total()), Some(600), "{a:?}");
        false
    });
}

#[test]
fn a_normal_server_is_confirmed_and_counted_from_the_first_poll() {
    let policy = Policy::new(MIN, 30 * MIN);
    let sim = spread(600);
    let mut layouts = [Layout::new(Axis::ALL, &policy, true, t0())];
    let applied = poll_with(&mut layouts, t0(), &rules(policy), |_, q| {
        Some(sim.query(None, q))
    });
    assert_eq!(applied[0].cap, None);
    assert!(applied[0].mismatches.is_empty() && applied[0].incomplete.is_none());
    assert!(matches!(layouts[0].mode(), Mode::Filling(_)));
    assert_eq!(layouts[0].counts().unwrap().total(), 600);
}

#[test]
fn a_millisecond_at_the_cap_cannot_be_split_and_stays_incomplete() {
    let policy = Policy::new(MIN, 30 * MIN);
    let at = millis(t0()) - 40 * DAY_MS;
    let mut sim = spread(50);
    sim.subs.extend((0..250).map(|_| (0, at, "sent")));
    let mut layouts = [Layout::new(Axis::ALL, &policy, false, t0())];
    let r = rules(policy);
    let read = |q| capped(&sim, q, CAP);
    let stuck = poll_until(&mut layouts, &r, read, 0, 80, |l, a| {
        assert_eq!(l.counts(), None);
        a.incomplete
            .as_deref()
            .is_some_and(|m| m.contains("one millisecond long"))
    });
    assert!(stuck.is_some(), "narrowed down to the millisecond");
    let one_ms: Vec<_> = layouts[0]
        .segments()
        .iter()
        .filter(|s| s.records >= 200)
        .collect();
    assert_eq!(one_ms.len(), 1);
    assert_eq!((one_ms[0].lo, one_ms[0].hi), (Some(at), Some(at)));
    // It stays so, poll after poll.
    poll_until(&mut layouts, &r, read, 100, 5, |l, a| {
        assert!(l.counts().is_none() && a.incomplete.is_some());
        false
    });
}

#[test]
fn a_verification_whose_whole_read_is_at_a_segments_size_finds_the_cap() {
    let policy = Policy::new(MIN, 30 * MIN);
    // Below the cap at the first read: confirmed, counted.
    let mut sim = spread(150);
    let mut layouts = [Layout::new(Axis::ALL, &policy, true, t0())];
    let r = rules(policy);
    let applied = poll_with(&mut layouts, t0(), &r, |_, q| Some(capped(&sim, q, CAP)));
    assert_eq!(applied[0].cap, None);
    assert_eq!(layouts[0].counts().unwrap().total(), 150);
    // 400 more, 100 days old, before the first verification.
    let old = millis(t0()) - 100 * DAY_MS;
    sim.subs.extend((0..400).map(|i| (0, old + i, "pending")));
    let applied = poll_with(&mut layouts, t0() + MIN, &r, |_, q| {
        Some(capped(&sim, q, CAP))
    });
    let cap = applied[0].cap.as_ref().expect("found by the verification");
    assert_eq!(cap.whole, 200);
    assert!(cap.parts.contains(&200), "{cap:?}");
    assert!(!applied[0].mismatches.is_empty());
    assert!(!layouts[0].in_fallback());
    assert_eq!(layouts[0].counts(), None);
    let read = |q| capped(&sim, q, CAP);
    let done = poll_until(&mut layouts, &r, read, 2, 30, |l, _| l.counts().is_some());
    assert!(done.is_some(), "counts within 30 polls");
    assert_eq!(layouts[0].counts().unwrap().total(), 550);
    assert_tiles(&layouts[0]);
}

#[test]
fn a_budget_below_three_reads_a_new_target_whole_without_its_check() {
    let policy = Policy::new(MIN, 30 * MIN);
    let sim = spread(10);
    let mut layouts = [Layout::new(Axis::ALL, &policy, false, t0())];
    let mut r = rules(policy);
    r.budget = 2;
    let mut ranges = Vec::new();
    poll_with(&mut layouts, t0(), &r, |_, q| {
        ranges.push(q);
        Some(sim.query(None, q))
    });
    let whole = Range {
        start: None,
        end: None,
    };
    assert_eq!(ranges, [whole]);
    assert_eq!(layouts[0].counts().unwrap().total(), 10);
}

#[test]
fn a_capped_campaign_inserted_in_one_burst_is_caught_at_the_first_poll() {
    // 600 subscribers inserted within the last ten minutes: both halves of
    // the year-long first check fall on one side, so the check is refined
    // until two pieces hold records.
    let now = millis(t0());
    let burst = Sim {
        subs: (0..600)
            .map(|i| {
                (
                    0,
                    now - 600_000 + i * 1000,
                    ["sent", "error"][(i % 2) as usize],
                )
            })
            .collect(),
    };
    let policy = Policy::new(MIN, 30 * MIN);
    let mut layouts = [Layout::new(Axis::ALL, &policy, false, t0())];
    let r = rules(policy);
    let mut reads = 0;
    let applied = poll_with(&mut layouts, t0(), &r, |_, q| {
        reads += 1;
        Some(capped(&burst, q, CAP))
    });
    assert!(reads > 3, "the check was not refined: {reads} reads");
    assert_eq!(
        applied[0].cap.as_ref().map(|c| c.whole),
        Some(CAP as u64),
        "{:?}",
        applied[0]
    );
    assert_eq!(layouts[0].counts(), None, "a capped count shown");
    // The same burst from a server that does not cap is counted at once.
    let mut layouts = [Layout::new(Axis::ALL, &policy, false, t0())];
    let applied = poll_with(&mut layouts, t0(), &r, |_, q| Some(burst.query(None, q)));
    assert_eq!(applied[0].cap, None);
    assert_eq!(layouts[0].counts().map(|c| c.total()), Some(600));
}

#[test]
fn a_cap_above_every_part_is_told_from_overlapping_parts_by_halving_one() {
    // 300 subscribers over 300 days, answers cut at 200: each half holds
    // 150, below the cap, and the halves add up to more than the whole.
    let sim = spread(300);
    let policy = Policy::new(MIN, 30 * MIN);
    let r = rules(policy);
    let mut layouts = [Layout::new(Axis::ALL, &policy, false, t0())];
    let applied = poll_with(&mut layouts, t0(), &r, |_, q| Some(capped(&sim, q, CAP)));
    assert_eq!(applied[0].cap.as_ref().map(|c| c.whole), Some(CAP as u64));
    // Every part is below the cap: their sum, the truth, shows at once.
    assert_eq!(layouts[0].counts().map(|c| c.total()), Some(300));
}
