//! Where things are in a response: the records array, the next link, and the
//! fields of a record, as JSON pointers (RFC 6901) with fallbacks.
//!
//! The defaults accept the shapes of `docs/evolux-api.md` without configuration;
//! the `response:` section of the config file overrides any of them.
//! A record's fields are pulled out by one pass over the record's bytes in
//! place ([`ResponseLayout::walk_record`]), descending only into keys that
//! lead to a wanted field and skipping the rest (names, phone numbers,
//! custom fields) without decoding or copying them.

use std::borrow::Cow;
use std::fmt;

use super::hints::{Hint, default_hints};
use super::json::{Stop, Walked, byte_at, decode_escaped, skip_value, skip_ws, string_end};
use super::pagination::{Explicit, Mode as PageMode, RawPagination};
use crate::model::{Field, RecordFields};

/// One JSON pointer, split into unescaped reference tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pointer {
    text: String,
    tokens: Vec<String>,
}

impl Pointer {
    /// Parses `""` (the whole document) or `/a/b` (with `~1` for `/` and `~0` for `~`).
    pub fn parse(text: &str) -> Result<Pointer, String> {
        if text.is_empty() {
            return Ok(Pointer {
                text: String::new(),
                tokens: Vec::new(),
            });
        }
        let Some(rest) = text.strip_prefix('/') else {
            return Err(format!(
                "{text:?} is not a JSON pointer: it must start with /"
            ));
        };
        let tokens = rest
            .split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect();
        Ok(Pointer {
            text: text.to_string(),
            tokens,
        })
    }

    /// The reference tokens, root first.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }
}

impl fmt::Display for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.text.is_empty() {
            f.write_str("(root)")
        } else {
            f.write_str(&self.text)
        }
    }
}

const FIELDS: [(Field, &str, &[&str]); 5] = [
    (Field::State, "state", &["/state"]),
    (
        Field::Template,
        "template",
        &["/template_uuid", "/template/uuid"],
    ),
    (
        Field::TemplateName,
        "template_name",
        &["/template_name", "/template/name"],
    ),
    (
        Field::Campaign,
        "campaign",
        &["/campaign_uuid", "/campaign/uuid"],
    ),
    (
        Field::CampaignName,
        "campaign_name",
        &["/campaign_name", "/campaign/name"],
    ),
];

/// The key a field has in the `response:` section of the config file.
pub fn field_key(field: Field) -> &'static str {
    FIELDS[field as usize].1
}

/// Pointers that replace the defaults of a [`ResponseLayout`]; `None` or
/// an absent field keeps the default.
#[derive(Clone, Debug, Default)]
pub struct LayoutOverrides {
    /// Candidates for the records array.
    pub records: Option<Vec<String>>,
    /// Candidates for the next-page link.
    pub next: Option<Vec<String>>,
    /// Candidates for the query's total; empty: no total is checked, not
    /// even a header's.
    pub total: Option<Vec<String>>,
    /// Per field, its pointers within a record.
    pub fields: Vec<(Field, Vec<String>)>,
    /// `response.pagination`; detection when absent.
    pub pagination: Option<RawPagination>,
}

/// Where records, next links and fields are found in a response body.
#[derive(Clone, Debug)]
pub struct ResponseLayout {
    /// Candidates for the records array; the first array met at one of them is used.
    pub records: Vec<Pointer>,
    /// What pages may say about pagination (the next link, a total, a page
    /// number, ...), each at its candidate pointers, in priority order.
    pub hints: Vec<(Hint, Pointer)>,
    /// Per field, its pointers within a record, tried in order.
    pub fields: Vec<(Field, Vec<Pointer>)>,
    /// How pages are followed.
    pub pagination: PageMode,
    /// Whether a total in a header (`X-Total-Count`) is checked; off when
    /// `response.total` is an empty list.
    pub header_totals: bool,
    tree: Node,
}

impl Default for ResponseLayout {
    fn default() -> Self {
        let parse_all = |v: &[&str]| -> Vec<Pointer> {
            v.iter().filter_map(|p| Pointer::parse(p).ok()).collect()
        };
        ResponseLayout::new(
            parse_all(&[
                "",
                "/data",
                "/results",
                "/items",
                "/records",
                "/subscribers",
            ]),
            default_hints(),
            FIELDS
                .iter()
                .map(|(f, _, ps)| (*f, parse_all(ps)))
                .collect(),
        )
    }
}

