//! Self-signed TLS certificates with a personality's subject (e.g. Hikvision's factory default
//! `CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,L=HangZhou,ST=ZheJiang,C=CN`).

use std::sync::Arc;

use crate::device::Device;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("personality has no tls subject")]
    NoSubject,
    #[error("unknown subject attribute {0:?} (use CN, OU, O, L, ST, C)")]
    Attribute(String),
    #[error("certificate: {0}")]
    Cert(#[from] rcgen::Error),
    #[error("TLS config: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Build the server config of one device.
pub fn server_config(dev: &Device) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
    let spec = dev.personality.tls.as_ref().ok_or(TlsError::NoSubject)?;
    let san: Vec<String> = spec.san.iter().map(|s| dev.render(s)).collect();
    let mut params = CertificateParams::new(san)?;
    let mut dn = DistinguishedName::new();
    for (k, v) in &spec.subject {
        let t = match k.as_str() {
            "CN" => DnType::CommonName,
            "OU" => DnType::OrganizationalUnitName,
            "O" => DnType::OrganizationName,
            "L" => DnType::LocalityName,
            "ST" => DnType::StateOrProvinceName,
            "C" => DnType::CountryName,
            other => return Err(TlsError::Attribute(other.to_string())),
        };
        dn.push(t, dev.render(v));
    }
    params.distinguished_name = dn;
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )?;
    Ok(Arc::new(cfg))
}
