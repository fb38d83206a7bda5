//! What a diagnosis's whole read hands each record to: the product's own
//! [`Tally`], the key-name collector, and how often each counted field was
//! found.

use super::keys::KeyNames;
use crate::model::{Field, RecordFields, RecordSink, STATES, Tally};

/// Every field the exporter reads from a record, in [`Field`] order.
pub const FIELDS: [Field; 5] = [
    Field::State,
    Field::Template,
    Field::TemplateName,
    Field::Campaign,
    Field::CampaignName,
];

/// The sink of a diagnosis's whole read.
#[derive(Debug)]
pub struct DiagnoseSink {
    /// The exporter's count, as a poll makes it.
    pub tally: Tally,
    /// The records' top-level key names.
    pub keys: KeyNames,
    /// Per field (in [`FIELDS`] order), the records it was found in.
    pub found: [u64; 5],
}

impl DiagnoseSink {
    /// A sink counting with `tally`.
    pub fn new(tally: Tally) -> DiagnoseSink {
        DiagnoseSink {
            tally,
            keys: KeyNames::default(),
            found: [0; 5],
        }
    }
}

impl RecordSink for DiagnoseSink {
    fn record(&mut self, fields: &RecordFields<'_>) {
        for (n, field) in self.found.iter_mut().zip(FIELDS) {
            if fields.get(field).is_some() {
                *n += 1;
            }
        }
        self.tally.add(fields);
    }

    fn raw(&mut self, bytes: &[u8]) {
        self.keys.collect(bytes);
    }
}

/// What the tally counted, summed over templates (and campaigns, in
/// discovery): states with counts, no names.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counted {
    /// Records the tally counted.
    pub records: u64,
    /// Records left out by `poll.max_series`.
    pub over_cap: u64,
    /// Per state: the six in their order (zeros included), then any other
    /// state seen, by name.
    pub by_state: Vec<(String, u64)>,
    /// Distinct (campaign, template) pairs seen.
    pub templates: usize,
    /// Campaigns seen (one for a configured campaign; discovery may find many).
    pub campaigns: Vec<(String, u64)>,
}

impl Counted {
    /// Sums a finished tally.
    pub fn of(tally: Tally) -> Counted {
        let records = tally.records;
        let over_cap = tally.over_cap;
        let (campaigns, _names) = tally.into_campaigns();
        let mut by_state: Vec<(String, u64)> =
            STATES.iter().map(|s| ((*s).to_string(), 0)).collect();
        let mut templates = 0;
        let mut per_campaign = Vec::new();
        for (uuid, counts, _name) in campaigns {
            per_campaign.push((uuid, counts.total()));
            for state_counts in counts.templates.values() {
                templates += 1;
                for (state, n) in state_counts.iter() {
                    match by_state.iter_mut().find(|(s, _)| s == state) {
                        Some((_, total)) => *total += n,
                        None => by_state.push((state.to_string(), n)),
                    }
                }
            }
        }
        Counted {
            records,
            over_cap,
            by_state,
            templates,
            campaigns: per_campaign,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evolux::fields::ResponseLayout;

    /// Feeds `records` through the layout's own field walk, as the scanner does.
    fn sink_over(records: &[&str]) -> DiagnoseSink {
        let layout = ResponseLayout::default();
        let mut sink = DiagnoseSink::new(Tally::new(Some("c1"), 1000));
        for r in records {
            let mut fields = RecordFields::default();
            let len = layout.walk_record(r.as_bytes(), &mut fields).unwrap();
            sink.raw(&r.as_bytes()[..len]);
            sink.record(&fields);
        }
        sink
    }

    #[test]
    fn the_sink_counts_as_the_tally_does_and_notes_which_fields_were_found() {
        let s = sink_over(&[
            r#"{"state":"sent","template_uuid":"t1","name":"Maria da Silva"}"#,
            r#"{"state":"sent","template":{"uuid":"t2"}}"#,
            r#"{"state":"weird_state","template_uuid":"t1"}"#,
            r#"{"phone_number":"+5511987654321"}"#,
        ]);
        assert_eq!(s.found, [3, 3, 0, 0, 0]);
        let c = Counted::of(s.tally);
        assert_eq!(c.records, 4);
        let get = |state: &str| c.by_state.iter().find(|(s, _)| s == state).map(|p| p.1);
        assert_eq!(get("sent"), Some(2));
        assert_eq!(get("weird_state"), Some(1));
        assert_eq!(get("unknown"), Some(1));
        assert_eq!(get("error"), Some(0));
        // t1, t2 and the unknown template of the last record.
        assert_eq!(c.templates, 3);
        assert_eq!(c.campaigns, [("c1".to_string(), 4)]);
    }
}
