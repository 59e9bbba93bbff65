//! Per-device identity (model, firmware, serial, MAC, UUID) drawn deterministically from the seed,
//! and the template variables personalities refer to.

use rand::Rng;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::personality::Personality;

/// Template variables of one device.
#[derive(Debug, Clone, Default)]
pub struct Vars(pub BTreeMap<String, String>);

impl Vars {
    pub fn get(&self, k: &str) -> &str {
        self.0.get(k).map(String::as_str).unwrap_or("")
    }

    pub fn set(&mut self, k: &str, v: impl Into<String>) {
        self.0.insert(k.to_string(), v.into());
    }

    /// Replace every `{name}` whose name is a known variable; anything else is left as is
    /// (so JSON braces in templates survive).
    pub fn render(&self, tpl: &str) -> String {
        let mut out = String::with_capacity(tpl.len() + 32);
        let mut rest = tpl;
        while let Some(i) = rest.find('{') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            match after.find('}') {
                Some(j)
                    if j > 0
                        && after[..j]
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                        && self.0.contains_key(&after[..j]) =>
                {
                    out.push_str(self.get(&after[..j]));
                    rest = &after[j + 1..];
                }
                _ => {
                    out.push('{');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// The stable identity of one emulated device.
#[derive(Debug, Clone)]
pub struct Identity {
    pub model: String,
    pub firmware: String,
    pub serial: String,
    pub mac: [u8; 6],
    pub uuid: String,
}

fn digits(rng: &mut impl Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

fn upper(rng: &mut impl Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'A' + rng.gen_range(0..26u8)))
        .collect()
}

fn alnum(rng: &mut impl Rng, n: usize) -> String {
    const A: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    (0..n)
        .map(|_| char::from(A[rng.gen_range(0..A.len())]))
        .collect()
}

fn hex(rng: &mut impl Rng, n: usize) -> String {
    const A: &[u8] = b"0123456789ABCDEF";
    (0..n)
        .map(|_| char::from(A[rng.gen_range(0..16)]))
        .collect()
}

pub fn mac_string(mac: &[u8; 6], sep: &str, upper_case: bool) -> String {
    let parts: Vec<String> = mac
        .iter()
        .map(|b| {
            if upper_case {
                format!("{b:02X}")
            } else {
                format!("{b:02x}")
            }
        })
        .collect();
    parts.join(sep)
}

/// Draw an identity for personality `p` and build its base variables (ports are added later).
pub fn generate(p: &Personality, rng: &mut impl Rng) -> (Identity, Vars) {
    let model = p.models[rng.gen_range(0..p.models.len())].clone();
    let firmware = p.firmware[rng.gen_range(0..p.firmware.len())].clone();
    let oui = &p.oui[rng.gen_range(0..p.oui.len())];
    let mut mac = [0u8; 6];
    for (i, b) in mac.iter_mut().take(3).enumerate() {
        *b = u8::from_str_radix(&oui[i * 2..i * 2 + 2], 16).unwrap_or(0);
    }
    rng.fill(&mut mac[3..]);
    let u: [u8; 16] = rng.gen();
    let uuid = format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        u32::from_be_bytes([u[0], u[1], u[2], u[3]]),
        u16::from_be_bytes([u[4], u[5]]),
        (u16::from_be_bytes([u[6], u[7]]) & 0x0fff) | 0x4000,
        (u16::from_be_bytes([u[8], u[9]]) & 0x3fff) | 0x8000,
        u64::from_be_bytes([0, 0, u[10], u[11], u[12], u[13], u[14], u[15]])
    );
    let year = rng.gen_range(2019..=2024);
    let month = rng.gen_range(1..=12);
    let day = rng.gen_range(1..=28);

    let mut v = Vars::default();
    v.set("model", model.clone());
    v.set("firmware", firmware.clone());
    v.set("uuid", uuid.clone());
    v.set("mac", mac_string(&mac, ":", false));
    v.set("mac_upper", mac_string(&mac, ":", true));
    v.set("mac_dash", mac_string(&mac, "-", false));
    v.set("mac_dash_upper", mac_string(&mac, "-", true));
    v.set("mac_plain", mac_string(&mac, "", true));
    v.set("mac_plain_lower", mac_string(&mac, "", false));
    v.set("date8", format!("{year:04}{month:02}{day:02}"));
    v.set("date6", format!("{:02}{month:02}{day:02}", year % 100));
    v.set("date_iso", format!("{year:04}-{month:02}-{day:02}"));
    v.set("year", year.to_string());
    v.set("d4", digits(rng, 4));
    v.set("d6", digits(rng, 6));
    v.set("d8", digits(rng, 8));
    v.set("d9", digits(rng, 9));
    v.set("u2", upper(rng, 2));
    v.set("u4", upper(rng, 4));
    v.set("a4", alnum(rng, 4));
    v.set("a8", alnum(rng, 8));
    v.set("a10", alnum(rng, 10));
    v.set("a15", alnum(rng, 15));
    v.set("h6", hex(rng, 6));
    v.set("h8", hex(rng, 8));
    v.set("model_url", pct_encode(&model));
    let (fw_version, fw_build) = firmware.split_once(' ').unwrap_or((firmware.as_str(), ""));
    v.set("fw_version", fw_version);
    v.set("fw_build", fw_build.trim());
    // Personality variables may reference the base ones and each other (in table order), the
    // serial may reference them, and they may reference the serial: render, serial, re-render.
    let render_vars = |v: &mut Vars| {
        for (k, val) in &p.vars {
            let r = v.render(val);
            v.set(k, r);
        }
    };
    render_vars(&mut v);
    let serial = v.render(&p.serial);
    v.set("serial", serial.clone());
    render_vars(&mut v);
    (
        Identity {
            model,
            firmware,
            serial,
            mac,
            uuid,
        },
        v,
    )
}

/// Add the address variables.
pub fn set_address(v: &mut Vars, ip: Ipv4Addr, mask: Ipv4Addr, gateway: Ipv4Addr) {
    v.set("ip", ip.to_string());
    v.set("mask", mask.to_string());
    v.set("gateway", gateway.to_string());
    let o = ip.octets();
    v.set("ip_dash", format!("{}-{}-{}-{}", o[0], o[1], o[2], o[3]));
}

/// Percent-encode for ONVIF scope URIs (space → %20 etc.).
pub fn pct_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_keeps_unknown_braces() {
        let mut v = Vars::default();
        v.set("model", "DS-2CD2143G2-I");
        assert_eq!(
            v.render(r#"{"a":"{model}","b":{x}} {nope"#),
            r#"{"a":"DS-2CD2143G2-I","b":{x}} {nope"#
        );
    }

    #[test]
    fn pct() {
        assert_eq!(pct_encode("HIKVISION DS-2CD"), "HIKVISION%20DS-2CD");
    }
}
