//! The server's tables through the store, on SQLite and PostgreSQL alike: a waiver decision is
//! one transaction (fault injection finds nothing half-done), accounts, and the access log
//! chained apart from the register history.

mod common;

use camtrace_model::*;
use camtrace_store::*;
use chrono::NaiveDate;

fn register() -> RegisterBatch {
    RegisterBatch {
        organisations: vec![Organisation {
            id: "org".into(),
            name: "Org".into(),
            parent: None,
            kind: None,
            country: Some("GB".into()),
        }],
        sites: vec![Site {
            id: "site".into(),
            organisation: "org".into(),
            name: "Site".into(),
            address: None,
            criteria: SensitivityCriteria::default(),
            classification: None,
            government_building: false,
            tags: Vec::new(),
        }],
        devices: vec![Device {
            id: "cam-1".into(),
            site: "site".into(),
            zone: None,
            network: None,
            brand: Some("hikvision".into()),
            maker: Some("hikvision".into()),
            model: None,
            firmware: None,
            class: DeviceClass::Camera,
            mac: None,
            addresses: vec!["127.0.0.1".into()],
            status: DeviceStatus::Installed,
            install_date: None,
            scheduled_upgrade: None,
            cost_device: None,
            cost_labour: None,
            confidence: None,
            notes: None,
        }],
        ..Default::default()
    }
}

fn entry(actor: &str, action: &str, id: &str) -> NewHistory {
    NewHistory {
        actor: actor.into(),
        action: action.into(),
        entity_kind: "waiver_request".into(),
        entity_id: id.into(),
        before: None,
        after: Some(serde_json::json!({"id": id})),
    }
}

fn request(id: &str) -> WaiverRequestRecord {
    WaiverRequestRecord {
        id: id.into(),
        device_id: "cam-1".into(),
        rule_id: "uk-2022-sensitive-sites/remove-by-2025-04".into(),
        reason: "replacement ordered".into(),
        expires_on: NaiveDate::from_ymd_opt(2027, 1, 31).unwrap(),
        requested_by: "alice".into(),
        requested_at: now_rfc3339(),
        status: "pending".into(),
        decided_by: None,
        decided_at: None,
        decision_note: None,
    }
}

fn approval(id: &str) -> RequestDecision {
    RequestDecision {
        request_id: id.into(),
        status: "approved".into(),
        decided_by: "anne".into(),
        decided_at: now_rfc3339(),
        note: Some("ok".into()),
        waiver: Some(Waiver {
            id: format!("w-{id}"),
            device_id: "cam-1".into(),
            rule_id: "uk-2022-sensitive-sites/remove-by-2025-04".into(),
            reason: "replacement ordered".into(),
            approver: "anne".into(),
            created_at: now_rfc3339(),
            expires_on: NaiveDate::from_ymd_opt(2027, 1, 31).unwrap(),
            revoked_at: None,
            revoked_by: None,
            revoke_reason: None,
        }),
        history: entry("anne", "waiver_approve", id),
    }
}