impl ResponseLayout {
    fn new(
        records: Vec<Pointer>,
        hints: Vec<(Hint, Pointer)>,
        fields: Vec<(Field, Vec<Pointer>)>,
    ) -> Self {
        let mut tree = Node::default();
        for (field, pointers) in &fields {
            for (priority, p) in pointers.iter().enumerate() {
                let priority = u8::try_from(priority).unwrap_or(u8::MAX);
                tree.insert(p.tokens(), *field, priority);
            }
        }
        ResponseLayout {
            records,
            hints,
            fields,
            pagination: PageMode::Detect,
            header_totals: true,
            tree,
        }
    }

    /// The defaults with some pointers replaced (the `response:` section of
    /// the config file, as plain lists). The error is `(key, reason)`, the
    /// key as the file names it.
    pub fn with_overrides(o: LayoutOverrides) -> Result<ResponseLayout, (String, String)> {
        let defaults = ResponseLayout::default();
        let parse =
            |key: &str, v: Option<Vec<String>>| -> Result<Option<Vec<Pointer>>, (String, String)> {
                let Some(list) = v else { return Ok(None) };
                if list.is_empty() {
                    return Err((key.to_string(), "needs at least one JSON pointer".into()));
                }
                list.iter()
                    .map(|p| Pointer::parse(p).map_err(|r| (key.to_string(), r)))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some)
            };
        let records = parse("records", o.records)?.unwrap_or(defaults.records);
        let mut hints = defaults.hints;
        if let Some(next) = parse("next", o.next)? {
            if next.iter().any(|p| p.tokens().is_empty()) {
                return Err((
                    "next".into(),
                    "the next link cannot be the whole document".into(),
                ));
            }
            hints.retain(|(h, _)| *h != Hint::Next);
            hints.splice(0..0, next.into_iter().map(|p| (Hint::Next, p)));
        }
        let mut fields = defaults.fields;
        for (field, value) in o.fields {
            let key = field_key(field);
            if let Some(pointers) = parse(key, Some(value))? {
                if pointers.iter().any(|p| p.tokens().is_empty()) {
                    return Err((key.into(), "a field cannot be the whole record".into()));
                }
                fields[field as usize].1 = pointers;
            }
        }
        let mut header_totals = true;
        if let Some(total) = o.total {
            header_totals = !total.is_empty();
            let pointers = if total.is_empty() {
                Vec::new()
            } else {
                parse("total", Some(total))?.unwrap_or_default()
            };
            if pointers.iter().any(|p| p.tokens().is_empty()) {
                return Err((
                    "total".into(),
                    "the total cannot be the whole document".into(),
                ));
            }
            hints.retain(|(h, _)| *h != Hint::Total);
            hints.extend(pointers.into_iter().map(|p| (Hint::Total, p)));
        }
        let mut layout = ResponseLayout::new(records, hints, fields);
        layout.header_totals = header_totals;
        if let Some(raw) = o.pagination {
            layout.pagination = PageMode::Explicit(Explicit::from_raw(raw)?);
        }
        Ok(layout)
    }

    /// Walks the record that starts at `buf[0]` (a `{`), filling `out`
    /// with the wanted fields; returns the index just past the record.
    /// [`Stop::Incomplete`] when `buf` ends inside it.
    #[inline]
    pub fn walk_record<'a>(&self, buf: &'a [u8], out: &mut RecordFields<'a>) -> Walked {
        if byte_at(buf, 0)? != b'{' {
            return Err(Stop::Invalid);
        }
        walk_object(buf, 0, &self.tree, out)
    }

    /// Pulls the counted fields out of one whole record's bytes. `Ok(None)`
    /// when the value is not an object.
    pub fn extract<'a>(&self, record: &'a [u8]) -> Result<Option<RecordFields<'a>>, Stop> {
        let start = skip_ws(record, 0);
        if byte_at(record, start)? != b'{' {
            return skip_value(record, start).and_then(|end| {
                if skip_ws(record, end) == record.len() {
                    Ok(None)
                } else {
                    Err(Stop::Invalid)
                }
            });
        }
        let mut out = RecordFields::default();
        let end = self.walk_record(&record[start..], &mut out)?;
        if skip_ws(record, start + end) != record.len() {
            return Err(Stop::Invalid);
        }
        Ok(Some(out))
    }
}

/// A tree of the wanted pointers: each node lists the fields whose pointer
/// ends there and the keys that lead further.
#[derive(Clone, Debug, Default)]
struct Node {
    leaves: Vec<(Field, u8)>,
    children: Vec<(String, Option<usize>, Node)>,
}

