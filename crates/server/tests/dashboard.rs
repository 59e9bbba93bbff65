//! The dashboard through the router: login form (double-submit CSRF), pages, form posts with
//! the session CSRF token, uploads.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;

fn cookie_of(r: &Resp, name: &str) -> String {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

fn hidden_csrf(html: &str) -> String {
    let i = html
        .find("name=\"csrf_token\" value=\"")
        .expect("csrf field")
        + 25;
    html[i..].split('"').next().unwrap().to_string()
}

async fn browser_login(app: &camtrace_server::App, user: &str) -> (String, String) {
    let page = send(app, Request::get("/login").body(Body::empty()).unwrap()).await;
    assert_eq!(page.status, StatusCode::OK);
    let pre = cookie_of(&page, "camtrace_login_csrf");
    let token = hidden_csrf(&page.text());
    let form = format!("username={user}&password={user}-password-123&csrf_token={token}");
    let r = post_with_cookie(app, "/login", &pre, FORM, form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let session = cookie_of(&r, "camtrace_session");
    let home = get_with_cookie(app, "/", &session).await;
    assert_eq!(home.status, StatusCode::OK);
    let csrf = hidden_csrf(&home.text());
    (session, csrf)
}

const FORM: &str = "application/x-www-form-urlencoded";

async fn form_post(app: &camtrace_server::App, path: &str, cookie: &str, form: &str) -> Resp {
    post_with_cookie(app, path, cookie, FORM, form.to_string()).await
}

#[tokio::test]
async fn login_form_needs_its_token_and_wrong_passwords_fail() {
    let f = fixture(sqlite_app().await).await;
    let r = send(&f.app, Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers["location"], "/login");
    let page = send(&f.app, Request::get("/login").body(Body::empty()).unwrap()).await;
    let pre = cookie_of(&page, "camtrace_login_csrf");
    let token = hidden_csrf(&page.text());
    // Without the matching cookie (a cross-site form) the login is refused.
    let r = send(
        &f.app,
        Request::post("/login")
            .header("content-type", FORM)
            .body(Body::from(format!(
                "username=alice&password=alice-password-123&csrf_token={token}"
            )))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = post_with_cookie(
        &f.app,
        "/login",
        &pre,
        FORM,
        format!("username=alice&password=wrong-password&csrf_token={token}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text().contains("Wrong user name or password"));
    assert!(
        r.text().contains("<label for=\"password\">"),
        "labelled inputs"
    );
}

#[tokio::test]
async fn pages_render_for_a_signed_in_user() {
    let f = fixture(sqlite_app().await).await;
    camtrace_server::alerts::check_once(&f.app).await.unwrap(); // records a progress point
    let (s, _) = browser_login(&f.app, "root").await;
    let home = get_with_cookie(&f.app, "/", &s).await.text();
    assert!(home.contains("Estate overview"));
    assert!(home.contains("restricted devices on sensitive sites"));
    assert!(home.contains("<svg class=\"chart\""), "progress chart");
    assert!(home.contains("Site site-b"), "sensitive site listed");
    let dev = get_with_cookie(&f.app, "/devices/dev-b", &s).await;
    assert_eq!(dev.status, StatusCode::OK);
    assert!(
        dev.text().contains("<ol class=\"reasons\">"),
        "findings with reasons"
    );
    for p in [
        "/devices",
        "/devices?q=b2",
        "/findings",
        "/findings?status=open",
        "/waivers",
        "/plans",
        "/quote",
        "/import",
        "/audit",
        "/sites/site-b",
    ] {
        let r = get_with_cookie(&f.app, p, &s).await;
        assert_eq!(r.status, StatusCode::OK, "{p}: {}", r.text());
        assert!(r.text().contains("<main id=\"main\""), "{p}");
    }
    assert!(get_with_cookie(&f.app, "/devices?q=b2", &s)
        .await
        .text()
        .contains("dev-b2"));
    assert_eq!(
        get_with_cookie(&f.app, "/devices/nope", &s).await.status,
        StatusCode::NOT_FOUND
    );
    let js = send(
        &f.app,
        Request::get("/assets/htmx.min.js")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(js.headers["content-type"], "text/javascript; charset=utf-8");
    assert!(js.text().contains("htmx"));
    let lic = send(
        &f.app,
        Request::get("/assets/htmx.LICENSE")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(lic.text().contains("Zero-Clause BSD"));
}

#[tokio::test]
async fn waiver_approval_and_plan_flow_through_forms() {
    let f = fixture(sqlite_app().await).await;
    let (alice, alice_csrf) = browser_login(&f.app, "alice").await;
    let dev = get_with_cookie(&f.app, "/devices/dev-secret-a", &alice)
        .await
        .text();
    assert!(dev.contains("Request waiver"), "editors can request");
    let i = dev.find("name=\"rule_id\" value=\"").unwrap() + 22;
    let rule = dev[i..].split('"').next().unwrap().to_string();
    let exp = (chrono::Utc::now().date_naive() + chrono::Duration::days(60)).to_string();
    let body = format!(
        "device_id=dev-secret-a&rule_id={}&reason=ordered&expires_on={exp}",
        rule.replace('/', "%2F")
    );
    assert_eq!(
        form_post(&f.app, "/waivers/request", &alice, &body)
            .await
            .status,
        StatusCode::FORBIDDEN,
        "no CSRF token"
    );
    let r = form_post(
        &f.app,
        "/waivers/request",
        &alice,
        &format!("{body}&csrf_token={alice_csrf}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());

    let (anne, anne_csrf) = browser_login(&f.app, "anne").await;
    let w = get_with_cookie(&f.app, "/waivers", &anne).await.text();
    let i = w.find("id=\"approve-").expect("approve button") + 12;
    let id = w[i..].split('"').next().unwrap().to_string();
    let r = form_post(
        &f.app,
        &format!("/waivers/requests/{id}/decision"),
        &anne,
        &format!("approve=true&note=ok&csrf_token={anne_csrf}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let w = get_with_cookie(&f.app, "/waivers?msg=waiver-approved", &anne)
        .await
        .text();
    assert!(w.contains("Waiver approved"));
    assert!(w.contains("in force"));

    let r = form_post(
        &f.app,
        "/plans",
        &alice,
        &format!("organisation=orga-secret-a&title=Removals&budget=&csrf_token={alice_csrf}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let loc = r.headers["location"]
        .to_str()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let page = get_with_cookie(&f.app, &loc, &alice).await.text();
    assert!(page.contains("Planned: GBP"), "{page}");
    // With a budget nothing fits: the plan lists what waits and why.
    let r = form_post(
        &f.app,
        "/plans",
        &alice,
        &format!("organisation=orga-secret-a&title=Lean&budget=0&csrf_token={alice_csrf}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let lean = r.headers["location"].to_str().unwrap().to_string();
    let page = get_with_cookie(&f.app, &lean, &alice).await.text();
    assert!(page.contains("(budget GBP 0)"), "{page}");
    assert!(page.contains("<h2>Waiting</h2>"), "{page}");
    assert!(page.contains("not selected within the budget"), "{page}");
    let r = form_post(
        &f.app,
        "/plans",
        &alice,
        &format!("organisation=orga-secret-a&title=Bad&budget=lots&csrf_token={alice_csrf}"),
    )
    .await;
    assert!(r.text().contains("budget: a whole number"), "{}", r.text());
    let r = form_post(
        &f.app,
        &format!("{loc}/decision"),
        &anne,
        &format!("approve=true&csrf_token={anne_csrf}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(get_with_cookie(&f.app, &loc, &anne)
        .await
        .text()
        .contains("<strong>approved</strong>"));

    // The report download works with the session cookie.
    let csv = get_with_cookie(&f.app, "/api/v1/reports/findings?format=csv", &anne).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.text().contains("waived"));
}

fn multipart(csrf: &str, file: &str) -> (String, String) {
    let b = "XBOUNDARYX";
    let body = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{csrf}\r\n--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\nContent-Type: application/octet-stream\r\n\r\n{file}\r\n--{b}--\r\n"
    );
    (format!("multipart/form-data; boundary={b}"), body)
}

#[tokio::test]
async fn quote_and_import_uploads() {
    let f = fixture(sqlite_app().await).await;
    let (bob, csrf) = browser_login(&f.app, "bob").await;
    let (ct, body) = multipart(
        &csrf,
        "brand,model,quantity,site\nHiLook,IPC-B140H,2,site-b\n",
    );
    let r = post_with_cookie(&f.app, "/quote", &bob, &ct, body).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains("Verdict"), "{}", r.text());
    let (ct, body) = multipart(
        &csrf,
        r#"{"devices":[{"id":"dev-up","site":"site-b","maker":"axis"}]}"#,
    );
    let r = post_with_cookie(&f.app, "/import", &bob, &ct, body).await;
    assert!(r.text().contains("Imported."), "{}", r.text());
    assert!(f.app.store.get_device("dev-up").await.unwrap().is_some());
    let (ct, body) = multipart("forged", "{}");
    let r = post_with_cookie(&f.app, "/import", &bob, &ct, body).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
