//! The top-level key names of the records a diagnosis reads: names only,
//! never a value, and only names that look like field names.
//!
//! A server could key a record by a value (a phone number, a CPF, a
//! person's name); such a key is counted, not shown: a shown name is a word
//! of letters, digits, `_`, `-` and `.`, starting with a letter or `_`,
//! at most [`MAX_NAME_LEN`] bytes.

use std::collections::{BTreeSet, HashSet};

use crate::evolux::json::{decode_escaped, skip_value, skip_ws, string_end};

/// Most distinct names kept to be shown.
pub const MAX_SHOWN: usize = 40;
/// Most distinct names remembered beyond the shown ones, to count them.
const MAX_COUNTED: usize = 1_000;
/// Longest name shown.
pub const MAX_NAME_LEN: usize = 64;

/// The distinct top-level keys seen across records.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KeyNames {
    /// The first [`MAX_SHOWN`] distinct field-like names, sorted.
    shown: BTreeSet<String>,
    /// Distinct field-like names seen beyond those (up to [`MAX_COUNTED`]).
    more: HashSet<String>,
    /// Whether more than `MAX_COUNTED` further names were seen.
    more_overflowed: bool,
    /// Hashes of the distinct keys that do not look like field names: they
    /// are counted, never kept nor shown.
    hidden: HashSet<u64>,
    /// Records whose keys could not be read (not an object, broken JSON).
    pub unreadable: u64,
}

impl KeyNames {
    /// Notes the top-level keys of one record (the bytes of a JSON object).
    pub fn collect(&mut self, record: &[u8]) {
        if top_level_keys(record, |key| self.add(key)).is_none() {
            self.unreadable += 1;
        }
    }

    fn add(&mut self, key: &str) {
        if !field_like(key) {
            if self.hidden.len() < MAX_COUNTED {
                self.hidden.insert(fxhash(key));
            }
            return;
        }
        if self.shown.contains(key) || self.more.contains(key) {
            return;
        }
        if self.shown.len() < MAX_SHOWN {
            self.shown.insert(key.to_string());
        } else if self.more.len() < MAX_COUNTED {
            self.more.insert(key.to_string());
        } else {
            self.more_overflowed = true;
        }
    }

    /// The names shown, sorted.
    pub fn shown(&self) -> impl Iterator<Item = &str> {
        self.shown.iter().map(String::as_str)
    }

    /// Whether `name` is among the names seen (shown or counted).
    pub fn contains(&self, name: &str) -> bool {
        self.shown.contains(name) || self.more.contains(name)
    }

    /// Distinct field-like names seen but not shown; `true` when there may
    /// be more than that.
    pub fn more(&self) -> (usize, bool) {
        (self.more.len(), self.more_overflowed)
    }

    /// Distinct keys not shown because they do not look like field names.
    pub fn hidden(&self) -> usize {
        self.hidden.len()
    }

    /// Whether no key at all was seen.
    pub fn is_empty(&self) -> bool {
        self.shown.is_empty() && self.hidden.is_empty()
    }
}

/// Whether a key looks like a field name, not like a value.
pub fn field_like(key: &str) -> bool {
    let mut bytes = key.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
    first_ok
        && key.len() <= MAX_NAME_LEN
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Calls `each` with every top-level key of the object `buf` (escapes
/// decoded), skipping the values unread; `None` if `buf` is not one whole
/// object.
fn top_level_keys(buf: &[u8], mut each: impl FnMut(&str)) -> Option<()> {
    let mut i = skip_ws(buf, 0);
    if buf.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(buf, i + 1);
    if buf.get(i) == Some(&b'}') {
        return Some(());
    }
    loop {
        if buf.get(i) != Some(&b'"') {
            return None;
        }
        let (end, escaped) = string_end(buf, i + 1).ok()?;
        let raw = &buf[i + 1..end - 1];
        if escaped {
            each(&decode_escaped(raw)?);
        } else {
            each(std::str::from_utf8(raw).ok()?);
        }
        i = skip_ws(buf, end);
        if buf.get(i) != Some(&b':') {
            return None;
        }
        i = skip_value(buf, skip_ws(buf, i + 1)).ok()?;
        i = skip_ws(buf, i);
        match buf.get(i) {
            Some(b',') => i = skip_ws(buf, i + 1),
            Some(b'}') => return Some(()),
            _ => return None,
        }
    }
}

/// A hash of a hidden key, to count distinct ones without keeping them.
fn fxhash(key: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    key.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_of(records: &[&str]) -> KeyNames {
        let mut k = KeyNames::default();
        for r in records {
            k.collect(r.as_bytes());
        }
        k
    }

    const PERSONAL: [&str; 6] = [
        "Maria da Silva",
        "+5511987654321",
        "5511987654321",
        "123.456.789-09",
        "12345678909",
        "Pessoa",
    ];

    #[test]
    fn only_top_level_names_are_kept_never_values_nor_nested_keys() {
        let k = keys_of(&[
            r#"{"uuid":"0d3c","name":"Maria da Silva","phone_number":"+5511987654321",
               "state":"sent","template":{"uuid":"t1","Pessoa":"x"},
               "conversation_fields":{"CPF":"123.456.789-09","nested":{"deep":1}},
               "tags":["Pessoa","12345678909"],"n":5511987654321,"ok":true,"z":null}"#,
        ]);
        let shown: Vec<&str> = k.shown().collect();
        assert_eq!(
            shown,
            [
                "conversation_fields",
                "n",
                "name",
                "ok",
                "phone_number",
                "state",
                "tags",
                "template",
                "uuid",
                "z"
            ]
        );
        for p in PERSONAL {
            assert!(!shown.contains(&p), "{p} collected");
        }
        assert!(
            !k.contains("CPF") && !k.contains("deep"),
            "nested keys kept"
        );
        assert_eq!(k.unreadable, 0);
    }

    #[test]
    fn keys_that_look_like_values_are_counted_not_shown() {
        let k = keys_of(&[
            r#"{"+5511987654321":{"state":"sent"},"123.456.789-09":1,"Maria da Silva":2,"state":"x"}"#,
        ]);
        assert_eq!(k.shown().collect::<Vec<_>>(), ["state"]);
        assert_eq!(k.hidden(), 3);
    }

    #[test]
    fn escaped_keys_are_decoded_and_judged_after_decoding() {
        // "st\u0061te" is "state"; "Maria\u0020da" is "Maria da" (hidden).
        let k = keys_of(&[r#"{"st\u0061te":"sent","Maria\u0020da":1,"a\"b":2}"#]);
        assert_eq!(k.shown().collect::<Vec<_>>(), ["state"]);
        assert_eq!(k.hidden(), 2);
    }

    #[test]
    fn names_are_deduplicated_and_bounded() {
        let mut k = KeyNames::default();
        for round in 0..3 {
            for i in 0..(MAX_SHOWN + 10) {
                k.collect(format!(r#"{{"field_{i:03}":{round}}}"#).as_bytes());
            }
        }
        assert_eq!(k.shown().count(), MAX_SHOWN);
        assert_eq!(k.more(), (10, false));
        assert!(k.contains("field_045"));
    }

    #[test]
    fn a_record_that_is_not_one_object_is_unreadable() {
        let k = keys_of(&["[1,2]", r#"{"a":1"#, r#"{"a" 1}"#, "{} x", "{}"]);
        // "{} x" reads as an object (trailing bytes are the scanner's concern).
        assert_eq!(k.unreadable, 3);
        assert!(k.shown().all(|n| n == "a"));
        let empty = keys_of(&["{ }"]);
        assert!(empty.is_empty() && empty.unreadable == 0);
    }
}
