//! Connecting over TLS (rustls): the server's certificate is checked
//! against a CA file or, without one, the system's trusted roots.

use std::path::PathBuf;
use std::sync::Arc;

use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, RootCertStore};

use crate::error::ClientError;

/// How to check the server's certificate.
#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    /// PEM file of the certificate authorities to trust (for a server with a
    /// certificate from `chinwagd cert`, its `ca.pem`). `None`: the
    /// system's trusted roots.
    pub ca_file: Option<PathBuf>,
    /// The name the certificate must be valid for. `None`: the host part
    /// of the address connected to.
    pub server_name: Option<String>,
}

/// Builds a connector that trusts what `opts` says.
pub fn connector(opts: &TlsOptions) -> Result<TlsConnector, ClientError> {
    let mut roots = RootCertStore::empty();
    match &opts.ca_file {
        Some(path) => {
            let bad = |e: &dyn std::fmt::Display| {
                ClientError::InvalidInput(format!("CA file {}: {e}", path.display()))
            };
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| bad(&e))?;
            if certs.is_empty() {
                return Err(bad(&"no certificate in it"));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| bad(&e))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _ignored) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(ClientError::InvalidInput(
                    "no trusted root certificates found on this system; give a CA file".into(),
                ));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::InvalidInput(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// The name to verify for `addr` (`host:port`, `[v6]:port`).
pub fn server_name(addr: &str, opts: &TlsOptions) -> Result<ServerName<'static>, ClientError> {
    let host = match &opts.server_name {
        Some(name) => name.as_str(),
        None => addr
            .rsplit_once(':')
            .map_or(addr, |(host, _port)| host)
            .trim_start_matches('[')
            .trim_end_matches(']'),
    };
    ServerName::try_from(host.to_owned())
        .map_err(|_| ClientError::InvalidInput(format!("{host:?} is not a valid TLS server name")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_come_from_the_address() {
        let opts = TlsOptions::default();
        assert_eq!(
            server_name("localhost:7070", &opts).unwrap(),
            ServerName::try_from("localhost").unwrap()
        );
        assert_eq!(
            server_name("[::1]:7070", &opts).unwrap(),
            ServerName::try_from("::1").unwrap()
        );
        let named = TlsOptions {
            server_name: Some("chat.example".into()),
            ..TlsOptions::default()
        };
        assert_eq!(
            server_name("10.0.0.1:7070", &named).unwrap(),
            ServerName::try_from("chat.example").unwrap()
        );
    }

    #[test]
    fn a_missing_ca_file_is_a_clear_error() {
        let opts = TlsOptions {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..TlsOptions::default()
        };
        let error = connector(&opts).err().unwrap().to_string();
        assert!(error.contains("/nonexistent/ca.pem"), "{error}");
    }
}
