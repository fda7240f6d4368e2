//! `carepath`, the application: configuration ([`config`]), the command line ([`cli`]) and
//! [`startup`], which builds the engine, the HTTP API and the background tasks from a
//! [`config::Config`]. `main.rs` only parses the command line and runs it; integration tests
//! build the application in-process.

pub mod cli;
pub mod config;
mod seed;
pub mod startup;
mod telemetry;
