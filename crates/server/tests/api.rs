//! Every endpoint, driven through the router (no network).

mod common;

use axum::http::{Method, StatusCode};
use camtrace_server::auth;
use common::*;
use serde_json::json;

#[tokio::test]
async fn health_ready_and_metrics() {
    let f = fixture(sqlite_app().await).await;
    let app = &f.app;
    let r = call(app, Method::GET, "/healthz", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = call(app, Method::GET, "/readyz", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let _ = call(app, Method::GET, "/api/v1/devices", None, None).await;
    // No credentials: 401, and nothing of the metrics in the answer.
    let r = call(app, Method::GET, "/metrics", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    assert!(!r.text().contains("camtrace_http"), "{}", r.text());
    // A token with the metrics:read scope reads them.
    let m = new_token(
        app,
        &f.user_ids["root"],
        "prometheus",
        auth::TokenScope::MetricsRead,
        chrono::Duration::days(1),
    )
    .await;
    let r = get(app, "/metrics", &m).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let t = r.text();
    assert!(
        t.contains("# TYPE camtrace_http_requests_total counter"),
        "{t}"
    );
    assert!(
        t.contains("route=\"/api/v1/devices\",status=\"401\"} 1"),
        "the unauthenticated request is counted under its route template: {t}"
    );
    assert!(
        t.contains("route=\"/metrics\",status=\"401\"} 1"),
        "refused scrapes are counted: {t}"
    );
    assert!(t.contains("camtrace_http_request_duration_seconds_bucket{method=\"GET\",route=\"/readyz\",le=\"+Inf\"} 1"));
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    // Tokens without the scope are refused, a central admin's write token included.
    for user in ["root", "bob", "victor"] {
        let r = get(app, "/metrics", f.token(user)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{user}: {}", r.text());
        assert!(!r.text().contains("camtrace_http"));
    }
    let ro = new_token(
        app,
        &f.user_ids["root"],
        "ro",
        auth::TokenScope::Read,
        chrono::Duration::days(1),
    )
    .await;
    assert_eq!(
        get_status(app, "/metrics", &ro).await,
        StatusCode::FORBIDDEN
    );
    // The metrics token can do nothing else, not even read.
    for p in ["/api/v1/devices", "/api/v1/me", "/api/v1/organisations"] {
        let r = get(app, p, &m).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{p}: {}", r.text());
    }
    let r = post(
        app,
        "/api/v1/zones",
        &m,
        json!({"id": "z9", "site": "site-b", "name": "x"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Sessions: a central admin's reads the metrics, an organisation admin's does not.
    for (user, want) in [("root", StatusCode::OK), ("bob", StatusCode::FORBIDDEN)] {
        let login = login(app, user, &password(user)).await;
        assert_eq!(login.status, StatusCode::OK);
        let r = get_with_cookie(app, "/metrics", &session_of(&login)).await;
        assert_eq!(r.status, want, "{user} session: {}", r.text());
    }
    // A revoked metrics token stops working at once.
    let id = token_id(app, f.token("root"), "name", "prometheus").await;
    assert_eq!(
        revoke_token(app, &id, f.token("root")).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        get_status(app, "/metrics", &m).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn only_central_admins_create_metrics_tokens() {
    let f = fixture(sqlite_app().await).await;
    let app = &f.app;
    for (user, want) in [
        ("root", StatusCode::OK),
        ("bob", StatusCode::FORBIDDEN),
        ("alice", StatusCode::FORBIDDEN),
    ] {
        let login = login(app, user, &password(user)).await;
        let r = with_session(
            app,
            Method::POST,
            "/api/v1/tokens",
            &session_of(&login),
            Some(&csrf_token(&login)),
            Some(json!({"name": "scraper", "scope": "metrics:read"})),
        )
        .await;
        assert_eq!(r.status, want, "{user}: {}", r.text());
        if want == StatusCode::OK {
            assert_eq!(r.json()["record"]["scope"], "metrics:read");
            let tok = r.json()["token"].as_str().unwrap().to_string();
            let m = get(app, "/metrics", &tok).await;
            assert_eq!(m.status, StatusCode::OK, "{}", m.text());
            // Listed back with its scope.
            let list = get(app, "/api/v1/tokens", f.token("root")).await.json();
            assert!(list
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["name"] == "scraper" && t["scope"] == "metrics:read"));
        }
    }
}

#[tokio::test]
async fn metrics_public_opt_out_serves_metrics_without_login() {
    let app = app_with(
        "sqlite::memory:",
        camtrace_server::ServerConfig {
            metrics_public: true,
            ..test_config()
        },
    )
    .await;
    let r = call(&app, Method::GET, "/metrics", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r
        .text()
        .contains("# TYPE camtrace_http_requests_total counter"));
    // The opt-out opens the metrics only: the API still needs credentials.
    assert_eq!(
        call(&app, Method::GET, "/api/v1/devices", None, None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn first_run_creates_one_admin_once() {
    let app = sqlite_app().await;
    let camtrace_server::Bootstrap::CreatedWithPassword(pw) =
        camtrace_server::bootstrap_admin(&app, None).await.unwrap()
    else {
        panic!("a password is generated");
    };
    assert!(pw.len() >= 20);
    assert_eq!(
        camtrace_server::bootstrap_admin(&app, None).await.unwrap(),
        camtrace_server::Bootstrap::Existing
    );
    let r = login(&app, "admin", &pw).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["user"]["central_role"], "admin");
    // The password is in no audit entry.
    let hist = app.store.history(&Default::default()).await.unwrap();
    let dump = serde_json::to_string(&hist).unwrap();
    assert!(!dump.contains(&pw));

    let app2 = sqlite_app().await;
    let from_env = camtrace_server::bootstrap_admin(&app2, Some("from-the-environment".into()))
        .await
        .unwrap();
    assert_eq!(
        from_env,
        camtrace_server::Bootstrap::CreatedFromEnvironment,
        "a password from the environment is not echoed back"
    );
    let r = login(&app2, "admin", "from-the-environment").await;
    assert_eq!(r.status, StatusCode::OK);
}

/// The session cookie of a login, which must be HttpOnly and SameSite=Strict.
fn session_of(r: &Resp) -> String {
    let c = r.headers["set-cookie"].to_str().unwrap().to_string();
    assert!(c.contains("HttpOnly"), "{c}");
    assert!(c.contains("SameSite=Strict"), "{c}");
    session_cookie(r)
}

#[tokio::test]
async fn sessions_need_csrf_for_changes_and_end_at_logout() {
    let f = fixture(sqlite_app().await).await;
    let bad = login(&f.app, "alice", "nope-nope-nope").await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    let r = login(&f.app, "alice", &password("alice")).await;
    assert_eq!(r.status, StatusCode::OK);
    let cookie = session_of(&r);
    let csrf = csrf_token(&r);
    // The token is stored hashed.
    let stored: Vec<String> = f
        .app
        .store
        .session_hashes(&f.user_ids["alice"])
        .await
        .unwrap();
    let token = cookie.split_once('=').unwrap().1;
    assert!(!stored.iter().any(|s| s == token));
    assert!(stored.contains(&camtrace_server::auth::token_hash(token)));

    let me = get_with_cookie(&f.app, "/api/v1/me", &cookie).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json()["roles"]["orga-secret-a"], "editor");
    assert_eq!(
        me.json()["roles"]["orga-sub-secret-a"],
        "editor",
        "inherited down the tree"
    );
    assert!(me.json()["roles"].get("orgb").is_none());

    let zone = |csrf| {
        with_session(
            &f.app,
            Method::POST,
            "/api/v1/zones",
            &cookie,
            csrf,
            Some(json!({"id": "z-new", "site": "site-secret-a", "name": "Roof"})),
        )
    };
    let no_csrf = zone(None).await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
    let wrong = zone(Some("x")).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let ok = zone(Some(&csrf)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());

    let out = logout(&f.app, &cookie, &csrf).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let me = get_with_cookie(&f.app, "/api/v1/me", &cookie).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    // Logins, logouts and the failed login are in the access log; none of them in the
    // register history.
    let log = f.app.store.access_log(&Default::default()).await.unwrap();
    let actions: Vec<(&str, &str)> = log
        .iter()
        .map(|e| (e.action.as_str(), e.actor.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("login_failed", "alice"),
            ("login", "alice"),
            ("logout", "alice")
        ]
    );
    let hist = f.app.store.history(&Default::default()).await.unwrap();
    assert!(
        !hist
            .iter()
            .any(|h| h.action.starts_with("login") || h.action == "logout"),
        "access events stay out of the register history"
    );
    assert_eq!(
        f.app
            .metrics
            .signins(camtrace_server::metrics::SignIn::Failure),
        1
    );
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled_per_user() {
    let f = fixture(sqlite_app().await).await;
    let alice = |pw: &'static str| {
        let app = f.app.clone();
        async move { login(&app, "alice", pw).await.status }
    };
    for _ in 0..camtrace_server::throttle::PER_USER_AND_ADDRESS.free {
        assert_eq!(alice("wrong-password-x").await, StatusCode::UNAUTHORIZED);
    }
    // Even the right password must wait now (a short back-off, for this user only).
    assert_eq!(
        alice("alice-password-123").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    let r = login(&f.app, "anne", &password("anne")).await;
    assert_eq!(r.status, StatusCode::OK);
    // Counted, not written to the history.
    assert_eq!(
        f.app
            .metrics
            .signins(camtrace_server::metrics::SignIn::Throttled),
        1
    );
    let hist = f
        .app
        .store
        .history(&camtrace_store::HistoryFilter {
            action: Some("login_throttled".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(hist.is_empty());
}

#[tokio::test]
async fn api_tokens_are_scoped_expiring_and_revocable() {
    let f = fixture(sqlite_app().await).await;
    let a = f.token("alice");
    // Tokens cannot mint tokens; sessions can.
    let r = post(
        &f.app,
        "/api/v1/tokens",
        a,
        json!({"name": "ci", "scope": "read"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let t = new_token(
        &f.app,
        &f.user_ids["alice"],
        "ro",
        auth::TokenScope::Read,
        chrono::Duration::days(1),
    )
    .await;
    assert_eq!(
        get_status(&f.app, "/api/v1/devices", &t).await,
        StatusCode::OK
    );
    let w = post(
        &f.app,
        "/api/v1/zones",
        &t,
        json!({"id": "z2", "site": "site-secret-a", "name": "x"}),
    )
    .await;
    assert_eq!(w.status, StatusCode::FORBIDDEN, "read-only token");
    let id = token_id(&f.app, a, "name", "ro").await;
    // Bob cannot see or revoke Alice's token.
    assert_eq!(
        revoke_token(&f.app, &id, f.token("bob")).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(revoke_token(&f.app, &id, a).await, StatusCode::NO_CONTENT);
    assert_eq!(
        get_status(&f.app, "/api/v1/devices", &t).await,
        StatusCode::UNAUTHORIZED
    );
    // Expired tokens do not authenticate.
    let old = new_token(
        &f.app,
        &f.user_ids["alice"],
        "old",
        auth::TokenScope::Write,
        chrono::Duration::seconds(-1),
    )
    .await;
    assert_eq!(
        get_status(&f.app, "/api/v1/devices", &old).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get_status(&f.app, "/api/v1/devices", "ct_forged").await,
        StatusCode::UNAUTHORIZED
    );

    // Through a session, tokens can be created; the clear token is shown once, stored hashed.
    let r = login(&f.app, "alice", &password("alice")).await;
    let cookie = session_of(&r);
    let csrf = csrf_token(&r);
    let c = with_session(
        &f.app,
        Method::POST,
        "/api/v1/tokens",
        &cookie,
        Some(&csrf),
        Some(json!({"name": "ci", "scope": "write", "expires_days": 7})),
    )
    .await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text());
    let tok = c.json()["token"].as_str().unwrap().to_string();
    assert!(tok.starts_with("ct_"));
    assert!(
        !f.app.store.token_hash_exists(&tok).await.unwrap(),
        "clear token never stored"
    );
    assert!(f
        .app
        .store
        .token_hash_exists(&camtrace_server::auth::token_hash(&tok))
        .await
        .unwrap());
    assert_eq!(get_status(&f.app, "/api/v1/me", &tok).await, StatusCode::OK);
}

#[tokio::test]
async fn register_endpoints_read_write_filter_and_page() {
    let f = fixture(sqlite_app().await).await;
    let root = f.token("root");
    let orgs = get(&f.app, "/api/v1/organisations?limit=2&offset=1", root)
        .await
        .json();
    assert_eq!(orgs["total"], 4);
    assert_eq!(orgs["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        get(&f.app, "/api/v1/organisations/orgb", root).await.json()["id"],
        "orgb"
    );
    let r = post(
        &f.app,
        "/api/v1/organisations",
        root,
        json!({"id": "orgc", "name": "C", "parent": "gov"}),
    )
    .await;
    assert_eq!(r.json()["change"], "created");
    // An organisation admin renames their organisation and adds one below it, but cannot
    // create a top-level one or move theirs.
    let bob = f.token("bob");
    post_ok(
        &f.app,
        "/api/v1/organisations",
        bob,
        json!({"id": "orgb", "name": "B renamed", "parent": "gov"}),
    )
    .await;
    post_ok(
        &f.app,
        "/api/v1/organisations",
        bob,
        json!({"id": "orgb-unit", "name": "B unit", "parent": "orgb"}),
    )
    .await;
    assert_eq!(
        post_status(
            &f.app,
            "/api/v1/organisations",
            bob,
            json!({"id": "orgz", "name": "Z"})
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post_status(
            &f.app,
            "/api/v1/organisations",
            bob,
            json!({"id": "orgb", "name": "B", "parent": "orgc"})
        )
        .await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post_status(
            &f.app,
            "/api/v1/organisations",
            root,
            json!({"id": "gov", "name": "G", "parent": "orgb"})
        )
        .await,
        StatusCode::BAD_REQUEST,
        "cycle"
    );

    let sens = get(&f.app, "/api/v1/sites?sensitive=true", root)
        .await
        .json();
    let ids: Vec<&str> = sens["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["site-b", "site-secret-a"]);
    assert_eq!(
        get(&f.app, "/api/v1/sites?organisation=orga-secret-a", root)
            .await
            .json()["total"],
        2,
        "org filter includes sub-organisations"
    );
    assert_eq!(
        get(&f.app, "/api/v1/sites/site-b", root).await.json()["organisation"],
        "orgb"
    );
    post_ok(
        &f.app,
        "/api/v1/sites",
        f.token("bob"),
        json!({"id": "site-b2", "organisation": "orgb", "name": "B2"}),
    )
    .await;

    assert_eq!(
        get(&f.app, "/api/v1/zones?site=site-b", root).await.json()["total"],
        1
    );
    assert_eq!(
        post_status(
            &f.app,
            "/api/v1/zones",
            f.token("bob"),
            json!({"id": "zone-b2", "site": "site-b", "name": "Yard"})
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        get(&f.app, "/api/v1/networks?site=site-b", root)
            .await
            .json()["total"],
        1
    );
    assert_eq!(
        post_status(
            &f.app,
            "/api/v1/networks",
            f.token("bob"),
            json!({"id": "net-b2", "site": "site-b", "name": "cctv", "core": false})
        )
        .await,
        StatusCode::OK
    );

    // Cursor paging over devices.
    let p1 = get(&f.app, "/api/v1/devices?limit=2", root).await.json();
    assert_eq!(p1["items"].as_array().unwrap().len(), 2);
    let cur = p1["next_cursor"].as_str().unwrap().to_string();
    let p2 = get(
        &f.app,
        &format!("/api/v1/devices?limit=2&cursor={cur}"),
        root,
    )
    .await
    .json();
    assert_eq!(p2["items"].as_array().unwrap().len(), 2);
    assert!(p2["next_cursor"].is_null());
    let all: Vec<String> = p1["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(p2["items"].as_array().unwrap())
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(all, ["dev-b", "dev-b2", "dev-secret-a", "dev-sub-secret-a"]);
    let hik = get(
        &f.app,
        "/api/v1/devices?maker=HIKVISION&sensitive=true",
        root,
    )
    .await
    .json();
    assert_eq!(hik["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        get(&f.app, "/api/v1/devices?q=b2", root).await.json()["items"][0]["id"],
        "dev-b2"
    );
    assert_eq!(
        get_status(&f.app, "/api/v1/devices?status=bogus", root).await,
        StatusCode::BAD_REQUEST
    );

    let d = get(&f.app, "/api/v1/devices/dev-b", root).await.json();
    assert_eq!(d["device"]["id"], "dev-b");
    assert_eq!(d["site"]["id"], "site-b");
    assert!(
        d["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["action"] == "create"),
        "{d}"
    );

    let mut dev = serde_json::to_value(device("dev-b3", "site-b", "dahua", "dahua")).unwrap();
    dev["model"] = json!("IPC-HFW");
    assert_eq!(
        post(&f.app, "/api/v1/devices", f.token("bob"), dev)
            .await
            .json()["change"],
        "created"
    );
    post_ok(
        &f.app,
        "/api/v1/devices/dev-b3/status",
        f.token("bob"),
        json!({"status": "removed", "reason": "replaced"}),
    )
    .await;
    assert_eq!(
        get(&f.app, "/api/v1/devices/dev-b3", root).await.json()["device"]["status"],
        "removed"
    );

    let s = get(&f.app, "/api/v1/search?q=site-b", root).await.json();
    assert!(s["sites"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["id"] == "site-b"));
    assert_eq!(
        get_status(&f.app, "/api/v1/scans", root).await,
        StatusCode::OK
    );
    assert_eq!(
        get_status(&f.app, "/api/v1/observations?site=site-b", root).await,
        StatusCode::OK
    );
    assert_eq!(
        get_status(&f.app, "/api/v1/observations", f.token("bob")).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get_status(&f.app, "/api/v1/nope", root).await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn bulk_import_is_checked_and_audited() {
    let f = fixture(sqlite_app().await).await;
    let batch = json!({
        "sites": [{"id": "site-b9", "organisation": "orgb", "name": "B9"}],
        "devices": [{"id": "dev-b9", "site": "site-b9", "maker": "hikvision"}]
    });
    let r = post_ok(&f.app, "/api/v1/import", f.token("bob"), batch).await;
    assert_eq!(r.json()["summary"]["devices"]["created"], 1);
    // All or nothing: one entity outside Bob's scope rejects the whole batch.
    let mixed = json!({
        "devices": [{"id": "dev-b10", "site": "site-b"}, {"id": "dev-x", "site": "site-secret-a"}]
    });
    let r = post(&f.app, "/api/v1/import", f.token("bob"), mixed).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(f.app.store.get_device("dev-b10").await.unwrap().is_none());
    let hist = f
        .app
        .store
        .history(&camtrace_store::HistoryFilter {
            action: Some("import".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(hist.len(), 1);
    assert_eq!(hist[0].actor, "bob");
}

#[tokio::test]
async fn findings_waiver_flow_and_reports() {
    let f = fixture(sqlite_app().await).await;
    let all = get(&f.app, "/api/v1/findings?limit=1000", f.token("root"))
        .await
        .json();
    let items = all["items"].as_array().unwrap();
    let fa = items
        .iter()
        .find(|x| x["device_id"] == "dev-secret-a" && x["status"]["state"] == "open")
        .unwrap_or_else(|| {
            panic!("an open finding for the Hikvision camera on a sensitive site: {all}")
        });
    assert!(
        fa["reasons"].as_array().unwrap().len() >= 2,
        "findings carry reasons"
    );
    let rule = format!(
        "{}/{}",
        fa["regime_id"].as_str().unwrap(),
        fa["rule_id"].as_str().unwrap()
    );
    let only_b = get(
        &f.app,
        "/api/v1/findings?organisation=orgb&limit=1000",
        f.token("root"),
    )
    .await
    .json();
    assert!(only_b["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["org_id"] == "orgb"));
    let high = get(
        &f.app,
        "/api/v1/findings?severity=critical",
        f.token("root"),
    )
    .await
    .json();
    assert!(high["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["severity"] == "critical"));

    // Alice (editor) requests a waiver; neither she nor the viewer may approve it.
    let exp = (chrono::Utc::now().date_naive() + chrono::Duration::days(90)).to_string();
    let req = post_ok(&f.app, "/api/v1/waiver-requests", f.token("alice"), json!({"device_id": "dev-secret-a", "rule_id": rule, "reason": "replacement ordered", "expires_on": exp})).await;
    let id = req.json()["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/waiver-requests/{id}/decision");
    assert_eq!(
        post_status(&f.app, &path, f.token("victor"), json!({"approve": true})).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post_status(&f.app, &path, f.token("alice"), json!({"approve": true})).await,
        StatusCode::FORBIDDEN
    );
    let pending = get(
        &f.app,
        "/api/v1/waiver-requests?status=pending",
        f.token("anne"),
    )
    .await
    .json();
    assert_eq!(pending["total"], 1);
    let ok = post_ok(
        &f.app,
        &path,
        f.token("anne"),
        json!({"approve": true, "note": "until the new camera arrives"}),
    )
    .await;
    assert_eq!(ok.json()["status"], "approved");
    assert_eq!(
        post_status(&f.app, &path, f.token("anne"), json!({"approve": true})).await,
        StatusCode::CONFLICT
    );
    let waivers = get(&f.app, "/api/v1/waivers", f.token("victor"))
        .await
        .json();
    assert_eq!(waivers["total"], 1);
    assert_eq!(waivers["items"][0]["approver"], "anne");
    let after = get(
        &f.app,
        "/api/v1/findings?device=dev-secret-a&limit=1000",
        f.token("victor"),
    )
    .await
    .json();
    let waived = after["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| {
            format!(
                "{}/{}",
                x["regime_id"].as_str().unwrap(),
                x["rule_id"].as_str().unwrap()
            ) == rule
        })
        .unwrap();
    assert_eq!(waived["status"]["state"], "waived");
    let wid = waivers["items"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        post_status(
            &f.app,
            &format!("/api/v1/waivers/{wid}/revoke"),
            f.token("alice"),
            json!({"reason": "x"})
        )
        .await,
        StatusCode::FORBIDDEN
    );
    let rv = post_ok(
        &f.app,
        &format!("/api/v1/waivers/{wid}/revoke"),
        f.token("anne"),
        json!({"reason": "camera replaced early"}),
    )
    .await;
    assert_eq!(rv.json()["revoked_by"], "anne");

    // Decisions are in the audit log with before and after.
    let audit = get(
        &f.app,
        "/api/v1/audit?format=jsonl&action=waiver_approve",
        f.token("root"),
    )
    .await;
    assert_eq!(audit.headers["content-type"], "application/x-ndjson");
    let lines: Vec<serde_json::Value> = audit
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["actor"], "anne");
    assert_eq!(lines[0]["before"]["status"], "pending");
    assert_eq!(lines[0]["after"]["status"], "approved");

    // Reports: CSV export of the caller's findings.
    let csv = get(
        &f.app,
        "/api/v1/reports/findings?organisation=orga-secret-a",
        f.token("victor"),
    )
    .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.text().starts_with("organisation,site,device,regime"));
    assert!(csv.text().contains("dev-secret-a"));
    let html = get(
        &f.app,
        "/api/v1/reports/estate?organisation=orga-secret-a",
        f.token("victor"),
    )
    .await;
    assert_eq!(html.status, StatusCode::OK, "{}", html.text());
    assert!(html.text().contains("<html") && html.text().contains("dev-secret-a"));
    let xlsx = get(
        &f.app,
        "/api/v1/reports/estate?format=xlsx",
        f.token("victor"),
    )
    .await;
    assert_eq!(xlsx.status, StatusCode::OK);
    assert!(xlsx.body.starts_with(b"PK"), "an XLSX (zip) workbook");
    let input = get(
        &f.app,
        "/api/v1/reports/estate?format=json",
        f.token("victor"),
    )
    .await
    .json();
    assert!(input["devices"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["id"].as_str().unwrap().contains("secret-a")));
    assert!(!input["devices"].as_array().unwrap().is_empty());
    // reports name the knowledge base they used and the history head as an anchor
    assert!(
        !input["kb_version"].as_str().unwrap().is_empty(),
        "{}",
        input["kb_version"]
    );
    let head = input["history_head"].as_str().expect("history head");
    let audit = get(&f.app, "/api/v1/audit/verify", f.token("victor")).await;
    if audit.status == StatusCode::OK {
        // (downloading reports is itself audited, so the log may have grown since)
        let n = audit.json()["entries"].as_u64().unwrap();
        let seq: u64 = head.split(':').next().unwrap().parse().unwrap();
        assert!(seq >= 1 && seq <= n, "{head} vs {n} entries");
    }
    let json_rep = get(
        &f.app,
        "/api/v1/reports/findings?format=json",
        f.token("victor"),
    )
    .await;
    assert!(json_rep
        .json()
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["org_id"].as_str().unwrap().contains("secret-a")));
}

#[tokio::test]
async fn plans_are_drafted_and_approved() {
    let f = fixture(sqlite_app().await).await;
    let p = post_ok(
        &f.app,
        "/api/v1/plans",
        f.token("alice"),
        json!({"organisation": "orga-secret-a", "title": "2027 removals"}),
    )
    .await;
    let plan = p.json();
    assert_eq!(plan["status"], "draft");
    assert!(
        plan["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["device_id"] == "dev-secret-a"),
        "{plan}"
    );
    let id = plan["id"].as_str().unwrap();
    assert_eq!(
        get(&f.app, &format!("/api/v1/plans/{id}"), f.token("victor"))
            .await
            .json()["title"],
        "2027 removals"
    );
    assert_eq!(
        get(&f.app, "/api/v1/plans", f.token("victor")).await.json()["total"],
        1
    );
    assert_eq!(
        post_status(
            &f.app,
            &format!("/api/v1/plans/{id}/decision"),
            f.token("alice"),
            json!({"approve": true})
        )
        .await,
        StatusCode::FORBIDDEN
    );
    let ok = post(
        &f.app,
        &format!("/api/v1/plans/{id}/decision"),
        f.token("anne"),
        json!({"approve": true}),
    )
    .await;
    assert_eq!(ok.json()["status"], "approved");
    // Explicit actions must name devices of the organisation.
    let bad = post(&f.app, "/api/v1/plans", f.token("alice"), json!({"organisation": "orga-secret-a", "title": "x", "actions": [{"device_id": "dev-b", "site_id": "site-b", "action": "remove_by", "rules": [], "due": null}]})).await;
    assert_eq!(bad.status, StatusCode::NOT_FOUND);
}

fn action_of<'a>(plan: &'a serde_json::Value, list: &str, device: &str) -> &'a serde_json::Value {
    plan[list]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["device_id"] == device)
        .unwrap_or_else(|| panic!("{device} not in {list}: {plan}"))
}

/// Drafts come from the budget-optimal planner (`camtrace plan`): costed actions, and with a
/// budget the selection that removes the most risk within it.
#[tokio::test]
async fn drafted_plans_use_the_budget_optimal_planner() {
    let f = fixture(sqlite_app().await).await;
    let draft = |extra: serde_json::Value| {
        let mut body = json!({"organisation": "orga-secret-a", "title": "t"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        post(&f.app, "/api/v1/plans", f.token("alice"), body)
    };
    // No budget: every action the findings ask for, costed.
    let all = draft(json!({})).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text());
    let all = all.json();
    let a = action_of(&all, "actions", "dev-secret-a");
    assert_eq!(a["action"], "remove_now", "{all}");
    assert!(a["cost"].as_u64().unwrap() > 0);
    assert!(a["rules"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r.as_str().unwrap().starts_with("uk-2022-sensitive-sites/")));
    assert!(all["waiting"].as_array().unwrap().is_empty());
    let sum = &all["summary"];
    assert_eq!(sum["currency"], "GBP");
    assert!(sum["budget"].is_null());
    let spent: u64 = all["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["cost"].as_u64().unwrap())
        .sum();
    let full_cost = sum["total_cost"].as_u64().unwrap();
    assert!(full_cost >= spent, "site overheads come on top: {sum}");
    // A budget below the removal: the planner picks the cheaper action that fits (one action
    // per finding could not), and stays within the budget.
    let budget = full_cost - 1;
    let part = draft(json!({"budget": budget, "period": "2026-27"})).await;
    assert_eq!(part.status, StatusCode::OK, "{}", part.text());
    let part = part.json();
    let sum = &part["summary"];
    assert_eq!(sum["budget"], budget);
    assert_eq!(sum["period"], "2026-27");
    assert_eq!(sum["exact"], true);
    assert!(
        sum["method"].as_str().unwrap().starts_with("exact"),
        "{sum}"
    );
    assert!(sum["total_cost"].as_u64().unwrap() <= budget, "{sum}");
    assert_eq!(
        action_of(&part, "actions", "dev-secret-a")["action"],
        "disconnect_now",
        "{part}"
    );
    assert!(
        sum["risk_removed"].as_f64().unwrap() < all["summary"]["risk_removed"].as_f64().unwrap()
    );
    // Nothing affordable: the device waits, with the reason.
    let none = draft(json!({"budget": 0})).await.json();
    assert!(none["actions"].as_array().unwrap().is_empty(), "{none}");
    let w = action_of(&none, "waiting", "dev-secret-a");
    assert!(
        w["wait_reason"]
            .as_str()
            .unwrap()
            .contains("not selected within the budget"),
        "{w}"
    );
    assert_eq!(none["summary"]["total_cost"], 0);
    // Greedy on request; stored and read back as drafted.
    let g = draft(json!({"budget": budget, "method": "greedy"}))
        .await
        .json();
    assert_eq!(g["summary"]["exact"], false, "{g}");
    let back = get(
        &f.app,
        &format!("/api/v1/plans/{}", part["id"].as_str().unwrap()),
        f.token("victor"),
    )
    .await
    .json();
    assert_eq!(back["summary"], part["summary"]);
    assert_eq!(back["actions"], part["actions"]);
    // Planner settings with explicit actions are refused; unknown regimes too.
    let r = draft(json!({"budget": 10, "actions": []})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let r = draft(json!({"regimes": ["no-such-regime"]})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    // Plans stored before the planner (a bare array of actions) still read.
    f.app
        .store
        .create_plan(
            &camtrace_store::PlanRow {
                id: "old-plan".into(),
                organisation: "orga-secret-a".into(),
                title: "old".into(),
                body: json!([{"device_id": "dev-secret-a", "site_id": "site-secret-a", "action": "remove_by", "rules": ["uk-2022-sensitive-sites/remove-by-2025-04"], "due": "2025-04-30"}]).to_string(),
                status: "draft".into(),
                due_on: None,
                created_by: "alice".into(),
                created_at: "2026-01-01T00:00:00Z".into(),
                decided_by: None,
                decided_at: None,
            },
            &camtrace_store::NewHistory {
                actor: "alice".into(),
                action: "plan_create".into(),
                entity_kind: "plan".into(),
                entity_id: "old-plan".into(),
                before: None,
                after: None,
            },
        )
        .await
        .unwrap();
    let old = get(&f.app, "/api/v1/plans/old-plan", f.token("victor")).await;
    assert_eq!(old.status, StatusCode::OK, "{}", old.text());
    let old = old.json();
    assert_eq!(old["actions"][0]["action"], "remove_by");
    assert!(old["summary"].is_null() && old["waiting"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn quote_check_names_the_true_maker() {
    let f = fixture(sqlite_app().await).await;
    let quote = "supplier,brand,model,quantity,site\nAcme,HiLook,IPC-B140H,4,site-b\nAcme,Axis,P3245-LVE,2,site-b\n";
    let r = post_raw(
        &f.app,
        "/api/v1/quotes/check",
        f.token("bob"),
        "text/csv",
        quote,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let j = r.json();
    assert_eq!(j["lines"].as_array().unwrap().len(), 2);
    assert!(
        j["blocked"].as_u64().unwrap() + j["inquiry"].as_u64().unwrap() >= 1,
        "{j}"
    );
}

#[tokio::test]
async fn users_grants_and_webhooks_are_admin_only() {
    let f = fixture(sqlite_app().await).await;
    let r = post(
        &f.app,
        "/api/v1/users",
        f.token("bob"),
        json!({"username": "carol", "password": "carol-password-1"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = post_ok(
        &f.app,
        "/api/v1/users",
        f.token("root"),
        json!({"username": "carol", "password": "carol-password-1"}),
    )
    .await;
    let carol = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(
        post_status(
            &f.app,
            "/api/v1/users",
            f.token("root"),
            json!({"username": "carol", "password": "carol-password-1"})
        )
        .await,
        StatusCode::CONFLICT
    );
    assert_eq!(
        post_status(
            &f.app,
            "/api/v1/users",
            f.token("root"),
            json!({"username": "dan", "password": "short"})
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    // Bob administers orgb only.
    post_ok(
        &f.app,
        &format!("/api/v1/users/{carol}/grants"),
        f.token("bob"),
        json!({"organisation": "orgb", "role": "viewer"}),
    )
    .await;
    assert_eq!(
        post_status(
            &f.app,
            &format!("/api/v1/users/{carol}/grants"),
            f.token("bob"),
            json!({"organisation": "orga-secret-a", "role": "admin"})
        )
        .await,
        StatusCode::NOT_FOUND
    );
    let users = get(&f.app, "/api/v1/users", f.token("bob")).await.json();
    let names: Vec<&str> = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bob", "carol"]);
    assert_eq!(
        get_status(&f.app, "/api/v1/users", f.token("alice")).await,
        StatusCode::FORBIDDEN
    );

    let h = post_ok(
        &f.app,
        "/api/v1/webhooks",
        f.token("bob"),
        json!({"url": "http://127.0.0.1:9/hook", "organisation": "orgb"}),
    )
    .await;
    let hid = h.json()["webhook"]["id"].as_str().unwrap().to_string();
    assert!(h.json()["secret"].as_str().unwrap().len() >= 40);
    assert_eq!(
        post_status(
            &f.app,
            "/api/v1/webhooks",
            f.token("bob"),
            json!({"url": "http://127.0.0.1:9/hook"})
        )
        .await,
        StatusCode::FORBIDDEN,
        "global hooks need the central admin"
    );
    assert_eq!(
        post_status(
            &f.app,
            "/api/v1/webhooks",
            f.token("root"),
            json!({"url": "ftp://x"})
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    let list = get(&f.app, "/api/v1/webhooks", f.token("bob")).await.json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(list[0].get("secret").is_none(), "secrets are not listed");
    assert_eq!(
        get_status(
            &f.app,
            &format!("/api/v1/webhooks/{hid}/deliveries"),
            f.token("bob")
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        get_status(
            &f.app,
            &format!("/api/v1/webhooks/{hid}/deliveries"),
            f.token("alice")
        )
        .await,
        StatusCode::NOT_FOUND
    );

    // Password change ends sessions and needs the current password.
    assert_eq!(
        post_status(
            &f.app,
            "/api/v1/me/password",
            f.token("alice"),
            json!({"current": "wrong", "new": "alice-new-password"})
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post_status(
            &f.app,
            "/api/v1/me/password",
            f.token("alice"),
            json!({"current": "alice-password-123", "new": "alice-new-password"})
        )
        .await,
        StatusCode::NO_CONTENT
    );
    let r = login(&f.app, "alice", "alice-new-password").await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn audit_log_exports_and_verifies() {
    let f = fixture(sqlite_app().await).await;
    let v = get(&f.app, "/api/v1/audit/verify", f.token("victor"))
        .await
        .json();
    assert_eq!(v["ok"], true);
    assert!(v["entries"].as_u64().unwrap() > 5);
    let j = get(
        &f.app,
        "/api/v1/audit?entity_kind=device&limit=2",
        f.token("root"),
    )
    .await
    .json();
    assert_eq!(j.as_array().unwrap().len(), 2);
    assert_eq!(
        get_status(&f.app, "/api/v1/audit?format=xml", f.token("root")).await,
        StatusCode::BAD_REQUEST
    );
    // No endpoint changes the audit log.
    for m in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
        let r = call(
            &f.app,
            m.clone(),
            "/api/v1/audit",
            Some(f.token("root")),
            Some(json!({})),
        )
        .await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{m}");
    }
}

/// Issue 16: `GET /api/v1/devices?maker=` matched the declared maker only, so a HiLook camera
/// registered without a maker was not a Hikvision device to the API while `camtrace devices`
/// and the dashboard said it was. The API now filters on the attributed maker, pages through
/// non-matching devices, and gives each device its `attributed_maker`.
#[tokio::test]
async fn devices_api_maker_filter_reads_the_attributed_maker() {
    let f = fixture(sqlite_app().await).await;
    let root = f.token("root");
    for (id, maker, brand) in [
        ("m-1-hilook", None, "hilook"),
        ("m-2-axis", Some("axis"), "axis"),
        ("m-3-axis", Some("axis"), "axis"),
        ("m-4-hilook", None, "HiLook"),
    ] {
        let mut d = device(id, "site-b", "x", brand);
        d.maker = maker.map(String::from);
        d.model = None;
        post_ok(
            &f.app,
            "/api/v1/devices",
            root,
            serde_json::to_value(d).unwrap(),
        )
        .await;
    }
    let ids = |page: &serde_json::Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_string())
            .collect()
    };
    let all = get(&f.app, "/api/v1/devices?maker=hikvision&site=site-b", root)
        .await
        .json();
    let all_ids = ids(&all);
    assert!(
        all_ids.contains(&"m-1-hilook".to_string()) && all_ids.contains(&"m-4-hilook".to_string()),
        "{all}"
    );
    assert!(!all_ids.iter().any(|i| i.contains("axis")), "{all}");
    let hilook = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "m-1-hilook")
        .unwrap();
    assert_eq!(hilook["attributed_maker"], "hikvision");
    assert!(
        hilook["maker"].is_null(),
        "the register's blank stays blank"
    );
    // One device a page: the pages, walked by cursor, give the same devices, and the cursor
    // skips the Axis devices in between.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let url = match &cursor {
            None => "/api/v1/devices?maker=hikvision&site=site-b&limit=1".to_string(),
            Some(c) => format!("/api/v1/devices?maker=hikvision&site=site-b&limit=1&cursor={c}"),
        };
        let p = get(&f.app, &url, root).await.json();
        assert!(p["items"].as_array().unwrap().len() <= 1, "{p}");
        paged.extend(ids(&p));
        match p["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(paged, all_ids);
    // A declared maker still matches, by name or id in any case.
    let axis = get(&f.app, "/api/v1/devices?maker=AXIS&site=site-b", root)
        .await
        .json();
    let axis = ids(&axis);
    assert!(
        axis.contains(&"m-2-axis".to_string()) && axis.contains(&"m-3-axis".to_string()),
        "{axis:?}"
    );
    assert!(!axis.iter().any(|i| i.contains("hilook")), "{axis:?}");
}
