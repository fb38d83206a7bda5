//! Subscriber counts by state and template: what a read adds up to and what
//! segments hold.

use std::collections::BTreeMap;

use super::STATES;

/// Subscriber counts of one (campaign, template), by state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateCounts {
    pub(super) known: [u64; 6],
    pub(super) other: BTreeMap<Box<str>, u64>,
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
