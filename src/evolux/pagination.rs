//! How a server links its pages, and what it says about its total: the
//! styles the exporter follows, detected from each page's body and headers
//! or stated in `response.pagination`.

use std::fmt;

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
