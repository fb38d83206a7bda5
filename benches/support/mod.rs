//! A seeded generator of realistic report bodies, shared by the benchmarks.
//! This module is what every benchmark that declares it uses; `body.rs`
//! (whole bodies, for `ingest` and `rss`) and `subscriber.rs` (one
//! subscriber's record, for `fleet`) are declared by the benchmarks that
//! use them.
//!
//! Records are shaped as in `docs/evolux-api.md`: a subscriber's UUID,
//! name, phone number, state, template and campaign (UUID and name), times,
//! and custom fields (CPF, perfil, cidade), about 450 bytes each. 50
//! campaigns, 20 templates, the six states in a realistic spread.

use std::io::Write;

/// Campaigns in the data set.
pub const CAMPAIGNS: u64 = 50;
/// Templates in the data set.
pub const TEMPLATES: u64 = 20;

pub const FIRST: [&str; 16] = [
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
pub const LAST: [&str; 16] = [
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
pub const CITIES: [&str; 8] = [
    "São Paulo",
    "Rio de Janeiro",
    "Belo Horizonte",
    "Salvador",
    "Fortaleza",
    "Curitiba",
    "Recife",
    "Porto Alegre",
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

pub fn uuid(kind: u64, n: u64) -> String {
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

/// The data set's template UUIDs.
pub fn template_uuids() -> Vec<String> {
    (0..TEMPLATES).map(|t| uuid(2, t)).collect()
}

/// The end of a record: its custom fields (CPF, perfil, cidade) from `r2`,
/// and the closing brace.
pub fn write_custom_fields(out: &mut Vec<u8>, r2: u64) {
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
