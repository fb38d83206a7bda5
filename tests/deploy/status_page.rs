//! The status page at `/` in a real browser: headless Chromium loads it
//! from the running demo, logs no console message, and shows the figures
//! `/metrics` shows.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::support::exporter::{Exporter, Running};
use crate::support::metrics::Metrics;
use crate::tools::require_tool;

/// What Chromium made of `url`: the DOM after loading, and its log.
fn load_in_chromium(chromium: &Path, url: &str, window: &str) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            &format!("--window-size={window}"),
            &format!("--user-data-dir={}", profile.path().display()),
            "--dump-dom",
            url,
        ])
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The value of `attr="…"` right after `from` in `text`.
fn attr<'a>(text: &'a str, attr: &str) -> Option<&'a str> {
    let key = format!("{attr}=\"");
    let at = text.find(&key)? + key.len();
    text[at..].split('"').next()
}

/// Campaign (or view, by `key`: `data-campaign` or `data-view`) to state to
/// count, as the page's cards show them.
fn page_counts(dom: &str, key: &str) -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for card in dom.split("<article").skip(1) {
        let card = card.split("</article>").next().unwrap();
        let Some(campaign) = attr(card.split('>').next().unwrap(), key) else {
            continue;
        };
        let campaign = campaign.to_string();
        let states: BTreeMap<String, u64> = card
            .split("<li data-state=")
            .skip(1)
            .map(|li| {
                let li = format!("data-state={li}");
                let state = attr(&li, "data-state").unwrap().to_string();
                let count = attr(&li, "data-count").unwrap().parse().unwrap();
                (state, count)
            })
            .collect();
        out.insert(campaign, states);
    }
    out
}

/// The same from `/metrics`: templates summed (and, for the views, the
/// campaigns: `family` evolux_view_subscribers, `key` view).
fn metric_counts(m: &Metrics, family: &str, key: &str) -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut out: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for (labels, v) in m.samples(family) {
        let get = |k: &str| labels.iter().find(|(n, _)| n == k).unwrap().1.clone();
        *out.entry(get(key))
            .or_default()
            .entry(get("state"))
            .or_default() += v as u64;
    }
    out
}

async fn demo() -> Running {
    // One poll only: the page and /metrics show the same snapshot.
    Exporter::new()
        .args(["--demo", "--poll.interval=1h"])
        .start()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_shows_the_figures_of_metrics_without_console_errors() {
    let Some(chromium) = require_tool("chromium") else {
        return;
    };
    let mut exporter = demo().await;
    let metrics = exporter.scrape().await;
    let expected = metric_counts(&metrics, "evolux_campaign_subscribers", "campaign");
    assert!(expected.len() >= 2, "the demo has campaigns: {}", metrics.0);
    let expected_views = metric_counts(&metrics, "evolux_view_subscribers", "view");
    // The demo runs views pj and pf (a view may find no subscriber yet: it has
    // evolux_view_up, and a card, all the same).
    let views: Vec<String> = metrics
        .samples("evolux_view_up")
        .map(|(labels, _)| labels[0].1.clone())
        .collect();
    assert_eq!(views, ["pf", "pj"], "the demo's views: {}", metrics.0);
    for window in ["1280,900", "390,844"] {
        let (dom, log) = load_in_chromium(&chromium, &exporter.url("/?refresh=30"), window);
        let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
        assert!(console.is_empty(), "console messages: {console:#?}");
        assert!(dom.contains("<h1>Evolux Exporter</h1>"), "{dom}");
        assert!(dom.contains("http-equiv=\"refresh\" content=\"30\""));
        assert_eq!(
            page_counts(&dom, "data-campaign"),
            expected,
            "the page's numbers are /metrics'"
        );
        // A view's card sums its subscribers over the campaigns it found; the page
        // shows the six states and those the API returned, zeros included: compare
        // the states with subscribers, and the views with any.
        let nonzero = |m: BTreeMap<String, BTreeMap<String, u64>>| {
            m.into_iter()
                .map(|(k, v)| {
                    let v: BTreeMap<String, u64> = v.into_iter().filter(|(_, n)| *n > 0).collect();
                    (k, v)
                })
                .filter(|(_, v)| !v.is_empty())
                .collect::<BTreeMap<String, BTreeMap<String, u64>>>()
        };
        let page_views = page_counts(&dom, "data-view");
        assert_eq!(
            page_views.keys().collect::<Vec<_>>(),
            views.iter().collect::<Vec<_>>()
        );
        assert_eq!(
            nonzero(page_views),
            nonzero(expected_views.clone()),
            "the view cards' numbers are /metrics'"
        );
        for view in &views {
            let card = dom.split(&format!("data-view=\"{view}\"")).nth(1).unwrap();
            let card = card.split("</article>").next().unwrap();
            let up = metrics.get("evolux_view_up", &[("view", view)]);
            assert_eq!(up == Some(1.0), !card.contains("failing"), "{card}");
            assert!(
                !card.contains("Pessoa"),
                "a filter value on the page: {card}"
            );
        }
        for (campaign, states) in &expected {
            let total: u64 = states.values().sum();
            let card = dom
                .split(&format!("data-campaign=\"{campaign}\""))
                .nth(1)
                .unwrap();
            assert_eq!(attr(card, "data-total"), Some(total.to_string().as_str()));
            let up = metrics.get("evolux_campaign_up", &[("campaign", campaign)]);
            assert_eq!(
                up == Some(1.0),
                !card.split("</article>").next().unwrap().contains("failing")
            );
        }
    }
}
