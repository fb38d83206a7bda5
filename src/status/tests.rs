//! The status page's rendering, on hand-made snapshots.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::*;
use crate::build_info::BUILD;
use crate::model::{Failure, Reason, StateCounts};

const A: &str = "f45d98dc-ac5e-48f2-9c01-ebe18f86d28b";
const B: &str = "0c7e3f5a-9b2d-4d6e-8a1f-5c4b3a2e1d54";
const HOSTILE: &str = "<script>alert('x')</script> & \"quotes\"";

fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_000_000)
}

fn counts(per_state: &[(&str, u64)]) -> Arc<CampaignCounts> {
    let mut c = StateCounts::default();
    for (s, n) in per_state {
        c.add_state(s, *n);
    }
    let mut other = StateCounts::default();
    other.add_state("sent", 1);
    Arc::new(CampaignCounts {
        templates: BTreeMap::from([("t1".into(), c), ("t2".into(), other)]),
    })
}

fn snapshot() -> Snapshot {
    let a = CampaignStatus {
        name: Some(HOSTILE.into()),
        up: true,
        last_success: Some(t0()),
        counts: Some(counts(&[
            ("pending", 10),
            ("scheduled", 5),
            ("sent", 20),
            ("dnd", 2),
            ("completed", 60),
            ("error", 3),
            ("queued_by_meta", 4),
        ])),
        segments: 7,
        refreshed: Some(t0() - Duration::from_secs(90)),
        ..CampaignStatus::default()
    };
    let b = CampaignStatus {
        up: false,
        error: Some(Failure::new(
            Reason::RateLimited,
            "HTTP 429 Too Many Requests: <b>slow down</b>",
        )),
        failing_since: Some(t0() - Duration::from_secs(600)),
        ..CampaignStatus::default()
    };
    Snapshot {
        campaigns: BTreeMap::from([(A.to_string(), a), (B.to_string(), b)]),
        up: Some(false),
        ..Snapshot::default()
    }
}

fn page(s: &Snapshot, refresh: Option<u32>) -> String {
    let limits = [("poll.interval".to_string(), "60s".to_string())];
    render(
        s,
        &PageFacts {
            build: &BUILD,
            started: t0() - Duration::from_secs(3 * 3600 + 120),
            now: t0(),
            last_poll: Some(PollFacts {
                ended: t0() - Duration::from_secs(5),
                duration: Duration::from_millis(830),
                reads: 9,
                failed_reads: 1,
                records: 105,
                bytes: 3 * 1024 * 1024,
            }),
            ready: true,
            limits: &limits,
            telemetry_path: "/metrics",
            proxy: "http://proxy.corp:3128 (from HTTPS_PROXY, credentials hidden)",
        },
        refresh,
    )
}

#[test]
fn campaigns_waiting_for_a_first_read_are_named() {
    let mut s = snapshot();
    s.waiting = vec![
        "00000000-0000-4000-8000-000000000009".into(),
        "<b>x</b>".into(),
    ];
    let html = page(&s, None);
    assert!(html.contains("data-waiting=\"2\""), "{html}");
    assert!(html.contains("<code>00000000-0000-4000-8000-000000000009</code>"));
    assert!(html.contains("<code>&lt;b&gt;x&lt;/b&gt;</code>"));
    let html = page(&snapshot(), None);
    assert!(!html.contains("data-waiting"), "nothing waits: no line");
}

#[test]
fn hostile_names_and_messages_are_escaped() {
    let html = page(&snapshot(), None);
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<b>slow down</b>"));
    assert!(
        html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quotes&quot;")
    );
    assert!(html.contains("&lt;b&gt;slow down&lt;/b&gt;"));
    assert!(!html.contains("<script") && !html.contains("onerror"));
    assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
}

