//! Counting records into per-(campaign, template, state) totals, and the
//! immutable [`Snapshot`] that a poll produces from them.
//!
//! Everything here is pure. Which counts are kept after a failure and which
//! have gone stale is decided per segment, in [`crate::segments`].

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::evolux::fields::{Field, RecordFields};
use crate::evolux::scanner::RecordSink;

/// The six documented states, in funnel order.
pub const STATES: [&str; 6] = ["pending", "scheduled", "sent", "dnd", "completed", "error"];

/// Label value for a field the record does not have.
pub const UNKNOWN: &str = "unknown";
/// Label value for a field whose value cannot be a label (too long, or
/// characters no identifier has).
pub const INVALID: &str = "invalid";

/// Longest identifier (campaign or template) taken as a label value.
const MAX_ID_LEN: usize = 128;
/// Longest name taken into an `_info` metric.
const MAX_NAME_LEN: usize = 256;

/// Subscriber counts of one (campaign, template), by state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateCounts {
    known: [u64; 6],
    other: BTreeMap<Box<str>, u64>,
}

impl StateCounts {
    /// Every state with its count: the six documented ones first (zeros
    /// included), then any other state the API returned.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        STATES
            .iter()
            .copied()
            .zip(self.known.iter().copied())
            .chain(self.other.iter().map(|(k, v)| (k.as_ref(), *v)))
    }

    /// The count of one state.
    pub fn get(&self, state: &str) -> u64 {
        match STATES.iter().position(|s| *s == state) {
            Some(i) => self.known[i],
            None => self.other.get(state).copied().unwrap_or(0),
        }
    }

    /// Number of series these counts make.
    pub fn series(&self) -> usize {
        STATES.len() + self.other.len()
    }

    /// All subscribers, whatever the state.
    pub fn total(&self) -> u64 {
        self.iter().map(|(_, n)| n).sum()
    }

    /// Adds `n` subscribers in `state` (one of the six, or another word).
    pub fn add_state(&mut self, state: &str, n: u64) {
        match STATES.iter().position(|s| *s == state) {
            Some(i) => self.known[i] += n,
            None => *self.other.entry(state.into()).or_default() += n,
        }
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &StateCounts) {
        for (mine, theirs) in self.known.iter_mut().zip(other.known.iter()) {
            *mine += theirs;
        }
        for (state, n) in &other.other {
            *self.other.entry(state.clone()).or_default() += n;
        }
    }
}

/// The counts of one campaign, by template.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CampaignCounts {
    /// Template UUID to its counts.
    pub templates: BTreeMap<Box<str>, StateCounts>,
}

impl CampaignCounts {
    /// All subscribers of the campaign.
    pub fn total(&self) -> u64 {
        self.templates.values().map(StateCounts::total).sum()
    }

    /// Adds `other`'s counts to these, template by template.
    pub fn add(&mut self, other: &CampaignCounts) {
        for (template, counts) in &other.templates {
            self.templates
                .entry(template.clone())
                .or_default()
                .add(counts);
        }
    }
}

/// A fast, unkeyed hasher for the tally's few keys (UUIDs), looked up once
/// per record. Flooding it is pointless: the series cap bounds the keys.
#[derive(Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(c);
            self.mix(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i));
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

impl KeyHasher {
    #[inline]
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

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

/// A map keyed by label values, looked up by raw bytes, hashed with [`KeyHasher`].
type KeyMap<V> = HashMap<Key, V, BuildHasherDefault<KeyHasher>>;

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

/// What the exporter knows of one campaign.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CampaignStatus {
    /// Display name: configured, else from the records.
    pub name: Option<String>,
    /// Whether its last poll succeeded.
    pub up: bool,
    /// End of its last successful poll.
    pub last_success: Option<SystemTime>,
    /// How long its last poll took.
    pub poll_duration: Option<Duration>,
    /// Its last good counts; `None` before the first success and once stale.
    pub counts: Option<Arc<CampaignCounts>>,
    /// Why its last poll failed.
    pub error: Option<String>,
    /// Insertion-time segments held for it.
    pub segments: usize,
    /// The time by which every segment had last been read.
    pub refreshed: Option<SystemTime>,
}

/// Which query a result is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A configured campaign, with its configured name.
    Campaign {
        /// Its UUID.
        uuid: String,
        /// Its configured display name.
        name: Option<String>,
    },
    /// One query without `campaigns[]`, grouped by each record's campaign.
    Discovery,
}

/// Everything `/metrics` shows of the API's data, as of the end of a poll.
/// Immutable: a poll builds a new one and swaps it in.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Campaign UUID to what is known of it.
    pub campaigns: BTreeMap<String, CampaignStatus>,
    /// Template UUID to its name, for templates with counts.
    pub template_names: BTreeMap<String, String>,
    /// Whether the last poll of every query succeeded; `None` before the first poll.
    pub up: Option<bool>,
    /// Records not counted because of the series cap, in the last poll.
    pub over_cap_records: u64,
}

impl Snapshot {
    /// Campaigns whose last poll failed.
    pub fn failed(&self) -> impl Iterator<Item = (&str, &CampaignStatus)> {
        self.campaigns
            .iter()
            .filter(|(_, s)| !s.up)
            .map(|(k, v)| (k.as_str(), v))
    }
}

#[cfg(test)]
mod tests;
