//! TLS to PostgreSQL: which certificate authorities a node trusts.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::StoreError;

/// A client configuration trusting the system's certificate authorities
/// and those in the PEM file `ca`.
pub fn client_config(ca: Option<&Path>) -> Result<rustls::ClientConfig, StoreError> {
    let mut roots = rustls::RootCertStore::empty();
    // A system without a certificate store still works with `ca`.
    let system = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(system.certs);
    if let Some(path) = ca {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| {
                StoreError::Failed(format!(
                    "cannot read the database CA file {}: {e}",
                    path.display()
                ))
            })?;
        if certs.is_empty() {
            return Err(StoreError::Failed(format!(
                "the database CA file {} holds no certificate",
                path.display()
            )));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| {
                StoreError::Failed(format!(
                    "the database CA file {} holds an unusable certificate: {e}",
                    path.display()
                ))
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Failed(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}
