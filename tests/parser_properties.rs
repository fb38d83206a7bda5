//! Property tests of the streaming body parser and the counting behind it.
//!
//! - Whatever bytes arrive, cut into whatever chunks, [`BodyScanner`] never
//!   panics, gives the same answer for every chunking, stays within simple
//!   bounds and, whenever the bytes are JSON, agrees with `serde_json`.
//! - Generated pages of records, in every documented response shape (a
//!   top-level array, `{"data": [...]}`, next links at `links.next` or
//!   `next`, flat or nested `template`/`campaign` fields), with escapes,
//!   unicode, decoy keys and nested custom fields, chained by next links and
//!   fed in any chunking (1-byte chunks included, so every escape and every
//!   multi-byte character is split somewhere), count exactly what a plain
//!   reference over `serde_json::Value` counts.
//! - The same pages served by a local upstream and read by the real
//!   [`EvoluxClient`]: every next link is followed and the counts match.
//!
//! Each property runs a moderate number of cases; `PROPTEST_CASES` overrides it.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::serve::ListenerExt;
use bytes::Bytes;
use evolux_exporter::config::{Cli, Config};
use evolux_exporter::evolux::EvoluxClient;
use evolux_exporter::evolux::fields::ResponseLayout;
use evolux_exporter::evolux::scanner::{BodyScanner, PageEnd, ScanError};
use evolux_exporter::metrics::SelfMetrics;
use evolux_exporter::model::{Field, RecordFields};
use evolux_exporter::model::{INVALID, STATES, Tally, UNKNOWN};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use serde_json::Value;

const REPORT_PATH: &str = "/api/v1/reports/campaign/subscribers";
/// The campaign of the fixed-campaign tally (a configured campaign's query).
const FIXED: &str = "f45d98dc-ac5e-48f2-9c01-ebe18f86d28b";
/// Far above what the small id pools can make: the series cap never bites.
const MAX_SERIES: usize = 100_000;
/// Origin of the absolute next links when no server is involved.
const ORIGIN: &str = "https://acme.evolux.cx";

