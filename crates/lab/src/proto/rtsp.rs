//! RTSP/1.0 responder: OPTIONS, DESCRIBE (401 unless authenticated, then an SDP), the rest
//! 401/455, and the personality's exact reply to CSeq-less requests (nmap's RTSPRequest probe).

use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::http::read_head;
use super::{auth, IDLE, MAX_BODY};
use crate::device::Device;
use crate::personality::{AuthScheme, RtspSpec};

pub async fn serve(mut s: TcpStream, dev: Arc<Device>) {
    let default_spec;
    let spec: &RtspSpec = match &dev.personality.rtsp {
        Some(r) => r,
        None => {
            default_spec = RtspSpec {
                server: None,
                auth: AuthScheme::Digest,
                realm: "device".into(),
                public: "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN".into(),
                www_authenticate: vec![],
                bare: None,
                options_auth: false,
            };
            &default_spec
        }
    };
    let mut buf = Vec::new();
    loop {
        let Some(head_len) = read_head(&mut s, &mut buf).await else {
            return;
        };
        let head = String::from_utf8_lossy(&buf[..head_len]).into_owned();
        buf.drain(..head_len);
        let mut lines = head.split("\r\n");
        let first = lines.next().unwrap_or("");
        let mut parts = first.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let uri = parts.next().unwrap_or("").to_string();
        let version = parts.next().unwrap_or("");
        let mut cseq = None;
        let mut authz = None;
        let mut clen = 0usize;
        for l in lines {
            if let Some((k, v)) = l.split_once(':') {
                let v = v.trim().to_string();
                match k.trim().to_ascii_lowercase().as_str() {
                    "cseq" => cseq = Some(v),
                    "authorization" => authz = Some(v),
                    "content-length" => clen = v.parse().unwrap_or(0),
                    _ => {}
                }
            }
        }
        if clen > MAX_BODY {
            return;
        }
        while buf.len() < clen {
            let mut chunk = [0u8; 4096];
            match tokio::time::timeout(IDLE, s.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                _ => return,
            }
        }
        buf.drain(..clen);

        let challenges =
            super::http::challenges(&dev, &spec.www_authenticate, spec.auth, &spec.realm);
        let server_line = spec
            .server
            .as_deref()
            .map(|sv| format!("Server: {}\r\n", dev.render(sv)))
            .unwrap_or_default();
        let date = chrono::Utc::now()
            .format("%a, %b %d %Y %H:%M:%S GMT")
            .to_string();

        let reply = if !version.starts_with("RTSP/") {
            // Not RTSP at all (e.g. an HTTP probe on the RTSP port).
            format!("RTSP/1.0 400 Bad Request\r\n{server_line}\r\n")
        } else if let (None, Some(t)) = (&cseq, &spec.bare) {
            let mut v = dev.vars.clone();
            v.set("nonce", super::nonce());
            v.set("date", date.clone());
            v.render(t)
        } else {
            // Without CSeq (and no vendor-specific reply) the request is served normally and the
            // reply simply carries no CSeq line.
            let cs_line = cseq
                .as_ref()
                .map(|c| format!("CSeq: {c}\r\n"))
                .unwrap_or_default();
            let authed =
                auth::check_authorization(authz.as_deref(), &method, dev.credentials.as_deref());
            let unauthorized = || {
                let mut r = format!("RTSP/1.0 401 Unauthorized\r\n{cs_line}");
                for c in &challenges {
                    r.push_str(&format!("WWW-Authenticate: {c}\r\n"));
                }
                r.push_str(&server_line);
                r.push_str(&format!("Date: {date}\r\n\r\n"));
                r
            };
            match method.as_str() {
                "OPTIONS" if spec.options_auth && !authed => unauthorized(),
                "OPTIONS" => format!(
                    "RTSP/1.0 200 OK\r\n{cs_line}{server_line}Public: {}\r\nDate: {date}\r\n\r\n",
                    spec.public
                ),
                "DESCRIBE" if !authed => unauthorized(),
                "DESCRIBE" => {
                    let sdp = format!(
                        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=Media Presentation\r\ne=NONE\r\nb=AS:5050\r\nt=0 0\r\na=control:{uri}\r\nm=video 0 RTP/AVP 96\r\nc=IN IP4 0.0.0.0\r\nb=AS:5000\r\na=recvonly\r\na=x-dimensions:1920,1080\r\na=control:{uri}/trackID=1\r\na=rtpmap:96 H264/90000\r\n",
                        ip = dev.ip
                    );
                    format!(
                        "RTSP/1.0 200 OK\r\n{cs_line}{server_line}Content-Type: application/sdp\r\nContent-Base: {uri}/\r\nContent-Length: {}\r\n\r\n{sdp}",
                        sdp.len()
                    )
                }
                "SETUP" | "PLAY" | "PAUSE" | "TEARDOWN" | "GET_PARAMETER" | "SET_PARAMETER"
                    if !authed =>
                {
                    unauthorized()
                }
                "TEARDOWN" | "GET_PARAMETER" | "SET_PARAMETER" => {
                    format!("RTSP/1.0 200 OK\r\n{cs_line}{server_line}\r\n")
                }
                "SETUP" | "PLAY" | "PAUSE" => {
                    format!(
                        "RTSP/1.0 455 Method Not Valid in This State\r\n{cs_line}{server_line}\r\n"
                    )
                }
                _ => format!(
                    "RTSP/1.0 405 Method Not Allowed\r\n{cs_line}{server_line}Allow: {}\r\n\r\n",
                    spec.public
                ),
            }
        };
        if s.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
        if cseq.is_none() && spec.bare.is_some() {
            let _ = s.shutdown().await;
            return;
        }
    }
}
