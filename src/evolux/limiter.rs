//! The limits on requests to the API: how many in flight at once and how
//! many started per second.
//!
//! The rate limit is enforced on the moments requests really start, not on
//! slots booked in advance: a task that wakes late pushes every later start
//! back, so no one-second window, wherever it falls, sees more than
//! `max_rps` starts. Starts are spaced [`RATE_MARGIN`] wider than `1/max_rps`
//! so that network jitter between here and the upstream cannot bunch two
//! starts closer than the upstream's own limiter allows.

use std::time::Duration;

use tokio::sync::{Mutex, Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// How much wider than `1/max_rps` starts are spaced (2%).
pub const RATE_MARGIN: f64 = 1.02;

/// A wake-up this late still counts as on schedule.
const TIMER_SLACK: Duration = Duration::from_millis(2);

/// Shared by every request of the exporter.
#[derive(Debug)]
pub struct Limiter {
    in_flight: Semaphore,
    period: Duration,
    /// When the last request started; held across the wait so that starts
    /// are handed out one at a time, in arrival order (tokio's mutex is fair).
    last_start: Mutex<Option<Instant>>,
    /// No request starts before this: the server asked every client to wait
    /// (`Retry-After` on a 429 or 503), not only the request it refused.
    paused_until: std::sync::Mutex<Option<Instant>>,
}

impl Limiter {
    /// At most `max_concurrency` requests in flight and `max_rps` started per second.
    pub fn new(max_concurrency: usize, max_rps: f64) -> Limiter {
        Limiter {
            in_flight: Semaphore::new(max_concurrency),
            period: Duration::from_secs_f64(RATE_MARGIN / max_rps),
            last_start: Mutex::new(None),
            paused_until: std::sync::Mutex::new(None),
        }
    }

    /// Holds every request back until `until` (a later pause wins).
    pub fn pause_until(&self, until: Instant) {
        let mut paused = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        *paused = Some(paused.map_or(until, |p| p.max(until)));
    }

    fn paused_until(&self) -> Option<Instant> {
        *self.paused_until.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a free slot in both limits; the request may start when this
    /// returns and counts as in flight until the permit is dropped.
    pub async fn acquire(&self) -> SemaphorePermit<'_> {
        // The semaphore is never closed, so acquire cannot fail.
        let permit = match self.in_flight.acquire().await {
            Ok(p) => p,
            Err(_) => unreachable!("the limiter's semaphore is never closed"),
        };
        let mut last_start = self.last_start.lock().await;
        while let Some(until) = self.paused_until().filter(|u| *u > Instant::now()) {
            tokio::time::sleep_until(until).await;
        }
        let now = match *last_start {
            Some(last) => {
                let due = last + self.period;
                tokio::time::sleep_until(due).await;
                let now = Instant::now();
                // The timer wakes up to a millisecond or so late; within
                // TIMER_SLACK the start counts as on time, so the rate is
                // not lost to rounding (two starts can then be closer than
                // the period by at most the slack, once, which the margin
                // covers). A later wake-up delays every later start.
                if now <= due + TIMER_SLACK { due } else { now }
            }
            None => Instant::now(),
        };
        *last_start = Some(now);
        permit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_back_every_request_until_it_ends() {
        let limiter = Limiter::new(4, 100.0);
        let t0 = Instant::now();
        let _first = limiter.acquire().await;
        limiter.pause_until(t0 + Duration::from_secs(5));
        // An earlier pause does not shorten it.
        limiter.pause_until(t0 + Duration::from_secs(1));
        let _second = limiter.acquire().await;
        assert!(Instant::now() >= t0 + Duration::from_secs(5));
        let _third = limiter.acquire().await;
        assert!(Instant::now() < t0 + Duration::from_millis(5100));
    }

    #[tokio::test(start_paused = true)]
    async fn starts_are_spaced_by_the_rate_and_its_margin() {
        let limiter = Limiter::new(10, 4.0);
        let t0 = Instant::now();
        let mut starts = Vec::new();
        for _ in 0..5 {
            let _p = limiter.acquire().await;
            starts.push(Instant::now() - t0);
        }
        assert_eq!(starts[0], Duration::ZERO);
        let four_periods = Duration::from_secs_f64(4.0 * RATE_MARGIN / 4.0);
        let error = starts[4].abs_diff(four_periods);
        assert!(error < Duration::from_millis(1), "starts: {starts:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_start_pushes_the_next_one_back() {
        let limiter = Limiter::new(10, 10.0);
        drop(limiter.acquire().await);
        // The caller of the second start is busy for 250 ms before it asks.
        tokio::time::advance(Duration::from_millis(250)).await;
        let second = Instant::now();
        drop(limiter.acquire().await);
        assert_eq!(Instant::now(), second, "no wait needed after a long gap");
        drop(limiter.acquire().await);
        assert!(Instant::now() - second >= Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_waiters_never_start_closer_than_the_period() {
        let limiter = std::sync::Arc::new(Limiter::new(50, 20.0));
        let mut tasks = Vec::new();
        for _ in 0..40 {
            let limiter = limiter.clone();
            tasks.push(tokio::spawn(async move {
                let _p = limiter.acquire().await;
                Instant::now()
            }));
        }
        let mut starts = Vec::new();
        for t in tasks {
            starts.push(t.await.expect("task"));
        }
        starts.sort();
        let min_gap = Duration::from_secs_f64(1.0 / 20.0);
        for w in starts.windows(2) {
            assert!(w[1] - w[0] >= min_gap, "gap {:?}", w[1] - w[0]);
        }
        // And in any one-second window, at most 20 starts.
        for (i, &s) in starts.iter().enumerate() {
            let in_window = starts[i..]
                .iter()
                .take_while(|&&t| t - s < Duration::from_secs(1))
                .count();
            assert!(in_window <= 20, "{in_window} starts in one second");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn in_flight_is_capped() {
        let limiter = Limiter::new(2, 1000.0);
        let a = limiter.acquire().await;
        let _b = limiter.acquire().await;
        let third = tokio::time::timeout(Duration::from_secs(1), limiter.acquire()).await;
        assert!(third.is_err(), "a third request started with two in flight");
        drop(a);
        let third = tokio::time::timeout(Duration::from_secs(1), limiter.acquire()).await;
        assert!(third.is_ok());
    }
}
