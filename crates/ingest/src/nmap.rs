//! nmap XML (`nmap -oX`), streamed with quick-xml: open ports with their service banners
//! (product, version, extra info), MAC addresses, host names, and the evidence of a few scripts
//! (`http-title`, `http-server-header`, `ssl-cert`).
//!
//! Host names (PTR or user-given) have no kind of their own in the observation format; they are
//! carried as `dhcp` observations with only `hostname` set and a `source` that says where they
//! came from (`nmap:<file> hostname/PTR`), so identification can use the same name signatures.

use crate::{cap, epoch_rfc3339, normalise_mac, IngestError};
use camtrace_model::observation::Headers;
use camtrace_model::{Observation, ObservationKind};
use quick_xml::events::{BytesStart, Event};
use std::collections::VecDeque;
use std::io::BufRead;

/// Most ports kept per host (nmap scans at most 65,535 per protocol).
const MAX_PORTS: usize = 2 * 65_536;
const MAX_NAMES: usize = 64;

#[derive(Default)]
struct Port {
    protocol: String,
    port: u16,
    open: bool,
    service: Option<String>,
    banner: Vec<String>,
    scripts: Vec<(String, String)>,
}

#[derive(Default)]
struct Host {
    up: bool,
    start: Option<String>,
    ip: Option<String>,
    mac: Option<String>,
    names: Vec<(String, String)>,
    ports: Vec<Port>,
}

/// Streams observations out of an nmap XML file, one host at a time.
pub struct Reader<R: BufRead> {
    xml: quick_xml::Reader<R>,
    buf: Vec<u8>,
    source: String,
    started: Option<String>,
    host: Option<Host>,
    port: Option<Port>,
    queue: VecDeque<Observation>,
    done: bool,
    saw_nmaprun: bool,
    /// Inside a port's `<cpe>` element (its text joins the port's banner).
    in_cpe: bool,
    pub hosts: u64,
}

/// Read `input`; `source` names the file in each observation's `source`.
pub fn read<R: BufRead>(input: R, source: &str) -> Reader<R> {
    let mut xml = quick_xml::Reader::from_reader(input);
    xml.config_mut().trim_text(true);
    Reader {
        xml,
        buf: Vec::new(),
        source: format!("nmap:{source}"),
        started: None,
        host: None,
        port: None,
        queue: VecDeque::new(),
        done: false,
        saw_nmaprun: false,
        in_cpe: false,
        hosts: 0,
    }
}

fn attrs(e: &BytesStart) -> Result<Vec<(String, String)>, String> {
    let mut v = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|e| e.to_string())?;
        let k = String::from_utf8_lossy(a.key.as_ref()).into_owned();
        let val = a.unescape_value().map_err(|e| e.to_string())?;
        v.push((k, cap(&val)));
    }
    Ok(v)
}

fn get<'a>(a: &'a [(String, String)], k: &str) -> Option<&'a str> {
    a.iter().find(|(x, _)| x == k).map(|(_, v)| v.as_str())
}

impl<R: BufRead> Reader<R> {
    /// When the scan started (the `nmaprun` `start` attribute), once read.
    pub fn started(&self) -> Option<&str> {
        self.started.as_deref()
    }