/// `PROPTEST_CASES` if set, else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn proptest_config(default_cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases(default_cases),
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------
// A JSON document with ordered keys, and a writer that varies the bytes.
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum J {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

fn obj<const N: usize>(entries: [(&str, J); N]) -> J {
    J::Obj(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// How a document is written: `seed` drives every choice; `ws` and `escapes`
/// are per-mille chances of whitespace between tokens and of escaping a
/// character that need not be.
#[derive(Clone, Copy, Debug)]
struct Style {
    seed: u64,
    ws: u64,
    escapes: u64,
}

struct Writer {
    rng: u64,
    style: Style,
    out: Vec<u8>,
}

impl Writer {
    fn rand(&mut self) -> u64 {
        // splitmix64
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn chance(&mut self, per_mille: u64) -> bool {
        self.rand() % 1000 < per_mille
    }

    fn coin(&mut self) -> bool {
        self.rand() & 1 == 0
    }

    fn raw(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
    }

    fn ws(&mut self) {
        const WS: [&str; 5] = [" ", "\n", "\t", "\r\n", " \n\t  "];
        if self.chance(self.style.ws) {
            let w = WS[(self.rand() % WS.len() as u64) as usize];
            self.raw(w);
        }
    }

    fn value(&mut self, j: &J) {
        match j {
            J::Null => self.raw("null"),
            J::Bool(b) => self.raw(if *b { "true" } else { "false" }),
            J::Int(n) => self.raw(&n.to_string()),
            J::Float(f) => self.raw(&serde_json::to_string(f).expect("a finite float")),
            J::Str(s) => self.string(s),
            J::Arr(items) => {
                self.out.push(b'[');
                self.ws();
                for (k, item) in items.iter().enumerate() {
                    if k > 0 {
                        self.ws();
                        self.out.push(b',');
                        self.ws();
                    }
                    self.value(item);
                }
                self.ws();
                self.out.push(b']');
            }
            J::Obj(entries) => {
                // Keys in any order: the first pointer must win whatever the order.
                let mut order: Vec<usize> = (0..entries.len()).collect();
                for k in (1..order.len()).rev() {
                    let r = (self.rand() % (k as u64 + 1)) as usize;
                    order.swap(k, r);
                }
                self.out.push(b'{');
                self.ws();
                for (n, &k) in order.iter().enumerate() {
                    if n > 0 {
                        self.ws();
                        self.out.push(b',');
                        self.ws();
                    }
                    let (key, value) = &entries[k];
                    self.string(key);
                    self.ws();
                    self.out.push(b':');
                    self.ws();
                    self.value(value);
                }
                self.ws();
                self.out.push(b'}');
            }
        }
    }

    fn string(&mut self, s: &str) {
        self.out.push(b'"');
        for c in s.chars() {
            let escape = self.chance(self.style.escapes);
            match c {
                '"' if !escape => self.raw("\\\""),
                '\\' if !escape => self.raw("\\\\"),
                '\n' if !escape => self.raw("\\n"),
                '\r' if !escape => self.raw("\\r"),
                '\t' if !escape => self.raw("\\t"),
                '\u{8}' if !escape => self.raw("\\b"),
                '\u{c}' if !escape => self.raw("\\f"),
                '/' if escape && self.coin() => self.raw("\\/"),
                c if escape || (c as u32) < 0x20 || c == '"' || c == '\\' => {
                    let mut units = [0u16; 2];
                    for u in c.encode_utf16(&mut units).iter() {
                        let text = if self.coin() {
                            format!("\\u{u:04X}")
                        } else {
                            format!("\\u{u:04x}")
                        };
                        self.raw(&text);
                    }
                }
                c => {
                    let mut buf = [0u8; 4];
                    self.raw(c.encode_utf8(&mut buf));
                }
            }
        }
        self.out.push(b'"');
    }
}

fn serialize(doc: &J, style: Style) -> Vec<u8> {
    let mut w = Writer {
        rng: style.seed,
        style,
        out: Vec::new(),
    };
    w.ws();
    w.value(doc);
    w.ws();
    w.out
}

// ---------------------------------------------------------------------------
// Strategies: values, records, pages.
// ---------------------------------------------------------------------------

/// Short text with the characters that stress a JSON lexer.
fn text() -> BoxedStrategy<String> {
    let ch = prop_oneof![
        6 => proptest::char::range('a', 'z'),
        2 => any::<char>(),
        2 => select(vec![
            '"', '\\', '/', '\n', '\t', '\u{0}', '\u{1f}', '\u{7f}', 'ç', 'ã', 'É', '😀',
            '\u{2028}', '\u{fffd}', '{', '}', '[', ']', ',', ':', ' ',
        ]),
    ];
    prop::collection::vec(ch, 0..10)
        .prop_map(|v| v.into_iter().collect())
        .boxed()
}

fn scalar() -> BoxedStrategy<J> {
    prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        any::<i64>().prop_map(J::Int),
        (-1.0e12f64..1.0e12).prop_map(J::Float),
        text().prop_map(J::Str),
    ]
    .boxed()
}

/// What a field may hold instead of a string.
fn non_string() -> BoxedStrategy<J> {
    prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        any::<i64>().prop_map(J::Int),
        Just(J::Arr(vec![])),
        Just(J::Obj(vec![])),
    ]
    .boxed()
}

/// Keys of custom fields: text, or the names the parser looks for, as decoys.
fn key() -> BoxedStrategy<String> {
    const DECOYS: [&str; 11] = [
        "state",
        "template_uuid",
        "template",
        "template_name",
        "campaign_uuid",
        "campaign",
        "uuid",
        "name",
        "data",
        "next",
        "links",
    ];
    prop_oneof![
        3 => text(),
        1 => select(DECOYS.to_vec()).prop_map(String::from),
    ]
    .boxed()
}

fn any_json() -> BoxedStrategy<J> {
    scalar()
        .prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(J::Arr),
                prop::collection::btree_map(key(), inner, 0..4)
                    .prop_map(|m| J::Obj(m.into_iter().collect())),
            ]
        })
        .boxed()
}

/// Identifiers: mostly good ones from a small pool, sometimes ones that
/// cannot be label values, sometimes not a string at all.
fn id(valid: &[&str], odd: &[&str]) -> BoxedStrategy<J> {
    let valid: Vec<String> = valid.iter().map(|s| s.to_string()).collect();
    let mut odd: Vec<String> = odd.iter().map(|s| s.to_string()).collect();
    odd.push("x".repeat(129)); // longer than an identifier may be
    prop_oneof![
        10 => select(valid).prop_map(J::Str),
        2 => select(odd).prop_map(J::Str),
        1 => non_string(),
    ]
    .boxed()
}

const ODD_IDS: [&str; 5] = ["", "bad\tid", "invalid", "unknown", "line\nbreak"];

fn template_id() -> BoxedStrategy<J> {
    id(
        &[
            "70f4ddb6-ece1-4e13-ab90-3698d9d72bf0",
            "1b2e9c1e-5f8a-4c55-9a59-2f6e0c3d7a10",
            "modelo-promoção-😀",
        ],
        &ODD_IDS,
    )
}

fn campaign_id() -> BoxedStrategy<J> {
    id(
        &[
            FIXED,
            "0c7e3f5a-9b2d-4d6e-8a1f-5c4b3a2e1d54",
            "campanha de natal ✓",
        ],
        &ODD_IDS,
    )
}

fn name() -> BoxedStrategy<J> {
    prop_oneof![
        4 => text().prop_map(J::Str),
        2 => select(vec![
            "Boas-vindas",
            "  Black Friday  ",
            "Cobrança 😀",
            "",
            " ",
            "line\nbreak",
        ])
        .prop_map(|s| J::Str(s.to_string())),
        1 => Just(J::Str("y".repeat(300))),
        1 => non_string(),
    ]
    .boxed()
}

