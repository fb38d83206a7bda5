//! What one read counted, by campaign: the unit segments hold and add up.

use std::collections::BTreeMap;

use crate::model::CampaignCounts;

/// Counts by campaign UUID. A configured campaign's reads hold at most one
/// campaign; discovery's hold every campaign its records named.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counted {
    /// Campaign UUID to its counts by template and state.
    pub campaigns: BTreeMap<String, CampaignCounts>,
}

impl Counted {
    /// Adds `other` to these counts.
    pub fn add(&mut self, other: &Counted) {
        for (campaign, counts) in &other.campaigns {
            self.campaigns
                .entry(campaign.clone())
                .or_default()
                .add(counts);
        }
    }

    /// The sum of several counts.
    pub fn sum<'a>(parts: impl IntoIterator<Item = &'a Counted>) -> Counted {
        let mut out = Counted::default();
        for p in parts {
            out.add(p);
        }
        out
    }

    /// Subscribers of one campaign, whatever the template and state.
    pub fn total_of(&self, campaign: &str) -> u64 {
        self.campaigns
            .get(campaign)
            .map_or(0, CampaignCounts::total)
    }

    /// Subscribers of every campaign.
    pub fn total(&self) -> u64 {
        self.campaigns.values().map(CampaignCounts::total).sum()
    }
}
