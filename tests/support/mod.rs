//! Helpers shared by the integration tests.

pub mod app;
pub mod dashboards;
pub mod exporter;
pub mod faults;
pub mod prometheus;
pub mod ranged;
pub mod tools;