fn state() -> BoxedStrategy<J> {
    prop_oneof![
        12 => select(STATES.to_vec()).prop_map(|s| J::Str(s.to_string())),
        2 => select(vec!["bounced", "Sent", "SENT", "read_2", "x-y", "unknown", "invalid"])
            .prop_map(|s| J::Str(s.to_string())),
        1 => prop_oneof![
            Just(String::new()),
            Just("not a word".to_string()),
            Just("ação".to_string()),
            Just("a".repeat(65)),
            Just("sent\n".to_string()),
        ]
        .prop_map(J::Str),
        1 => non_string(),
    ]
    .boxed()
}

/// The value of a nested `template` or `campaign` key: mostly an object with
/// `uuid` and `name`, sometimes something else.
fn related(ids: BoxedStrategy<J>) -> BoxedStrategy<J> {
    prop_oneof![
        6 => (
            prop::option::of(ids),
            prop::option::of(name()),
            prop::collection::btree_map(key(), scalar(), 0..2),
        )
            .prop_map(|(uuid, name, extra)| {
                let mut m: BTreeMap<String, J> = extra;
                if let Some(u) = uuid {
                    m.insert("uuid".into(), u);
                }
                if let Some(n) = name {
                    m.insert("name".into(), n);
                }
                J::Obj(m.into_iter().collect())
            }),
        1 => scalar(),
        1 => prop::collection::vec(scalar(), 0..2).prop_map(J::Arr),
    ]
    .boxed()
}

/// A subscriber record: personal data, custom fields (nested, with decoy
/// keys), and the counted fields flat, nested, both, or missing.
fn record() -> BoxedStrategy<J> {
    (
        prop::option::weighted(0.95, state()),
        prop::option::weighted(0.7, template_id()),
        prop::option::weighted(0.6, name()),
        prop::option::weighted(0.4, related(template_id())),
        prop::option::weighted(0.7, campaign_id()),
        prop::option::weighted(0.6, name()),
        prop::option::weighted(0.4, related(campaign_id())),
        (text(), text()),
        prop::collection::btree_map(key(), any_json(), 0..4),
    )
        .prop_map(|(state, tu, tn, t, cu, cn, c, (name, phone), custom)| {
            let mut e: Vec<(String, J)> = vec![
                (
                    "uuid".into(),
                    J::Str("0d3c2b1a-0000-4000-8000-000000000001".into()),
                ),
                ("name".into(), J::Str(name)),
                ("phone_number".into(), J::Str(phone)),
                (
                    "conversation_fields".into(),
                    J::Obj(custom.into_iter().collect()),
                ),
            ];
            let counted = [
                ("state", state),
                ("template_uuid", tu),
                ("template_name", tn),
                ("template", t),
                ("campaign_uuid", cu),
                ("campaign_name", cn),
                ("campaign", c),
            ];
            for (k, v) in counted {
                if let Some(v) = v {
                    e.push((k.into(), v));
                }
            }
            J::Obj(e)
        })
        .boxed()
}

/// An element of the records array: mostly records, sometimes not an object.
fn element() -> BoxedStrategy<J> {
    prop_oneof![
        20 => record(),
        1 => scalar(),
        1 => prop::collection::vec(scalar(), 0..3).prop_map(J::Arr),
    ]
    .boxed()
}

/// Where a page that has a successor puts its next link.
#[derive(Clone, Copy, Debug)]
enum NextAt {
    LinksNext,
    Next,
    /// `links.next` null, the link at `next`.
    LinksNullThenNext,
}

/// How the last page says it is the last.
#[derive(Clone, Copy, Debug)]
enum EndAs {
    Absent,
    LinksNull,
    NextNull,
    BothNull,
    NextEmpty,
    /// A top-level array, which cannot carry a link.
    TopLevelArray,
}

#[derive(Clone, Debug)]
struct PageModel {
    elements: Vec<J>,
    next_at: NextAt,
    end_as: EndAs,
    /// An absolute next link, else a path.
    absolute: bool,
    /// A `meta` object with decoy `data` and `next` keys.
    meta: bool,
    style: Style,
}

fn style() -> BoxedStrategy<Style> {
    (
        any::<u64>(),
        select(vec![0u64, 100, 500]),
        select(vec![0u64, 150, 1000]),
    )
        .prop_map(|(seed, ws, escapes)| Style { seed, ws, escapes })
        .boxed()
}

fn page_model() -> BoxedStrategy<PageModel> {
    (
        prop::collection::vec(element(), 0..8),
        select(vec![
            NextAt::LinksNext,
            NextAt::Next,
            NextAt::LinksNullThenNext,
        ]),
        select(vec![
            EndAs::Absent,
            EndAs::LinksNull,
            EndAs::NextNull,
            EndAs::BothNull,
            EndAs::NextEmpty,
            EndAs::TopLevelArray,
        ]),
        any::<bool>(),
        prop::bool::weighted(0.3),
        style(),
    )
        .prop_map(
            |(elements, next_at, end_as, absolute, meta, style)| PageModel {
                elements,
                next_at,
                end_as,
                absolute,
                meta,
                style,
            },
        )
        .boxed()
}

