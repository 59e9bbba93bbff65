//! The access-control matrix: a user of organisation B (admin there) can neither read nor
//! change anything of organisation A through any endpoint, lists, filters, search and exports
//! included. Runs on SQLite and, when `CAMTRACE_TEST_POSTGRES` is set, on PostgreSQL.
//!
//! Every id of organisation A contains the marker `secret-a`; no response to B may contain it.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const MARK: &str = "secret-a";

struct Case {
    template: &'static str,
    method: Method,
    path: String,
    body: Option<Value>,
}

fn case(
    template: &'static str,
    method: Method,
    path: impl Into<String>,
    body: Option<Value>,
) -> Case {
    Case {
        template,
        method,
        path: path.into(),
        body,
    }
}

async fn snapshot_a(f: &Fixture) -> Value {
    let root = f.token("root");
    let mut out = serde_json::Map::new();
    for p in [
        "/api/v1/organisations/orga-secret-a",
        "/api/v1/organisations/orga-sub-secret-a",
        "/api/v1/organisations/orgb",
        "/api/v1/sites/site-secret-a",
        "/api/v1/zones?site=site-secret-a",
        "/api/v1/networks?site=site-secret-a",
        "/api/v1/devices?organisation=orga-secret-a",
        "/api/v1/waivers?include_revoked=true",
        "/api/v1/waiver-requests",
        "/api/v1/plans",
        "/api/v1/users",
        "/api/v1/tokens",
        "/api/v1/webhooks",
        "/api/v1/agents?revoked=true",
    ] {
        let r = get(&f.app, p, root).await;
        assert_eq!(r.status, StatusCode::OK, "{p}: {}", r.text());
        out.insert(p.to_string(), r.json());
    }
    Value::Object(out)
}

