//! Helpers shared by the integration tests.

pub mod app;
pub mod dashboards;
pub mod prometheus;
pub mod tools;
