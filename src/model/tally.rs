//! Counting records into per-(campaign, template, state) totals as the body
//! streams in.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use rustc_hash::FxHasher;

use super::record::{Field, RecordFields, RecordSink};
use super::{CampaignCounts, INVALID, STATES, StateCounts, UNKNOWN};

/// Longest identifier (campaign or template) taken as a label value.
const MAX_ID_LEN: usize = 128;
/// Longest name taken into an `_info` metric.
const MAX_NAME_LEN: usize = 256;

/// A label value already checked to be one (UTF-8, no control characters,
/// not too long), looked up by the raw bytes of a record's field.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key(Box<str>);

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.as_bytes().hash(state);
    }
}

impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// A map keyed by label values, looked up by raw bytes, hashed with FxHash:
/// unkeyed and fast for the few short keys (UUIDs) looked up once per
/// record. Flooding it is pointless: the series cap bounds the keys.
type KeyMap<V> = HashMap<Key, V, BuildHasherDefault<FxHasher>>;

/// A campaign's UUID, counts, and the name its records gave.
pub type CountedCampaign = (String, CampaignCounts, Option<String>);

/// What one query counted, built record by record as the body streams in.
#[derive(Debug)]
pub struct Tally {
    /// The configured campaign this query is for, and its counts; `None` in
    /// discovery, where each record's own campaign field is used.
    fixed: Option<(Box<str>, CampaignTally)>,
    discovered: KeyMap<CampaignTally>,
    series: usize,
    max_series: usize,
    /// Records counted.
    pub records: u64,
    /// Records not counted because they would have passed the series cap.
    pub over_cap: u64,
}

/// One campaign's counts while they are being made.
#[derive(Debug, Default)]
struct CampaignTally {
    templates: KeyMap<TemplateTally>,
    name: Option<Box<str>>,
}

/// One template's counts while they are being made.
#[derive(Debug, Default)]
struct TemplateTally {
    counts: StateCounts,
    name: Option<Box<str>>,
}

impl Tally {
    /// A tally for one configured campaign, or for discovery (`None`), that
    /// creates at most `max_series` series.
    pub fn new(fixed_campaign: Option<&str>, max_series: usize) -> Tally {
        Tally {
            fixed: fixed_campaign.map(|c| (c.into(), CampaignTally::default())),
            discovered: KeyMap::default(),
            series: 0,
            max_series,
            records: 0,
            over_cap: 0,
        }
    }

    /// Counts one record. The hot path looks the raw field bytes up among
    /// the label values already seen; only a new value is validated.
    #[inline]
    pub fn add(&mut self, r: &RecordFields<'_>) {
        let record_campaign = r.get(Field::Campaign);
        let template = r.get(Field::Template).unwrap_or(UNKNOWN.as_bytes());
        let state = r.get(Field::State).unwrap_or(UNKNOWN.as_bytes());

        // A record only names its own campaign.
        let (campaign, names_campaign) = match &mut self.fixed {
            Some((uuid, entry)) => (entry, record_campaign.is_none_or(|c| c == uuid.as_bytes())),
            None => {
                let raw = record_campaign.unwrap_or(UNKNOWN.as_bytes());
                let entry = match self.discovered.get_mut(raw) {
                    Some(e) => e,
                    None => self
                        .discovered
                        .entry(Key(label_id(raw).into()))
                        .or_default(),
                };
                (entry, true)
            }
        };
        let entry = match campaign.templates.get_mut(template) {
            Some(e) => e,
            None => {
                let key = label_id(template);
                if !campaign.templates.contains_key(key.as_bytes()) {
                    if self.series + STATES.len() > self.max_series {
                        self.over_cap += 1;
                        return;
                    }
                    self.series += STATES.len();
                }
                campaign.templates.entry(Key(key.into())).or_default()
            }
        };
        let counts = &mut entry.counts;
        match STATES.iter().position(|s| s.as_bytes() == state) {
            Some(i) => counts.known[i] += 1,
            None => {
                let state = label_state(state);
                match counts.other.get_mut(state) {
                    Some(n) => *n += 1,
                    None => {
                        if self.series >= self.max_series {
                            self.over_cap += 1;
                            return;
                        }
                        self.series += 1;
                        counts.other.insert(state.into(), 1);
                    }
                }
            }
        }
        self.records += 1;

        // Names: the first seen wins.
        if entry.name.is_none()
            && let Some(name) = r.get(Field::TemplateName).and_then(label_name)
            && !matches!(label_id(template), UNKNOWN | INVALID)
        {
            entry.name = Some(name.into());
        }
        if names_campaign
            && campaign.name.is_none()
            && let Some(name) = r.get(Field::CampaignName).and_then(label_name)
        {
            campaign.name = Some(name.into());
        }
    }

    /// The campaigns counted (UUID, counts, name found in the records), and
    /// the template names found.
    pub fn into_campaigns(self) -> (Vec<CountedCampaign>, HashMap<String, String>) {
        let mut template_names = HashMap::new();
        let campaigns = self
            .fixed
            .map(|(uuid, c)| (Key(uuid), c))
            .into_iter()
            .chain(self.discovered);
        let mut out: Vec<CountedCampaign> = campaigns
            .filter(|(_, c)| !c.templates.is_empty() || c.name.is_some())
            .map(|(uuid, c)| {
                let templates = c
                    .templates
                    .into_iter()
                    .map(|(Key(template), t)| {
                        if let Some(name) = t.name {
                            template_names
                                .entry(template.to_string())
                                .or_insert_with(|| name.into());
                        }
                        (template, t.counts)
                    })
                    .collect();
                (
                    String::from(uuid.0),
                    CampaignCounts { templates },
                    c.name.map(String::from),
                )
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        (out, template_names)
    }
}

impl RecordSink for Tally {
    fn record(&mut self, fields: &RecordFields<'_>) {
        self.add(fields);
    }
}

/// An identifier as a label value: UTF-8, no control characters, not too long.
fn label_id(v: &[u8]) -> &str {
    match std::str::from_utf8(v) {
        Ok(s) if !s.is_empty() && s.len() <= MAX_ID_LEN && !s.chars().any(char::is_control) => s,
        _ => INVALID,
    }
}

/// A state outside the six as a label value: an identifier-like word, else
/// [`INVALID`] (free text never becomes a label).
fn label_state(v: &[u8]) -> &str {
    let word = !v.is_empty()
        && v.len() <= 64
        && v.iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-');
    match std::str::from_utf8(v) {
        Ok(s) if word => s,
        _ => INVALID,
    }
}

/// A campaign or template name as a label value, if it can be one.
fn label_name(v: &[u8]) -> Option<&str> {
    let v = std::str::from_utf8(v).ok()?.trim();
    (!v.is_empty() && v.len() <= MAX_NAME_LEN && !v.chars().any(char::is_control)).then_some(v)
}
