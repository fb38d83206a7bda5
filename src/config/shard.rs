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

    /// Whether this replica polls the view named `view`: by the same
    /// hashing of its name, so each view is read by exactly one replica.
    pub fn owns_view(&self, view: &str) -> bool {
        self.count <= 1 || jump_hash(fnv1a(view.as_bytes()), self.count) == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of {}", self.index, self.count)
    }
}

/// The shard a campaign belongs to: jump consistent hashing (Lamping and
/// Veach, 2014) of the FNV-1a (64-bit) hash of the UUID's 16 bytes. Stable
/// across versions, platforms and restarts; going from `n` to `n + 1`
/// replicas moves only the campaigns the new replica takes, about
/// `1 / (n + 1)` of them, and none between the old replicas.
pub fn shard_of(campaign: &Uuid, count: u32) -> u32 {
    jump_hash(fnv1a(campaign.as_bytes()), count.max(1))
}

/// FNV-1a, 64-bit.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The bucket in `0..buckets` of `key`, by jump consistent hashing.
fn jump_hash(mut key: u64, buckets: u32) -> u32 {
    let (mut bucket, mut next): (i64, i64) = (-1, 0);
    while next < i64::from(buckets) {
        bucket = next;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        let scale = (1u64 << 31) as f64 / ((key >> 33) + 1) as f64;
        next = ((bucket + 1) as f64 * scale) as i64;
    }
    // 0 <= bucket < buckets: the loop ran at least once (buckets >= 1).
    bucket as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The campaigns the tests (and docs/kubernetes.md) measure shard movement on:
    /// `n` UUIDs spread over the whole space, the same every run.
    fn sample_campaigns(n: u32) -> impl Iterator<Item = Uuid> {
        (0..n).map(|i| {
            Uuid::from_u128(u128::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835))
        })
    }

    /// Of `campaigns`, how many change replica when `from` replicas become `to`.
    fn moved(campaigns: impl Iterator<Item = Uuid>, from: u32, to: u32) -> usize {
        campaigns
            .filter(|c| shard_of(c, from) != shard_of(c, to))
            .count()
    }

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
        for uuid in sample_campaigns(4000) {
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
    fn growing_by_one_replica_moves_about_one_share_and_only_to_it() {
        for from in 1..8u32 {
            let to = from + 1;
            let n = 10_000;
            let moved = moved(sample_campaigns(n), from, to);
            let expected = n as f64 / f64::from(to);
            assert!(
                (moved as f64 - expected).abs() < expected * 0.1,
                "{from} -> {to}: {moved} of {n} moved, about {expected} expected"
            );
            for c in sample_campaigns(n) {
                let (before, after) = (shard_of(&c, from), shard_of(&c, to));
                assert!(before == after || after == from, "{c}: {before} -> {after}");
            }
        }
    }

    #[test]
    fn the_kubernetes_doc_says_how_many_moved_from_3_to_4_replicas() {
        let doc = include_str!("../../docs/kubernetes.md");
        let moved = moved(sample_campaigns(1000), 3, 4);
        let claim = format!("{moved} of 1000 campaigns moved");
        assert!(
            doc.contains(&claim),
            "docs/kubernetes.md should say {claim:?}"
        );
        // The modulo hash it replaced moved about three quarters.
        let modulo = sample_campaigns(1000)
            .filter(|c| fnv1a(c.as_bytes()) % 3 != fnv1a(c.as_bytes()) % 4)
            .count();
        assert!(modulo > 700, "{modulo}");
    }

    #[test]
    fn the_hash_is_stable() {
        let uuid: Uuid = "f45d98dc-ac5e-48f2-9c01-ebe18f86d28b".parse().unwrap();
        // Pinned: changing the hash would move campaigns between replicas.
        assert_eq!(shard_of(&uuid, 1), 0);
        let pinned: Vec<u32> = (1..=8).map(|n| shard_of(&uuid, n)).collect();
        assert_eq!(pinned, PINNED);
        assert_eq!(jump_hash(0, 1), 0);
    }

    /// `shard_of` of f45d98dc-… for 1 to 8 replicas.
    const PINNED: [u32; 8] = [0, 0, 0, 0, 4, 4, 4, 4];
}
