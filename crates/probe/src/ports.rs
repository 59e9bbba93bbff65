//! TCP port lists: the curated camera list and nmap-style `--ports` syntax.

/// What we expect to speak on a port; decides which probes run first (all fall back sensibly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortHint {
    /// Plain HTTP first, TLS if the reply is not HTTP.
    Http,
    /// TLS first (certificate + HTTP inside), plain HTTP if the handshake fails.
    Https,
    /// RTSP OPTIONS + DESCRIBE.
    Rtsp,
    /// Proprietary binary protocol: connect, send nothing, record the first bytes.
    Banner,
}

/// The default port list and why each port is on it (sources: `shared/facts/protocols.md`
/// sections 2.2, 2.3, 2.6 and the anchors table: Ingram's default port list, cameradar's RTSP
/// ports, nmap-service-probes).
pub const DEFAULT_PORTS: &[(u16, PortHint, &str)] = &[
    (
        80,
        PortHint::Http,
        "web UI of nearly every camera/recorder; ISAPI, Dahua CGI, VAPIX, ONVIF device service",
    ),
    (
        81,
        PortHint::Http,
        "common alternate web port on DVRs (Ingram port list 80-85)",
    ),
    (
        88,
        PortHint::Http,
        "alternate web port seen on OEM DVRs (Ingram port list)",
    ),
    (
        443,
        PortHint::Https,
        "HTTPS web UI; default certificates name the maker (Hikvision CN=www.hikvision.com)",
    ),
    (
        554,
        PortHint::Rtsp,
        "RTSP default; Server header (`Dahua Rtsp Server`) and realm (`Hikvision`, `device`)",
    ),
    (
        631,
        PortHint::Http,
        "IPP printers answer HTTP here: evidence that a host is a printer, not a camera",
    ),
    (
        5000,
        PortHint::Http,
        "Dahua DHIP over TCP / HTTP on some units (DahuaConsole README); also UPnP web UIs",
    ),
    (
        8000,
        PortHint::Banner,
        "Hikvision SDK/command port (SADP CommandPort=8000; nmap NULL-probe signature)",
    ),
    (
        8080,
        PortHint::Http,
        "alternate web port (Ingram list); many NVRs and VMS",
    ),
    (8081, PortHint::Http, "alternate web port (Ingram list)"),
    (
        8443,
        PortHint::Https,
        "alternate HTTPS port (Hikvision/Uniview NVRs, VMS consoles)",
    ),
    (
        8554,
        PortHint::Rtsp,
        "alternate RTSP port (cameradar default list)",
    ),
    (
        8899,
        PortHint::Http,
        "ONVIF service port on Xiongmai-firmware cameras (guess from field reports)",
    ),
    (
        9000,
        PortHint::Http,
        "web/media port on OEM DVRs (Ingram list)",
    ),
    (
        9100,
        PortHint::Banner,
        "raw printing (JetDirect): connect only, nothing is ever sent; marks printers",
    ),
    (
        34567,
        PortHint::Banner,
        "Xiongmai (XMEye/NETSurveillance) private protocol port",
    ),
    (
        37777,
        PortHint::Banner,
        "Dahua private SDK port (DHIP `Port`: 37777; Ingram list)",
    ),
];

/// Ports where anything sent is acted upon (raw printing: JetDirect/AppSocket 9100-9107 prints
/// whatever arrives). Only a connect and a passive banner read happen there, never a payload.
pub fn is_send_nothing_port(port: u16) -> bool {
    (9100..=9107).contains(&port)
}

/// The hint for a port: from the default list, otherwise by convention.
pub fn hint_for(port: u16) -> Option<PortHint> {
    DEFAULT_PORTS
        .iter()
        .find(|(p, _, _)| *p == port)
        .map(|(_, h, _)| *h)
}

/// Host-discovery ("ping") ports, in the order tried: a host is probed in full only once one of
/// these is open, or it answered UDP discovery, or (off loopback) it refused a connection, which
/// proves it exists. Every surveillance device the facts describe keeps at least one of them open:
/// the web UI (80/443), RTSP (554), Hikvision's SDK port (8000) or Dahua's TCP service (37777).
/// Loopback refusals come from our own kernel for every 127/8 address, so they prove nothing.
pub const DEFAULT_PING_PORTS: &[u16] = &[80, 443, 554, 8000, 37777];

