//! The real listener: plain HTTP and TLS (rustls) on 127.0.0.1, graceful shutdown.

mod common;

use common::*;
use std::process::Command;
use std::time::Duration;

async fn run_and_probe(tls: Option<camtrace_server::TlsFiles>) {
    let mut cfg = test_config();
    cfg.bind = "127.0.0.1:0".parse().unwrap();
    cfg.tls = tls.clone();
    let app = app_with("sqlite::memory:", cfg).await;
    let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(camtrace_server::serve_until(
        app,
        move |addr, is_tls| {
            let _ = bound_tx.send((addr, is_tls));
        },
        async move {
            let _ = stop_rx.await;
        },
    ));
    let (addr, is_tls) = bound_rx.await.unwrap();
    assert!(addr.ip().is_loopback());
    assert_eq!(is_tls, tls.is_some());
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .no_proxy()
        .build()
        .unwrap();
    let scheme = if is_tls { "https" } else { "http" };
    let r = client
        .get(format!("{scheme}://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ok\n");
    let r = client
        .get(format!("{scheme}://{addr}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    stop_tx.send(()).unwrap();
    let res = tokio::time::timeout(Duration::from_secs(15), server)
        .await
        .expect("stops")
        .unwrap();
    assert!(res.is_ok(), "{res:?}");
    assert!(
        client
            .get(format!("{scheme}://{addr}/healthz"))
            .send()
            .await
            .is_err(),
        "no longer listening"
    );
}

#[tokio::test]
async fn plain_http_serves_and_shuts_down_gracefully() {
    run_and_probe(None).await;
}

#[tokio::test]
#[cfg_attr(
    not(camtrace_has_openssl),
    ignore = "needs the openssl command on PATH (it makes the test certificate): apt-get install openssl"
)]
async fn tls_serves_with_a_pem_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    match made {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "openssl could not make a test certificate: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("cannot run openssl to make a test certificate: {e}"),
    }
    run_and_probe(Some(camtrace_server::TlsFiles { cert, key })).await;
}
