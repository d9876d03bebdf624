//! Connecting over TLS (rustls): the server's certificate is checked
//! against a CA file or, without one, the system's trusted roots.
//!
//! - `pinning`: a CA file may also hold the server's own certificate.
//! - [`handshake_error`] explains a failed handshake: a server that does
//!   not speak TLS, a certificate that cannot be trusted.

mod pinning;

use std::path::PathBuf;
use std::sync::Arc;

use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, CertificateError, RootCertStore};

use self::pinning::PinningVerifier;

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
    let mut pinned = Vec::new();
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
                roots.add(cert.clone()).map_err(|e| bad(&e))?;
                pinned.push(cert);
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
    let usual = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| ClientError::InvalidInput(e.to_string()))?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::InvalidInput(e.to_string()))?
        // The usual check, which the pinned certificates only widen (see
        // `pinning`); none are pinned with the system's roots.
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinningVerifier::new(usual, pinned)))
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Says why a TLS handshake failed, in terms of what to do about it.
pub fn handshake_error(error: std::io::Error) -> ClientError {
    use std::io::ErrorKind;
    let cause = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match cause {
        // What came back was no TLS record (a chinwag frame: the plain
        // server's answer to a ClientHello), or nothing at all.
        Some(rustls::Error::InvalidMessage(_)) => ClientError::Tls(NO_TLS_ANSWER.into()),
        None if matches!(
            error.kind(),
            ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
        ) =>
        {
            ClientError::Tls(NO_TLS_ANSWER.into())
        }
        Some(error) if is_ca_used_as_server_cert(error) => {
            ClientError::Tls(CA_AS_SERVER_CERT.into())
        }
        Some(other) => ClientError::Tls(format!("TLS handshake failed: {other}")),
        None => ClientError::Io(error),
    }
}

/// Whether the certificate check failed because the server's certificate
/// is a CA certificate (webpki's `CaUsedAsEndEntity`, which rustls passes
/// on as it is).
fn is_ca_used_as_server_cert(error: &rustls::Error) -> bool {
    match error {
        rustls::Error::InvalidCertificate(CertificateError::Other(other)) => matches!(
            other.0.downcast_ref::<webpki::Error>(),
            Some(webpki::Error::CaUsedAsEndEntity)
        ),
        _ => false,
    }
}

/// A TLS client connected to a port that does not speak TLS.
pub const NO_TLS_ANSWER: &str = "the server did not answer the TLS handshake: \
    it may not speak TLS on this port; leave out --tls/--ca-file";

/// A plain client connected to a port that speaks TLS.
pub const TLS_ON_PLAIN: &str = "the server speaks TLS on this port: use --tls or --ca-file";

const CA_AS_SERVER_CERT: &str = "the server's certificate is a CA certificate \
    (as `openssl req -x509` makes by default) and not in the CA file; give that very \
    certificate as --ca-file, or make a CA and a server certificate with `chinwagd cert`";

/// Whether `bytes` start like a TLS record (content type change cipher
/// spec, alert, handshake or application data; version 3.x): what a TLS
/// server sends a client that did not start a handshake.
pub fn looks_like_tls_record(bytes: &[u8]) -> bool {
    matches!(bytes, [0x14..=0x17, 0x03, 0x00..=0x04, ..])
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
    fn tls_records_are_told_from_frames() {
        // A TLS 1.2 alert record, as a TLS server answers a HELLO.
        assert!(looks_like_tls_record(&[
            0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32
        ]));
        assert!(looks_like_tls_record(&[0x16, 0x03, 0x01]));
        // A chinwag frame starts with a length far below 0x14000000.
        assert!(!looks_like_tls_record(&[0x00, 0x00, 0x00, 0x1e, 0x81]));
        assert!(!looks_like_tls_record(&[0x15, 0x03]));
        assert!(!looks_like_tls_record(&[0x15, 0x04, 0x03]));
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