fn pages() -> BoxedStrategy<Vec<PageModel>> {
    prop::collection::vec(page_model(), 1..=4).boxed()
}

/// The link to page `to` (0-based): a path or an absolute URL, with a
/// character to escape and a multi-byte one in the query.
fn link(origin: &str, absolute: bool, to: usize) -> String {
    let origin = if absolute { origin } else { "" };
    format!("{origin}{REPORT_PATH}?page={to}&cursor=a%2Fb&q=ç/\"x\"")
}

fn page_doc(p: &PageModel, next: Option<&str>) -> J {
    let data = J::Arr(p.elements.clone());
    let mut entries: Vec<(String, J)> = Vec::new();
    let mut push = |k: &str, v: J| entries.push((k.to_string(), v));
    match (next, p.end_as) {
        (None, EndAs::TopLevelArray) => return data,
        (Some(l), _) => match p.next_at {
            NextAt::LinksNext => push(
                "links",
                obj([("next", J::Str(l.into())), ("prev", J::Null)]),
            ),
            NextAt::Next => push("next", J::Str(l.into())),
            NextAt::LinksNullThenNext => {
                push(
                    "links",
                    obj([("next", J::Null), ("self", J::Str("/self".into()))]),
                );
                push("next", J::Str(l.into()));
            }
        },
        (None, end) => match end {
            EndAs::Absent | EndAs::TopLevelArray => {}
            EndAs::LinksNull => push("links", obj([("next", J::Null)])),
            EndAs::NextNull => push("next", J::Null),
            EndAs::BothNull => {
                push("links", obj([("next", J::Null)]));
                push("next", J::Null);
            }
            EndAs::NextEmpty => push("next", J::Str(String::new())),
        },
    }
    push("data", data);
    if p.meta {
        let decoys: Vec<J> = p.elements.iter().take(2).cloned().collect();
        push(
            "meta",
            obj([
                ("total", J::Int(p.elements.len() as i64)),
                ("data", J::Arr(decoys)),
                ("next", J::Str("/decoy".into())),
                ("links", obj([("next", J::Str("/decoy".into()))])),
            ]),
        );
    }
    J::Obj(entries)
}

/// Each page's bytes and the next link it carries.
fn bodies(pages: &[PageModel], origin: &str) -> Vec<(Vec<u8>, Option<String>)> {
    pages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let next = (i + 1 < pages.len()).then(|| link(origin, p.absolute, i + 1));
            (serialize(&page_doc(p, next.as_deref()), p.style), next)
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Running the scanner.
// ---------------------------------------------------------------------------

/// How a body is cut into the chunks fed to the scanner.
#[derive(Clone, Debug)]
enum Chunking {
    Whole,
    /// One byte at a time: every escape and every multi-byte character is split.
    Bytes,
    /// Sizes taken in turn (across pages); a 0 feeds an empty chunk.
    Sizes(Vec<usize>),
}

fn sizes(max: usize) -> BoxedStrategy<Vec<usize>> {
    prop::collection::vec(0..max, 1..8).boxed()
}

fn split<'a>(body: &'a [u8], chunking: &Chunking, turn: &mut usize) -> Vec<&'a [u8]> {
    match chunking {
        Chunking::Whole => vec![body],
        Chunking::Bytes => body.chunks(1).collect(),
        Chunking::Sizes(sizes) => {
            let mut out = Vec::new();
            let mut rest = body;
            while !rest.is_empty() {
                let mut n = sizes[*turn % sizes.len()];
                *turn += 1;
                if n == 0 {
                    out.push(&rest[..0]);
                    n = 1;
                }
                let (a, b) = rest.split_at(n.min(rest.len()));
                out.push(a);
                rest = b;
            }
            out
        }
    }
}

/// A field's raw bytes, shown as text when they are UTF-8.
#[derive(Clone, PartialEq, Eq)]
struct Raw(Vec<u8>);

impl fmt::Debug for Raw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(&self.0) {
            Ok(s) => write!(f, "{s:?}"),
            Err(_) => write!(f, "bytes{:?}", self.0),
        }
    }
}

/// The counted fields of one record, raw, in [`FIELD_ORDER`].
type Fields = [Option<Raw>; 5];

const FIELD_ORDER: [Field; 5] = [
    Field::State,
    Field::Template,
    Field::TemplateName,
    Field::Campaign,
    Field::CampaignName,
];

/// The default pointers of each field, in [`FIELD_ORDER`] (docs/evolux-api.md).
const POINTERS: [&[&str]; 5] = [
    &["/state"],
    &["/template_uuid", "/template/uuid"],
    &["/template_name", "/template/name"],
    &["/campaign_uuid", "/campaign/uuid"],
    &["/campaign_name", "/campaign/name"],
];

