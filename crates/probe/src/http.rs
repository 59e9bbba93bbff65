//! A small, size-capped HTTP/1.1 client for probing (keep-alive when the server allows it).
//!
//! Only what probing needs: GET/POST with a few headers, Content-Length, chunked and
//! read-until-close bodies, all capped; every read has a timeout.

use crate::conn::Io;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_headers: usize,
    pub max_body: usize,
    pub io_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_headers: 64 << 10,
            max_body: 256 << 10,
            io_timeout: Duration::from_secs(3),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// `HTTP/1.1` or `RTSP/1.0`.
    pub version: String,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub body_truncated: bool,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("timed out")]
    Timeout,
    #[error("connection closed before a response")]
    Closed,
    #[error("not an HTTP/RTSP response (first bytes {0:?})")]
    NotHttp(Vec<u8>),
    #[error("response headers longer than {0} bytes")]
    HeadersTooLong(usize),
    #[error("malformed response: {0}")]
    Malformed(String),
}

/// A buffered reader over an [`Io`] that keeps leftover bytes between responses.
pub struct Reader {
    pub buf: Vec<u8>,
}

impl Default for Reader {
    fn default() -> Self {
        Self::new()
    }
}

impl Reader {
    pub fn new() -> Self {
        Self { buf: Vec::new() }
    }

