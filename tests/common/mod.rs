//! Helpers shared by the integration tests.

pub mod app;
pub mod dashboards;
pub mod tools;
