use super::*;
use crate::evolux::fields::ResponseLayout;

fn add(t: &mut Tally, json: &str) {
    let layout = ResponseLayout::default();
    let fields = layout.extract(json.as_bytes()).unwrap().unwrap();
    t.add(&fields);
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
