//! Background work shared by two server replicas through one database, on SQLite and
//! PostgreSQL alike: a lease has one holder at a time and passes on when it expires; an alert
//! raised by both replicas is recorded and queued once; webhook jobs claimed concurrently go to
//! exactly one replica each; a job whose replica died is claimed again after its lease, and the
//! dead replica's late answer changes nothing.

mod common;

use camtrace_store::*;
use std::collections::HashSet;

fn event(key: &str) -> AlertEventRecord {
    AlertEventRecord {
        key: key.into(),
        event: "restricted_device_on_sensitive_site".into(),
        organisation: Some("org".into()),
        payload: serde_json::json!({"device": key}),
        time: "2026-12-03T00:00:00Z".into(),
    }
}

async fn leases(a: &dyn Store, b: &dyn Store) {
    let t = 1_000_000;
    assert!(a.try_lease("checker", "a", t, t + 60_000).await.unwrap());
    assert!(
        !b.try_lease("checker", "b", t + 1, t + 60_001)
            .await
            .unwrap(),
        "a held lease is refused to another replica"
    );
    assert!(
        a.try_lease("checker", "a", t + 30_000, t + 90_000)
            .await
            .unwrap(),
        "the holder renews"
    );
    assert!(!b
        .try_lease("checker", "b", t + 80_000, t + 140_000)
        .await
        .unwrap());
    assert!(
        b.try_lease("checker", "b", t + 90_001, t + 150_000)
            .await
            .unwrap(),
        "an expired lease passes to another replica"
    );
    assert!(!a
        .try_lease("checker", "a", t + 100_000, t + 160_000)
        .await
        .unwrap());
    a.release_lease("checker", "a").await.unwrap();
    assert!(
        !a.try_lease("checker", "a", t + 100_000, t + 160_000)
            .await
            .unwrap(),
        "releasing a lease one does not hold changes nothing"
    );
    b.release_lease("checker", "b").await.unwrap();
    assert!(a
        .try_lease("checker", "a", t + 100_000, t + 160_000)
        .await
        .unwrap());
    assert!(
        b.try_lease("other", "b", t, t + 1).await.unwrap(),
        "leases are per name"
    );
}

async fn raised_once(a: &dyn Store, b: &dyn Store) {
    let jobs_a = vec![
        ("ja1".to_string(), "hook1".to_string()),
        ("ja2".into(), "hook2".into()),
    ];
    let jobs_b = vec![
        ("jb1".to_string(), "hook1".to_string()),
        ("jb2".into(), "hook2".into()),
    ];
    let e1 = event("e1");
    let (ra, rb) = tokio::join!(
        a.raise_alert(&e1, "{}", &jobs_a, 0),
        b.raise_alert(&e1, "{}", &jobs_b, 0)
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert!(ra ^ rb, "exactly one replica records the event: {ra} {rb}");
    assert_eq!(a.webhook_job_counts().await.unwrap().pending, 2);
    assert!(!a.raise_alert(&event("e1"), "{}", &jobs_a, 0).await.unwrap());
    assert_eq!(b.webhook_job_counts().await.unwrap().pending, 2);
    // An event raised with no webhook is recorded, and queues nothing.
    assert!(a.raise_alert(&event("e0"), "{}", &[], 0).await.unwrap());
    assert_eq!(b.webhook_job_counts().await.unwrap().pending, 2);
}

async fn claims(a: &dyn Store, b: &dyn Store) {
    let t = 10_000;
    for i in 0..40 {
        let jobs = vec![(format!("j{i:02}"), "hook1".to_string())];
        assert!(a
            .raise_alert(&event(&format!("c{i:02}")), "{\"n\":1}", &jobs, t)
            .await
            .unwrap());
    }
    // Both replicas claim, a few at a time, at the same moment, until the queue is dry.
    let mut got: Vec<Vec<String>> = vec![Vec::new(), Vec::new()];
    loop {
        let (ja, jb) = tokio::join!(
            a.claim_webhook_jobs("a", t, t + 60_000, 3),
            b.claim_webhook_jobs("b", t, t + 60_000, 3)
        );
        let (ja, jb) = (ja.unwrap(), jb.unwrap());
        if ja.is_empty() && jb.is_empty() {
            break;
        }
        got[0].extend(ja.into_iter().map(|j| j.id));
        got[1].extend(jb.into_iter().map(|j| j.id));
    }
    let all: Vec<&String> = got.iter().flatten().collect();
    let distinct: HashSet<&&String> = all.iter().collect();
    // 40 here and the 2 of `raised_once`.
    assert_eq!(all.len(), 42, "every job claimed: {got:?}");
    assert_eq!(distinct.len(), 42, "no job claimed twice: {got:?}");
    // Nothing is claimable while the leases run, by anyone.
    assert!(a
        .claim_webhook_jobs("a", t + 59_999, t + 120_000, 100)
        .await
        .unwrap()
        .is_empty());

    // Replica a "dies" holding its jobs: after the lease, b takes them over.
    let taken = b
        .claim_webhook_jobs("b", t + 60_001, t + 120_000, 1000)
        .await
        .unwrap();
    assert_eq!(taken.len(), 42, "expired leases are claimed again");
    // a's late answer about a job it no longer holds changes nothing.
    let stale = WebhookJob {
        lease_until_ms: t + 60_000,
        ..taken[0].clone()
    };
    assert!(!a
        .finish_webhook_job(&stale, "a", JobOutcome::Delivered)
        .await
        .unwrap());
    assert!(
        !b.finish_webhook_job(&stale, "b", JobOutcome::Delivered)
            .await
            .unwrap(),
        "an answer under an older lease of the same holder is stale too"
    );
    // b delivers the first, retries the second later, gives up on the third.
    assert!(b
        .finish_webhook_job(&taken[0], "b", JobOutcome::Delivered)
        .await
        .unwrap());
    assert!(
        !b.finish_webhook_job(&taken[0], "b", JobOutcome::Delivered)
            .await
            .unwrap(),
        "a job is finished once"
    );
    assert!(b
        .finish_webhook_job(&taken[1], "b", JobOutcome::RetryAt(t + 500_000))
        .await
        .unwrap());
    assert!(b
        .finish_webhook_job(&taken[2], "b", JobOutcome::GaveUp)
        .await
        .unwrap());
    let c = a.webhook_job_counts().await.unwrap();
    assert_eq!((c.pending, c.delivered, c.given_up), (40, 1, 1));
    // Pruning forgets finished jobs only, and only those last scheduled before the cut.
    assert_eq!(a.prune_webhook_jobs(t).await.unwrap(), 0);
    assert_eq!(a.prune_webhook_jobs(t + 1).await.unwrap(), 2);
    let c = a.webhook_job_counts().await.unwrap();
    assert_eq!((c.pending, c.delivered, c.given_up), (40, 0, 0));
    // The retried job waits for its time, keeps its attempt count, and then anyone may take it.
    let due = a
        .claim_webhook_jobs("a", t + 499_999, t + 560_000, 1000)
        .await
        .unwrap();
    assert!(due.iter().all(|j| j.id != taken[1].id));
    let due = a
        .claim_webhook_jobs("a", t + 500_000, t + 560_000, 1000)
        .await
        .unwrap();
    let retried: Vec<_> = due.iter().filter(|j| j.id == taken[1].id).collect();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].attempts, 1);
    assert_eq!(retried[0].body, "{\"n\":1}");
}

