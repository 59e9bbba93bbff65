//! What the server keeps in memory between requests never outlives a change: the organisation
//! tree is cached, but checked against the history head read with the credential on every
//! request; credentials, users and grants are read afresh every time. A second store handle on
//! the same database plays another process (another server, the CLI importing).
//!
//! Runs on a SQLite file and, when `CAMTRACE_TEST_POSTGRES` is set, on PostgreSQL.

mod common;

use axum::http::StatusCode;
use camtrace_model::Organisation;
use camtrace_store::RegisterBatch;
use common::*;
use serde_json::json;

fn org(id: &str, parent: &str) -> Organisation {
    Organisation {
        id: id.into(),
        name: format!("Org {id}"),
        parent: Some(parent.into()),
        kind: None,
        country: None,
    }
}

async fn freshness(url: &str) {
    let f = fixture(app_on(url).await).await;
    let other = camtrace_store::open(url).await.expect("second handle");
    let app = &f.app;
    let bob = f.token("bob");
    // Warm the cached tree.
    assert_eq!(
        get_status(app, "/api/v1/organisations/orgb", bob).await,
        StatusCode::OK
    );

    // An organisation created through the API is in the very next request's access checks.
    post_ok(
        app,
        "/api/v1/organisations",
        bob,
        json!({"id": "orgb-child", "name": "B child", "parent": "orgb"}),
    )
    .await;
    assert_eq!(
        get_status(app, "/api/v1/organisations/orgb-child", bob).await,
        StatusCode::OK
    );
    post_ok(
        app,
        "/api/v1/sites",
        bob,
        json!({"id": "site-b-child", "organisation": "orgb-child", "name": "B child site"}),
    )
    .await;

    // One written by another process through the store likewise, with no delay to wait out.
    other
        .apply_register(
            &RegisterBatch {
                organisations: vec![org("orgb-other", "orgb")],
                ..Default::default()
            },
            "cli",
        )
        .await
        .unwrap();
    assert_eq!(
        get_status(app, "/api/v1/organisations/orgb-other", bob).await,
        StatusCode::OK
    );
    // Moved out of Bob's organisation by the other process: Bob loses it at once, and cannot
    // take it back by writing it as if it were new (the check sees that it exists).
    other
        .upsert_organisation(&org("orgb-other", "gov"), "cli")
        .await
        .unwrap();
    assert_eq!(
        get_status(app, "/api/v1/organisations/orgb-other", bob).await,
        StatusCode::NOT_FOUND
    );
    let r = post(
        app,
        "/api/v1/organisations",
        bob,
        json!({"id": "orgb-other", "name": "mine", "parent": "orgb"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());

    // Findings are cached per history head too: a camera another process adds is in the next
    // findings page.
    let has = |v: &serde_json::Value, id: &str| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["device_id"] == id)
    };
    let before = get(app, "/api/v1/findings?organisation=orgb&limit=1000", bob)
        .await
        .json();
    assert!(has(&before, "dev-b"), "{before}");
    assert!(!has(&before, "dev-b-new"));
    other
        .upsert_device(
            &device("dev-b-new", "site-b", "hikvision", "hikvision"),
            "cli",
        )
        .await
        .unwrap();
    let after = get(app, "/api/v1/findings?organisation=orgb&limit=1000", bob)
        .await
        .json();
    assert!(has(&after, "dev-b-new"), "{after}");

    // A token revoked through the API fails on the very next request.
    let alice = f.token("alice");
    assert_eq!(get_status(app, "/api/v1/me", alice).await, StatusCode::OK);
    let alice_token = token_id(app, f.token("root"), "user_id", &f.user_ids["alice"]).await;
    assert_eq!(
        revoke_token(app, &alice_token, f.token("root")).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        get_status(app, "/api/v1/me", alice).await,
        StatusCode::UNAUTHORIZED
    );

    // A session ended by logging out fails on the very next request.
    let login = login(app, "bob", &password("bob")).await;
    assert_eq!(login.status, StatusCode::OK);
    let cookie = session_cookie(&login);
    let csrf = csrf_token(&login);
    assert_eq!(
        get_with_cookie(app, "/api/v1/me", &cookie).await.status,
        StatusCode::OK
    );
    let r = logout(app, &cookie, &csrf).await;
    assert!(r.status.is_success(), "{}", r.text());
    assert_eq!(
        get_with_cookie(app, "/api/v1/me", &cookie).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Changes made behind the server's back, straight in the database, count at once too: a
    // removed grant, a revoked token, a disabled user.
    let store = &*other;
    store
        .set_grant(&f.user_ids["bob"], "orgb", None, "test", None)
        .await
        .unwrap();
    assert_eq!(
        get_status(app, "/api/v1/organisations/orgb", bob).await,
        StatusCode::NOT_FOUND
    );
    let anne = f.token("anne");
    assert_eq!(get_status(app, "/api/v1/me", anne).await, StatusCode::OK);
    for t in store.list_tokens(Some(&f.user_ids["anne"])).await.unwrap() {
        store.revoke_token(&t.id, None).await.unwrap();
    }
    assert_eq!(
        get_status(app, "/api/v1/me", anne).await,
        StatusCode::UNAUTHORIZED
    );
    let victor = f.token("victor");
    assert_eq!(get_status(app, "/api/v1/me", victor).await, StatusCode::OK);
    camtrace_store::testing::mark_user_disabled(store, &f.user_ids["victor"])
        .await
        .unwrap();
    assert_eq!(
        get_status(app, "/api/v1/me", victor).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn changes_take_effect_on_the_next_request_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("fresh.db").display().to_string();
    freshness(&url).await;
}

#[tokio::test]
#[cfg_attr(
    not(camtrace_has_postgres),
    ignore = "needs PostgreSQL: export CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh)"
)]
async fn changes_take_effect_on_the_next_request_on_postgres() {
    let url = fresh_postgres("fresh").await;
    freshness(&url).await;
}
