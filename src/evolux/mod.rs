//! The Evolux report API: the client ([`EvoluxClient`]) and what it needs:
//! query building, request limits, retries, the response layout and the
//! streaming body scanner.

pub mod body;
pub mod client;
pub mod error;
pub mod fields;
pub mod hints;
pub mod instruments;
pub mod json;
pub mod limiter;
pub mod pagination;
pub mod proxy;
pub mod query;
pub mod retry;
pub mod scanner;
mod transport;

pub use client::{ClientSettings, EvoluxClient, QueryStats};
pub use error::FetchError;
pub use instruments::ApiMetrics;
pub use proxy::ProxyChoice;
