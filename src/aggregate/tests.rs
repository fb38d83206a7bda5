use super::*;
use crate::evolux::fields::ResponseLayout;

fn add(t: &mut Tally, json: &str) {
    let layout = ResponseLayout::default();
    let fields = layout.extract(json.as_bytes()).unwrap().unwrap();
    t.add(&fields);
}

fn ok(target: Target, tally: Tally) -> QueryResult {
    QueryResult {
        target,
        duration: Duration::from_millis(5),
        result: Ok(tally),
    }
}

fn failed(target: Target) -> QueryResult {
    QueryResult {
        target,
        duration: Duration::from_millis(5),
        result: Err("HTTP 500".into()),
    }
}

fn campaign(uuid: &str) -> Target {
    Target::Campaign {
        uuid: uuid.into(),
        name: None,
    }
}

fn tally_of(campaign: &str, states: &[&str]) -> Tally {
    let mut t = Tally::new(Some(campaign), 10_000);
    for s in states {
        add(
            &mut t,
            &format!(r#"{{"state":"{s}","template_uuid":"t1","template_name":"T one"}}"#),
        );
    }
    t
}

#[test]
fn counts_by_template_and_state_with_zero_fill() {
    let mut t = Tally::new(Some("c1"), 10_000);
    add(&mut t, r#"{"state":"sent","template_uuid":"t1"}"#);
    add(&mut t, r#"{"state":"sent","template_uuid":"t1"}"#);
    add(&mut t, r#"{"state":"error","template":{"uuid":"t2"}}"#);
    add(&mut t, r#"{"state":"paused","template_uuid":"t2"}"#);
    add(&mut t, r#"{"template_uuid":"t2"}"#);
    add(
        &mut t,
        r#"{"state":"has spaces and a phone 5511999","template_uuid":"t2"}"#,
    );
    assert_eq!(t.records, 6);
    let (campaigns, _) = t.into_campaigns();
    assert_eq!(campaigns.len(), 1);
    let (uuid, counts, _) = &campaigns[0];
    assert_eq!(uuid, "c1");
    let t1 = &counts.templates["t1"];
    assert_eq!(
        t1.iter().collect::<Vec<_>>(),
        vec![
            ("pending", 0),
            ("scheduled", 0),
            ("sent", 2),
            ("dnd", 0),
            ("completed", 0),
            ("error", 0)
        ]
    );
    let t2 = &counts.templates["t2"];
    assert_eq!(t2.get("error"), 1);
    assert_eq!(t2.get("paused"), 1);
    assert_eq!(t2.get(UNKNOWN), 1);
    assert_eq!(t2.get(INVALID), 1, "free text never becomes a state label");
    assert_eq!(counts.total(), 6);
}

#[test]
fn discovery_groups_by_the_records_campaign() {
    let mut t = Tally::new(None, 10_000);
    add(
        &mut t,
        r#"{"state":"sent","campaign_uuid":"a","campaign_name":"A"}"#,
    );
    add(
        &mut t,
        r#"{"state":"sent","campaign":{"uuid":"b","name":"B"}}"#,
    );
    add(&mut t, r#"{"state":"sent"}"#);
    let (campaigns, _) = t.into_campaigns();
    let names: Vec<_> = campaigns
        .iter()
        .map(|(u, c, n)| (u.as_str(), c.total(), n.clone()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("a", 1, Some("A".to_string())),
            ("b", 1, Some("B".to_string())),
            (UNKNOWN, 1, None)
        ]
    );
}

#[test]
fn the_series_cap_stops_new_series_and_counts_what_it_refused() {
    let mut t = Tally::new(Some("c"), 13);
    for i in 0..5 {
        add(
            &mut t,
            &format!(r#"{{"state":"sent","template_uuid":"t{i}"}}"#),
        );
    }
    // Two templates fit (12 series), the third would pass 13.
    assert_eq!(t.records, 2);
    assert_eq!(t.over_cap, 3);
    add(&mut t, r#"{"state":"odd","template_uuid":"t0"}"#);
    add(&mut t, r#"{"state":"odder","template_uuid":"t0"}"#);
    assert_eq!((t.records, t.over_cap), (3, 4));
}

#[test]
fn success_replaces_and_failure_keeps_last_good_counts() {
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let s0 = Snapshot::default();
    let s1 = s0.advance(
        vec![
            ok(campaign("a"), tally_of("a", &["sent", "error"])),
            ok(campaign("b"), tally_of("b", &["sent"])),
        ],
        t0,
        Duration::from_secs(600),
    );
    assert_eq!(s1.up, Some(true));
    assert_eq!(s1.template_names["t1"], "T one");
    let s2 = s1.advance(
        vec![
            failed(campaign("a")),
            ok(campaign("b"), tally_of("b", &["sent", "sent"])),
        ],
        t0 + Duration::from_secs(60),
        Duration::from_secs(600),
    );
    assert_eq!(s2.up, Some(false));
    let a = &s2.campaigns["a"];
    assert!(!a.up);
    assert_eq!(a.last_success, Some(t0));
    assert_eq!(a.counts, s1.campaigns["a"].counts, "last good counts kept");
    assert_eq!(a.error.as_deref(), Some("HTTP 500"));
    assert_eq!(s2.campaigns["b"].counts.as_ref().unwrap().total(), 2);
    assert_eq!(s2.template_names["t1"], "T one");
}

#[test]
fn counts_go_stale_after_max_staleness() {
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let s1 = Snapshot::default().advance(
        vec![ok(campaign("a"), tally_of("a", &["sent"]))],
        t0,
        Duration::from_secs(600),
    );
    let s2 = s1.advance(
        vec![failed(campaign("a"))],
        t0 + Duration::from_secs(600),
        Duration::from_secs(600),
    );
    assert!(
        s2.campaigns["a"].counts.is_some(),
        "exactly max_staleness old: kept"
    );
    let s3 = s2.advance(
        vec![failed(campaign("a"))],
        t0 + Duration::from_secs(601),
        Duration::from_secs(600),
    );
    let a = &s3.campaigns["a"];
    assert!(a.counts.is_none(), "stale counts dropped");
    assert!(!a.up);
    assert_eq!(a.last_success, Some(t0));
    assert!(s3.template_names.is_empty());
}

#[test]
fn discovery_failure_keeps_every_known_campaign() {
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let mut t = Tally::new(None, 100);
    add(&mut t, r#"{"state":"sent","campaign_uuid":"a"}"#);
    add(&mut t, r#"{"state":"dnd","campaign_uuid":"b"}"#);
    let s1 =
        Snapshot::default().advance(vec![ok(Target::Discovery, t)], t0, Duration::from_secs(600));
    assert_eq!(s1.campaigns.len(), 2);
    let s2 = s1.advance(
        vec![failed(Target::Discovery)],
        t0 + Duration::from_secs(1),
        Duration::from_secs(600),
    );
    assert_eq!(s2.campaigns.len(), 2);
    assert!(s2.campaigns.values().all(|c| !c.up && c.counts.is_some()));
    let s3 = s2.advance(
        vec![failed(Target::Discovery)],
        t0 + Duration::from_secs(700),
        Duration::from_secs(600),
    );
    assert!(
        s3.campaigns.is_empty(),
        "stale discovered campaigns are forgotten"
    );
    assert_eq!(s3.up, Some(false));
}

#[test]
fn configured_names_win_over_record_names() {
    let t0 = SystemTime::UNIX_EPOCH;
    let mut t = Tally::new(Some("a"), 100);
    add(
        &mut t,
        r#"{"state":"sent","campaign_uuid":"a","campaign_name":"From records"}"#,
    );
    let s = Snapshot::default().advance(
        vec![ok(
            Target::Campaign {
                uuid: "a".into(),
                name: Some("Configured".into()),
            },
            t,
        )],
        t0,
        Duration::from_secs(1),
    );
    assert_eq!(s.campaigns["a"].name.as_deref(), Some("Configured"));
}

#[test]
fn bytes_that_are_not_text_become_invalid_labels() {
    let layout = ResponseLayout::default();
    let mut t = Tally::new(None, 1000);
    for rec in [
        &b"{\"state\":\"sent\",\"template_uuid\":\"t\xff\",\"campaign_uuid\":\"c\xfe\"}"[..],
        b"{\"state\":\"s\xff\",\"template_uuid\":\"t1\",\"campaign_uuid\":\"c1\",\"template_name\":\"\xff\"}",
        b"{\"state\":\"sent\",\"template_uuid\":\"t\xff\",\"campaign_uuid\":\"c\xfe\"}",
    ] {
        t.add(&layout.extract(rec).unwrap().unwrap());
    }
    let (campaigns, names) = t.into_campaigns();
    let got: Vec<(String, Vec<(String, u64)>)> = campaigns
        .iter()
        .map(|(c, counts, _)| {
            (
                c.clone(),
                counts
                    .templates
                    .iter()
                    .flat_map(|(t, s)| {
                        s.iter()
                            .filter(|(_, n)| *n > 0)
                            .map(move |(st, n)| (format!("{t}/{st}"), n))
                    })
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("c1".to_string(), vec![("t1/invalid".to_string(), 1)]),
            (INVALID.to_string(), vec![(format!("{INVALID}/sent"), 2)]),
        ]
    );
    assert!(names.is_empty(), "a name that is not text is no name");
}