async fn deleting_a_webhook_drops_its_queue(a: &dyn Store) {
    let hook = WebhookRecord {
        id: "hookx".into(),
        url: "http://127.0.0.1:9/".into(),
        secret: "s".into(),
        events: Vec::new(),
        organisation: None,
        active: true,
        created_by: "test".into(),
        created_at: "2026-12-03T00:00:00Z".into(),
    };
    a.create_webhook(&hook, None).await.unwrap();
    let before = a.webhook_job_counts().await.unwrap().pending;
    a.raise_alert(&event("dx"), "{}", &[("jx".into(), "hookx".into())], 0)
        .await
        .unwrap();
    assert_eq!(a.webhook_job_counts().await.unwrap().pending, before + 1);
    assert!(a.delete_webhook("hookx", None).await.unwrap());
    assert_eq!(a.webhook_job_counts().await.unwrap().pending, before);
}

/// The delivery log is pruned by the time of each attempt: older attempts go, newer ones and
/// other webhooks' newer ones stay, and pruning again removes nothing more.
async fn delivery_log_is_pruned_by_age(a: &dyn Store) {
    let attempt = |id: &str, hook: &str, time: &str| DeliveryRecord {
        id: id.into(),
        webhook_id: hook.into(),
        event_id: "e1".into(),
        event: "restricted_device_on_sensitive_site".into(),
        attempt: 1,
        time: time.into(),
        status_code: Some(500),
        error: None,
        success: false,
    };
    for (id, hook, time) in [
        ("d1", "hook-old", "2026-08-01T10:00:00.000000Z"),
        ("d2", "hook-old", "2026-09-03T23:59:59.999999Z"),
        ("d3", "hook-old", "2026-09-04T00:00:00.000000Z"),
        ("d4", "hook-new", "2026-12-03T10:00:00.000000Z"),
    ] {
        a.record_delivery(&attempt(id, hook, time)).await.unwrap();
    }
    let cut = "2026-09-04T00:00:00.000000Z";
    assert_eq!(a.prune_deliveries(cut).await.unwrap(), 2);
    let kept: Vec<String> = a
        .deliveries("hook-old")
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(kept, ["d3"], "the attempt at the cut-off itself is kept");
    assert_eq!(a.deliveries("hook-new").await.unwrap().len(), 1);
    assert_eq!(a.prune_deliveries(cut).await.unwrap(), 0);
}

async fn all(a: Box<dyn Store>, b: Box<dyn Store>) {
    leases(&*a, &*b).await;
    raised_once(&*a, &*b).await;
    claims(&*a, &*b).await;
    deleting_a_webhook_drops_its_queue(&*a).await;
    delivery_log_is_pruned_by_age(&*b).await;
}

#[tokio::test]
async fn two_replicas_share_background_work_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    let a = open(path.to_str().unwrap()).await.unwrap();
    let b = open(path.to_str().unwrap()).await.unwrap();
    all(a, b).await;
}

#[tokio::test]
#[cfg_attr(
    not(camtrace_has_postgres),
    ignore = "needs PostgreSQL: export CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh)"
)]
async fn two_replicas_share_background_work_on_postgres() {
    let url = common::fresh_postgres("background").await;
    let a = open(&url).await.unwrap();
    let b = open(&url).await.unwrap();
    all(a, b).await;
}
