//! UDP discovery responders: Hikvision SADP (37020), Dahua DHIP (37810), Dahua binary discovery
//! (5050), WS-Discovery (3702), SSDP (1900), mDNS (5353).

use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use crate::device::Device;
use crate::personality::UdpKind;

/// Largest datagram read.
const MAX_DGRAM: usize = 9000;

/// Receive on `rx`, answer through `tx` (the device's own unicast socket, so the reply's source
/// address is the device's).
pub async fn serve(
    rx: Arc<UdpSocket>,
    tx: Arc<UdpSocket>,
    kind: UdpKind,
    dev: Arc<Device>,
    cancel: CancellationToken,
) {
    let mut buf = vec![0u8; MAX_DGRAM];
    loop {
        let r = tokio::select! {
            _ = cancel.cancelled() => return,
            r = rx.recv_from(&mut buf) => r,
        };
        let (n, peer) = match r {
            Ok(x) => x,
            Err(_) => continue,
        };
        let data = &buf[..n];
        let replies = answer(&dev, kind, data, peer);
        for (to, bytes) in replies {
            let _ = tx.send_to(&bytes, to).await;
        }
    }
}

/// The datagrams (destination, bytes) a device sends back for one received datagram.
pub fn answer(
    dev: &Device,
    kind: UdpKind,
    data: &[u8],
    peer: SocketAddr,
) -> Vec<(SocketAddr, Vec<u8>)> {
    let reply = match kind {
        UdpKind::Sadp => sadp(dev, data),
        UdpKind::Dhip => dhip(dev, data),
        UdpKind::DahuaBin => dahua_bin(dev, data),
        UdpKind::Wsd => wsd(dev, data),
        UdpKind::Ssdp => ssdp(dev, data),
        UdpKind::Mdns => return mdns(dev, data, peer),
    };
    reply.map(|r| vec![(peer, r)]).unwrap_or_default()
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let i = s.find(open)? + open.len();
    let j = s[i..].find(close)? + i;
    Some(&s[i..j])
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

// ---------------------------------------------------------------------------------------------
// Hikvision SADP

fn sadp(dev: &Device, data: &[u8]) -> Option<Vec<u8>> {
    let spec = dev.personality.sadp.as_ref()?;
    let s = std::str::from_utf8(data).ok()?;
    if !s.contains("<Probe>") {
        return None;
    }
    let types = between(s, "<Types>", "</Types>").unwrap_or("inquiry");
    if !types.starts_with("inquiry") {
        return None;
    }
    let uuid = between(s, "<Uuid>", "</Uuid>").unwrap_or(&dev.identity.uuid);
    let v = &dev.vars;
    let fw = &dev.identity.firmware;
    let dsp = v.get("dsp_version");
    let dsp = if dsp.is_empty() { fw.as_str() } else { dsp };
    let boot = format!("{} 08:12:44", v.get("date_iso"));
    let salt = format!("{}{}", v.get("h8"), v.get("d8"));
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ProbeMatch><Uuid>{uuid}</Uuid><Types>{types}</Types><DeviceType>{dt}</DeviceType><DeviceDescription>{desc}</DeviceDescription><DeviceSN>{sn}</DeviceSN><CommandPort>{cmd}</CommandPort><HttpPort>{http}</HttpPort><MAC>{mac}</MAC><IPv4Address>{ip}</IPv4Address><IPv4SubnetMask>{mask}</IPv4SubnetMask><IPv4Gateway>{gw}</IPv4Gateway><IPv6Address>::</IPv6Address><IPv6Gateway>::</IPv6Gateway><IPv6MaskLen>64</IPv6MaskLen><DHCP>false</DHCP><AnalogChannelNum>{an}</AnalogChannelNum><DigitalChannelNum>{dn}</DigitalChannelNum><SoftwareVersion>{fw}</SoftwareVersion><DSPVersion>{dsp}</DSPVersion><BootTime>{boot}</BootTime><Encrypt>true</Encrypt><ResetAbility>false</ResetAbility><DiskNumber>{disks}</DiskNumber><Activated>true</Activated><PasswordResetAbility>true</PasswordResetAbility><PasswordResetModeSecond>true</PasswordResetModeSecond><DetailOEMCode>{oem}</DetailOEMCode><OEMInfo>{oeminfo}</OEMInfo><SupportSecurityQuestion>true</SupportSecurityQuestion><SupportHCPlatform>true</SupportHCPlatform><HCPlatformEnable>false</HCPlatformEnable><IsModifyVerificationCode>false</IsModifyVerificationCode><Salt>{salt}</Salt><DeviceLock>true</DeviceLock><SDKServerStatus>true</SDKServerStatus><SDKOverTLSServerStatus>false</SDKOverTLSServerStatus><SDKOverTLSPort>8443</SDKOverTLSPort><SupportMailBox>true</SupportMailBox><supportEzvizUnbind>true</supportEzvizUnbind></ProbeMatch>",
        dt = xml_escape(&dev.render(&spec.device_type)),
        desc = xml_escape(&dev.render(&spec.description)),
        sn = xml_escape(&dev.render(&spec.sn)),
        cmd = or(v.get("port_hik_sdk"), "8000"),
        http = or(v.get("port_http"), "80"),
        mac = v.get("mac_dash"),
        ip = dev.ip,
        mask = v.get("mask"),
        gw = v.get("gateway"),
        an = spec.analog_channels,
        dn = spec.digital_channels,
        fw = xml_escape(fw),
        dsp = xml_escape(dsp),
        boot = boot,
        disks = spec.disks,
        oem = or(v.get("oem_code"), "1"),
        oeminfo = xml_escape(&dev.render(&spec.oem_info)),
        salt = salt,
    );
    Some(xml.into_bytes())
}

