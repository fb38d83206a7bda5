//! The process's own figures (CPU, memory, file descriptors, start time),
//! read from `/proc/self` at scrape time, as the Prometheus client
//! libraries' process collectors do. Linux only; elsewhere there are none.
//!
//! The parsers are pure and tested on fixed text; [`ProcessStats::read`]
//! is the I/O at the edge.

/// What `process_*` reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessStats {
    /// User and system CPU time, in seconds.
    pub cpu_seconds: f64,
    /// Resident set size, in bytes.
    pub resident_bytes: u64,
    /// Virtual memory size, in bytes.
    pub virtual_bytes: u64,
    /// Open file descriptors.
    pub open_fds: u64,
    /// The soft limit on open file descriptors; `None` when unlimited.
    pub max_fds: Option<u64>,
    /// When the process started, in seconds since the Unix epoch.
    pub start_time_seconds: f64,
}

/// The fields of `/proc/<pid>/stat` that [`ProcessStats`] needs, in their
/// raw units (clock ticks, pages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// `utime` + `stime`, in clock ticks.
    pub cpu_ticks: u64,
    /// `starttime`: clock ticks after boot.
    pub start_ticks: u64,
    /// `vsize`, in bytes.
    pub virtual_bytes: u64,
    /// `rss`, in pages.
    pub resident_pages: u64,
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) is in parentheses
/// and may hold spaces and parentheses itself: fields are counted after
/// its last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let after = &text[text.rfind(')')? + 1..];
    // After the name: field 3 (state) is index 0.
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some(Stat {
        cpu_ticks: field(14)? + field(15)?,
        start_ticks: field(22)?,
        virtual_bytes: field(23)?,
        resident_pages: field(24)?,
    })
}

/// The boot time (`btime`) of `/proc/stat`, in seconds since the epoch.
pub fn parse_boot_time(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// The soft limit of "Max open files" in `/proc/<pid>/limits`: `Ok(None)`
/// when unlimited, `Err(())` when the line is missing or odd.
#[allow(clippy::result_unit_err)]
pub fn parse_max_fds(text: &str) -> Result<Option<u64>, ()> {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .ok_or(())?;
    match line.split_whitespace().next() {
        Some("unlimited") => Ok(None),
        Some(n) => n.parse().map(Some).map_err(|_| ()),
        None => Err(()),
    }
}

impl ProcessStats {
    /// Reads the figures of this process now; `None` off Linux or when
    /// `/proc` cannot be read.
    pub fn read() -> Option<ProcessStats> {
        #[cfg(target_os = "linux")]
        {
            read_linux()
        }
        #[cfg(not(target_os = "linux"))]
        {
            None
        }
    }
}

#[cfg(target_os = "linux")]
fn read_linux() -> Option<ProcessStats> {
    // SAFETY: sysconf takes an integer and touches no memory of ours.
    let (ticks, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    let (ticks, page) = (u64::try_from(ticks).ok()?, u64::try_from(page).ok()?);
    if ticks == 0 {
        return None;
    }
    let stat = parse_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
    let boot = parse_boot_time(&std::fs::read_to_string("/proc/stat").ok()?)?;
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    Some(ProcessStats {
        cpu_seconds: stat.cpu_ticks as f64 / ticks as f64,
        resident_bytes: stat.resident_pages * page,
        virtual_bytes: stat.virtual_bytes,
        open_fds,
        max_fds: parse_max_fds(&limits).ok()?,
        start_time_seconds: boot as f64 + stat.start_ticks as f64 / ticks as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real line, with a command name that holds `) (` to mislead a
    /// parser that splits at the first parenthesis.
    const STAT: &str = "4242 (evil) (name x) S 1 4242 4242 0 -1 4194560 2380 0 0 0 150 37 0 0 20 0 9 0 123456 1342177280 3072 18446744073709551615 1 1 0 0 0 0 0 4096 17990 0 0 0 17 1 0 0 0 0 0\n";

    #[test]
    fn stat_fields_are_counted_after_the_last_parenthesis() {
        assert_eq!(
            parse_stat(STAT),
            Some(Stat {
                cpu_ticks: 187,
                start_ticks: 123_456,
                virtual_bytes: 1_342_177_280,
                resident_pages: 3072,
            })
        );
        assert_eq!(parse_stat("4242 (truncated) S 1 2"), None);
        assert_eq!(parse_stat("no parenthesis"), None);
    }

    #[test]
    fn boot_time_and_fd_limits_parse() {
        let stat = "cpu  1 2 3\nintr 5\nbtime 1764660000\nprocesses 9\n";
        assert_eq!(parse_boot_time(stat), Some(1_764_660_000));
        assert_eq!(parse_boot_time("cpu 1\n"), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \nMax cpu time              unlimited            unlimited            seconds   \nMax open files            1024                 1048576              files     \n";
        assert_eq!(parse_max_fds(limits), Ok(Some(1024)));
        let unlimited = limits.replace("1024                 1048576", "unlimited unlimited");
        assert_eq!(parse_max_fds(&unlimited), Ok(None));
        assert_eq!(parse_max_fds("Max cpu time unlimited\n"), Err(()));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_figures() {
        let p = ProcessStats::read().expect("/proc is readable");
        assert!(p.resident_bytes > 0 && p.virtual_bytes >= p.resident_bytes);
        assert!(p.open_fds >= 3, "{p:?}");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(p.start_time_seconds <= now + 1.0 && p.start_time_seconds > now - 86_400.0 * 365.0);
    }
}
