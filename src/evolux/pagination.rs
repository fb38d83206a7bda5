//! How a server links its pages, and what it says about its total: the
//! styles the exporter follows, detected from each page's body and headers
//! or stated in `response.pagination`.

use std::fmt;

mod explicit;
pub mod link;

pub use explicit::{Explicit, RawPagination};
#[cfg(test)]
mod tests;

use super::hints::{Hint, Scalar};

/// A way of reaching the next page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Style {
    /// A next link in the body (`next`, `links.next`, `next_page_url`, ...).
    BodyLink,
    /// The `Link` header's `rel="next"` (RFC 8288).
    LinkHeader,
    /// A page number parameter (`?page=N`).
    Page,
    /// An offset parameter (`?offset=N`).
    Offset,
    /// An opaque cursor parameter (`?cursor=C`).
    Cursor,
}

impl Style {
    /// The name used in `response.pagination.style` and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Style::BodyLink => "link",
            Style::LinkHeader => "header",
            Style::Page => "page",
            Style::Offset => "offset",
            Style::Cursor => "cursor",
        }
    }
}

impl fmt::Display for Style {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A total the server stated, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stated {
    /// The number of records it said the query has.
    pub total: u64,
    /// Where it said so: a JSON pointer or a header name.
    pub source: String,
}

/// Pagination as the config file sets it: detected (the default), or stated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Each page's body and headers say how to go on.
    #[default]
    Detect,
    /// `response.pagination`.
    Explicit(Explicit),
}

/// What one page said, besides its records.
#[derive(Clone, Debug, Default)]
pub struct PageFacts {
    /// The hints in the body.
    pub hints: super::hints::Hints,
    /// The `Link` header's `rel="next"` target, if the header was sent.
    pub link_next: Option<String>,
    /// A `Link` header was sent (with or without a next).
    pub link_header: bool,
    /// A total in a header (`X-Total-Count`, `X-Total`), and its name.
    pub header_total: Option<(u64, &'static str)>,
    /// Records on the page.
    pub records: u64,
}

/// How to go on after a page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Fetch this reference (relative to the page's URL), found by `Style`.
    Follow(Style, NextRef),
    /// The query is complete.
    Done,
}

/// Where the next page is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NextRef {
    /// A link given by the server.
    Link(String),
    /// The first page's URL with this query parameter set.
    Param(String, String),
}

/// Why pagination cannot be followed exactly. Never holds a record value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    /// The page's statements disagree on whether more pages follow.
    #[error(
        "the server's pagination is ambiguous: {more} says more pages follow, {last} says this is the last; set response.pagination"
    )]
    Ambiguous {
        /// What says more pages follow.
        more: String,
        /// What says there are none.
        last: String,
    },
    /// More records are said to follow, with no way to reach them.
    #[error(
        "{0} says more records follow, but the page gives no next link, page number or cursor; set response.pagination"
    )]
    Unreachable(String),
    /// The records read differ from the total the server stated.
    #[error(
        "the server stated {stated} records ({stated_at}) but its pages held {read}: counting stops short of the truth (a page size or pagination the exporter did not follow; run --evolux.diagnose)"
    )]
    Incomplete {
        /// The total stated.
        stated: u64,
        /// Where it was stated.
        stated_at: String,
        /// The records read over all pages.
        read: u64,
    },
}

/// The page size the server stated, and where.
fn limit(facts: &PageFacts) -> Option<(&str, u64)> {
    let (at, v) = facts.hints.get(Hint::Limit)?;
    Some((at, v.count().filter(|n| *n > 0)?))
}

/// One statement about going on: what said it, and where it leads.
struct Verdict {
    said_by: String,
    more: Option<(Style, NextRef)>,
}

/// The pagination of one query: fed each page's facts, says how to go on,
/// and checks the records read against any total the server stated.
#[derive(Debug)]
pub struct Paginator {
    mode: Mode,
    pages: u64,
    read: u64,
    first_page: u64,
    style: Option<Style>,
    stated: Option<Stated>,
    /// Every page that stated a total stated its own records so far: a
    /// per-page count, not a total (when there is more than one page).
    per_page_count: bool,
}

