//! The web dashboard: server-rendered pages (askama) with a little htmx, served by the binary.
//! Plain HTML forms carry the session's CSRF token in a hidden field; htmx requests send it in
//! `X-CSRF-Token`. Every page shows only what the signed-in user can read.

use crate::access::Access;
use crate::api::decisions::{self, Decision, FindingQuery, NewPlan, NewWaiverRequest, WaiverQuery};
use crate::api::register::{self, DeviceQuery};
use crate::auth::{self, Role};
use crate::error::ApiError;
use crate::extract::{Browser, Caller};
use crate::App;
use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use camtrace_model::Site;
use serde::Deserialize;
use std::collections::BTreeMap;

static HTMX: &[u8] = include_bytes!("../assets/htmx.min.js");
static HTMX_LICENSE: &[u8] = include_bytes!("../assets/htmx.LICENSE");
static STYLE: &[u8] = include_bytes!("../assets/style.css");
const LOGIN_CSRF_COOKIE: &str = "camtrace_login_csrf";

pub fn routes() -> Router<App> {
    Router::new()
        .route("/", get(overview))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout))
        .route("/devices", get(devices))
        .route("/devices/{id}", get(device_page))
        .route("/sites/{id}", get(site_page))
        .route("/findings", get(findings))
        .route("/waivers", get(waivers))
        .route("/waivers/request", post(request_waiver))
        .route("/waivers/requests/{id}/decision", post(decide_waiver))
        .route("/plans", get(plans).post(create_plan))
        .route("/plans/{id}", get(plan_page))
        .route("/plans/{id}/decision", post(decide_plan))
        .route("/quote", get(quote_page).post(quote_upload))
        .route("/import", get(import_page).post(import_upload))
        .route("/audit", get(audit_page))
        .route("/agents", get(fleet::page))
        .route(
            "/assets/htmx.min.js",
            get(|| asset(HTMX, "text/javascript; charset=utf-8")),
        )
        .route(
            "/assets/htmx.LICENSE",
            get(|| asset(HTMX_LICENSE, "text/plain; charset=utf-8")),
        )
        .route(
            "/assets/style.css",
            get(|| asset(STYLE, "text/css; charset=utf-8")),
        )
}

async fn asset(bytes: &'static [u8], ct: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, ct),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        bytes,
    )
        .into_response()
}

/// What every page's layout needs.
pub struct Layout {
    pub csrf: String,
    pub user: String,
    pub flash: String,
}

fn layout(b: &Browser, flash: Option<&str>) -> Layout {
    Layout {
        csrf: b.csrf().to_string(),
        user: b
            .0
            .as_ref()
            .map(|c| c.name().to_string())
            .unwrap_or_default(),
        flash: flash.unwrap_or("").to_string(),
    }
}

fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(s) => Html(s).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering a page");
            (StatusCode::INTERNAL_SERVER_ERROR, "page rendering failed").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    l: Layout,
    heading: String,
    message: String,
}

/// A page-level error: not signed in → the login page; otherwise an HTML error page.
fn page_error(b: &Browser, e: ApiError) -> Response {
    if matches!(e, ApiError::Unauthenticated) {
        return Redirect::to("/login").into_response();
    }
    let status = e.status();
    let heading = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::BAD_REQUEST => "Cannot do that",
        _ => "Something went wrong",
    };
    let mut r = render(&ErrorPage {
        l: layout(b, None),
        heading: heading.into(),
        message: e.to_string(),
    });
    *r.status_mut() = status;
    r
}

fn caller(b: &Browser) -> Result<&Caller, ApiError> {
    b.0.as_ref().ok_or(ApiError::Unauthenticated)
}

macro_rules! try_page {
    ($b:expr, $e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return page_error(&$b, e.into()),
        }
    };
}

// The fleet page (site agents), in its own file.
mod fleet;

// ------------------------------------------------------------------ login

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    l: Layout,
    login_csrf: String,
    error: String,
}

/// Whether cookies set on this request get `Secure`: the server is configured for HTTPS (its
/// own TLS, or `behind_proxy`), or the request came over HTTPS.
fn secure_request(app: &App, headers: &HeaderMap) -> bool {
    app.config.secure_cookies() || crate::extract::came_over_https(headers, &app.config)
}

fn login_form(error: &str, secure: bool) -> Response {
    let token = auth::random_token(24);
    let page = render(&LoginPage {
        l: Layout {
            csrf: String::new(),
            user: String::new(),
            flash: String::new(),
        },
        login_csrf: token.clone(),
        error: error.to_string(),
    });
    let mut resp = page;
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{LOGIN_CSRF_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=1800{}",
        if secure { "; Secure" } else { "" }
    )) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

async fn login_page(State(app): State<App>, headers: HeaderMap, b: Browser) -> Response {
    if b.0.is_some() {
        return Redirect::to("/").into_response();
    }
    login_form("", secure_request(&app, &headers))
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    csrf_token: String,
}

