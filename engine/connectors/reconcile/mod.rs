//! The `reconcile` connector: settlement reconciliation as an operation flows call
//! (`reconcile.settlement`). It reads through the profile's `paytrace` and `sagepro` clients,
//! matches with `crate::reconcile`, writes the CSV and HTML report, and answers a summary the
//! flow posts fees and raises alerts from. Settings (profile `connectors.reconcile`):
//! `report_dir`, `fees: { percent, fixed }`, `lookback`.

pub mod client;
pub mod ops;
