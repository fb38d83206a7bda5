//! The demo upstream (`--demo`): a simulated Evolux report API served over
//! real HTTP on loopback and polled through the same client as a real one.
//!
//! A handful of campaigns insert subscribers at steady rates; each
//! subscriber moves pending → scheduled → sent → completed, dnd or error
//! over a few minutes. Every 15 minutes one campaign has a 3-minute burst
//! of errors on one template, so dashboards and alerts have something to
//! show. Everything is a pure function of the simulated time, so pages of
//! one query agree and tests can predict the counts.

mod api;

use crate::model::STATES;

pub use api::{DemoServer, router};

pub use crate::token::DEMO_TOKEN;

/// Knobs of the simulation.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Share of requests answered `503` with `Retry-After: 1` (retried by the client).
    pub fault_rate: f64,
    /// Records per page.
    pub page_size: usize,
    /// Simulated seconds per real second.
    pub speed: f64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            fault_rate: 0.02,
            page_size: 2000,
            speed: 1.0,
        }
    }
}

struct Campaign {
    uuid: &'static str,
    name: &'static str,
    templates: &'static [usize],
    per_minute: f64,
    started_ago_s: f64,
    error_base: f64,
}

struct Template {
    uuid: &'static str,
    name: &'static str,
}

const TEMPLATES: [Template; 5] = [
    Template {
        uuid: "70f4ddb6-ece1-4e13-ab90-3698d9d72bf0",
        name: "Boas-vindas",
    },
    Template {
        uuid: "1b2e9c1e-5f8a-4c55-9a59-2f6e0c3d7a10",
        name: "Lembrete de pagamento",
    },
    Template {
        uuid: "c6a0f7d2-8e4b-4f0f-8c1e-6d5b2a9e4f21",
        name: "Oferta Black Friday",
    },
    Template {
        uuid: "3e8d5a7b-2c1f-4e9a-b6d0-9f4c8e2a1b32",
        name: "Pesquisa de satisfação",
    },
    Template {
        uuid: "9a4f2e6c-7d3b-4a8e-9c5f-1e0d6b3a7c43",
        name: "Confirmação de agendamento",
    },
];

const CAMPAIGNS: [Campaign; 6] = [
    Campaign {
        uuid: "f45d98dc-ac5e-48f2-9c01-ebe18f86d28b",
        name: "Black Friday",
        templates: &[0, 2],
        per_minute: 120.0,
        started_ago_s: 2700.0,
        error_base: 0.03,
    },
    Campaign {
        uuid: "0c7e3f5a-9b2d-4d6e-8a1f-5c4b3a2e1d54",
        name: "Cobrança Novembro",
        templates: &[1],
        per_minute: 60.0,
        started_ago_s: 1200.0,
        error_base: 0.05,
    },
    Campaign {
        uuid: "5d2a8c4e-1f7b-4e3a-9d6c-8b5a4f3e2d65",
        name: "Pesquisa NPS",
        templates: &[3, 0],
        per_minute: 30.0,
        started_ago_s: 600.0,
        error_base: 0.02,
    },
    Campaign {
        uuid: "a8e6c4b2-3d5f-4a7e-8c9b-2f1e0d9c8b76",
        name: "Agendamentos",
        templates: &[4],
        per_minute: 200.0,
        started_ago_s: 5400.0,
        error_base: 0.04,
    },
    // Two campaigns that ended long ago: their history has settled, so
    // segmented polling reads them at --poll.max-interval only.
    Campaign {
        uuid: "2b7d9e1f-4c6a-4e8b-9f3d-7a5c1e2b4d87",
        name: "Natal 2025",
        templates: &[2, 0],
        per_minute: 100.0,
        started_ago_s: 340.0 * 86_400.0,
        error_base: 0.03,
    },
    Campaign {
        uuid: "6e4c2a8d-1b3f-4d5e-8a7c-9b2e4f6a1c98",
        name: "Cobrança Outubro",
        templates: &[1],
        per_minute: 60.0,
        started_ago_s: 40.0 * 86_400.0,
        error_base: 0.05,
    },
];

/// Hours a campaign keeps inserting before it is full.
const CAMPAIGN_HOURS: f64 = 6.0;
const BURST_EVERY_S: f64 = 900.0;
const BURST_LENGTH_S: f64 = 180.0;

const FIRST_NAMES: [&str; 8] = [
    "Maria",
    "João",
    "Ana",
    "Pedro",
    "Francisca",
    "Carlos",
    "Juliana",
    "Rafael",
];
const LAST_NAMES: [&str; 8] = [
    "Silva", "Santos", "Oliveira", "Souza", "Lima", "Pereira", "Costa", "do Carmo",
];

fn mix(mut x: u64) -> u64 {
    // splitmix64
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// One simulated subscriber at a simulated time.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscriber {
    /// Index of its campaign in the demo's list.
    pub campaign: usize,
    /// Its number within the campaign.
    pub n: u64,
    /// Index of its template.
    pub template: usize,
    /// Its state at the time asked.
    pub state: &'static str,
    /// Simulated seconds since the demo's epoch at which it was inserted.
    pub inserted_s: f64,
}

/// The simulation: every subscriber of every campaign at simulated time `t`
/// (seconds since the demo started; campaigns began before that).
pub fn subscribers_at(t: f64) -> impl Iterator<Item = Subscriber> {
    CAMPAIGNS.iter().enumerate().flat_map(move |(ci, c)| {
        let period = 60.0 / c.per_minute;
        let begun = t + c.started_ago_s;
        let max = (c.per_minute * 60.0 * CAMPAIGN_HOURS) as u64;
        let count = if begun < 0.0 {
            0
        } else {
            ((begun / period) as u64 + 1).min(max)
        };
        (0..count).map(move |n| {
            let inserted_s = -c.started_ago_s + n as f64 * period;
            let h = mix(((ci as u64) << 40) ^ n);
            let template = c.templates[(h % c.templates.len() as u64) as usize];
            let state = state_of(ci, c, template, h, t - inserted_s, inserted_s);
            Subscriber {
                campaign: ci,
                n,
                template,
                state,
                inserted_s,
            }
        })
    })
}