async fn matrix(app: camtrace_server::App) {
    let f = fixture(app).await;
    let app = &f.app;
    // Organisation A's decisions and settings, made by its own people.
    let exp = (chrono::Utc::now().date_naive() + chrono::Duration::days(30)).to_string();
    let r1 = post(
        app,
        "/api/v1/waiver-requests",
        f.token("alice"),
        json!({"device_id": "dev-secret-a", "rule_id": "uk-2022-sensitive-sites/consider-removal", "reason": "r", "expires_on": exp}),
    )
    .await;
    let req_pending = r1.json()["id"].as_str().unwrap().to_string();
    let r2 = post(app, "/api/v1/waiver-requests", f.token("alice"), json!({"device_id": "dev-sub-secret-a", "rule_id": "uk-2022-sensitive-sites/remove-by-2025-04", "reason": "r", "expires_on": exp})).await;
    let req2 = r2.json()["id"].as_str().unwrap().to_string();
    assert_eq!(
        post_status(
            app,
            &format!("/api/v1/waiver-requests/{req2}/decision"),
            f.token("anne"),
            json!({"approve": true})
        )
        .await,
        StatusCode::OK
    );
    let waiver_a = format!("w-{req2}");
    let plan = post_ok(
        app,
        "/api/v1/plans",
        f.token("alice"),
        json!({"organisation": "orga-secret-a", "title": "A plan"}),
    )
    .await;
    let plan_a = plan.json()["id"].as_str().unwrap().to_string();
    let hook = post(
        app,
        "/api/v1/webhooks",
        f.token("root"),
        json!({"url": "http://127.0.0.1:9/a", "organisation": "orga-secret-a"}),
    )
    .await;
    let hook_a = hook.json()["webhook"]["id"].as_str().unwrap().to_string();
    let alice_tokens = get(app, "/api/v1/tokens", f.token("alice")).await.json();
    let token_a = alice_tokens[0]["id"].as_str().unwrap().to_string();
    let alice = f.user_ids["alice"].clone();
    let bob = f.user_ids["bob"].clone();
    // Bob's own organisation has data too, so lists are not trivially empty.
    assert_eq!(
        post_status(
            app,
            "/api/v1/plans",
            f.token("bob"),
            json!({"organisation": "orgb", "title": "B plan"})
        )
        .await,
        StatusCode::OK
    );

    // A site agent of A (issue 15), enrolled by A's administrator.
    let enrolment = post(
        app,
        "/api/v1/agents/enrolments",
        f.token("root"),
        json!({"site": "site-secret-a", "name": "agent-secret-a"}),
    )
    .await;
    assert_eq!(
        enrolment.status,
        StatusCode::CREATED,
        "{}",
        enrolment.text()
    );
    let enrolled = call(
        app,
        Method::POST,
        "/api/v1/agents/enrol",
        None,
        Some(json!({"token": enrolment.json()["token"]})),
    )
    .await
    .json();
    let agent_a = enrolled["agent_id"].as_str().unwrap().to_string();

    let before = snapshot_a(&f).await;
    let dev_a = serde_json::to_value(device("dev-secret-a", "site-b", "axis", "axis")).unwrap();
    let new_dev_a =
        serde_json::to_value(device("dev-new", "site-secret-a", "axis", "axis")).unwrap();

    // Reads of A's things: refused (404, nothing disclosed). The metrics span every
    // organisation: an organisation admin's token (without the metrics:read scope) gets 403.
    let denied_reads = vec![
        case(
            "/api/v1/agents",
            Method::GET,
            "/api/v1/agents?organisation=orga-secret-a",
            None,
        ),
        case("/metrics", Method::GET, "/metrics", None),
        // The access log (every organisation's sign-ins): central administrators only.
        case(
            "/api/v1/access-log",
            Method::GET,
            "/api/v1/access-log",
            None,
        ),
        case(
            "/api/v1/organisations/{id}",
            Method::GET,
            "/api/v1/organisations/orga-secret-a",
            None,
        ),
        case(
            "/api/v1/organisations/{id}",
            Method::GET,
            "/api/v1/organisations/orga-sub-secret-a",
            None,
        ),
        case(
            "/api/v1/sites/{id}",
            Method::GET,
            "/api/v1/sites/site-secret-a",
            None,
        ),
        case(
            "/api/v1/sites",
            Method::GET,
            "/api/v1/sites?organisation=orga-secret-a",
            None,
        ),
        case(
            "/api/v1/zones",
            Method::GET,
            "/api/v1/zones?site=site-secret-a",
            None,
        ),
        case(
            "/api/v1/networks",
            Method::GET,
            "/api/v1/networks?site=site-secret-a",
            None,
        ),
        case(
            "/api/v1/devices/{id}",
            Method::GET,
            "/api/v1/devices/dev-secret-a",
            None,
        ),
        case(
            "/api/v1/devices",
            Method::GET,
            "/api/v1/devices?site=site-secret-a",
            None,
        ),
        case(
            "/api/v1/devices",
            Method::GET,
            "/api/v1/devices?organisation=orga-secret-a",
            None,
        ),
        case(
            "/api/v1/scans",
            Method::GET,
            "/api/v1/scans?site=site-secret-a",
            None,
        ),
        case(
            "/api/v1/observations",
            Method::GET,
            "/api/v1/observations?site=site-secret-a",
            None,
        ),
        case(
            "/api/v1/findings",
            Method::GET,
            "/api/v1/findings?organisation=orga-secret-a",
            None,
        ),
        case(
            "/api/v1/findings",
            Method::GET,
            "/api/v1/findings?site=site-secret-a",
            None,
        ),
        case(
            "/api/v1/findings",
            Method::GET,
            "/api/v1/findings?device=dev-secret-a",
            None,
        ),
        case(
            "/api/v1/findings",
            Method::GET,
            "/api/v1/findings?organisation=gov",
            None,
        ),
        case(
            "/api/v1/devices",
            Method::GET,
            "/api/v1/devices?organisation=gov",
            None,
        ),
        case(
            "/api/v1/waivers",
            Method::GET,
            "/api/v1/waivers?device=dev-secret-a",
            None,
        ),
        case(
            "/api/v1/plans/{id}",
            Method::GET,
            format!("/api/v1/plans/{plan_a}"),
            None,
        ),
        case(
            "/api/v1/reports/findings",
            Method::GET,
            "/api/v1/reports/findings?organisation=orga-secret-a",
            None,
        ),
        case(
            "/api/v1/reports/estate",
            Method::GET,
            "/api/v1/reports/estate?organisation=orga-secret-a",
            None,
        ),
        case(
            "/api/v1/webhooks/{id}/deliveries",
            Method::GET,
            format!("/api/v1/webhooks/{hook_a}/deliveries"),
            None,
        ),
    ];
    // Lists, search, exports: allowed, but nothing of A in them.
    let clean_lists = vec![
        case("/api/v1/agents", Method::GET, "/api/v1/agents", None),
        case(
            "/api/v1/agents",
            Method::GET,
            "/api/v1/agents?site=site-secret-a&revoked=true",
            None,
        ),
        case(
            "/api/v1/organisations",
            Method::GET,
            "/api/v1/organisations?limit=1000",
            None,
        ),
        case(
            "/api/v1/sites",
            Method::GET,
            "/api/v1/sites?limit=1000",
            None,
        ),
        case("/api/v1/sites", Method::GET, "/api/v1/sites?q=secret", None),
        case("/api/v1/zones", Method::GET, "/api/v1/zones", None),
        case("/api/v1/networks", Method::GET, "/api/v1/networks", None),
        case(
            "/api/v1/devices",
            Method::GET,
            "/api/v1/devices?limit=1000",
            None,
        ),
        case(
            "/api/v1/devices",
            Method::GET,
            "/api/v1/devices?maker=hikvision&sensitive=true",
            None,
        ),
        case(
            "/api/v1/devices",
            Method::GET,
            "/api/v1/devices?q=secret",
            None,
        ),
        case(
            "/api/v1/devices",
            Method::GET,
            "/api/v1/devices?cursor=a",
            None,
        ),
        case("/api/v1/scans", Method::GET, "/api/v1/scans", None),
        case(
            "/api/v1/findings",
            Method::GET,
            "/api/v1/findings?limit=1000",
            None,
        ),
        case(
            "/api/v1/waivers",
            Method::GET,
            "/api/v1/waivers?include_revoked=true",
            None,
        ),
        case(
            "/api/v1/waiver-requests",
            Method::GET,
            "/api/v1/waiver-requests",
            None,
        ),
        case("/api/v1/plans", Method::GET, "/api/v1/plans", None),
        case(
            "/api/v1/reports/findings",
            Method::GET,
            "/api/v1/reports/findings",
            None,
        ),
        case(
            "/api/v1/reports/findings",
            Method::GET,
            "/api/v1/reports/findings?format=json",
            None,
        ),
        case(
            "/api/v1/reports/estate",
            Method::GET,
            "/api/v1/reports/estate",
            None,
        ),
        case(
            "/api/v1/reports/estate",
            Method::GET,
            "/api/v1/reports/estate?format=json",
            None,
        ),
        case(
            "/api/v1/audit",
            Method::GET,
            "/api/v1/audit?limit=100000",
            None,
        ),
        case(
            "/api/v1/audit",
            Method::GET,
            "/api/v1/audit?format=jsonl&entity_kind=device",
            None,
        ),
        case(
            "/api/v1/audit/verify",
            Method::GET,
            "/api/v1/audit/verify",
            None,
        ),
        case(
            "/api/v1/search",
            Method::GET,
            "/api/v1/search?q=secret",
            None,
        ),
        case("/api/v1/search", Method::GET, "/api/v1/search?q=a", None),
        case("/api/v1/users", Method::GET, "/api/v1/users", None),
        case("/api/v1/tokens", Method::GET, "/api/v1/tokens", None),
        case("/api/v1/webhooks", Method::GET, "/api/v1/webhooks", None),
        case("/api/v1/me", Method::GET, "/api/v1/me", None),
    ];
    // Changes to A: refused (403 or 404), and nothing changes.
    let denied_writes = vec![
        case(
            "/api/v1/agents/enrolments",
            Method::POST,
            "/api/v1/agents/enrolments",
            Some(json!({"site": "site-secret-a", "name": "mole"})),
        ),
        case(
            "/api/v1/agents/{id}/revoke",
            Method::POST,
            format!("/api/v1/agents/{agent_a}/revoke"),
            None,
        ),
        case(
            "/api/v1/organisations",
            Method::POST,
            "/api/v1/organisations",
            Some(json!({"id": "orga-secret-a", "name": "hacked", "parent": "gov"})),
        ),
        case(
            "/api/v1/organisations",
            Method::POST,
            "/api/v1/organisations",
            Some(json!({"id": "orgb-child", "name": "x", "parent": "orga-secret-a"})),
        ),
        case(
            "/api/v1/organisations",
            Method::POST,
            "/api/v1/organisations",
            Some(json!({"id": "orgb", "name": "B", "parent": "orga-secret-a"})),
        ),
        case(
            "/api/v1/organisations",
            Method::POST,
            "/api/v1/organisations",
            Some(json!({"id": "orga-sub-secret-a", "name": "moved", "parent": "orgb"})),
        ),
        case(
            "/api/v1/sites",
            Method::POST,
            "/api/v1/sites",
            Some(json!({"id": "site-secret-a", "organisation": "orgb", "name": "stolen"})),
        ),
        case(
            "/api/v1/sites",
            Method::POST,
            "/api/v1/sites",
            Some(json!({"id": "site-new", "organisation": "orga-secret-a", "name": "planted"})),
        ),
        case(
            "/api/v1/zones",
            Method::POST,
            "/api/v1/zones",
            Some(json!({"id": "zone-secret-a", "site": "site-b", "name": "stolen"})),
        ),
        case(
            "/api/v1/zones",
            Method::POST,
            "/api/v1/zones",
            Some(json!({"id": "zone-new", "site": "site-secret-a", "name": "planted"})),
        ),
        case(
            "/api/v1/networks",
            Method::POST,
            "/api/v1/networks",
            Some(json!({"id": "net-secret-a", "site": "site-b", "name": "stolen"})),
        ),
        case(
            "/api/v1/networks",
            Method::POST,
            "/api/v1/networks",
            Some(json!({"id": "net-new", "site": "site-secret-a", "name": "planted"})),
        ),
        case(
            "/api/v1/devices",
            Method::POST,
            "/api/v1/devices",
            Some(dev_a.clone()),
        ),
        case(
            "/api/v1/devices",
            Method::POST,
            "/api/v1/devices",
            Some(new_dev_a.clone()),
        ),
        case(
            "/api/v1/devices/{id}/status",
            Method::POST,
            "/api/v1/devices/dev-secret-a/status",
            Some(json!({"status": "removed"})),
        ),
        case(
            "/api/v1/import",
            Method::POST,
            "/api/v1/import",
            Some(json!({"devices": [dev_a.clone()]})),
        ),
        case(
            "/api/v1/import",
            Method::POST,
            "/api/v1/import",
            Some(
                json!({"sites": [{"id": "site-secret-a", "organisation": "orgb", "name": "stolen"}]}),
            ),
        ),
        case(
            "/api/v1/import",
            Method::POST,
            "/api/v1/import",
            Some(
                json!({"organisations": [{"id": "orgx", "name": "x", "parent": "orga-secret-a"}]}),
            ),
        ),
        // Every row of a batch passes the rule of the single-item endpoint, for the row as
        // stored (A's) as well as the row as it will be (on B's site): issue 11, finding 1.
        case(
            "/api/v1/import",
            Method::POST,
            "/api/v1/import",
            Some(json!({"zones": [{"id": "zone-secret-a", "site": "site-b", "name": "stolen"}]})),
        ),
        case(
            "/api/v1/import",
            Method::POST,
            "/api/v1/import",
            Some(
                json!({"networks": [{"id": "net-secret-a", "site": "site-b", "name": "stolen", "cidrs": ["127.0.9.0/24"], "core": false}]}),
            ),
        ),
        case(
            "/api/v1/import",
            Method::POST,
            "/api/v1/import",
            Some(
                json!({"organisations": [{"id": "orga-sub-secret-a", "name": "moved", "parent": "orgb"}]}),
            ),
        ),
        case(
            "/api/v1/import",
            Method::POST,
            "/api/v1/import",
            Some(
                json!({"zones": [{"id": "zone-new", "site": "site-secret-a", "name": "planted"}], "networks": [{"id": "net-new", "site": "site-secret-a", "name": "planted", "cidrs": [], "core": true}]}),
            ),
        ),
        case(
            "/api/v1/waiver-requests",
            Method::POST,
            "/api/v1/waiver-requests",
            Some(
                json!({"device_id": "dev-secret-a", "rule_id": "uk-2022-sensitive-sites/consider-removal", "reason": "r", "expires_on": exp}),
            ),
        ),
        case(
            "/api/v1/waiver-requests/{id}/decision",
            Method::POST,
            format!("/api/v1/waiver-requests/{req_pending}/decision"),
            Some(json!({"approve": true})),
        ),
        case(
            "/api/v1/waivers/{id}/revoke",
            Method::POST,
            format!("/api/v1/waivers/{waiver_a}/revoke"),
            Some(json!({"reason": "x"})),
        ),
        case(
            "/api/v1/plans",
            Method::POST,
            "/api/v1/plans",
            Some(json!({"organisation": "orga-secret-a", "title": "x"})),
        ),
        case(
            "/api/v1/plans",
            Method::POST,
            "/api/v1/plans",
            Some(
                json!({"organisation": "orgb", "title": "x", "actions": [{"device_id": "dev-secret-a", "site_id": "site-secret-a", "action": "remove_by", "rules": [], "due": null}]}),
            ),
        ),
        case(
            "/api/v1/plans/{id}/decision",
            Method::POST,
            format!("/api/v1/plans/{plan_a}/decision"),
            Some(json!({"approve": false})),
        ),
        case(
            "/api/v1/users/{id}/grants",
            Method::POST,
            format!("/api/v1/users/{bob}/grants"),
            Some(json!({"organisation": "orga-secret-a", "role": "admin"})),
        ),
        case(
            "/api/v1/users/{id}/grants",
            Method::POST,
            format!("/api/v1/users/{alice}/grants"),
            Some(json!({"organisation": "orga-secret-a", "role": null})),
        ),
        case(
            "/api/v1/users",
            Method::POST,
            "/api/v1/users",
            Some(
                json!({"username": "mole", "password": "mole-password-1", "central_role": "viewer"}),
            ),
        ),
        case(
            "/api/v1/webhooks",
            Method::POST,
            "/api/v1/webhooks",
            Some(json!({"url": "http://127.0.0.1:9/x", "organisation": "orga-secret-a"})),
        ),
        case(
            "/api/v1/webhooks",
            Method::POST,
            "/api/v1/webhooks",
            Some(json!({"url": "http://127.0.0.1:9/x"})),
        ),
        case(
            "/api/v1/tokens/{id}",
            Method::DELETE,
            format!("/api/v1/tokens/{token_a}"),
            None,
        ),
        case(
            "/api/v1/webhooks/{id}/active",
            Method::POST,
            format!("/api/v1/webhooks/{hook_a}/active"),
            Some(json!({"active": false})),
        ),
        case(
            "/api/v1/webhooks/{id}",
            Method::DELETE,
            format!("/api/v1/webhooks/{hook_a}"),
            None,
        ),
        case(
            "/api/v1/users/{id}/disabled",
            Method::POST,
            format!("/api/v1/users/{alice}/disabled"),
            Some(json!({"disabled": true})),
        ),
        case(
            "/api/v1/users/{id}/central-role",
            Method::POST,
            format!("/api/v1/users/{bob}/central-role"),
            Some(json!({"central_role": "admin"})),
        ),
        case(
            "/api/v1/users/{id}",
            Method::DELETE,
            format!("/api/v1/users/{alice}"),
            None,
        ),
    ];
    // Endpoints that act on the caller only: they work, and disclose nothing of A.
    let own = [
        case(
            "/api/v1/quotes/check",
            Method::POST,
            "/api/v1/quotes/check",
            None,
        ),
        case(
            "/api/v1/tokens",
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"name": "x", "scope": "read"})),
        ),
        case(
            "/api/v1/auth/login",
            Method::POST,
            "/api/v1/auth/login",
            Some(json!({"username": "bob", "password": "bob-password-123"})),
        ),
        case(
            "/api/v1/auth/logout",
            Method::POST,
            "/api/v1/auth/logout",
            None,
        ),
        // Last: a password change revokes the caller's API tokens (issue 11, finding 15).
        case(
            "/api/v1/me/password",
            Method::POST,
            "/api/v1/me/password",
            Some(json!({"current": "bob-password-123", "new": "bob-password-456"})),
        ),
    ];

    let bob_t = f.token("bob").to_string();
    let mut covered = BTreeSet::new();
    for c in &denied_reads {
        let r = call(app, c.method.clone(), &c.path, Some(&bob_t), c.body.clone()).await;
        assert!(
            matches!(r.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
            "{} {}: {} {}",
            c.method,
            c.path,
            r.status,
            r.text()
        );
        assert!(
            !r.text().contains("Org orga") && !r.text().contains("Site site-secret"),
            "{}: {}",
            c.path,
            r.text()
        );
        covered.insert(c.template);
    }
    for c in &clean_lists {
        let r = call(app, c.method.clone(), &c.path, Some(&bob_t), c.body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{} {}: {}",
            c.method,
            c.path,
            r.text()
        );
        assert!(
            !r.text().contains(MARK),
            "{} {} leaks A: {}",
            c.method,
            c.path,
            r.text()
        );
        covered.insert(c.template);
    }
    for c in &denied_writes {
        let r = call(app, c.method.clone(), &c.path, Some(&bob_t), c.body.clone()).await;
        assert!(
            matches!(r.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
            "{} {} {:?}: {} {}",
            c.method,
            c.path,
            c.body,
            r.status,
            r.text()
        );
        // An error names only what the caller sent: never A's rows it did not name (issue
        // 11, finding 3: "site `…` not found" for a stored row's site).
        let sent = c.body.as_ref().map(Value::to_string).unwrap_or_default();
        for name in ["site-secret-a", "site-sub-secret-a", "orga-secret-a"] {
            assert!(
                sent.contains(name) || !r.text().contains(name),
                "{} {} discloses `{name}`: {}",
                c.method,
                c.path,
                r.text()
            );
        }
        covered.insert(c.template);
    }
    // Own-scope endpoints.
    let quote = "brand,model,quantity,site\nHikvision,DS-2CD2143G0-I,1,site-secret-a\n";
    let r = post_raw(app, "/api/v1/quotes/check", &bob_t, "text/csv", quote).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(
        !r.text().contains("Site site-secret-a") && !r.text().contains("orga-secret-a"),
        "quote check discloses A's site: {}",
        r.text()
    );
    for c in own.iter().skip(1) {
        let r = call(app, c.method.clone(), &c.path, Some(&bob_t), c.body.clone()).await;
        assert!(
            r.status.is_success() || r.status == StatusCode::FORBIDDEN,
            "{}: {} {}",
            c.path,
            r.status,
            r.text()
        );
        assert!(!r.text().contains(MARK), "{}: {}", c.path, r.text());
    }
    covered.extend(own.iter().map(|c| c.template));
    // Agent endpoints: a user's token is no agent credential (401), and a made-up enrolment
    // token enrols nothing.
    for (template, path, body) in [
        (
            "/api/v1/agents/heartbeat",
            "/api/v1/agents/heartbeat".to_string(),
            None,
        ),
        (
            "/api/v1/agents/batches/{batch_id}",
            format!("/api/v1/agents/batches/{}", "0".repeat(64)),
            None,
        ),
        (
            "/api/v1/agents/enrol",
            "/api/v1/agents/enrol".to_string(),
            Some(json!({"token": "not-a-token"})),
        ),
    ] {
        let r = call(app, Method::POST, &path, Some(&bob_t), body).await;
        assert!(
            r.status.is_client_error(),
            "{path}: {} {}",
            r.status,
            r.text()
        );
        if template != "/api/v1/agents/enrol" {
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}: {}", r.text());
        }
        covered.insert(template);
    }

    // Nothing of A changed.
    let after = snapshot_a(&f).await;
    for (k, v) in before.as_object().unwrap() {
        if k == "/api/v1/tokens" || k == "/api/v1/plans" {
            continue; // Bob's own new token / plan.
        }
        assert_eq!(v, &after[k], "{k} changed");
    }
    let tok = after["/api/v1/tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == token_a.as_str())
        .unwrap()
        .clone();
    assert!(tok["revoked_at"].is_null());
    assert_eq!(
        get(app, &format!("/api/v1/plans/{plan_a}"), f.token("root"))
            .await
            .json()["status"],
        "draft"
    );

    // Every endpoint of the API is in the matrix.
    let spec: Value = serde_json::from_str(&camtrace_server::api::openapi_json()).unwrap();
    let missing: Vec<&String> = spec["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|p| !covered.contains(p.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "endpoints missing from the access matrix: {missing:?}"
    );

    // The mirror image: A's viewer sees A but nothing of B's devices.
    let r = get(app, "/api/v1/devices?limit=1000", f.token("victor"))
        .await
        .json();
    let ids: Vec<&str> = r["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["dev-secret-a", "dev-sub-secret-a"]);
    // And the dashboard pages, for a browser session of B.
    let cookie = session_cookie(&login(app, "bob", "bob-password-456").await);
    for p in [
        "/",
        "/devices",
        "/findings",
        "/waivers",
        "/plans",
        "/devices?q=secret",
        "/audit",
    ] {
        let r = get_with_cookie(app, p, &cookie).await;
        assert_eq!(r.status, StatusCode::OK, "{p}: {}", r.text());
        assert!(!r.text().contains(MARK), "dashboard {p} leaks A");
    }
    for p in [
        "/devices/dev-secret-a".to_string(),
        format!("/plans/{plan_a}"),
        "/sites/site-secret-a".into(),
    ] {
        let r = get_with_cookie(app, &p, &cookie).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{p}");
        assert!(!r.text().contains("Site site-secret"), "{p}");
    }
}

#[tokio::test]
async fn organisation_b_cannot_touch_organisation_a_on_sqlite() {
    matrix(sqlite_app().await).await;
}

#[tokio::test]
#[cfg_attr(
    not(camtrace_has_postgres),
    ignore = "needs PostgreSQL: export CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh)"
)]
async fn organisation_b_cannot_touch_organisation_a_on_postgres() {
    let url = fresh_postgres("matrix").await;
    matrix(app_on(&url).await).await;
}
