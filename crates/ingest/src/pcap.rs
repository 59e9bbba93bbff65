//! pcap and pcapng captures, read without any active scanning: DHCP (option 60 vendor class,
//! option 12 host name), mDNS answers, SSDP NOTIFY and search responses, DNS queries (call-home
//! evidence) and ARP (MAC to IP). Packets of any other kind are counted and skipped.
//!
//! pcap-parser reads the container (both formats, any byte order, any time resolution),
//! etherparse the link, IP and UDP layers, simple-dns the DNS and mDNS messages. Identical
//! observations (same target and content) are reported once, with the time first seen.

use crate::{cap, epoch_rfc3339, mac_bytes, IngestError};
use camtrace_model::observation::Headers;
use camtrace_model::{Observation, ObservationKind};
use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{create_reader, Block, PcapBlockOwned, PcapError};
use std::collections::{HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::net::IpAddr;

/// Buffer of the container reader; a single packet larger than this is an error.
const BUFFER: usize = 1 << 20;
/// Distinct observations remembered for de-duplication (beyond this, repeats are reported).
const MAX_DEDUP: usize = 1 << 20;
/// SSDP headers kept per message.
const MAX_SSDP_HEADERS: usize = 64;

#[derive(Debug, Clone, Copy)]
struct Iface {
    linktype: i32,
    resolution: u64,
    offset: i64,
}

/// Counts of what was read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PcapStats {
    pub packets: u64,
    /// Packets of a link type or protocol this reader does not use.
    pub ignored: u64,
    /// Packets that could not be decoded (truncated, malformed).
    pub malformed: u64,
}

struct State {
    source: String,
    ifaces: Vec<Iface>,
    legacy: Option<(i32, bool)>,
    queue: VecDeque<Observation>,
    seen: HashSet<u64>,
    stats: PcapStats,
}

/// Streams observations from a capture file.
pub struct Reader<'r> {
    inner: Box<dyn PcapReaderIterator + Send + 'r>,
    st: State,
    done: bool,
}

/// Open a capture (pcap or pcapng, detected from its first bytes). `source` names the file.
pub fn read<'r, R: Read + Send + 'r>(input: R, source: &str) -> Result<Reader<'r>, IngestError> {
    let inner = create_reader(BUFFER, input)
        .map_err(|e| IngestError::Format(format!("not a pcap or pcapng file: {e:?}")))?;
    Ok(Reader {
        inner,
        st: State {
            source: format!("pcap:{source}"),
            ifaces: Vec::new(),
            legacy: None,
            queue: VecDeque::new(),
            seen: HashSet::new(),
            stats: PcapStats::default(),
        },
        done: false,
    })
}

impl Reader<'_> {
    pub fn stats(&self) -> &PcapStats {
        &self.st.stats
    }
}

impl Iterator for Reader<'_> {
    type Item = Result<Observation, IngestError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(o) = self.st.queue.pop_front() {
                return Some(Ok(o));
            }
            if self.done {
                return None;
            }
            match self.inner.next() {
                Ok((offset, block)) => {
                    self.st.block(block);
                    self.inner.consume(offset);
                }
                Err(PcapError::Eof) => self.done = true,
                Err(PcapError::Incomplete(_)) => {
                    if let Err(e) = self.inner.refill() {
                        self.done = true;
                        return Some(Err(IngestError::Format(format!(
                            "reading the capture: {e:?}"
                        ))));
                    }
                }
                Err(PcapError::UnexpectedEof) => {
                    // A capture cut off mid-packet (tcpdump killed): keep what was read.
                    self.done = true;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(IngestError::Format(format!(
                        "capture damaged after {} packets: {e:?}",
                        self.st.stats.packets
                    ))));
                }
            }
        }
    }
}