impl Node {
    fn insert(&mut self, tokens: &[String], field: Field, priority: u8) {
        match tokens.split_first() {
            None => self.leaves.push((field, priority)),
            Some((first, rest)) => {
                let pos = match self.children.iter().position(|(k, _, _)| k == first) {
                    Some(pos) => pos,
                    None => {
                        self.children
                            .push((first.clone(), first.parse().ok(), Node::default()));
                        self.children.len() - 1
                    }
                };
                self.children[pos].2.insert(rest, field, priority);
            }
        }
    }

    fn child(&self, key: &str) -> Option<&Node> {
        self.child_bytes(key.as_bytes())
    }

    #[inline]
    fn child_bytes(&self, key: &[u8]) -> Option<&Node> {
        // Length and first byte first: most keys of a record are not wanted.
        self.children
            .iter()
            .find(|(k, _, _)| {
                let k = k.as_bytes();
                k.len() == key.len() && k.first() == key.first() && k == key
            })
            .map(|(_, _, n)| n)
    }

    fn index(&self, i: usize) -> Option<&Node> {
        self.children
            .iter()
            .find(|(_, idx, _)| *idx == Some(i))
            .map(|(_, _, n)| n)
    }
}

/// A string value's content, borrowed when it holds no escapes.
#[inline]
fn string_value(
    buf: &[u8],
    start: usize,
    end: usize,
    escaped: bool,
) -> Result<Cow<'_, [u8]>, Stop> {
    let raw = &buf[start..end];
    if escaped {
        decode_escaped(raw)
            .map(|s| Cow::Owned(s.into_bytes()))
            .ok_or(Stop::Invalid)
    } else {
        Ok(Cow::Borrowed(raw))
    }
}

/// Walks a value at `node` of the tree, from its first byte.
fn walk_value<'a>(buf: &'a [u8], i: usize, node: &Node, out: &mut RecordFields<'a>) -> Walked {
    match byte_at(buf, i)? {
        b'"' if !node.leaves.is_empty() => {
            let (end, escaped) = string_end(buf, i + 1)?;
            let value = string_value(buf, i + 1, end - 1, escaped)?;
            for (field, priority) in &node.leaves {
                out.set(*field, *priority, value.clone());
            }
            Ok(end)
        }
        b'{' if !node.children.is_empty() => walk_object(buf, i, node, out),
        b'[' if node.children.iter().any(|(_, idx, _)| idx.is_some()) => {
            walk_array(buf, i, node, out)
        }
        _ => skip_value(buf, i),
    }
}

/// Walks an object from its `{`, descending into the keys the tree names.
fn walk_object<'a>(buf: &'a [u8], i: usize, node: &Node, out: &mut RecordFields<'a>) -> Walked {
    let mut j = skip_ws(buf, i + 1);
    if byte_at(buf, j)? == b'}' {
        return Ok(j + 1);
    }
    loop {
        if byte_at(buf, j)? != b'"' {
            return Err(Stop::Invalid);
        }
        let (key_end, escaped) = string_end(buf, j + 1)?;
        let raw_key = &buf[j + 1..key_end - 1];
        let child = if escaped {
            decode_escaped(raw_key).and_then(|k| node.child(&k))
        } else {
            node.child_bytes(raw_key)
        };
        j = skip_ws(buf, key_end);
        if byte_at(buf, j)? != b':' {
            return Err(Stop::Invalid);
        }
        j = skip_ws(buf, j + 1);
        j = match child {
            Some(child) => walk_value(buf, j, child, out)?,
            None => skip_value(buf, j)?,
        };
        j = skip_ws(buf, j);
        match byte_at(buf, j)? {
            b',' => j = skip_ws(buf, j + 1),
            b'}' => return Ok(j + 1),
            _ => return Err(Stop::Invalid),
        }
    }
}