fn or<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() {
        b
    } else {
        a
    }
}

// ---------------------------------------------------------------------------------------------
// Dahua DHIP (UDP 37810)

fn dhip_frame(body: &[u8]) -> Vec<u8> {
    let len = (body.len() as u32).to_le_bytes();
    let mut out = Vec::with_capacity(32 + body.len());
    out.extend_from_slice(&0x20u32.to_le_bytes());
    out.extend_from_slice(b"DHIP");
    out.extend_from_slice(&[0u8; 8]);
    out.extend_from_slice(&len);
    out.extend_from_slice(&[0u8; 4]);
    out.extend_from_slice(&len);
    out.extend_from_slice(&[0u8; 4]);
    out.extend_from_slice(body);
    out
}

fn dhip(dev: &Device, data: &[u8]) -> Option<Vec<u8>> {
    let spec = dev.personality.dhip.as_ref()?;
    if data.len() < 32 || &data[4..8] != b"DHIP" {
        return None;
    }
    let body = std::str::from_utf8(&data[32..]).ok()?;
    if !body.contains("DHDiscover.search") {
        return None;
    }
    let v = &dev.vars;
    let http: u16 = v.get("port_http").parse().unwrap_or(80);
    let tcp: u16 = v.get("port_dahua_dvrip").parse().unwrap_or(37777);
    let info = serde_json::json!({
        "mac": v.get("mac"),
        "method": "client.notifyDevInfo",
        "params": {
            "deviceInfo": {
                "AlarmInputChannels": 2,
                "AlarmOutputChannels": 1,
                "DeviceClass": dev.render(&spec.device_class),
                "DeviceType": dev.render(&spec.device_type),
                "HttpPort": http,
                "IPv4Address": {
                    "DefaultGateway": v.get("gateway"),
                    "DhcpEnable": false,
                    "IPAddress": dev.ip.to_string(),
                    "SubnetMask": v.get("mask"),
                },
                "IPv6Address": {
                    "DefaultGateway": "",
                    "DhcpEnable": false,
                    "IPAddress": "/0",
                },
                "MachineName": dev.render(&spec.machine_name),
                "Port": tcp,
                "RemoteVideoInputChannels": spec.remote_video_inputs,
                "SerialNo": dev.identity.serial,
                "Vendor": dev.render(&spec.vendor),
                "Version": dev.identity.firmware,
                "VideoInputChannels": spec.video_inputs,
                "VideoOutputChannels": 1,
            }
        }
    });
    let mut text = serde_json::to_string(&info).ok()?;
    text.push('\n');
    Some(dhip_frame(text.as_bytes()))
}