impl State {
    fn block(&mut self, block: PcapBlockOwned<'_>) {
        match block {
            PcapBlockOwned::LegacyHeader(h) => {
                self.legacy = Some((h.network.0, h.is_nanosecond_precision()));
            }
            PcapBlockOwned::Legacy(b) => {
                let (lt, nanos) = self.legacy.unwrap_or((1, false));
                let micros = if nanos { b.ts_usec / 1000 } else { b.ts_usec };
                let time = epoch_rfc3339(b.ts_sec as i64, micros);
                self.packet(lt, b.data, time);
            }
            PcapBlockOwned::NG(Block::SectionHeader(_)) => self.ifaces.clear(),
            PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => self.ifaces.push(Iface {
                linktype: idb.linktype.0,
                resolution: idb.ts_resolution().unwrap_or(1_000_000).max(1),
                offset: idb.ts_offset(),
            }),
            PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                let Some(iface) = self.ifaces.get(epb.if_id as usize).copied() else {
                    self.stats.packets += 1;
                    self.stats.malformed += 1;
                    return;
                };
                let (secs, frac) = epb.decode_ts(iface.offset.max(0) as u64, iface.resolution);
                let micros = (frac as u128 * 1_000_000 / iface.resolution as u128) as u32;
                let len = (epb.caplen as usize).min(epb.data.len());
                let time = epoch_rfc3339(secs as i64, micros);
                self.packet(iface.linktype, &epb.data[..len], time);
            }
            PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                let lt = self.ifaces.first().map(|i| i.linktype).unwrap_or(1);
                let len = (spb.origlen as usize).min(spb.data.len());
                self.packet(lt, &spb.data[..len], None);
            }
            PcapBlockOwned::NG(_) => {}
        }
    }

    fn emit(&mut self, target: String, time: &Option<String>, kind: ObservationKind, what: &str) {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        target.hash(&mut h);
        serde_json::to_string(&kind)
            .unwrap_or_default()
            .hash(&mut h);
        let key = h.finish();
        if self.seen.contains(&key) {
            return;
        }
        if self.seen.len() < MAX_DEDUP {
            self.seen.insert(key);
        }
        self.queue.push_back(Observation {
            target,
            time: time.clone(),
            source: Some(format!("{} {what}", self.source)),
            kind,
        });
    }

    fn packet(&mut self, linktype: i32, data: &[u8], time: Option<String>) {
        self.stats.packets += 1;
        let sliced = match linktype {
            1 => SlicedPacket::from_ethernet(data),
            113 => SlicedPacket::from_linux_sll(data),
            101 | 228 | 229 | 12 | 14 => SlicedPacket::from_ip(data),
            _ => {
                self.stats.ignored += 1;
                return;
            }
        };
        let Ok(p) = sliced else {
            self.stats.malformed += 1;
            return;
        };
        let src_mac = match &p.link {
            Some(etherparse::LinkSlice::Ethernet2(e)) => Some(e.source()),
            _ => None,
        };
        match &p.net {
            Some(NetSlice::Arp(arp)) => {
                match arp.to_packet().try_eth_ipv4() {
                    Ok(a) if a.sender_ipv4 != [0, 0, 0, 0] => {
                        let ip = std::net::Ipv4Addr::from(a.sender_ipv4).to_string();
                        self.emit(
                            ip,
                            &time,
                            ObservationKind::Mac {
                                mac: mac_bytes(&a.sender_mac),
                            },
                            "arp",
                        );
                    }
                    Ok(_) => {}
                    Err(_) => self.stats.malformed += 1,
                }
                return;
            }
            Some(_) => {}
            None => {
                self.stats.ignored += 1;
                return;
            }
        }
        let (src_ip, _dst_ip): (IpAddr, IpAddr) = match &p.net {
            Some(NetSlice::Ipv4(v4)) => (
                v4.header().source_addr().into(),
                v4.header().destination_addr().into(),
            ),
            Some(NetSlice::Ipv6(v6)) => (
                v6.header().source_addr().into(),
                v6.header().destination_addr().into(),
            ),
            _ => {
                self.stats.ignored += 1;
                return;
            }
        };
        let Some(TransportSlice::Udp(udp)) = &p.transport else {
            self.stats.ignored += 1;
            return;
        };
        let (sport, dport) = (udp.source_port(), udp.destination_port());
        let payload = udp.payload();
        let src = src_ip.to_string();
        // Link-local protocols: the frame's source MAC is the sender's own.
        let link_local = matches!(
            (sport, dport),
            (68, 67) | (5353, _) | (_, 5353) | (1900, _) | (_, 1900)
        );
        if let (true, Some(m), false) = (link_local, src_mac, src_ip.is_unspecified()) {
            self.emit(
                src.clone(),
                &time,
                ObservationKind::Mac { mac: mac_bytes(&m) },
                "ethernet source",
            );
        }
        match (sport, dport) {
            (68, 67) => self.dhcp(payload, &time),
            (5353, _) | (_, 5353) => self.mdns(&src, payload, &time),
            (1900, _) | (_, 1900) => self.ssdp(&src, payload, &time),
            (_, 53) => self.dns_query(&src, payload, &time),
            _ => self.stats.ignored += 1,
        }
    }

    /// BOOTP/DHCP from a client: options 60 (vendor class) and 12 (host name); the target is the
    /// client address (ciaddr, else option 50 requested address, else its MAC).
    fn dhcp(&mut self, p: &[u8], time: &Option<String>) {
        if p.len() < 240 || p[0] != 1 || p[236..240] != [99, 130, 83, 99] {
            self.stats.malformed += 1;
            return;
        }
        let hlen = p[2] as usize;
        let chaddr: Option<[u8; 6]> = (hlen == 6).then(|| {
            let mut m = [0u8; 6];
            m.copy_from_slice(&p[28..34]);
            m
        });
        let ciaddr = [p[12], p[13], p[14], p[15]];
        let (mut vendor, mut host, mut requested) = (None, None, None);
        let mut i = 240;
        while i < p.len() {
            let code = p[i];
            if code == 255 {
                break;
            }
            if code == 0 {
                i += 1;
                continue;
            }
            let Some(&len) = p.get(i + 1) else { break };
            let Some(val) = p.get(i + 2..i + 2 + len as usize) else {
                self.stats.malformed += 1;
                return;
            };
            let text = || cap(String::from_utf8_lossy(val).trim_end_matches('\0'));
            match code {
                60 => vendor = Some(text()),
                12 => host = Some(text()),
                50 if len == 4 => requested = Some([val[0], val[1], val[2], val[3]]),
                _ => {}
            }
            i += 2 + len as usize;
        }
        let ip = if ciaddr != [0; 4] {
            Some(ciaddr)
        } else {
            requested
        };
        let target = match (ip, chaddr) {
            (Some(ip), _) => std::net::Ipv4Addr::from(ip).to_string(),
            (None, Some(m)) => mac_bytes(&m),
            (None, None) => return,
        };
        if let Some(m) = chaddr {
            self.emit(
                target.clone(),
                time,
                ObservationKind::Mac { mac: mac_bytes(&m) },
                "dhcp chaddr",
            );
        }
        if vendor.is_some() || host.is_some() {
            self.emit(
                target,
                time,
                ObservationKind::Dhcp {
                    vendor_class: vendor,
                    hostname: host,
                },
                "dhcp",
            );
        }
    }

    /// mDNS answers: each PTR to a service instance, with the TXT of that instance.
    fn mdns(&mut self, src: &str, p: &[u8], time: &Option<String>) {
        use simple_dns::rdata::RData;
        let Ok(pkt) = simple_dns::Packet::parse(p) else {
            self.stats.malformed += 1;
            return;
        };
        if !pkt.has_flags(simple_dns::PacketFlag::RESPONSE) {
            return;
        }
        let records: Vec<_> = pkt
            .answers
            .iter()
            .chain(pkt.additional_records.iter())
            .collect();
        let mut found = Vec::new();
        for r in &records {
            if let RData::PTR(ptr) = &r.rdata {
                let service = r.name.to_string();
                if service.starts_with("_services._dns-sd") {
                    continue;
                }
                let instance = ptr.0.to_string();
                let txt: Vec<String> = records
                    .iter()
                    .filter(|t| t.name.to_string() == instance)
                    .filter_map(|t| match &t.rdata {
                        RData::TXT(txt) => Some(
                            txt.iter_raw()
                                .map(|(k, v)| match v {
                                    Some(v) => cap(&format!(
                                        "{}={}",
                                        String::from_utf8_lossy(k),
                                        String::from_utf8_lossy(v)
                                    )),
                                    None => cap(&String::from_utf8_lossy(k)),
                                })
                                .take(64)
                                .collect::<Vec<_>>(),
                        ),
                        _ => None,
                    })
                    .flatten()
                    .collect();
                found.push((cap(&service), cap(&instance), txt));
            }
        }
        for (service, instance, txt) in found {
            self.emit(
                src.to_string(),
                time,
                ObservationKind::Mdns {
                    service,
                    instance,
                    txt,
                },
                "mdns",
            );
        }
    }

    /// SSDP NOTIFY (alive) and search responses; M-SEARCH requests come from control points and
    /// say nothing about the sender being a device.
    fn ssdp(&mut self, src: &str, p: &[u8], time: &Option<String>) {
        let text = String::from_utf8_lossy(p);
        let mut lines = text.split("\r\n").flat_map(|l| l.split('\n'));
        let first = lines.next().unwrap_or("").trim().to_ascii_uppercase();
        if !(first.starts_with("NOTIFY ")
            || first.starts_with("HTTP/1.1 200")
            || first.starts_with("HTTP/1.0 200"))
        {
            return;
        }
        let mut headers = Headers::new();
        for l in lines {
            if l.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if headers.len() < MAX_SSDP_HEADERS {
                    headers.insert(cap(k.trim()), cap(v.trim()));
                }
            }
        }
        if headers.is_empty() {
            self.stats.malformed += 1;
            return;
        }
        self.emit(
            src.to_string(),
            time,
            ObservationKind::Ssdp {
                headers,
                description: None,
            },
            "ssdp",
        );
    }

    /// DNS queries a host made: names it looked up (evidence of cloud call-home).
    fn dns_query(&mut self, src: &str, p: &[u8], time: &Option<String>) {
        let Ok(pkt) = simple_dns::Packet::parse(p) else {
            self.stats.malformed += 1;
            return;
        };
        if pkt.has_flags(simple_dns::PacketFlag::RESPONSE) {
            return;
        }
        let names: Vec<String> = pkt
            .questions
            .iter()
            .map(|q| cap(q.qname.to_string().trim_end_matches('.')))
            .filter(|n| !n.is_empty())
            .collect();
        for query in names {
            self.emit(
                src.to_string(),
                time,
                ObservationKind::Dns { query },
                "dns query",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{self, PcapWriter};

    const HIK: [u8; 6] = [0x44, 0x19, 0xb6, 0, 0, 0x10];

    fn capture() -> Vec<(u32, Vec<u8>)> {
        vec![
            (1_764_400_000, synth::arp(HIK, [192, 0, 2, 10])),
            (1_764_400_001, synth::arp(HIK, [192, 0, 2, 10])), // repeat: reported once
            (
                1_764_400_002,
                synth::dhcp_request(HIK, [192, 0, 2, 10], "udhcp 1.19.4", "HIKVISION-CAM"),
            ),
            (
                1_764_400_003,
                synth::mdns_answer(
                    HIK,
                    [192, 0, 2, 10],
                    "_http._tcp.local",
                    "Lobby._http._tcp.local",
                    &["model=DS-2CD2043", "path=/"],
                ),
            ),
            (
                1_764_400_004,
                synth::ssdp_notify(
                    HIK,
                    [192, 0, 2, 10],
                    &[
                        ("SERVER", "Linux/3.0, UPnP/1.0, DVRDVS-Webs"),
                        ("LOCATION", "http://192.0.2.10:8000/upnp.xml"),
                    ],
                ),
            ),
            (
                1_764_400_005,
                synth::dns_query(
                    HIK,
                    [192, 0, 2, 10],
                    [198, 51, 100, 53],
                    "litedev.ezvizlife.com",
                ),
            ),
            (1_764_400_006, vec![0xde, 0xad]), // garbage frame
        ]
    }

    fn legacy_bytes() -> Vec<u8> {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        for (t, f) in capture() {
            w.packet(t, &f).unwrap();
        }
        w.finish().unwrap()
    }

    fn check(obs: &[Observation]) {
        let find = |k: &str| {
            obs.iter()
                .filter(|o| o.kind.name() == k)
                .collect::<Vec<_>>()
        };
        let macs = find("mac");
        assert_eq!(macs.len(), 1, "{macs:?}");
        assert_eq!(macs[0].target, "192.0.2.10");
        assert_eq!(macs[0].time.as_deref(), Some("2025-11-29T07:06:40.000000Z"));
        assert_eq!(
            find("dhcp")[0].kind,
            ObservationKind::Dhcp {
                vendor_class: Some("udhcp 1.19.4".into()),
                hostname: Some("HIKVISION-CAM".into())
            }
        );
        match &find("mdns")[0].kind {
            ObservationKind::Mdns {
                service,
                instance,
                txt,
            } => {
                assert_eq!(service, "_http._tcp.local");
                assert_eq!(instance, "Lobby._http._tcp.local");
                assert_eq!(
                    txt,
                    &vec!["model=DS-2CD2043".to_string(), "path=/".to_string()]
                );
            }
            k => panic!("{k:?}"),
        }
        match &find("ssdp")[0].kind {
            ObservationKind::Ssdp { headers, .. } => {
                assert_eq!(
                    headers.get("SERVER").map(String::as_str),
                    Some("Linux/3.0, UPnP/1.0, DVRDVS-Webs")
                )
            }
            k => panic!("{k:?}"),
        }
        assert_eq!(
            find("dns")[0].kind,
            ObservationKind::Dns {
                query: "litedev.ezvizlife.com".into()
            }
        );
        assert!(obs.iter().all(|o| o.target == "192.0.2.10"), "{obs:?}");
    }

    #[test]
    fn reads_every_protocol_from_a_pcap() {
        let bytes = legacy_bytes();
        let mut r = read(std::io::Cursor::new(bytes), "t.pcap").unwrap();
        let obs: Vec<Observation> = r.by_ref().map(Result::unwrap).collect();
        check(&obs);
        assert_eq!(r.stats().packets, 7);
        assert_eq!(r.stats().malformed, 1);
    }

    #[test]
    fn reads_pcapng() {
        use pcap_parser::{
            EnhancedPacketBlock, InterfaceDescriptionBlock, Linktype, SectionHeaderBlock, ToVec,
        };
        let mut out = Vec::new();
        let mut shb = SectionHeaderBlock {
            block_type: 0,
            block_len1: 0,
            bom: 0x1A2B3C4D,
            major_version: 1,
            minor_version: 0,
            section_len: -1,
            options: vec![],
            block_len2: 0,
        };
        out.extend(shb.to_vec().unwrap());
        let mut idb = InterfaceDescriptionBlock {
            block_type: 0,
            block_len1: 0,
            linktype: Linktype(1),
            reserved: 0,
            snaplen: 65535,
            options: vec![],
            block_len2: 0,
            if_tsresol: 6,
            if_tsoffset: 0,
        };
        out.extend(idb.to_vec().unwrap());
        for (t, f) in capture() {
            let ts = t as u64 * 1_000_000;
            let mut epb = EnhancedPacketBlock {
                block_type: 0,
                block_len1: 0,
                if_id: 0,
                ts_high: (ts >> 32) as u32,
                ts_low: ts as u32,
                caplen: f.len() as u32,
                origlen: f.len() as u32,
                data: &f,
                options: vec![],
                block_len2: 0,
            };
            out.extend(epb.to_vec().unwrap());
        }
        let obs: Vec<Observation> = read(std::io::Cursor::new(out), "t.pcapng")
            .unwrap()
            .map(Result::unwrap)
            .collect();
        check(&obs);
    }

    #[test]
    fn truncated_and_foreign_files_do_not_panic() {
        let bytes = legacy_bytes();
        for cut in [0, 10, 24, 30, bytes.len() / 2, bytes.len() - 3] {
            if let Ok(r) = read(std::io::Cursor::new(bytes[..cut].to_vec()), "t") {
                let _ = r.collect::<Vec<_>>();
            }
        }
        assert!(read(
            std::io::Cursor::new(b"hello world, not a capture".to_vec()),
            "t"
        )
        .is_err());
    }
}