/// Walks an array from its `[`, descending into the indexes the tree names.
fn walk_array<'a>(buf: &'a [u8], i: usize, node: &Node, out: &mut RecordFields<'a>) -> Walked {
    let mut j = skip_ws(buf, i + 1);
    if byte_at(buf, j)? == b']' {
        return Ok(j + 1);
    }
    let mut index = 0;
    loop {
        j = match node.index(index) {
            Some(child) => walk_value(buf, j, child, out)?,
            None => skip_value(buf, j)?,
        };
        j = skip_ws(buf, j);
        match byte_at(buf, j)? {
            b',' => j = skip_ws(buf, j + 1),
            b']' => return Ok(j + 1),
            _ => return Err(Stop::Invalid),
        }
        index += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(layout: &ResponseLayout, json: &str) -> Vec<Option<String>> {
        let rec = layout.extract(json.as_bytes()).unwrap().unwrap();
        [
            Field::State,
            Field::Template,
            Field::TemplateName,
            Field::Campaign,
            Field::CampaignName,
        ]
        .iter()
        .map(|f| rec.get_str(*f).map(str::to_owned))
        .collect()
    }

    #[test]
    fn flat_record_fields_are_found() {
        let l = ResponseLayout::default();
        let got = fields(
            &l,
            r#"{"name":"Maria","phone_number":"1199881122","state":"sent","template_uuid":"t1","template_name":"Promo","campaign_uuid":"c1","campaign_name":"Black Friday","fields":{"CPF":"111"}}"#,
        );
        assert_eq!(
            got,
            ["sent", "t1", "Promo", "c1", "Black Friday"].map(|s| Some(s.to_string()))
        );
    }

    #[test]
    fn nested_objects_are_the_fallback() {
        let l = ResponseLayout::default();
        let got = fields(
            &l,
            r#"{"state":"error","template":{"uuid":"t2","name":"Boleto"},"campaign":{"uuid":"c2","name":"Cobran\u00e7a"}}"#,
        );
        assert_eq!(
            got,
            ["error", "t2", "Boleto", "c2", "Cobrança"].map(|s| Some(s.to_string()))
        );
    }

    #[test]
    fn first_pointer_wins_whatever_the_key_order() {
        let l = ResponseLayout::default();
        let got = fields(
            &l,
            r#"{"template":{"uuid":"nested"},"template_uuid":"flat"}"#,
        );
        assert_eq!(got[1].as_deref(), Some("flat"));
    }

    #[test]
    fn wrong_types_are_ignored_not_fatal() {
        let l = ResponseLayout::default();
        let got = fields(
            &l,
            r#"{"state":42,"template":"not-an-object","campaign":[1,2]}"#,
        );
        assert_eq!(got, vec![None; 5]);
    }

    #[test]
    fn non_objects_are_not_records() {
        let l = ResponseLayout::default();
        assert_eq!(l.extract(b"[1,2]").unwrap(), None);
        assert_eq!(l.extract(b"\"x\"").unwrap(), None);
        assert_eq!(l.extract(b"{\"state\":").unwrap_err(), Stop::Incomplete);
        assert_eq!(l.extract(b"{} trailing").unwrap_err(), Stop::Invalid);
        assert_eq!(l.extract(b"{\"a\" 1}").unwrap_err(), Stop::Invalid);
        // Not UTF-8: found, but not text.
        let rec = l.extract(b"{\"state\":\"\xff\"}").unwrap().unwrap();
        assert_eq!(rec.get(Field::State), Some(&b"\xff"[..]));
        assert_eq!(rec.get_str(Field::State), None);
    }

    #[test]
    fn pointers_parse_and_unescape() {
        let p = Pointer::parse("/a~1b/c~0d/0").unwrap();
        assert_eq!(p.tokens(), ["a/b", "c~d", "0"]);
        assert!(Pointer::parse("data").is_err());
        assert!(Pointer::parse("").unwrap().tokens().is_empty());
    }

    #[test]
    fn overrides_replace_only_what_they_name() {
        let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let l = ResponseLayout::with_overrides(LayoutOverrides {
            records: Some(owned(&["/result/items"])),
            next: None,
            total: None,
            pagination: None,
            fields: vec![
                (Field::State, owned(&["/status/code", "/state"])),
                (Field::Template, owned(&["/tpl/0"])),
            ],
        })
        .unwrap();
        assert_eq!(l.records, vec![Pointer::parse("/result/items").unwrap()]);
        let got = fields(
            &l,
            r#"{"status":{"code":"dnd"},"tpl":["t9"],"campaign_uuid":"c"}"#,
        );
        assert_eq!(got[0].as_deref(), Some("dnd"));
        assert_eq!(got[1].as_deref(), Some("t9"));
        assert_eq!(got[3].as_deref(), Some("c"));
    }

    #[test]
    fn bad_overrides_name_the_key() {
        let (key, reason) = ResponseLayout::with_overrides(LayoutOverrides {
            fields: vec![(Field::State, vec!["status".into()])],
            ..LayoutOverrides::default()
        })
        .unwrap_err();
        assert_eq!(key, "state");
        assert!(reason.contains("JSON pointer"), "{reason}");
    }
}
