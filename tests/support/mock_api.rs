//! The mock Evolux API on wiremock: the report endpoint's requests, its
//! answers, and records as the API sends them. `ranged.rs` adds a responder
//! that applies `start`/`end`, `faults.rs` the helpers of the fault tests.

use serde_json::{Value, json};
use wiremock::matchers::{path, query_param};
use wiremock::{Mock, MockBuilder, ResponseTemplate};

use crate::support::{REPORT_PATH, STATES};

/// Another campaign UUID for tests (see also `support::CAMPAIGN_A`).
pub const CAMPAIGN_B: &str = "0c7e3f5a-9b2d-4d6e-8a1f-5c4b3a2e1d54";

/// Requests for the report, of any campaign.
pub fn any_report() -> MockBuilder {
    Mock::given(path(REPORT_PATH))
}

/// Requests for one campaign's report.
pub fn report(campaign: &str) -> MockBuilder {
    any_report().and(query_param("campaigns[]", campaign))
}

/// A 200 whose body is `{"data": records}`.
pub fn data(records: impl serde::Serialize) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "data": records }))
}

/// A JSON record as the API would send it, with personal data.
pub fn record(campaign: &str, template: &str, state: &str) -> Value {
    json!({
        "uuid": "0d3c2b1a-0000-4000-8000-000000000001",
        "name": "Maria do Carmo",
        "phone_number": "5511998811220",
        "state": state,
        "template_uuid": template,
        "template_name": "Boas-vindas",
        "campaign_uuid": campaign,
        "campaign_name": "Black Friday",
        "conversation_fields": {"CPF": "111.111.111-11"}
    })
}

/// The state of the `i`-th of a run of records: a fixed pattern over the six.
pub fn state_index(i: usize) -> usize {
    (i * 7 + i / 3) % STATES.len()
}

/// `n` records spread over the six states by [`state_index`]; returns them
/// and the count per state.
pub fn records(campaign: &str, template: &str, n: usize) -> (Vec<Value>, [u64; 6]) {
    let mut per_state = [0u64; 6];
    let recs = (0..n)
        .map(|i| {
            let s = state_index(i);
            per_state[s] += 1;
            record(campaign, template, STATES[s])
        })
        .collect();
    (recs, per_state)
}
