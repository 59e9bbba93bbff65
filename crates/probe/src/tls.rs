//! TLS: a handshake that accepts any certificate (we inventory devices, we do not trust them) and
//! certificate fields in RFC 4514 form.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use x509_parser::prelude::*;

#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _m: &[u8],
        _c: &CertificateDer<'_>,
        _d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _m: &[u8],
        _c: &CertificateDer<'_>,
        _d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The shared client configuration (built once).
pub fn connector() -> tokio_rustls::TlsConnector {
    static CFG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    let cfg = CFG.get_or_init(|| {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map(|b| {
                b.dangerous()
                    .with_custom_certificate_verifier(Arc::new(AcceptAny(provider.clone())))
                    .with_no_client_auth()
            });
        match cfg {
            Ok(c) => Arc::new(c),
            // the ring provider always supports the default versions; keep a usable fallback
            Err(_) => Arc::new(
                rustls::ClientConfig::builder_with_provider(provider.clone())
                    .with_protocol_versions(&[&rustls::version::TLS12])
                    .expect("TLS 1.2 is supported by ring")
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
                    .with_no_client_auth(),
            ),
        }
    });
    tokio_rustls::TlsConnector::from(cfg.clone())
}

pub fn server_name(ip: IpAddr) -> ServerName<'static> {
    ServerName::IpAddress(ip.into())
}

/// Subject, issuer (RFC 4514) and subject alternative names of a DER certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    pub san: Vec<String>,
}

pub fn cert_info(der: &[u8]) -> Option<CertInfo> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let mut san = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for gn in &ext.value.general_names {
            match gn {
                GeneralName::DNSName(d) => san.push(d.to_string()),
                GeneralName::RFC822Name(d) => san.push(d.to_string()),
                GeneralName::URI(d) => san.push(d.to_string()),
                GeneralName::IPAddress(b) => match b.len() {
                    4 => san.push(IpAddr::from(<[u8; 4]>::try_from(*b).ok()?).to_string()),
                    16 => san.push(IpAddr::from(<[u8; 16]>::try_from(*b).ok()?).to_string()),
                    _ => {}
                },
                _ => {}
            }
        }
    }
    Some(CertInfo {
        subject: rfc4514(cert.subject()),
        issuer: rfc4514(cert.issuer()),
        san,
    })
}

fn short_name(oid: &x509_parser::der_parser::oid::Oid) -> Option<&'static str> {
    Some(match oid.to_id_string().as_str() {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        "1.2.840.113549.1.9.1" => "emailAddress",
        "2.5.4.5" => "serialNumber",
        _ => return None,
    })
}

fn escape_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let n = v.chars().count();
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=')
            || (i == 0 && (c == '#' || c == ' '))
            || (i + 1 == n && c == ' ');
        if special {
            out.push('\\');
        }
        if c == '\0' {
            out.push_str("\\00");
        } else {
            out.push(c);
        }
    }
    out
}

/// RFC 4514 string: RDNs last-to-first, comma-separated, no spaces; unknown attribute types as
/// dotted OIDs with `#hex` values.
pub fn rfc4514(name: &X509Name<'_>) -> String {
    let rdns: Vec<&RelativeDistinguishedName<'_>> = name.iter().collect();
    let mut parts = Vec::new();
    for rdn in rdns.into_iter().rev() {
        let atvs: Vec<String> = rdn
            .iter()
            .map(|atv| {
                let ty = atv.attr_type();
                match (short_name(ty), atv.as_str()) {
                    (Some(s), Ok(v)) => format!("{s}={}", escape_value(v)),
                    (None, Ok(v)) => format!("{}={}", ty.to_id_string(), escape_value(v)),
                    (_, Err(_)) => {
                        let raw = atv.attr_value().as_bytes();
                        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
                        format!("{}=#{hex}", ty.to_id_string())
                    }
                }
            })
            .collect();
        parts.push(atvs.join("+"));
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4514_order_and_san() {
        let mut params = rcgen::CertificateParams::new(vec!["cam.local".to_string()]).unwrap();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CountryName, "CN");
        dn.push(rcgen::DnType::StateOrProvinceName, "ZheJiang");
        dn.push(rcgen::DnType::LocalityName, "HangZhou");
        dn.push(rcgen::DnType::OrganizationName, "HIKVISION");
        dn.push(rcgen::DnType::OrganizationalUnitName, "DVRNVR");
        dn.push(rcgen::DnType::CommonName, "www.hikvision.com");
        params.distinguished_name = dn;
        params
            .subject_alt_names
            .push(rcgen::SanType::IpAddress("127.0.0.9".parse().unwrap()));
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let info = cert_info(cert.der()).unwrap();
        assert_eq!(
            info.subject,
            "CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,L=HangZhou,ST=ZheJiang,C=CN"
        );
        assert_eq!(info.issuer, info.subject, "self-signed");
        assert_eq!(info.san, ["cam.local", "127.0.0.9"]);
        assert!(cert_info(b"not a certificate").is_none());
    }

    #[test]
    fn escaping() {
        assert_eq!(escape_value("a,b"), "a\\,b");
        assert_eq!(escape_value(" x "), "\\ x\\ ");
        assert_eq!(escape_value("#1"), "\\#1");
    }
}
