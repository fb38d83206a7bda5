//! Logging: tracing with a logfmt or JSON formatter on stderr.
//!
//! What is logged is chosen where it is logged: campaign UUIDs, counts,
//! durations and error reasons, never the token, a query string or a
//! record's content.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

use clap::ValueEnum;

/// Logging.
#[derive(Debug, Clone, Copy)]
pub struct LogConfig {
    /// Least severe level written.
    pub level: LogLevel,
    /// Line format.
    pub format: LogFormat,
}

/// How verbose the logs are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Errors and warnings, e.g. a failing campaign.
    Warn,
    /// One line per poll plus the above.
    Info,
    /// Requests and retries.
    Debug,
    /// Everything.
    Trace,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `key=value` pairs, one line per event.
    Logfmt,
    /// One JSON object per line.
    Json,
}

impl std::str::FromStr for LogLevel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        <Self as ValueEnum>::from_str(s, true)
    }
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        <Self as ValueEnum>::from_str(s, true)
    }
}

fn level_filter(level: LogLevel) -> tracing::level_filters::LevelFilter {
    use tracing::level_filters::LevelFilter;
    match level {
        LogLevel::Error => LevelFilter::ERROR,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Trace => LevelFilter::TRACE,
    }
}

/// Installs the global subscriber writing to `writer`. Logs of dependencies
/// (hyper, reqwest) are kept at warn unless the level is trace.
pub fn init<W>(config: LogConfig, writer: W) -> Result<(), tracing_subscriber::util::TryInitError>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let own = level_filter(config.level);
    let filter = tracing_subscriber::filter::Targets::new()
        .with_default(if config.level == LogLevel::Trace {
            own
        } else {
            own.min(tracing::level_filters::LevelFilter::WARN)
        })
        .with_target("evolux_exporter", own);
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(false);
    match config.format {
        LogFormat::Json => tracing_subscriber::registry()
            .with(filter)
            .with(layer.json().flatten_event(true).with_current_span(false))
            .try_init(),
        LogFormat::Logfmt => tracing_subscriber::registry()
            .with(filter)
            .with(layer.event_format(Logfmt))
            .try_init(),
    }
}

/// `ts=… level=… target=… msg="…" key=value …`, one line per event.
#[derive(Debug, Clone, Copy, Default)]
pub struct Logfmt;

impl<S, N> FormatEvent<S, N> for Logfmt
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        write!(
            w,
            "ts={} level={} target={}",
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            meta.level().as_str().to_ascii_lowercase(),
            meta.target()
        )?;
        let mut visitor = LogfmtVisitor { out: String::new() };
        event.record(&mut visitor);
        writeln!(w, "{}", visitor.out)
    }
}

struct LogfmtVisitor {
    out: String,
}

impl LogfmtVisitor {
    fn push(&mut self, key: &str, value: &str) {
        let key = if key == "message" { "msg" } else { key };
        self.out.push(' ');
        self.out.push_str(key);
        self.out.push('=');
        push_logfmt_value(&mut self.out, value);
    }
}

/// Appends a value, quoted and escaped when it holds spaces, quotes, `=` or
/// control characters.
pub fn push_logfmt_value(out: &mut String, value: &str) {
    let plain = !value.is_empty()
        && !value
            .chars()
            .any(|c| c == ' ' || c == '"' || c == '=' || c == '\\' || c.is_control());
    if plain {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

impl Visit for LogfmtVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field.name(), value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field.name(), &format!("{value:?}"));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let mut text = value.to_string();
        let mut source = value.source();
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        self.push(field.name(), &text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logfmt_values_are_quoted_when_needed() {
        let mut s = String::new();
        push_logfmt_value(&mut s, "plain");
        s.push(' ');
        push_logfmt_value(&mut s, "two words \"q\" a=b\n");
        s.push(' ');
        push_logfmt_value(&mut s, "");
        assert_eq!(s, r#"plain "two words \"q\" a=b\n" """#);
    }
}
