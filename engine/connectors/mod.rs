//! Connectors: one folder each, registered by one line in `REGISTRY`. Each folder holds its
//! operation catalog (`catalog.yaml`, read through `ops.rs`) and, for real services, its
//! settings (`config.rs`), HTTP client (`client.rs`) and answer classification (`errors.rs`).
//! `setup.rs` builds clients from a profile; `transport.rs` is the shared HTTP plumbing.
//! Connectors never sleep, loop or retry: the runtime owns that.

mod catalog;
pub mod client;
pub mod docs;
pub mod http;
pub mod mock;
pub mod paytrace;
pub mod reconcile;
pub mod redact;
pub mod sagepro;
pub mod setup;
pub mod token;
pub mod transport;

pub use catalog::{Catalog, CatalogError, OUTCOMES, Operation};
pub use client::{BoxFuture, CallContext, Clients, Connector, ConnectorError};

use std::sync::OnceLock;

/// One registered connector: its name, embedded catalog and client builder (`None` for the
/// mock, which tests script directly).
pub struct Registration {
    pub name: &'static str,
    pub catalog: &'static str,
    pub build: Option<setup::Builder>,
}

const fn register(
    name: &'static str,
    catalog: &'static str,
    build: Option<setup::Builder>,
) -> Registration {
    Registration {
        name,
        catalog,
        build,
    }
}

/// Every connector. Adding a connector adds one line here.
pub const REGISTRY: &[Registration] = &[
    register(
        "paytrace",
        paytrace::ops::CATALOG,
        Some(paytrace::client::PayTrace::build),
    ),
    register(
        "sagepro",
        sagepro::ops::CATALOG,
        Some(sagepro::client::SagePro::build),
    ),
    register("http", http::ops::CATALOG, Some(http::client::Http::build)),
    register("mock", mock::ops::CATALOG, None),
    register(
        "reconcile",
        reconcile::ops::CATALOG,
        Some(reconcile::client::Reconcile::build),
    ),
];

/// All catalogs, parsed once. A catalog that does not parse is a build defect caught by tests;
/// at runtime it is reported and left out rather than panicking.
pub fn catalogs() -> &'static [Catalog] {
    static ALL: OnceLock<Vec<Catalog>> = OnceLock::new();
    ALL.get_or_init(|| {
        REGISTRY
            .iter()
            .filter_map(|r| Catalog::from_yaml(r.name, r.catalog).ok())
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
        for r in REGISTRY {
            let (name, text) = (r.name, r.catalog);
            let cat = Catalog::from_yaml(name, text).unwrap();
            assert_eq!(cat.connector, name);
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
