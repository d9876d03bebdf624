//! Trusting a server certificate given as it is (pinning).
//!
//! A certificate made with `openssl req -x509 ...` is self-signed and
//! marked as a certificate authority. Used as the server's own certificate
//! and given to the client as its CA file, the usual check refuses it:
//! a CA certificate may sign server certificates but not be one
//! (`CaUsedAsEndEntity`). This verifier accepts exactly that case when the
//! server's certificate is byte for byte one of the CA file's: the user
//! named that very certificate, and the handshake still proves that the
//! server holds its private key. Its validity period (checked by webpki
//! before it looks at the CA flag) and the server name are still checked,
//! except that a certificate that names no host at all (only a subject
//! CN, which `-subj /CN=localhost` makes and webpki does not read) is
//! taken as the pin alone. Any other certificate goes through the usual
//! check unchanged.

use std::sync::Arc;

use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::server::ParsedCertificate;
use tokio_rustls::rustls::{self, CertificateError, DigitallySignedStruct, SignatureScheme};

use super::is_ca_used_as_server_cert;

/// The usual check, plus the certificates of the CA file as accepted
/// server certificates.
#[derive(Debug)]
pub struct PinningVerifier {
    usual: Arc<WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
}

impl PinningVerifier {
    pub fn new(usual: Arc<WebPkiServerVerifier>, pinned: Vec<CertificateDer<'static>>) -> Self {
        PinningVerifier { usual, pinned }
    }
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let usual = self.usual.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match usual {
            Err(error)
                if is_ca_used_as_server_cert(&error)
                    && self.pinned.iter().any(|pinned| pinned == end_entity) =>
            {
                let cert = ParsedCertificate::try_from(end_entity)?;
                match rustls::client::verify_server_name(&cert, server_name) {
                    Ok(()) => Ok(ServerCertVerified::assertion()),
                    Err(rustls::Error::InvalidCertificate(
                        CertificateError::NotValidForNameContext { presented, .. },
                    )) if presented.is_empty() => Ok(ServerCertVerified::assertion()),
                    Err(error) => Err(error),
                }
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.usual.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.usual.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.usual.supported_verify_schemes()
    }
}
