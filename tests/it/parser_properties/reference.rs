//! The reference: serde_json::Value and the documented counting rules.

use super::*;

/// A page as the reference reads it: its elements, its next link and
/// where its records were.
pub type RefReading = (Vec<Value>, Option<String>, String);

#[derive(Debug)]
pub enum RefPage {
    Page {
        elements: Vec<Value>,
        next: Option<String>,
        records_at: String,
    },
    NoRecords,
    TwoRecordArrays,
    BadNext,
}

/// A page as the defaults of docs/evolux-api.md read it: records at the root,
/// or in the one array at `/data`, `/results`, `/items`, `/records` or
/// `/subscribers` (two such arrays are an error); the next link, the first
/// non-empty string at the documented next-link places, in their order; a
/// number or boolean there is an error.
pub fn reference_page(doc: &Value) -> RefPage {
    let mut next = None;
    let next_places = DEFAULT_HINTS
        .iter()
        .filter(|(h, _)| *h == Hint::Next)
        .flat_map(|(_, places)| places.iter());
    for p in next_places {
        match doc.pointer(p) {
            Some(Value::Bool(_) | Value::Number(_)) => return RefPage::BadNext,
            Some(Value::String(s)) if !s.is_empty() && next.is_none() => next = Some(s.clone()),
            _ => {}
        }
    }
    let (elements, records_at) = match doc {
        Value::Array(a) => (a.clone(), "(root)".to_string()),
        _ => {
            let arrays: Vec<(&str, &Vec<Value>)> =
                ["/data", "/results", "/items", "/records", "/subscribers"]
                    .iter()
                    .filter_map(|p| Some((*p, doc.pointer(p).and_then(Value::as_array)?)))
                    .collect();
            match arrays.as_slice() {
                [] => return RefPage::NoRecords,
                [(at, a)] => ((*a).clone(), at.to_string()),
                _ => return RefPage::TwoRecordArrays,
            }
        }
    };
    RefPage::Page {
        elements,
        next,
        records_at,
    }
}

/// A record's fields: per field, the first of its pointers holding a string.
/// `None` when the element is not an object.
pub fn reference_fields(v: &Value) -> Option<Fields> {
    v.as_object()?;
    Some(POINTERS.map(|ps| {
        ps.iter()
            .find_map(|p| v.pointer(p).and_then(Value::as_str))
            .map(|s| Raw(s.as_bytes().to_vec()))
    }))
}

/// The label rules of the model's tally, restated: an identifier is kept
/// if non-empty, at most 128 bytes, without control characters.
pub fn label_id(s: &str) -> &str {
    if !s.is_empty() && s.len() <= 128 && !s.chars().any(char::is_control) {
        s
    } else {
        INVALID
    }
}

/// A state outside the six is kept if it is a word of at most 64 bytes.
pub fn label_state(s: &str) -> &str {
    let word = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if word { s } else { INVALID }
}

/// A name is kept trimmed if non-empty, at most 256 bytes, without control
/// characters.
pub fn label_name(s: &str) -> Option<&str> {
    let t = s.trim();
    (!t.is_empty() && t.len() <= 256 && !t.chars().any(char::is_control)).then_some(t)
}

/// What a tally must count from these records (objects only, in order):
/// `fixed` is the configured campaign, `None` for discovery.
pub fn reference_summary(records: &[Fields], fixed: Option<&str>) -> Summary {
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
pub fn expected_run(pages: &[RefReading]) -> Run<End> {
    let mut ends = Vec::new();
    let mut fields = Vec::new();
    for (elements, next, records_at) in pages {
        let objects: Vec<Fields> = elements.iter().filter_map(reference_fields).collect();
        ends.push(End {
            next: next.clone(),
            records: elements.len() as u64,
            invalid: (elements.len() - objects.len()) as u64,
            records_at: Some(records_at.clone()),
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
pub fn reference_pages(
    bodies: &[(Vec<u8>, Option<String>)],
) -> Result<Vec<RefReading>, TestCaseError> {
    let mut out = Vec::new();
    for (i, (body, link)) in bodies.iter().enumerate() {
        let doc: Value = serde_json::from_slice(body).map_err(|e| {
            TestCaseError::fail(format!("the generator wrote invalid JSON on page {i}: {e}"))
        })?;
        match reference_page(&doc) {
            RefPage::Page {
                elements,
                next,
                records_at,
            } => {
                prop_assert_eq!(&next, link, "the next link of generated page {}", i);
                out.push((elements, next, records_at));
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
