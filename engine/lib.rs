//! Ledgerlink: a declarative integration flow engine that keeps PayTrace and Sage Pro in sync.
//! Modules are listed in layer order; each depends only on those above it (see ARCHITECTURE.md).

pub mod cli;
pub mod connectors;
pub mod diag;
pub mod lint;
pub mod load;
pub mod model;
pub mod schemas;
pub mod script;
