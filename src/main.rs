//! The `evolux-exporter` binary: parse, validate, run; print the whole
//! error chain on failure.

use std::process::ExitCode;

use anyhow::Context;
use evolux_exporter::app::App;
use evolux_exporter::build_info::BUILD;
use evolux_exporter::config::{Cli, Config, Mode};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            // A bad flag is a bad configuration: exit 1, as --config.check promises.
            let _ = e.print();
            return ExitCode::FAILURE;
        }
        Err(e) => {
            // --help.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    if cli.version {
        print!("{}", BUILD.version_text("evolux-exporter"));
        return ExitCode::SUCCESS;
    }
    let mode = cli.mode();
    let config = match Config::load(cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("evolux-exporter: invalid configuration: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = match mode {
        Mode::Check => {
            print!("{}", config.summary());
            return ExitCode::SUCCESS;
        }
        Mode::Diagnose => diagnose(config),
        Mode::Serve => run(config).map(|()| true),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("evolux-exporter: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `--evolux.diagnose`: the report on stdout, logs on stderr; whether
/// every campaign can be counted exactly.
fn diagnose(config: Config) -> anyhow::Result<bool> {
    evolux_exporter::telemetry::init(config.log, std::io::stderr).context("setting up logging")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let diagnosis = runtime.block_on(evolux_exporter::app::diagnose::run(&config))?;
    print!("{diagnosis}");
    Ok(diagnosis.ok())
}

fn run(config: Config) -> anyhow::Result<()> {
    evolux_exporter::telemetry::init(config.log, std::io::stderr).context("setting up logging")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let mut listeners = Vec::new();
        for addr in &config.web.listen_addresses {
            let listener = addr
                .bind()
                .with_context(|| format!("listening on {addr} (--web.listen-address)"))?;
            listeners.push(listener);
        }
        let bound: Vec<String> = listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .map(|a| a.to_string())
            .collect();
        tracing::info!(
            address = %bound.join(","),
            version = BUILD.version,
            campaigns = config.campaigns.len(),
            demo = config.demo,
            "evolux-exporter started"
        );
        let app = App::build(config).await?.with_reload(Box::new(load_again));
        app.serve(listeners, shutdown_signal()).await
    })
}

/// The configuration loaded again as at start-up (a reload): the same
/// command line, the environment and the file it names.
fn load_again() -> Result<Config, String> {
    let cli = Cli::try_parse().map_err(|e| e.to_string())?;
    Config::load(cli).map_err(|e| e.to_string())
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
