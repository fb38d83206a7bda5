//! Tests of the body scanner: whole bodies fed in every chunking, and the
//! pure helpers of each part (errors, structure, records, tokens) directly.

use super::error::{describe_byte, syntax_error};
use super::records::CarryOver;
use super::structure::{Frame, Reach, Relation, Seg, reach, relation};
use super::tokens::{decode_string, is_json_scalar, scalar_end, string_body_end};
use super::*;
use crate::evolux::fields::Pointer;
use crate::evolux::hints::{Hint, Hints, Scalar};
use crate::model::{Field, RecordFields};

/// Scans `body` fed in chunks of `chunk` bytes; returns the states seen.
fn scan_chunked(body: &[u8], chunk: usize) -> Result<(Vec<String>, PageEnd), ScanError> {
    let layout = ResponseLayout::default();
    let mut states = Vec::new();
    let mut sink = |r: &RecordFields<'_>| {
        states.push(r.get_str(Field::State).unwrap_or("-").to_string());
    };
    let mut scanner = BodyScanner::new(&layout);
    for piece in body.chunks(chunk.max(1)) {
        scanner.feed(piece, &mut sink)?;
    }
    let end = scanner.finish()?;
    Ok((states, end))
}

/// Every chunking gives the same answer as feeding the body whole.
fn scan_all_ways(body: &str) -> Result<(Vec<String>, PageEnd), ScanError> {
    let whole = scan_chunked(body.as_bytes(), body.len());
    for chunk in 1..body.len().min(64) {
        assert_eq!(
            scan_chunked(body.as_bytes(), chunk),
            whole,
            "chunk size {chunk}"
        );
    }
    whole
}

