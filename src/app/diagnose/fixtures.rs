//! Diagnoses for the unit tests: a campaign the exporter counts exactly,
//! made from records run through the product's own sink and tally, to be
//! spoiled one way at a time.

use std::time::Duration;

use super::sink::{Counted, DiagnoseSink, FIELDS};
use super::{FieldUse, TargetReport, Tiling, WholeRead};
use crate::evolux::QueryStats;
use crate::evolux::client::FirstResponse;
use crate::evolux::fields::ResponseLayout;
use crate::evolux::pagination::{Stated, Style};
use crate::model::{Range, RecordFields, RecordSink, Tally};

/// The campaign of the fixtures.
pub const CAMPAIGN: &str = "f45d98dc-ac5e-48f2-9c01-ebe18f86d28b";

/// The personal values the fixture records carry.
pub const PERSONAL: [&str; 4] = [
    "Maria da Silva",
    "+5511987654321",
    "123.456.789-09",
    "Pessoa Jurídica",
];

/// A record with personal data, in `state`.
pub fn record(state: &str) -> String {
    format!(
        r#"{{"uuid":"0d3c2b1a-0000-4000-8000-000000000001","name":"Maria da Silva","phone_number":"+5511987654321","state":"{state}","template_uuid":"70f4ddb6-ece1-4e13-ab90-3698d9d72bf0","campaign_uuid":"{CAMPAIGN}","conversation_fields":{{"CPF":"123.456.789-09","perfil":"Pessoa Jurídica"}}}}"#
    )
}

/// A whole read of `records` for the fixtures' campaign.
pub fn whole_read(records: &[String]) -> WholeRead {
    read_of(Some(CAMPAIGN), records)
}

/// A whole read of `records` for `campaign` (`None`: discovery), through
/// the default layout and the sink.
pub fn read_of(campaign: Option<&str>, records: &[String]) -> WholeRead {
    let layout = ResponseLayout::default();
    let mut sink = DiagnoseSink::new(Tally::new(campaign, 10_000));
    for r in records {
        let mut fields = RecordFields::default();
        let len = layout.walk_record(r.as_bytes(), &mut fields).unwrap();
        sink.raw(&r.as_bytes()[..len]);
        sink.record(&fields);
    }
    let n = records.len() as u64;
    WholeRead {
        stats: QueryStats {
            pages: 3,
            records: n,
            invalid: 0,
            bytes: 1234,
            first: Some(FirstResponse {
                status: 200,
                content_type: "application/json".into(),
                content_encoding: "gzip".into(),
            }),
            records_at: Some("/data".into()),
            pagination: Some(Style::BodyLink),
            stated_total: Some(Stated {
                total: n,
                source: "/meta/total".into(),
            }),
        },
        keys: sink.keys,
        fields: FIELDS
            .iter()
            .zip(sink.found)
            .map(|(f, found)| FieldUse {
                field: *f,
                pointers: layout
                    .fields
                    .iter()
                    .find(|(x, _)| x == f)
                    .map(|(_, ps)| ps.iter().map(ToString::to_string).collect())
                    .unwrap(),
                found,
            })
            .collect(),
        counted: Counted::of(sink.tally),
    }
}

/// A campaign that can be counted exactly: 5 records, 3 pages, the total
/// stated and matched, halves 2 + 3 of a whole 5.
pub fn good() -> TargetReport {
    let records: Vec<String> = ["sent", "sent", "completed", "error", "pending"]
        .iter()
        .map(|s| record(s))
        .collect();
    TargetReport {
        campaign: Some(CAMPAIGN.into()),
        read: Ok(whole_read(&records)),
        tiling: Tiling::Read {
            range: Range {
                start: Some(1_699_996_400_000),
                end: Some(1_699_999_999_999),
            },
            halves: [2, 3],
            whole: 5,
        },
        elapsed: Duration::from_millis(1250),
    }
}
