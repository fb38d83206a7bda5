//! What a page may say about the pages around it, outside its records: a
//! next link, a total, a page number, an offset, a cursor. Each is a
//! [`Hint`] found at one of several JSON pointers; the scanner keeps the
//! scalar it finds there ([`Scalar`]) and hands them on as [`Hints`].

use super::fields::Pointer;

/// A statement about pagination that a body may make.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hint {
    /// A link to the next page (null or empty: none).
    Next,
    /// How many records the whole query has.
    Total,
    /// This page's number.
    Page,
    /// The last page's number, or the number of pages.
    LastPage,
    /// Whether more records follow.
    HasMore,
    /// This page's offset.
    Offset,
    /// The page size the server used.
    Limit,
    /// The cursor of the next page (null or empty: none).
    NextCursor,
    /// A cursor that means the next page only beside `has_more`.
    Cursor,
}

/// Where each hint is looked for by default, most specific first. A
/// pointer listed earlier wins when several are present.
pub const DEFAULT_HINTS: &[(Hint, &[&str])] = &[
    (
        Hint::Next,
        &[
            "/links/next",
            "/next",
            "/next_page_url",
            "/meta/next",
            "/paging/next",
            "/pagination/next",
        ],
    ),
    (
        Hint::Total,
        &[
            "/total",
            "/count",
            "/total_count",
            "/meta/total",
            "/meta/total_count",
            "/meta/count",
            "/meta/pagination/total",
            "/pagination/total",
            "/pagination/total_count",
            "/paging/total",
        ],
    ),
    (
        Hint::Page,
        &[
            "/page",
            "/current_page",
            "/meta/page",
            "/meta/current_page",
            "/meta/pagination/current_page",
            "/pagination/page",
            "/pagination/current_page",
            "/paging/page",
        ],
    ),
    (
        Hint::LastPage,
        &[
            "/last_page",
            "/total_pages",
            "/page_count",
            "/meta/last_page",
            "/meta/total_pages",
            "/meta/page_count",
            "/meta/pagination/total_pages",
            "/pagination/last_page",
            "/pagination/total_pages",
            "/pagination/page_count",
            "/paging/total_pages",
        ],
    ),
    (
        Hint::HasMore,
        &[
            "/has_more",
            "/meta/has_more",
            "/pagination/has_more",
            "/paging/has_more",
        ],
    ),
    (
        Hint::Offset,
        &[
            "/offset",
            "/meta/offset",
            "/pagination/offset",
            "/paging/offset",
        ],
    ),
    (
        Hint::Limit,
        &[
            "/limit",
            "/per_page",
            "/meta/limit",
            "/meta/per_page",
            "/pagination/limit",
            "/pagination/per_page",
            "/paging/limit",
        ],
    ),
    (
        Hint::NextCursor,
        &[
            "/next_cursor",
            "/meta/next_cursor",
            "/pagination/next_cursor",
            "/paging/next_cursor",
            "/paging/cursors/after",
        ],
    ),
    (
        Hint::Cursor,
        &["/cursor", "/meta/cursor", "/pagination/cursor"],
    ),
];

/// The default hints and their pointers, in priority order.
pub fn default_hints() -> Vec<(Hint, Pointer)> {
    DEFAULT_HINTS
        .iter()
        .flat_map(|(hint, pointers)| {
            pointers
                .iter()
                .filter_map(move |p| Pointer::parse(p).ok().map(|p| (*hint, p)))
        })
        .collect()
}

/// A scalar found at a hint's pointer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scalar {
    /// A string, unescaped.
    Str(String),
    /// A number, as its JSON text.
    Number(String),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

impl Scalar {
    /// A whole non-negative number: a JSON number such as `3` or `3.0`, or
    /// a string of digits (some servers quote their numbers).
    pub fn count(&self) -> Option<u64> {
        let text = match self {
            Scalar::Number(t) => t.as_str(),
            Scalar::Str(s) => s.trim(),
            _ => return None,
        };
        if let Ok(n) = text.parse::<u64>() {
            return Some(n);
        }
        let f = text.parse::<f64>().ok()?;
        // Whole, non-negative and exact in an f64.
        (f >= 0.0 && f.fract() == 0.0 && f < 9.0e15).then_some(f as u64)
    }

    /// A non-empty string (a link or a cursor); `None` for null, an empty
    /// string, or anything else.
    pub fn text(&self) -> Option<&str> {
        match self {
            Scalar::Str(s) if !s.trim().is_empty() => Some(s),
            _ => None,
        }
    }

    /// A boolean, also as the strings `"true"` and `"false"`.
    pub fn flag(&self) -> Option<bool> {
        match self {
            Scalar::Bool(b) => Some(*b),
            Scalar::Str(s) if s == "true" => Some(true),
            Scalar::Str(s) if s == "false" => Some(false),
            _ => None,
        }
    }
}

/// The hints one page stated: each present hint with the pointer it was
/// found at, in the layout's priority order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hints {
    found: Vec<(Hint, String, Scalar)>,
}

impl Hints {
    /// Hints from `(hint, pointer, value)` triples in priority order.
    pub fn new(found: Vec<(Hint, String, Scalar)>) -> Hints {
        Hints { found }
    }

    /// The first value stated for `hint`, and where.
    pub fn get(&self, hint: Hint) -> Option<(&str, &Scalar)> {
        self.found
            .iter()
            .find(|(h, _, _)| *h == hint)
            .map(|(_, at, v)| (at.as_str(), v))
    }

    /// Whether nothing was stated.
    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// Every hint stated, and where (for `--evolux.diagnose`).
    pub fn iter(&self) -> impl Iterator<Item = (Hint, &str, &Scalar)> {
        self.found.iter().map(|(h, at, v)| (*h, at.as_str(), v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_accept_whole_numbers_in_any_spelling_and_nothing_else() {
        let n = |t: &str| Scalar::Number(t.into()).count();
        assert_eq!(n("600"), Some(600));
        assert_eq!(n("600.0"), Some(600));
        assert_eq!(n("6e2"), Some(600));
        assert_eq!(n("-1"), None);
        assert_eq!(n("1.5"), None);
        assert_eq!(Scalar::Str(" 42 ".into()).count(), Some(42));
        assert_eq!(Scalar::Str("many".into()).count(), None);
        assert_eq!(Scalar::Bool(true).count(), None);
        assert_eq!(Scalar::Null.count(), None);
    }

    #[test]
    fn the_first_pointer_stated_wins() {
        let hints = Hints::new(vec![
            (Hint::Total, "/total".into(), Scalar::Number("5".into())),
            (
                Hint::Total,
                "/meta/total".into(),
                Scalar::Number("7".into()),
            ),
        ]);
        assert_eq!(
            hints.get(Hint::Total),
            Some(("/total", &Scalar::Number("5".into())))
        );
        assert_eq!(hints.get(Hint::Page), None);
        assert_eq!(Scalar::Str(String::new()).text(), None);
        assert_eq!(Scalar::Str("false".into()).flag(), Some(false));
    }
}