// ---------------------------------------------------------------------------------------------
// Dahua binary discovery (UDP 5050): reply magic 0xb3, 120-byte fixed section, then MAC + model,
// then "Key:Value\r\n" text.

fn dahua_bin(dev: &Device, data: &[u8]) -> Option<Vec<u8>> {
    let spec = dev.personality.dhip.as_ref()?;
    if data.len() < 32 || data[0] != 0xa3 {
        return None;
    }
    let v = &dev.vars;
    let model = dev.identity.model.as_bytes();
    let model = &model[..model.len().min(200)];
    let mac = v.get("mac");
    let section2_len = mac.len() + model.len();
    let text = format!(
        "Name:{}\r\nDevice:{}\r\nIPv6Addr:/0;gateway:\r\n\r\nSerialNo:{}\r\n\r\n",
        dev.render(&spec.bin_name),
        dev.identity.model,
        dev.identity.serial
    );
    let mut s1 = [0u8; 120];
    s1[0] = 0xb3;
    s1[2..4].copy_from_slice(&(section2_len as u16).to_le_bytes());
    s1[4..8].copy_from_slice(&0x58u32.to_le_bytes());
    s1[16..20].copy_from_slice(&2u32.to_le_bytes());
    s1[20..22].copy_from_slice(&(text.len() as u16).to_le_bytes());
    let dtype = spec.device_class.as_bytes();
    let n = dtype.len().min(16);
    s1[40..40 + n].copy_from_slice(&dtype[..n]);
    s1[56..60].copy_from_slice(&dev.ip.octets());
    let mask: std::net::Ipv4Addr = v
        .get("mask")
        .parse()
        .unwrap_or(std::net::Ipv4Addr::new(255, 255, 0, 0));
    let gw: std::net::Ipv4Addr = v
        .get("gateway")
        .parse()
        .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
    s1[60..64].copy_from_slice(&mask.octets());
    s1[64..68].copy_from_slice(&gw.octets());
    // 68..72 DNS (unset), then port block as in the reference reply.
    let http: u16 = v.get("port_http").parse().unwrap_or(80);
    let tcp: u16 = v.get("port_dahua_dvrip").parse().unwrap_or(37777);
    s1[94..96].copy_from_slice(&http.to_le_bytes());
    s1[96..98].copy_from_slice(&443u16.to_le_bytes());
    s1[98..100].copy_from_slice(&tcp.to_le_bytes());
    s1[100..102].copy_from_slice(&spec.video_inputs.clamp(1, 255).to_le_bytes()[..2]);
    s1[102..104].copy_from_slice(&tcp.saturating_sub(1).to_le_bytes());
    s1[104..106].copy_from_slice(&tcp.saturating_add(1).to_le_bytes());
    let mut out = s1.to_vec();
    out.extend_from_slice(mac.as_bytes());
    out.extend_from_slice(model);
    out.extend_from_slice(text.as_bytes());
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// WS-Discovery (UDP 3702)

fn wsd(dev: &Device, data: &[u8]) -> Option<Vec<u8>> {
    let o = dev.personality.onvif.as_ref()?;
    let s = std::str::from_utf8(data).ok()?;
    if !s.contains("Probe") || s.contains("ProbeMatches") {
        return None;
    }
    let msg_id = between(s, "MessageID>", "</")
        .map(|x| x.trim().to_string())
        .unwrap_or_default();
    // Types filter: answer when no types were asked for, or when one of them is ours.
    let asked = between(s, "Types>", "</").map(|t| t.trim().to_string());
    let ours = dev.render(&o.types);
    if let Some(asked) = asked.filter(|a| !a.is_empty()) {
        let our_locals: Vec<&str> = ours
            .split_whitespace()
            .map(|t| t.rsplit(':').next().unwrap_or(t))
            .collect();
        let hit = asked
            .split_whitespace()
            .map(|t| t.rsplit(':').next().unwrap_or(t))
            .any(|t| our_locals.contains(&t));
        if !hit {
            return None;
        }
    }
    let scopes: Vec<String> = o
        .scopes
        .iter()
        .map(|sc| xml_escape(&dev.render(sc)))
        .collect();
    let port = dev.vars.get("port_http");
    let xaddr = if port == "80" || port.is_empty() {
        format!("http://{}{}", dev.ip, o.path)
    } else {
        format!("http://{}:{}{}", dev.ip, port, o.path)
    };
    let reply_id = {
        let n = super::nonce();
        format!(
            "urn:uuid:{}-{}-{}-{}-{}",
            &n[0..8],
            &n[8..12],
            &n[12..16],
            &n[16..20],
            &n[20..32]
        )
    };
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:soapenc=\"http://www.w3.org/2003/05/soap-encoding\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns:tt=\"http://www.onvif.org/ver10/schema\" xmlns:tds=\"http://www.onvif.org/ver10/device/wsdl\" xmlns:dn=\"http://www.onvif.org/ver10/network/wsdl\" xmlns:wsadis=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" xmlns:d=\"http://schemas.xmlsoap.org/ws/2005/04/discovery\"><env:Header><wsadis:MessageID>{reply_id}</wsadis:MessageID><wsadis:RelatesTo>{rel}</wsadis:RelatesTo><wsadis:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsadis:To><wsadis:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsadis:Action><d:AppSequence InstanceId=\"1\" MessageNumber=\"1\"></d:AppSequence></env:Header><env:Body><d:ProbeMatches><d:ProbeMatch><wsadis:EndpointReference><wsadis:Address>urn:uuid:{uuid}</wsadis:Address></wsadis:EndpointReference><d:Types>{types}</d:Types><d:Scopes>{scopes}</d:Scopes><d:XAddrs>{xaddr}</d:XAddrs><d:MetadataVersion>10</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></env:Body></env:Envelope>\n",
        rel = xml_escape(&msg_id),
        uuid = dev.identity.uuid,
        types = xml_escape(&ours),
        scopes = scopes.join(" "),
    );
    Some(xml.into_bytes())
}

