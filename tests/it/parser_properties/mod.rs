//! Property tests of the streaming body parser and the counting behind it.
//!
//! - Whatever bytes arrive, cut into whatever chunks, [`BodyScanner`] never
//!   panics, gives the same answer for every chunking, stays within simple
//!   bounds and, whenever the bytes are JSON, agrees with `serde_json`.
//! - Generated pages of records, in every documented response shape (a
//!   top-level array, `{"data": [...]}`, next links at `links.next` or
//!   `next`, flat or nested `template`/`campaign` fields), with escapes,
//!   unicode, decoy keys and nested custom fields, chained by next links and
//!   fed in any chunking (1-byte chunks included, so every escape and every
//!   multi-byte character is split somewhere), count exactly what a plain
//!   reference over `serde_json::Value` counts.
//! - The same pages served by a local upstream and read by the real
//!   [`EvoluxClient`]: every next link is followed and the counts match.
//!
//! Each property runs a moderate number of cases; `PROPTEST_CASES` overrides it.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::serve::ListenerExt;
use bytes::Bytes;
use evolux_exporter::config::{Cli, Config};
use evolux_exporter::evolux::EvoluxClient;
use evolux_exporter::evolux::fields::ResponseLayout;
use evolux_exporter::evolux::hints::{DEFAULT_HINTS, Hint};
use evolux_exporter::evolux::scanner::{BodyScanner, PageEnd, ScanError};
use evolux_exporter::metrics::SelfMetrics;
use evolux_exporter::model::{Field, RecordFields};
use evolux_exporter::model::{INVALID, Tally, UNKNOWN};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use serde_json::Value;

use crate::support::{CAMPAIGN_A, REPORT_PATH, STATES};

mod arbitrary_bytes;
mod json;
mod real_client;
mod reference;
mod scanning;
mod strategies;
use arbitrary_bytes::*;
use json::*;
use reference::*;
use scanning::*;
use strategies::*;

/// The campaign of the fixed-campaign tally (a configured campaign's query).
const FIXED: &str = CAMPAIGN_A;
/// Far above what the small id pools can make: the series cap never bites.
const MAX_SERIES: usize = 100_000;
/// Origin of the absolute next links when no server is involved.
const ORIGIN: &str = "https://acme.evolux.cx";

/// `PROPTEST_CASES` if set, else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn proptest_config(default_cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases(default_cases),
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------
// The properties.
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(proptest_config(1024))]

    /// Any bytes in any chunking: no panic, the same outcome whatever the
    /// chunking, bounded counts, and serde_json's reading of any JSON.
    #[test]
    fn arbitrary_bytes_in_any_chunking_never_panic_and_agree_with_serde_json(bytes in arbitrary_body(), small in sizes(16)) {
        check_arbitrary_bytes(&bytes, small)?;
    }
}

proptest! {
    #![proptest_config(proptest_config(256))]

    /// Generated records in every documented shape, over several pages, in
    /// any chunking, count what the serde_json reference counts.
    #[test]
    fn counts_equal_the_reference_for_any_shape_pages_and_chunking(
        pages in pages(),
        small in sizes(16),
        large in sizes(700),
    ) {
        let bodies = bodies(&pages, ORIGIN);
        let expected = expected_run(&reference_pages(&bodies)?);
        let raw: Vec<&[u8]> = bodies.iter().map(|(b, _)| b.as_slice()).collect();
        for chunking in [
            Chunking::Whole,
            Chunking::Bytes,
            Chunking::Sizes(small),
            Chunking::Sizes(large),
        ] {
            match run(&raw, &chunking) {
                Ok(got) => prop_assert_eq!(&got.without_hints(), &expected, "fed as {:?}", chunking),
                Err((page, e)) => {
                    return Err(TestCaseError::fail(format!(
                        "page {page} fed as {chunking:?} refused: {e:?}"
                    )));
                }
            }
        }
    }
}

/// The minimal input the arbitrary-bytes property found: a bad bare token
/// is reported at its first byte, whatever the chunking (it used to be the
/// offset of the chunk in which the token ended).
#[test]
fn a_bad_bare_token_is_reported_at_its_own_offset() {
    for (body, token_at) in [
        (&b"1e999{"[..], 0u64),
        (b"[1,tru]", 3),
        (b"{\"next\":nul}", 8),
    ] {
        for chunking in [Chunking::Whole, Chunking::Bytes] {
            match run(&[body], &chunking) {
                Err((_, ScanError::Syntax { offset, .. })) => assert_eq!(
                    offset,
                    token_at,
                    "{} fed as {chunking:?}",
                    String::from_utf8_lossy(body)
                ),
                other => panic!("expected a syntax error, got {other:?}"),
            }
        }
    }
}
