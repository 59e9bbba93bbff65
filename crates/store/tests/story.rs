//! The conformance story: one scenario, run against SQLite and PostgreSQL, with the same
//! expectations. Anything one backend does differently from the other fails here.

mod common;

use camtrace_model::*;
use camtrace_store::*;
use chrono::NaiveDate;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn org(id: &str, parent: Option<&str>) -> Organisation {
    Organisation {
        id: id.into(),
        name: format!("Org {id}"),
        parent: parent.map(str::to_string),
        kind: Some("central_government".into()),
        country: Some("GB".into()),
    }
}

fn site(id: &str, org: &str, ministerial: bool) -> Site {
    Site {
        id: id.into(),
        organisation: org.into(),
        name: format!("Site {id}"),
        address: Some("1 Example Street".into()),
        criteria: SensitivityCriteria {
            ministerial_use: ministerial,
            ..Default::default()
        },
        classification: Some("OFFICIAL".into()),
        government_building: true,
        tags: vec!["hq".into()],
    }
}

fn device(id: &str, site: &str, brand: &str, maker: &str, mac: &str, addr: &str) -> Device {
    Device {
        id: id.into(),
        site: site.into(),
        zone: Some("lobby".into()),
        network: Some("cctv".into()),
        brand: Some(brand.into()),
        maker: Some(maker.into()),
        model: Some("M-1".into()),
        firmware: Some("V1.0".into()),
        class: DeviceClass::Camera,
        mac: Some(mac.into()),
        addresses: vec![addr.into()],
        status: DeviceStatus::Installed,
        install_date: Some(d("2019-03-01")),
        scheduled_upgrade: Some(d("2027-04-01")),
        cost_device: Some(420.5),
        cost_labour: Some(120.0),
        confidence: Some(1.0),
        notes: None,
    }
}

fn ident(target: &str, maker: &str, mac: Option<&str>) -> Identification {
    Identification {
        target: target.into(),
        brand: Some(NamedRef::new(maker, maker)),
        maker: Some(NamedRef::new(maker, maker)),
        model: Some("DS-2CD".into()),
        firmware: Some("V5.5.0".into()),
        device_class: DeviceClass::Camera,
        confidence: 0.9,
        mac: mac.map(str::to_string),
        call_home: vec![],
        conflicts: vec![],
        evidence: vec![Evidence {
            kind: "http".into(),
            detail: "Server: App-webs/".into(),
            signature: "sig".into(),
            source: "kb/test".into(),
            proves: vec!["maker".into()],
            weight: Some(0.9),
        }],
        components: vec![],
        could_be: vec![],
        maker_from_brand: false,
        first_seen: None,
    }
}

