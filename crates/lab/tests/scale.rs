//! Scale: 1000 devices on a /16 start quickly and stay responsive.

mod common;
use camtrace_lab::{Lab, LabConfig};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_devices_start_fast_and_answer() {
    let t0 = Instant::now();
    let lab = Lab::start(LabConfig {
        range: Some("127.50.0.0/16".parse().unwrap()),
        devices: 1000,
        seed: 1000,
        ..Default::default()
    })
    .await
    .expect("1000-device lab");
    let started = t0.elapsed();
    let m = lab.manifest().clone();
    let listeners: usize = m
        .devices
        .iter()
        .map(|d| d.ports.len() + d.udp_ports.len())
        .sum();
    println!("1000 devices, {listeners} listeners, started in {started:?}");
    assert_eq!(m.devices.len(), 1000);
    assert!(listeners > 4000, "{listeners}");
    // Debug build on 2 cores: generous bound; release starts far faster.
    assert!(started < Duration::from_secs(20), "start took {started:?}");

    // Every 10th device's first TCP port answers, concurrently.
    let t1 = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for d in m.devices.iter().step_by(10) {
        let a: SocketAddr = format!("{}:{}", d.target, d.ports[0]).parse().unwrap();
        set.spawn(async move {
            let r = common::tcp_exchange(a, b"GET / HTTP/1.0\r\n\r\n", None).await;
            assert!(
                !r.is_empty() || a.port() == 9100 || a.port() == 37777,
                "{a} silent"
            );
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    println!("100 requests in {:?}", t1.elapsed());
    lab.shutdown().await;
}
