//! Integration tests, compiled into one binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli;
mod cli_durable;
mod connector_docs;
mod connector_logs;
mod connectors_http;
mod connectors_paytrace;
mod connectors_sagepro;
mod crash;
mod durable;
mod flows;
mod golden;
mod lint_golden;
mod malformed;
mod sandbox_faults;
mod sandbox_notifier;
mod sandbox_paytrace;
mod sandbox_sagepro;
mod sandbox_simulator;
mod scenarios;
mod poll;
mod reload;
mod schemas;
mod store_contract;
mod tidy;
mod webhook;
