//! The bcrypt checks behind basic auth: how many run at once, how many one
//! client may have in progress, and which attempts are remembered.
//!
//! - Up to [`concurrent_checks`] checks run at once (one per core), off the
//!   async workers; the permit goes with the check, so a client that hangs
//!   up does not free it early.
//! - A client (peer address) has at most [`CHECKS_PER_CLIENT`] checks in
//!   progress or queued; past that its login is refused at once, not
//!   queued, so one client cannot take every permit nor lengthen the
//!   queue.
//! - Every finished check is remembered by an HMAC, under a key drawn at
//!   start-up, of the user, the hash and the password (never the password
//!   itself): a success so that Prometheus, which sends the same
//!   credentials on every scrape, pays it once; a failure so that repeating
//!   a wrong password costs nothing. The two are kept apart, so failures
//!   cannot push successes out.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

/// Checks one client may have in progress or queued at once.
pub const CHECKS_PER_CLIENT: usize = 1;

/// Successful attempts remembered, at most (the set is cleared when full;
/// only someone who knows a password can add to it).
const MAX_SUCCESSES: usize = 256;

/// Failed attempts remembered, at most (the set is cleared when full).
const MAX_FAILURES: usize = 4096;

/// bcrypt checks that run at once: one per core the process may use.
pub fn concurrent_checks() -> usize {
    std::thread::available_parallelism().map_or(1, NonZeroUsize::get)
}

/// The answer to one login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// The user is known and the password matches.
    Accepted,
    /// Unknown user or wrong password.
    Refused,
    /// The client already has [`CHECKS_PER_CLIENT`] checks in progress:
    /// refused unchecked.
    ClientBusy,
}

/// A set of HMAC tags that forgets everything when it reaches its bound.
struct Remembered {
    tags: HashSet<Vec<u8>>,
    max: usize,
}

impl Remembered {
    fn new(max: usize) -> Remembered {
        Remembered {
            tags: HashSet::new(),
            max,
        }
    }

    fn insert(&mut self, tag: Vec<u8>) {
        if self.tags.len() >= self.max {
            self.tags.clear();
        }
        self.tags.insert(tag);
    }
}

/// Checks in progress per client address.
type InProgress = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// One client's place among the checks in progress; given back on drop.
struct ClientSlot {
    in_progress: InProgress,
    client: IpAddr,
}

impl ClientSlot {
    /// A place for `client`, unless it already has its share.
    fn take(in_progress: &InProgress, client: IpAddr) -> Option<ClientSlot> {
        let mut map = in_progress.lock().unwrap_or_else(|e| e.into_inner());
        let count = map.entry(client).or_insert(0);
        if *count >= CHECKS_PER_CLIENT {
            return None;
        }
        *count += 1;
        Some(ClientSlot {
            in_progress: in_progress.clone(),
            client,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut map = self.in_progress.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = map.get_mut(&self.client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                map.remove(&self.client);
            }
        }
    }
}

/// The bcrypt checker shared by every request.
pub(super) struct Checker {
    permits: Arc<Semaphore>,
    in_progress: InProgress,
    key: ring::hmac::Key,
    successes: Mutex<Remembered>,
    failures: Mutex<Remembered>,
}

impl Checker {
    /// A checker with [`concurrent_checks`] permits and a fresh HMAC key.
    pub(super) fn new() -> Checker {
        let rng = ring::rand::SystemRandom::new();
        // Without OS randomness, a fixed key: the tags never leave the
        // process, so it only makes them guessable to someone who can
        // already read its memory.
        let key = ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &rng)
            .unwrap_or_else(|_| ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"evolux-exporter"));
        Checker {
            permits: Arc::new(Semaphore::new(concurrent_checks())),
            in_progress: Arc::new(Mutex::new(HashMap::new())),
            key,
            successes: Mutex::new(Remembered::new(MAX_SUCCESSES)),
            failures: Mutex::new(Remembered::new(MAX_FAILURES)),
        }
    }

    /// The tag of one attempt: user, hash and password, each
    /// length-prefixed so that no two attempts share a tag.
    fn tag(&self, user: &str, hash: &str, password: &str) -> Vec<u8> {
        let mut ctx = ring::hmac::Context::with_key(&self.key);
        for part in [user, hash, password] {
            ctx.update(&(part.len() as u64).to_le_bytes());
            ctx.update(part.as_bytes());
        }
        ctx.sign().as_ref().to_vec()
    }

    /// Checks `password` against `hash` for `user` (`known`: whether the
    /// user is in the file; an unknown user is checked against a dummy
    /// hash and always refused), for a request from `client`.
    pub(super) async fn check(
        &self,
        client: IpAddr,
        user: &str,
        hash: &str,
        known: bool,
        password: &str,
    ) -> Verdict {
        let tag = self.tag(user, hash, password);
        if known && lock(&self.successes).tags.contains(&tag) {
            return Verdict::Accepted;
        }
        if lock(&self.failures).tags.contains(&tag) {
            return Verdict::Refused;
        }
        let Some(slot) = ClientSlot::take(&self.in_progress, client) else {
            return Verdict::ClientBusy;
        };
        // The semaphore is never closed; were it, refusing is the safe answer.
        let Ok(permit) = self.permits.clone().acquire_owned().await else {
            return Verdict::Refused;
        };
        let (password, hash) = (password.to_owned(), hash.to_owned());
        let matched = tokio::task::spawn_blocking(move || {
            let _held = (permit, slot);
            bcrypt::verify(password, &hash).ok()
        })
        .await;
        match matched {
            Ok(Some(true)) if known => {
                lock(&self.successes).insert(tag);
                Verdict::Accepted
            }
            Ok(_) => {
                lock(&self.failures).insert(tag);
                Verdict::Refused
            }
            // The check did not finish (a panic): refused, not remembered.
            Err(_) => Verdict::Refused,
        }
    }
}

