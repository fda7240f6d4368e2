//! Integration tests: one binary (so it builds once), real databases, real processes.

mod support;

mod cli;
mod concurrency;
mod gates;
mod idempotency;
mod journey;
mod timers;