async fn login_submit(
    State(app): State<App>,
    crate::extract::ClientAddr(addr): crate::extract::ClientAddr,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    // Double-submit: the form's token must match the cookie set with the form.
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == LOGIN_CSRF_COOKIE)
        .map(|(_, v)| v.to_string())
        .unwrap_or_default();
    if cookie.is_empty() || !auth::ct_eq(&cookie, &f.csrf_token) {
        let mut r = login_form(
            "The form expired; please sign in again.",
            secure_request(&app, &headers),
        );
        *r.status_mut() = StatusCode::FORBIDDEN;
        return r;
    }
    match crate::api::admin::do_login(&app, f.username.trim(), &f.password, addr).await {
        Ok((_, token, _)) => {
            let mut r = Redirect::to("/").into_response();
            let (k, v) = crate::api::admin::set_cookie_header(&app, &token);
            r.headers_mut().append(k, v);
            r
        }
        Err(ApiError::Unauthenticated) => {
            let mut r = login_form(
                "Wrong user name or password.",
                secure_request(&app, &headers),
            );
            *r.status_mut() = StatusCode::UNAUTHORIZED;
            r
        }
        Err(ApiError::TooManyRequests(m, secs)) => {
            let mut r = login_form(&m, secure_request(&app, &headers));
            *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "login failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "login failed").into_response()
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf_token: Option<String>,
}

async fn logout(
    State(app): State<App>,
    crate::extract::ClientAddr(addr): crate::extract::ClientAddr,
    b: Browser,
    Form(f): Form<CsrfForm>,
) -> Response {
    try_page!(b, b.check_csrf(f.csrf_token.as_deref()));
    if let Some(c) = &b.0 {
        if let auth::Via::Session { token_hash, .. } = &c.principal.via {
            let _ = auth::delete_session(&*app.store, token_hash).await;
        }
        let _ = app
            .access_event(crate::AccessAction::Logout, c.name(), addr)
            .await;
    }
    let mut r = Redirect::to("/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&crate::extract::clear_cookie(app.config.secure_cookies()))
    {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

// ------------------------------------------------------------------ overview

struct OrgRow {
    id: String,
    name: String,
    sensitive: usize,
    other: usize,
    inspect: usize,
    waived: usize,
}

struct SensitiveSite {
    id: String,
    name: String,
    organisation: String,
    reasons: String,
    count: usize,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct Overview {
    l: Layout,
    as_of: String,
    devices: usize,
    unregistered: usize,
    sites: usize,
    restricted_sensitive: usize,
    restricted_other: usize,
    inspect: usize,
    waived: usize,
    by_org: Vec<OrgRow>,
    sensitive_sites: Vec<SensitiveSite>,
    chart: String,
}

#[derive(Deserialize)]
struct FlashQuery {
    msg: Option<String>,
}

fn flash_text(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "waiver-requested" => Some("Waiver requested: an approver will decide."),
        "waiver-approved" => Some("Waiver approved and recorded in the audit log."),
        "waiver-rejected" => Some("Waiver request rejected."),
        "plan-drafted" => Some("Plan drafted."),
        "plan-approved" => Some("Plan approved."),
        "plan-rejected" => Some("Plan rejected."),
        _ => None,
    }
}

async fn overview(State(app): State<App>, b: Browser, Query(fq): Query<FlashQuery>) -> Response {
    let c = try_page!(b, caller(&b));
    let today = crate::findings::today();
    let ev = try_page!(
        b,
        crate::findings::evaluated_for(&app, &c.access, today, &[]).await
    );
    let a = &c.access;
    let sm = &ev.summary;
    let names: BTreeMap<&str, &str> = ev
        .estate
        .organisations
        .iter()
        .map(|o| (o.id.as_str(), o.name.as_str()))
        .collect();
    let readable = a.readable();
    let sites: Vec<&Site> = ev
        .estate
        .sites
        .iter()
        .filter(|s| readable.contains(&s.organisation))
        .collect();
    let devices: usize = readable
        .iter()
        .filter_map(|o| sm.devices_by_org.get(o))
        .sum();
    let unregistered: usize = readable
        .iter()
        .filter_map(|o| sm.unregistered_by_org.get(o))
        .sum();
    let by_org: Vec<OrgRow> = sm
        .by_org
        .iter()
        .filter(|(o, _)| readable.contains(*o))
        .map(|(o, c)| OrgRow {
            id: o.clone(),
            name: names
                .get(o.as_str())
                .copied()
                .unwrap_or(o.as_str())
                .to_string(),
            sensitive: c.sensitive,
            other: c.other,
            inspect: c.inspect,
            waived: c.waived,
        })
        .collect();
    let sum = |f: fn(&OrgRow) -> usize| by_org.iter().map(f).sum::<usize>();
    let (rs, ro, ins, wv) = (
        sum(|r| r.sensitive),
        sum(|r| r.other),
        sum(|r| r.inspect),
        sum(|r| r.waived),
    );
    let site_map: BTreeMap<&str, &Site> = sites.iter().map(|s| (s.id.as_str(), *s)).collect();
    let sensitive_sites = sm
        .sensitive_sites
        .iter()
        .filter_map(|(id, n)| {
            let s = site_map.get(id.as_str())?;
            Some(SensitiveSite {
                id: s.id.clone(),
                name: s.name.clone(),
                organisation: s.organisation.clone(),
                reasons: s.criteria.reasons().join("; "),
                count: *n,
            })
        })
        .collect();
    let chart = try_page!(b, progress_chart(&app, a).await);
    render(&Overview {
        l: layout(&b, flash_text(fq.msg.as_deref())),
        as_of: today.to_string(),
        devices,
        unregistered,
        sites: sites.len(),
        restricted_sensitive: rs,
        restricted_other: ro,
        inspect: ins,
        waived: wv,
        by_org,
        sensitive_sites,
        chart,
    })
}

/// Open findings over time (daily snapshots recorded by the alert checker), as inline SVG.
async fn progress_chart(app: &App, a: &Access) -> Result<String, ApiError> {
    let snaps = app
        .store
        .snapshots(&camtrace_store::SnapshotFilter {
            regime: Some(crate::alerts::SNAPSHOT_REGIME.into()),
            ..Default::default()
        })
        .await?;
    // The caller's scope: everything (central) or the readable organisations whose parent is
    // not readable (the tops of their subtrees), summed per day.
    let mut per_day: BTreeMap<chrono::NaiveDate, (i64, i64)> = BTreeMap::new();
    for s in &snaps {
        let take = if a.is_central() {
            s.organisation.is_empty()
        } else {
            !s.organisation.is_empty()
                && a.can_read(&s.organisation)
                && top_of_scope(a, &s.organisation)
        };
        if take && s.site.is_empty() {
            let e = per_day.entry(s.date).or_default();
            e.0 += s.counts.get("open").and_then(|v| v.as_i64()).unwrap_or(0);
            e.1 += s.counts.get("waived").and_then(|v| v.as_i64()).unwrap_or(0);
        }
    }
    Ok(svg_chart(&per_day))
}

fn top_of_scope(a: &Access, org: &str) -> bool {
    !a.readable().iter().any(|o| o != org && a.is_within(org, o))
}

pub fn svg_chart(points: &BTreeMap<chrono::NaiveDate, (i64, i64)>) -> String {
    if points.is_empty() {
        return "<p class=\"muted\">No history yet: a point is recorded each day.</p>".into();
    }
    let (w, h, pad) = (720.0, 240.0, 40.0);
    let max = points
        .values()
        .map(|(o, wv)| (*o).max(*wv))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let n = points.len().max(2) as f64 - 1.0;
    let xy = |i: usize, v: i64| {
        (
            pad + (w - 2.0 * pad) * (i as f64) / n,
            h - pad - (h - 2.0 * pad) * (v as f64) / max,
        )
    };
    let line = |sel: fn(&(i64, i64)) -> i64| -> String {
        points
            .values()
            .enumerate()
            .map(|(i, p)| {
                let (x, y) = xy(i, sel(p));
                format!("{x:.1},{y:.1}")
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let dots: String = points
        .values()
        .enumerate()
        .map(|(i, p)| {
            let (x, y) = xy(i, p.0);
            let (x2, y2) = xy(i, p.1);
            format!("<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"#a00000\"/><circle cx=\"{x2:.1}\" cy=\"{y2:.1}\" r=\"4\" fill=\"#0a5a1f\"/>")
        })
        .collect();
    let first = points
        .keys()
        .next()
        .map(|d| d.to_string())
        .unwrap_or_default();
    let last = points
        .keys()
        .next_back()
        .map(|d| d.to_string())
        .unwrap_or_default();
    let latest = points.values().next_back().copied().unwrap_or((0, 0));
    format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"chart-t chart-d\" xmlns=\"http://www.w3.org/2000/svg\">\
<title id=\"chart-t\">Open findings over time</title>\
<desc id=\"chart-d\">From {first} to {last}: now {} open, {} waived (maximum {max}).</desc>\
<line x1=\"{pad}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#444\"/>\
<line x1=\"{pad}\" y1=\"{pad}\" x2=\"{pad}\" y2=\"{b}\" stroke=\"#444\"/>\
<polyline fill=\"none\" stroke=\"#a00000\" stroke-width=\"3\" points=\"{}\"/>\
<polyline fill=\"none\" stroke=\"#0a5a1f\" stroke-width=\"3\" stroke-dasharray=\"6 4\" points=\"{}\"/>\
{dots}<text x=\"{pad}\" y=\"{t}\" font-size=\"12\">{first}</text><text x=\"{r}\" y=\"{t}\" font-size=\"12\" text-anchor=\"end\">{last}</text>\
<text x=\"4\" y=\"{pad}\" font-size=\"12\">{max}</text>\
<text x=\"{r}\" y=\"20\" font-size=\"12\" text-anchor=\"end\" fill=\"#a00000\">open</text><text x=\"{r}\" y=\"34\" font-size=\"12\" text-anchor=\"end\" fill=\"#0a5a1f\">waived</text>\
</svg>",
        latest.0,
        latest.1,
        line(|p| p.0),
        line(|p| p.1),
        b = h - pad,
        r = w - pad,
        t = h - pad + 16.0,
    )
}

// ------------------------------------------------------------------ devices and sites

struct DeviceRow {
    id: String,
    site: String,
    maker: String,
    brand: String,
    model: String,
    status: String,
}

#[derive(Template)]
#[template(path = "devices.html")]
struct DevicesPage {
    l: Layout,
    q: String,
    sensitive: String,
    maker: String,
    organisation: String,
    rows: Vec<DeviceRow>,
    next: String,
}

#[derive(Deserialize, Default)]
struct DevicesForm {
    q: Option<String>,
    sensitive: Option<String>,
    maker: Option<String>,
    organisation: Option<String>,
    site: Option<String>,
    cursor: Option<String>,
}

fn nonempty(s: &Option<String>) -> Option<String> {
    s.as_ref()
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn devices(State(app): State<App>, b: Browser, Query(f): Query<DevicesForm>) -> Response {
    let c = try_page!(b, caller(&b));
    let q = DeviceQuery {
        organisation: nonempty(&f.organisation),
        site: nonempty(&f.site),
        maker: nonempty(&f.maker),
        sensitive: match f.sensitive.as_deref() {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => None,
        },
        q: nonempty(&f.q),
        limit: Some(100),
        cursor: nonempty(&f.cursor),
        ..Default::default()
    };
    // The maker filter reads each device's declared maker, else the maker its brand resolves
    // to, as the API and `camtrace devices` do (`camtrace_estate::devices::page`).
    let (devs, next) = try_page!(b, register::device_page(&app, &c.access, &q).await);
    let today = crate::findings::today();
    let mut next_q = String::new();
    if let Some(n) = next {
        for (k, v) in [
            ("q", &q.q),
            ("maker", &q.maker),
            ("organisation", &q.organisation),
            ("site", &q.site),
        ] {
            if let Some(v) = v {
                next_q.push_str(&format!("{k}={}&", enc(v)));
            }
        }
        if let Some(s) = f.sensitive.as_deref().filter(|s| !s.is_empty()) {
            next_q.push_str(&format!("sensitive={}&", enc(s)));
        }
        next_q.push_str(&format!("cursor={}", enc(&n)));
    }
    render(&DevicesPage {
        l: layout(&b, None),
        q: q.q.clone().unwrap_or_default(),
        sensitive: f.sensitive.clone().unwrap_or_default(),
        maker: q.maker.clone().unwrap_or_default(),
        organisation: q.organisation.clone().unwrap_or_default(),
        rows: devs
            .into_iter()
            .map(|d| DeviceRow {
                maker: match &d.maker {
                    Some(m) => m.clone(),
                    None => camtrace_estate::attribution::register_maker(&app.kb, &d, today)
                        .map(|m| format!("{m}*"))
                        .unwrap_or_default(),
                },
                id: d.id,
                site: d.site,
                brand: d.brand.unwrap_or_default(),
                model: d.model.unwrap_or_default(),
                status: d.status.as_str().into(),
            })
            .collect(),
        next: next_q,
    })
}

struct FindingView {
    rule: String,
    severity: String,
    status: String,
    obligation: String,
    due: String,
    reasons: Vec<String>,
}

struct EvidenceView {
    seen_at: String,
    scan: String,
    summary: String,
    items: Vec<String>,
}

struct HistoryView {
    seq: i64,
    time: String,
    actor: String,
    action: String,
}

#[derive(Template)]
#[template(path = "device.html")]
struct DevicePage {
    l: Layout,
    id: String,
    site_id: String,
    site_name: String,
    site_sensitivity: String,
    maker: String,
    brand: String,
    model: String,
    class: String,
    status: String,
    addresses: String,
    mac: String,
    findings: Vec<FindingView>,
    evidence: Vec<EvidenceView>,
    history: Vec<HistoryView>,
    can_request: bool,
}

fn sensitivity(s: &Site) -> String {
    let r = s.criteria.reasons();
    if r.is_empty() {
        "not a sensitive site".into()
    } else {
        format!("sensitive: {}", r.join("; "))
    }
}

fn finding_view(f: &camtrace_policy::Finding) -> FindingView {
    FindingView {
        rule: f.rule_key(),
        severity: f.severity.as_str().into(),
        status: f.state().into(),
        obligation: f.obligation.as_str().into(),
        due: f.due.map(|d| d.to_string()).unwrap_or_default(),
        reasons: f
            .reasons
            .iter()
            .map(|r| match &r.source {
                Some(s) if !s.is_empty() => format!("{} [{}]", r.text, s),
                _ => r.text.clone(),
            })
            .collect(),
    }
}

async fn device_page(State(app): State<App>, b: Browser, Path(id): Path<String>) -> Response {
    let c = try_page!(b, caller(&b));
    let d = try_page!(b, register::device_detail(&app, &c.access, &id).await);
    let can_request = c
        .access
        .role(&d.site.organisation)
        .is_some_and(|r| r >= Role::Editor);
    render(&DevicePage {
        l: layout(&b, None),
        id: d.device.id.clone(),
        site_id: d.site.id.clone(),
        site_name: d.site.name.clone(),
        site_sensitivity: sensitivity(&d.site),
        maker: d.device.maker.clone().unwrap_or_else(|| "unknown".into()),
        brand: d.device.brand.clone().unwrap_or_default(),
        model: d.device.model.clone().unwrap_or_default(),
        class: format!("{:?}", d.device.class).to_lowercase(),
        status: d.device.status.as_str().into(),
        addresses: d.device.addresses.join(", "),
        mac: d.device.mac.clone().unwrap_or_default(),
        findings: d.findings.iter().map(finding_view).collect(),
        evidence: d
            .identifications
            .iter()
            .map(|s| EvidenceView {
                seen_at: s.seen_at.clone(),
                scan: s.scan_id.clone(),
                summary: format!(
                    "maker {} (confidence {:.2})",
                    s.identification
                        .maker
                        .as_ref()
                        .map(|m| m.id.as_str())
                        .unwrap_or("unknown"),
                    s.identification.confidence
                ),
                items: s
                    .identification
                    .evidence
                    .iter()
                    .take(20)
                    .map(|e| format!("{}: {} [{}]", e.kind, e.detail, e.source))
                    .collect(),
            })
            .collect(),
        history: d
            .history
            .iter()
            .map(|h| HistoryView {
                seq: h.seq,
                time: h.time.clone(),
                actor: h.actor.clone(),
                action: h.action.clone(),
            })
            .collect(),
        can_request,
    })
}

#[derive(Template)]
#[template(path = "site.html")]
struct SitePage {
    l: Layout,
    id: String,
    name: String,
    organisation: String,
    sensitivity: String,
}

async fn site_page(State(app): State<App>, b: Browser, Path(id): Path<String>) -> Response {
    let c = try_page!(b, caller(&b));
    let s = try_page!(
        b,
        register::readable_site(&app, &c.access, &id, Role::Viewer).await
    );
    render(&SitePage {
        l: layout(&b, None),
        sensitivity: sensitivity(&s),
        id: s.id,
        name: s.name,
        organisation: s.organisation,
    })
}

// ------------------------------------------------------------------ findings

struct FindingRow {
    device: String,
    site: String,
    rule: String,
    severity: String,
    status: String,
    due: String,
    first_reason: String,
    reasons: Vec<String>,
}

#[derive(Template)]
#[template(path = "findings.html")]
struct FindingsPage {
    l: Layout,
    total: usize,
    shown: usize,
    status: String,
    query: String,
    rows: Vec<FindingRow>,
}

#[derive(Deserialize, Default)]
struct FindingsForm {
    status: Option<String>,
    site: Option<String>,
    organisation: Option<String>,
}

async fn findings(State(app): State<App>, b: Browser, Query(f): Query<FindingsForm>) -> Response {
    let c = try_page!(b, caller(&b));
    let q = FindingQuery {
        status: nonempty(&f.status),
        site: nonempty(&f.site),
        organisation: nonempty(&f.organisation),
        ..Default::default()
    };
    let all = try_page!(b, decisions::scoped_findings(&app, &c.access, &q).await);
    let mut query = String::new();
    for (k, v) in [
        ("status", &q.status),
        ("site", &q.site),
        ("organisation", &q.organisation),
    ] {
        if let Some(v) = v {
            query.push_str(&format!("&{k}={}", enc(v)));
        }
    }
    let rows: Vec<FindingRow> = all
        .iter()
        .take(500)
        .map(|x| {
            let v = finding_view(x);
            FindingRow {
                device: x.device_id.to_string(),
                site: x.site_id.to_string(),
                first_reason: v
                    .reasons
                    .iter()
                    .rev()
                    .find(|_| true)
                    .cloned()
                    .unwrap_or_default(),
                rule: v.rule,
                severity: v.severity,
                status: v.status,
                due: v.due,
                reasons: v.reasons,
            }
        })
        .collect();
    render(&FindingsPage {
        l: layout(&b, None),
        total: all.len(),
        shown: rows.len(),
        status: q.status.unwrap_or_default(),
        query,
        rows,
    })
}

// ------------------------------------------------------------------ waivers

struct RequestRow {
    id: String,
    device: String,
    rule: String,
    reason: String,
    expires_on: String,
    requested_by: String,
    can_decide: bool,
}

struct WaiverRow {
    id: String,
    device: String,
    rule: String,
    approver: String,
    expires_on: String,
    state: String,
}

#[derive(Template)]
#[template(path = "waivers.html")]
struct WaiversPage {
    l: Layout,
    pending: Vec<RequestRow>,
    waivers: Vec<WaiverRow>,
}

async fn waivers(State(app): State<App>, b: Browser, Query(fq): Query<FlashQuery>) -> Response {
    let c = try_page!(b, caller(&b));
    let reqs = try_page!(
        b,
        decisions::scoped_requests(&app, &c.access, Some("pending")).await
    );
    let ws = try_page!(
        b,
        decisions::scoped_waivers(
            &app,
            &c.access,
            &WaiverQuery {
                include_revoked: Some(true),
                ..Default::default()
            }
        )
        .await
    );
    let today = crate::findings::today();
    render(&WaiversPage {
        l: layout(&b, flash_text(fq.msg.as_deref())),
        pending: reqs
            .into_iter()
            .map(|r| RequestRow {
                can_decide: r
                    .organisation
                    .as_deref()
                    .and_then(|o| c.access.role(o))
                    .is_some_and(|x| x >= Role::Approver)
                    && r.requested_by != c.name(),
                id: r.id,
                device: r.device_id,
                rule: r.rule_id,
                reason: r.reason,
                expires_on: r.expires_on.to_string(),
                requested_by: r.requested_by,
            })
            .collect(),
        waivers: ws
            .into_iter()
            .map(|w| WaiverRow {
                state: if w.revoked_at.is_some() {
                    "revoked".into()
                } else if w.active_on(today) {
                    "in force".into()
                } else {
                    "expired".into()
                },
                id: w.id,
                device: w.device_id,
                rule: w.rule_id,
                approver: w.approver,
                expires_on: w.expires_on.to_string(),
            })
            .collect(),
    })
}

#[derive(Deserialize)]
struct WaiverForm {
    csrf_token: Option<String>,
    device_id: String,
    rule_id: String,
    reason: String,
    expires_on: chrono::NaiveDate,
}

async fn request_waiver(State(app): State<App>, b: Browser, Form(f): Form<WaiverForm>) -> Response {
    try_page!(b, b.check_csrf(f.csrf_token.as_deref()));
    let c = try_page!(b, caller(&b));
    try_page!(
        b,
        decisions::create_request(
            &app,
            c,
            &NewWaiverRequest {
                device_id: f.device_id,
                rule_id: f.rule_id,
                reason: f.reason,
                expires_on: f.expires_on,
            }
        )
        .await
    );
    Redirect::to("/waivers?msg=waiver-requested").into_response()
}

#[derive(Deserialize)]
struct DecisionForm {
    csrf_token: Option<String>,
    approve: String,
    note: Option<String>,
}

async fn decide_waiver(
    State(app): State<App>,
    b: Browser,
    Path(id): Path<String>,
    Form(f): Form<DecisionForm>,
) -> Response {
    try_page!(b, b.check_csrf(f.csrf_token.as_deref()));
    let c = try_page!(b, caller(&b));
    let approve = f.approve == "true";
    try_page!(
        b,
        decisions::decide(
            &app,
            c,
            &id,
            &Decision {
                approve,
                note: f.note
            }
        )
        .await
    );
    Redirect::to(if approve {
        "/waivers?msg=waiver-approved"
    } else {
        "/waivers?msg=waiver-rejected"
    })
    .into_response()
}

// ------------------------------------------------------------------ plans

struct PlanRow {
    id: String,
    title: String,
    organisation: String,
    status: String,
    actions: usize,
    due: String,
    by: String,
}

#[derive(Template)]
#[template(path = "plans.html")]
struct PlansPage {
    l: Layout,
    plans: Vec<PlanRow>,
    editable_orgs: Vec<String>,
}

async fn plans(State(app): State<App>, b: Browser, Query(fq): Query<FlashQuery>) -> Response {
    let c = try_page!(b, caller(&b));
    let ps = try_page!(b, decisions::scoped_plans(&app, &c.access).await);
    render(&PlansPage {
        l: layout(&b, flash_text(fq.msg.as_deref())),
        plans: ps
            .into_iter()
            .map(|p| PlanRow {
                actions: p.actions.len(),
                due: p.due_on.map(|d| d.to_string()).unwrap_or_default(),
                id: p.id,
                title: p.title,
                organisation: p.organisation,
                status: p.status,
                by: p.created_by,
            })
            .collect(),
        editable_orgs: c.access.with_role(Role::Editor).into_iter().collect(),
    })
}

#[derive(Deserialize)]
struct PlanForm {
    csrf_token: Option<String>,
    organisation: String,
    title: String,
    /// Whole currency units; empty: no budget.
    budget: Option<String>,
}

async fn create_plan(State(app): State<App>, b: Browser, Form(f): Form<PlanForm>) -> Response {
    try_page!(b, b.check_csrf(f.csrf_token.as_deref()));
    let c = try_page!(b, caller(&b));
    let budget = try_page!(
        b,
        match f.budget.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => s
                .parse::<u64>()
                .map(Some)
                .map_err(|_| ApiError::bad("budget: a whole number")),
            None => Ok(None),
        }
    );
    let p = try_page!(
        b,
        decisions::draft_plan(
            &app,
            c,
            &NewPlan {
                organisation: f.organisation,
                title: f.title,
                budget,
                ..Default::default()
            }
        )
        .await
    );
    Redirect::to(&format!("/plans/{}?msg=plan-drafted", p.id)).into_response()
}

struct ActionRow {
    device: String,
    site: String,
    action: String,
    due: String,
    rules: String,
    cost: String,
    wait_reason: String,
}

impl ActionRow {
    fn of(a: decisions::PlanAction) -> ActionRow {
        ActionRow {
            device: a.device_id,
            site: a.site_id,
            action: a.action,
            due: a.due.map(|d| d.to_string()).unwrap_or_default(),
            rules: a.rules.join(", "),
            cost: a.cost.map(|c| c.to_string()).unwrap_or_default(),
            wait_reason: a.wait_reason.unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "plan.html")]
struct PlanPage {
    l: Layout,
    id: String,
    title: String,
    organisation: String,
    status: String,
    by: String,
    decided_by: String,
    can_decide: bool,
    actions: Vec<ActionRow>,
    waiting: Vec<ActionRow>,
    /// The planner's totals, one line (empty for explicit actions).
    summary: String,
}

async fn plan_page(
    State(app): State<App>,
    b: Browser,
    Path(id): Path<String>,
    Query(fq): Query<FlashQuery>,
) -> Response {
    let c = try_page!(b, caller(&b));
    let p = try_page!(b, decisions::plan_by_id(&app, &c.access, &id).await);
    render(&PlanPage {
        l: layout(&b, flash_text(fq.msg.as_deref())),
        can_decide: p.status == "draft"
            && c.access
                .role(&p.organisation)
                .is_some_and(|r| r >= Role::Approver),
        id: p.id,
        title: p.title,
        organisation: p.organisation,
        status: p.status,
        by: p.created_by,
        decided_by: p.decided_by.unwrap_or_default(),
        summary: p
            .summary
            .map(|s| {
                format!(
                    "{} {} for {:.0} of {} risk points{}; {}",
                    s.currency,
                    s.total_cost,
                    s.risk_removed,
                    s.total_risk,
                    s.budget
                        .map(|b| format!(" (budget {} {b})", s.currency))
                        .unwrap_or_default(),
                    s.method
                )
            })
            .unwrap_or_default(),
        actions: p.actions.into_iter().map(ActionRow::of).collect(),
        waiting: p.waiting.into_iter().map(ActionRow::of).collect(),
    })
}

async fn decide_plan(
    State(app): State<App>,
    b: Browser,
    Path(id): Path<String>,
    Form(f): Form<DecisionForm>,
) -> Response {
    try_page!(b, b.check_csrf(f.csrf_token.as_deref()));
    let c = try_page!(b, caller(&b));
    let approve = f.approve == "true";
    try_page!(
        b,
        decisions::decide_plan_inner(
            &app,
            c,
            &id,
            &Decision {
                approve,
                note: f.note
            }
        )
        .await
    );
    Redirect::to(&format!(
        "/plans/{id}?msg={}",
        if approve {
            "plan-approved"
        } else {
            "plan-rejected"
        }
    ))
    .into_response()
}

// ------------------------------------------------------------------ uploads

#[derive(Template)]
#[template(path = "upload.html")]
struct UploadPage {
    l: Layout,
    heading: String,
    help: String,
    action: String,
    error: String,
    summary: String,
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn upload_page(b: &Browser, quote: bool) -> UploadPage {
    UploadPage {
        l: layout(b, None),
        heading: if quote { "Quote check" } else { "Import" }.into(),
        help: if quote {
            "Upload a quote or purchase order (CSV with brand, model, quantity and site columns, or JSON): each line is checked against the active regimes, with the true maker behind the brand."
        } else {
            "Upload a register batch (JSON with organisations, sites, zones, networks and devices). It is applied in one transaction: all or nothing."
        }
        .into(),
        action: if quote { "/quote" } else { "/import" }.into(),
        error: String::new(),
        summary: String::new(),
        headers: Vec::new(),
        rows: Vec::new(),
    }
}

async fn quote_page(b: Browser) -> Response {
    try_page!(b, caller(&b));
    render(&upload_page(&b, true))
}

async fn import_page(b: Browser) -> Response {
    try_page!(b, caller(&b));
    render(&upload_page(&b, false))
}

/// Read the `file` and `csrf_token` fields of an upload (the body limit caps the size).
async fn read_upload(mut m: Multipart) -> Result<(Vec<u8>, Option<String>), ApiError> {
    let mut file = None;
    let mut csrf = None;
    while let Some(field) = m
        .next_field()
        .await
        .map_err(|e| ApiError::bad(format!("upload: {e}")))?
    {
        match field.name() {
            Some("file") => {
                file = Some(
                    field
                        .bytes()
                        .await
                        .map_err(|e| ApiError::bad(format!("upload: {e}")))?
                        .to_vec(),
                )
            }
            Some("csrf_token") => {
                csrf = Some(
                    field
                        .text()
                        .await
                        .map_err(|e| ApiError::bad(format!("upload: {e}")))?,
                )
            }
            _ => {}
        }
    }
    Ok((file.ok_or_else(|| ApiError::bad("no file uploaded"))?, csrf))
}

async fn quote_upload(State(app): State<App>, b: Browser, m: Multipart) -> Response {
    let (bytes, csrf) = try_page!(b, read_upload(m).await);
    try_page!(b, b.check_csrf(csrf.as_deref()));
    let c = try_page!(b, caller(&b));
    let mut page = upload_page(&b, true);
    match crate::quotes::check(&app, c, &bytes).await {
        Ok(v) => {
            page.summary = format!(
                "Verdict {}: {} blocked, {} to inquire, {} allowed.",
                v["verdict"].as_str().unwrap_or("?").to_uppercase(),
                v["blocked"],
                v["inquiry"],
                v["allowed"]
            );
            page.headers = ["Line", "Brand", "Model", "Site", "Verdict", "Why"]
                .map(String::from)
                .to_vec();
            if let Some(lines) = v["lines"].as_array() {
                for (i, l) in lines.iter().enumerate() {
                    let s = |p: &str| {
                        l.pointer(p)
                            .and_then(|x| x.as_str())
                            .unwrap_or("")
                            .to_string()
                    };
                    let why = l["chain"]
                        .as_array()
                        .map(|c| {
                            c.iter()
                                .filter_map(|x| x.as_str())
                                .collect::<Vec<_>>()
                                .join(" → ")
                        })
                        .unwrap_or_default();
                    page.rows.push(vec![
                        (i + 1).to_string(),
                        s("/line/brand"),
                        s("/line/model"),
                        s("/line/site"),
                        s("/verdict"),
                        why,
                    ]);
                }
            }
        }
        Err(e) => page.error = e.to_string(),
    }
    render(&page)
}

async fn import_upload(State(app): State<App>, b: Browser, m: Multipart) -> Response {
    let (bytes, csrf) = try_page!(b, read_upload(m).await);
    try_page!(b, b.check_csrf(csrf.as_deref()));
    let c = try_page!(b, caller(&b));
    let mut page = upload_page(&b, false);
    match serde_json::from_slice::<camtrace_store::RegisterBatch>(&bytes) {
        Err(e) => page.error = format!("not a register batch: {e}"),
        Ok(batch) => match register::import_batch(&app, c, &batch, "dashboard").await {
            Ok(v) => {
                page.summary = "Imported.".into();
                page.headers = ["Kind", "Created", "Updated", "Unchanged"]
                    .map(String::from)
                    .to_vec();
                for k in ["organisations", "sites", "zones", "networks", "devices"] {
                    let x = &v["summary"][k];
                    page.rows.push(vec![
                        k.to_string(),
                        x["created"].to_string(),
                        x["updated"].to_string(),
                        x["unchanged"].to_string(),
                    ]);
                }
            }
            Err(e) => page.error = e.to_string(),
        },
    }
    render(&page)
}

// ------------------------------------------------------------------ audit

struct AuditRow {
    seq: i64,
    time: String,
    actor: String,
    action: String,
    kind: String,
    id: String,
    hash: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    l: Layout,
    ok: bool,
    verification: String,
    entries: Vec<AuditRow>,
    /// `/audit?before=N` for the next (older) page; empty on the last.
    older: String,
}

#[derive(Deserialize)]
struct AuditForm {
    before: Option<i64>,
}

/// Entries shown per page, and read at most per page (a viewer who can read few entries of a
/// large history pages through it in bounded steps).
const AUDIT_PAGE: usize = 200;
const AUDIT_SCAN: usize = 20_000;

async fn audit_page(State(app): State<App>, b: Browser, Query(f): Query<AuditForm>) -> Response {
    let c = try_page!(b, caller(&b));
    let v = try_page!(
        b,
        app.chain_verifier
            .step(&app, crate::api::auditlog::VERIFY_BUDGET)
            .await
    );
    let before = f.before.filter(|s| *s > 0);
    let (entries, next) = try_page!(
        b,
        crate::api::auditlog::scoped_newest(&app, &c.access, before, AUDIT_PAGE, AUDIT_SCAN).await
    );
    let verification = match &v.tampered {
        Some((seq, reason)) => format!("TAMPERING DETECTED at entry {seq}: {reason}"),
        None if v.verified_to >= v.head => format!(
            "Hash chain verified: {} entries, none altered (checked incrementally; {} re-check round(s) of the older entries since the server started).",
            v.head, v.rounds
        ),
        None => format!(
            "Hash chain verified up to entry {} of {}, none altered so far; verification continues with each visit ({} entries per page load).",
            v.verified_to,
            v.head,
            crate::api::auditlog::VERIFY_BUDGET
        ),
    };
    render(&AuditPage {
        l: layout(&b, None),
        ok: v.tampered.is_none(),
        verification,
        entries: entries
            .into_iter()
            .map(|e| AuditRow {
                seq: e.seq,
                time: e.time,
                actor: e.actor,
                action: e.action,
                kind: e.entity_kind,
                id: e.entity_id,
                hash: e.hash.chars().take(16).collect(),
            })
            .collect(),
        older: next
            .map(|s| format!("/audit?before={s}"))
            .unwrap_or_default(),
    })
}
