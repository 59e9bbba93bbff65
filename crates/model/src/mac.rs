//! The one MAC address normaliser: every crate that stores, compares or looks up a MAC uses it,
//! so a MAC written `44-19-B6-01-02-03`, `4419.b601.0203` or `4419b6010203` is the same device.

/// Canonical MAC notation: six lower-case hex pairs joined by `:`. Accepts `:`- or
/// `-`-separated pairs, Cisco dotted form (`4419.b601.0203`) and bare hex, with surrounding
/// white space. `None` when it is not a 48-bit MAC.
pub fn normalise_mac(s: &str) -> Option<String> {
    let s = s.trim();
    // Bounded: anything longer than the longest accepted notation is not a MAC.
    if s.len() > 17 {
        return None;
    }
    let mut hex = String::with_capacity(12);
    for c in s.chars() {
        match c {
            ':' | '-' | '.' => {}
            c if c.is_ascii_hexdigit() => hex.push(c.to_ascii_lowercase()),
            _ => return None,
        }
    }
    if hex.len() != 12 {
        return None;
    }
    let mut out = String::with_capacity(17);
    for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push(pair[0] as char);
        out.push(pair[1] as char);
    }
    Some(out)
}

/// Canonical notation of six bytes.
pub fn mac_from_bytes(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn notations_agree() {
        for s in [
            "44:19:b6:01:02:03",
            "44-19-B6-01-02-03",
            "4419.b601.0203",
            "4419B6010203",
            " 44:19:b6:01:02:03\n",
        ] {
            assert_eq!(
                normalise_mac(s).as_deref(),
                Some("44:19:b6:01:02:03"),
                "{s}"
            );
        }
        for s in [
            "",
            "44:19:b6:01:02",
            "44:19:b6:01:02:03:04",
            "zz:19:b6:01:02:03",
            "44 19 b6 01 02 03",
        ] {
            assert_eq!(normalise_mac(s), None, "{s}");
        }
    }

    proptest! {
        #[test]
        fn bytes_round_trip(b in proptest::array::uniform6(any::<u8>())) {
            let s = mac_from_bytes(&b);
            prop_assert_eq!(normalise_mac(&s), Some(s.clone()));
            prop_assert_eq!(normalise_mac(&s.replace(':', "-").to_uppercase()), Some(s));
        }

        #[test]
        fn never_panics(s in ".{0,40}") {
            let _ = normalise_mac(&s);
        }
    }
}
