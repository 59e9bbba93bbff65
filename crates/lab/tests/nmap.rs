//! nmap -sV against emulated devices: nmap's own probes and signatures must recognise them.
//! Reported as ignored when the build found no nmap on PATH (`build.rs`).

mod common;
use camtrace_lab::{Lab, LabConfig, ManifestDevice};
use std::process::Command;

/// Run `nmap -sV -Pn -p <ports> <addr>` (loopback only) and return its normal output.
async fn nmap_sv(d: &ManifestDevice, ports: &[u16]) -> String {
    assert!(d.target.starts_with("127."), "nmap only against loopback");
    let ports: Vec<String> = ports.iter().map(|p| p.to_string()).collect();
    let target = d.target.clone();
    let ports = ports.join(",");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("nmap")
            .args([
                "-sV",
                "-Pn",
                "-n",
                "--version-intensity",
                "7",
                "--host-timeout",
                "300s",
                "-p",
                &ports,
                &target,
            ])
            .output()
            .expect("run nmap (apt-get install nmap)")
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    not(camtrace_has_nmap),
    ignore = "needs nmap on PATH: apt-get install nmap"
)]
async fn nmap_recognises_hikvision_and_dahua() {
    let lab = Lab::start(LabConfig {
        range: Some("127.40.0.0/24".parse().unwrap()),
        devices: 7,
        seed: 3,
        mix: Some(vec![
            "hikvision-camera".into(),
            "dahua-camera".into(),
            "hikvision-nvr".into(),
            "avigilon-camera".into(),
            "mobotix-camera".into(),
            "vivotek-camera".into(),
            "bosch-camera".into(),
        ]),
        ..Default::default()
    })
    .await
    .unwrap();
    let m = lab.manifest().clone();
    let by = |id: &str| {
        m.devices
            .iter()
            .find(|d| d.personality == id)
            .unwrap()
            .clone()
    };

    let hik = by("hikvision-camera");
    let out = nmap_sv(&hik, &hik.ports).await;
    let http = hik.port_of("http").unwrap();
    let rtsp = hik.port_of("rtsp").unwrap();
    let sdk = hik.port_of("hik-sdk").unwrap();
    let line = |p: u16| {
        out.lines()
            .find(|l| l.starts_with(&format!("{p}/tcp")))
            .unwrap_or("")
            .to_string()
    };
    assert!(line(http).contains("Hikvision IP camera httpd"), "{out}");
    assert!(
        line(rtsp).contains("Hikvision") && line(rtsp).contains("rtsp"),
        "{out}"
    );
    assert!(line(sdk).contains("Hikvision IPCam control port"), "{out}");
    let https = hik.port_of("https").unwrap();
    assert!(
        line(https).contains("ssl/http") && line(https).contains("Hikvision"),
        "{out}"
    );

    let nvr = by("hikvision-nvr");
    let out = nmap_sv(&nvr, &[nvr.port_of("http").unwrap()]).await;
    assert!(out.contains("Hikvision"), "{out}");

    let dh = by("dahua-camera");
    // (Dahua's HTTP has no nmap signature and 37777 none either: only RTSP is asserted.)
    let out = nmap_sv(&dh, &[dh.port_of("rtsp").unwrap()]).await;
    let rl = out
        .lines()
        .find(|l| l.starts_with(&format!("{}/tcp", dh.port_of("rtsp").unwrap())))
        .unwrap_or("");
    assert!(rl.contains("Dahua IP camera rtspd"), "{out}");

    let av = by("avigilon-camera");
    let out = nmap_sv(&av, &[av.port_of("http").unwrap()]).await;
    assert!(out.contains("Avigilon webcam ONVIF NVT"), "{out}");
    for (id, want) in [
        ("mobotix-camera", "Mobotix Camera http config"),
        ("vivotek-camera", "Vivotek"),
        ("bosch-camera", "Bosch"),
    ] {
        let d = by(id);
        let out = nmap_sv(&d, &[d.port_of("http").unwrap()]).await;
        assert!(out.contains(want), "{id}: {out}");
    }
    lab.shutdown().await;
}