/// The second write of a decision (the waiver) fails: the request is still pending, there is
/// no waiver and no history entry of the decision; after the fault is gone the same decision
/// goes through whole, once.
async fn waiver_decision_is_all_or_nothing(store: Box<dyn Store>) {
    store.apply_register(&register(), "test").await.unwrap();
    store
        .create_waiver_request(&request("r1"), &entry("alice", "waiver_request", "r1"))
        .await
        .unwrap();
    let before = store.history(&HistoryFilter::default()).await.unwrap();
    let revision = store.register_revision().await.unwrap();

    testing::fail_inserts_into(&*store, "waivers")
        .await
        .unwrap();
    let err = store
        .decide_waiver_request(&approval("r1"))
        .await
        .expect_err("the waiver insert fails");
    assert!(
        err.to_string().contains("camtrace fault injection"),
        "{err}"
    );
    let r = store.get_waiver_request("r1").await.unwrap().unwrap();
    assert_eq!(r.status, "pending", "the request's update was rolled back");
    assert_eq!(r.decided_by, None);
    let waivers = WaiverFilter {
        include_revoked: true,
        ..Default::default()
    };
    assert!(store.list_waivers(&waivers).await.unwrap().is_empty());
    assert_eq!(
        store.history(&HistoryFilter::default()).await.unwrap(),
        before,
        "no history entry of a decision that did not happen"
    );
    assert_eq!(store.register_revision().await.unwrap(), revision);
    assert_eq!(store.verify_history().await.unwrap(), before.len() as u64);

    // The history insert failing (the third write) rolls back the first two as well.
    testing::heal_inserts_into(&*store, "waivers")
        .await
        .unwrap();
    testing::fail_inserts_into(&*store, "history")
        .await
        .unwrap();
    store
        .decide_waiver_request(&approval("r1"))
        .await
        .expect_err("the history insert fails");
    assert_eq!(
        store
            .get_waiver_request("r1")
            .await
            .unwrap()
            .unwrap()
            .status,
        "pending"
    );
    assert!(store.list_waivers(&waivers).await.unwrap().is_empty());
    testing::heal_inserts_into(&*store, "history")
        .await
        .unwrap();

    // Healed: the decision commits whole, with the waiver's and the decision's entries.
    store.decide_waiver_request(&approval("r1")).await.unwrap();
    let r = store.get_waiver_request("r1").await.unwrap().unwrap();
    assert_eq!(r.status, "approved");
    assert_eq!(r.decided_by.as_deref(), Some("anne"));
    assert_eq!(store.list_waivers(&waivers).await.unwrap().len(), 1);
    let after = store.history(&HistoryFilter::default()).await.unwrap();
    let new: Vec<&str> = after[before.len()..]
        .iter()
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(new, ["waiver_add", "waiver_approve"]);
    assert_eq!(store.verify_history().await.unwrap(), after.len() as u64);
    // Deciding again is a conflict and writes nothing.
    match store.decide_waiver_request(&approval("r1")).await {
        Err(StoreError::Conflict(m)) => assert!(m.contains("decided meanwhile"), "{m}"),
        other => panic!("a second decision must conflict: {other:?}"),
    }
    assert_eq!(
        store
            .history(&HistoryFilter::default())
            .await
            .unwrap()
            .len(),
        after.len()
    );
}

#[tokio::test]
async fn waiver_decision_is_all_or_nothing_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path().join("r.db").to_str().unwrap())
        .await
        .unwrap();
    waiver_decision_is_all_or_nothing(store).await;
}

#[tokio::test]
#[cfg_attr(
    not(camtrace_has_postgres),
    ignore = "needs PostgreSQL: export CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh)"
)]
async fn waiver_decision_is_all_or_nothing_on_postgres() {
    let url = common::fresh_postgres("fault").await;
    waiver_decision_is_all_or_nothing(open(&url).await.unwrap()).await;
}

/// Accounts: a user created with its history entry in one transaction; a taken name is a
/// conflict that writes nothing; disabling ends sessions and tokens.
async fn accounts(store: Box<dyn Store>) {
    let user = NewUser {
        id: "aa01".into(),
        username: "alice".into(),
        password_hash: "$argon2id$x".into(),
        central_role: None,
        created_at: now_rfc3339(),
    };
    let h = NewHistory {
        actor: "root".into(),
        action: "user_create".into(),
        entity_kind: "user".into(),
        entity_id: "alice".into(),
        before: None,
        after: None,
    };
    store.create_user(&user, Some(&h)).await.unwrap();
    let n = store.verify_history().await.unwrap();
    assert_eq!(n, 1);
    let again = NewUser {
        id: "aa02".into(),
        ..user.clone()
    };
    assert!(matches!(
        store.create_user(&again, Some(&h)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.verify_history().await.unwrap(), 1, "nothing written");
    assert_eq!(store.user_count().await.unwrap(), 1);
    store
        .set_grant("aa01", "org", Some("editor"), "root", None)
        .await
        .unwrap();
    let (u, hash) = store.user_for_login("alice").await.unwrap().unwrap();
    assert_eq!(hash, "$argon2id$x");
    assert_eq!(
        u.grants,
        [GrantRecord {
            organisation: "org".into(),
            role: "editor".into()
        }]
    );
    store
        .create_session(
            "s-hash",
            "aa01",
            "csrf",
            &now_rfc3339(),
            "2999-01-01T00:00:00Z",
        )
        .await
        .unwrap();
    let t = TokenRecord {
        id: "t1".into(),
        user_id: "aa01".into(),
        name: "ci".into(),
        scope: "write".into(),
        created_at: now_rfc3339(),
        expires_at: "2999-01-01T00:00:00Z".into(),
        revoked_at: None,
    };
    store.create_token(&t, "t-hash", None).await.unwrap();
    let c = store.session_caller("s-hash").await.unwrap().unwrap();
    assert_eq!(c.user.username, "alice");
    assert_eq!(
        c.register_revision,
        store.register_revision().await.unwrap()
    );
    assert!(matches!(
        store
            .token_caller("t-hash")
            .await
            .unwrap()
            .unwrap()
            .credential,
        CallerCredential::Token {
            revoked_at: None,
            ..
        }
    ));
    store.set_user_disabled("aa01", true, None).await.unwrap();
    assert!(store.session_caller("s-hash").await.unwrap().is_none());
    assert!(matches!(
        store
            .token_caller("t-hash")
            .await
            .unwrap()
            .unwrap()
            .credential,
        CallerCredential::Token {
            revoked_at: Some(_),
            ..
        }
    ));
}

#[tokio::test]
async fn accounts_on_sqlite() {
    accounts(open("sqlite::memory:").await.unwrap()).await;
}

#[tokio::test]
#[cfg_attr(
    not(camtrace_has_postgres),
    ignore = "needs PostgreSQL: export CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh)"
)]
async fn accounts_on_postgres() {
    let url = common::fresh_postgres("acct").await;
    accounts(open(&url).await.unwrap()).await;
}

