//! What `--config.check` prints: the configuration as the exporter will
//! run it, with no token and no personal filter values.

use std::fmt;

use super::units::{ByteSize, HumanDuration};
use super::{Campaign, Config, Filters, shard};

/// Display of a config for `--config.check`.
pub(crate) struct Summary<'a>(pub(crate) &'a Config);

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.0;
        writeln!(f, "configuration OK")?;
        if let Some(path) = &c.config_file {
            writeln!(f, "  config file:        {}", path.display())?;
        }
        if c.demo {
            writeln!(f, "  upstream:           built-in demo (--demo)")?;
        } else {
            writeln!(f, "  evolux.url:         {}", c.evolux.url)?;
        }
        writeln!(f, "  token:              {}", c.evolux.token.describe())?;
        if let Some(ca) = &c.evolux.ca_file {
            writeln!(
                f,
                "  extra CA file:      {} ({} certificates)",
                ca.display(),
                c.evolux.ca_certificates.len()
            )?;
        }
        writeln!(f, "  proxy:              {}", c.evolux.proxy)?;
        writeln!(
            f,
            "  requests:           timeout {}, {} at once, {} per second, {} retries, max body {}",
            HumanDuration(c.evolux.timeout),
            c.evolux.max_concurrency,
            c.evolux.max_rps,
            c.evolux.max_retries,
            ByteSize(c.evolux.max_response_size)
        )?;
        writeln!(
            f,
            "  poll:               every {}, window {}, stale after {}, at most {} series",
            HumanDuration(c.poll.interval),
            c.poll
                .window
                .map_or("all time".into(), |w| HumanDuration(w).to_string()),
            HumanDuration(c.poll.max_staleness),
            c.poll.max_series
        )?;
        let segments = if c.poll.max_interval > c.poll.interval {
            format!(
                "segmented: each read again within {} (poll.max-interval)",
                HumanDuration(c.poll.max_interval)
            )
        } else {
            "not segmented: every campaign read whole every poll (poll.max-interval = poll.interval)".into()
        };
        writeln!(f, "  segments:           {segments}")?;
        writeln!(
            f,
            "  verification:       {}",
            match c.poll.verify_interval {
                Some(v) if c.poll.max_interval > c.poll.interval => format!(
                    "once segments are laid out, then every {} (poll.verify-interval)",
                    HumanDuration(v)
                ),
                Some(_) => "not needed (not segmented)".into(),
                None => "off (poll.verify-interval 0)".into(),
            }
        )?;
        let views = c.poll_views().len();
        let targets = c.owned_campaigns().count().max(1) + views;
        writeln!(
            f,
            "  request budget:     {} reads a poll (80% of {} per second over {}), for {} {}{}",
            c.poll.budget,
            c.evolux.max_rps,
            HumanDuration(c.poll.interval),
            c.owned_campaigns().count().max(1),
            if c.campaigns.is_empty() {
                "discovery target"
            } else {
                "campaigns"
            },
            match views {
                0 => String::new(),
                n => format!(" and {n} views"),
            },
        )?;
        if let Some(note) = c.poll.budget_note(targets) {
            writeln!(f, "  warning:            {note}")?;
        }
        writeln!(
            f,
            "  a poll's reads:     cut after {} without progress, or {} after the poll began",
            HumanDuration(c.evolux.timeout),
            HumanDuration(c.poll.deadline)
        )?;
        writeln!(
            f,
            "  listen:             {} (metrics at {})",
            c.web
                .listen_addresses
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" "),
            c.web.telemetry_path
        )?;
        if c.web.enable_lifecycle {
            writeln!(
                f,
                "  lifecycle:          POST /-/reload re-reads the configuration (as SIGHUP does)"
            )?;
        }
        if let (Some(path), Some(security)) = (&c.web.config_file, &c.web.security) {
            let settings = security.current().describe();
            writeln!(f, "  web config file:    {} ({settings})", path.display())?;
            writeln!(
                f,
                "  web config departs from the exporter-toolkit on purpose:"
            )?;
            write!(f, "{}", crate::webconfig::departure_lines("    "))?;
        }
        if c.campaigns.is_empty() {
            writeln!(
                f,
                "  campaigns:          none configured: discovered from the records"
            )?;
        } else {
            writeln!(f, "  campaigns:          {}", c.campaigns.len())?;
            if c.shard.count > 1 {
                writeln!(
                    f,
                    "  shard:              index {} of {} (0-based): polls {} of the {} campaigns; the others below are other replicas'",
                    c.shard.index,
                    c.shard.count,
                    c.owned_campaigns().count(),
                    c.campaigns.len()
                )?;
            }
            for camp in c.owned_campaigns() {
                let extra = campaign_details(c, camp);
                if extra.is_empty() {
                    writeln!(f, "    - {}", camp.uuid)?;
                } else {
                    writeln!(f, "    - {} ({})", camp.uuid, extra.join(", "))?;
                }
            }
            for camp in c.campaigns.iter().filter(|x| !c.shard.owns(&x.uuid)) {
                let other = shard::shard_of(&camp.uuid, c.shard.count);
                writeln!(f, "    - {} (shard {other}'s, not polled here)", camp.uuid)?;
            }
            for camp in c.owned_campaigns() {
                let narrowing = narrowing_filters(&camp.filters);
                if !narrowing.is_empty() {
                    writeln!(
                        f,
                        "  warning:            campaign {} has filters ({}): evolux_campaign_subscribers then counts only part of it, and its error and delivery ratios are those of that part; to count a segment beside the whole campaign, configure a view (views:) instead",
                        camp.uuid,
                        narrowing.join(", ")
                    )?;
                }
            }
        }
        self.views(f)
    }
}

