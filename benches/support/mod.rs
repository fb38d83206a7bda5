//! A seeded generator of realistic report bodies, shared by the benchmarks.
//!
//! Records are shaped as in `docs/evolux-api.md`: a subscriber's UUID,
//! name, phone number, state, template and campaign (UUID and name), times,
//! and custom fields (CPF, perfil, cidade), about 450 bytes each. 50
//! campaigns, 20 templates, the six states in a realistic spread.

#![allow(dead_code)]

use std::io::Write;

/// Campaigns in the data set.
pub const CAMPAIGNS: u64 = 50;
/// Templates in the data set.
pub const TEMPLATES: u64 = 20;

const FIRST: [&str; 16] = [
    "Maria",
    "João",
    "Ana",
    "Pedro",
    "Francisca",
    "Carlos",
    "Juliana",
    "Rafael",
    "Antônia",
    "Lucas",
    "Adriana",
    "Marcos",
    "Fernanda",
    "Paulo",
    "Patrícia",
    "Gabriel",
];
const LAST: [&str; 16] = [
    "Silva",
    "Santos",
    "Oliveira",
    "Souza",
    "Rodrigues",
    "Ferreira",
    "Alves",
    "Pereira",
    "Lima",
    "Gomes",
    "Costa",
    "Ribeiro",
    "Martins",
    "Carvalho",
    "Almeida",
    "do Carmo",
];
const CITIES: [&str; 8] = [
    "São Paulo",
    "Rio de Janeiro",
    "Belo Horizonte",
    "Salvador",
    "Fortaleza",
    "Curitiba",
    "Recife",
    "Porto Alegre",
];
/// Weights per thousand of pending, scheduled, sent, dnd, completed, error.
const STATE_WEIGHTS: [(&str, u64); 6] = [
    ("pending", 80),
    ("scheduled", 60),
    ("sent", 300),
    ("dnd", 40),
    ("completed", 470),
    ("error", 50),
];

/// splitmix64: a seeded, portable pseudo-random sequence.
pub struct Rng(u64);

impl Rng {
    /// A sequence from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut x = self.0;
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^ (x >> 31)
    }
}

fn uuid(kind: u64, n: u64) -> String {
    let mut r = Rng::new(kind << 32 | n);
    let (a, b) = (r.next(), r.next());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

/// The data set's campaign UUIDs.
pub fn campaign_uuids() -> Vec<String> {
    (0..CAMPAIGNS).map(|c| uuid(1, c)).collect()
}

/// Writes one record for subscriber `i`; returns its state index.
pub fn write_record(
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
    for (k, (_, weight)) in STATE_WEIGHTS.iter().enumerate() {
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
        STATE_WEIGHTS[state].0,
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
    let templates: Vec<String> = (0..TEMPLATES).map(|t| uuid(2, t)).collect();
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

/// The data set's template UUIDs.
pub fn template_uuids() -> Vec<String> {
    (0..TEMPLATES).map(|t| uuid(2, t)).collect()
}

/// The end of a record: its custom fields (CPF, perfil, cidade) from `r2`,
/// and the closing brace.
fn write_custom_fields(out: &mut Vec<u8>, r2: u64) {
    let _ = write!(
        out,
        r#""conversation_fields":{{"CPF":"{:03}.{:03}.{:03}-{:02}","perfil":"{}","cidade":"{}"}}}}"#,
        (r2 >> 3) % 1000,
        (r2 >> 13) % 1000,
        (r2 >> 23) % 1000,
        (r2 >> 33) % 100,
        if r2 & 1 == 0 {
            "Pessoa Física"
        } else {
            "Pessoa Jurídica"
        },
        CITIES[((r2 >> 50) % 8) as usize],
    );
}
