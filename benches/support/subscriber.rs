//! One subscriber's record, its state and insertion instant given (`fleet`).

use std::io::Write;

use crate::support::{FIRST, LAST, Rng, uuid, write_custom_fields};

/// Writes the record of subscriber `i` of campaign `c` (UUID `campaign`),
/// with its state, template and insertion instant given.
pub fn write_subscriber(
    out: &mut Vec<u8>,
    i: u64,
    (c, campaign): (usize, &str),
    (t, template): (usize, &str),
    state: &str,
    inserted_ms: i64,
) {
    let r2 = Rng::new(i ^ (c as u64) << 40).next();
    let inserted = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(inserted_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let _ = write!(
        out,
        r#"{{"uuid":"{}","name":"{} {} {}","phone_number":"55{:02}9{:08}","state":"{state}","template_uuid":"{template}","template_name":"Template {t:02} - Comunicado","campaign_uuid":"{campaign}","campaign_name":"Campanha {c:02} - Novembro","inserted_at":"{inserted}","#,
        uuid(3, i ^ (c as u64) << 40),
        FIRST[(r2 % 16) as usize],
        LAST[((r2 >> 4) % 16) as usize],
        LAST[((r2 >> 8) % 16) as usize],
        11 + (r2 >> 12) % 88,
        (r2 >> 20) % 100_000_000,
    );
    write_custom_fields(out, r2);
}
