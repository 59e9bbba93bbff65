//! The same evidence file imported with and without a site is stored once (issue 16, point 5),
//! through the import path the CLI and the server share, on SQLite and PostgreSQL: without a
//! site first, then with one, the stored scan moves to the site (recorded in the history);
//! any later import of it, with or without the site, changes nothing. Files only, no network.

use camtrace_ingest::import::{import, ImportOptions, Input};
use camtrace_ingest::FileKind;
use camtrace_store::{EstateFilter, HistoryFilter, Store};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../ingest/tests/fixtures")
        .join(name)
}

fn opts(site: Option<&str>) -> ImportOptions {
    ImportOptions {
        site: site.map(str::to_string),
        actor: "test".into(),
        ..Default::default()
    }
}

async fn same_evidence_counts_once(store: &dyn Store) {
    let kb = camtrace_kb::Kb::embedded().unwrap();
    let reg = fixture("site-register.csv");
    import(store, Some(&kb), Input::File(&reg), None, &opts(None))
        .await
        .unwrap();
    let nmap = fixture("site-nmap.xml");
    let run = |site: Option<&'static str>| {
        let nmap = nmap.clone();
        let kb = &kb;
        async move {
            import(
                store,
                Some(kb),
                Input::File(&nmap),
                Some(FileKind::Nmap),
                &opts(site),
            )
            .await
        }
    };

    // A site that is not in the register is refused, and nothing is stored.
    let first = run(None).await.unwrap();
    assert_eq!(first.outcome, "imported");
    let err = run(Some("nope")).await.unwrap_err().to_string();
    assert!(err.contains("site `nope` is not in the register"), "{err}");

    let moved = run(Some("hq")).await.unwrap();
    assert_eq!(moved.outcome, "assigned");
    assert_eq!(moved.scan_id, first.scan_id);
    for site in [Some("hq"), None, Some("hq")] {
        let again = run(site).await.unwrap();
        assert_eq!(again.outcome, "unchanged", "{site:?}");
    }
    let scans = store.list_scans(None).await.unwrap();
    assert_eq!(scans.len(), 1, "{scans:?}");
    assert_eq!(scans[0].site.as_deref(), Some("hq"));
    let seen = store
        .latest_identifications(&EstateFilter::default())
        .await
        .unwrap();
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|s| s.site.as_deref() == Some("hq")),
        "no copy of the evidence without a site"
    );
    let assigned = store
        .history(&HistoryFilter {
            action: Some("assign-site".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(assigned.len(), 1);
    assert_eq!(assigned[0].entity_id, first.scan_id.clone().unwrap());
    store.verify_history().await.unwrap();
}

#[tokio::test]
async fn same_evidence_with_and_without_a_site_is_stored_once_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("camtrace-evidence-sites-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = camtrace_store::open(dir.join("c.db").to_str().unwrap())
        .await
        .unwrap();
    same_evidence_counts_once(store.as_ref()).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
#[cfg_attr(
    not(camtrace_has_postgres),
    ignore = "needs PostgreSQL: export CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh)"
)]
async fn same_evidence_with_and_without_a_site_is_stored_once_on_postgres() {
    let url = camtrace_store::testing::fresh_postgres("evidence_sites").await;
    let store = camtrace_store::open(&url).await.unwrap();
    same_evidence_counts_once(store.as_ref()).await;
}