// ---------------------------------------------------------------------------------------------
// SSDP (UDP 1900)

fn ssdp(dev: &Device, data: &[u8]) -> Option<Vec<u8>> {
    let sp = dev.personality.ssdp.as_ref()?;
    let s = std::str::from_utf8(data).ok()?;
    if !s.starts_with("M-SEARCH") {
        return None;
    }
    let st = s
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("ST")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    let dt = dev.render(&sp.device_type);
    let uuid = &dev.identity.uuid;
    let (st_out, usn) = if st == "ssdp:all" || st == "upnp:rootdevice" {
        (
            "upnp:rootdevice".to_string(),
            format!("uuid:{uuid}::upnp:rootdevice"),
        )
    } else if st == dt {
        (dt.clone(), format!("uuid:{uuid}::{dt}"))
    } else if st == format!("uuid:{uuid}") {
        (st.clone(), st.clone())
    } else {
        return None;
    };
    let port = dev.vars.get("port_http");
    let reply = format!(
        "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nDATE: {date}\r\nEXT:\r\nLOCATION: http://{ip}:{port}{path}\r\nSERVER: {server}\r\nST: {st_out}\r\nUSN: {usn}\r\n\r\n",
        date = super::http_date(),
        ip = dev.ip,
        path = sp.location_path,
        server = dev.render(&sp.server),
    );
    Some(reply.into_bytes())
}

// ---------------------------------------------------------------------------------------------
// mDNS / DNS-SD (UDP 5353)

