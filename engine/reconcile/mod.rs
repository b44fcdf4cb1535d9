//! Settlement reconciliation: one day's PayTrace card batches and their transactions matched
//! to the Sage Pro payments that claim them (`PT-<transaction id>`), fees computed by the
//! profile's schedule, and a report (CSV and HTML) of what matched and what did not. Pure: the
//! `reconcile` connector fetches the inputs and writes the files.

pub mod matching;
pub mod report;

pub use matching::{
    Batch, Category, FeeSchedule, Reconciliation, Row, SagePayment, Settled, reconcile,
};
