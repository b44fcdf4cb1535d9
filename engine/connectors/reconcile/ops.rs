//! Operation catalog of the `reconcile` connector, embedded in the binary.

/// The catalog's YAML text; parsed once by `connectors::catalogs`.
pub const CATALOG: &str = include_str!("catalog.yaml");
