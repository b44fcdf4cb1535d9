//! The `http` connector: generic JSON over HTTP for systems without a dedicated connector.
//! Operations and their input/output schemas are in `catalog.yaml` (published as
//! `schemas/connectors/http.json`); flows call them as `http.<operation>`.

pub mod ops;
