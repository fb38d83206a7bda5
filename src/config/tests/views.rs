//! `views:`: accepted as written, refused naming the field, shown in the
//! summary without a filter value, split between shards by name.

use super::*;

const CASO_1: &str = "\
views:
  - name: pj
    filters:
      conversation_field_key: perfil
      conversation_field_value: Pessoa Jurídica
      start: 2024-09-05T00:00:00-03:00
      end: 2024-09-06T23:59:59.999-03:00
      timezone: America/Sao_Paulo
  - name: pj-black-friday
    campaigns: [f45d98dc-ac5e-48f2-9c01-ebe18f86d28b]
    window: 7d
    filters:
      conversation_field_key: CPF
      conversation_field_value: 123.456.789-09
";

#[test]
fn views_are_read_as_written() {
    let c = merge(&[URL], CASO_1).unwrap();
    assert!(c.campaigns.is_empty(), "views add no campaign");
    let [pj, bf] = c.poll_views().try_into().unwrap();
    assert_eq!(pj.name, "pj");
    assert!(pj.campaigns.is_empty(), "every campaign");
    assert_eq!(pj.window, None, "fixed bounds: no window");
    assert_eq!(
        pj.filters.conversation_field,
        Some(("perfil".into(), "Pessoa Jurídica".into()))
    );
    assert_eq!(
        pj.filters.start.map(|s| s.to_rfc3339()).as_deref(),
        Some("2024-09-05T00:00:00-03:00")
    );
    assert_eq!(bf.campaigns.len(), 1);
    assert_eq!(bf.window, Some(Duration::from_secs(7 * 86_400)));
    // poll.window applies to a view without its own window or bounds, as to
    // a campaign.
    let windowed = merge(
        &[URL, "--poll.window=1d"],
        "views:\n  - name: all\n    filters:\n      state: error\n",
    )
    .unwrap();
    assert_eq!(
        windowed.poll_views()[0].window,
        Some(Duration::from_secs(86_400))
    );
}

#[test]
fn bad_views_are_refused_naming_the_field() {
    let view = |rest: &str| format!("views:\n  - name: ok\n{rest}");
    let cases: Vec<(String, &str)> = vec![
        (
            "views:\n  - name: Pessoa Jurídica\n".into(),
            "views[0].name",
        ),
        ("views:\n  - name: PJ\n".into(), "views[0].name"),
        ("views:\n  - name: \"\"\n".into(), "views[0].name"),
        ("views:\n  - name: a b\n".into(), "views[0].name"),
        (
            "views:\n  - name: pj\n  - name: pj\n".into(),
            "views[1].name",
        ),
        ("views:\n  - filters: {state: error}\n".into(), "name"),
        (
            view("    filters:\n      campaigns: [f45d98dc-ac5e-48f2-9c01-ebe18f86d28b]\n"),
            "views[0].filters",
        ),
        (
            view("    filters:\n      conversation_field_key: perfil\n"),
            "views[0].filters.conversation_field_key",
        ),
        (
            view("    filters:\n      conversation_field_value: Pessoa Física\n"),
            "views[0].filters.conversation_field_value",
        ),
        (
            view("    window: 7d\n    filters:\n      start: 2024-09-05T00:00:00Z\n"),
            "views[0].window",
        ),
        (view("    window: 0s\n"), "views[0].window"),
        (
            view(
                "    filters:\n      start: 2024-09-06T00:00:00Z\n      end: 2024-09-05T00:00:00Z\n",
            ),
            "views[0].filters.start",
        ),
        (
            view(
                "    campaigns: [f45d98dc-ac5e-48f2-9c01-ebe18f86d28b, f45d98dc-ac5e-48f2-9c01-ebe18f86d28b]\n",
            ),
            "views[0].campaigns[1]",
        ),
        (view("    campaigns: [not-a-uuid]\n"), "views[0].campaigns"),
        (view("    filter: {state: error}\n"), "filter"),
    ];
    for (yaml, field) in &cases {
        let msg = err(&[URL], yaml);
        assert!(
            msg.contains(field),
            "{yaml:?}: {msg:?} does not name {field}"
        );
        // A refused value is never echoed when it may be personal.
        assert!(!msg.contains("Pessoa Física"), "{msg}");
    }
}

