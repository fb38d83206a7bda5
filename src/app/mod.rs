//! Wiring: from a [`Config`] to a running exporter. `main` and the tests
//! both start the exporter through [`App`]; [`reload`] applies a new
//! configuration while it runs.

pub mod diagnose;
pub mod reload;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::demo::{DemoOptions, DemoServer};
use crate::evolux::EvoluxClient;
use crate::metrics::SelfMetrics;
use crate::metrics::live::LiveMetrics;
use crate::poller::{Poller, Published};
use crate::server::{self, Endpoints, ReloadHook, StatusPage};
use crate::webconfig::WebConfigSource;
pub use reload::{ConfigLoader, Reloader};

/// A configured exporter, ready to serve.
pub struct App {
    /// The poller; tests call [`Poller::poll_once`] on it.
    pub poller: Arc<Poller>,
    /// What the server serves.
    pub published: Arc<Published>,
    config: Arc<Config>,
    /// The configuration as loaded, before the demo's address replaced the
    /// URL: what a reload compares with.
    loaded: Config,
    /// The scrape-time part of `/metrics`.
    pub live: Arc<LiveMetrics>,
    /// When the exporter was built to run: its uptime's start.
    started: std::time::SystemTime,
    /// Set by [`App::with_reload`]: SIGHUP and `POST /-/reload` use it.
    reloader: Option<Arc<Reloader>>,
    /// TLS and authentication for the server, when configured.
    web_config: Option<Arc<WebConfigSource>>,
    /// Kept alive for as long as the app: dropping it stops the demo API.
    _demo: Option<DemoServer>,
}

impl App {
    /// Builds the exporter; in demo mode, starts the demo upstream and
    /// points the client at it.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        App::build_with_demo(config, DemoOptions::default()).await
    }

    /// As [`App::build`], with the demo's knobs.
    pub async fn build_with_demo(
        mut config: Config,
        demo_options: DemoOptions,
    ) -> anyhow::Result<App> {
        let loaded = config.clone();
        let started = std::time::SystemTime::now();
        let demo = if config.demo {
            let demo = DemoServer::start(demo_options)
                .await
                .context("starting the demo upstream")?;
            config.evolux.url = demo.url().parse().context("demo upstream URL")?;
            tracing::info!(url = %config.evolux.url, "demo upstream started");
            Some(demo)
        } else {
            None
        };
        let web_config = config.web.security.clone();
        if let (Some(path), Some(source)) = (&config.web.config_file, &web_config) {
            tracing::info!(file = %path.display(), settings = %source.current().describe(), "web config loaded");
        }
        // When one is set (used or bypassed); shown without its credentials.
        if config.evolux.proxy.is_set() {
            tracing::info!(proxy = %config.evolux.proxy, "API proxy");
        }
        let config = Arc::new(config);
        let self_metrics = Arc::new(
            SelfMetrics::new(config.poll.max_interval.as_secs_f64())
                .context("registering self-metrics")?,
        );
        let client = EvoluxClient::new(
            &config.evolux,
            Arc::new(config.response.clone()),
            self_metrics.api.clone(),
        )
        .context("building the HTTP client")?;
        let published = Arc::new(Published::default());
        let poller = Arc::new(Poller::new(
            config.poll.clone(),
            config.poll_campaigns(),
            config.poll_views(),
            client,
            self_metrics,
            published.clone(),
        ));
        Ok(App {
            poller,
            published,
            config,
            loaded,
            live: Arc::new(LiveMetrics::new(started)),
            started,
            reloader: None,
            web_config,
            _demo: demo,
        })
    }

    /// Lets the exporter reload its configuration with `load` (SIGHUP, and
    /// `POST /-/reload` with `--web.enable-lifecycle`).
    pub fn with_reload(mut self, load: ConfigLoader) -> App {
        self.reloader = Some(Arc::new(Reloader::new(
            load,
            self.loaded.clone(),
            self.poller.clone(),
            self.live.clone(),
        )));
        self
    }

    /// The reloader, once [`App::with_reload`] set one.
    pub fn reloader(&self) -> Option<Arc<Reloader>> {
        self.reloader.clone()
    }

    /// Polls in the background and serves on every one of `listeners`
    /// until `shutdown` resolves; then stops polling and lets requests in
    /// progress finish. With a reloader, SIGHUP reloads the configuration.
    pub async fn serve(
        self,
        listeners: Vec<TcpListener>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let poll_thread = spawn_poll_thread(self.poller.clone(), stopped(stop_rx.clone()))
            .context("starting the poller thread")?;
        if let Some(reloader) = &self.reloader {
            spawn_reload_on_hangup(reloader.clone(), stopped(stop_rx.clone()))
                .context("listening for SIGHUP")?;
        }
        let endpoints = Endpoints {
            published: self.published.clone(),
            live: self.live.clone(),
            telemetry_path: self.config.web.telemetry_path.as_str().into(),
            reload: self
                .reloader
                .clone()
                .filter(|_| self.config.web.enable_lifecycle)
                .map(reload_hook),
            status: Arc::new(StatusPage::new(
                self.started,
                limits(&self.config),
                self.config.evolux.proxy.to_string(),
            )),
        };
        let server = tokio::spawn(server::serve(
            listeners,
            endpoints,
            server::ServerOptions {
                web_config: self.web_config.clone(),
            },
            stopped(stop_rx),
        ));
        shutdown.await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
        match tokio::task::spawn_blocking(move || poll_thread.join()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => tracing::error!("the poller thread panicked"),
            Err(e) => tracing::error!(error = %e, "waiting for the poller thread"),
        }
        server
            .await
            .context("server task")?
            .context("serving HTTP")?;
        Ok(())
    }
}