#[test]
fn top_level_array() {
    let (states, end) =
        scan_all_ways(r#" [ {"state":"sent"}, {"state":"error","x":[1,{"y":"}"}]} ] "#).unwrap();
    assert_eq!(states, ["sent", "error"]);
    assert_eq!(
        end,
        PageEnd {
            next: None,
            records: 2,
            invalid: 0,
            records_at: Some("(root)".into()),
            hints: Hints::default(),
        }
    );
}

#[test]
fn data_envelope_with_next_links_before_and_after() {
    let body = r#"{"meta":{"total":2,"x":[{"data":[]}]},"links":{"next":"/api/v1/reports/campaign/subscribers?page=2","prev":null},"data":[{"state":"dnd","name":"Ma\"ria \\ {["},{"state":"completed"}]}"#;
    let (states, end) = scan_all_ways(body).unwrap();
    assert_eq!(states, ["dnd", "completed"]);
    assert_eq!(
        end.next.as_deref(),
        Some("/api/v1/reports/campaign/subscribers?page=2")
    );
    let after = r#"{"data":[{"state":"sent"}],"next":"https://x.example/p?page=3"}"#;
    let (_, end) = scan_all_ways(after).unwrap();
    assert_eq!(end.next.as_deref(), Some("https://x.example/p?page=3"));
}

#[test]
fn null_and_missing_next_mean_last_page() {
    let (_, end) = scan_all_ways(r#"{"data":[],"links":{"next":null},"next":null}"#).unwrap();
    assert_eq!(end.next, None);
    assert_eq!(
        end.hints.get(Hint::Next),
        Some(("/links/next", &Scalar::Null))
    );
    let (_, end) = scan_all_ways(r#"{"data":[]}"#).unwrap();
    assert_eq!(
        end,
        PageEnd {
            records_at: Some("/data".into()),
            ..PageEnd::default()
        }
    );
}

#[test]
fn every_style_of_hint_is_kept_with_where_it_was() {
    let body = r#"{"meta":{"current_page":2,"last_page":"3","has_more":true,"note":{"page":9}},
        "data":[{"state":"sent","page":7,"total":8}],"total":600,"offset":200,"limit":200,
        "next_cursor":"c\u00e9","cursor":null,"next_page_url":"https://x.example/p?page=3",
        "paging":{"cursors":{"after":"abc"}}}"#;
    let (states, end) = scan_all_ways(body).unwrap();
    assert_eq!(states, ["sent"]);
    let got = |h| end.hints.get(h).map(|(at, v)| (at.to_string(), v.clone()));
    let num = |t: &str| Scalar::Number(t.into());
    assert_eq!(
        got(Hint::Page),
        Some(("/meta/current_page".into(), num("2")))
    );
    assert_eq!(
        got(Hint::LastPage),
        Some(("/meta/last_page".into(), Scalar::Str("3".into())))
    );
    assert_eq!(
        got(Hint::HasMore),
        Some(("/meta/has_more".into(), Scalar::Bool(true)))
    );
    assert_eq!(got(Hint::Total), Some(("/total".into(), num("600"))));
    assert_eq!(got(Hint::Offset), Some(("/offset".into(), num("200"))));
    assert_eq!(got(Hint::Limit), Some(("/limit".into(), num("200"))));
    assert_eq!(
        got(Hint::NextCursor),
        Some(("/next_cursor".into(), Scalar::Str("c\u{e9}".into())))
    );
    assert_eq!(got(Hint::Cursor), Some(("/cursor".into(), Scalar::Null)));
    assert_eq!(end.next.as_deref(), Some("https://x.example/p?page=3"));
    // Keys inside records, or under keys no pointer names, are not hints.
    assert_eq!(
        end.hints
            .iter()
            .filter(|(h, _, _)| *h == Hint::Page)
            .count(),
        1
    );
}

#[test]
fn escaped_keys_and_links_are_decoded() {
    let (_, end) = scan_all_ways(r#"{"d\u0061ta":[{}],"n\u0065xt":"\/p?page=2"}"#).unwrap();
    assert_eq!(end.next.as_deref(), Some("/p?page=2"));
    assert_eq!(end.records, 1);
}

#[test]
fn non_object_elements_are_counted_invalid() {
    let (states, end) = scan_all_ways(r#"[{"state":"sent"},1,"x",[2],null,{"state":}]"#).unwrap();
    assert_eq!(states, ["sent"]);
    assert_eq!((end.records, end.invalid), (6, 5));
}

#[test]
fn html_pages_and_garbage_are_syntax_errors() {
    let err = scan_chunked(b"<html><body>Maintenance</body></html>", 7).unwrap_err();
    assert!(err.to_string().contains("HTML"), "{err}");
    assert!(matches!(
        scan_chunked(b"{\"data\" [", 3),
        Err(ScanError::Syntax { .. })
    ));
    assert!(matches!(
        scan_chunked(b"[1,2}", 3),
        Err(ScanError::Syntax { .. })
    ));
    assert!(matches!(
        scan_chunked(b"[] x", 3),
        Err(ScanError::TrailingData(3))
    ));
    assert!(matches!(
        scan_chunked(b"[tru]", 3),
        Err(ScanError::Syntax { .. })
    ));
}

#[test]
fn truncated_bodies_are_errors() {
    let body = br#"{"data":[{"state":"sent"},{"state":"err"#;
    for cut in 0..body.len() {
        let err = scan_chunked(&body[..cut], 5).unwrap_err();
        assert!(
            matches!(err, ScanError::Truncated(_)),
            "cut at {cut}: {err:?}"
        );
    }
}

#[test]
fn bodies_without_records_are_errors() {
    for body in [
        &b"{}"[..],
        b"{\"data\":{}}",
        b"null",
        b"{\"error\":\"x\"}",
        b"42",
    ] {
        assert!(
            matches!(scan_chunked(body, 2), Err(ScanError::NoRecords { .. })),
            "{body:?}"
        );
    }
}

#[test]
fn oversized_records_and_links_are_refused() {
    let mut body = b"[{\"x\":\"".to_vec();
    body.extend(std::iter::repeat_n(b'a', MAX_RECORD_BYTES + 10));
    body.extend_from_slice(b"\"}]");
    assert_eq!(
        scan_chunked(&body, 4096).unwrap_err(),
        ScanError::RecordTooLarge
    );
    let mut body = b"{\"data\":[],\"next\":\"".to_vec();
    body.extend(std::iter::repeat_n(b'a', MAX_TOKEN_BYTES + 10));
    body.extend_from_slice(b"\"}");
    assert_eq!(
        scan_chunked(&body, 4096).unwrap_err(),
        ScanError::TokenTooLarge
    );
}

#[test]
fn deep_nesting_is_skipped_without_recursion() {
    let depth = 1_000_000;
    let mut body = b"{\"junk\":".to_vec();
    body.extend(std::iter::repeat_n(b'[', depth));
    body.extend(std::iter::repeat_n(b']', depth));
    body.extend_from_slice(b",\"data\":[]}");
    let (_, end) = scan_chunked(&body, 65536).unwrap();
    assert_eq!(end.records, 0);
    // Inside a record, deep values are skipped iteratively too: the
    // record counts, without the state it buried.
    let mut body = b"[{\"state\":".to_vec();
    body.extend(std::iter::repeat_n(b'[', 100_000));
    body.extend(std::iter::repeat_n(b']', 100_000));
    body.extend_from_slice(b"}]");
    let (states, end) = scan_chunked(&body, 65536).unwrap();
    assert_eq!((end.records, end.invalid), (1, 0));
    assert_eq!(states, ["-"]);
}

#[test]
fn bad_next_links_are_errors() {
    assert!(matches!(
        scan_chunked(br#"{"data":[],"next":5}"#, 3),
        Err(ScanError::BadNext(_))
    ));
    let (_, end) = scan_chunked(br#"{"data":[],"links":{"next":{"href":"x"}}}"#, 3).unwrap();
    assert_eq!(end.next, None);
}

// The pure helpers, directly.

#[test]
fn bytes_are_described_without_body_content_around_them() {
    assert_eq!(describe_byte(b'x'), "'x'");
    assert_eq!(describe_byte(b' '), "byte 0x20");
    assert_eq!(describe_byte(0xc3), "byte 0xc3");
    assert_eq!(
        syntax_error(0, b'<').to_string(),
        "not JSON: unexpected '<' at byte 0 (an HTML or XML page, not the API's JSON)"
    );
    assert_eq!(
        syntax_error(7, b'<').to_string(),
        "not JSON: unexpected '<' at byte 7"
    );
}

#[test]
fn error_messages_are_unchanged() {
    assert_eq!(
        ScanError::Truncated(12).to_string(),
        "body ended early, after 12 bytes: truncated JSON"
    );
    assert_eq!(
        ScanError::NoRecords {
            looked: "(root) or /data".into(),
            found: "the body is a string".into()
        }
        .to_string(),
        "no records array at (root) or /data; the body is a string (set response.records in the config file if the body differs)"
    );
    assert_eq!(
        ScanError::RecordTooLarge.to_string(),
        "a record is larger than 1048576 bytes"
    );
    assert_eq!(
        ScanError::TokenTooLarge.to_string(),
        "a key or next link is larger than 65536 bytes"
    );
    assert_eq!(
        ScanError::BadNext("/next".into()).to_string(),
        "the next link at /next is neither a string nor null"
    );
    assert_eq!(
        ScanError::TrailingData(3).to_string(),
        "unexpected data after the JSON document at byte 3"
    );
}

fn frame(seg: Seg) -> Frame {
    Frame {
        object: matches!(seg, Seg::Key(_) | Seg::Unmatched),
        seg,
        records: false,
    }
}

#[test]
fn paths_reach_pointers_exactly_or_on_the_way() {
    let links_next = Pointer::parse("/links/next").unwrap();
    let links = [frame(Seg::Key("links".into()))];
    assert_eq!(reach(&[], &links_next), Some(Reach::Toward));
    assert_eq!(reach(&links, &links_next), Some(Reach::Toward));
    let at = [
        frame(Seg::Key("links".into())),
        frame(Seg::Key("next".into())),
    ];
    assert_eq!(reach(&at, &links_next), Some(Reach::At));
    let deeper = [
        frame(Seg::Key("links".into())),
        frame(Seg::Key("next".into())),
        frame(Seg::Key("href".into())),
    ];
    assert_eq!(reach(&deeper, &links_next), None);
    assert_eq!(reach(&[frame(Seg::Unmatched)], &links_next), None);
    let second = Pointer::parse("/pages/1").unwrap();
    let index = |n| [frame(Seg::Key("pages".into())), frame(Seg::Index(n))];
    assert_eq!(reach(&index(1), &second), Some(Reach::At));
    assert_eq!(reach(&index(0), &second), None);
}

#[test]
fn relation_to_the_default_layout() {
    let layout = ResponseLayout::default();
    let at = |keys: &[&str]| {
        let frames: Vec<Frame> = keys
            .iter()
            .map(|k| frame(Seg::Key(k.to_string())))
            .collect();
        relation(&frames, &layout)
    };
    let hint_at =
        |idx: Option<usize>| idx.map(|i| (layout.hints[i].0, layout.hints[i].1.to_string()));
    assert_eq!(
        at(&[]),
        Relation {
            records: Some(0),
            prefix: true,
            hint: None,
        }
    );
    assert_eq!(
        at(&["data"]),
        Relation {
            records: Some(1),
            prefix: false,
            hint: None,
        }
    );
    assert_eq!(
        hint_at(at(&["next"]).hint),
        Some((Hint::Next, "/next".into()))
    );
    assert_eq!(
        hint_at(at(&["links", "next"]).hint),
        Some((Hint::Next, "/links/next".into()))
    );
    assert_eq!(
        hint_at(at(&["meta", "total_pages"]).hint),
        Some((Hint::LastPage, "/meta/total_pages".into()))
    );
    // meta leads to hints; a key nothing points into does not.
    assert!(at(&["meta"]).prefix);
    assert_eq!(at(&["attributes"]), Relation::default());
}

#[test]
fn carry_over_holds_a_straddling_record_up_to_the_limit() {
    let mut carry = CarryOver::default();
    assert_eq!(carry.complete(b"{}"), Ok(&b"{}"[..]));
    carry.hold(b"{\"state\":").unwrap();
    assert_eq!(
        carry.complete(b"\"sent\"}"),
        Ok(&b"{\"state\":\"sent\"}"[..])
    );
    carry.clear();
    assert_eq!(carry.complete(b"[]"), Ok(&b"[]"[..]));

    let big = vec![b'a'; MAX_RECORD_BYTES];
    carry.hold(&big).unwrap();
    assert_eq!(carry.hold(b"a"), Err(ScanError::RecordTooLarge));
    assert_eq!(carry.complete(b"}"), Err(ScanError::RecordTooLarge));
}

#[test]
fn string_bodies_end_at_the_unescaped_quote_across_chunks() {
    let mut escape = false;
    assert_eq!(string_body_end(br#"abc" x"#, &mut escape), Some(3));
    assert_eq!(string_body_end(br#"a\"b\\" x"#, &mut escape), Some(6));
    assert!(!escape);
    assert_eq!(string_body_end(b"abc", &mut escape), None);
    assert!(!escape);
    assert_eq!(string_body_end(br"abc\", &mut escape), None);
    assert!(
        escape,
        "a backslash at the end escapes the next chunk's byte"
    );
    assert_eq!(string_body_end(br#""x""#, &mut escape), Some(2));
    assert!(!escape);
    assert_eq!(string_body_end(b"", &mut escape), None);
}

#[test]
fn scalars_end_at_the_first_foreign_byte_and_are_checked() {
    assert_eq!(scalar_end(b"123,", 0), 3);
    assert_eq!(scalar_end(b"[true]", 1), 5);
    assert_eq!(scalar_end(b"-1.5e+3", 0), 7);
    for ok in [&b"true"[..], b"false", b"null", b"0", b"-1.5e+3"] {
        assert!(is_json_scalar(ok), "{ok:?}");
    }
    for bad in [&b"tru"[..], b"nul", b"01", b"1.", b"+1", b""] {
        assert!(!is_json_scalar(bad), "{bad:?}");
    }
}

#[test]
fn strings_are_decoded_with_or_without_escapes() {
    assert_eq!(decode_string(b"data").as_deref(), Some("data"));
    assert_eq!(decode_string(br"d\u0061ta").as_deref(), Some("data"));
    assert_eq!(decode_string(br"\/p").as_deref(), Some("/p"));
    assert_eq!(decode_string(b"\xff"), None);
    assert_eq!(decode_string(br"\x"), None);
}

/// One whole body through a scanner with the default layout.
fn scan_default(body: &str) -> Result<PageEnd, ScanError> {
    let layout = ResponseLayout::default();
    let mut sink = crate::model::Tally::new(None, 100);
    let mut scanner = BodyScanner::new(&layout);
    scanner
        .feed(body.as_bytes(), &mut sink)
        .and_then(|()| scanner.finish())
}

#[test]
fn a_body_without_records_is_described_by_its_keys_and_their_types_never_its_values() {
    let describe = |body: &str| match scan_default(body) {
        Err(ScanError::NoRecords { found, .. }) => found,
        other => panic!("{other:?}"),
    };
    // Records under a key nobody guessed: named, with types, in order.
    let found = describe(
        r#"{"count": 600, "next": null, "previous": "https://x/?page=1", "rows": [{"name": "Maria", "phone": "+5511999999999", "state": "sent"}], "ok": true, "meta": {"cpf": "123.456.789-00"}}"#,
    );
    assert_eq!(
        found,
        r#"the body is an object with keys "count" (number), "next" (null), "previous" (string), "rows" (array), "ok" (boolean), "meta" (object)"#
    );
    for value in [
        "600",
        "Maria",
        "+5511999999999",
        "123.456.789-00",
        "https://x",
    ] {
        assert!(!found.contains(value), "{value} in {found}");
    }
    assert_eq!(describe(r#""nothing here""#), "the body is a string");
    assert_eq!(describe("42"), "the body is a number");
    // Many keys: the first ones, and how many more.
    let many: Vec<String> = (0..30).map(|i| format!(r#""k{i}": {i}"#)).collect();
    let found = describe(&format!("{{{}}}", many.join(",")));
    assert!(found.ends_with(r#""k23" (number) and 6 more"#), "{found}");
}

#[test]
fn records_are_found_at_the_usual_places_and_two_candidates_are_refused() {
    let scan = |body: &str| scan_default(body).map(|end| end.records);
    let record = r#"{"state": "sent", "template_uuid": "t"}"#;
    for key in ["data", "results", "items", "records", "subscribers"] {
        let body = format!(r#"{{"count": 2, "{key}": [{record}, {record}], "next": null}}"#);
        assert_eq!(scan(&body), Ok(2), "{key}");
    }
    // Which of two arrays holds the records is a guess: refused.
    let body = format!(r#"{{"data": [{record}], "items": [{record}, {record}]}}"#);
    assert_eq!(scan(&body), Err(ScanError::TwoRecordArrays));
    // An array elsewhere is not a candidate.
    let body = format!(r#"{{"data": [{record}], "errors": [], "meta": {{"items": []}}}}"#);
    assert_eq!(scan(&body), Ok(1));
}