    async fn fill(&mut self, io: &mut dyn Io, t: Duration) -> Result<usize, HttpError> {
        let mut chunk = [0u8; 8192];
        let n = tokio::time::timeout(t, io.read(&mut chunk))
            .await
            .map_err(|_| HttpError::Timeout)??;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Read one response (status line + headers + body). Returns it and whether the connection
    /// may carry another request.
    pub async fn read_response(
        &mut self,
        io: &mut dyn Io,
        lim: &Limits,
        head_request: bool,
    ) -> Result<(Response, bool), HttpError> {
        // headers
        let head_end = loop {
            if let Some(p) = find(&self.buf, b"\r\n\r\n") {
                break p + 4;
            }
            if let Some(p) = find(&self.buf, b"\n\n") {
                break p + 2;
            }
            if self.buf.len() >= 5
                && !self.buf.starts_with(b"HTTP/")
                && !self.buf.starts_with(b"RTSP/")
            {
                return Err(HttpError::NotHttp(
                    self.buf[..self.buf.len().min(64)].to_vec(),
                ));
            }
            if self.buf.len() > lim.max_headers {
                return Err(HttpError::HeadersTooLong(lim.max_headers));
            }
            if self.fill(io, lim.io_timeout).await? == 0 {
                if self.buf.is_empty() {
                    return Err(HttpError::Closed);
                }
                return Err(HttpError::NotHttp(
                    self.buf[..self.buf.len().min(64)].to_vec(),
                ));
            }
        };
        if head_end > lim.max_headers {
            return Err(HttpError::HeadersTooLong(lim.max_headers));
        }
        let (version, status, reason, headers) = parse_head(&self.buf[..head_end])?;
        self.buf.drain(..head_end);

        let mut keep = !version.eq_ignore_ascii_case("HTTP/1.0");
        if let Some(c) = find_header(&headers, "connection") {
            if c.to_ascii_lowercase().contains("close") {
                keep = false;
            } else if c.to_ascii_lowercase().contains("keep-alive") {
                keep = true;
            }
        }
        let no_body =
            head_request || status == 204 || status == 304 || (100..200).contains(&status);
        let mut body = Vec::new();
        let mut truncated = false;
        let chunked = find_header(&headers, "transfer-encoding")
            .map(|v| v.to_ascii_lowercase().contains("chunked"))
            .unwrap_or(false);
        let clen =
            find_header(&headers, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
        let is_rtsp = version.starts_with("RTSP");
        if no_body {
        } else if chunked {
            match self.read_chunked(io, lim, &mut body).await? {
                true => {}
                false => {
                    truncated = true;
                    keep = false;
                }
            }
        } else if let Some(n) = clen {
            let want = n.min(lim.max_body as u64) as usize;
            while self.buf.len() < want {
                if self.fill(io, lim.io_timeout).await? == 0 {
                    keep = false;
                    break;
                }
            }
            let take = want.min(self.buf.len());
            body.extend(self.buf.drain(..take));
            if (n as usize) > take {
                truncated = true;
                keep = false;
            }
        } else if is_rtsp {
            // RTSP without Content-Length has no body
        } else {
            // read until close
            keep = false;
            loop {
                if self.buf.len() >= lim.max_body {
                    truncated = true;
                    break;
                }
                match self.fill(io, lim.io_timeout).await {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(HttpError::Timeout) => break,
                    Err(e) => {
                        if self.buf.is_empty() {
                            return Err(e);
                        }
                        break;
                    }
                }
            }
            let take = self.buf.len().min(lim.max_body);
            body.extend(self.buf.drain(..take));
        }
        Ok((
            Response {
                version,
                status,
                reason,
                headers,
                body,
                body_truncated: truncated,
            },
            keep,
        ))
    }

    /// Decode a chunked body; false when it had to be truncated at the cap.
    async fn read_chunked(
        &mut self,
        io: &mut dyn Io,
        lim: &Limits,
        body: &mut Vec<u8>,
    ) -> Result<bool, HttpError> {
        loop {
            let line_end = loop {
                if let Some(p) = find(&self.buf, b"\r\n") {
                    break p;
                }
                if self.buf.len() > 1024 {
                    return Err(HttpError::Malformed("chunk size line too long".into()));
                }
                if self.fill(io, lim.io_timeout).await? == 0 {
                    return Ok(false);
                }
            };
            let line = String::from_utf8_lossy(&self.buf[..line_end]).to_string();
            let size_txt = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_txt, 16)
                .map_err(|_| HttpError::Malformed(format!("bad chunk size {size_txt:?}")))?;
            self.buf.drain(..line_end + 2);
            if size == 0 {
                // trailers: read up to the blank line (best effort)
                for _ in 0..16 {
                    if let Some(p) = find(&self.buf, b"\r\n") {
                        let empty = p == 0;
                        self.buf.drain(..p + 2);
                        if empty {
                            break;
                        }
                    } else if self.fill(io, lim.io_timeout).await.unwrap_or(0) == 0 {
                        break;
                    }
                }
                return Ok(true);
            }
            let room = lim.max_body.saturating_sub(body.len());
            while self.buf.len() < size.saturating_add(2) && self.buf.len() < room.saturating_add(2)
            {
                if self.fill(io, lim.io_timeout).await? == 0 {
                    let take = self.buf.len().min(size).min(room);
                    body.extend(self.buf.drain(..take));
                    return Ok(false);
                }
            }
            if size > room {
                let take = room.min(self.buf.len());
                body.extend(self.buf.drain(..take));
                return Ok(false);
            }
            body.extend(self.buf.drain(..size));
            let crlf = 2.min(self.buf.len());
            self.buf.drain(..crlf);
        }
    }
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

fn find_header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

type Head = (String, u16, String, Vec<(String, String)>);

/// Parse a status line and headers. HTTP goes through `httparse`; RTSP (same grammar, other
/// version token) is parsed by rewriting the version token for httparse.
pub fn parse_head(raw: &[u8]) -> Result<Head, HttpError> {
    let (version, rewritten);
    let bytes: &[u8] = if raw.starts_with(b"RTSP/") {
        version = String::from_utf8_lossy(&raw[..8.min(raw.len())]).to_string();
        let mut v = raw.to_vec();
        v[..8.min(raw.len())].copy_from_slice(&b"HTTP/1.1"[..8.min(raw.len())]);
        rewritten = v;
        &rewritten
    } else {
        version = String::new();
        raw
    };
    let mut hdrs = [httparse::EMPTY_HEADER; 128];
    let mut resp = httparse::Response::new(&mut hdrs);
    let parsed = httparse::ParserConfig::default()
        .allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .parse_response(&mut resp, bytes);
    match parsed {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(HttpError::Malformed("incomplete head".into()))
        }
        Err(e) => return Err(HttpError::Malformed(e.to_string())),
    }
    let version = if version.is_empty() {
        format!("HTTP/1.{}", resp.version.unwrap_or(1))
    } else {
        version
    };
    let status = resp.code.unwrap_or(0);
    let reason = resp.reason.unwrap_or("").to_string();
    let headers = resp
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).trim().to_string(),
            )
        })
        .collect();
    Ok((version, status, reason, headers))
}

