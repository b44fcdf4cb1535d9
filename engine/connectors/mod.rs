//! Connectors: one folder each, registered by one line in `REGISTRY`. Today each folder holds
//! its operation catalog (`catalog.yaml`, read through `ops.rs`); clients come with the HTTP
//! connector issue. Connectors never sleep, loop or retry: the runtime owns that.

mod catalog;
pub mod client;
pub mod http;
pub mod mock;
pub mod paytrace;
pub mod sagepro;
pub mod transport;

pub use catalog::{Catalog, CatalogError, OUTCOMES, Operation};
pub use client::{BoxFuture, CallContext, Clients, Connector, ConnectorError};

use std::sync::OnceLock;

/// Every connector: name and its embedded catalog. Adding a connector adds one line here.
pub const REGISTRY: &[(&str, &str)] = &[
    ("paytrace", paytrace::ops::CATALOG),
    ("sagepro", sagepro::ops::CATALOG),
    ("http", http::ops::CATALOG),
    ("mock", mock::ops::CATALOG),
];

/// All catalogs, parsed once. A catalog that does not parse is a build defect caught by tests;
/// at runtime it is reported and left out rather than panicking.
pub fn catalogs() -> &'static [Catalog] {
    static ALL: OnceLock<Vec<Catalog>> = OnceLock::new();
    ALL.get_or_init(|| {
        REGISTRY
            .iter()
            .filter_map(|(name, text)| Catalog::from_yaml(name, text).ok())
            .collect()
    })
}

pub fn catalog(connector: &str) -> Option<&'static Catalog> {
    catalogs().iter().find(|c| c.connector == connector)
}

/// Resolve `connector.operation`.
pub fn operation(qualified: &str) -> Option<(&'static Catalog, &'static Operation)> {
    let (c, o) = qualified.split_once('.')?;
    let cat = catalog(c)?;
    Some((cat, cat.operation(o)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_catalog_parses_and_is_named_after_its_folder() {
        for (name, text) in REGISTRY {
            let cat = Catalog::from_yaml(name, text).unwrap();
            assert_eq!(&cat.connector, name);
            for op in &cat.operations {
                for o in &op.outcomes {
                    assert!(
                        OUTCOMES.contains(&o.as_str()),
                        "{name}.{}: outcome {o}",
                        op.name
                    );
                }
                jsonschema::validator_for(&op.input).unwrap();
            }
        }
        assert_eq!(catalogs().len(), REGISTRY.len());
    }
}
