//! Authentication of a request: `Authorization: Bearer <token>` (API tokens) or the session
//! cookie (browsers). State-changing requests made with a session cookie must carry the
//! session's CSRF token in `X-CSRF-Token` (htmx sends it on every request) or, for plain HTML
//! forms, in a `csrf_token` field checked by the handler ([`crate::extract::Browser`]).

use crate::access::Access;
use crate::auth::{self, Principal, Via};
use crate::error::ApiError;
use crate::App;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method};

pub const SESSION_COOKIE: &str = "camtrace_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

pub fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The caller behind the request's credential (bearer token first, then the session cookie),
/// in one database round trip. A bearer token that does not authenticate is an error, not an
/// anonymous request.
async fn resolve(parts: &Parts, app: &App) -> Result<Option<auth::Resolved>, ApiError> {
    if let Some(h) = parts.headers.get(header::AUTHORIZATION) {
        let v = h.to_str().map_err(|_| ApiError::Unauthenticated)?;
        let token = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
            .ok_or(ApiError::Unauthenticated)?;
        return match auth::resolve_token(&*app.store, token.trim()).await? {
            Some(r) => Ok(Some(r)),
            None => Err(ApiError::Unauthenticated),
        };
    }
    match cookie(parts, SESSION_COOKIE) {
        Some(c) => auth::resolve_session(&*app.store, c).await,
        None => Ok(None),
    }
}

fn unsafe_method(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// An authenticated API caller, with its access computed over the organisation tree.
pub struct Caller {
    pub principal: Principal,
    pub access: Access,
}

impl Caller {
    pub fn name(&self) -> &str {
        self.principal.name()
    }
    pub fn is_token_read_only(&self) -> bool {
        matches!(
            self.principal.via,
            Via::Token {
                scope: auth::TokenScope::Read,
                ..
            }
        )
    }
}

/// The caller's access over the organisation tree: the cached tree when it is as new as the
/// history head read with the credential, else a fresh one.
async fn caller_of(r: auth::Resolved, app: &App) -> Result<Caller, ApiError> {
    let tree = app.org_tree.at(app.store.as_ref(), &r.head).await?;
    let access = Access::over(&r.principal, tree);
    Ok(Caller {
        principal: r.principal,
        access,
    })
}

impl FromRequestParts<App> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let r = resolve(parts, app)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        let p = &r.principal;
        if let Via::Token {
            scope: auth::TokenScope::MetricsRead,
            ..
        } = p.via
        {
            return Err(ApiError::forbidden("this API token may only read /metrics"));
        }
        if unsafe_method(&parts.method) {
            match &p.via {
                Via::Session { csrf, .. } => {
                    let given = parts
                        .headers
                        .get(CSRF_HEADER)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    if !auth::ct_eq(given, csrf) {
                        return Err(ApiError::forbidden(
                            "missing or wrong CSRF token (send the X-CSRF-Token header)",
                        ));
                    }
                }
                Via::Token { scope, .. } => {
                    if *scope == auth::TokenScope::Read {
                        return Err(ApiError::forbidden("this API token is read-only"));
                    }
                }
            }
        }
        caller_of(r, app).await
    }
}

/// A caller allowed to read `GET /metrics`: a `metrics:read` token or a central admin's
/// session ([`Principal::may_read_metrics`]); anyone when the operator set `metrics_public`.
/// 401 without credentials, 403 with credentials that do not allow it.
pub struct MetricsReader;

impl FromRequestParts<App> for MetricsReader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        if app.config.metrics_public {
            return Ok(MetricsReader);
        }
        let r = resolve(parts, app)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        if r.principal.may_read_metrics() {
            Ok(MetricsReader)
        } else {
            Err(ApiError::forbidden(
                "metrics need an API token with the metrics:read scope or a central admin session",
            ))
        }
    }
}

/// A browser user for dashboard pages: no CSRF check here (form handlers check the token
/// themselves with [`Browser::check_csrf`]); `None` when not logged in.
pub struct Browser(pub Option<Caller>, pub Option<String>);

impl Browser {
    pub fn csrf(&self) -> &str {
        match &self.0 {
            Some(Caller {
                principal:
                    Principal {
                        via: Via::Session { csrf, .. },
                        ..
                    },
                ..
            }) => csrf,
            _ => "",
        }
    }
    /// Accept the token from the `X-CSRF-Token` header (htmx) or a form field.
    pub fn check_csrf(&self, form_token: Option<&str>) -> Result<(), ApiError> {
        let want = self.csrf();
        let given = self.1.as_deref().or(form_token).unwrap_or("");
        if want.is_empty() || !auth::ct_eq(given, want) {
            return Err(ApiError::forbidden("missing or wrong CSRF token"));
        }
        Ok(())
    }
}

impl FromRequestParts<App> for Browser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let header_csrf = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        // Browsers authenticate only by cookie.
        let r = match cookie(parts, SESSION_COOKIE) {
            Some(c) => auth::resolve_session(&*app.store, c).await?,
            None => None,
        };
        Ok(match r {
            Some(r) => Browser(Some(caller_of(r, app).await?), header_csrf),
            None => Browser(None, header_csrf),
        })
    }
}

/// The `Set-Cookie` value for a new session.
pub fn session_cookie(token: &str, secure: bool, max_age: i64) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

pub fn clear_cookie(secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The last value of a comma-separated proxy header (the one our own proxy appended).
fn last_forwarded<'a>(parts_headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    parts_headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .rfind(|v| !v.is_empty())
}

/// The client's address: the peer of the connection, or, when the server is configured to run
/// behind a reverse proxy (`behind_proxy`), the last `X-Forwarded-For` entry (the address the
/// proxy saw). Without `behind_proxy` the header is ignored: anyone can send it.
pub fn client_ip(
    headers: &axum::http::HeaderMap,
    extensions: &axum::http::Extensions,
    trust_proxy: bool,
) -> Option<std::net::IpAddr> {
    if trust_proxy {
        if let Some(ip) = last_forwarded(headers, "x-forwarded-for").and_then(|v| v.parse().ok()) {
            return Some(ip);
        }
    }
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Whether the request reached the client's side over HTTPS: this server serves TLS, or it runs
/// behind a trusted proxy (`behind_proxy`) whose `X-Forwarded-Proto` says `https`.
pub fn came_over_https(headers: &axum::http::HeaderMap, config: &crate::ServerConfig) -> bool {
    config.tls.is_some()
        || (config.behind_proxy
            && last_forwarded(headers, "x-forwarded-proto")
                .is_some_and(|p| p.eq_ignore_ascii_case("https")))
}

/// The client's address ([`client_ip`]); `None` when unknown (a request not from a socket).
pub struct ClientAddr(pub Option<std::net::IpAddr>);

impl FromRequestParts<App> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(client_ip(
            &parts.headers,
            &parts.extensions,
            app.config.behind_proxy,
        )))
    }
}