#[test]
fn every_state_is_shown_with_the_snapshots_numbers() {
    let html = page(&snapshot(), None);
    let card = html
        .split(&format!("data-campaign=\"{A}\""))
        .nth(1)
        .unwrap()
        .split("</article>")
        .next()
        .unwrap();
    // t1 and t2 summed: sent is 20 + 1.
    for (state, n) in [
        ("pending", 10),
        ("scheduled", 5),
        ("sent", 21),
        ("dnd", 2),
        ("completed", 60),
        ("error", 3),
        ("queued_by_meta", 4),
    ] {
        assert!(
            card.contains(&format!("data-state=\"{state}\" data-count=\"{n}\"")),
            "{state} {n} in {card}"
        );
    }
    assert!(card.contains("data-total=\"105\""), "{card}");
    // Processed: sent 21 + dnd 2 + completed 60 + error 3 = 86.
    assert!(card.contains(&format!("data-completion=\"{:.4}\"", 60.0 / 86.0)));
    assert!(card.contains(&format!("data-error-ratio=\"{:.4}\"", 3.0 / 86.0)));
    assert!(card.contains("data-segments=\"7\""));
    assert!(card.contains("1m 30s ago"), "staleness: {card}");
    // The legend names the six states in fixed colours.
    for (state, colour) in STATE_COLOURS {
        assert!(html.contains(&format!("background:{colour}\"></span>{state}</li>")));
    }
    assert!(html.contains("data-records=\"105\""));
    assert!(html.contains("up 3h 2m"));
}

#[test]
fn a_failing_campaign_shows_its_reason_and_since_when() {
    let html = page(&snapshot(), None);
    let card = html
        .split(&format!("data-campaign=\"{B}\""))
        .nth(1)
        .unwrap()
        .split("</article>")
        .next()
        .unwrap();
    assert!(card.contains("data-reason=\"rate_limited\""), "{card}");
    assert!(card.contains("10m 0s ago"), "{card}");
    assert!(card.contains("no counts"), "{card}");
    assert!(html.contains("class=\"campaign failing\" data-campaign=\"0c7e3f5a"));
    assert!(html.contains("1 of 2 campaigns failing"));
}

#[test]
fn refresh_is_optional_and_nothing_loads_from_elsewhere() {
    let plain = page(&snapshot(), None);
    assert!(!plain.contains("http-equiv=\"refresh\""));
    let refreshing = page(&snapshot(), Some(30));
    assert!(refreshing.contains("<meta http-equiv=\"refresh\" content=\"30\">"));
    for html in [plain, refreshing] {
        assert!(!html.contains("<script"));
        assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
        assert!(html.contains("name=\"viewport\""));
    }
    let empty = page(&Snapshot::default(), None);
    assert!(empty.contains("not polled yet") && empty.contains("no campaign yet"));
}

#[test]
fn ratios_follow_the_recording_rules() {
    let states = |v: &[(&str, u64)]| {
        v.iter()
            .map(|(s, n)| (s.to_string(), *n))
            .collect::<Vec<_>>()
    };
    assert_eq!(ratios(&states(&[("pending", 5)])), None);
    assert_eq!(
        ratios(&states(&[("sent", 1), ("completed", 2), ("error", 1)])),
        Some((0.5, 0.25))
    );
    assert_eq!(html::human_duration(Duration::from_millis(830)), "830ms");
    assert_eq!(html::bytes(3 * 1024 * 1024), "3.0 MiB");
    assert_eq!(html::bytes(17), "17 B");
}

/// [`snapshot`] with two views: `pj` up, across campaigns A and B; `pf`
/// failing since ten minutes ago, with no counts.
fn with_views() -> Snapshot {
    let mut s = snapshot();
    let pj = ViewStatus {
        status: CampaignStatus {
            up: true,
            last_success: Some(t0() - Duration::from_secs(30)),
            segments: 3,
            refreshed: Some(t0() - Duration::from_secs(120)),
            ..CampaignStatus::default()
        },
        counts: Some(BTreeMap::from([
            (A.to_string(), counts(&[("pending", 4), ("completed", 6)])),
            (B.to_string(), counts(&[("error", 2), ("dnd", 1)])),
        ])),
    };
    let pf = ViewStatus {
        status: CampaignStatus {
            up: false,
            error: Some(Failure::new(Reason::BadBody, "not a page: <i>oops</i>")),
            failing_since: Some(t0() - Duration::from_secs(600)),
            ..CampaignStatus::default()
        },
        counts: None,
    };
    s.views = BTreeMap::from([("pj".to_string(), pj), ("pf".to_string(), pf)]);
    s
}