fn fields_of(r: &RecordFields<'_>) -> Fields {
    FIELD_ORDER.map(|f| r.get(f).map(|v| Raw(v.to_vec())))
}

/// What a tally counted, in a comparable form.
#[derive(Debug, Default, PartialEq)]
struct Summary {
    /// (campaign, template, state) to count, zeros left out.
    counts: BTreeMap<(String, String, String), u64>,
    campaign_names: BTreeMap<String, Option<String>>,
    template_names: BTreeMap<String, String>,
    records: u64,
    over_cap: u64,
}

/// Template names are compared only for a fixed campaign: in discovery, two
/// campaigns may name one template differently and either name may win.
fn summarize(t: Tally, template_names: bool) -> Summary {
    let mut s = Summary {
        records: t.records,
        over_cap: t.over_cap,
        ..Summary::default()
    };
    let (campaigns, names) = t.into_campaigns();
    for (uuid, counts, name) in campaigns {
        for (template, states) in &counts.templates {
            for (state, n) in states.iter() {
                if n > 0 {
                    s.counts
                        .insert((uuid.clone(), template.to_string(), state.to_string()), n);
                }
            }
        }
        s.campaign_names.insert(uuid, name);
    }
    if template_names {
        s.template_names = names.into_iter().collect();
    }
    s
}

/// Everything one scan of a query's pages produced.
#[derive(Debug, PartialEq)]
struct Run {
    ends: Vec<PageEnd>,
    fields: Vec<Fields>,
    discovery: Summary,
    fixed: Summary,
}

/// Scans each page with a fresh scanner, counting into a discovery tally and
/// a fixed-campaign tally at once. The error names the page.
fn run(pages: &[&[u8]], chunking: &Chunking) -> Result<Run, (usize, ScanError)> {
    let layout = ResponseLayout::default();
    let mut discovery = Tally::new(None, MAX_SERIES);
    let mut fixed = Tally::new(Some(FIXED), MAX_SERIES);
    let mut fields = Vec::new();
    let mut ends = Vec::new();
    let mut turn = 0;
    for (page, body) in pages.iter().enumerate() {
        let mut sink = |r: &RecordFields<'_>| {
            fields.push(fields_of(r));
            discovery.add(r);
            fixed.add(r);
        };
        let mut scanner = BodyScanner::new(&layout);
        for chunk in split(body, chunking, &mut turn) {
            scanner.feed(chunk, &mut sink).map_err(|e| (page, e))?;
        }
        ends.push(scanner.finish().map_err(|e| (page, e))?);
    }
    Ok(Run {
        ends,
        fields,
        discovery: summarize(discovery, false),
        fixed: summarize(fixed, true),
    })
}

// ---------------------------------------------------------------------------
// The reference: serde_json::Value and the documented counting rules.
// ---------------------------------------------------------------------------

/// A page as the reference reads it: its elements and its next link.
type RefReading = (Vec<Value>, Option<String>);

#[derive(Debug)]
enum RefPage {
    Page {
        elements: Vec<Value>,
        next: Option<String>,
    },
    NoRecords,
    BadNext,
}

/// A page as the defaults of docs/evolux-api.md read it: records at the root or
/// at `/data`; the next link, the first non-empty string at `/links/next`
/// then `/next`; a number or boolean there is an error.
fn reference_page(doc: &Value) -> RefPage {
    let mut next = None;
    for p in ["/links/next", "/next"] {
        match doc.pointer(p) {
            Some(Value::Bool(_) | Value::Number(_)) => return RefPage::BadNext,
            Some(Value::String(s)) if !s.is_empty() && next.is_none() => next = Some(s.clone()),
            _ => {}
        }
    }
    let elements = match doc {
        Value::Array(a) => a.clone(),
        _ => match doc.pointer("/data") {
            Some(Value::Array(a)) => a.clone(),
            _ => return RefPage::NoRecords,
        },
    };
    RefPage::Page { elements, next }
}

/// A record's fields: per field, the first of its pointers holding a string.
/// `None` when the element is not an object.
fn reference_fields(v: &Value) -> Option<Fields> {
    v.as_object()?;
    Some(POINTERS.map(|ps| {
        ps.iter()
            .find_map(|p| v.pointer(p).and_then(Value::as_str))
            .map(|s| Raw(s.as_bytes().to_vec()))
    }))
}

/// The label rules of the aggregate module, restated: an identifier is kept
/// if non-empty, at most 128 bytes, without control characters.
fn label_id(s: &str) -> &str {
    if !s.is_empty() && s.len() <= 128 && !s.chars().any(char::is_control) {
        s
    } else {
        INVALID
    }
}

/// A state outside the six is kept if it is a word of at most 64 bytes.
fn label_state(s: &str) -> &str {
    let word = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if word { s } else { INVALID }
}

