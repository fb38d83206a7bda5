//! `rate_limit` as written into [`RateLimit`]: Go durations (`1s`,
//! `500ms`, `1m30s`, or a bare number of nanoseconds) and the burst.

use std::path::Path;
use std::time::Duration;

use super::raw::{RawDuration, RawRateLimit};
use super::{RateLimit, WebConfigError, field_error};

/// The limit of `raw`; `None` when absent or its interval is zero (as the
/// exporter-toolkit: zero disables it). A burst of zero with an interval,
/// which would refuse every request, is refused.
pub(super) fn rate_limit(
    path: &Path,
    raw: Option<RawRateLimit>,
) -> Result<Option<RateLimit>, WebConfigError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let interval = match raw.interval {
        None => Duration::ZERO,
        Some(RawDuration::Nanos(n)) => Duration::from_nanos(n),
        Some(RawDuration::Text(t)) => go_duration(&t).ok_or_else(|| {
            field_error(
                path,
                "rate_limit.interval",
                format!("{t:?} is not a duration (such as 1s, 500ms or 1m30s)"),
            )
        })?,
    };
    if interval.is_zero() {
        return Ok(None);
    }
    match raw.burst {
        Some(burst) if burst > 0 => Ok(Some(RateLimit { interval, burst })),
        _ => Err(field_error(
            path,
            "rate_limit.burst",
            "must be at least 1 when interval is set (0 would refuse every request)",
        )),
    }
}

/// A Go duration: a sequence of decimal numbers, each with a unit (`ns`,
/// `us`, `µs`, `ms`, `s`, `m`, `h`), or `0`. Negative durations are not
/// durations here.
pub(super) fn go_duration(text: &str) -> Option<Duration> {
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per = match &rest[..unit_len] {
            "ns" => 1e0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * nanos_per;
    }
    Duration::try_from_secs_f64(total / 1e9).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_are_read_as_go_reads_them() {
        assert_eq!(go_duration("1s"), Some(Duration::from_secs(1)));
        assert_eq!(go_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(go_duration("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(go_duration("0"), Some(Duration::ZERO));
        for bad in ["", "1", "s", "1x", "-1s", "1s2"] {
            assert_eq!(go_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn zero_or_absent_interval_disables_and_zero_burst_is_refused() {
        let p = Path::new("/w.yml");
        let raw = |interval: Option<RawDuration>, burst| RawRateLimit { interval, burst };
        assert_eq!(rate_limit(p, None).ok(), Some(None));
        assert_eq!(rate_limit(p, Some(raw(None, Some(3)))).ok(), Some(None));
        assert_eq!(
            rate_limit(p, Some(raw(Some(RawDuration::Nanos(0)), Some(3)))).ok(),
            Some(None)
        );
        assert_eq!(
            rate_limit(p, Some(raw(Some(RawDuration::Text("2s".into())), Some(3)))).ok(),
            Some(Some(RateLimit {
                interval: Duration::from_secs(2),
                burst: 3
            }))
        );
        let e = rate_limit(p, Some(raw(Some(RawDuration::Text("1s".into())), Some(0))))
            .expect_err("burst 0")
            .to_string();
        assert!(e.contains("rate_limit.burst: must be at least 1"), "{e}");
        let e = rate_limit(
            p,
            Some(raw(Some(RawDuration::Text("soon".into())), Some(1))),
        )
        .expect_err("bad interval")
        .to_string();
        assert!(
            e.contains("rate_limit.interval: \"soon\" is not a duration"),
            "{e}"
        );
    }
}
