//! Property test: whatever a device holds (unicode text, floats, dates, lists) is stored and
//! read back unchanged, and storing it again changes nothing (no history entry).

use camtrace_model::*;
use camtrace_store::*;
use chrono::NaiveDate;
use proptest::prelude::*;

fn device() -> impl Strategy<Value = Device> {
    (
        "[a-zA-Z0-9_./-]{1,40}",
        prop::option::of("\\PC{0,30}"),
        prop::option::of("\\PC{0,30}"),
        prop::sample::select(DeviceClass::ALL.to_vec()),
        prop::collection::vec("\\PC{0,20}", 0..4),
        prop::sample::select(vec![
            DeviceStatus::Planned,
            DeviceStatus::Installed,
            DeviceStatus::Disconnected,
            DeviceStatus::Removed,
        ]),
        prop::option::of((1990i32..2060, 1u32..13, 1u32..29)),
        prop::option::of(0.0f64..1e9),
        prop::option::of(0.0f64..=1.0),
    )
        .prop_map(
            |(id, brand, notes, class, addresses, status, date, cost, conf)| Device {
                id,
                site: "site-1".into(),
                zone: None,
                network: None,
                brand,
                maker: None,
                model: None,
                firmware: None,
                class,
                mac: None,
                addresses,
                status,
                install_date: date.and_then(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d)),
                scheduled_upgrade: None,
                cost_device: cost,
                cost_labour: None,
                confidence: conf,
                notes,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn devices_round_trip_through_sqlite(devs in prop::collection::vec(device(), 1..8)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let s = open("sqlite::memory:").await.unwrap();
            let batch = RegisterBatch {
                organisations: vec![Organisation { id: "o".into(), name: "O".into(), parent: None, kind: None, country: None }],
                sites: vec![Site {
                    id: "site-1".into(), organisation: "o".into(), name: "S".into(), address: None,
                    criteria: Default::default(), classification: None, government_building: false, tags: vec![],
                }],
                ..Default::default()
            };
            s.apply_register(&batch, "t").await.unwrap();
            // Later duplicates of an id replace earlier ones, as in an upsert.
            let mut want = std::collections::BTreeMap::new();
            for d in &devs {
                s.upsert_device(d, "t").await.unwrap();
                want.insert(d.id.clone(), d.clone());
            }
            let got = s.list_devices(&DeviceFilter::default()).await.unwrap();
            let want: Vec<Device> = want.into_values().collect();
            assert_eq!(got, want);
            let n = s.history(&HistoryFilter::default()).await.unwrap().len();
            for d in &want {
                assert_eq!(s.upsert_device(d, "t").await.unwrap(), Change::Unchanged);
            }
            assert_eq!(s.history(&HistoryFilter::default()).await.unwrap().len(), n);
            s.verify_history().await.unwrap();
        });
    }
}

/// A device from a small pool of ids and states, so batches repeat ids and change only the
/// status of stored devices.
fn pooled_device() -> impl Strategy<Value = Device> {
    (
        0usize..6,
        prop::sample::select(vec![
            DeviceStatus::Installed,
            DeviceStatus::Disconnected,
            DeviceStatus::Removed,
        ]),
        prop::option::of(prop::sample::select(vec!["Hikvision", "Axis"])),
    )
        .prop_map(|(i, status, brand)| Device {
            id: format!("cam-{i}"),
            site: "site-1".into(),
            zone: None,
            network: None,
            brand: brand.map(Into::into),
            maker: None,
            model: None,
            firmware: None,
            class: DeviceClass::Camera,
            mac: None,
            addresses: vec![],
            status,
            install_date: None,
            scheduled_upgrade: None,
            cost_device: None,
            cost_labour: None,
            confidence: None,
            notes: None,
        })
}

async fn one_site_store() -> Box<dyn Store> {
    let s = open("sqlite::memory:").await.unwrap();
    let batch = RegisterBatch {
        organisations: vec![Organisation {
            id: "o".into(),
            name: "O".into(),
            parent: None,
            kind: None,
            country: None,
        }],
        sites: vec![Site {
            id: "site-1".into(),
            organisation: "o".into(),
            name: "S".into(),
            address: None,
            criteria: Default::default(),
            classification: None,
            government_building: false,
            tags: vec![],
        }],
        ..Default::default()
    };
    s.apply_register(&batch, "t").await.unwrap();
    s
}