/// A name is kept trimmed if non-empty, at most 256 bytes, without control
/// characters.
fn label_name(s: &str) -> Option<&str> {
    let t = s.trim();
    (!t.is_empty() && t.len() <= 256 && !t.chars().any(char::is_control)).then_some(t)
}

/// What a tally must count from these records (objects only, in order):
/// `fixed` is the configured campaign, `None` for discovery.
fn reference_summary(records: &[Fields], fixed: Option<&str>) -> Summary {
    let text = |v: &Option<Raw>| -> Option<String> {
        v.as_ref()
            .map(|b| String::from_utf8(b.0.clone()).expect("serde_json strings are UTF-8"))
    };
    let mut s = Summary::default();
    for f in records {
        let [state, template, template_name, campaign, campaign_name] = f.each_ref().map(text);
        let (ckey, names_campaign) = match fixed {
            Some(uuid) => (
                uuid.to_string(),
                campaign.as_deref().is_none_or(|c| c == uuid),
            ),
            None => (
                campaign.as_deref().map_or(UNKNOWN, label_id).to_string(),
                true,
            ),
        };
        let tkey = template.as_deref().map_or(UNKNOWN, label_id).to_string();
        let skey = match state.as_deref() {
            None => UNKNOWN,
            Some(st) if STATES.contains(&st) => st,
            Some(st) => label_state(st),
        }
        .to_string();
        *s.counts
            .entry((ckey.clone(), tkey.clone(), skey))
            .or_default() += 1;
        s.records += 1;
        let name = s.campaign_names.entry(ckey).or_default();
        if names_campaign && name.is_none() {
            *name = campaign_name
                .as_deref()
                .and_then(label_name)
                .map(str::to_owned);
        }
        if fixed.is_some()
            && tkey != UNKNOWN
            && tkey != INVALID
            && !s.template_names.contains_key(&tkey)
            && let Some(n) = template_name.as_deref().and_then(label_name)
        {
            s.template_names.insert(tkey, n.to_owned());
        }
    }
    s
}

/// The run a correct parser makes of pages whose reference reading is
/// `pages` (elements and next link of each).
fn expected_run(pages: &[RefReading]) -> Run {
    let mut ends = Vec::new();
    let mut fields = Vec::new();
    for (elements, next) in pages {
        let objects: Vec<Fields> = elements.iter().filter_map(reference_fields).collect();
        ends.push(PageEnd {
            next: next.clone(),
            records: elements.len() as u64,
            invalid: (elements.len() - objects.len()) as u64,
        });
        fields.extend(objects);
    }
    Run {
        ends,
        discovery: reference_summary(&fields, None),
        fixed: reference_summary(&fields, Some(FIXED)),
        fields,
    }
}