/// The access log chains on its own: appending leaves the register history and its revision
/// alone; tampering is found; retention prunes old entries and the rest still verifies.
async fn access_log(store: Box<dyn Store>) {
    store.apply_register(&register(), "test").await.unwrap();
    let revision = store.register_revision().await.unwrap();
    let history = store.verify_history().await.unwrap();
    for i in 0..5 {
        let e = store
            .append_access(&AccessEvent {
                action: if i % 2 == 0 {
                    "sign_in_failed"
                } else {
                    "sign_in"
                }
                .into(),
                actor: format!("user{i}\u{7}"),
                addr: "127.0.0.1".into(),
                subject: String::new(),
                detail: Some(serde_json::json!({"i": i})),
            })
            .await
            .unwrap();
        assert_eq!(e.seq, i + 1);
    }
    assert_eq!(store.register_revision().await.unwrap(), revision);
    assert_eq!(store.verify_history().await.unwrap(), history);
    assert_eq!(store.verify_access_log().await.unwrap(), 5);
    let failed = store
        .access_log(&AccessFilter {
            action: Some("sign_in_failed".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(failed.len(), 3);
    assert_eq!(failed[0].detail, Some(serde_json::json!({"i": 0})));
    // A long name is cut, not refused.
    let long = store
        .append_access(&AccessEvent {
            action: "sign_in_failed".into(),
            actor: "x".repeat(5000),
            addr: String::new(),
            subject: String::new(),
            detail: None,
        })
        .await
        .unwrap();
    assert_eq!(long.actor.len(), 200);
    assert_eq!(store.verify_access_log().await.unwrap(), 6);

    testing::set_access_actor(&*store, 2, "mallory")
        .await
        .unwrap();
    match store.verify_access_log().await {
        Err(StoreError::Tamper(t)) => assert_eq!(t.seq, 2),
        other => panic!("tampering not found: {other:?}"),
    }
    // Retention: everything before the newest entry can go; the newest is kept, and what is
    // kept verifies from its own first entry.
    let pruned = store
        .prune_access_log("9999-01-01T00:00:00Z")
        .await
        .unwrap();
    assert_eq!(pruned, 5);
    assert_eq!(store.access_log_count().await.unwrap(), 1);
    assert_eq!(store.verify_access_log().await.unwrap(), 1);
    let next = store
        .append_access(&AccessEvent {
            action: "sign_in".into(),
            actor: "alice".into(),
            addr: "127.0.0.1".into(),
            subject: String::new(),
            detail: None,
        })
        .await
        .unwrap();
    assert_eq!(next.seq, 7);
    assert_eq!(next.prev_hash, long.hash);
    assert_eq!(store.verify_access_log().await.unwrap(), 2);
}

#[tokio::test]
async fn access_log_on_sqlite() {
    access_log(open("sqlite::memory:").await.unwrap()).await;
}

#[tokio::test]
#[cfg_attr(
    not(camtrace_has_postgres),
    ignore = "needs PostgreSQL: export CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh)"
)]
async fn access_log_on_postgres() {
    let url = common::fresh_postgres("access").await;
    access_log(open(&url).await.unwrap()).await;
}
