//! Site agents' tables: an enrolment token is redeemed once, even by concurrent callers; an
//! expired one never; a batch id is recorded once; revocation is recorded once. On SQLite (a
//! file) and on PostgreSQL when `CAMTRACE_TEST_POSTGRES` is set.

use camtrace_model::{Organisation, SensitivityCriteria, Site};
use camtrace_store::{AgentBatchRecord, EnrolmentRecord, RedeemRefusal, RegisterBatch, Store};
use std::sync::Arc;

async fn estate(store: &dyn Store) {
    store
        .apply_register(
            &RegisterBatch {
                organisations: vec![Organisation {
                    id: "dept".into(),
                    name: "Department".into(),
                    parent: None,
                    kind: None,
                    country: None,
                }],
                sites: vec![Site {
                    id: "hq".into(),
                    organisation: "dept".into(),
                    name: "HQ".into(),
                    address: None,
                    criteria: SensitivityCriteria::default(),
                    classification: None,
                    government_building: false,
                    tags: vec![],
                }],
                ..Default::default()
            },
            "test",
        )
        .await
        .unwrap();
}

fn enrolment(id: &str, hash: &str, expires_at: &str) -> EnrolmentRecord {
    EnrolmentRecord {
        id: id.into(),
        token_hash: hash.into(),
        name: format!("agent-{id}"),
        organisation: "dept".into(),
        site: "hq".into(),
        created_by: "admin".into(),
        created_at: "2026-01-01T00:00:00.000000Z".into(),
        expires_at: expires_at.into(),
        used_at: None,
        agent_id: None,
    }
}

async fn story(store: Arc<dyn Store>) {
    estate(store.as_ref()).await;
    let now = camtrace_store::now_rfc3339();
    store
        .create_enrolment(
            &enrolment("e1", "hash-1", "2999-01-01T00:00:00.000000Z"),
            None,
        )
        .await
        .unwrap();
    store
        .create_enrolment(
            &enrolment("e2", "hash-2", "2000-01-01T00:00:00.000000Z"),
            None,
        )
        .await
        .unwrap();

    // Eight concurrent redemptions of one token: exactly one agent.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = store.clone();
        let now = now.clone();
        tasks.push(tokio::spawn(async move {
            s.redeem_enrolment("hash-1", &format!("agent-{i}"), &format!("cred-{i}"), &now)
                .await
        }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(Ok(a)) => {
                won += 1;
                assert_eq!(a.site, "hq");
                assert_eq!(a.organisation, "dept");
            }
            Ok(Err(why)) => assert_eq!(why, RedeemRefusal::Used),
            // SQLite may answer a writer that lost the race "busy": also a refusal.
            Err(e) => {
                let m = e.to_string();
                assert!(m.contains("lock") || m.contains("busy"), "{m}");
            }
        }
    }
    assert_eq!(won, 1);
    assert_eq!(store.list_agents(None).await.unwrap().len(), 1);
    // Expired and unknown tokens.
    assert_eq!(
        store
            .redeem_enrolment("hash-2", "x", "cred-x", &now)
            .await
            .unwrap()
            .unwrap_err(),
        RedeemRefusal::Expired
    );
    assert_eq!(
        store
            .redeem_enrolment("hash-3", "y", "cred-y", &now)
            .await
            .unwrap()
            .unwrap_err(),
        RedeemRefusal::Unknown
    );
    let agent = store.list_agents(None).await.unwrap().remove(0);
    let found = store
        .agent_by_credential(&agent.credential_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, agent.id);
    assert_eq!(
        store
            .list_agents(Some(&["other".to_string()]))
            .await
            .unwrap(),
        vec![]
    );

    // A batch id is recorded once; the agent's count follows.
    let b = AgentBatchRecord {
        batch_id: "b".repeat(64),
        agent_id: agent.id.clone(),
        site: "hq".into(),
        scan_id: "scan-1".into(),
        observations: 3,
        received_at: now.clone(),
    };
    assert!(store.record_agent_batch(&b).await.unwrap());
    assert!(!store.record_agent_batch(&b).await.unwrap());
    let a = store.get_agent(&agent.id).await.unwrap().unwrap();
    assert_eq!(a.batches, 1);
    assert_eq!(a.last_batch.as_deref(), Some(b.batch_id.as_str()));
    assert_eq!(
        store.agent_batch(&b.batch_id, "hq").await.unwrap(),
        Some(b.clone())
    );
    // The same bytes from another site are that site's batch: recorded apart, counted too.
    assert_eq!(store.agent_batch(&b.batch_id, "annex").await.unwrap(), None);
    let other = AgentBatchRecord {
        site: "annex".into(),
        scan_id: "scan-2".into(),
        ..b.clone()
    };
    assert!(store.record_agent_batch(&other).await.unwrap());
    assert_eq!(
        store.agent_batch(&b.batch_id, "annex").await.unwrap(),
        Some(other)
    );
    assert_eq!(store.agent_batch(&b.batch_id, "hq").await.unwrap(), Some(b));
    assert_eq!(
        store.get_agent(&agent.id).await.unwrap().unwrap().batches,
        2
    );

    // Health is recorded; a missing value keeps the one before.
    let h = camtrace_store::AgentHealth {
        agent_version: Some("1.2.3".into()),
        outbox_depth: Some(4),
        ..Default::default()
    };
    store.record_agent_seen(&agent.id, &h, &now).await.unwrap();
    store
        .record_agent_seen(&agent.id, &Default::default(), &now)
        .await
        .unwrap();
    let a = store.get_agent(&agent.id).await.unwrap().unwrap();
    assert_eq!(a.agent_version.as_deref(), Some("1.2.3"));
    assert_eq!(a.outbox_depth, Some(4));
    assert_eq!(a.last_seen.as_deref(), Some(now.as_str()));

    // Revoked once.
    assert!(store
        .revoke_agent(&agent.id, "admin", &now, None)
        .await
        .unwrap());
    assert!(!store
        .revoke_agent(&agent.id, "admin", &now, None)
        .await
        .unwrap());
    assert!(!store
        .revoke_agent("nobody", "admin", &now, None)
        .await
        .unwrap());
    let a = store.get_agent(&agent.id).await.unwrap().unwrap();
    assert_eq!(a.revoked_by.as_deref(), Some("admin"));
}

#[tokio::test]
async fn agents_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agents.db");
    let store = camtrace_store::open(db.to_str().unwrap()).await.unwrap();
    story(Arc::from(store)).await;
}

#[tokio::test]
#[cfg_attr(
    not(camtrace_has_postgres),
    ignore = "needs PostgreSQL: export CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh)"
)]
async fn agents_on_postgres() {
    let url = camtrace_store::testing::fresh_postgres("agents").await;
    let store = camtrace_store::open(&url).await.unwrap();
    story(Arc::from(store)).await;
}