/// Reads generated pages with the reference; they must be valid pages whose
/// next links are the ones the generator put in.
fn reference_pages(bodies: &[(Vec<u8>, Option<String>)]) -> Result<Vec<RefReading>, TestCaseError> {
    let mut out = Vec::new();
    for (i, (body, link)) in bodies.iter().enumerate() {
        let doc: Value = serde_json::from_slice(body).map_err(|e| {
            TestCaseError::fail(format!("the generator wrote invalid JSON on page {i}: {e}"))
        })?;
        match reference_page(&doc) {
            RefPage::Page { elements, next } => {
                prop_assert_eq!(&next, link, "the next link of generated page {}", i);
                out.push((elements, next));
            }
            other => {
                return Err(TestCaseError::fail(format!(
                    "generated page {i} is not a page: {other:?}"
                )));
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// (a) Arbitrary bytes.
// ---------------------------------------------------------------------------

/// Pieces of JSON, good and bad, to glue at random.
const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b"\\",
    b":",
    b",",
    b" ",
    b"\n",
    b"\"data\"",
    b"\"next\"",
    b"\"links\"",
    b"\"state\"",
    b"\"sent\"",
    b"\"template_uuid\"",
    b"\"campaign\"",
    b"\"uuid\"",
    b"\"d\\u0061ta\"",
    b"1",
    b"-2.5e3",
    b"1e999",
    b"0x1F",
    b"true",
    b"false",
    b"null",
    b"nul",
    b"tru",
    b"\"\\u00e7\"",
    b"\"\\ud83d\\ude00\"",
    b"\"\\ud800\"",
    b"\"\\x\"",
    b"\xc3\xa7",
    b"\xc3",
    b"\xff",
    b"<",
    b"x",
    b"\"\\/p?page=2\"",
];

fn token_soup() -> BoxedStrategy<Vec<u8>> {
    prop::collection::vec(select(TOKENS.to_vec()), 0..48)
        .prop_map(|ts| ts.concat())
        .boxed()
}

#[derive(Clone, Debug)]
enum Mutation {
    Delete(Index),
    Insert(Index, u8),
    Replace(Index, u8),
    Truncate(Index),
}

fn mutation() -> BoxedStrategy<Mutation> {
    let byte = prop_oneof![
        3 => select(b"{}[]\":,\\ 0n-e.\xff\xc3a".to_vec()),
        1 => any::<u8>(),
    ];
    prop_oneof![
        3 => any::<Index>().prop_map(Mutation::Delete),
        3 => (any::<Index>(), byte.clone()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        3 => (any::<Index>(), byte).prop_map(|(i, b)| Mutation::Replace(i, b)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
    .boxed()
}

/// A valid page with a few bytes deleted, inserted, replaced or cut off.
fn mutated_page() -> BoxedStrategy<Vec<u8>> {
    (
        page_model(),
        any::<bool>(),
        prop::collection::vec(mutation(), 1..4),
    )
        .prop_map(|(p, has_next, mutations)| {
            let next = has_next.then(|| link(ORIGIN, p.absolute, 1));
            let mut body = serialize(&page_doc(&p, next.as_deref()), p.style);
            for m in mutations {
                let len = body.len();
                match m {
                    Mutation::Delete(i) if len > 0 => {
                        body.remove(i.index(len));
                    }
                    Mutation::Insert(i, b) => body.insert(i.index(len + 1), b),
                    Mutation::Replace(i, b) if len > 0 => body[i.index(len)] = b,
                    Mutation::Truncate(i) => body.truncate(i.index(len + 1)),
                    _ => {}
                }
            }
            body
        })
        .boxed()
}

fn arbitrary_body() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..200),
        2 => token_soup(),
        3 => mutated_page(),
    ]
    .boxed()
}

fn check_arbitrary_bytes(bytes: &[u8], small: Vec<usize>) -> Result<(), TestCaseError> {
    let scan = |chunking: &Chunking| run(&[bytes], chunking).map_err(|(_, e)| e);
    let whole = scan(&Chunking::Whole);
    for chunking in [Chunking::Bytes, Chunking::Sizes(small)] {
        let got = scan(&chunking);
        prop_assert_eq!(&got, &whole, "fed as {:?} versus whole", chunking);
    }
    if let Ok(run) = &whole {
        let end = &run.ends[0];
        prop_assert!(end.records <= bytes.len() as u64, "{:?}", end);
        prop_assert!(end.invalid <= end.records, "{:?}", end);
        prop_assert_eq!(run.fields.len() as u64, end.records - end.invalid);
        prop_assert_eq!(run.discovery.records, run.fields.len() as u64);
        prop_assert_eq!(run.fixed.records, run.fields.len() as u64);
        prop_assert!(
            end.next.as_ref().is_none_or(|n| n.len() <= bytes.len()),
            "{:?}",
            end
        );
    }
    // Whenever the bytes are JSON, the scanner reads them as serde_json does.
    if let Ok(doc) = serde_json::from_slice::<Value>(bytes) {
        match reference_page(&doc) {
            RefPage::NoRecords => prop_assert!(
                matches!(whole, Err(ScanError::NoRecords(_))),
                "no records array, yet {:?}",
                whole
            ),
            RefPage::BadNext => prop_assert!(
                matches!(whole, Err(ScanError::BadNext(_))),
                "a number or boolean as next link, yet {:?}",
                whole
            ),
            RefPage::Page { elements, next } => {
                let expected = expected_run(&[(elements, next)]);
                match &whole {
                    Ok(run) => prop_assert_eq!(run, &expected),
                    Err(e) => {
                        return Err(TestCaseError::fail(format!(
                            "valid JSON page refused: {e:?}"
                        )));
                    }
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The properties.
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(proptest_config(1024))]

    /// Any bytes in any chunking: no panic, the same outcome whatever the
    /// chunking, bounded counts, and serde_json's reading of any JSON.
    #[test]
    fn arbitrary_bytes_in_any_chunking(bytes in arbitrary_body(), small in sizes(16)) {
        check_arbitrary_bytes(&bytes, small)?;
    }
}

proptest! {
    #![proptest_config(proptest_config(256))]

    /// Generated records in every documented shape, over several pages, in
    /// any chunking, count what the serde_json reference counts.
    #[test]
    fn counts_equal_the_reference_for_any_shape_pages_and_chunking(
        pages in pages(),
        small in sizes(16),
        large in sizes(700),
    ) {
        let bodies = bodies(&pages, ORIGIN);
        let expected = expected_run(&reference_pages(&bodies)?);
        let raw: Vec<&[u8]> = bodies.iter().map(|(b, _)| b.as_slice()).collect();
        for chunking in [
            Chunking::Whole,
            Chunking::Bytes,
            Chunking::Sizes(small),
            Chunking::Sizes(large),
        ] {
            match run(&raw, &chunking) {
                Ok(got) => prop_assert_eq!(&got, &expected, "fed as {:?}", chunking),
                Err((page, e)) => {
                    return Err(TestCaseError::fail(format!(
                        "page {page} fed as {chunking:?} refused: {e:?}"
                    )));
                }
            }
        }
    }
}

/// The minimal input the arbitrary-bytes property found: a bad bare token
/// is reported at its first byte, whatever the chunking (it used to be the
/// offset of the chunk in which the token ended).
#[test]
fn a_bad_bare_token_is_reported_at_its_own_offset() {
    for (body, token_at) in [
        (&b"1e999{"[..], 0u64),
        (b"[1,tru]", 3),
        (b"{\"next\":nul}", 8),
    ] {
        for chunking in [Chunking::Whole, Chunking::Bytes] {
            match run(&[body], &chunking) {
                Err((_, ScanError::Syntax { offset, .. })) => assert_eq!(
                    offset,
                    token_at,
                    "{} fed as {chunking:?}",
                    String::from_utf8_lossy(body)
                ),
                other => panic!("expected a syntax error, got {other:?}"),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// (c) Through the real client, against a local upstream.
// ---------------------------------------------------------------------------

/// What the local upstream serves (each page as a list of chunks) and the
/// pages it was asked for.
#[derive(Default)]
struct Served {
    pages: Vec<Vec<Bytes>>,
    requested: Vec<usize>,
}

/// Serves page `?page=N` (0 without the parameter), streamed chunk by chunk.
async fn start_upstream(served: Arc<Mutex<Served>>) -> String {
    let app = axum::Router::new().route(
        REPORT_PATH,
        get(move |Query(q): Query<Vec<(String, String)>>| {
            let served = served.clone();
            async move {
                let page = q
                    .iter()
                    .find(|(k, _)| k == "page")
                    .and_then(|(_, v)| v.parse::<usize>().ok())
                    .unwrap_or(0);
                let chunks = {
                    let mut s = served.lock().expect("served lock");
                    s.requested.push(page);
                    s.pages.get(page).cloned()
                };
                match chunks {
                    Some(chunks) => (
                        [(CONTENT_TYPE, "application/json")],
                        Body::from_stream(futures_util::stream::iter(
                            chunks.into_iter().map(Ok::<_, Infallible>),
                        )),
                    )
                        .into_response(),
                    None => StatusCode::NOT_FOUND.into_response(),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let origin = format!("http://{}", listener.local_addr().expect("local addr"));
    // No Nagle: each chunk leaves at once, and small chunks do not wait on
    // delayed ACKs.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    origin
}

/// The pagination the scanner-level property checks by `PageEnd::next`,
/// done by the real client: path and absolute next links, escaped, are
/// resolved and followed, each page's chunks streamed as they come.
#[test]
fn the_real_client_follows_the_pages_and_counts_them() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let served = Arc::new(Mutex::new(Served::default()));
    let origin = rt.block_on(start_upstream(served.clone()));
    let cli = Cli::try_parse_from([
        "evolux-exporter",
        &format!("--evolux.url={origin}"),
        "--evolux.timeout=10s",
        "--evolux.max-rps=100000",
        "--evolux.max-retries=0",
    ])
    .expect("arguments parse");
    let config = Config::load_with_token(cli, Some("t".into())).expect("config");
    let metrics = SelfMetrics::new(1800.0).expect("self-metrics");
    let client = EvoluxClient::new(
        &config.evolux,
        Arc::new(config.response.clone()),
        metrics.api.clone(),
    )
    .expect("client");

    let mut runner = TestRunner::new(proptest_config(96));
    let strategy = (pages(), sizes(64));
    let result = runner.run(&strategy, |(pages, sizes)| {
        let bodies = bodies(&pages, &origin);
        let expected = expected_run(&reference_pages(&bodies)?);
        let mut turn = 0;
        let chunked: Vec<Vec<Bytes>> = bodies
            .iter()
            .map(|(b, _)| {
                split(b, &Chunking::Sizes(sizes.clone()), &mut turn)
                    .into_iter()
                    .filter(|c| !c.is_empty())
                    .map(Bytes::copy_from_slice)
                    .collect()
            })
            .collect();
        *served.lock().expect("served lock") = Served {
            pages: chunked,
            requested: Vec::new(),
        };
        let mut tally = Tally::new(None, MAX_SERIES);
        let params = [("campaigns[]", FIXED.to_string())];
        let stats = rt
            .block_on(client.run_query(&params, &mut tally))
            .map_err(|e| TestCaseError::fail(format!("the query failed: {e}")))?;
        let requested = std::mem::take(&mut served.lock().expect("served lock").requested);
        prop_assert_eq!(requested, (0..pages.len()).collect::<Vec<_>>());
        prop_assert_eq!(stats.pages, pages.len());
        let records: u64 = expected.ends.iter().map(|e| e.records).sum();
        let invalid: u64 = expected.ends.iter().map(|e| e.invalid).sum();
        prop_assert_eq!((stats.records, stats.invalid), (records, invalid));
        let bytes: usize = bodies.iter().map(|(b, _)| b.len()).sum();
        prop_assert_eq!(stats.bytes, bytes as u64);
        prop_assert_eq!(summarize(tally, false), expected.discovery);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
