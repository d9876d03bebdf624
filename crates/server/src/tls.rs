//! TLS for the native listener (rustls), and a self-signed certificate
//! maker for trying it out (`chinwagd cert`).
//!
//! TLS wraps the same byte stream: the handshake happens first, then the
//! chinwag HELLO inside it. Nothing above this module knows whether a
//! connection is encrypted.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsFiles;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read TLS certificate {path}: {error}")]
    Cert {
        path: PathBuf,
        error: rustls::pki_types::pem::Error,
    },
    #[error("TLS certificate file {0} holds no certificate")]
    NoCert(PathBuf),
    #[error("cannot read TLS private key {path}: {error}")]
    Key {
        path: PathBuf,
        error: rustls::pki_types::pem::Error,
    },
    #[error("TLS certificate and key do not work together: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("cannot generate a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("cannot write {path}: {error}")]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// Builds the acceptor for a TLS listener from PEM files.
pub fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, TlsError> {
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|error| TlsError::Cert {
            path: files.cert.clone(),
            error,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCert(files.cert.clone()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|error| TlsError::Key {
        path: files.key.clone(),
        error,
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The files `chinwagd cert` writes.
#[derive(Clone, Debug)]
pub struct GeneratedCert {
    /// The certificate authority clients trust (`chinwag --ca-file`).
    pub ca: PathBuf,
    /// The server's certificate (`chinwagd --tls-cert`).
    pub cert: PathBuf,
    /// The server's private key (`chinwagd --tls-key`), readable only by
    /// its owner.
    pub key: PathBuf,
}

/// Makes a throw-away certificate authority and a server certificate it
/// signed for `names` (DNS names or IP addresses), and writes them as PEM
/// into `dir`. The CA's own key is not kept: nothing else can be signed
/// with it.
pub fn generate(dir: &Path, names: &[String]) -> Result<GeneratedCert, TlsError> {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "chinwag local CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;

    let mut server_params = CertificateParams::new(names.to_vec())?;
    server_params
        .distinguished_name
        .push(DnType::CommonName, "chinwagd");
    let server_key = KeyPair::generate()?;
    let server_cert = server_params.signed_by(&server_key, &ca)?;

    let write = |name: &str, text: String, private: bool| -> Result<PathBuf, TlsError> {
        let path = dir.join(name);
        write_file(&path, text.as_bytes(), private).map_err(|error| TlsError::Write {
            path: path.clone(),
            error,
        })?;
        Ok(path)
    };
    std::fs::create_dir_all(dir).map_err(|error| TlsError::Write {
        path: dir.into(),
        error,
    })?;
    Ok(GeneratedCert {
        ca: write("ca.pem", ca.pem(), false)?,
        cert: write("cert.pem", server_cert.pem(), false)?,
        key: write("key.pem", server_key.serialize_pem(), true)?,
    })
}

fn write_file(path: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    options.open(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_files_load_and_bad_files_are_clear_errors() {
        let dir = std::env::temp_dir().join(format!("chinwag-tls-{}", std::process::id()));
        let files = generate(&dir, &["localhost".into(), "127.0.0.1".into()]).unwrap();
        let tls = TlsFiles {
            cert: files.cert.clone(),
            key: files.key.clone(),
        };
        acceptor(&tls).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&files.key).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the key is private");
        }
        let swapped = TlsFiles {
            cert: files.key.clone(),
            key: files.cert.clone(),
        };
        assert!(matches!(acceptor(&swapped), Err(TlsError::NoCert(_))));
        let missing = TlsFiles {
            cert: dir.join("nope.pem"),
            key: files.key.clone(),
        };
        assert!(matches!(acceptor(&missing), Err(TlsError::Cert { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
