//! Where things are in a response: the records array, the next link, and the
//! fields of a record, as JSON pointers (RFC 6901) with fallbacks.
//!
//! The defaults accept the shapes of `evolux-api.md` without configuration;
//! the `response:` section of the config file overrides any of them.
//! A record's fields are pulled out by one pass of serde over the record's
//! bytes, descending only into keys that lead to a wanted field and skipping
//! the rest (names, phone numbers, custom fields) without copying them.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::config::file::FileResponse;

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

/// The fields a record is counted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// The dispatch state.
    State = 0,
    /// The template's UUID.
    Template = 1,
    /// The template's name.
    TemplateName = 2,
    /// The campaign's UUID.
    Campaign = 3,
    /// The campaign's name.
    CampaignName = 4,
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

/// Where records, next links and fields are found in a response body.
#[derive(Clone, Debug)]
pub struct ResponseLayout {
    /// Candidates for the records array; the first array met at one of them is used.
    pub records: Vec<Pointer>,
    /// Candidates for the next-page link, tried in order.
    pub next: Vec<Pointer>,
    /// Per field, its pointers within a record, tried in order.
    pub fields: Vec<(Field, Vec<Pointer>)>,
    tree: Node,
}

impl Default for ResponseLayout {
    fn default() -> Self {
        let parse_all = |v: &[&str]| -> Vec<Pointer> {
            v.iter().filter_map(|p| Pointer::parse(p).ok()).collect()
        };
        ResponseLayout::new(
            parse_all(&["", "/data"]),
            parse_all(&["/links/next", "/next"]),
            FIELDS
                .iter()
                .map(|(f, _, ps)| (*f, parse_all(ps)))
                .collect(),
        )
    }
}

impl ResponseLayout {
    fn new(records: Vec<Pointer>, next: Vec<Pointer>, fields: Vec<(Field, Vec<Pointer>)>) -> Self {
        let mut tree = Node::default();
        for (field, pointers) in &fields {
            for (priority, p) in pointers.iter().enumerate() {
                let priority = u8::try_from(priority).unwrap_or(u8::MAX);
                tree.insert(p.tokens(), *field, priority);
            }
        }
        ResponseLayout {
            records,
            next,
            fields,
            tree,
        }
    }

    /// The defaults overridden by the `response:` section of the file. The
    /// error is `(key, reason)`.
    pub(crate) fn from_file(file: FileResponse) -> Result<ResponseLayout, (String, String)> {
        let defaults = ResponseLayout::default();
        let parse = |key: &str,
                     v: Option<crate::config::file::OneOrMany>|
         -> Result<Option<Vec<Pointer>>, (String, String)> {
            let Some(v) = v else { return Ok(None) };
            let list = v.into_vec();
            if list.is_empty() {
                return Err((key.to_string(), "needs at least one JSON pointer".into()));
            }
            list.iter()
                .map(|p| Pointer::parse(p).map_err(|r| (key.to_string(), r)))
                .collect::<Result<Vec<_>, _>>()
                .map(Some)
        };
        let records = parse("records", file.records)?.unwrap_or(defaults.records);
        let next = parse("next", file.next)?.unwrap_or(defaults.next);
        if next.iter().any(|p| p.tokens().is_empty()) {
            return Err((
                "next".into(),
                "the next link cannot be the whole document".into(),
            ));
        }
        let overrides = [
            (Field::State, file.state),
            (Field::Template, file.template),
            (Field::TemplateName, file.template_name),
            (Field::Campaign, file.campaign),
            (Field::CampaignName, file.campaign_name),
        ];
        let mut fields = defaults.fields;
        for (field, value) in overrides {
            let key = FIELDS[field as usize].1;
            if let Some(pointers) = parse(key, value)? {
                if pointers.iter().any(|p| p.tokens().is_empty()) {
                    return Err((key.into(), "a field cannot be the whole record".into()));
                }
                fields[field as usize].1 = pointers;
            }
        }
        Ok(ResponseLayout::new(records, next, fields))
    }

    /// Pulls the counted fields out of one record's JSON bytes. `Ok(None)`
    /// when the record is valid JSON but not an object.
    pub fn extract<'a>(
        &self,
        record: &'a [u8],
    ) -> Result<Option<RecordFields<'a>>, serde_json::Error> {
        let mut out = RecordFields::default();
        let mut de = serde_json::Deserializer::from_slice(record);
        let is_object = NodeSeed {
            node: &self.tree,
            out: &mut out,
        }
        .deserialize(&mut de)?;
        de.end()?;
        Ok(is_object.then_some(out))
    }
}

/// The counted fields of one record, borrowed from its bytes where possible.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RecordFields<'a> {
    slots: [Option<(u8, Cow<'a, str>)>; 5],
}

impl<'a> RecordFields<'a> {
    /// The value of a field, if the record has it as a string.
    pub fn get(&self, field: Field) -> Option<&str> {
        self.slots[field as usize].as_ref().map(|(_, v)| v.as_ref())
    }

    fn set(&mut self, field: Field, priority: u8, value: Cow<'a, str>) {
        let slot = &mut self.slots[field as usize];
        if slot.as_ref().is_none_or(|(p, _)| *p > priority) {
            *slot = Some((priority, value));
        }
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
        self.children
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, _, n)| n)
    }

    fn index(&self, i: usize) -> Option<&Node> {
        self.children
            .iter()
            .find(|(_, idx, _)| *idx == Some(i))
            .map(|(_, _, n)| n)
    }
}

/// Visits a value at a node of the tree; returns whether it was an object.
struct NodeSeed<'t, 'o, 'a> {
    node: &'t Node,
    out: &'o mut RecordFields<'a>,
}

impl<'de: 'a, 'a> DeserializeSeed<'de> for NodeSeed<'_, '_, 'a> {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for NodeSeed<'_, '_, 'a> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<bool, E> {
        for (field, priority) in &self.node.leaves {
            self.out.set(*field, *priority, Cow::Borrowed(v));
        }
        Ok(false)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        for (field, priority) in &self.node.leaves {
            self.out.set(*field, *priority, Cow::Owned(v.to_owned()));
        }
        Ok(false)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match self.node.child(&key) {
                Some(node) => {
                    map.next_value_seed(NodeSeed {
                        node,
                        out: &mut *self.out,
                    })?;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(true)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let mut i = 0;
        loop {
            let more = match self.node.index(i) {
                Some(node) => seq
                    .next_element_seed(NodeSeed {
                        node,
                        out: &mut *self.out,
                    })?
                    .is_some(),
                None => seq.next_element::<IgnoredAny>()?.is_some(),
            };
            if !more {
                return Ok(false);
            }
            i += 1;
        }
    }
}

/// A map key, borrowed when it holds no escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
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
        .map(|f| rec.get(*f).map(str::to_owned))
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
        assert!(l.extract(b"{\"state\":").is_err());
        assert!(l.extract(b"{} trailing").is_err());
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
        let file: FileResponse = serde_yaml::from_str(
            "records: /result/items\nstate: [/status/code, /state]\ntemplate: /tpl/0",
        )
        .unwrap();
        let l = ResponseLayout::from_file(file).unwrap();
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
        let file: FileResponse = serde_yaml::from_str("state: status").unwrap();
        let (key, reason) = ResponseLayout::from_file(file).unwrap_err();
        assert_eq!(key, "state");
        assert!(reason.contains("JSON pointer"), "{reason}");
    }
}
