//! The fast functional tests: one binary, one module per area.

#[path = "../support/mod.rs"]
mod support;

mod cli;
mod parser_properties;
mod poll;
mod privacy;
mod segments;
mod sharding;
mod streaming_limits;
mod upstream_fault_table;
mod upstream_faults;
mod web_config;