fn mdns(dev: &Device, data: &[u8], peer: SocketAddr) -> Vec<(SocketAddr, Vec<u8>)> {
    use simple_dns::rdata::{RData, A, PTR, SRV, TXT};
    use simple_dns::{Name, Packet, ResourceRecord, CLASS, QTYPE};
    let Some(spec) = dev.personality.mdns.as_ref() else {
        return vec![];
    };
    let Ok(q) = Packet::parse(data) else {
        return vec![];
    };
    if q.has_flags(simple_dns::PacketFlag::RESPONSE) {
        return vec![];
    }
    let instance_label = dev.render(&spec.instance);
    let host = format!("{}.local", dev.render(&spec.host));
    let port_var = format!(
        "port_{}",
        crate::device::kind_name(spec.port_of).replace('-', "_")
    );
    let port: u16 = dev.vars.get(&port_var).parse().unwrap_or(80);
    let txts: Vec<String> = spec.txt.iter().map(|t| dev.render(t)).collect();
    let legacy = peer.port() != 5353;
    let mut reply = Packet::new_reply(if legacy { q.id() } else { 0 });
    reply.set_flags(simple_dns::PacketFlag::AUTHORITATIVE_ANSWER);
    let ttl = 120;
    let instances: Vec<(String, String)> = spec
        .services
        .iter()
        .map(|svc| (svc.clone(), format!("{instance_label}.{svc}")))
        .collect();
    let mut wanted_services = Vec::new();
    let mut want_meta = false;
    let mut want_host = false;
    for question in &q.questions {
        let qn = question.qname.to_string();
        let qn = qn.trim_end_matches('.').to_ascii_lowercase();
        if qn == "_services._dns-sd._udp.local" {
            want_meta = true;
        }
        for (svc, inst) in &instances {
            if qn == svc.to_ascii_lowercase() || qn == inst.to_ascii_lowercase() {
                wanted_services.push((svc.clone(), inst.clone()));
            }
        }
        if qn == host.to_ascii_lowercase()
            && matches!(
                question.qtype,
                QTYPE::ANY | QTYPE::TYPE(simple_dns::TYPE::A)
            )
        {
            want_host = true;
        }
    }
    if wanted_services.is_empty() && !want_meta && !want_host {
        return vec![];
    }
    let q_for_echo: Vec<_> = if legacy { q.questions.clone() } else { vec![] };
    for question in q_for_echo {
        reply.questions.push(question);
    }
    if want_meta {
        for (svc, _) in &instances {
            if let (Ok(n), Ok(t)) = (Name::new("_services._dns-sd._udp.local"), Name::new(svc)) {
                reply
                    .answers
                    .push(ResourceRecord::new(n, CLASS::IN, ttl, RData::PTR(PTR(t))));
            }
        }
    }
    let mut add_host = want_host;
    for (svc, inst) in &wanted_services {
        // Instance labels carry spaces (DNS-SD allows any UTF-8), which Name::new rejects.
        let (sn, inn, hn) = (
            Name::new_unchecked(svc),
            Name::new_unchecked(inst),
            Name::new_unchecked(&host),
        );
        reply.answers.push(ResourceRecord::new(
            sn,
            CLASS::IN,
            ttl,
            RData::PTR(PTR(inn.clone())),
        ));
        reply.additional_records.push(ResourceRecord::new(
            inn.clone(),
            CLASS::IN,
            ttl,
            RData::SRV(SRV {
                priority: 0,
                weight: 0,
                port,
                target: hn,
            }),
        ));
        let mut txt = TXT::new();
        for t in &txts {
            let _ = txt.add_string(t);
        }
        reply
            .additional_records
            .push(ResourceRecord::new(inn, CLASS::IN, ttl, RData::TXT(txt)));
        add_host = true;
    }
    if add_host {
        if let Ok(hn) = Name::new(&host) {
            let rec = ResourceRecord::new(
                hn,
                CLASS::IN,
                ttl,
                RData::A(A {
                    address: u32::from(dev.ip),
                }),
            );
            if want_host {
                reply.answers.push(rec);
            } else {
                reply.additional_records.push(rec);
            }
        }
    }
    let Ok(bytes) = reply.build_bytes_vec_compressed() else {
        return vec![];
    };
    let to = if legacy {
        peer
    } else {
        SocketAddr::from(([224, 0, 0, 251], 5353))
    };
    vec![(to, bytes)]
}
