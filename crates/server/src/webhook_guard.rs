//! Where webhooks may deliver: the address policy against server-side request forgery.
//!
//! An organisation admin chooses a webhook's URL, and the server sends to it from inside the
//! network. By default the server therefore refuses every address that is not a public
//! unicast address: loopback, unspecified, link-local (which holds the cloud metadata service
//! at 169.254.169.254), private (RFC 1918), unique-local IPv6, shared address space (CGNAT,
//! 100.64.0.0/10, which holds another cloud's metadata service), IETF protocol assignments
//! (192.0.0.0/24), benchmarking, multicast, broadcast and reserved ranges, and the same
//! addresses inside IPv4-mapped, NAT64 and 6to4 IPv6 addresses. The operator opens exceptions
//! for on-premises receivers with an allow-list of CIDR blocks (`webhook_allow` in the
//! configuration file, `--webhook-allow` on `camtrace serve`).
//!
//! The check runs where it cannot be dodged: on the addresses a host name *resolves to*, in
//! the HTTP client's own resolver ([`GuardedResolver`]), so the connection goes only to an
//! address that passed; on literal IP addresses before sending ([`AddressPolicy::check_url`]);
//! redirects are never followed (a 3xx answer is a failed delivery), and no HTTP proxy from
//! the environment is used (it would resolve the name itself).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// An IPv4 or IPv6 CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// `10.1.2.0/24`, `fd00::/8`, or a single address.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{s}` is not an IP address or CIDR block"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}`: prefix length must be 0..{max}"))?,
            None => max,
        };
        Ok(Cidr { net, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            (IpAddr::V4(_), IpAddr::V6(a)) => a
                .to_ipv4_mapped()
                .is_some_and(|v4| self.contains(IpAddr::V4(v4))),
            _ => false,
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

fn in4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

/// Why `ip` is not a public unicast address (`None`: it is).
pub fn non_public_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let ranges: [([u8; 4], u32, &'static str); 14] = [
        ([0, 0, 0, 0], 8, "unspecified (0.0.0.0/8)"),
        ([127, 0, 0, 0], 8, "loopback"),
        ([10, 0, 0, 0], 8, "private (10.0.0.0/8)"),
        ([172, 16, 0, 0], 12, "private (172.16.0.0/12)"),
        ([192, 168, 0, 0], 16, "private (192.168.0.0/16)"),
        (
            [169, 254, 0, 0],
            16,
            "link-local (cloud metadata services live here)",
        ),
        (
            [100, 64, 0, 0],
            10,
            "shared address space (CGNAT, 100.64.0.0/10)",
        ),
        (
            [192, 0, 0, 0],
            24,
            "IETF protocol assignments (192.0.0.0/24)",
        ),
        ([198, 18, 0, 0], 15, "benchmarking (198.18.0.0/15)"),
        ([192, 0, 2, 0], 24, "documentation (TEST-NET-1)"),
        ([198, 51, 100, 0], 24, "documentation (TEST-NET-2)"),
        ([203, 0, 113, 0], 24, "documentation (TEST-NET-3)"),
        ([224, 0, 0, 0], 4, "multicast"),
        ([240, 0, 0, 0], 4, "reserved (240.0.0.0/4, broadcast)"),
    ];
    ranges
        .iter()
        .find(|(net, prefix, _)| in4(ip, *net, *prefix))
        .map(|(_, _, why)| *why)
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("unspecified (::)");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_reason(v4);
    }
    let s = ip.segments();
    let o = ip.octets();
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address: judge that one.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return v4_reason(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    if s[0] == 0x2002 {
        return v4_reason(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    // IPv4-compatible (::a.b.c.d, deprecated).
    if s[..6] == [0; 6] {
        return Some("IPv4-compatible IPv6 (deprecated)");
    }
    match s[0] {
        x if x & 0xfe00 == 0xfc00 => Some("unique-local (fc00::/7)"),
        x if x & 0xffc0 == 0xfe80 => Some("link-local (fe80::/10)"),
        x if x & 0xffc0 == 0xfec0 => Some("site-local (fec0::/10, deprecated)"),
        x if x & 0xff00 == 0xff00 => Some("multicast"),
        0x2001 if s[1] == 0x0db8 => Some("documentation (2001:db8::/32)"),
        0x0100 if s[1..4] == [0, 0, 0] => Some("discard-only (100::/64)"),
        _ => None,
    }
}

/// The addresses webhooks may deliver to: public unicast addresses, and whatever the operator
/// allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    pub allow: Vec<Cidr>,
}

impl AddressPolicy {
    /// From CIDR blocks (`webhook_allow`).
    pub fn from_allow_list(list: &[String]) -> Result<AddressPolicy, String> {
        Ok(AddressPolicy {
            allow: list
                .iter()
                .map(|s| Cidr::parse(s).map_err(|e| format!("webhook_allow: {e}")))
                .collect::<Result<_, _>>()?,
        })
    }

    /// `Err(reason)` when a webhook must not send to `ip`.
    pub fn check(&self, ip: IpAddr) -> Result<(), String> {
        if self.allow.iter().any(|c| c.contains(ip)) {
            return Ok(());
        }
        match non_public_reason(ip) {
            Some(why) => Err(format!(
                "webhook address {ip} is {why}: refused (an operator can allow it with webhook_allow / --webhook-allow)"
            )),
            None => Ok(()),
        }
    }

    /// Check a URL's host when it is a literal address (host names are checked when they
    /// resolve, by [`GuardedResolver`]), and refuse `localhost` names outright.
    pub fn check_url(&self, url: &reqwest::Url) -> Result<(), String> {
        let Some(host) = url.host_str() else {
            return Err("webhook URL has no host".into());
        };
        // The URL parser has normalised literal addresses (`0x7f.1` is `127.0.0.1`, IPv6 in
        // brackets).
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return self.check(ip);
        }
        let d = host.trim_end_matches('.').to_ascii_lowercase();
        if d == "localhost" || d.ends_with(".localhost") {
            return self.check(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        Ok(())
    }
}

/// The HTTP client's resolver: resolves with the system resolver and keeps only the addresses
/// the policy allows; a name with none left fails to resolve, so no connection is made.
pub struct GuardedResolver {
    pub policy: Arc<AddressPolicy>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut last = None;
            let allowed: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| match policy.check(a.ip()) {
                    Ok(()) => true,
                    Err(e) => {
                        last = Some(e);
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                let why = last.unwrap_or_else(|| format!("`{host}` has no address"));
                return Err(why.into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(s: &str) -> bool {
        AddressPolicy::default().check(s.parse().unwrap()).is_err()
    }

    #[test]
    fn webhook_ssrf_refuses_non_public_addresses() {
        for a in [
            "127.0.0.1",
            "127.1.2.3",
            "0.0.0.0",
            "10.0.0.1",
            "172.16.5.4",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.100.100.200",
            "192.0.0.192",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:0001::1",
            "ff02::1",
        ] {
            assert!(refused(a), "{a} must be refused");
        }
        for a in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "2a00:1450::1",
        ] {
            assert!(!refused(a), "{a} is public");
        }
    }

    #[test]
    fn the_allow_list_opens_exceptions() {
        let p = AddressPolicy::from_allow_list(&["10.1.2.0/24".into(), "::1".into()]).unwrap();
        assert!(p.check("10.1.2.9".parse().unwrap()).is_ok());
        assert!(p.check("10.1.3.9".parse().unwrap()).is_err());
        assert!(p.check("::1".parse().unwrap()).is_ok());
        assert!(p.check("127.0.0.1".parse().unwrap()).is_err());
        assert!(AddressPolicy::from_allow_list(&["10.0.0.0/33".into()]).is_err());
        assert!(AddressPolicy::from_allow_list(&["nope".into()]).is_err());
        let all = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(all.contains("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn urls_with_literal_addresses_and_localhost_are_checked() {
        let p = AddressPolicy::default();
        let u = |s: &str| reqwest::Url::parse(s).unwrap();
        assert!(p.check_url(&u("http://127.0.0.1:9/x")).is_err());
        assert!(p.check_url(&u("http://[::1]/x")).is_err());
        assert!(
            p.check_url(&u("http://0x7f.1/x")).is_err(),
            "URL parsing normalises hex"
        );
        assert!(p.check_url(&u("http://localhost/x")).is_err());
        assert!(p.check_url(&u("http://a.localhost./x")).is_err());
        assert!(p.check_url(&u("https://hooks.example/x")).is_ok());
    }
}
