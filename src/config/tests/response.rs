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
