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
        return match auth::resolve_token(app.pool(), token.trim()).await? {
            Some(r) => Ok(Some(r)),
            None => Err(ApiError::Unauthenticated),
        };
    }
    match cookie(parts, SESSION_COOKIE) {
        Some(c) => auth::resolve_session(app.pool(), c).await,
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
            Some(c) => auth::resolve_session(app.pool(), c).await?,
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
