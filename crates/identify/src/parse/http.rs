//! HTTP, RTSP and SSDP responses (one status line, headers, body), HTML titles and
//! `WWW-Authenticate` realms.

use crate::error::{cap, ParseError, Result};
use serde::Serialize;
use std::sync::LazyLock;

/// Largest HTTP/RTSP/SSDP message accepted (headers and body).
pub const MAX_MESSAGE: usize = 1 << 20;
/// Most header lines accepted.
pub const MAX_HEADERS: usize = 128;
/// Longest header block accepted.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// A parsed response (or, for SSDP, a NOTIFY / M-SEARCH request: `status` is then 0 and
/// `method` is set).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HttpResponse {
    /// `HTTP/1.1`, `RTSP/1.0` ...
    pub version: String,
    pub status: u16,
    pub reason: String,
    /// Request method when the first line is a request (`NOTIFY`, `M-SEARCH`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Headers in order, with their original case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// Headers as the observation map (first occurrence of each name wins).
    pub fn headers_map(&self) -> camtrace_model::observation::Headers {
        let mut m = camtrace_model::observation::Headers::new();
        for (k, v) in &self.headers {
            if !m.keys().any(|e| e.eq_ignore_ascii_case(k)) {
                m.insert(k.clone(), v.clone());
            }
        }
        m
    }
    /// The body as text (lossy).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn find_sub(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

fn parse_message(data: &[u8], protos: &[&str], what: &'static str) -> Result<HttpResponse> {
    cap(data.len(), MAX_MESSAGE)?;
    let (head_end, body_at) = match (find_sub(data, b"\r\n\r\n"), find_sub(data, b"\n\n")) {
        (Some(a), Some(b)) if b + 1 < a => (b, b + 2),
        (Some(a), _) => (a, a + 4),
        (None, Some(b)) => (b, b + 2),
        (None, None) => (data.len(), data.len()),
    };
    if head_end > MAX_HEADER_BYTES {
        return Err(ParseError::BadHeader(format!(
            "header block longer than {MAX_HEADER_BYTES} bytes"
        )));
    }
    let head = String::from_utf8_lossy(&data[..head_end]);
    let mut lines = head.split('\n').map(|l| l.trim_end_matches('\r'));
    let first = lines.next().unwrap_or("").trim();
    let mut r = HttpResponse::default();
    let mut parts = first.splitn(3, ' ');
    let a = parts.next().unwrap_or("");
    let b = parts.next().unwrap_or("");
    let c = parts.next().unwrap_or("").trim();
    let is_proto = |s: &str| {
        let b = s.as_bytes();
        protos.iter().any(|p| {
            b.len() > p.len()
                && b[..p.len()].eq_ignore_ascii_case(p.as_bytes())
                && b[p.len()] == b'/'
        })
    };
    if is_proto(a) {
        r.version = a.to_string();
        r.status = b
            .parse()
            .ok()
            .filter(|s| (100..1000).contains(s))
            .ok_or_else(|| {
                ParseError::BadHeader(format!(
                    "bad status code `{}`",
                    b.chars().take(16).collect::<String>()
                ))
            })?;
        r.reason = c.to_string();
    } else if is_proto(c)
        && !a.is_empty()
        && a.chars().all(|ch| ch.is_ascii_uppercase() || ch == '-')
    {
        r.version = c.to_string();
        r.method = Some(a.to_string());
    } else {
        return Err(ParseError::NotThisProtocol(what));
    }
    for line in lines {
        if line.trim().is_empty() {
            continue;
        }
        if r.headers.len() >= MAX_HEADERS {
            return Err(ParseError::BadHeader(format!(
                "more than {MAX_HEADERS} headers"
            )));
        }
        if line.starts_with([' ', '\t']) {
            // Obsolete line folding: continue the previous header.
            if let Some((_, v)) = r.headers.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            let k = k.trim();
            if !k.is_empty() && !k.contains(' ') {
                r.headers.push((k.to_string(), v.trim().to_string()));
            }
        }
    }
    r.body = data.get(body_at..).unwrap_or(&[]).to_vec();
    Ok(r)
}

/// Parse an HTTP response.
pub fn http_response(data: &[u8]) -> Result<HttpResponse> {
    parse_message(data, &["HTTP"], "HTTP response")
}

/// Parse an RTSP response (`RTSP/1.0 401 Unauthorized` ...).
pub fn rtsp_response(data: &[u8]) -> Result<HttpResponse> {
    parse_message(data, &["RTSP"], "RTSP response")
}

/// Parse an SSDP message: an `HTTP/1.1 200 OK` answer to M-SEARCH, or a `NOTIFY * HTTP/1.1`.
pub fn ssdp_response(data: &[u8]) -> Result<HttpResponse> {
    parse_message(data, &["HTTP"], "SSDP message")
}

static TITLE: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::RegexBuilder::new(r"<title[^>]{0,256}>([^<]{0,2048})</title")
        .case_insensitive(true)
        .build()
        .expect("static regex")
});

/// The `<title>` of an HTML page, whitespace collapsed, entities `&amp; &lt; &gt; &quot;` decoded.
pub fn html_title(html: &str) -> Option<String> {
    let html = &html[..floor_boundary(html, MAX_MESSAGE)];
    let t = TITLE.captures(html)?.get(1)?.as_str();
    let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
    let t = t
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    (!t.is_empty()).then_some(t)
}

pub(crate) fn floor_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

static REALM: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::RegexBuilder::new(r#"realm\s*=\s*(?:"([^"]{0,512})"|([^\s,"]{1,512}))"#)
        .case_insensitive(true)
        .build()
        .expect("static regex")
});

/// The realm of a `WWW-Authenticate` value (`Digest realm="Hikvision", nonce=...` → `Hikvision`).
pub fn www_authenticate_realm(value: &str) -> Option<String> {
    let c = REALM.captures(&value[..floor_boundary(value, 8192)])?;
    Some(c.get(1).or(c.get(2))?.as_str().to_string())
}