fn lock(m: &Mutex<Remembered>) -> std::sync::MutexGuard<'_, Remembered> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn a_client_has_one_place_given_back_on_drop() {
        let in_progress: InProgress = Arc::default();
        let first = ClientSlot::take(&in_progress, LOCAL);
        assert!(first.is_some());
        assert!(ClientSlot::take(&in_progress, LOCAL).is_none());
        let other = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
        assert!(ClientSlot::take(&in_progress, other).is_some());
        drop(first);
        assert!(ClientSlot::take(&in_progress, LOCAL).is_some());
        assert!(
            in_progress.lock().unwrap().is_empty(),
            "entries are removed at zero"
        );
    }

    #[test]
    fn tags_differ_when_fields_are_shifted() {
        let c = Checker::new();
        assert_ne!(c.tag("ab", "c", "d"), c.tag("a", "bc", "d"));
        assert_eq!(c.tag("a", "b", "c"), c.tag("a", "b", "c"));
    }

    #[test]
    fn remembered_sets_are_bounded() {
        let mut r = Remembered::new(3);
        for i in 0..10u8 {
            r.insert(vec![i]);
            assert!(r.tags.len() <= 3);
        }
        assert!(r.tags.contains(&vec![9]));
    }

    #[tokio::test]
    async fn failures_and_successes_are_remembered_apart() {
        let c = Checker::new();
        let hash = bcrypt::hash("right", 4).unwrap();
        assert_eq!(
            c.check(LOCAL, "u", &hash, true, "wrong").await,
            Verdict::Refused
        );
        assert!(lock(&c.failures).tags.contains(&c.tag("u", &hash, "wrong")));
        assert_eq!(
            c.check(LOCAL, "u", &hash, true, "right").await,
            Verdict::Accepted
        );
        assert!(
            lock(&c.successes)
                .tags
                .contains(&c.tag("u", &hash, "right"))
        );
        // A matching password for an unknown user (the dummy) is refused.
        assert_eq!(
            c.check(LOCAL, "x", &hash, false, "right").await,
            Verdict::Refused
        );
        // While the client holds its place, an unremembered attempt is
        // refused unchecked, a remembered one still answered.
        let _slot = ClientSlot::take(&c.in_progress, LOCAL).unwrap();
        assert_eq!(
            c.check(LOCAL, "u", &hash, true, "other").await,
            Verdict::ClientBusy
        );
        assert_eq!(
            c.check(LOCAL, "u", &hash, true, "right").await,
            Verdict::Accepted
        );
        assert_eq!(
            c.check(LOCAL, "u", &hash, true, "wrong").await,
            Verdict::Refused
        );
    }
}
