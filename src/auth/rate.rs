//! `rate_limit`: a token bucket over every request, as the
//! exporter-toolkit's (Go's `rate.NewLimiter(rate.Every(interval), burst)`):
//! it starts full with `burst` tokens, each request takes one, one comes
//! back every `interval` (continuously, in fractions), and a request that
//! finds no whole token gets 429.

use std::sync::Mutex;
use std::time::Instant;

use crate::webconfig::RateLimit;

/// The bucket, for the limit it was made for (a reload that changes the
/// limit starts a new, full bucket).
#[derive(Debug, Default)]
pub(super) struct Limiter {
    state: Mutex<Option<Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    limit: RateLimit,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(limit: RateLimit, now: Instant) -> Bucket {
        Bucket {
            limit,
            tokens: f64::from(limit.burst),
            at: now,
        }
    }

    /// Takes a token at `now` if a whole one is there.
    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at);
        self.at = now;
        let refill = elapsed.as_secs_f64() / self.limit.interval.as_secs_f64();
        self.tokens = (self.tokens + refill).min(f64::from(self.limit.burst));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl Limiter {
    /// Whether a request arriving now under `limit` may go on.
    pub(super) fn allow(&self, limit: Option<RateLimit>) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(limit) = limit else {
            *state = None;
            return true;
        };
        let now = Instant::now();
        let bucket = match state.as_mut() {
            Some(b) if b.limit == limit => b,
            _ => state.insert(Bucket::full(limit, now)),
        };
        bucket.take(now)
    }
}

/// How long a refused client should wait for the next token (rounded up to
/// whole seconds, at least one), for `Retry-After`.
pub(super) fn retry_after(limit: RateLimit) -> u64 {
    let d = limit.interval;
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limit(ms: u64, burst: u32) -> RateLimit {
        RateLimit {
            interval: Duration::from_millis(ms),
            burst,
        }
    }

    #[test]
    fn the_bucket_starts_full_empties_and_refills_one_token_per_interval() {
        let t0 = Instant::now();
        let mut b = Bucket::full(limit(1000, 3), t0);
        assert!(b.take(t0) && b.take(t0) && b.take(t0));
        assert!(!b.take(t0), "past the burst");
        assert!(
            !b.take(t0 + Duration::from_millis(999)),
            "not yet a whole token"
        );
        assert!(
            b.take(t0 + Duration::from_millis(1999)),
            "one token after an interval"
        );
        assert!(!b.take(t0 + Duration::from_millis(1999)));
        // A long pause refills to the burst, no more.
        let later = t0 + Duration::from_secs(60);
        assert!(b.take(later) && b.take(later) && b.take(later));
        assert!(!b.take(later));
    }

    #[test]
    fn no_limit_allows_everything_and_a_new_limit_starts_full() {
        let l = Limiter::default();
        for _ in 0..100 {
            assert!(l.allow(None));
        }
        assert!(l.allow(Some(limit(60_000, 1))));
        assert!(!l.allow(Some(limit(60_000, 1))));
        assert!(
            l.allow(Some(limit(60_000, 2))),
            "a changed limit is a new bucket"
        );
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after(limit(1, 1)), 1);
        assert_eq!(retry_after(limit(1000, 1)), 1);
        assert_eq!(retry_after(limit(1500, 1)), 2);
        assert_eq!(retry_after(limit(60_000, 1)), 60);
    }
}
