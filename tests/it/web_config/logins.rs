//! Logins cannot be starved: a flood of wrong logins from other clients
//! gets 401 each, never 503, and a right login is answered within about
//! one bcrypt check of its own cost.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use super::*;

/// bcrypt cost of the real user: high enough that a queue of checks would
/// show, low enough to keep the test short.
const COST: u32 = 12;

/// Flooding connections from each address.
const CONNECTIONS_PER_ADDRESS: usize = 16;

/// How long one check of `hash` takes here, now.
async fn one_check(hash: &str) -> Duration {
    let hash = hash.to_owned();
    tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        assert_eq!(bcrypt::verify("not it", &hash).ok(), Some(false));
        start.elapsed()
    })
    .await
    .expect("timing check")
}

/// One flooding connection from `from`: wrong logins (unknown users, or
/// wrong passwords of the real user), each new, until `stop`; the
/// statuses it got, and a count of answers shared with the others.
async fn flood(
    url: String,
    from: IpAddr,
    unknown_users: bool,
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicUsize>,
) -> Vec<u16> {
    let client = reqwest::Client::builder()
        .local_address(from)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("flood client");
    let mut statuses = Vec::new();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let user = if unknown_users {
            format!("nobody{n}")
        } else {
            "prometheus".to_string()
        };
        let resp = client
            .get(&url)
            .basic_auth(user, Some(format!("guess {from} {n}")))
            .send()
            .await
            .expect("flood request answered");
        statuses.push(resp.status().as_u16());
        answered.fetch_add(1, Ordering::Relaxed);
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_wrong_logins_gets_401_and_never_delays_a_right_one_beyond_a_check() {
    let dir = tempfile::tempdir().expect("dir");
    let hash = bcrypt::hash("right password", COST).expect("hash");
    let (app, _) = exporter(
        dir.path(),
        &format!("basic_auth_users:\n  prometheus: {hash}\n"),
    )
    .await;
    let url = app.url("/metrics");
    let before = one_check(&hash).await;

    // As many flooding addresses as the exporter runs checks at once, so
    // that every permit is taken; several connections each, half trying
    // made-up users and half wrong passwords: queued one behind the other,
    // their checks would keep the right login waiting for seconds.
    let addresses = evolux_exporter::auth::concurrent_checks();
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let mut flooders = Vec::new();
    for i in 0..addresses {
        let from = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + i as u8));
        for unknown_users in [true, false].repeat(CONNECTIONS_PER_ADDRESS / 2) {
            let task = flood(
                url.clone(),
                from,
                unknown_users,
                stop.clone(),
                answered.clone(),
            );
            flooders.push(tokio::spawn(task));
        }
    }
    let started = flooders.len();
    wait_for(
        "every flooding connection answered once",
        Duration::from_secs(60),
        || {
            let answered = answered.clone();
            async move { answered.load(Ordering::Relaxed) >= started }
        },
    )
    .await;

    let during = one_check(&hash).await;
    let check = before.max(during);
    // Behind at most one check per permit, then its own; the rest margin.
    let bound = check * 3 + Duration::from_millis(500);
    let start = Instant::now();
    let right = app
        .http
        .get(&url)
        .basic_auth("prometheus", Some("right password"))
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .expect("right login answered");
    let took = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    assert_eq!(right.status(), 200, "the right login after {took:?}");
    assert!(
        took <= bound,
        "the right login took {took:?}, over {bound:?} (one check of cost {COST}: {check:?})"
    );

    let mut statuses = Vec::new();
    for f in flooders {
        statuses.extend(f.await.expect("flooder"));
    }
    assert!(
        statuses.len() >= started * 2,
        "a flood: {} requests",
        statuses.len()
    );
    let not_401: Vec<_> = statuses.iter().filter(|s| **s != 401).collect();
    assert!(
        not_401.is_empty(),
        "every wrong login gets 401; of {} got {:?}",
        statuses.len(),
        not_401.iter().take(10).collect::<Vec<_>>()
    );
}