impl Summary<'_> {
    /// The views: name, campaigns, window, filters (keys only where the
    /// value may be personal).
    fn views(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.0;
        if c.views.is_empty() {
            return Ok(());
        }
        writeln!(f, "  views:              {}", c.views.len())?;
        let polled = c.poll_views();
        for view in &c.views {
            let Some(v) = polled.iter().find(|p| p.name == view.name) else {
                writeln!(f, "    - {} (another shard's, not polled here)", view.name)?;
                continue;
            };
            let mut extra = vec![match v.campaigns.len() {
                0 => "every campaign".to_string(),
                1 => format!("campaign {}", v.campaigns[0]),
                n => format!("{n} campaigns"),
            }];
            if let Some(w) = v.window {
                extra.push(format!("window {}", HumanDuration(w)));
            }
            extra.extend(filter_details(&v.filters));
            writeln!(f, "    - {} ({})", v.name, extra.join(", "))?;
        }
        Ok(())
    }
}

/// The filters that narrow a campaign to part of its subscribers (not
/// the insertion window, not the time zone), by key.
fn narrowing_filters(fl: &Filters) -> Vec<&'static str> {
    [
        ("state", fl.state.is_some()),
        ("template_uuid", fl.template_uuid.is_some()),
        ("conversation_field", fl.conversation_field.is_some()),
        ("phone_number", fl.phone_number.is_some()),
        ("name", fl.name.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, set)| set.then_some(k))
    .collect()
}

/// What the summary says of one campaign besides its UUID: no personal
/// filter value.
fn campaign_details(c: &Config, camp: &Campaign) -> Vec<String> {
    let mut extra = Vec::new();
    if let Some(name) = &camp.name {
        extra.push(format!("name {name:?}"));
    }
    if let Some(w) = c.window_of(camp) {
        extra.push(format!("window {}", HumanDuration(w)));
    }
    extra.extend(filter_details(&camp.filters));
    extra
}

/// The filters, keys with the values that are no personal data.
fn filter_details(fl: &Filters) -> Vec<String> {
    let mut extra = Vec::new();
    if let Some(s) = &fl.state {
        extra.push(format!("state={s}"));
    }
    if let Some(t) = &fl.template_uuid {
        extra.push(format!("template_uuid={t}"));
    }
    if let Some(tz) = &fl.timezone {
        extra.push(format!("timezone={tz}"));
    }
    if let Some((k, _)) = &fl.conversation_field {
        extra.push(format!("conversation_field_key={k} (value hidden)"));
    }
    if fl.phone_number.is_some() {
        extra.push("phone_number (hidden)".into());
    }
    if fl.name.is_some() {
        extra.push("name (hidden)".into());
    }
    if let Some(s) = &fl.start {
        extra.push(format!("start={}", s.to_rfc3339()));
    }
    if let Some(e) = &fl.end {
        extra.push(format!("end={}", e.to_rfc3339()));
    }
    extra
}
