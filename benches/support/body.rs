//! Whole report bodies from the seeded generator (`ingest`, `rss`).

use std::io::Write;

use crate::api::STATES;
use crate::support::{
    CAMPAIGNS, FIRST, LAST, Rng, TEMPLATES, campaign_uuids, template_uuids, uuid,
    write_custom_fields,
};

/// Weights per thousand of each of [`STATES`], in their order (pending,
/// scheduled, sent, dnd, completed, error): a realistic spread.
const STATE_WEIGHTS: [u64; 6] = [80, 60, 300, 40, 470, 50];

/// Writes one record for subscriber `i`; returns its state index.
fn write_record(
    out: &mut Vec<u8>,
    rng: &mut Rng,
    i: u64,
    campaigns: &[String],
    templates: &[String],
) -> usize {
    let r = rng.next();
    let c = (r % CAMPAIGNS) as usize;
    let t = ((r >> 8) % TEMPLATES) as usize;
    let mut w = (r >> 16) % 1000;
    let mut state = 0;
    for (k, weight) in STATE_WEIGHTS.iter().enumerate() {
        if w < *weight {
            state = k;
            break;
        }
        w -= weight;
    }
    let r2 = rng.next();
    let _ = write!(
        out,
        r#"{{"uuid":"{}","name":"{} {} {}","phone_number":"55{:02}9{:08}","state":"{}","template_uuid":"{}","template_name":"Template {:02} - Comunicado","campaign_uuid":"{}","campaign_name":"Campanha {:02} - Novembro","inserted_at":"2024-09-{:02}T{:02}:{:02}:{:02}.000Z","updated_at":"2024-09-{:02}T{:02}:{:02}:{:02}.000Z","#,
        uuid(3, i),
        FIRST[(r2 % 16) as usize],
        LAST[((r2 >> 4) % 16) as usize],
        LAST[((r2 >> 8) % 16) as usize],
        11 + (r2 >> 12) % 88,
        (r2 >> 20) % 100_000_000,
        STATES[state],
        templates[t],
        t,
        campaigns[c],
        c,
        1 + (r2 >> 30) % 28,
        (r2 >> 35) % 24,
        (r2 >> 40) % 60,
        (r2 >> 46) % 60,
        1 + (r2 >> 30) % 28,
        (r2 >> 36) % 24,
        (r2 >> 41) % 60,
        (r2 >> 47) % 60,
    );
    write_custom_fields(out, r2);
    state
}

/// A whole body `{"data":[...],"links":{"next":null}}` of `n` records,
/// seeded by `seed`; also returns the number of records per state.
pub fn body(n: u64, seed: u64) -> (Vec<u8>, [u64; 6]) {
    let campaigns = campaign_uuids();
    let templates = template_uuids();
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(n as usize * 470 + 64);
    let mut per_state = [0u64; 6];
    out.extend_from_slice(b"{\"data\":[");
    for i in 0..n {
        if i > 0 {
            out.push(b',');
        }
        per_state[write_record(&mut out, &mut rng, i, &campaigns, &templates)] += 1;
    }
    out.extend_from_slice(b"],\"links\":{\"next\":null}}");
    (out, per_state)
}