pub fn default_ports() -> Vec<u16> {
    DEFAULT_PORTS.iter().map(|(p, _, _)| *p).collect()
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid port list `{0}`: {1}")]
pub struct PortError(pub String, pub String);

/// Parse nmap-style port lists: `80,443`, `1-1024,8000`, `-100` (1-100), `60000-` (to 65535),
/// `T:80` (the TCP marker is accepted), `default` (the curated list), `+8888` adds to the list.
/// The result is sorted and de-duplicated; port 0 is refused.
pub fn parse_ports(spec: &str) -> Result<Vec<u16>, PortError> {
    let err = |why: &str| PortError(spec.to_string(), why.to_string());
    let mut out: Vec<u16> = Vec::new();
    let mut any = false;
    for raw in spec.split(',') {
        let item = raw.trim();
        let item = item.strip_prefix("T:").unwrap_or(item);
        let item = item.strip_prefix('+').unwrap_or(item);
        if item.is_empty() {
            continue;
        }
        any = true;
        if item.eq_ignore_ascii_case("default") {
            out.extend(default_ports());
            continue;
        }
        if item.starts_with("U:") || item.starts_with("S:") {
            return Err(err(
                "only TCP ports are probed (UDP discovery uses fixed ports)",
            ));
        }
        let num = |s: &str| -> Result<u16, PortError> {
            let n: u32 = s
                .parse()
                .map_err(|_| err(&format!("`{s}` is not a port number")))?;
            if n == 0 || n > 65535 {
                return Err(err(&format!("port {n} is outside 1-65535")));
            }
            Ok(n as u16)
        };
        if let Some((a, b)) = item.split_once('-') {
            let lo = if a.is_empty() { 1 } else { num(a)? };
            let hi = if b.is_empty() { 65535 } else { num(b)? };
            if lo > hi {
                return Err(err(&format!("range `{item}` is reversed")));
            }
            out.extend(lo..=hi);
        } else {
            out.push(num(item)?);
        }
    }
    if !any {
        return Err(err("empty"));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn nmap_syntax() {
        assert_eq!(parse_ports("80,443").unwrap(), [80, 443]);
        assert_eq!(parse_ports("1-3,8000").unwrap(), [1, 2, 3, 8000]);
        assert_eq!(parse_ports("-3").unwrap(), [1, 2, 3]);
        assert_eq!(parse_ports("65534-").unwrap(), [65534, 65535]);
        assert_eq!(parse_ports("T:80, 80 ,81").unwrap(), [80, 81]);
        assert_eq!(parse_ports("1-65535").unwrap().len(), 65535);
        let d = parse_ports("default,+12345").unwrap();
        assert!(d.contains(&37777) && d.contains(&12345) && d.contains(&554));
        for bad in ["", "0", "65536", "80-70", "http", "U:53", "1-2-3"] {
            assert!(parse_ports(bad).is_err(), "{bad}");
        }
        assert!(parse_ports("80-70")
            .unwrap_err()
            .to_string()
            .contains("reversed"));
    }

    #[test]
    fn default_list_is_sorted_unique_and_justified() {
        let d = default_ports();
        let mut s = d.clone();
        s.sort_unstable();
        s.dedup();
        assert_eq!(d, s);
        assert!(DEFAULT_PORTS.iter().all(|(_, _, why)| why.len() > 10));
        assert_eq!(hint_for(554), Some(PortHint::Rtsp));
        assert_eq!(hint_for(12345), None);
        assert!(is_send_nothing_port(9100) && !is_send_nothing_port(80));
    }

    proptest! {
        #[test]
        fn ranges_expand_exactly(a in 1u16..=65535, b in 1u16..=65535) {
            let (lo, hi) = (a.min(b), a.max(b));
            let v = parse_ports(&format!("{lo}-{hi}")).unwrap();
            prop_assert_eq!(v.len(), (hi - lo) as usize + 1);
            prop_assert_eq!(v[0], lo);
        }
        #[test]
        fn never_panics(s in "[0-9T:U,+-]{0,20}") {
            let _ = parse_ports(&s);
        }
    }
}
