//! Strategies: values, records, pages.

use super::*;

/// Short text with the characters that stress a JSON lexer.
pub fn text() -> BoxedStrategy<String> {
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

pub fn scalar() -> BoxedStrategy<J> {
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
pub fn non_string() -> BoxedStrategy<J> {
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
pub fn key() -> BoxedStrategy<String> {
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

pub fn any_json() -> BoxedStrategy<J> {
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
pub fn id(valid: &[&str], odd: &[&str]) -> BoxedStrategy<J> {
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

pub const ODD_IDS: [&str; 5] = ["", "bad\tid", "invalid", "unknown", "line\nbreak"];

pub fn template_id() -> BoxedStrategy<J> {
    id(
        &[
            "70f4ddb6-ece1-4e13-ab90-3698d9d72bf0",
            "1b2e9c1e-5f8a-4c55-9a59-2f6e0c3d7a10",
            "modelo-promoção-😀",
        ],
        &ODD_IDS,
    )
}

pub fn campaign_id() -> BoxedStrategy<J> {
    id(
        &[
            FIXED,
            "0c7e3f5a-9b2d-4d6e-8a1f-5c4b3a2e1d54",
            "campanha de natal ✓",
        ],
        &ODD_IDS,
    )
}

pub fn name() -> BoxedStrategy<J> {
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

pub fn state() -> BoxedStrategy<J> {
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
pub fn related(ids: BoxedStrategy<J>) -> BoxedStrategy<J> {
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
pub fn record() -> BoxedStrategy<J> {
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
pub fn element() -> BoxedStrategy<J> {
    prop_oneof![
        20 => record(),
        1 => scalar(),
        1 => prop::collection::vec(scalar(), 0..3).prop_map(J::Arr),
    ]
    .boxed()
}

/// Where a page that has a successor puts its next link.
#[derive(Clone, Copy, Debug)]
pub enum NextAt {
    LinksNext,
    Next,
    /// `links.next` null, the link at `next`.
    LinksNullThenNext,
}

/// How the last page says it is the last.
#[derive(Clone, Copy, Debug)]
pub enum EndAs {
    Absent,
    LinksNull,
    NextNull,
    BothNull,
    NextEmpty,
    /// A top-level array, which cannot carry a link.
    TopLevelArray,
}

#[derive(Clone, Debug)]
pub struct PageModel {
    pub elements: Vec<J>,
    pub next_at: NextAt,
    pub end_as: EndAs,
    /// An absolute next link, else a path.
    pub absolute: bool,
    /// A `meta` object with decoy `data` and `next` keys.
    pub meta: bool,
    pub style: Style,
}

pub fn style() -> BoxedStrategy<Style> {
    (
        any::<u64>(),
        select(vec![0u64, 100, 500]),
        select(vec![0u64, 150, 1000]),
    )
        .prop_map(|(seed, ws, escapes)| Style { seed, ws, escapes })
        .boxed()
}

pub fn page_model() -> BoxedStrategy<PageModel> {
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

pub fn pages() -> BoxedStrategy<Vec<PageModel>> {
    prop::collection::vec(page_model(), 1..=4).boxed()
}

/// The link to page `to` (0-based): a path or an absolute URL, with a
/// character to escape and a multi-byte one in the query.
pub fn link(origin: &str, absolute: bool, to: usize) -> String {
    let origin = if absolute { origin } else { "" };
    format!("{origin}{REPORT_PATH}?page={to}&cursor=a%2Fb&q=ç/\"x\"")
}

pub fn page_doc(p: &PageModel, next: Option<&str>) -> J {
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
                ("links", obj([("next", J::Str("/decoy".into()))])),
                ("page_info", obj([("next", J::Str("/decoy".into()))])),
            ]),
        );
    }
    J::Obj(entries)
}

/// Each page's bytes and the next link it carries.
pub fn bodies(pages: &[PageModel], origin: &str) -> Vec<(Vec<u8>, Option<String>)> {
    pages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let next = (i + 1 < pages.len()).then(|| link(origin, p.absolute, i + 1));
            (serialize(&page_doc(p, next.as_deref()), p.style), next)
        })
        .collect()
}
