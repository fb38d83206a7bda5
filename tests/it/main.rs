//! The fast functional tests: one binary, one module per area.

#[path = "../support/mod.rs"]
mod support;

// The parts of tests/support this binary uses besides support/mod.rs.
#[path = "../support/app.rs"]
mod app;
#[path = "../support/demo_pages.rs"]
mod demo_pages;
#[path = "../support/exporter_once.rs"]
mod exporter_once;
#[path = "../support/exporter_sigterm.rs"]
mod exporter_sigterm;
#[path = "../support/faults.rs"]
mod faults;
#[path = "../support/mock_api.rs"]
mod mock_api;
#[path = "../support/paged.rs"]
mod paged;
#[path = "../support/ranged.rs"]
mod ranged;

mod cli;
mod conventions;
mod diagnose;
mod first_reads;
mod pagination;
mod parser_properties;
mod poll;
mod privacy;
mod proxy;
mod readme_quotes;
mod segments;
mod sharding;
mod streaming_limits;
mod upstream_fault_table;
mod upstream_faults;
mod views;
mod views_demo;
mod web_config;