    fn element(&mut self, e: &BytesStart, empty: bool) -> Result<(), String> {
        let name = e.local_name();
        let name = name.as_ref();
        match name {
            b"nmaprun" => {
                self.saw_nmaprun = true;
                let a = attrs(e)?;
                self.started = get(&a, "start")
                    .and_then(|s| s.parse::<i64>().ok())
                    .and_then(|s| epoch_rfc3339(s, 0));
            }
            b"host" => {
                let a = attrs(e)?;
                self.host = Some(Host {
                    up: true,
                    start: get(&a, "starttime")
                        .and_then(|s| s.parse::<i64>().ok())
                        .and_then(|s| epoch_rfc3339(s, 0)),
                    ..Default::default()
                });
                if empty {
                    self.finish_host();
                }
            }
            b"status" => {
                let a = attrs(e)?;
                if let Some(h) = self.host.as_mut() {
                    h.up = get(&a, "state") != Some("down");
                }
            }
            b"address" => {
                let a = attrs(e)?;
                if let (Some(h), Some(addr)) = (self.host.as_mut(), get(&a, "addr")) {
                    match get(&a, "addrtype") {
                        Some("mac") => h.mac = normalise_mac(addr),
                        _ if h.ip.is_none() => h.ip = Some(addr.to_string()),
                        _ => {}
                    }
                }
            }
            b"hostname" => {
                let a = attrs(e)?;
                if let (Some(h), Some(n)) = (self.host.as_mut(), get(&a, "name")) {
                    if h.names.len() < MAX_NAMES && !n.is_empty() {
                        h.names
                            .push((n.to_string(), get(&a, "type").unwrap_or("").to_string()));
                    }
                }
            }
            b"port" => {
                let a = attrs(e)?;
                let port = get(&a, "portid")
                    .and_then(|p| p.parse::<u16>().ok())
                    .ok_or_else(|| "a <port> without a valid portid".to_string())?;
                self.port = Some(Port {
                    protocol: get(&a, "protocol").unwrap_or("tcp").to_string(),
                    port,
                    ..Default::default()
                });
                if empty {
                    self.finish_port();
                }
            }
            b"state" => {
                let a = attrs(e)?;
                if let Some(p) = self.port.as_mut() {
                    p.open = matches!(get(&a, "state"), Some("open") | Some("open|filtered"));
                }
            }
            b"service" => {
                let a = attrs(e)?;
                if let Some(p) = self.port.as_mut() {
                    p.service = get(&a, "name").map(str::to_string);
                    for k in ["product", "version", "extrainfo", "devicetype", "ostype"] {
                        if let Some(v) = get(&a, k).filter(|v| !v.is_empty()) {
                            p.banner.push(v.to_string());
                        }
                    }
                }
            }
            b"cpe" => self.in_cpe = !empty && self.port.is_some(),
            b"script" => {
                let a = attrs(e)?;
                if let (Some(p), Some(id), Some(out)) =
                    (self.port.as_mut(), get(&a, "id"), get(&a, "output"))
                {
                    if p.scripts.len() < 32 {
                        p.scripts.push((id.to_string(), out.to_string()));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn finish_port(&mut self) {
        if let (Some(p), Some(h)) = (self.port.take(), self.host.as_mut()) {
            if h.ports.len() < MAX_PORTS {
                h.ports.push(p);
            }
        }
    }

    fn finish_host(&mut self) {
        let Some(h) = self.host.take() else { return };
        self.hosts += 1;
        if !h.up {
            return;
        }
        let Some(target) = h.ip.clone().or_else(|| h.mac.clone()) else {
            return;
        };
        let time = h.start.clone().or_else(|| self.started.clone());
        let mut push = |kind: ObservationKind, source: &str| {
            self.queue.push_back(Observation {
                target: target.clone(),
                time: time.clone(),
                source: Some(source.to_string()),
                kind,
            });
        };
        let src = self.source.clone();
        if let Some(mac) = &h.mac {
            push(ObservationKind::Mac { mac: mac.clone() }, &src);
        }
        for (name, typ) in &h.names {
            let how = if typ.is_empty() {
                "hostname"
            } else {
                typ.as_str()
            };
            push(
                ObservationKind::Dhcp {
                    vendor_class: None,
                    hostname: Some(name.clone()),
                },
                &format!("{src} hostname/{how}"),
            );
        }
        for p in h
            .ports
            .iter()
            .filter(|p| p.open && (p.protocol == "tcp" || p.protocol == "udp"))
        {
            let banner = (!p.banner.is_empty()).then(|| cap(&p.banner.join(" ")));
            push(
                ObservationKind::Port {
                    port: p.port,
                    protocol: p.service.clone().or_else(|| Some(p.protocol.clone())),
                    banner,
                },
                &src,
            );
            for (id, out) in &p.scripts {
                match id.as_str() {
                    "http-title" => push(
                        ObservationKind::Http {
                            port: Some(p.port),
                            tls: None,
                            path: Some("/".into()),
                            status: None,
                            headers: Headers::new(),
                            title: Some(out.trim().to_string()),
                            body: None,
                            favicon_md5: None,
                        },
                        &format!("{src} script/http-title"),
                    ),
                    "http-server-header" => {
                        let mut headers = Headers::new();
                        headers.insert("Server".into(), out.trim().to_string());
                        push(
                            ObservationKind::Http {
                                port: Some(p.port),
                                tls: None,
                                path: None,
                                status: None,
                                headers,
                                title: None,
                                body: None,
                                favicon_md5: None,
                            },
                            &format!("{src} script/http-server-header"),
                        )
                    }
                    "ssl-cert" => {
                        let field = |k: &str| {
                            out.lines()
                                .find_map(|l| {
                                    l.trim().strip_prefix(k).map(|v| v.trim().to_string())
                                })
                                .unwrap_or_default()
                        };
                        push(
                            ObservationKind::Tls {
                                port: Some(p.port),
                                subject: field("Subject:"),
                                issuer: field("Issuer:"),
                                san: Vec::new(),
                            },
                            &format!("{src} script/ssl-cert"),
                        )
                    }
                    _ => {}
                }
            }
        }
    }
}

impl<R: BufRead> Iterator for Reader<R> {
    type Item = Result<Observation, IngestError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(o) = self.queue.pop_front() {
                return Some(Ok(o));
            }
            if self.done {
                return None;
            }
            self.buf.clear();
            let ev = self.xml.read_event_into(&mut self.buf);
            let pos = self.xml.buffer_position();
            let res = match ev {
                Ok(Event::Start(e)) => {
                    let e = e.into_owned();
                    self.element(&e, false)
                }
                Ok(Event::Empty(e)) => {
                    let e = e.into_owned();
                    self.element(&e, true)
                }
                Ok(Event::Text(t)) if self.in_cpe => {
                    // A CPE name such as `cpe:/h:hikvision:ds-2cd2032-i`: the words a
                    // fingerprint matches on, kept with the service's banner.
                    if let (Some(p), Ok(text)) = (self.port.as_mut(), t.decode()) {
                        if p.banner.len() < 16 && !text.trim().is_empty() {
                            p.banner.push(cap(text.trim()));
                        }
                    }
                    Ok(())
                }
                Ok(Event::End(e)) => {
                    match e.local_name().as_ref() {
                        b"cpe" => self.in_cpe = false,
                        b"port" => self.finish_port(),
                        b"host" => self.finish_host(),
                        _ => {}
                    }
                    Ok(())
                }
                Ok(Event::Eof) => {
                    self.done = true;
                    if !self.saw_nmaprun {
                        return Some(Err(IngestError::Format(
                            "not an nmap XML file (no <nmaprun> element)".into(),
                        )));
                    }
                    if self.host.is_some() {
                        return Some(Err(IngestError::Format(
                            "the file ends inside a <host> element (truncated?)".into(),
                        )));
                    }
                    Ok(())
                }
                Ok(_) => Ok(()),
                Err(e) => Err(format!("XML error: {e}")),
            };
            if let Err(reason) = res {
                self.done = true;
                return Some(Err(IngestError::Format(format!(
                    "nmap XML at byte {pos}: {reason}"
                ))));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<nmaprun scanner="nmap" args="nmap -sV -oX - 192.0.2.0/24" start="1764400000" version="7.94">
<host starttime="1764400010" endtime="1764400020"><status state="up" reason="arp-response"/>
<address addr="192.0.2.10" addrtype="ipv4"/>
<address addr="44:19:B6:00:00:10" addrtype="mac" vendor="Hangzhou Hikvision Digital Technology"/>
<hostnames><hostname name="cam-lobby.example.org" type="PTR"/></hostnames>
<ports>
<port protocol="tcp" portid="80"><state state="open" reason="syn-ack"/><service name="http" product="Hikvision IP camera httpd" method="probed" conf="10"/>
<script id="http-title" output="Document Error: Unauthorized"/>
<script id="http-server-header" output="App-webs/"/></port>
<port protocol="tcp" portid="443"><state state="closed"/></port>
<port protocol="tcp" portid="554"><state state="open"/><service name="rtsp" product="Hikvision 7513 POE IP camera rtspd" version="1.0" extrainfo="x &amp; y"/></port>
</ports></host>
<host><status state="down"/><address addr="192.0.2.99" addrtype="ipv4"/></host>
</nmaprun>"#;

    #[test]
    fn reads_ports_banners_macs_and_names() {
        let obs: Vec<Observation> = read(XML.as_bytes(), "t.xml").map(Result::unwrap).collect();
        let kinds: Vec<&str> = obs.iter().map(|o| o.kind.name()).collect();
        assert_eq!(kinds, ["mac", "dhcp", "port", "http", "http", "port"]);
        assert!(obs.iter().all(|o| o.target == "192.0.2.10"));
        assert_eq!(
            obs[0].kind,
            ObservationKind::Mac {
                mac: "44:19:b6:00:00:10".into()
            }
        );
        assert_eq!(obs[0].time.as_deref(), Some("2025-11-29T07:06:50.000000Z"));
        assert_eq!(
            obs[5].kind,
            ObservationKind::Port {
                port: 554,
                protocol: Some("rtsp".into()),
                banner: Some("Hikvision 7513 POE IP camera rtspd 1.0 x & y".into())
            }
        );
        assert!(obs[1].source.as_deref().unwrap().contains("PTR"));
    }

    /// The device type and CPE names nmap's service detection gives are evidence too: they join
    /// the port's banner (the scanner benchmark reads nmap's answers through this reader).
    #[test]
    fn device_type_and_cpe_join_the_banner() {
        let xml = r#"<?xml version="1.0"?><nmaprun><host><address addr="127.60.0.5" addrtype="ipv4"/><ports><port protocol="tcp" portid="8000"><state state="open"/><service name="ipcam" product="Hikvision IPCam control port" devicetype="webcam"><cpe>cpe:/h:hikvision:ipcam</cpe></service></port><port protocol="tcp" portid="81"><state state="open"/><service name="http"><cpe/></service></port></ports></host></nmaprun>"#;
        let obs: Vec<Observation> = read(xml.as_bytes(), "t.xml").map(Result::unwrap).collect();
        assert_eq!(
            obs[0].kind,
            ObservationKind::Port {
                port: 8000,
                protocol: Some("ipcam".into()),
                banner: Some("Hikvision IPCam control port webcam cpe:/h:hikvision:ipcam".into())
            }
        );
        assert_eq!(
            obs[1].kind,
            ObservationKind::Port {
                port: 81,
                protocol: Some("http".into()),
                banner: None
            }
        );
    }

    #[test]
    fn truncated_and_foreign_files_are_clear_errors() {
        let cut = &XML[..XML.find("<port protocol=\"tcp\" portid=\"443\"").unwrap()];
        let r: Vec<_> = read(cut.as_bytes(), "t.xml").collect();
        assert!(r.last().unwrap().is_err());
        let r: Vec<_> = read("<html><body/></html>".as_bytes(), "x").collect();
        assert!(r[0].as_ref().unwrap_err().to_string().contains("nmaprun"));
        let r: Vec<_> = read(
            "<nmaprun><host><port portid=\"x\"/></host></nmaprun>".as_bytes(),
            "x",
        )
        .collect();
        assert!(r[0].as_ref().unwrap_err().to_string().contains("portid"));
    }
}
