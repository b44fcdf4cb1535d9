//! The `paytrace` connector: the PayTrace JSON API v1 (OAuth2 password grant, card and ACH
//! transactions, customer vault, exports). Card fields (`x-card-data` in the catalog) may only be
//! sent here, never to the ERP.
//! Operations and their input/output schemas are in `catalog.yaml` (published as
//! `schemas/connectors/paytrace.json`); flows call them as `paytrace.<operation>`.

pub mod ops;