async fn story(store: Box<dyn Store>) {
    // Schema is versioned.
    assert!(store.schema_version().await.unwrap() >= 1);

    // Register: an organisation tree, sites, zones, networks, devices, in one batch with the
    // child organisation listed before its parent.
    let batch = RegisterBatch {
        organisations: vec![org("home-office", Some("hmg")), org("hmg", None)],
        sites: vec![
            site("marsham", "home-office", true),
            site("croydon", "home-office", false),
        ],
        zones: vec![Zone {
            id: "lobby".into(),
            site: "marsham".into(),
            name: "Lobby".into(),
        }],
        networks: vec![NetworkSegment {
            id: "cctv".into(),
            site: "marsham".into(),
            name: "CCTV VLAN".into(),
            cidrs: vec!["192.0.2.0/24".into()],
            core: true,
            internet_exposed: false,
        }],
        devices: vec![
            device(
                "cam-1",
                "marsham",
                "Axis",
                "axis",
                "00:40:8c:00:00:01",
                "192.0.2.10",
            ),
            device(
                "cam-2",
                "marsham",
                "LTS",
                "hikvision",
                "44:19:b6:00:00:02",
                "192.0.2.11",
            ),
            device(
                "cam-3",
                "croydon",
                "Hikvision",
                "hikvision",
                "44:19:b6:00:00:03",
                "198.51.100.7",
            ),
        ],
    };
    let sum = store.apply_register(&batch, "test").await.unwrap();
    assert_eq!(sum.organisations.created, 2);
    assert_eq!(sum.devices.created, 3);
    // Idempotent: the same batch again changes nothing and writes no history.
    let hist_len = store
        .history(&HistoryFilter::default())
        .await
        .unwrap()
        .len();
    let again = store.apply_register(&batch, "test").await.unwrap();
    assert_eq!(again.changed(), 0);
    assert_eq!(again.devices.unchanged, 3);
    assert_eq!(
        store
            .history(&HistoryFilter::default())
            .await
            .unwrap()
            .len(),
        hist_len
    );

    // Round trip of every field.
    assert_eq!(
        store.get_device("cam-1").await.unwrap().unwrap(),
        batch.devices[0]
    );
    assert_eq!(
        store.get_site("marsham").await.unwrap().unwrap(),
        batch.sites[0]
    );
    assert_eq!(
        store.list_networks(Some("marsham")).await.unwrap(),
        batch.networks
    );
    assert_eq!(
        store
            .get_network(&batch.networks[0].id)
            .await
            .unwrap()
            .as_ref(),
        Some(&batch.networks[0])
    );
    assert_eq!(
        store.get_zone(&batch.zones[0].id).await.unwrap().as_ref(),
        Some(&batch.zones[0])
    );
    assert_eq!(store.get_zone("no-such-zone").await.unwrap(), None);

    // A bad batch (device on an unknown site) changes nothing at all.
    let mut bad = batch.clone();
    bad.devices[0].model = Some("changed".into());
    bad.devices.push(device(
        "cam-x",
        "nowhere",
        "Axis",
        "axis",
        "00:40:8c:00:00:09",
        "192.0.2.99",
    ));
    let err = store.apply_register(&bad, "test").await.unwrap_err();
    assert!(err.to_string().contains("nowhere"), "{err}");
    assert_eq!(
        store
            .get_device("cam-1")
            .await
            .unwrap()
            .unwrap()
            .model
            .as_deref(),
        Some("M-1")
    );
    assert!(store.get_device("cam-x").await.unwrap().is_none());

    // Queries.
    let by_org = store
        .list_devices(&DeviceFilter {
            organisation: Some("hmg".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        by_org.len(),
        3,
        "organisation filter includes child organisations"
    );
    let hik = store
        .list_devices(&DeviceFilter {
            maker: Some("HIKVISION".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        hik.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["cam-2", "cam-3"]
    );
    let sensitive = store
        .list_devices(&DeviceFilter {
            sensitive: Some(true),
            maker: Some("hikvision".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(sensitive.len(), 1);
    assert_eq!(sensitive[0].id, "cam-2");
    let sens_sites = store
        .list_sites(&SiteFilter {
            sensitive: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(sens_sites.len(), 1);

    // Status change is its own history action.
    assert_eq!(
        store
            .set_device_status(
                "cam-3",
                DeviceStatus::Disconnected,
                "estates",
                Some("WMS instruction 2")
            )
            .await
            .unwrap(),
        Change::Updated
    );
    let h = store
        .history(&HistoryFilter {
            entity_id: Some("cam-3".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(h.last().unwrap().action, "status");
    assert_eq!(h.last().unwrap().actor, "estates");

    // Evidence: a scan with observations and identifications, idempotent by id.
    let scan = ScanRecord {
        id: "scan-1".into(),
        started: "2026-11-01T10:00:00.000000Z".into(),
        finished: None,
        source: "test".into(),
        site: Some("marsham".into()),
        kind: "scan".into(),
        observation_count: 0,
        identification_count: 0,
    };
    let mut imp = store.begin_scan(&scan).await.unwrap().unwrap();
    let obs: Vec<Observation> = (0..450)
        .map(|i| {
            Observation::new(
                format!("192.0.2.{}", i % 50),
                ObservationKind::Port {
                    port: 80,
                    protocol: Some("http".into()),
                    banner: Some(format!("banner {i}")),
                },
            )
        })
        .collect();
    imp.add_observations(&obs).await.unwrap();
    imp.add_identifications(&[
        // cam-1 by MAC: register says Axis, the wire says Hikvision.
        ident("192.0.2.10", "hikvision", Some("00-40-8C-00-00-01")),
        // Not in the register.
        ident("192.0.2.50", "dahua", None),
    ])
    .await
    .unwrap();
    let rec = imp.commit("test").await.unwrap();
    assert_eq!(rec.observation_count, 450);
    assert_eq!(rec.identification_count, 2);
    assert!(
        store.begin_scan(&scan).await.unwrap().is_none(),
        "same scan twice is a no-op"
    );
    let stored = store
        .observations(&ObservationFilter {
            scan_id: Some("scan-1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(stored.len(), 450);
    assert_eq!(stored[7].observation, obs[7]);

    // An abandoned scan leaves nothing behind.
    let mut scan2 = scan.clone();
    scan2.id = "scan-2".into();
    let mut imp = store.begin_scan(&scan2).await.unwrap().unwrap();
    imp.add_observations(&obs[..10]).await.unwrap();
    imp.rollback().await.unwrap();
    assert_eq!(store.list_scans(None).await.unwrap().len(), 1);

    let idents = store
        .latest_identifications(&EstateFilter {
            site: Some("marsham".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(idents.len(), 2);
    let linked = idents
        .iter()
        .find(|i| i.identification.target == "192.0.2.10")
        .unwrap();
    assert_eq!(linked.device_id.as_deref(), Some("cam-1"));

    // Waivers, audited.
    let w = Waiver {
        id: "w-1".into(),
        device_id: "cam-2".into(),
        rule_id: "uk-2022-sensitive-sites/disconnect-core".into(),
        reason: "replacement ordered".into(),
        approver: "security-adviser".into(),
        created_at: "2026-11-01T00:00:00Z".into(),
        expires_on: d("2027-01-31"),
        revoked_at: None,
        revoked_by: None,
        revoke_reason: None,
    };
    store.add_waiver(&w, "security-adviser").await.unwrap();
    store.add_waiver(&w, "security-adviser").await.unwrap(); // idempotent
    assert_eq!(
        store
            .list_waivers(&WaiverFilter {
                active_on: Some(d("2027-01-31")),
                ..Default::default()
            })
            .await
            .unwrap(),
        vec![w.clone()]
    );
    assert!(store
        .list_waivers(&WaiverFilter {
            active_on: Some(d("2027-02-01")),
            ..Default::default()
        })
        .await
        .unwrap()
        .is_empty());
    let revoked = store
        .revoke_waiver("w-1", "ciso", "device removed")
        .await
        .unwrap();
    assert_eq!(revoked.revoked_by.as_deref(), Some("ciso"));
    assert!(store.revoke_waiver("w-1", "ciso", "again").await.is_err());
    assert!(store
        .list_waivers(&WaiverFilter::default())
        .await
        .unwrap()
        .is_empty());

    // Estate views.
    let estate = store.load_estate(&EstateFilter::default()).await.unwrap();
    assert_eq!(estate.organisations.len(), 2);
    assert_eq!(estate.devices.len(), 3);
    assert_eq!(estate.waivers.len(), 1);
    assert_eq!(estate.identifications.len(), 2);
    let croydon = store
        .load_estate(&EstateFilter {
            site: Some("croydon".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(croydon.devices.len(), 1);
    assert_eq!(
        croydon.organisations.len(),
        2,
        "the site's organisation and its parent"
    );

    let today = chrono::Utc::now().date_naive();
    let now = store
        .estate_as_of(today, &EstateFilter::default())
        .await
        .unwrap();
    let mut a = now.devices.clone();
    let mut b = estate.devices.clone();
    a.sort_by(|x, y| x.id.cmp(&y.id));
    b.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(a, b, "history rebuilds today's register");
    let past = store
        .estate_as_of(d("2000-01-01"), &EstateFilter::default())
        .await
        .unwrap();
    assert!(past.devices.is_empty() && past.sites.is_empty());
    let statuses = store.device_status_on(today).await.unwrap();
    assert!(statuses.contains(&("cam-3".to_string(), DeviceStatus::Disconnected)));

    // Snapshots.
    let snap = FindingsSnapshot {
        date: d("2026-11-01"),
        regime: "uk-2022-sensitive-sites".into(),
        organisation: "home-office".into(),
        site: String::new(),
        counts: serde_json::json!({"high": 2, "medium": 1}),
        recorded_at: String::new(),
    };
    store.record_snapshot(&snap, "report").await.unwrap();
    let n_hist = store
        .history(&HistoryFilter::default())
        .await
        .unwrap()
        .len();
    store.record_snapshot(&snap, "report").await.unwrap();
    assert_eq!(
        store
            .history(&HistoryFilter::default())
            .await
            .unwrap()
            .len(),
        n_hist,
        "same snapshot twice changes nothing"
    );
    let mut snap2 = snap.clone();
    snap2.counts = serde_json::json!({"high": 1});
    store.record_snapshot(&snap2, "report").await.unwrap();
    let snaps = store.snapshots(&SnapshotFilter::default()).await.unwrap();
    assert_eq!(snaps.len(), 1);
    assert_eq!(snaps[0].counts, serde_json::json!({"high": 1}));

    // History: complete and verifiable.
    let n = store.verify_history().await.unwrap();
    assert!(n >= 12, "{n}");
    let appended = store
        .append_history(&NewHistory {
            actor: "server".into(),
            action: "login".into(),
            entity_kind: "user".into(),
            entity_id: "alice".into(),
            before: None,
            after: None,
        })
        .await
        .unwrap();
    assert_eq!(appended.seq as u64, n + 1);
    assert_eq!(store.verify_history().await.unwrap(), n + 1);

    // The head is an anchor to keep elsewhere; cutting the newest entries off leaves a chain
    // that verifies on its own, but not against the anchor.
    let head = store
        .history_head()
        .await
        .unwrap()
        .expect("history has entries");
    assert_eq!(head.seq, appended.seq);
    assert_eq!(head.hash, appended.hash);
    assert_eq!(store.verify_history_against(&head).await.unwrap(), n + 1);
    let earlier: camtrace_store::HistoryAnchor = format!(
        "3:{}",
        store
            .history(&HistoryFilter {
                after_seq: Some(2),
                limit: Some(1),
                ..Default::default()
            })
            .await
            .unwrap()[0]
            .hash
    )
    .parse()
    .unwrap();
    assert_eq!(store.verify_history_against(&earlier).await.unwrap(), n + 1);
    for seq in (n as i64)..=(n as i64 + 1) {
        camtrace_store::testing::delete_history_entry(&*store, seq)
            .await
            .unwrap();
    }
    assert_eq!(
        store.verify_history().await.unwrap(),
        n - 1,
        "a truncated chain still verifies alone"
    );
    match store.verify_history_against(&head).await {
        Err(StoreError::Tamper(t)) => {
            assert_eq!(t.seq as u64, n);
            assert!(
                t.reason.contains("newest entries were removed"),
                "{}",
                t.reason
            );
        }
        other => panic!("truncation not detected: {other:?}"),
    }
    let forged = camtrace_store::HistoryAnchor {
        seq: 3,
        hash: "0".repeat(64),
    };
    match store.verify_history_against(&forged).await {
        Err(StoreError::Tamper(t)) => assert_eq!(t.seq, 3),
        other => panic!("a different entry 3 not detected: {other:?}"),
    }

    // Every observation and identification belongs to a stored scan. On PostgreSQL no foreign
    // key checks this any more (migration 0800: the check cost a quarter of fleet ingest's
    // database time), so the importer's invariant is checked here: deleting the rows whose scan
    // is missing deletes none, among rows that exist.
    for table in ["observations", "identifications"] {
        let rows = store
            .execute_for_tests(&format!("UPDATE {table} SET scan_id = scan_id"))
            .await
            .unwrap();
        assert!(rows > 0, "the story stored {table}");
        let orphans = format!("DELETE FROM {table} WHERE scan_id NOT IN (SELECT id FROM scans)");
        assert_eq!(
            store.execute_for_tests(&orphans).await.unwrap(),
            0,
            "{table} without their scan"
        );
    }
    if store.backend() == Backend::Postgres {
        // The check above finds such a row (PostgreSQL now stores one; SQLite still refuses it).
        store
            .execute_for_tests("INSERT INTO observations (scan_id, seq, target, kind, data) VALUES ('no-such-scan', 1, 't', 'port', '{}')")
            .await
            .unwrap();
        assert_eq!(
            store
                .execute_for_tests(
                    "DELETE FROM observations WHERE scan_id NOT IN (SELECT id FROM scans)"
                )
                .await
                .unwrap(),
            1
        );
    } else {
        assert!(store
            .execute_for_tests("INSERT INTO observations (scan_id, seq, target, kind, data) VALUES ('no-such-scan', 1, 't', 'port', '{}')")
            .await
            .is_err());
    }

    // Tampering with any stored entry is detected, naming it.
    camtrace_store::testing::set_history_actor(&*store, 3, "mallory")
        .await
        .unwrap();
    match store.verify_history().await {
        Err(StoreError::Tamper(t)) => assert_eq!(t.seq, 3),
        other => panic!("tampering not detected: {other:?}"),
    }
}

#[tokio::test]
async fn story_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new-dir").join("register.db");
    let store = open(path.to_str().unwrap()).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    story(store).await;
    assert!(path.exists(), "the SQLite file is created on first use");
    // Re-opening runs no migration twice and sees the data.
    let again = open(&format!("sqlite://{}", path.display())).await.unwrap();
    assert_eq!(
        again
            .list_devices(&DeviceFilter::default())
            .await
            .unwrap()
            .len(),
        3
    );
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(mode.to_lowercase(), "wal");
}

#[tokio::test]
async fn story_on_sqlite_memory() {
    story(open("sqlite::memory:").await.unwrap()).await;
}

#[tokio::test]
#[cfg_attr(
    not(camtrace_has_postgres),
    ignore = "needs PostgreSQL: export CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh)"
)]
async fn story_on_postgres() {
    let url = common::fresh_postgres("story").await;
    let store = open(&url).await.unwrap();
    assert_eq!(store.backend(), Backend::Postgres);
    story(store).await;
}

#[tokio::test]
#[cfg_attr(
    not(camtrace_has_postgres),
    ignore = "needs PostgreSQL: export CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh)"
)]
async fn concurrent_writers_keep_one_chain_on_postgres() {
    let url = common::fresh_postgres("conc").await;
    let store: std::sync::Arc<dyn Store> = open(&url).await.unwrap().into();
    let mut tasks = Vec::new();
    for t in 0..4 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                s.append_history(&NewHistory {
                    actor: format!("w{t}"),
                    action: "test".into(),
                    entity_kind: "x".into(),
                    entity_id: format!("{t}-{i}"),
                    before: None,
                    after: None,
                })
                .await
                .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(store.verify_history().await.unwrap(), 40);
}
