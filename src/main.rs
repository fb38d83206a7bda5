//! The `evolux-exporter` binary: parse, validate, run; print the whole
//! error chain on failure.

use std::process::ExitCode;

use anyhow::Context;
use evolux_exporter::app::App;
use evolux_exporter::config::{Cli, Config};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            // A bad flag is a bad configuration: exit 1, as --config.check promises.
            let _ = e.print();
            return ExitCode::FAILURE;
        }
        Err(e) => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    let check_only = cli.config_check;
    let config = match Config::load(cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("evolux-exporter: invalid configuration: {e}");
            return ExitCode::FAILURE;
        }
    };
    if check_only {
        print!("{}", config.summary());
        return ExitCode::SUCCESS;
    }
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("evolux-exporter: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: Config) -> anyhow::Result<()> {
    evolux_exporter::telemetry::init(config.log, std::io::stderr).context("setting up logging")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let addr = config.web.listen_address;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {addr} (--web.listen-address)"))?;
        tracing::info!(
            address = %listener.local_addr().unwrap_or(addr),
            version = env!("CARGO_PKG_VERSION"),
            campaigns = config.campaigns.len(),
            demo = config.demo,
            "evolux-exporter started"
        );
        let app = App::build(config).await?;
        app.serve(listener, shutdown_signal()).await
    })
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
