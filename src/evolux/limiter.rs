//! The limits on requests to the API: how many in flight at once and how
//! many started per second.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// Shared by every request of the exporter.
#[derive(Debug)]
pub struct Limiter {
    in_flight: Semaphore,
    period: Duration,
    next_slot: Mutex<Instant>,
}

impl Limiter {
    /// At most `max_concurrency` requests in flight and `max_rps` started per second.
    pub fn new(max_concurrency: usize, max_rps: f64) -> Limiter {
        Limiter {
            in_flight: Semaphore::new(max_concurrency),
            period: Duration::from_secs_f64(1.0 / max_rps),
            next_slot: Mutex::new(Instant::now()),
        }
    }

    /// Waits for a free slot in both limits; the request may start when this
    /// returns and counts as in flight until the permit is dropped.
    pub async fn acquire(&self) -> SemaphorePermit<'_> {
        // The semaphore is never closed, so acquire cannot fail.
        let permit = match self.in_flight.acquire().await {
            Ok(p) => p,
            Err(_) => unreachable!("the limiter's semaphore is never closed"),
        };
        let start_at = {
            let mut next = self.next_slot.lock().unwrap_or_else(|e| e.into_inner());
            let slot = (*next).max(Instant::now());
            *next = slot + self.period;
            slot
        };
        tokio::time::sleep_until(start_at).await;
        permit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn starts_are_spaced_by_the_rate() {
        let limiter = Limiter::new(10, 4.0);
        let t0 = Instant::now();
        let mut starts = Vec::new();
        for _ in 0..5 {
            let _p = limiter.acquire().await;
            starts.push(Instant::now() - t0);
        }
        assert_eq!(starts[0], Duration::ZERO);
        assert_eq!(starts[4], Duration::from_millis(1000));
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
