use std::time::Duration;

use super::*;
use crate::app::diagnose::fixtures::{CAMPAIGN, PERSONAL, good, read_of};
use crate::model::{Failure, Reason};

fn diagnosis(targets: Vec<TargetReport>) -> Diagnosis {
    Diagnosis {
        endpoint: "https://acme.evolux.cx/api/v1/reports/campaign/subscribers".into(),
        targets,
        elapsed: Duration::from_millis(2500),
    }
}

#[test]
fn a_good_campaign_prints_every_finding_and_no_personal_value() {
    let text = diagnosis(vec![good()]).to_string();
    for expected in [
        &format!("campaign {CAMPAIGN}"),
        "first response   HTTP 200, content type application/json, content encoding gzip",
        "records at       /data",
        "record keys      campaign_uuid*, conversation_fields, name, phone_number, state*, template_uuid*, uuid  (* read by the exporter)",
        "fields read      state          in 5 of 5 records, at /state",
        "template       in 5 of 5 records, at /template_uuid, /template/uuid",
        "pagination       link, 3 pages read",
        "total            stated 5 (at /meta/total); read 5 records, 0 invalid",
        "counts           pending 1, scheduled 0, sent 2, dnd 0, completed 1, error 1; 1 template",
        "start/end        2023-11-14T21:13:20.000Z to 2023-11-14T22:13:19.999Z: halves 2 + 3 = 5, whole 5: they tile",
        "time             1.2s",
        "verdict          OK",
        "overall: OK: the exporter can count exactly (1 campaign, 2.5s)",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    for p in PERSONAL {
        assert!(!text.contains(p), "{p} printed:\n{text}");
    }
}

#[test]
fn a_failed_read_prints_its_reason_message_and_fix_and_the_overall_is_not_ok() {
    let mut bad = good();
    bad.read = Err(Failure::new(
        Reason::Auth,
        "HTTP 401 Unauthorized: the token was refused (check EVOLUX_TOKEN or the token file)",
    ));
    bad.tiling = Tiling::Skipped("the whole read failed");
    let text = diagnosis(vec![good(), bad]).to_string();
    for expected in [
        "verdict          NOT OK",
        "problem: the read failed (auth): HTTP 401 Unauthorized",
        "fix:   check the token: EVOLUX_TOKEN or --evolux.token-file",
        "start/end        not checked: the whole read failed",
        "overall: NOT OK: 1 of 2 campaigns cannot be counted exactly",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    // The failed campaign shows no findings of a read it did not make.
    assert_eq!(text.matches("records at").count(), 1, "{text}");
}

#[test]
fn unreported_stats_read_as_such() {
    let mut t = good();
    let r = t.read.as_mut().unwrap();
    r.stats.first = None;
    r.stats.records_at = None;
    r.stats.pagination = None;
    r.stats.stated_total = None;
    let text = diagnosis(vec![t]).to_string();
    assert!(text.contains("first response   (not reported)"), "{text}");
    assert!(
        text.contains("pagination       3 pages read (style not reported)"),
        "{text}"
    );
    assert!(
        text.contains("total            not stated; read 5 records"),
        "{text}"
    );
    let mut t = good();
    let r = t.read.as_mut().unwrap();
    r.stats.pagination = None;
    r.stats.pages = 1;
    assert!(
        diagnosis(vec![t])
            .to_string()
            .contains("pagination       one page")
    );
}

#[test]
fn many_keys_and_value_like_keys_are_summarised() {
    let mut keys = KeyNames::default();
    let mut record = String::from("{");
    for i in 0..45 {
        record.push_str(&format!(r#""k{i:02}":1,"#));
    }
    record.push_str(r#""+5511987654321":2,"Maria da Silva":3}"#);
    keys.collect(record.as_bytes());
    let text = keys_text(&keys, &[]);
    assert!(text.starts_with("k00, k01"), "{text}");
    assert!(text.contains("k39 and 5 more"), "{text}");
    assert!(
        text.contains("(and 2 keys that look like values, not shown)"),
        "{text}"
    );
    assert!(!text.contains("5511") && !text.contains("Maria"), "{text}");
}

#[test]
fn the_readme_example_has_the_reports_lines() {
    let readme = include_str!("../../../../README.md");
    let section = readme
        .split("\n## Pointing it at a real Evolux server\n")
        .nth(1)
        .expect("the README's section");
    let example = section
        .split("```text\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("an example output");
    let text = diagnosis(vec![good()]).to_string();
    let mut labelled = 0;
    for line in example.lines() {
        let label = line.get(..19).unwrap_or(line);
        if line.starts_with("  ") && !label.trim().is_empty() {
            labelled += 1;
            assert!(
                text.lines().any(|l| l.starts_with(label)),
                "README line {line:?} has no counterpart in:\n{text}"
            );
        }
    }
    assert!(labelled >= 10, "{example}");
    assert!(example.contains("overall: OK: the exporter can count exactly ("));
}

#[test]
fn values_a_server_puts_where_states_and_campaigns_belong_are_not_printed() {
    let rec = |campaign: &str, state: &str| {
        format!(r#"{{"state":"{state}","template_uuid":"t1","campaign_uuid":"{campaign}"}}"#)
    };
    let records = [
        rec(CAMPAIGN, "sent"),
        rec(CAMPAIGN, "paused_by_ops"),
        rec("+5511987654321", "5511987654321"),
        rec("Maria da Silva", "sent"),
        rec("0c7e3f5a-9b2d-4d6e-8a1f-5c4b3a2e1d54", "12345678909"),
    ];
    let mut t = good();
    t.campaign = None;
    t.read = Ok(read_of(None, &records));
    let text = diagnosis(vec![t]).to_string();
    assert!(text.contains("paused_by_ops 1"), "{text}");
    assert!(text.contains("other states (not shown) 2"), "{text}");
    assert!(
        text.contains("campaigns        4 found: 0c7e3f5a-9b2d-4d6e-8a1f-5c4b3a2e1d54 1, f45d98dc-ac5e-48f2-9c01-ebe18f86d28b 2, 2 values that are not UUIDs (not shown) with 2 records"),
        "{text}"
    );
    for p in PERSONAL.iter().chain(&["5511987654321", "12345678909"]) {
        assert!(!text.contains(p), "{p} printed:\n{text}");
    }
}

#[test]
fn the_readme_example_of_a_refused_token_is_the_reports_text() {
    let readme = include_str!("../../../../README.md");
    let section = readme
        .split("\n## Pointing it at a real Evolux server\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("the README's section");
    let example = section
        .split("```text\n")
        .nth(2)
        .and_then(|b| b.split("```").next())
        .expect("a second example output");
    let mut t = good();
    t.read = Err(Failure::new(
        Reason::Auth,
        "HTTP 401 Unauthorized: the token was refused (check EVOLUX_TOKEN or the token file)",
    ));
    t.tiling = Tiling::Skipped("the whole read failed");
    t.elapsed = Duration::ZERO;
    let mut d = diagnosis(vec![t]);
    d.elapsed = Duration::ZERO;
    let text = d.to_string();
    assert!(
        text.ends_with(example),
        "README:\n{example}\nreport:\n{text}"
    );
}
