//! Snapshot tests: one identification per evidence kind, against the embedded knowledge base,
//! on a fixed date. Line numbers in evidence sources are masked (the knowledge base is edited
//! often); everything else is compared exactly.

use camtrace_identify::Engine;
use camtrace_kb::Kb;
use camtrace_model::Observation;

fn engine() -> Engine {
    let kb = Kb::embedded().expect("embedded kb loads");
    Engine::new(&kb)
        .unwrap()
        .with_date(chrono::NaiveDate::from_ymd_opt(2026, 11, 28).unwrap())
}

fn identify(lines: &[&str]) -> serde_json::Value {
    let obs: Vec<Observation> = lines
        .iter()
        .map(|l| Observation::from_json_line(l).unwrap())
        .collect();
    let target = obs[0].target.clone();
    let id = engine().identify(&target, &obs);
    let mut v = serde_json::to_value(&id).unwrap();
    let re = regex::Regex::new(r"\.toml:\d+").unwrap();
    if let Some(evs) = v["evidence"].as_array_mut() {
        for e in evs {
            if let Some(s) = e["source"].as_str() {
                e["source"] = re.replace_all(s, ".toml:N").into_owned().into();
            }
        }
    }
    v
}

macro_rules! snap {
    ($name:ident, $($line:expr),+ $(,)?) => {
        #[test]
        fn $name() {
            insta::assert_json_snapshot!(stringify!($name), identify(&[$($line),+]));
        }
    };
}

snap!(
    kind_http_app_webs,
    r#"{"target":"h","kind":"http","port":80,"status":200,"headers":{"Server":"App-webs/"},"body":"<script>location='/doc/page/login.asp'</script>"}"#
);
snap!(
    kind_http_weak_webs,
    r#"{"target":"w","kind":"http","port":80,"status":200,"headers":{"Server":"Webs"}}"#
);
snap!(
    kind_http_isapi_deviceinfo,
    r#"{"target":"i","kind":"http","port":80,"path":"/ISAPI/System/deviceInfo","status":200,"body":"<DeviceInfo version=\"2.0\" xmlns=\"http://www.hikvision.com/ver20/XMLSchema\"><deviceName>IP CAMERA</deviceName><model>DS-2CD2143G0-I</model><firmwareVersion>V5.5.0</firmwareVersion><deviceType>IPCamera</deviceType><manufacturer>hikvision</manufacturer><OEMCode>1</OEMCode></DeviceInfo>"}"#
);
snap!(
    kind_http_favicon_dahua,
    r#"{"target":"f","kind":"http","port":80,"status":200,"favicon_md5":"BD9E17C46BBBC18AF2A2BD718DDDAD0E"}"#
);
snap!(
    kind_rtsp_dahua,
    r#"{"target":"r","kind":"rtsp","port":554,"status":401,"headers":{"Server":"Dahua Rtsp Server","WWW-Authenticate":"Basic realm=\"device\""}}"#
);
snap!(
    kind_tls_hikvision_default,
    r#"{"target":"t","kind":"tls","port":443,"subject":"CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,L=HangZhou,ST=ZheJiang,C=CN","issuer":"CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,L=HangZhou,ST=ZheJiang,C=CN"}"#
);
snap!(
    kind_onvif_probe_hikvision,
    r#"{"target":"o","kind":"onvif_probe_match","scopes":["onvif://www.onvif.org/name/HIKVISION%20DS-2CD2143G0-I","onvif://www.onvif.org/hardware/DS-2CD2143G0-I","onvif://www.onvif.org/location/city/hangzhou","onvif://www.onvif.org/type/video_encoder"],"types":["dn:NetworkVideoTransmitter","tds:Device"],"xaddrs":["http://192.0.2.1/onvif/device_service"]}"#
);
snap!(
    kind_onvif_probe_printer,
    r#"{"target":"p","kind":"onvif_probe_match","scopes":[],"types":["wprt:PrintDeviceType"],"xaddrs":[]}"#
);
snap!(
    kind_onvif_device_info_bosch,
    r#"{"target":"b","kind":"onvif_device_info","manufacturer":"Bosch","model":"FLEXIDOME IP 5000i","firmware":"7.72.0027","serial":"1","hardware_id":"F0004D43"}"#
);
snap!(
    kind_sadp_lts_oem,
    r#"{"target":"s","kind":"sadp","payload":"<ProbeMatch><DeviceDescription>CMIP3042</DeviceDescription><DeviceSN>DS-2CD2043G0-I20200101AAWR123</DeviceSN><SoftwareVersion>V5.5.0build 190101</SoftwareVersion><OEMInfo>LTS</OEMInfo><AnalogChannelNum>0</AnalogChannelNum><MAC>44-19-b6-01-02-03</MAC></ProbeMatch>"}"#
);
snap!(
    kind_dhip_json,
    r#"{"target":"d","kind":"dhip","payload":"{\"mac\":\"e0:50:8b:11:22:33\",\"method\":\"client.notifyDevInfo\",\"params\":{\"deviceInfo\":{\"DeviceClass\":\"NVR\",\"DeviceType\":\"DHI-NVR4108HS\",\"Vendor\":\"Amcrest\",\"Version\":\"4.001\"}}}"}"#
);
snap!(
    kind_dahua_discovery,
    r#"{"target":"dd","kind":"dahua_discovery","payload_b64":"swAYAFgAAAAAAAAAAAAAAAIAAABYAAAAAAAAAAAAAAAAAAAAAAAAAFZpcnR1YWwAAAAAAAAAAADwAAMA/wAAAH8AAAEAAAAACgcICbgiMgAAAAAAAAAyAAAAAAAAAFAAuwGRkwoAkJOSkwAA7/8qKjqPAAAAAAAAMDA6MTE6MjI6MzM6NDQ6NTVWaXJ0dWFsTmFtZTpEYWh1YQ0KRGV2aWNlOlZpcnR1YWwNCklQdjZBZGRyOmZlODA6OjEvNjQ7Z2F0ZXdheTpmZTgwOjoNCg0KU2VyaWFsTm86MTIzNDU2Nzg5DQoNCg=="}"#
);
snap!(
    kind_ssdp_printer,
    r#"{"target":"u","kind":"ssdp","headers":{"SERVER":"Linux/3.0 UPnP/1.0"},"description":"<root><device><deviceType>urn:schemas-upnp-org:device:Printer:1</deviceType><manufacturer>Brother</manufacturer><modelName>HL-L2350DW</modelName></device></root>"}"#
);
snap!(
    kind_mdns_axis,
    r#"{"target":"m","kind":"mdns","service":"_axis-video._tcp.local","instance":"AXIS M5014 - ACCC8E3C0419","txt":["macaddress=ACCC8E3C0419"]}"#
);
snap!(
    kind_dhcp_axis,
    r#"{"target":"dh","kind":"dhcp","vendor_class":"udhcp 1.30","hostname":"axis-accc8e3c0419"}"#
);
snap!(
    kind_telnet_hikvision,
    r#"{"target":"tn","kind":"telnet","banner":"192.0.0.64 login: "}"#
);
snap!(
    kind_dns_dahua_p2p,
    r#"{"target":"dn","kind":"dns","query":"www.easy4ipcloud.com."}"#
);
snap!(
    kind_port_only,
    r#"{"target":"po","kind":"port","port":37777}"#
);
snap!(
    kind_mac_hikvision,
    r#"{"target":"mc","kind":"mac","mac":"4419.b601.0203"}"#
);
