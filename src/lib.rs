//! evolux-exporter: a Prometheus exporter for Evolux Chat campaigns.
//!
//! It polls the campaign-subscribers report API of an Evolux server in the
//! background, counts the subscribers of each campaign by template and
//! state while the response streams in, and serves the counts on
//! `/metrics` from bytes rendered once per poll.
//!
//! # Layout
//!
//! - [`config`]: the command line, environment and YAML file, merged into a
//!   validated [`config::Config`].
//! - [`token`]: the API token, from the environment or a re-read file, kept
//!   out of every log and error.
//! - [`evolux`]: the API client: query building, request limits, retries,
//!   pagination, gzip, and the streaming body scanner that counts records as
//!   bytes arrive.
//! - [`segments`]: each campaign's insertion-time segments, which reads are
//!   due, how they split, merge and are verified, and what fits a poll's
//!   request budget. Pure.
//! - [`aggregate`]: counting records, and the immutable
//!   [`aggregate::Snapshot`] that `/metrics` is rendered from.
//! - [`poller`]: the poll loop and its public [`poller::Poller::poll_once`],
//!   and each target's state ([`poller::target`]).
//! - [`metrics`]: snapshot and self-metrics into exposition bytes.
//! - [`server`]: the accept loop (plain or TLS, with bounds on slow and
//!   large requests) and the axum router: `/metrics`, `/healthz`,
//!   `/readyz`, `/`.
//! - [`io`]: the write-stall timeout around the server's connections.
//! - [`webconfig`]: `--web.config.file` (exporter-toolkit format), watched
//!   and reloaded when it or its certificates change.
//! - [`auth`]: client certificates and basic auth (bcrypt) per request.
//! - [`demo`]: the simulated Evolux API behind `--demo`.
//! - [`telemetry`]: logging in logfmt or JSON.
//! - [`app`]: wiring, used by `main` and by the tests.

pub mod app;
pub mod auth;
pub mod config;
pub mod demo;
pub mod evolux;
pub mod io;
pub mod metrics;
pub mod model;
pub mod poller;
pub mod segments;
pub mod server;
pub mod telemetry;
pub mod token;
pub mod webconfig;
