//! Certificate pinning (issue 15): over TLS on 127.0.0.1, an agent with the server's pin reaches
//! it; with another pin, or with the right pin but a certificate its CA did not sign, it does
//! not, and says why. The server is a small TLS listener that refuses every request with 403
//! (reaching it is what is tested).

use camtrace_agent::{AgentConfig, AgentError, Client};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, SanType};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new() -> Ca {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        Ca {
            issuer: CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap(),
        }
    }
    /// A certificate for 127.0.0.1 and its key (DER).
    fn leaf(&self) -> (Vec<u8>, Vec<u8>) {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        (cert.der().to_vec(), key.serialize_der())
    }
}

/// A TLS server on 127.0.0.1 answering 403 to everything. Returns its port.
async fn server(cert: Vec<u8>, key: Vec<u8>) -> u16 {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![CertificateDer::from(cert)],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut s) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 8192];
                let _ = s.read(&mut buf).await;
                let body = r#"{"error":"pinning test server"}"#;
                let _ = s
                    .write_all(
                        format!(
                            "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .await;
                let _ = s.shutdown().await;
            });
        }
    });
    port
}

fn config(dir: &std::path::Path, port: u16, ca_pem: &str, pins: &[String]) -> AgentConfig {
    std::fs::write(dir.join("ca.pem"), ca_pem).unwrap();
    let pins: Vec<String> = pins.iter().map(|p| format!("\"{p}\"")).collect();
    let text = format!(
        r#"servers = ["https://127.0.0.1:{port}"]
ca_file = "ca.pem"
pin_sha256 = [{}]
credential_file = "agent.credential"
site = "hq"
targets = ["127.0.0.1"]
outbox = "outbox.db"
request_timeout_secs = 5
"#,
        pins.join(", ")
    );
    let path = dir.join("agent.toml");
    std::fs::write(&path, text).unwrap();
    AgentConfig::load(&path).unwrap()
}

async fn enrol(cfg: &AgentConfig) -> AgentError {
    Client::new(cfg)
        .unwrap()
        .enrol("cte_test")
        .await
        .expect_err("the test server refuses everything")
}

#[tokio::test]
async fn pinned_server_is_reached_and_others_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new();
    let (cert, key) = ca.leaf();
    let pin = camtrace_agent::tls::pin_of(&cert).unwrap();
    let port = server(cert.clone(), key).await;
    let ca_pem = ca.issuer.pem();

    // The right pin (with a rotation pin beside it): the server is reached and answers.
    let other = camtrace_agent::tls::pin_of(&ca.leaf().0).unwrap();
    let e = enrol(&config(
        dir.path(),
        port,
        &ca_pem,
        &[other.clone(), pin.clone()],
    ))
    .await;
    assert!(
        matches!(e, AgentError::Refused { status: 403, .. }),
        "reached: {e}"
    );
    // No pin: the CA alone is enough, as before.
    let e = enrol(&config(dir.path(), port, &ca_pem, &[])).await;
    assert!(matches!(e, AgentError::Refused { status: 403, .. }), "{e}");

    // Another key's pin: refused before anything is sent, and the error names the key seen.
    let e = enrol(&config(dir.path(), port, &ca_pem, &[other])).await;
    let text = e.to_string();
    assert!(matches!(e, AgentError::Unreachable(_)), "{e}");
    assert!(
        text.contains(&pin),
        "the error names the server's pin: {text}"
    );

    // The right pin but a CA that did not sign the certificate: the chain still counts.
    let stranger = Ca::new();
    let e = enrol(&config(dir.path(), port, &stranger.issuer.pem(), &[pin])).await;
    assert!(matches!(e, AgentError::Unreachable(_)), "{e}");
    assert!(!e.to_string().contains("not one of pin_sha256"), "{e}");
}

#[test]
fn pins_are_checked_when_the_file_is_read() {
    let base = "servers = [\"https://127.0.0.1:1\"]\ncredential_file = \"c\"\nsite = \"hq\"\ntargets = [\"127.0.0.1\"]\noutbox = \"o\"\n";
    let ok = format!(
        "{base}pin_sha256 = [\"sha256//{}\"]\n",
        "A".repeat(43) + "="
    );
    assert!(
        AgentConfig::parse(&ok).is_ok(),
        "{:?}",
        AgentConfig::parse(&ok)
    );
    for (pin, why) in [
        ("sha256//not base64!", "not base64"),
        ("sha256//AAAA", "3 bytes"),
    ] {
        let text = format!("{base}pin_sha256 = [\"{pin}\"]\n");
        let e = AgentConfig::parse(&text).unwrap_err();
        assert!(e.contains(why), "{pin}: {e}");
    }
    let http = format!(
        "{}pin_sha256 = [\"sha256//{}\"]\n",
        base.replace("https://", "http://"),
        "A".repeat(43) + "="
    );
    let e = AgentConfig::parse(&http).unwrap_err();
    assert!(e.contains("https"), "{e}");
}
