//! Helpers shared by the integration tests.

pub mod dashboards;
pub mod tools;
