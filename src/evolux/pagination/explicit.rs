//! `response.pagination`: the style the config file states, which replaces
//! detection, and how a stated style goes from page to page.

use super::{Hint, NextRef, PageFacts, Paginator, Step, Style};

/// `response.pagination`: the style stated in the config file, which
/// replaces detection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explicit {
    /// How the pages are linked; `None`: the server does not paginate (one
    /// page per query, whatever it says).
    pub style: Option<Style>,
    /// The query parameter of a page number, offset or cursor.
    pub param: String,
    /// A page-size parameter and its value, sent with every request.
    pub size: Option<(String, u64)>,
}

/// `response.pagination` as the config file writes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawPagination {
    /// `link`, `header`, `page`, `offset`, `cursor` or `none`.
    pub style: String,
    /// The page, offset or cursor parameter.
    pub param: Option<String>,
    /// The page-size parameter.
    pub size_param: Option<String>,
    /// The page size to ask for.
    pub size: Option<u64>,
}

impl Explicit {
    /// Checks the section; the error is `(key, reason)` with the key as the
    /// file names it under `response.pagination`.
    pub fn from_raw(raw: RawPagination) -> Result<Explicit, (String, String)> {
        let key = |k: &str| format!("pagination.{k}");
        let style = match raw.style.as_str() {
            "link" => Some(Style::BodyLink),
            "header" => Some(Style::LinkHeader),
            "page" => Some(Style::Page),
            "offset" => Some(Style::Offset),
            "cursor" => Some(Style::Cursor),
            "none" => None,
            other => {
                return Err((
                    key("style"),
                    format!("{other:?} is not one of link, header, page, offset, cursor, none"),
                ));
            }
        };
        let takes_param = matches!(style, Some(Style::Page | Style::Offset | Style::Cursor));
        if raw.param.is_some() && !takes_param {
            return Err((
                key("param"),
                format!("the {} style takes no parameter", raw.style),
            ));
        }
        let param = raw
            .param
            .or_else(|| style.map(|s| Explicit::default_param(s).to_string()))
            .unwrap_or_default();
        if takes_param && param.trim().is_empty() {
            return Err((key("param"), "must not be empty".into()));
        }
        let size = match (raw.size_param, raw.size) {
            (Some(p), Some(n)) if !p.trim().is_empty() && n > 0 => Some((p, n)),
            (Some(_), Some(_)) => {
                return Err((
                    key("size"),
                    "needs a parameter name and a size above 0".into(),
                ));
            }
            (Some(_), None) => return Err((key("size"), "size_param needs a size".into())),
            (None, Some(_)) => return Err((key("size_param"), "size needs a size_param".into())),
            (None, None) => None,
        };
        Ok(Explicit { style, param, size })
    }

    /// The default parameter of a style: `page`, `offset` or `cursor`.
    pub fn default_param(style: Style) -> &'static str {
        match style {
            Style::Page => "page",
            Style::Offset => "offset",
            Style::Cursor => "cursor",
            Style::BodyLink | Style::LinkHeader => "",
        }
    }
}

impl Paginator {
    /// A stated style: its own hints only; a page or offset style goes on
    /// until a page is empty or shorter than the first, unless the body
    /// says where the end is.
    pub(super) fn explicit(&self, e: &Explicit, facts: &PageFacts) -> Step {
        let Some(style) = e.style else {
            return Step::Done;
        };
        let full = facts.records > 0 && (self.pages == 1 || facts.records >= self.first_page);
        let more = match style {
            Style::LinkHeader => facts.link_next.clone().map(NextRef::Link),
            Style::BodyLink => facts.hints.iter().find_map(|(h, _, v)| {
                (h == Hint::Next)
                    .then(|| v.text().map(|l| NextRef::Link(l.into())))
                    .flatten()
            }),
            Style::Cursor => facts
                .hints
                .get(Hint::NextCursor)
                .or_else(|| facts.hints.get(Hint::Cursor))
                .and_then(|(_, v)| v.text())
                .filter(|_| {
                    facts.hints.get(Hint::HasMore).and_then(|(_, v)| v.flag()) != Some(false)
                })
                .map(|c| NextRef::Param(e.param.clone(), c.to_string())),
            Style::Page => {
                let last = facts.hints.get(Hint::LastPage).and_then(|(_, v)| v.count());
                let this = self.pages + 1;
                let more = match last {
                    Some(last) => self.pages < last,
                    None => full,
                };
                more.then(|| NextRef::Param(e.param.clone(), this.to_string()))
            }
            Style::Offset => full.then(|| NextRef::Param(e.param.clone(), self.read.to_string())),
        };
        match more {
            Some(next) => Step::Follow(style, next),
            None => Step::Done,
        }
    }
}
