//! Operation catalog of the `mock` connector, embedded in the binary.

/// The catalog's YAML text; parsed once by `connectors::catalogs`.
pub const CATALOG: &str = include_str!("catalog.yaml");