/// The limits the status page lists, by flag name.
fn limits(c: &Config) -> Vec<(String, String)> {
    use crate::config::units::{ByteSize, HumanDuration};
    let d = |d| HumanDuration(d).to_string();
    [
        ("poll.interval", d(c.poll.interval)),
        (
            "poll.max-interval (staleness bound)",
            d(c.poll.max_interval),
        ),
        ("poll.max-staleness", d(c.poll.max_staleness)),
        ("poll.max-series", c.poll.max_series.to_string()),
        ("evolux.timeout", d(c.evolux.timeout)),
        (
            "evolux.max-concurrency",
            c.evolux.max_concurrency.to_string(),
        ),
        ("evolux.max-rps", c.evolux.max_rps.to_string()),
        (
            "evolux.max-response-size",
            ByteSize(c.evolux.max_response_size).to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// `POST /-/reload` as the server calls it: the reload, off the runtime's
/// worker threads (it reads files).
fn reload_hook(reloader: Arc<Reloader>) -> ReloadHook {
    Arc::new(move || {
        let reloader = reloader.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || reloader.reload())
                .await
                .map_err(|e| format!("the reload task failed: {e}"))?
        })
    })
}

/// Reloads on each SIGHUP until `stop` resolves.
fn spawn_reload_on_hangup(
    reloader: Arc<Reloader>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = signal(SignalKind::hangup())?;
        tokio::spawn(async move {
            tokio::pin!(stop);
            loop {
                tokio::select! {
                    got = hangups.recv() => if got.is_none() { break },
                    _ = &mut stop => break,
                }
                tracing::info!("SIGHUP: reloading the configuration");
                let r = reloader.clone();
                // The outcome is logged and shown by the reload metrics.
                let _ = tokio::task::spawn_blocking(move || r.reload()).await;
            }
        });
    }
    #[cfg(not(unix))]
    drop((reloader, stop));
    Ok(())
}

/// Runs the poll loop on a thread of its own, with a single-threaded runtime.
///
/// Parsing a large response is CPU work that can take a core for seconds.
/// On the server's runtime it would share worker threads with `/metrics`
/// and push scrape latency up while a poll runs; on its own thread it only
/// competes through the OS scheduler, and a scrape is answered from the
/// published bytes at once (issue 5: p99 must not change during a poll).
fn spawn_poll_thread(
    poller: Arc<Poller>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("evolux-poller".into())
        .spawn(move || {
            lower_thread_priority();
            runtime.block_on(poller.run(shutdown))
        })
}

/// The nice value of the poller thread: background work, which the
/// scheduler should put behind the server (nice 0) when cores are scarce.
const POLLER_NICE: i32 = 10;

/// Lowers the calling thread's CPU priority to [`POLLER_NICE`].
///
/// On Linux a nice value belongs to a thread, so this leaves the server's
/// threads alone. Lowering one's own priority needs no privilege; if it
/// fails anyway, the poller runs at normal priority.
#[cfg(target_os = "linux")]
fn lower_thread_priority() {
    // SAFETY: both calls take plain integers and touch no memory of ours.
    let rc = unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, POLLER_NICE)
    };
    if rc != 0 {
        let error = std::io::Error::last_os_error();
        tracing::debug!(%error, "could not lower the poller thread's priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_thread_priority() {}