fn state_of(
    ci: usize,
    c: &Campaign,
    template: usize,
    h: u64,
    age: f64,
    inserted_s: f64,
) -> &'static str {
    let pending_for = 20.0 + 60.0 * unit(mix(h ^ 1));
    let scheduled_for = 30.0 + 60.0 * unit(mix(h ^ 2));
    let outcome_after = 30.0 + 120.0 * unit(mix(h ^ 3));
    if age < pending_for {
        return STATES[0];
    }
    if age < pending_for + scheduled_for {
        return STATES[1];
    }
    let sent_at = inserted_s + pending_for + scheduled_for;
    // A burst hits campaign (k mod 4) on its first template during minutes
    // [15k, 15k+3) of simulated time.
    let slot = (sent_at / BURST_EVERY_S).floor();
    let in_burst = sent_at - slot * BURST_EVERY_S < BURST_LENGTH_S
        && (slot as i64).rem_euclid(CAMPAIGNS.len() as i64) as usize == ci
        && template == c.templates[0];
    let error_p = if in_burst { 0.45 } else { c.error_base };
    let r = unit(mix(h ^ 4));
    if r < error_p {
        // Errors show at once: the dispatch itself failed.
        return STATES[5];
    }
    if age < pending_for + scheduled_for + outcome_after {
        return STATES[2];
    }
    let r = unit(mix(h ^ 5));
    if r < 0.07 {
        STATES[3]
    } else if r < 0.75 {
        STATES[4]
    } else {
        STATES[2]
    }
}

/// The personal data of a subscriber, as its record carries it: name,
/// phone number and CPF. Filters match it exactly.
fn personal(s: &Subscriber) -> (String, String, String) {
    let h = mix(((s.campaign as u64) << 40) ^ s.n ^ 0xABCD);
    let first = FIRST_NAMES[(h % 8) as usize];
    let last = LAST_NAMES[((h >> 8) % 8) as usize];
    let phone = 11_900_000_000 + (h >> 16) % 99_999_999;
    let cpf = (h >> 20) % 1_000_000_000;
    (
        format!("{first} {last}"),
        format!("55{phone}"),
        format!(
            "{:03}.{:03}.{:03}-{:02}",
            cpf / 1_000_000,
            (cpf / 1000) % 1000,
            cpf % 1000,
            h % 100
        ),
    )
}

/// The two values of the custom field `perfil` in the demo's records.
pub const PERFIS: [&str; 2] = [PERFIL_PJ, PERFIL_PF];
/// `perfil` of about a third of the subscribers.
pub const PERFIL_PJ: &str = "Pessoa Jurídica";
/// `perfil` of the others.
pub const PERFIL_PF: &str = "Pessoa Física";

/// A subscriber's custom field `perfil`: [`PERFIL_PJ`] for about a third
/// of them, [`PERFIL_PF`] for the rest, decided by its own hash (as its
/// other personal fields are), so it holds over time and across pages.
pub fn perfil(s: &Subscriber) -> &'static str {
    let h = mix(((s.campaign as u64) << 40) ^ s.n ^ 0x9E3F);
    if h.is_multiple_of(3) {
        PERFIL_PJ
    } else {
        PERFIL_PF
    }
}

/// UUIDs and names of the demo campaigns, for tests and the docs.
pub fn campaigns() -> impl Iterator<Item = (&'static str, &'static str)> {
    CAMPAIGNS.iter().map(|c| (c.uuid, c.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn campaigns_grow_and_move_through_the_states() {
        let early: Vec<_> = subscribers_at(0.0).collect();
        let later: Vec<_> = subscribers_at(600.0).collect();
        assert!(later.len() > early.len());
        for state in STATES {
            assert!(
                later.iter().any(|s| s.state == state),
                "no {state} subscriber"
            );
        }
        // A subscriber never goes back to pending.
        let young = later.iter().filter(|s| s.state == "pending").count();
        assert!(young < later.len() / 5);
    }

    #[test]
    fn bursts_raise_the_error_ratio() {
        let ratio = |t: f64| {
            let subs: Vec<_> = subscribers_at(t).filter(|s| s.campaign == 0).collect();
            subs.iter().filter(|s| s.state == "error").count() as f64 / subs.len() as f64
        };
        // Campaign 0 bursts during [0, 180) s of each hour-long cycle of 4 slots.
        assert!(ratio(3600.0 + 170.0) > ratio(3600.0 - 60.0));
    }

    #[test]
    fn about_a_third_are_pessoa_juridica_in_every_campaign() {
        let subs: Vec<_> = subscribers_at(0.0).collect();
        for ci in 0..CAMPAIGNS.len() {
            let of: Vec<_> = subs.iter().filter(|s| s.campaign == ci).collect();
            let pj = of.iter().filter(|s| perfil(s) == PERFIL_PJ).count();
            let share = pj as f64 / of.len() as f64;
            assert!((0.28..0.39).contains(&share), "campaign {ci}: {share}");
        }
        // A subscriber keeps its perfil as time goes by.
        let later: std::collections::HashMap<(usize, u64), &str> = subscribers_at(600.0)
            .map(|s| ((s.campaign, s.n), perfil(&s)))
            .collect();
        for s in &subs {
            assert_eq!(Some(&perfil(s)), later.get(&(s.campaign, s.n)));
        }
    }
}
