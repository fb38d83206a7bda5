//! [`WebConfigSource`]: the settings in force, and the watch that reloads
//! them when the web config file or a file it names changes, as seen by
//! each file's [`Stamp`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use super::raw::RawWebConfig;
use super::{WebConfigError, WebSecurity, field_error, load};

/// What identifies one version of a file on disk: size, modification
/// time, and on Unix the inode and change time (which a copy that keeps
/// the modification time still moves).
pub(super) type Stamp = Option<(u64, SystemTime, u64, i64, i64)>;

/// The stamp of the file at `path` now; `None` when it cannot be looked at.
pub(super) fn stamp(path: &Path) -> Stamp {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let (inode, ctime, ctime_nsec) = {
        use std::os::unix::fs::MetadataExt;
        (m.ino(), m.ctime(), m.ctime_nsec())
    };
    #[cfg(not(unix))]
    let (inode, ctime, ctime_nsec) = (0, 0, 0);
    Some((m.len(), m.modified().ok()?, inode, ctime, ctime_nsec))
}

/// The file's current settings, reloaded when it or a file it names changes.
#[derive(Debug)]
pub struct WebConfigSource {
    path: PathBuf,
    current: RwLock<Arc<WebSecurity>>,
    state: Mutex<WatchState>,
}

#[derive(Debug)]
struct WatchState {
    /// Stamps of the web config and of the files it names.
    stamps: Vec<(PathBuf, Stamp)>,
    last_check: Instant,
}

/// How often the files are looked at, at most.
const CHECK_EVERY: Duration = Duration::from_secs(1);

impl WebConfigSource {
    /// Loads the file; an error here stops start-up.
    pub fn open(path: &Path) -> Result<WebConfigSource, WebConfigError> {
        // Stamps first: a change while loading is seen at the next check.
        let stamps = watched_stamps(path);
        let security = load(path)?;
        Ok(WebConfigSource {
            path: path.to_owned(),
            current: RwLock::new(Arc::new(security)),
            state: Mutex::new(WatchState {
                stamps,
                last_check: Instant::now(),
            }),
        })
    }

    /// The settings in force, after reloading them if the files changed
    /// (looked at no more than once a second).
    pub fn current(&self) -> Arc<WebSecurity> {
        self.reload_if_changed();
        self.in_force()
    }

    /// The settings in force, without looking at the files.
    fn in_force(&self) -> Arc<WebSecurity> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn reload_if_changed(&self) {
        // One caller looks at the files; the others go on with the
        // settings in force rather than wait on the file system.
        let Ok(mut state) = self.state.try_lock() else {
            return;
        };
        if state.last_check.elapsed() < CHECK_EVERY {
            return;
        }
        state.last_check = Instant::now();
        if !any_changed(&state.stamps) {
            return;
        }
        // Stamps are taken before reading, so a write during the reload is
        // seen at the next check.
        state.stamps = watched_stamps(&self.path);
        let previous_tls = self.in_force().tls.is_some();
        match reload(&self.path, previous_tls) {
            Ok(security) => {
                tracing::info!(file = %self.path.display(), settings = %security.describe(), "web config reloaded");
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(security);
            }
            Err(error) => {
                tracing::error!(%error, "web config not reloaded: keeping the previous settings");
            }
        }
    }
}

/// Loads the file at `path` again, for settings in force that had TLS
/// (`previous_tls`) or not. An empty file is refused (being rewritten in
/// place, or emptied by mistake: it would mean no TLS and no users), and
/// so is a switch between TLS and plain HTTP.
pub(super) fn reload(path: &Path, previous_tls: bool) -> Result<WebSecurity, WebConfigError> {
    let security = match std::fs::metadata(path) {
        Ok(m) if m.len() == 0 => Err(field_error(path, "(top level)", "the file is empty")),
        _ => load(path),
    }?;
    if security.tls.is_some() != previous_tls {
        return Err(field_error(
            path,
            "tls_server_config",
            "switching between TLS and plain HTTP needs a restart",
        ));
    }
    Ok(security)
}

/// Whether a file's stamp differs from the one recorded.
fn any_changed(stamps: &[(PathBuf, Stamp)]) -> bool {
    stamps.iter().any(|(p, s)| stamp(p) != *s)
}

/// The watched files of the web config at `path`, each with its stamp now.
fn watched_stamps(path: &Path) -> Vec<(PathBuf, Stamp)> {
    watched_files(path)
        .into_iter()
        .map(|p| {
            let s = stamp(&p);
            (p, s)
        })
        .collect()
}

/// The web config file and the certificate files it names (those that can
/// be found; a file that cannot be parsed is watched by itself).
pub(super) fn watched_files(path: &Path) -> Vec<PathBuf> {
    let mut files = vec![path.to_owned()];
    let dir = path.parent().unwrap_or(Path::new("."));
    let raw: Option<RawWebConfig> = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_yaml::from_str(&t).ok());
    if let Some(tls) = raw.and_then(|r| r.tls_server_config) {
        files.extend(tls.named_files().map(|f| dir.join(f)));
    }
    files
}