impl Paginator {
    /// Pagination for one query, as `mode` says.
    pub fn new(mode: &Mode) -> Paginator {
        Paginator {
            mode: mode.clone(),
            pages: 0,
            read: 0,
            first_page: 0,
            style: None,
            stated: None,
            per_page_count: true,
        }
    }

    /// Parameters the first request carries (a stated page size).
    pub fn first_params(&self) -> Vec<(String, String)> {
        match &self.mode {
            Mode::Explicit(Explicit {
                size: Some((name, size)),
                ..
            }) => vec![(name.clone(), size.to_string())],
            _ => Vec::new(),
        }
    }

    /// The style that led past the first page, if any.
    pub fn style(&self) -> Option<Style> {
        self.style
    }

    /// The total stated on the last page that stated one, unless every
    /// page's "total" was its own record count.
    pub fn stated(&self) -> Option<&Stated> {
        self.stated
            .as_ref()
            .filter(|_| !(self.per_page_count && self.pages > 1))
    }

    /// Takes a page's facts; says how to go on.
    pub fn after_page(&mut self, facts: &PageFacts) -> Result<Step, PageError> {
        self.pages += 1;
        self.read += facts.records;
        if self.pages == 1 {
            self.first_page = facts.records;
        }
        self.note_total(facts);
        let step = match &self.mode {
            Mode::Detect => self.detect(facts)?,
            Mode::Explicit(e) => self.explicit(&e.clone(), facts),
        };
        match &step {
            Step::Follow(style, _) => {
                self.style.get_or_insert(*style);
            }
            Step::Done => self.check_total()?,
        }
        Ok(step)
    }

    fn note_total(&mut self, facts: &PageFacts) {
        let body = facts
            .hints
            .get(Hint::Total)
            .and_then(|(at, v)| v.count().map(|n| (n, at.to_string())));
        let header = facts.header_total.map(|(n, name)| (n, name.to_string()));
        // A page that states nothing keeps the last statement.
        if let Some((total, source)) = body.or(header) {
            self.per_page_count &= total == facts.records;
            self.stated = Some(Stated { total, source });
        }
    }

    fn check_total(&self) -> Result<(), PageError> {
        match self.stated() {
            Some(s) if s.total != self.read => Err(PageError::Incomplete {
                stated: s.total,
                stated_at: s.source.clone(),
                read: self.read,
            }),
            _ => Ok(()),
        }
    }

    /// Every statement the page makes about going on, strongest first;
    /// they must agree on whether more pages follow.
    fn detect(&self, facts: &PageFacts) -> Result<Step, PageError> {
        let verdicts = self.verdicts(facts);
        let more = verdicts.iter().find(|v| v.more.is_some());
        let last = verdicts.iter().find(|v| v.more.is_none());
        match (more, last) {
            (Some(m), Some(l)) => Err(PageError::Ambiguous {
                more: m.said_by.clone(),
                last: l.said_by.clone(),
            }),
            (Some(m), None) => {
                let (style, next) = m
                    .more
                    .clone()
                    .ok_or_else(|| PageError::Unreachable(m.said_by.clone()))?;
                Ok(Step::Follow(style, next))
            }
            (None, _) => {
                if let Some((at, v)) = facts.hints.get(Hint::HasMore)
                    && v.flag() == Some(true)
                {
                    return Err(PageError::Unreachable(at.to_string()));
                }
                Ok(Step::Done)
            }
        }
    }