/// Build a request. `host` is the Host header value.
pub fn build_request(
    method: &str,
    path: &str,
    host: &str,
    extra: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut r = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: camtrace/{} (inventory scanner)\r\nAccept: */*\r\nConnection: keep-alive\r\n",
        env!("CARGO_PKG_VERSION")
    );
    for (k, v) in extra {
        r.push_str(k);
        r.push_str(": ");
        r.push_str(v);
        r.push_str("\r\n");
    }
    if !body.is_empty() || method == "POST" {
        r.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    r.push_str("\r\n");
    let mut v = r.into_bytes();
    v.extend_from_slice(body);
    v
}

/// Write a request and read its response with the given limits.
pub async fn exchange(
    io: &mut dyn Io,
    reader: &mut Reader,
    req: &[u8],
    lim: &Limits,
    head: bool,
) -> Result<(Response, bool), HttpError> {
    tokio::time::timeout(lim.io_timeout, io.write_all(req))
        .await
        .map_err(|_| HttpError::Timeout)??;
    reader.read_response(io, lim, head).await
}

/// The text of the first `<title>` element, whitespace collapsed, common entities decoded.
pub fn html_title(body: &str) -> Option<String> {
    let lower = body.to_ascii_lowercase();
    let start = lower.find("<title")?;
    let gt = lower[start..].find('>')? + start + 1;
    let end = lower[gt..]
        .find("</title")
        .map(|e| e + gt)
        .unwrap_or(lower.len().min(gt + 512));
    let raw = body.get(gt..end)?;
    let t = raw
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ");
    let t: String = t.split_whitespace().collect::<Vec<_>>().join(" ");
    Some(t.chars().take(256).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn roundtrip(
        server_bytes: &'static [u8],
        lim: Limits,
    ) -> Result<(Response, bool), HttpError> {
        let (mut a, b) = tokio::io::duplex(1 << 20);
        tokio::spawn(async move {
            let _ = a.write_all(server_bytes).await;
            let _ = a.shutdown().await;
            // keep `a` alive briefly
            tokio::time::sleep(Duration::from_millis(50)).await;
        });
        let mut io: Box<dyn Io> = Box::new(b);
        let mut r = Reader::new();
        r.read_response(io.as_mut(), &lim, false).await
    }

    #[tokio::test]
    async fn content_length_and_keep_alive() {
        let (r, keep) = roundtrip(
            b"HTTP/1.1 200 OK\r\nServer: App-webs/\r\nContent-Length: 5\r\n\r\nhello",
            Limits::default(),
        )
        .await
        .unwrap();
        assert_eq!(
            (r.status, r.body.as_slice(), keep),
            (200, &b"hello"[..], true)
        );
        assert_eq!(r.header("server"), Some("App-webs/"));
    }

    #[tokio::test]
    async fn chunked_and_close() {
        let (r, keep) = roundtrip(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
            Limits::default(),
        )
        .await
        .unwrap();
        assert_eq!(r.body, b"hello world");
        assert!(!keep);
    }

    #[tokio::test]
    async fn caps_are_enforced() {
        let lim = Limits {
            max_body: 4,
            ..Default::default()
        };
        let (r, keep) = roundtrip(b"HTTP/1.0 200 OK\r\n\r\nabcdefghij", lim)
            .await
            .unwrap();
        assert_eq!(r.body, b"abcd");
        assert!(r.body_truncated && !keep);
        let lim = Limits {
            max_headers: 64,
            ..Default::default()
        };
        let long: &'static [u8] = Box::leak(
            format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "a".repeat(200))
                .into_bytes()
                .into_boxed_slice(),
        );
        assert!(matches!(
            roundtrip(long, lim).await,
            Err(HttpError::HeadersTooLong(64))
        ));
        assert!(matches!(
            roundtrip(b"\x00\x00\x00\x10\x00\x00\x00\x1e", Limits::default()).await,
            Err(HttpError::NotHttp(_))
        ));
        assert!(matches!(
            roundtrip(b"", Limits::default()).await,
            Err(HttpError::Closed)
        ));
    }

    #[tokio::test]
    async fn hostile_chunk_sizes_do_not_panic() {
        let r = roundtrip(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nabc",
            Limits::default(),
        )
        .await;
        let (resp, keep) = r.unwrap();
        assert!(resp.body_truncated && !keep);
        assert!(roundtrip(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            Limits::default()
        )
        .await
        .is_err());
    }

    #[tokio::test]
    async fn rtsp_heads_parse() {
        let (r, _) = roundtrip(
            b"RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nWWW-Authenticate: Digest realm=\"Hikvision\"\r\n\r\n",
            Limits::default(),
        )
        .await
        .unwrap();
        assert_eq!((r.version.as_str(), r.status), ("RTSP/1.0", 401));
        assert_eq!(
            r.header("www-authenticate"),
            Some("Digest realm=\"Hikvision\"")
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_replies_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600), prefix in 0usize..3) {
            let mut bytes = [&b"HTTP/1.1 200 OK\r\n"[..], b"RTSP/1.0 401 X\r\nContent-Length: 5\r\n", b""][prefix].to_vec();
            bytes.extend(data);
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let (mut a, b) = tokio::io::duplex(1 << 16);
                a.write_all(&bytes).await.unwrap();
                drop(a);
                let mut io: Box<dyn Io> = Box::new(b);
                let lim = Limits { io_timeout: Duration::from_millis(50), max_body: 64, max_headers: 256 };
                let _ = Reader::new().read_response(io.as_mut(), &lim, false).await;
            });
        }
    }

    #[test]
    fn titles() {
        assert_eq!(
            html_title("<html><TITLE>\n NETSurveillance  WEB </title>").as_deref(),
            Some("NETSurveillance WEB")
        );
        assert_eq!(
            html_title("<title lang=en>A &amp; B</title>").as_deref(),
            Some("A & B")
        );
        assert_eq!(html_title("no title"), None);
        assert_eq!(html_title("<title>é</title>").as_deref(), Some("é"));
    }
}
