//! Integration tests: one binary (so it builds once), real databases, real processes.

mod broker;
mod people;
mod server;
mod support;

mod api;
mod architecture;
mod browser;
mod case_managers;
mod cli;
mod closed_loop;
mod concurrency;
mod console;
mod console_pages;
mod delivery;
mod edge;
mod examples;
mod fhir;
mod fhir_export;
mod gates;
mod handoff;
mod idempotency;
mod identity;
mod journey;
mod measures;
mod migrations;
mod notification_center;
mod one_view;
mod relay;
mod sign_in;
mod simulate;
mod skipping;
mod sso;
mod staff_pages;
mod timers;
mod tools;