    fn verdicts(&self, facts: &PageFacts) -> Vec<Verdict> {
        let mut out = Vec::new();
        let hint = |h| facts.hints.get(h);
        let has_more = hint(Hint::HasMore).and_then(|(at, v)| Some((at, v.flag()?)));
        if facts.link_header {
            out.push(Verdict {
                said_by: "the Link header".into(),
                more: facts
                    .link_next
                    .clone()
                    .map(|l| (Style::LinkHeader, NextRef::Link(l))),
            });
        }
        // Any non-empty next link says more; a null or empty one at the
        // first place stated says last.
        let links: Vec<(&str, &Scalar)> = facts
            .hints
            .iter()
            .filter(|(h, _, _)| *h == Hint::Next)
            .map(|(_, at, v)| (at, v))
            .collect();
        if let Some((at, link)) = links
            .iter()
            .find_map(|(at, v)| v.text().map(|l| (*at, l)))
            .or_else(|| links.first().map(|(at, _)| (*at, "")))
        {
            out.push(Verdict {
                said_by: format!("the next link at {at}"),
                more: (!link.is_empty())
                    .then(|| (Style::BodyLink, NextRef::Link(link.to_string()))),
            });
        }
        if let Some(v) = self.cursor_verdict(facts, has_more) {
            out.push(v);
        }
        if let Some(v) = self.page_verdict(facts, has_more) {
            out.push(v);
        }
        if let Some(v) = self.offset_verdict(facts) {
            out.push(v);
        }
        out
    }

    /// `next_cursor` (ended by null, empty or `has_more: false`), or
    /// `cursor` beside `has_more`.
    fn cursor_verdict(&self, facts: &PageFacts, has_more: Option<(&str, bool)>) -> Option<Verdict> {
        let param = |c: &str| NextRef::Param("cursor".into(), c.to_string());
        if let Some((at, v)) = facts.hints.get(Hint::NextCursor) {
            let more = has_more.is_none_or(|(_, m)| m);
            return Some(Verdict {
                said_by: format!("the cursor at {at}"),
                more: v.text().filter(|_| more).map(|c| (Style::Cursor, param(c))),
            });
        }
        let (at, v) = facts.hints.get(Hint::Cursor)?;
        let (_, more) = has_more?;
        Some(Verdict {
            said_by: format!("the cursor at {at} with has_more"),
            more: v.text().filter(|_| more).map(|c| (Style::Cursor, param(c))),
        })
    }

    /// A page number beside the last page's number, `has_more`, or a total.
    fn page_verdict(&self, facts: &PageFacts, has_more: Option<(&str, bool)>) -> Option<Verdict> {
        let (at, page) = facts.hints.get(Hint::Page)?;
        let page = page.count()?;
        let next = |more: bool| {
            more.then(|| {
                (
                    Style::Page,
                    NextRef::Param("page".into(), (page + 1).to_string()),
                )
            })
        };
        if let Some((last_at, last)) = facts.hints.get(Hint::LastPage)
            && let Some(last) = last.count()
        {
            return Some(Verdict {
                said_by: format!("page {page} of {last} ({at}, {last_at})"),
                more: next(page < last),
            });
        }
        if let Some((more_at, more)) = has_more {
            return Some(Verdict {
                said_by: format!("page {page} ({at}) with {more_at}"),
                more: next(more),
            });
        }
        if let Some(total) = &self.stated {
            return Some(Verdict {
                said_by: format!("page {page} ({at}) of {} records", total.total),
                more: next(self.read < total.total && facts.records > 0),
            });
        }
        let (size_at, size) = limit(facts)?;
        Some(Verdict {
            said_by: format!("page {page} ({at}) of {size} records ({size_at})"),
            more: next(facts.records >= size && facts.records > 0),
        })
    }

    /// An offset beside a total, or beside the page size (a full page may
    /// have a successor: the next offset says).
    fn offset_verdict(&self, facts: &PageFacts) -> Option<Verdict> {
        let (at, offset) = facts.hints.get(Hint::Offset)?;
        let offset = offset.count()?;
        let reached = offset + facts.records;
        let go = |more: bool| {
            (more && facts.records > 0).then(|| {
                (
                    Style::Offset,
                    NextRef::Param("offset".into(), reached.to_string()),
                )
            })
        };
        if let Some(total) = facts.hints.get(Hint::Total).and_then(|(_, v)| v.count()) {
            return Some(Verdict {
                said_by: format!("offset {offset} ({at}) of {total} records"),
                more: go(reached < total),
            });
        }
        let (size_at, size) = limit(facts)?;
        Some(Verdict {
            said_by: format!("offset {offset} ({at}) with pages of {size} ({size_at})"),
            more: go(facts.records >= size),
        })
    }
}