#[test]
fn the_summary_lists_views_without_their_values_and_warns_of_filtered_campaigns() {
    let yaml = format!(
        "{CASO_1}campaigns:\n  - uuid: 0c7e3f5a-9b2d-4d6e-8a1f-5c4b3a2e1d54\n    filters:\n      conversation_field_key: perfil\n      conversation_field_value: Pessoa Física\n  - uuid: 9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d\n    window: 7d\n"
    );
    let text = merge(&[URL], &yaml).unwrap().summary();
    for value in ["Pessoa Jurídica", "Pessoa Física", "123.456.789-09"] {
        assert!(!text.contains(value), "{value} in\n{text}");
    }
    assert!(text.contains("views:              2"), "{text}");
    assert!(
        text.contains("- pj (every campaign, timezone=America/Sao_Paulo, conversation_field_key=perfil (value hidden), start=2024-09-05T00:00:00-03:00"),
        "{text}"
    );
    assert!(
        text.contains("- pj-black-friday (campaign f45d98dc-ac5e-48f2-9c01-ebe18f86d28b, window 7d, conversation_field_key=CPF (value hidden))"),
        "{text}"
    );
    assert!(text.contains("for 2 campaigns and 2 views"), "{text}");
    let warnings: Vec<&str> = text.lines().filter(|l| l.contains("warning:")).collect();
    assert_eq!(
        warnings.len(),
        1,
        "only the filtered campaign: {warnings:?}"
    );
    assert!(
        warnings[0].contains(
            "campaign 0c7e3f5a-9b2d-4d6e-8a1f-5c4b3a2e1d54 has filters (conversation_field)"
        ) && warnings[0].contains("configure a view"),
        "{}",
        warnings[0]
    );
}

#[test]
fn views_are_split_between_shards_by_name_each_read_once() {
    let names: Vec<String> = (0..40).map(|i| format!("view-{i}")).collect();
    let yaml: String = std::iter::once("views:\n".to_string())
        .chain(names.iter().map(|n| format!("  - name: {n}\n")))
        .collect();
    let mut seen = Vec::new();
    for index in 0..3 {
        let c = merge(
            &[
                URL,
                "--campaign=f45d98dc-ac5e-48f2-9c01-ebe18f86d28b",
                "--shard.count=3",
                &format!("--shard.index={index}"),
            ],
            &yaml,
        )
        .unwrap();
        let mine: Vec<String> = c.poll_views().into_iter().map(|v| v.name).collect();
        assert!(
            !mine.is_empty() && mine.len() < names.len(),
            "shard {index}: {mine:?}"
        );
        seen.extend(mine);
    }
    seen.sort();
    let mut all = names.clone();
    all.sort();
    assert_eq!(seen, all, "every view on exactly one shard");
}

#[test]
fn demo_mode_runs_the_perfil_views_unless_views_are_configured() {
    let demo = merge(&["--demo"], "").unwrap();
    let names: Vec<String> = demo.poll_views().into_iter().map(|v| v.name).collect();
    assert_eq!(names, ["pj", "pf"]);
    assert!(demo.poll_views().iter().all(|v| {
        v.campaigns.is_empty()
            && v.filters
                .conversation_field
                .as_ref()
                .is_some_and(|(k, _)| k == "perfil")
    }));
    let own = merge(
        &["--demo"],
        "views:\n  - name: errors\n    filters: {state: error}\n",
    )
    .unwrap();
    let names: Vec<String> = own.poll_views().into_iter().map(|v| v.name).collect();
    assert_eq!(names, ["errors"]);
}
