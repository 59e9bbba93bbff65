//! HTTP/1.x responder: personality routes, Digest/Basic protection, ONVIF device service,
//! UPnP description, IPP.

use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{auth, onvif, IDLE, MAX_BODY, MAX_HEAD};
use crate::device::Device;
use crate::personality::{AuthScheme, HttpSpec, Route, TcpKind};

/// A parsed request.
pub struct Request {
    pub method: String,
    pub target: String,
    pub path: String,
    pub query: String,
    /// Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Read until the end of a request head (`\r\n\r\n`), keeping extra bytes in `buf`.
/// Returns the head length, or None on EOF/timeout/oversize.
pub async fn read_head<S: AsyncRead + Unpin>(s: &mut S, buf: &mut Vec<u8>) -> Option<usize> {
    loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            return Some(i + 4);
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(IDLE, s.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

pub fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    dev: Arc<Device>,
    kind: TcpKind,
    port: u16,
) {
    let mut buf = Vec::new();
    loop {
        let Some(head_len) = read_head(&mut s, &mut buf).await else {
            return;
        };
        let mut hs = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut hs);
        let parsed = match req.parse(&buf[..head_len]) {
            Ok(httparse::Status::Complete(_)) => Request {
                method: req.method.unwrap_or("GET").to_string(),
                target: req.path.unwrap_or("/").to_string(),
                path: String::new(),
                query: String::new(),
                version: req.version.unwrap_or(1),
                headers: req
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_string(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect(),
                body: Vec::new(),
            },
            _ => {
                let _ = s
                    .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
                return;
            }
        };
        let mut r = parsed;
        let (p, q) = match r.target.split_once('?') {
            Some((p, q)) => (p.to_string(), q.to_string()),
            None => (r.target.clone(), String::new()),
        };
        // Absolute-form targets (proxies, some scanners).
        r.path = match p.strip_prefix("http://") {
            Some(rest) => rest
                .find('/')
                .map(|i| rest[i..].to_string())
                .unwrap_or("/".into()),
            None => p,
        };
        r.query = q;
        let clen: usize = r
            .header("content-length")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if clen > MAX_BODY {
            let _ = s
                .write_all(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await;
            return;
        }
        buf.drain(..head_len);
        while buf.len() < clen {
            let mut chunk = [0u8; 8192];
            let n = match tokio::time::timeout(IDLE, s.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => n,
                _ => return,
            };
            buf.extend_from_slice(&chunk[..n]);
        }
        r.body = buf.drain(..clen).collect();
        let wants_close = r.version == 0
            && !r
                .header("connection")
                .is_some_and(|v| v.eq_ignore_ascii_case("keep-alive"))
            || r.header("connection")
                .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let (bytes, close) = respond(&dev, kind, &r, port, wants_close);
        if s.write_all(&bytes).await.is_err() || close {
            let _ = s.shutdown().await;
            return;
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

const DEFAULT_SPEC_SERVER: Option<String> = None;

/// Reply to one request: (bytes, close connection afterwards).
pub fn respond(
    dev: &Device,
    kind: TcpKind,
    r: &Request,
    _port: u16,
    close: bool,
) -> (Vec<u8>, bool) {
    let p = &dev.personality;
    let fallback;
    let spec: &HttpSpec = match &p.http {
        Some(s) => s,
        None => {
            fallback = HttpSpec {
                server: DEFAULT_SPEC_SERVER,
                auth: AuthScheme::Digest,
                realm: "device".into(),
                headers: vec![],
                version: "1.1".into(),
                date_first: false,
                date: true,
                date_format: None,
                www_authenticate: vec![],
                routes: vec![],
                unauthorized_body: None,
                not_found_body: None,
            };
            &fallback
        }
    };
    let version = match spec.version.as_str() {
        "1.0" => "HTTP/1.0",
        "mirror" if r.version == 0 => "HTTP/1.0",
        _ => "HTTP/1.1",
    };
    let head_only = r.method == "HEAD";

    // IPP (printers).
    if kind == TcpKind::Ipp && r.method == "POST" {
        let body = ipp_response(dev, &r.body);
        return (
            build(
                dev,
                spec,
                version,
                200,
                &[],
                Some("application/ipp"),
                &body,
                head_only,
                close,
            ),
            close,
        );
    }
    // ONVIF device service.
    if let Some(o) = &p.onvif {
        if o.device_service
            && r.method == "POST"
            && (r.path == o.path || r.path.starts_with("/onvif/"))
        {
            let (status, body) = onvif::handle(dev, o, &r.body);
            return (
                build(
                    dev,
                    spec,
                    version,
                    status,
                    &[],
                    Some("application/soap+xml; charset=utf-8"),
                    body.as_bytes(),
                    head_only,
                    close,
                ),
                close,
            );
        }
    }
    // UPnP description.
    if let Some(sp) = &p.ssdp {
        if r.path == sp.location_path && (r.method == "GET" || head_only) {
            let body = upnp_description(dev, sp);
            return (
                build(
                    dev,
                    spec,
                    version,
                    200,
                    &[],
                    Some("text/xml"),
                    body.as_bytes(),
                    head_only,
                    close,
                ),
                close,
            );
        }
    }
    // Personality routes.
    if let Some(route) = spec.routes.iter().find(|rt| route_matches(rt, r)) {
        if route.auth {
            let ok = auth::check_authorization(
                r.header("authorization"),
                &r.method,
                dev.credentials.as_deref(),
            );
            if !ok {
                return unauthorized(dev, spec, version, head_only, close);
            }
        }
        let body = dev.render(&route.body);
        if let Some(raw) = &route.raw_head {
            let mut v = dev.vars.clone();
            v.set("content_length", body.len().to_string());
            v.set("date", super::http_date());
            v.set("nonce", super::nonce());
            let mut out = v.render(raw).into_bytes();
            if !head_only {
                out.extend_from_slice(body.as_bytes());
            }
            return (out, true);
        }
        let headers: Vec<(String, String)> = route
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), dev.render(v)))
            .collect();
        return (
            build(
                dev,
                spec,
                version,
                route.status,
                &headers,
                route.content_type.as_deref().or(Some("text/html")),
                body.as_bytes(),
                head_only,
                close,
            ),
            close,
        );
    }
    let body = spec
        .not_found_body
        .as_deref()
        .map(|b| dev.render(b))
        .unwrap_or_else(|| {
            "<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1></body></html>"
                .to_string()
        });
    (
        build(
            dev,
            spec,
            version,
            404,
            &[],
            Some("text/html"),
            body.as_bytes(),
            head_only,
            close,
        ),
        close,
    )
}

fn route_matches(rt: &Route, r: &Request) -> bool {
    let method_ok = match &rt.method {
        Some(m) => m.eq_ignore_ascii_case(&r.method) || (m == "GET" && r.method == "HEAD"),
        None => r.method == "GET" || r.method == "HEAD",
    };
    let path_ok = match rt.path.strip_suffix('*') {
        Some(prefix) => r.path.starts_with(prefix),
        None => rt.path == r.path,
    };
    let query_ok = rt.query.as_deref().is_none_or(|q| r.query.contains(q));
    method_ok && path_ok && query_ok
}

/// `WWW-Authenticate` values for this spec.
pub fn challenges(dev: &Device, tpls: &[String], scheme: AuthScheme, realm: &str) -> Vec<String> {
    let mut v = dev.vars.clone();
    v.set("nonce", super::nonce());
    v.set("realm", dev.render(realm));
    if tpls.is_empty() {
        let realm = v.get("realm").to_string();
        match scheme {
            AuthScheme::Digest => vec![format!(
                "Digest qop=\"auth\", realm=\"{realm}\", nonce=\"{}\", stale=\"FALSE\"",
                v.get("nonce")
            )],
            AuthScheme::Basic => vec![format!("Basic realm=\"{realm}\"")],
        }
    } else {
        tpls.iter().map(|t| v.render(t)).collect()
    }
}

fn unauthorized(
    dev: &Device,
    spec: &HttpSpec,
    version: &str,
    head_only: bool,
    close: bool,
) -> (Vec<u8>, bool) {
    let headers: Vec<(String, String)> =
        challenges(dev, &spec.www_authenticate, spec.auth, &spec.realm)
            .into_iter()
            .map(|c| ("WWW-Authenticate".to_string(), c))
            .collect();
    let body = spec
        .unauthorized_body
        .as_deref()
        .map(|b| dev.render(b))
        .unwrap_or_else(|| {
            "<!DOCTYPE html>\n<html><head><title>Document Error: Unauthorized</title></head>\n<body><h2>Access Error: 401 -- Unauthorized</h2>\n<p>Authentication Error</p>\n</body>\n</html>\n".to_string()
        });
    (
        build(
            dev,
            spec,
            version,
            401,
            &headers,
            Some("text/html"),
            body.as_bytes(),
            head_only,
            close,
        ),
        close,
    )
}

#[allow(clippy::too_many_arguments)]
fn build(
    dev: &Device,
    spec: &HttpSpec,
    version: &str,
    status: u16,
    headers: &[(String, String)],
    content_type: Option<&str>,
    body: &[u8],
    head_only: bool,
    close: bool,
) -> Vec<u8> {
    let mut h = format!("{version} {status} {}\r\n", reason(status));
    let server = spec.server.as_deref().map(|s| dev.render(s));
    let date = spec.date.then(|| match &spec.date_format {
        Some(f) => chrono::Utc::now().format(f).to_string(),
        None => super::http_date(),
    });
    if spec.date_first {
        if let Some(d) = &date {
            h.push_str(&format!("Date: {d}\r\n"));
        }
        if let Some(s) = &server {
            h.push_str(&format!("Server: {s}\r\n"));
        }
    } else {
        if let Some(s) = &server {
            h.push_str(&format!("Server: {s}\r\n"));
        }
        if let Some(d) = &date {
            h.push_str(&format!("Date: {d}\r\n"));
        }
    }
    for (k, v) in headers.iter().chain(spec.headers.iter()) {
        h.push_str(&format!("{k}: {}\r\n", dev.render(v)));
    }
    if let Some(ct) = content_type {
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            h.push_str(&format!("Content-Type: {ct}\r\n"));
        }
    }
    h.push_str(&format!("Content-Length: {}\r\n", body.len()));
    h.push_str(if close {
        "Connection: close\r\n"
    } else {
        "Connection: keep-alive\r\n"
    });
    h.push_str("\r\n");
    let mut out = h.into_bytes();
    if !head_only {
        out.extend_from_slice(body);
    }
    out
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// UPnP root device description.
pub fn upnp_description(dev: &Device, sp: &crate::personality::SsdpSpec) -> String {
    format!(
        "<?xml version=\"1.0\"?>\r\n<root xmlns=\"urn:schemas-upnp-org:device-1-0\">\r\n<specVersion>\r\n<major>1</major>\r\n<minor>0</minor>\r\n</specVersion>\r\n<URLBase>http://{ip}:{port}</URLBase>\r\n<device>\r\n<deviceType>{dt}</deviceType>\r\n<friendlyName>{fname}</friendlyName>\r\n<manufacturer>{man}</manufacturer>\r\n<manufacturerURL>{murl}</manufacturerURL>\r\n<modelDescription>{mdesc}</modelDescription>\r\n<modelName>{model}</modelName>\r\n<modelNumber>{model}</modelNumber>\r\n<serialNumber>{serial}</serialNumber>\r\n<UDN>uuid:{uuid}</UDN>\r\n<presentationURL>http://{ip}:{port}/</presentationURL>\r\n</device>\r\n</root>\r\n",
        ip = dev.ip,
        port = dev.vars.get("port_http"),
        dt = xml_escape(&dev.render(&sp.device_type)),
        fname = xml_escape(&dev.render(&sp.friendly_name)),
        man = xml_escape(&dev.render(&sp.manufacturer)),
        murl = xml_escape(&dev.render(&sp.manufacturer_url)),
        mdesc = xml_escape(&dev.render(&sp.model_description)),
        model = xml_escape(&dev.render(&sp.model_name)),
        serial = xml_escape(&dev.identity.serial),
        uuid = dev.identity.uuid,
    )
}

/// Minimal IPP/2.0 Get-Printer-Attributes style answer: status successful-ok, the request id
/// echoed, operation attributes, and printer-make-and-model / printer-name / printer-info.
pub fn ipp_response(dev: &Device, req: &[u8]) -> Vec<u8> {
    let request_id = if req.len() >= 8 {
        [req[4], req[5], req[6], req[7]]
    } else {
        [0, 0, 0, 1]
    };
    let mut out = vec![0x02, 0x00, 0x00, 0x00];
    out.extend_from_slice(&request_id);
    fn attr(out: &mut Vec<u8>, tag: u8, name: &str, value: &str) {
        out.push(tag);
        out.extend_from_slice(&(name.len() as u16).to_be_bytes());
        out.extend_from_slice(name.as_bytes());
        let v = &value.as_bytes()[..value.len().min(1023)];
        out.extend_from_slice(&(v.len() as u16).to_be_bytes());
        out.extend_from_slice(v);
    }
    out.push(0x01); // operation-attributes-tag
    attr(&mut out, 0x47, "attributes-charset", "utf-8");
    attr(&mut out, 0x48, "attributes-natural-language", "en");
    out.push(0x04); // printer-attributes-tag
    let mm = dev.render(dev.vars.get("printer_make_and_model"));
    let mm = if mm.is_empty() {
        dev.identity.model.clone()
    } else {
        mm
    };
    attr(&mut out, 0x41, "printer-make-and-model", &mm);
    attr(&mut out, 0x42, "printer-name", &dev.identity.model);
    attr(&mut out, 0x41, "printer-info", &mm);
    attr(
        &mut out,
        0x45,
        "printer-uri-supported",
        &format!("ipp://{}:{}/ipp/print", dev.ip, dev.vars.get("port_ipp")),
    );
    attr(
        &mut out,
        0x41,
        "printer-device-id",
        &dev.render(dev.vars.get("printer_device_id")),
    );
    out.push(0x03); // end-of-attributes-tag
    out
}
