//! The pagination rules driven by real page bodies (scanned by the
//! product's scanner), page after page, as the client drives them.

use super::*;
use crate::evolux::fields::ResponseLayout;
use crate::evolux::scanner::BodyScanner;

/// The facts of `body` (and of a Link header `link`, if any).
fn facts(body: &str, link: Option<&str>) -> PageFacts {
    let layout = ResponseLayout::default();
    let mut scanner = BodyScanner::new(&layout);
    let mut sink = |_: &crate::model::RecordFields<'_>| {};
    scanner.feed(body.as_bytes(), &mut sink).unwrap();
    let end = scanner.finish().unwrap();
    PageFacts {
        hints: end.hints,
        link_next: link.and_then(|l| link::next_target([l])),
        link_header: link.is_some(),
        header_total: None,
        records: end.records,
    }
}

/// `n` records as a JSON array's elements.
fn recs(n: usize) -> String {
    vec![r#"{"state":"sent","name":"Maria"}"#; n].join(",")
}

fn param(style: Style, name: &str, value: u64) -> Result<Step, PageError> {
    Ok(Step::Follow(
        style,
        NextRef::Param(name.into(), value.to_string()),
    ))
}

#[test]
fn each_common_style_is_followed_to_its_last_page() {
    let detect = Mode::Detect;
    // Django REST framework: count, next, previous, results.
    let mut p = Paginator::new(&detect);
    let drf = |next: &str, n| {
        format!(
            r#"{{"count":5,"next":{next},"previous":null,"results":[{}]}}"#,
            recs(n)
        )
    };
    assert_eq!(
        p.after_page(&facts(&drf(r#""/r?page=2""#, 2), None)),
        Ok(Step::Follow(
            Style::BodyLink,
            NextRef::Link("/r?page=2".into())
        ))
    );
    assert!(matches!(
        p.after_page(&facts(&drf(r#""/r?page=3""#, 2), None)),
        Ok(Step::Follow(..))
    ));
    assert_eq!(p.after_page(&facts(&drf("null", 1), None)), Ok(Step::Done));
    assert_eq!(p.stated().map(|s| s.total), Some(5));
    assert_eq!(p.style(), Some(Style::BodyLink));
    // Laravel: a next_page_url and page numbers that agree.
    let mut p = Paginator::new(&detect);
    let laravel = |page, next: &str| {
        format!(
            r#"{{"current_page":{page},"last_page":2,"total":3,"per_page":2,"next_page_url":{next},"data":[{}]}}"#,
            recs(if page == 1 { 2 } else { 1 })
        )
    };
    assert!(matches!(
        p.after_page(&facts(&laravel(1, r#""/r?page=2""#), None)),
        Ok(Step::Follow(Style::BodyLink, _))
    ));
    assert_eq!(
        p.after_page(&facts(&laravel(2, "null"), None)),
        Ok(Step::Done)
    );
    // A bare array with a Link header.
    let mut p = Paginator::new(&detect);
    let arr = format!("[{}]", recs(2));
    assert_eq!(
        p.after_page(&facts(
            &arr,
            Some(r#"</r?page=2>; rel="next", </r?page=2>; rel="last""#)
        )),
        Ok(Step::Follow(
            Style::LinkHeader,
            NextRef::Link("/r?page=2".into())
        ))
    );
    assert_eq!(
        p.after_page(&facts(&arr, Some(r#"</r?page=1>; rel="first""#))),
        Ok(Step::Done)
    );
    // meta.page and meta.total_pages.
    let mut p = Paginator::new(&detect);
    let meta = |page| {
        format!(
            r#"{{"data":[{}],"meta":{{"page":{page},"total_pages":2,"total":4}}}}"#,
            recs(2)
        )
    };
    assert_eq!(
        p.after_page(&facts(&meta(1), None)),
        param(Style::Page, "page", 2)
    );
    assert_eq!(p.after_page(&facts(&meta(2), None)), Ok(Step::Done));
    // Offsets with a limit and a total.
    let mut p = Paginator::new(&detect);
    let off = |o, n| {
        format!(
            r#"{{"data":[{}],"total":5,"limit":2,"offset":{o}}}"#,
            recs(n)
        )
    };
    assert_eq!(
        p.after_page(&facts(&off(0, 2), None)),
        param(Style::Offset, "offset", 2)
    );
    assert_eq!(
        p.after_page(&facts(&off(2, 2), None)),
        param(Style::Offset, "offset", 4)
    );
    assert_eq!(p.after_page(&facts(&off(4, 1), None)), Ok(Step::Done));
    // Cursors with has_more.
    let mut p = Paginator::new(&detect);
    assert_eq!(
        p.after_page(&facts(
            &format!(
                r#"{{"data":[{}],"has_more":true,"next_cursor":"abc"}}"#,
                recs(2)
            ),
            None
        )),
        Ok(Step::Follow(
            Style::Cursor,
            NextRef::Param("cursor".into(), "abc".into())
        ))
    );
    assert_eq!(
        p.after_page(&facts(
            &format!(
                r#"{{"data":[{}],"has_more":false,"next_cursor":"abd"}}"#,
                recs(1)
            ),
            None
        )),
        Ok(Step::Done)
    );
}

#[test]
fn a_page_number_or_offset_with_only_a_page_size_goes_on_while_pages_are_full() {
    let mut p = Paginator::new(&Mode::Detect);
    let page = |n, k| format!(r#"{{"data":[{}],"page":{n},"per_page":2}}"#, recs(k));
    assert_eq!(
        p.after_page(&facts(&page(1, 2), None)),
        param(Style::Page, "page", 2)
    );
    assert_eq!(p.after_page(&facts(&page(2, 0), None)), Ok(Step::Done));
    let mut p = Paginator::new(&Mode::Detect);
    let off = |o, k| format!(r#"{{"data":[{}],"offset":{o},"limit":2}}"#, recs(k));
    assert_eq!(
        p.after_page(&facts(&off(0, 2), None)),
        param(Style::Offset, "offset", 2)
    );
    assert_eq!(p.after_page(&facts(&off(2, 1), None)), Ok(Step::Done));
}

#[test]
fn contradictions_and_dead_ends_fail_instead_of_guessing() {
    let mut p = Paginator::new(&Mode::Detect);
    let both = format!(
        r#"{{"data":[{}],"next":null,"meta":{{"page":1,"last_page":3}}}}"#,
        recs(2)
    );
    let err = p.after_page(&facts(&both, None)).unwrap_err();
    assert!(matches!(err, PageError::Ambiguous { .. }), "{err}");
    assert!(err.to_string().contains("page 1 of 3"), "{err}");
    let mut p = Paginator::new(&Mode::Detect);
    let stuck = format!(r#"{{"data":[{}],"has_more":true}}"#, recs(2));
    let err = p.after_page(&facts(&stuck, None)).unwrap_err();
    assert_eq!(err, PageError::Unreachable("/has_more".into()));
}

#[test]
fn a_stated_total_must_equal_the_records_read() {
    let mut p = Paginator::new(&Mode::Detect);
    let capped = format!(r#"{{"count":600,"next":null,"results":[{}]}}"#, recs(200));
    let err = p.after_page(&facts(&capped, None)).unwrap_err();
    assert_eq!(
        err,
        PageError::Incomplete {
            stated: 600,
            stated_at: "/count".into(),
            read: 200
        }
    );
    assert!(
        err.to_string()
            .contains("stated 600 records (/count) but its pages held 200")
    );
    // A header total counts as well.
    let mut p = Paginator::new(&Mode::Detect);
    let mut f = facts(&format!("[{}]", recs(3)), None);
    f.header_total = Some((4, "X-Total-Count"));
    assert!(matches!(
        p.after_page(&f),
        Err(PageError::Incomplete {
            stated: 4,
            read: 3,
            ..
        })
    ));
    // A "total" that is each page's own count is no total.
    let mut p = Paginator::new(&Mode::Detect);
    let own = |n, next: &str| format!(r#"{{"total":{n},"next":{next},"data":[{}]}}"#, recs(n));
    assert!(matches!(
        p.after_page(&facts(&own(2, r#""/p2""#), None)),
        Ok(Step::Follow(..))
    ));
    assert_eq!(p.after_page(&facts(&own(1, "null"), None)), Ok(Step::Done));
    assert_eq!(p.stated(), None);
}

#[test]
fn a_stated_style_replaces_detection() {
    let page = Explicit::from_raw(RawPagination {
        style: "page".into(),
        param: Some("p".into()),
        size_param: Some("per_page".into()),
        size: Some(500),
    })
    .unwrap();
    let mut p = Paginator::new(&Mode::Explicit(page));
    assert_eq!(
        p.first_params(),
        vec![("per_page".to_string(), "500".to_string())]
    );
    let arr = |n| format!("[{}]", recs(n));
    // A short first page may be a lower server cap: the next page tells.
    assert_eq!(
        p.after_page(&facts(&arr(3), None)),
        param(Style::Page, "p", 2)
    );
    assert_eq!(
        p.after_page(&facts(&arr(3), None)),
        param(Style::Page, "p", 3)
    );
    assert_eq!(p.after_page(&facts(&arr(1), None)), Ok(Step::Done));
    // none: one page, whatever links it carries.
    let none = Explicit::from_raw(RawPagination {
        style: "none".into(),
        ..RawPagination::default()
    })
    .unwrap();
    let mut p = Paginator::new(&Mode::Explicit(none));
    let linked = format!(r#"{{"data":[{}],"next":"/p2"}}"#, recs(1));
    assert_eq!(p.after_page(&facts(&linked, None)), Ok(Step::Done));
}

#[test]
fn a_bad_stated_style_names_its_key() {
    let bad = |style: &str, param: Option<&str>, size_param: Option<&str>, size| {
        Explicit::from_raw(RawPagination {
            style: style.into(),
            param: param.map(Into::into),
            size_param: size_param.map(Into::into),
            size,
        })
        .unwrap_err()
    };
    assert_eq!(bad("pages", None, None, None).0, "pagination.style");
    assert_eq!(bad("link", Some("page"), None, None).0, "pagination.param");
    assert_eq!(
        bad("page", None, Some("per_page"), None).0,
        "pagination.size"
    );
    assert_eq!(bad("page", None, None, Some(10)).0, "pagination.size_param");
    assert_eq!(bad("offset", Some(" "), None, None).0, "pagination.param");
}
