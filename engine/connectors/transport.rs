//! The one way to build an HTTP client: reqwest with rustls on the `ring` provider (no C
//! toolchain beyond ring's own, no OpenSSL), installed once per process before the first
//! client is built, and the platform's certificate store for verification.

use std::sync::Once;

/// A client builder with the crypto provider in place. Every reqwest client in Ledgerlink is
/// built from this (`clippy.toml` disallows the other constructors).
#[allow(clippy::disallowed_methods)]
pub fn builder() -> reqwest::ClientBuilder {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        // Fails only when another provider is already installed, which serves just as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
}

/// A client with default settings (tests and one-off calls).
pub fn client() -> reqwest::Client {
    builder().build().unwrap_or_default()
}
