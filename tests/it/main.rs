//! Integration tests: one binary (so it builds once), real databases, real processes.

mod broker;
mod server;
mod support;

mod api;
mod architecture;
mod case_managers;
mod cli;
mod concurrency;
mod delivery;
mod edge;
mod gates;
mod handoff;
mod idempotency;
mod journey;
mod migrations;
mod relay;
mod simulate;
mod timers;
