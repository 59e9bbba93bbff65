//! Building capture files (for tests, fixtures and benchmarks): a legacy pcap writer and the
//! packets the [`pcap`](crate::pcap) reader understands, built with etherparse and simple-dns.
//! Use only documentation or loopback addresses in what you build.

use etherparse::{ArpEthIpv4Packet, ArpOperation, PacketBuilder};
use pcap_parser::{LegacyPcapBlock, PcapHeader, ToVec};
use std::io::Write;

/// Writes a little-endian, microsecond, Ethernet pcap file.
pub struct PcapWriter<W: Write> {
    out: W,
}

impl<W: Write> PcapWriter<W> {
    pub fn new(mut out: W) -> std::io::Result<Self> {
        let mut h = PcapHeader::new();
        h.snaplen = 65535;
        let bytes = h
            .to_vec()
            .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        out.write_all(&bytes)?;
        Ok(Self { out })
    }

    /// Append one frame captured at `secs` seconds after the epoch.
    pub fn packet(&mut self, secs: u32, frame: &[u8]) -> std::io::Result<()> {
        let mut b = LegacyPcapBlock {
            ts_sec: secs,
            ts_usec: 0,
            caplen: frame.len() as u32,
            origlen: frame.len() as u32,
            data: frame,
        };
        let bytes = b
            .to_vec()
            .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        self.out.write_all(&bytes)
    }

    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

const BROADCAST: [u8; 6] = [0xff; 6];

/// An Ethernet/IPv4/UDP frame.
pub fn udp(
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(src_mac, dst_mac)
        .ipv4(src, dst, 64)
        .udp(sport, dport);
    let mut v = Vec::with_capacity(b.size(payload.len()));
    // Writing to a Vec cannot fail; a too-large payload is a caller bug caught by tests.
    let _ = b.write(&mut v, payload);
    v
}

/// An ARP reply announcing `ip` at `mac`.
pub fn arp(mac: [u8; 6], ip: [u8; 4]) -> Vec<u8> {
    let a = ArpEthIpv4Packet {
        operation: ArpOperation::REPLY,
        sender_mac: mac,
        sender_ipv4: ip,
        target_mac: BROADCAST,
        target_ipv4: ip,
    };
    let b = PacketBuilder::ethernet2(mac, BROADCAST).arp(a.into());
    let mut v = Vec::with_capacity(b.size());
    let _ = b.write(&mut v);
    v
}

/// A DHCPREQUEST from `mac` asking for `ip`, with vendor class (60) and host name (12).
pub fn dhcp_request(mac: [u8; 6], ip: [u8; 4], vendor_class: &str, hostname: &str) -> Vec<u8> {
    let mut p = vec![0u8; 240];
    p[0] = 1; // BOOTREQUEST
    p[1] = 1; // Ethernet
    p[2] = 6;
    p[4..8].copy_from_slice(&0x3903_f326u32.to_be_bytes());
    p[28..34].copy_from_slice(&mac);
    p[236..240].copy_from_slice(&[99, 130, 83, 99]);
    p.extend_from_slice(&[53, 1, 3]); // DHCPREQUEST
    p.extend_from_slice(&[50, 4]);
    p.extend_from_slice(&ip);
    for (code, v) in [(60u8, vendor_class), (12u8, hostname)] {
        let v = &v.as_bytes()[..v.len().min(255)];
        p.push(code);
        p.push(v.len() as u8);
        p.extend_from_slice(v);
    }
    p.push(255);
    udp(
        mac,
        BROADCAST,
        [0, 0, 0, 0],
        [255, 255, 255, 255],
        68,
        67,
        &p,
    )
}

/// An mDNS response: `service` PTR `instance`, with a TXT record for the instance.
pub fn mdns_answer(
    mac: [u8; 6],
    ip: [u8; 4],
    service: &str,
    instance: &str,
    txt: &[&str],
) -> Vec<u8> {
    use simple_dns::rdata::{RData, PTR, TXT};
    use simple_dns::{Name, Packet, ResourceRecord, CLASS};
    let mut pkt = Packet::new_reply(0);
    pkt.set_flags(simple_dns::PacketFlag::AUTHORITATIVE_ANSWER);
    pkt.answers.push(ResourceRecord::new(
        Name::new_unchecked(service),
        CLASS::IN,
        120,
        RData::PTR(PTR(Name::new_unchecked(instance))),
    ));
    let mut t = TXT::new();
    for s in txt {
        let _ = t.add_string(s);
    }
    pkt.additional_records.push(ResourceRecord::new(
        Name::new_unchecked(instance),
        CLASS::IN,
        120,
        RData::TXT(t),
    ));
    let bytes = pkt.build_bytes_vec().unwrap_or_default();
    udp(
        mac,
        [0x01, 0x00, 0x5e, 0, 0, 0xfb],
        ip,
        [224, 0, 0, 251],
        5353,
        5353,
        &bytes,
    )
}

/// An SSDP `NOTIFY * HTTP/1.1` (ssdp:alive) with the given headers.
pub fn ssdp_notify(mac: [u8; 6], ip: [u8; 4], headers: &[(&str, &str)]) -> Vec<u8> {
    let mut s =
        String::from("NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nNTS: ssdp:alive\r\n");
    for (k, v) in headers {
        s.push_str(&format!("{k}: {v}\r\n"));
    }
    s.push_str("\r\n");
    udp(
        mac,
        [0x01, 0x00, 0x5e, 0x7f, 0xff, 0xfa],
        ip,
        [239, 255, 255, 250],
        1900,
        1900,
        s.as_bytes(),
    )
}

/// A DNS query for `name` (type A) from `ip` to `server`.
pub fn dns_query(mac: [u8; 6], ip: [u8; 4], server: [u8; 4], name: &str) -> Vec<u8> {
    use simple_dns::{Name, Packet, Question, CLASS, QCLASS, QTYPE, TYPE};
    let mut pkt = Packet::new_query(0x1234);
    pkt.questions.push(Question::new(
        Name::new_unchecked(name),
        QTYPE::TYPE(TYPE::A),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    let bytes = pkt.build_bytes_vec().unwrap_or_default();
    udp(mac, [0x02, 0, 0, 0, 0, 1], ip, server, 40000, 53, &bytes)
}
