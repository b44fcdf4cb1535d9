//! The `http` connector: generic JSON over HTTP for systems without a dedicated connector
//! (an eCommerce platform, an alert webhook). Operations and their input/output schemas are in
//! `catalog.yaml` (published as `schemas/connectors/http.json`, documented in
//! `docs/connectors/http.md`); flows call them as `http.<operation>`. Settings (profile
//! `connectors.http`): `timeout`, `headers` (values may be secret references).

pub mod client;
pub mod errors;
pub mod ops;
