//! The simulated fleet: its campaigns, when each subscriber was inserted,
//! and when its state changes, all drawn from seeds.

use crate::support::Rng;

pub const MIN_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 60 * MIN_MS;
pub const DAY_MS: i64 = 24 * HOUR_MS;
/// A change that never comes.
pub const NEVER: i64 = i64::MAX;

/// Campaigns in the fleet: the busy one, the active ones, the rest settled.
pub const CAMPAIGNS: usize = crate::support::CAMPAIGNS as usize;
/// Campaigns inserting and dispatching now.
pub const ACTIVE: usize = 3;
/// Subscribers the busy campaign inserts a day (and holds at the start).
pub const BUSY_PER_DAY: i64 = 10_000;
/// Inserts an hour into each active campaign.
const ACTIVE_PER_HOUR: i64 = 1_500;

/// How a campaign's subscribers change; lag is reported by kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Inserted over the last day and still inserting; every subscriber
    /// changes state several times over the day after its insertion.
    Busy,
    /// Inserting and dispatching now: most changes within hours of an insert.
    Active,
    /// Long done but for late replies.
    Settled,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Busy, Kind::Active, Kind::Settled];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Busy => "busy campaign",
            Kind::Active => "active campaigns",
            Kind::Settled => "settled campaigns",
        }
    }
}

/// One campaign: its subscribers' insertion instants, sorted.
pub struct Campaign {
    pub uuid: String,
    pub inserted: Vec<i64>,
    pub kind: Kind,
}

/// A subscriber's states, each from the instant it begins, in order; the
/// steps that never come are at [`NEVER`].
pub type Steps = [(i64, &'static str); 6];

/// Subscriber `i` of campaign `c` (of `kind`), inserted at `inserted`.
pub fn steps(c: usize, kind: Kind, i: usize, inserted: i64) -> Steps {
    let mut r = Rng::new(((c as u64) << 40) ^ i as u64);
    let mut unit = || (r.next() >> 11) as f64 / (1u64 << 53) as f64;
    if kind == Kind::Busy {
        // 3 to 5 changes, each at a uniform instant of the next 24 hours:
        // dispatched, sent, answered (or dnd, or failed), followed up.
        let n = 3 + (unit() * 3.0) as usize;
        let mut at = [NEVER; 5];
        for a in at.iter_mut().take(n) {
            *a = inserted + 1 + (unit() * (DAY_MS - 1) as f64) as i64;
        }
        at.sort_unstable();
        let u = unit();
        let answer = if u < 0.05 {
            "error"
        } else if u < 0.15 {
            "dnd"
        } else {
            "completed"
        };
        let path = ["scheduled", "sent", answer, "scheduled", "sent"];
        let mut out = [(inserted, "pending"); 6];
        for (k, (a, s)) in at.iter().zip(path).enumerate() {
            out[k + 1] = (*a, s);
        }
        return out;
    }
    let scheduled = inserted + (unit() * 20.0 * MIN_MS as f64) as i64;
    let sent = scheduled + MIN_MS + (unit() * 4.0 * MIN_MS as f64) as i64;
    let u = unit();
    let later = |mean_ms: f64, u: f64| sent + (-(1.0 - u).ln() * mean_ms) as i64;
    let (sent_state, at, state) = if u < 0.04 {
        ("error", NEVER, "error")
    } else {
        let w = unit();
        if u < 0.59 {
            ("sent", later(90.0 * MIN_MS as f64, w), "completed")
        } else if u < 0.64 {
            ("sent", later(30.0 * MIN_MS as f64, w), "dnd")
        } else if u < 0.66 {
            let days = DAY_MS + (w * 29.0 * DAY_MS as f64) as i64;
            ("sent", sent + days, "completed")
        } else {
            ("sent", NEVER, "sent")
        }
    };
    [
        (inserted, "pending"),
        (scheduled, "scheduled"),
        (sent, sent_state),
        (at, state),
        (NEVER, state),
        (NEVER, state),
    ]
}

/// The state at `t`, if inserted by then.
pub fn state_at(steps: &Steps, t: i64) -> Option<&'static str> {
    steps.iter().rev().find(|(at, _)| *at <= t).map(|(_, s)| *s)
}

/// The fleet at `now`, with the inserts of the next `hours` (and one more).
///
/// Settled campaigns: ~41 000 subscribers each, inserted over one or two
/// days, started across 90 days. Active ones: 40 000 so far, then 1 500 an
/// hour. The busy one: 10 000 over the last day, going on at that rate.
pub fn fleet(now: i64, hours: i64) -> Vec<Campaign> {
    let mut rng = Rng::new(7);
    let ahead = hours + 1;
    let uuids = crate::support::campaign_uuids();
    (0..CAMPAIGNS)
        .map(|c| {
            let kind = if c == CAMPAIGNS - 1 {
                Kind::Busy
            } else if c >= CAMPAIGNS - 1 - ACTIVE {
                Kind::Active
            } else {
                Kind::Settled
            };
            let (start, span, n) = match kind {
                Kind::Busy => {
                    let span = DAY_MS + ahead * HOUR_MS;
                    (now - DAY_MS, span, (BUSY_PER_DAY * span / DAY_MS) as usize)
                }
                Kind::Active => {
                    let start = now - (3 + 2 * (c % ACTIVE) as i64) * DAY_MS;
                    (start, now - start, 40_000)
                }
                Kind::Settled => {
                    let start = now - 90 * DAY_MS + c as i64 * (88 * DAY_MS / CAMPAIGNS as i64);
                    (
                        start,
                        DAY_MS + (rng.next() % DAY_MS as u64) as i64,
                        38_000 + (rng.next() % 6_000) as usize,
                    )
                }
            };
            let mut inserted: Vec<i64> = (0..n)
                .map(|_| start + (rng.next() % span as u64) as i64)
                .collect();
            if kind == Kind::Active {
                inserted.extend(
                    (0..ACTIVE_PER_HOUR * ahead)
                        .map(|k| now + k * HOUR_MS / ACTIVE_PER_HOUR + (rng.next() % 1000) as i64),
                );
            }
            inserted.sort_unstable();
            Campaign {
                uuid: uuids[c].clone(),
                inserted,
                kind,
            }
        })
        .collect()
}
