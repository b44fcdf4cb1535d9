//! Ledgerlink: a declarative integration flow engine that keeps PayTrace and Sage Pro in sync.
//! Modules are listed in layer order; each depends only on those above it (see ARCHITECTURE.md).

pub mod diag;
pub mod model;
pub mod pci;
pub mod load;
pub mod script;
pub mod reconcile;
pub mod connectors;
pub mod lint;
pub mod plan;
pub mod store;
pub mod alerts;
pub mod runtime;
pub mod triggers;
pub mod server;
pub mod reload;
pub mod flowtest;
pub mod templates;
pub mod sandbox;
pub mod schemas;
pub mod cli;
