//! HTTP/RTSP Digest and Basic authentication checks, and ONVIF WS-UsernameToken checks.

use base64::Engine;
use md5::{Digest as _, Md5};
use sha1::Sha1;
use std::collections::HashMap;

use crate::Credentials;

fn md5_hex(s: &str) -> String {
    let d = Md5::digest(s.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parse `k="v", k2=v2` parameter lists.
pub fn parse_params(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq]
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        rest = rest[eq + 1..].trim_start();
        let val;
        if let Some(r) = rest.strip_prefix('"') {
            match r.find('"') {
                Some(end) => {
                    val = r[..end].to_string();
                    rest = &r[end + 1..];
                }
                None => {
                    val = r.to_string();
                    rest = "";
                }
            }
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            val = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        rest = rest.trim_start().trim_start_matches(',').trim_start();
        out.insert(key, val);
    }
    out
}

/// Does `Authorization` (header value) carry valid credentials for `method`?
pub fn check_authorization(
    header: Option<&str>,
    method: &str,
    creds: Option<&Credentials>,
) -> bool {
    let (Some(h), Some(c)) = (header, creds) else {
        return false;
    };
    let h = h.trim();
    if let Some(b) = h
        .strip_prefix("Basic ")
        .or_else(|| h.strip_prefix("basic "))
    {
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b.trim()) else {
            return false;
        };
        return raw == format!("{}:{}", c.username, c.password).as_bytes();
    }
    if let Some(d) = h
        .strip_prefix("Digest ")
        .or_else(|| h.strip_prefix("digest "))
    {
        let p = parse_params(d);
        let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
        if get("username") != c.username {
            return false;
        }
        let ha1 = md5_hex(&format!("{}:{}:{}", c.username, get("realm"), c.password));
        let ha2 = md5_hex(&format!("{method}:{}", get("uri")));
        let expect = if p.contains_key("qop") {
            md5_hex(&format!(
                "{ha1}:{}:{}:{}:{}:{ha2}",
                get("nonce"),
                get("nc"),
                get("cnonce"),
                get("qop")
            ))
        } else {
            md5_hex(&format!("{ha1}:{}:{ha2}", get("nonce")))
        };
        return expect.eq_ignore_ascii_case(get("response"));
    }
    false
}

/// WS-Security UsernameToken check (PasswordDigest or PasswordText).
pub fn check_username_token(
    username: &str,
    password: &str,
    password_type: &str,
    nonce_b64: &str,
    created: &str,
    creds: &Credentials,
) -> bool {
    if username != creds.username {
        return false;
    }
    if password_type.ends_with("#PasswordText") {
        return password == creds.password;
    }
    let Ok(nonce) = base64::engine::general_purpose::STANDARD.decode(nonce_b64.trim()) else {
        return false;
    };
    let mut h = Sha1::new();
    h.update(&nonce);
    h.update(created.as_bytes());
    h.update(creds.password.as_bytes());
    let expect = base64::engine::general_purpose::STANDARD.encode(h.finalize());
    expect == password.trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_rfc2617_example() {
        // RFC 2617 section 3.5 example.
        let creds = Credentials {
            username: "Mufasa".into(),
            password: "Circle Of Life".into(),
        };
        let h = r#"Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41""#;
        assert!(check_authorization(Some(h), "GET", Some(&creds)));
        assert!(!check_authorization(Some(h), "POST", Some(&creds)));
        assert!(!check_authorization(Some(h), "GET", None));
    }

    #[test]
    fn basic() {
        let creds = Credentials {
            username: "admin".into(),
            password: "x".into(),
        };
        assert!(check_authorization(
            Some("Basic YWRtaW46eA=="),
            "GET",
            Some(&creds)
        ));
        assert!(!check_authorization(
            Some("Basic YWRtaW46eQ=="),
            "GET",
            Some(&creds)
        ));
    }

    #[test]
    fn username_token_digest() {
        let creds = Credentials {
            username: "admin".into(),
            password: "pw".into(),
        };
        let nonce = base64::engine::general_purpose::STANDARD.encode(b"0123456789abcdef");
        let created = "2026-11-29T05:00:00Z";
        let mut h = Sha1::new();
        h.update(b"0123456789abcdef");
        h.update(created.as_bytes());
        h.update(b"pw");
        let pw = base64::engine::general_purpose::STANDARD.encode(h.finalize());
        let t = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest";
        assert!(check_username_token(
            "admin", &pw, t, &nonce, created, &creds
        ));
        assert!(!check_username_token(
            "admin", "AAAA", t, &nonce, created, &creds
        ));
    }
}
