//! Which identification of a target counts: the latest per (site, target), by the scan's date,
//! a tie going to the greater scan id; at a past date, the latest before the end of that day.
//! The store picks them in the database (issue 15: the alert checker read every identification
//! ever made, a fleet's agents making one per target per scan, and held them all at once); this
//! pins the choice and the order on both backends.

mod common;

use camtrace_model::*;
use camtrace_store::*;
use chrono::NaiveDate;

fn ident(target: &str, maker: &str) -> Identification {
    Identification {
        target: target.into(),
        brand: None,
        maker: Some(NamedRef::new(maker, maker)),
        model: None,
        firmware: None,
        device_class: DeviceClass::Camera,
        confidence: 0.9,
        mac: None,
        call_home: vec![],
        conflicts: vec![],
        evidence: vec![],
        components: vec![],
        could_be: vec![],
        maker_from_brand: false,
        first_seen: None,
    }
}

async fn scan(store: &dyn Store, id: &str, site: Option<&str>, day: &str, idents: &[(&str, &str)]) {
    let mut imp = store
        .begin_scan(&ScanRecord {
            id: id.into(),
            started: format!("{day}T10:00:00.000000Z"),
            finished: Some(format!("{day}T10:05:00.000000Z")),
            source: "test".into(),
            site: site.map(str::to_string),
            kind: "scan".into(),
            observation_count: 0,
            identification_count: 0,
        })
        .await
        .unwrap()
        .unwrap();
    let ids: Vec<Identification> = idents.iter().map(|(t, m)| ident(t, m)).collect();
    imp.add_identifications(&ids).await.unwrap();
    imp.commit("test").await.unwrap();
}

/// (site, target, maker) in the order the store returns them.
fn keys(idents: &[SeenIdentification]) -> Vec<(Option<String>, String, String)> {
    idents
        .iter()
        .map(|i| {
            (
                i.site.clone(),
                i.identification.target.clone(),
                i.identification.maker.as_ref().unwrap().id.clone(),
            )
        })
        .collect()
}

fn k(site: Option<&str>, target: &str, maker: &str) -> (Option<String>, String, String) {
    (site.map(str::to_string), target.into(), maker.into())
}

async fn latest_per_site_and_target(store: Box<dyn Store>) {
    let store = store.as_ref();
    store
        .apply_register(
            &RegisterBatch {
                organisations: vec![Organisation {
                    id: "dept".into(),
                    name: "Dept".into(),
                    parent: None,
                    kind: None,
                    country: None,
                }],
                sites: ["s1", "s2"]
                    .iter()
                    .map(|s| Site {
                        id: s.to_string(),
                        organisation: "dept".into(),
                        name: s.to_string(),
                        address: None,
                        criteria: Default::default(),
                        classification: None,
                        government_building: true,
                        tags: vec![],
                    })
                    .collect(),
                ..Default::default()
            },
            "test",
        )
        .await
        .unwrap();
    let t = "127.0.0.10";
    let u = "127.0.0.11";
    // Written out of date order: the choice must not depend on the order of import.
    scan(store, "scan-c", Some("s1"), "2026-11-02", &[(t, "c")]).await;
    scan(
        store,
        "scan-a",
        Some("s1"),
        "2026-11-01",
        &[(t, "a"), (u, "a")],
    )
    .await;
    scan(store, "scan-b", Some("s1"), "2026-11-02", &[(t, "b")]).await;
    scan(store, "scan-d", Some("s2"), "2026-11-01", &[(t, "d")]).await;
    scan(store, "scan-e", None, "2026-11-03", &[(t, "e")]).await;
    scan(store, "scan-f", Some("s2"), "2026-10-01", &[(t, "f")]).await;

    let all = store
        .latest_identifications(&EstateFilter::default())
        .await
        .unwrap();
    assert_eq!(
        keys(&all),
        vec![
            k(None, t, "e"),
            // Two scans of 2 Nov: the greater scan id wins the tie.
            k(Some("s1"), t, "c"),
            k(Some("s1"), u, "a"),
            k(Some("s2"), t, "d"),
        ]
    );
    let s2 = store
        .latest_identifications(&EstateFilter {
            site: Some("s2".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(keys(&s2), vec![k(Some("s2"), t, "d")]);

    let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let past = store
        .estate_as_of(day("2026-11-01"), &EstateFilter::default())
        .await
        .unwrap();
    assert_eq!(
        keys(&past.identifications),
        vec![
            k(Some("s1"), t, "a"),
            k(Some("s1"), u, "a"),
            k(Some("s2"), t, "d"),
        ]
    );
    let earlier = store
        .estate_as_of(day("2026-10-15"), &EstateFilter::default())
        .await
        .unwrap();
    assert_eq!(keys(&earlier.identifications), vec![k(Some("s2"), t, "f")]);
    let estate = store.load_estate(&EstateFilter::default()).await.unwrap();
    assert_eq!(keys(&estate.identifications), keys(&all));
}

#[tokio::test]
async fn latest_identification_per_site_and_target_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latest.db");
    latest_per_site_and_target(open(path.to_str().unwrap()).await.unwrap()).await;
}

#[tokio::test]
#[cfg_attr(
    not(camtrace_has_postgres),
    ignore = "needs PostgreSQL: export CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh)"
)]
async fn latest_identification_per_site_and_target_on_postgres() {
    let url = common::fresh_postgres("latest").await;
    latest_per_site_and_target(open(&url).await.unwrap()).await;
}

/// Identifications' text is compressed with LZ4 where the server has it (migration 0600):
/// pglz was a fifth of the database's time in fleet ingest.
#[tokio::test]
#[cfg_attr(
    not(camtrace_has_postgres),
    ignore = "needs PostgreSQL: export CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh)"
)]
async fn identifications_are_compressed_with_lz4_where_postgres_has_it() {
    let url = common::fresh_postgres("lz4").await;
    drop(open(&url).await.unwrap());
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let has_lz4 = sqlx::query("SET default_toast_compression = lz4")
        .execute(&pool)
        .await
        .is_ok();
    let method: String = sqlx::query_scalar(
        "SELECT attcompression::text FROM pg_attribute WHERE attrelid = 'identifications'::regclass AND attname = 'data'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        method,
        if has_lz4 { "l" } else { "" },
        "lz4 available: {has_lz4}"
    );
}