/// What a history says, without its times and hashes.
async fn story(
    s: &dyn Store,
) -> Vec<(
    String,
    String,
    Option<serde_json::Value>,
    Option<serde_json::Value>,
)> {
    s.history(&HistoryFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|h| (h.action, h.entity_id, h.before, h.after))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The set-based device write of a register import (issue 11, finding 10: a short write
    /// transaction) does exactly what writing the devices one at a time does: the same rows,
    /// the same history entries in the same order (create, update, status), a valid chain,
    /// whatever the rows per statement.
    #[test]
    fn set_based_register_write_equals_one_at_a_time(
        seed in prop::collection::vec(pooled_device(), 0..6),
        batch in prop::collection::vec(pooled_device(), 1..14),
        rows in 1usize..5,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (bulk, single) = (one_site_store().await, one_site_store().await);
            for s in [&bulk, &single] {
                for d in &seed {
                    s.upsert_device(d, "t").await.unwrap();
                }
            }
            let mut r = bulk.begin_register("t").await.unwrap();
            r.set_rows_per_statement(rows);
            r.apply(&RegisterBatch { devices: batch.clone(), ..Default::default() }).await.unwrap();
            let summary = r.commit().await.unwrap();
            let mut want = RegisterSummary::default();
            for d in &batch {
                want.devices.add(single.upsert_device(d, "t").await.unwrap());
            }
            assert_eq!(summary.devices, want.devices);
            let all = DeviceFilter::default();
            assert_eq!(bulk.list_devices(&all).await.unwrap(), single.list_devices(&all).await.unwrap());
            assert_eq!(story(bulk.as_ref()).await, story(single.as_ref()).await);
            bulk.verify_history().await.unwrap();
        });
    }
}

/// One PostgreSQL database for every case of the property below (each case writes a site of its
/// own), made on first use.
async fn shared_postgres() -> &'static str {
    static URL: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    URL.get_or_init(|| camtrace_store::testing::fresh_postgres("props_json"))
        .await
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// A register import on PostgreSQL (multi-row statements): whatever a device holds
    /// (unicode text, floats, dates, lists) comes back unchanged, writing it again changes
    /// nothing, and the chain verifies.
    #[test]
    #[cfg_attr(
        not(camtrace_has_postgres),
        ignore = "needs PostgreSQL: export CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh)"
    )]
    fn devices_round_trip_through_postgres_register_import(
        devs in prop::collection::vec(device(), 1..12),
        case in any::<u64>(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let s = open(shared_postgres().await).await.unwrap();
            let site = format!("site-{case}");
            let devs: Vec<Device> = devs
                .into_iter()
                .map(|d| Device { id: format!("{site}/{}", d.id), site: site.clone(), ..d })
                .collect();
            let mut r = s.begin_register("t").await.unwrap();
            r.apply(&RegisterBatch {
                organisations: vec![Organisation { id: "o".into(), name: "O".into(), parent: None, kind: None, country: None }],
                sites: vec![Site {
                    id: site.clone(), organisation: "o".into(), name: "S".into(), address: None,
                    criteria: Default::default(), classification: None, government_building: false, tags: vec![],
                }],
                devices: devs.clone(),
                ..Default::default()
            }).await.unwrap();
            r.commit().await.unwrap();
            // Later duplicates of an id replace earlier ones, as in an upsert.
            let want: Vec<Device> = devs
                .iter()
                .map(|d| (d.id.clone(), d.clone()))
                .collect::<std::collections::BTreeMap<_, _>>()
                .into_values()
                .collect();
            let got = s.list_devices(&DeviceFilter { site: Some(site.clone()), ..Default::default() }).await.unwrap();
            assert_eq!(got, want);
            let mut again = s.begin_register("t").await.unwrap();
            again.apply(&RegisterBatch { devices: want.clone(), ..Default::default() }).await.unwrap();
            let sum = again.commit().await.unwrap();
            assert_eq!(sum.devices.unchanged as usize, want.len());
            s.verify_history().await.unwrap();
        });
    }
}
