//! Reloading the configuration while running (SIGHUP, `POST /-/reload`):
//! load it again as at start-up; if it loads, hand the poller its new
//! campaigns (the next poll takes them in) and name the settings that only
//! a restart changes; if not, log why and keep the last good configuration.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::config::Config;
use crate::config::restart::needs_restart;
use crate::metrics::live::LiveMetrics;
use crate::poller::Poller;

/// Loads the configuration again, as at start-up: the command line, the
/// environment and `--config.file`; `Err` says why it does not load.
pub type ConfigLoader = Box<dyn Fn() -> Result<Config, String> + Send + Sync>;

/// Applies reloads, one at a time.
pub struct Reloader {
    load: ConfigLoader,
    /// The configuration as loaded at start-up (before the demo, if any,
    /// put its address in): what settings that need a restart are
    /// compared with.
    started_with: Config,
    poller: Arc<Poller>,
    live: Arc<LiveMetrics>,
    one_at_a_time: Mutex<()>,
}

impl Reloader {
    /// A reloader of `poller`'s campaigns, reporting to `live`.
    pub fn new(
        load: ConfigLoader,
        started_with: Config,
        poller: Arc<Poller>,
        live: Arc<LiveMetrics>,
    ) -> Reloader {
        Reloader {
            load,
            started_with,
            poller,
            live,
            one_at_a_time: Mutex::new(()),
        }
    }

    /// Loads and applies the configuration (blocking: it reads files).
    /// `Err` says why it was refused.
    pub fn reload(&self) -> Result<(), String> {
        let _one = self.one_at_a_time.lock().unwrap_or_else(|e| e.into_inner());
        let new = match (self.load)() {
            Ok(new) => new,
            Err(reason) => {
                self.live.reload_failed();
                tracing::error!(error = %reason, "reload refused: the configuration does not load; the last good one keeps running");
                return Err(reason);
            }
        };
        let fixed = needs_restart(&self.started_with, &new);
        if !fixed.is_empty() {
            tracing::warn!(
                settings = %fixed.join(","),
                "reload: these settings change only at a restart; they keep their running values"
            );
        }
        let campaigns = new.poll_campaigns();
        let views = new.poll_views();
        tracing::info!(
            campaigns = campaigns.len(),
            views = views.len(),
            "configuration reloaded; the next poll takes the campaigns and views in"
        );
        self.poller.set_campaigns(campaigns, views);
        self.live.reload_succeeded(SystemTime::now());
        Ok(())
    }
}