fn card<'a>(html: &'a str, attr: &str) -> &'a str {
    html.split(attr)
        .nth(1)
        .unwrap_or_else(|| panic!("no {attr} in {html}"))
        .split("</article>")
        .next()
        .unwrap()
}

#[test]
fn a_view_card_sums_its_campaigns_after_the_campaign_cards() {
    let html = page(&with_views(), None);
    let views_at = html
        .find("<section id=\"views\">")
        .expect("a views section");
    assert!(html.find("<section id=\"campaigns\">").unwrap() < views_at);
    assert!(html[views_at..].contains("<h2>Views (2)</h2>"));
    let pj = card(&html, "data-view=\"pj\"");
    assert!(pj.starts_with('>') && html.contains("class=\"view up\" data-view=\"pj\""));
    assert!(pj.contains("<h3>view <code>pj</code></h3>"), "{pj}");
    // A and B summed, t2's one sent subscriber each.
    for (state, n) in [
        ("pending", 4),
        ("scheduled", 0),
        ("sent", 2),
        ("dnd", 1),
        ("completed", 6),
        ("error", 2),
    ] {
        assert!(
            pj.contains(&format!("data-state=\"{state}\" data-count=\"{n}\"")),
            "{state} {n} in {pj}"
        );
    }
    assert!(pj.contains("data-total=\"15\""), "{pj}");
    assert!(pj.contains("data-campaigns=\"2\""), "{pj}");
    assert!(pj.contains("data-segments=\"3\""), "{pj}");
    assert!(pj.contains("30.0s ago") && pj.contains("2m 0s ago"), "{pj}");
    // Processed: sent 2 + dnd 1 + completed 6 + error 2 = 11.
    assert!(pj.contains(&format!("data-error-ratio=\"{:.4}\"", 2.0 / 11.0)));
    // No campaign card is a view's, nor the other way round.
    assert!(!pj.contains("data-campaign="));
    assert_eq!(html.matches("data-campaign=").count(), 2);
}

#[test]
fn a_failing_view_shows_its_reason_and_since_when() {
    let html = page(&with_views(), None);
    assert!(
        html.contains("class=\"view failing\" data-view=\"pf\""),
        "{html}"
    );
    let pf = card(&html, "data-view=\"pf\"");
    assert!(pf.contains("data-reason=\"bad_body\""), "{pf}");
    assert!(pf.contains("10m 0s ago"), "{pf}");
    assert!(pf.contains("&lt;i&gt;oops&lt;/i&gt;") && !pf.contains("<i>"));
    assert!(pf.contains("no counts") && pf.contains("none yet"), "{pf}");
    assert!(html.contains("1 of 2 campaigns failing, 1 of 2 views failing"));
    // Only a view failing: the header says so, not "campaigns failing".
    let mut s = with_views();
    s.campaigns.get_mut(B).unwrap().up = true;
    let html = page(&s, None);
    assert!(html.contains("1 of 2 views failing") && !html.contains("campaigns failing"));
    s.views.get_mut("pf").unwrap().status.up = true;
    s.up = Some(true);
    assert!(page(&s, None).contains("every campaign and view up"));
}

#[test]
fn views_waiting_for_a_first_read_are_counted_apart() {
    let mut s = with_views();
    s.waiting = vec![B.into(), "view:pj".into(), "view:pf".into()];
    let html = render(
        &s,
        &PageFacts {
            build: &BUILD,
            started: t0(),
            now: t0(),
            last_poll: None,
            ready: false,
            limits: &[],
            telemetry_path: "/metrics",
            proxy: "none",
        },
        None,
    );
    assert!(
        html.contains("not ready: 1 campaign and 2 views waiting for a first read"),
        "{html}"
    );
}

#[test]
fn without_views_there_is_no_views_section() {
    let html = page(&snapshot(), None);
    assert!(!html.contains("id=\"views\"") && !html.contains("data-view="));
}

#[test]
fn the_api_proxy_is_shown_in_the_header() {
    let html = page(&snapshot(), None);
    assert!(
        html.contains(
            "<p id=\"proxy\">API proxy: http://proxy.corp:3128 (from HTTPS_PROXY, credentials hidden)</p>"
        ),
        "{html}"
    );
}
