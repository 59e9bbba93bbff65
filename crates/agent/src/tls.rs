//! Certificate pinning for the agent's connections to its servers: the usual verification
//! (the chain to `ca_file` or the built-in roots, the name, the validity period) and then the
//! server's public key must be one of the configured pins (SHA-256 of its SubjectPublicKeyInfo,
//! as curl's `--pinnedpubkey`). A CA that signs a certificate for the server's name is then
//! not enough to impersonate it.

use crate::AgentError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, Error, SignatureScheme};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;

/// The SHA-256 of the SubjectPublicKeyInfo of the certificate `der`.
pub fn spki_sha256(der: &[u8]) -> Result<[u8; 32], String> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| format!("certificate: {e}"))?;
    Ok(Sha256::digest(cert.public_key().raw).into())
}

/// The pin of the certificate `der`, written as the configuration wants it.
pub fn pin_of(der: &[u8]) -> Result<String, String> {
    use base64::Engine as _;
    Ok(format!(
        "sha256//{}",
        base64::engine::general_purpose::STANDARD.encode(spki_sha256(der)?)
    ))
}

#[derive(Debug)]
struct Pinned {
    inner: Arc<WebPkiServerVerifier>,
    pins: Vec<[u8; 32]>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        let got = spki_sha256(end_entity.as_ref()).map_err(Error::General)?;
        if self.pins.contains(&got) {
            Ok(ServerCertVerified::assertion())
        } else {
            use base64::Engine as _;
            Err(Error::General(format!(
                "the server's public key (sha256//{}) is not one of pin_sha256",
                base64::engine::general_purpose::STANDARD.encode(got)
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A TLS client configuration that verifies against `ca_file` (else the built-in roots) and
/// then the pins.
pub fn pinned_config(
    ca_file: Option<&Path>,
    pins: &[[u8; 32]],
) -> Result<rustls::ClientConfig, AgentError> {
    let tls = |e: String| AgentError::Tls(e);
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(ca) => {
            use rustls::pki_types::pem::PemObject;
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca)
                .map_err(|e| tls(format!("ca_file {}: {e}", ca.display())))?
                .collect::<Result<_, _>>()
                .map_err(|e| tls(format!("ca_file {}: {e}", ca.display())))?;
            if certs.is_empty() {
                return Err(tls(format!("ca_file {}: no certificate", ca.display())));
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| tls(format!("ca_file {}: {e}", ca.display())))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| tls(e.to_string()))?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Pinned {
            inner,
            pins: pins.to_vec(),
        }))
        .with_no_client_auth();
    Ok(config)
}
