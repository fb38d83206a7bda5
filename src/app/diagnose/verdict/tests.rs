use super::*;
use crate::app::diagnose::fixtures::good;
use crate::evolux::pagination::Stated;
use crate::model::Range;

fn read_mut(t: &mut TargetReport) -> &mut WholeRead {
    t.read.as_mut().unwrap()
}

#[test]
fn a_complete_read_that_tiles_is_ok() {
    let v = judge(&good());
    assert!(v.ok(), "{v:?}");
    assert!(v.notes.is_empty(), "{v:?}");
}

#[test]
fn a_failed_read_is_not_ok_and_says_what_to_configure() {
    let cases = [
        (Reason::Auth, "HTTP 401 Unauthorized", "EVOLUX_TOKEN"),
        (Reason::NotFound, "HTTP 404 Not Found", "--evolux.url"),
        (Reason::Tls, "invalid peer certificate", "--evolux.ca-file"),
        (
            Reason::BadBody,
            "bad response body: no records array at (root) or /data; the body is an object with keys count (number), results_x (array)",
            "response.records",
        ),
        (
            Reason::Incomplete,
            "fewer records than stated",
            "response.pagination",
        ),
    ];
    for (reason, message, fix) in cases {
        let mut t = good();
        t.read = Err(Failure::new(reason, message));
        let v = judge(&t);
        assert!(!v.ok());
        assert_eq!(v.problems.len(), 1, "{v:?}");
        assert!(v.problems[0].what.contains(message), "{v:?}");
        assert!(v.problems[0].fix.contains(fix), "{reason}: {v:?}");
    }
}

#[test]
fn a_stated_total_other_than_the_records_read_is_not_ok() {
    for (stated, says) in [(9, "not followed"), (4, "overlap")] {
        let mut t = good();
        read_mut(&mut t).stats.stated_total = Some(Stated {
            total: stated,
            source: "X-Total-Count".into(),
        });
        let v = judge(&t);
        assert!(!v.ok());
        assert!(v.problems[0].what.contains(says), "{v:?}");
        assert!(v.problems[0].what.contains("X-Total-Count"), "{v:?}");
        assert!(v.problems[0].fix.contains(PAGINATION_EXAMPLE), "{v:?}");
    }
    let mut t = good();
    t.read = Err(Failure::new(
        Reason::Incomplete,
        "fewer records than stated",
    ));
    assert!(judge(&t).problems[0].fix.contains("response.total: []"));
}

#[test]
fn no_stated_total_is_a_note_and_a_round_single_page_a_warning() {
    let mut t = good();
    read_mut(&mut t).stats.stated_total = None;
    let v = judge(&t);
    assert!(v.ok(), "{v:?}");
    assert_eq!(v.notes.len(), 1, "{v:?}");
    let r = read_mut(&mut t);
    r.stats.pages = 1;
    r.stats.records = 500;
    let v = judge(&t);
    assert!(v.notes.iter().any(|n| n.contains("exactly 500")), "{v:?}");
}

#[test]
fn halves_above_the_whole_do_not_tile_and_below_it_are_a_note() {
    let mut t = good();
    let range = Range {
        start: Some(0),
        end: Some(3_599_999),
    };
    t.tiling = Tiling::Read {
        range,
        halves: [5, 5],
        whole: 5,
    };
    let v = judge(&t);
    assert!(!v.ok());
    assert!(v.problems[0].what.contains("do not tile"), "{v:?}");
    assert!(v.problems[0].fix.contains("--poll.max-interval"), "{v:?}");
    t.tiling = Tiling::Read {
        range,
        halves: [1, 2],
        whole: 4,
    };
    let v = judge(&t);
    assert!(v.ok() && v.notes[0].contains("1 more"), "{v:?}");
    t.tiling = Tiling::Read {
        range,
        halves: [0, 0],
        whole: 0,
    };
    let v = judge(&t);
    assert!(v.ok() && v.notes[0].contains("could not tell"), "{v:?}");
    t.tiling = Tiling::Failed(Failure::new(Reason::RateLimited, "HTTP 429"));
    let v = judge(&t);
    assert!(
        !v.ok() && v.problems[0].fix.contains("--evolux.max-rps"),
        "{v:?}"
    );
}

#[test]
fn records_without_a_state_or_over_the_cap_are_not_ok() {
    let mut t = good();
    read_mut(&mut t).fields[0].found = 0;
    let v = judge(&t);
    assert!(
        !v.ok() && v.problems[0].fix.contains("response.state"),
        "{v:?}"
    );

    let mut t = good();
    read_mut(&mut t).counted.over_cap = 3;
    assert!(!judge(&t).ok());

    // Discovery needs each record's campaign; a configured campaign does not.
    let mut t = good();
    read_mut(&mut t).fields[3].found = 0;
    assert!(judge(&t).ok());
    t.campaign = None;
    let v = judge(&t);
    assert!(!v.ok() && v.problems[0].what.contains("discovery"), "{v:?}");
}
