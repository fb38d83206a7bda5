//! Splitting the campaigns between replicas: `--shard.index` of
//! `--shard.count`, by a stable hash of each campaign's UUID, so that every
//! campaign is polled by exactly one replica.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};
use uuid::Uuid;

/// A replica's index. Accepts a number, or a StatefulSet pod name whose
/// trailing `-N` is the ordinal (`evolux-exporter-2` → 2), so the value can
/// come straight from the pod's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardIndex(pub u32);

impl FromStr for ShardIndex {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let digits = s.rsplit('-').next().unwrap_or(s);
        digits
            .parse()
            .map(ShardIndex)
            .map_err(|_| format!("{s:?} is neither a number nor a pod name ending in -<ordinal>"))
    }
}

impl<'de> Deserialize<'de> for ShardIndex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u32),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(ShardIndex(n)),
            Raw::Text(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// This replica's share of the campaigns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This replica, from 0.
    pub index: u32,
    /// Replicas in all.
    pub count: u32,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

impl Shard {
    /// Whether this replica polls `campaign`.
    pub fn owns(&self, campaign: &Uuid) -> bool {
        self.count <= 1 || shard_of(campaign, self.count) == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of {}", self.index, self.count)
    }
}

/// The shard a campaign belongs to: FNV-1a (64-bit) of the UUID's 16 bytes,
/// modulo the count. Stable across versions, platforms and restarts.
pub fn shard_of(campaign: &Uuid, count: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in campaign.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % u64::from(count.max(1))) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_come_from_numbers_or_pod_names() {
        assert_eq!("3".parse::<ShardIndex>(), Ok(ShardIndex(3)));
        assert_eq!("evolux-exporter-2".parse::<ShardIndex>(), Ok(ShardIndex(2)));
        assert!("evolux-exporter".parse::<ShardIndex>().is_err());
    }

    #[test]
    fn every_campaign_has_exactly_one_owner_and_shares_are_even() {
        let count = 4;
        let shards: Vec<Shard> = (0..count).map(|index| Shard { index, count }).collect();
        let mut per_shard = [0usize; 4];
        for i in 0..4000u32 {
            let uuid = Uuid::from_u128(
                u128::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835),
            );
            let owners: Vec<u32> = shards
                .iter()
                .filter(|s| s.owns(&uuid))
                .map(|s| s.index)
                .collect();
            assert_eq!(owners.len(), 1, "{uuid} owned by {owners:?}");
            per_shard[owners[0] as usize] += 1;
        }
        for n in per_shard {
            assert!((800..1200).contains(&n), "uneven split {per_shard:?}");
        }
    }

    #[test]
    fn the_hash_is_stable() {
        let uuid: Uuid = "f45d98dc-ac5e-48f2-9c01-ebe18f86d28b".parse().unwrap();
        // Pinned: changing the hash would move campaigns between replicas.
        assert_eq!(shard_of(&uuid, 1_000_003), shard_of(&uuid, 1_000_003));
        assert_eq!(shard_of(&uuid, 1), 0);
        let pinned = shard_of(&uuid, 7);
        assert_eq!(pinned, {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for b in uuid.as_bytes() {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            (h % 7) as u32
        });
    }
}
