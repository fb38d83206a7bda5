//! The `response:` section: pointers, and the pagination a server does not
//! state itself.

use super::*;
use crate::evolux::pagination::{Explicit, Mode, Style};

#[test]
fn a_bad_response_section_names_its_key() {
    let cases = [
        ("response:\n  state: status\n", "response.state"),
        (
            "response:\n  pagination: {style: pages}\n",
            "response.pagination.style",
        ),
        (
            "response:\n  pagination: {style: page, size: 500}\n",
            "response.pagination.size_param",
        ),
        (
            "response:\n  pagination: {style: link, param: page}\n",
            "response.pagination.param",
        ),
        (
            "response:\n  pagination: {style: page, per_page: 5}\n",
            "response.pagination.per_page",
        ),
    ];
    for (yaml, field) in cases {
        let msg = err(&[URL], yaml);
        assert!(
            msg.contains(field),
            "{yaml:?}: {msg:?} does not name {field}"
        );
    }
}

#[test]
fn a_stated_pagination_replaces_detection() {
    let c = merge(&[URL], "").unwrap();
    assert_eq!(c.response.pagination, Mode::Detect);
    let yaml = "response:\n  pagination: {style: offset, size_param: limit, size: 500}\n";
    let c = merge(&[URL], yaml).unwrap();
    assert_eq!(
        c.response.pagination,
        Mode::Explicit(Explicit {
            style: Some(Style::Offset),
            param: "offset".into(),
            size: Some(("limit".into(), 500)),
        })
    );
}

#[test]
fn totals_are_looked_for_where_the_file_says_or_not_at_all() {
    use crate::evolux::hints::Hint;
    let totals = |c: &Config| -> Vec<String> {
        c.response
            .hints
            .iter()
            .filter(|(h, _)| *h == Hint::Total)
            .map(|(_, p)| p.to_string())
            .collect()
    };
    let c = merge(&[URL], "").unwrap();
    assert!(totals(&c).contains(&"/count".to_string()));
    assert!(c.response.header_totals);
    let c = merge(&[URL], "response:\n  total: /meta/found\n").unwrap();
    assert_eq!(totals(&c), ["/meta/found"]);
    assert!(c.response.header_totals);
    let c = merge(&[URL], "response:\n  total: []\n").unwrap();
    assert!(totals(&c).is_empty());
    assert!(!c.response.header_totals);
    let msg = err(&[URL], "response:\n  total: meta\n");
    assert!(msg.contains("response.total"), "{msg}");
}
