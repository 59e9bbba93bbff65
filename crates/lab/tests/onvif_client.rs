//! A real ONVIF client (Python onvif-zeep-async, `pip install onvif-zeep-async==4.3.0`) calls
//! GetDeviceInformation and GetScopes on emulated cameras, with WS-UsernameToken credentials.
//! Reported as ignored when the build could not import the client in python3 (`build.rs`).

mod common;
use camtrace_lab::{Credentials, Lab, LabConfig};
use std::process::Command;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/onvif_client.py");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(camtrace_has_onvif_client),
    ignore = "needs the python3 modules onvif and zeep: pip install onvif-zeep-async==4.3.0"
)]
async fn onvif_zeep_client_reads_device_information() {
    let lab = Lab::start(LabConfig {
        range: Some("127.43.0.0/24".parse().unwrap()),
        devices: 3,
        seed: 4,
        mix: Some(vec![
            "hikvision-camera".into(),
            "cpplus-camera".into(),
            "axis-camera".into(),
        ]),
        credentials: Some(Credentials {
            username: "admin".into(),
            password: "Lab-Pass1".into(),
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    for d in lab.manifest().devices.clone() {
        let port = d.port_of("http").unwrap().to_string();
        let run = |pw: &'static str| {
            let (t, p) = (d.target.clone(), port.clone());
            tokio::task::spawn_blocking(move || {
                Command::new("timeout")
                    .args(["60", "python3", SCRIPT, &t, &p, "admin", pw])
                    .output()
                    .expect("python3")
            })
        };
        let out = run("Lab-Pass1").await.unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}: {}",
            d.personality,
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("client JSON");
        assert_eq!(v["Model"], d.model.as_str());
        assert_eq!(v["SerialNumber"], d.serial.as_str());
        assert_eq!(v["FirmwareVersion"], d.firmware.as_str());
        let scopes: Vec<String> = serde_json::from_value(v["Scopes"].clone()).unwrap();
        assert!(
            scopes
                .iter()
                .any(|s| s.starts_with("onvif://www.onvif.org/hardware/")),
            "{scopes:?}"
        );
        match d.personality.as_str() {
            "hikvision-camera" => assert_eq!(v["Manufacturer"], "HIKVISION"),
            "cpplus-camera" => {
                assert_eq!(v["Manufacturer"], "CP PLUS");
                assert!(
                    scopes.contains(&"onvif://www.onvif.org/location/country/India".to_string())
                );
            }
            "axis-camera" => assert_eq!(v["Manufacturer"], "AXIS"),
            other => panic!("unexpected {other}"),
        }
        // A wrong password is refused by the device (the client raises).
        let bad = run("wrong").await.unwrap();
        assert!(
            !bad.status.success(),
            "{}: wrong password accepted",
            d.personality
        );
    }
    lab.shutdown().await;
}
