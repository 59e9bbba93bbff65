//! Store benchmark: bulk register import (devices), evidence import (observations) and a
//! filtered query, on SQLite and on PostgreSQL side by side, plus the naive one-row-per-INSERT
//! observation import for comparison.
//!
//!   CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh) \
//!     cargo run --release -p camtrace-store --example bench -- [DEVICES] [OBSERVATIONS]
//!
//! Defaults: 100,000 devices, 1,000,000 observations. Results are printed as a Markdown table.

use camtrace_model::*;
use camtrace_store::*;
use std::time::Instant;

fn batch(devices: usize) -> RegisterBatch {
    let sites = 100;
    RegisterBatch {
        organisations: vec![Organisation {
            id: "bench-dept".into(),
            name: "Bench Department".into(),
            parent: None,
            kind: Some("central_government".into()),
            country: Some("GB".into()),
        }],
        sites: (0..sites)
            .map(|i| Site {
                id: format!("site-{i:03}"),
                organisation: "bench-dept".into(),
                name: format!("Site {i}"),
                address: None,
                criteria: SensitivityCriteria {
                    ministerial_use: i % 10 == 0,
                    ..Default::default()
                },
                classification: None,
                government_building: true,
                tags: vec![],
            })
            .collect(),
        devices: (0..devices)
            .map(|i| Device {
                id: format!("dev-{i:07}"),
                site: format!("site-{:03}", i % sites),
                zone: None,
                network: None,
                brand: Some(["LTS", "Axis", "Hikvision", "Bosch"][i % 4].into()),
                maker: Some(["hikvision", "axis", "hikvision", "bosch"][i % 4].into()),
                model: Some(format!("M-{}", i % 97)),
                firmware: Some("V5.5.0".into()),
                class: DeviceClass::Camera,
                mac: Some(format!(
                    "44:19:b6:{:02x}:{:02x}:{:02x}",
                    (i >> 16) & 0xff,
                    (i >> 8) & 0xff,
                    i & 0xff
                )),
                addresses: vec![format!("198.18.{}.{}", (i >> 8) & 0xff, i & 0xff)],
                status: DeviceStatus::Installed,
                install_date: chrono::NaiveDate::from_ymd_opt(2019, 1, 1),
                scheduled_upgrade: chrono::NaiveDate::from_ymd_opt(2027, 1, 1),
                cost_device: Some(300.0),
                cost_labour: Some(120.0),
                confidence: Some(1.0),
                notes: None,
            })
            .collect(),
        ..Default::default()
    }
}

fn observation(i: usize) -> Observation {
    Observation {
        target: format!("198.18.{}.{}", (i >> 8) & 0xff, i & 0xff),
        time: Some("2026-11-29T05:00:00.000000Z".into()),
        source: Some("bench".into()),
        kind: ObservationKind::Port {
            port: 80,
            protocol: Some("http".into()),
            banner: Some(format!("Hikvision IP camera httpd {i}")),
        },
    }
}

struct Row {
    backend: &'static str,
    what: String,
    rows: usize,
    secs: f64,
}

async fn import_observations(store: &dyn Store, id: &str, n: usize, chunk: Option<usize>) -> f64 {
    let t = Instant::now();
    let mut imp = store
        .begin_scan(&ScanRecord {
            id: id.into(),
            started: now_rfc3339(),
            finished: None,
            source: "bench".into(),
            site: None,
            kind: "scan".into(),
            observation_count: 0,
            identification_count: 0,
        })
        .await
        .unwrap()
        .unwrap();
    let mut buf = Vec::with_capacity(2000);
    for i in 0..n {
        buf.push(observation(i));
        if buf.len() == 2000 {
            match chunk {
                None => imp.add_observations(&buf).await.unwrap(),
                Some(c) => imp.add_observations_chunked(&buf, c).await.unwrap(),
            }
            buf.clear();
        }
    }
    match chunk {
        None => imp.add_observations(&buf).await.unwrap(),
        Some(c) => imp.add_observations_chunked(&buf, c).await.unwrap(),
    }
    imp.commit("bench").await.unwrap();
    t.elapsed().as_secs_f64()
}

/// Where to make an empty database for one measurement.
enum Fresh {
    Sqlite(std::path::PathBuf),
    Postgres,
}

impl Fresh {
    async fn url(&self, n: usize) -> String {
        match self {
            Fresh::Sqlite(dir) => dir.join(format!("fresh-{n}.db")).display().to_string(),
            Fresh::Postgres => testing::fresh_postgres("bench").await,
        }
    }
}

async fn run(
    backend: &'static str,
    url: &str,
    devices: usize,
    observations: usize,
    fresh: &Fresh,
    out: &mut Vec<Row>,
) {
    let store = open(url).await.unwrap();
    let b = batch(devices);
    let t = Instant::now();
    let s = store.apply_register(&b, "bench").await.unwrap();
    assert_eq!(s.devices.created as usize, devices);
    out.push(Row {
        backend,
        what: "register import: devices (one transaction, with history)".into(),
        rows: devices,
        secs: t.elapsed().as_secs_f64(),
    });

    // The same register again: every device is read and found unchanged, nothing is written.
    let t = Instant::now();
    let s = store.apply_register(&b, "bench").await.unwrap();
    assert_eq!(s.devices.unchanged as usize, devices);
    out.push(Row {
        backend,
        what: "register re-import: devices unchanged (read, compare, no write)".into(),
        rows: devices,
        secs: t.elapsed().as_secs_f64(),
    });

    // The register into an empty database, one device per statement (the naive way) and in
    // multi-row statements, side by side. The default is 20 per statement on SQLite and 200 on
    // PostgreSQL.
    for rows in [1usize, 20, 200] {
        let s = open(&fresh.url(1000 + rows).await).await.unwrap();
        let t = Instant::now();
        let mut r = s.begin_register("bench").await.unwrap();
        r.set_rows_per_statement(rows);
        r.apply(&b).await.unwrap();
        let sum = r.commit().await.unwrap();
        assert_eq!(sum.devices.created as usize, devices);
        // The chain written in multi-row statements verifies like any other.
        assert!(s.verify_history().await.unwrap() as usize > devices);
        let default = match (backend, rows) {
            ("SQLite", 20) | ("PostgreSQL", 200) => " (the default)",
            _ => "",
        };
        out.push(Row {
            backend,
            what: format!(
                "register import into an empty database, {rows} devices per statement{default}"
            ),
            rows: devices,
            secs: t.elapsed().as_secs_f64(),
        });
    }

    let secs = import_observations(store.as_ref(), "bench-default", observations, None).await;
    out.push(Row {
        backend,
        what: "evidence import: observations (default, one transaction)".into(),
        rows: observations,
        secs,
    });

    // The same import into an empty database, by rows per INSERT (1 = the naive way).
    for rows in [1usize, 20, 200] {
        let s = open(&fresh.url(rows).await).await.unwrap();
        let secs = import_observations(s.as_ref(), "bench-chunk", observations, Some(rows)).await;
        out.push(Row {
            backend,
            what: format!("evidence import into an empty database, {rows} rows per INSERT"),
            rows: observations,
            secs,
        });
    }

    let t = Instant::now();
    let found = store
        .list_devices(&DeviceFilter {
            maker: Some("hikvision".into()),
            sensitive: Some(true),
            status: Some(DeviceStatus::Installed),
            ..Default::default()
        })
        .await
        .unwrap();
    out.push(Row {
        backend,
        what: format!(
            "filtered query: maker+sensitive+status ({} devices returned)",
            found.len()
        ),
        rows: found.len(),
        secs: t.elapsed().as_secs_f64(),
    });

    let t = Instant::now();
    let e = store
        .load_estate(&EstateFilter {
            site: Some("site-010".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    out.push(Row {
        backend,
        what: format!("load_estate of one site ({} devices)", e.devices.len()),
        rows: e.devices.len(),
        secs: t.elapsed().as_secs_f64(),
    });

    let t = Instant::now();
    let n = store.verify_history().await.unwrap();
    out.push(Row {
        backend,
        what: "verify_history (hash chain)".into(),
        rows: n as usize,
        secs: t.elapsed().as_secs_f64(),
    });
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.replace('_', "").parse().ok())
        .collect();
    let devices = args.first().copied().unwrap_or(100_000);
    let observations = args.get(1).copied().unwrap_or(1_000_000);
    let mut rows = Vec::new();
    let dir = std::env::temp_dir().join(format!("camtrace-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("bench.db");
    // CAMTRACE_BENCH_BACKENDS=postgres (or sqlite) measures one backend alone.
    let only = std::env::var("CAMTRACE_BENCH_BACKENDS").unwrap_or_default();
    if only.is_empty() || only.contains("sqlite") {
        eprintln!("SQLite: {}", db.display());
        run(
            "SQLite",
            db.to_str().unwrap(),
            devices,
            observations,
            &Fresh::Sqlite(dir.clone()),
            &mut rows,
        )
        .await;
    }
    match std::env::var("CAMTRACE_TEST_POSTGRES").is_ok_and(|v| !v.is_empty())
        && (only.is_empty() || only.contains("postgres"))
    {
        true => {
            let url = testing::fresh_postgres("bench").await;
            eprintln!("PostgreSQL: {url}");
            run(
                "PostgreSQL",
                &url,
                devices,
                observations,
                &Fresh::Postgres,
                &mut rows,
            )
            .await
        }
        false => eprintln!("PostgreSQL skipped: set CAMTRACE_TEST_POSTGRES"),
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("| backend | operation | rows | seconds | rows/s |");
    println!("|---|---|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {} | {:.3} | {:.0} |",
            r.backend,
            r.what,
            r.rows,
            r.secs,
            r.rows as f64 / r.secs.max(1e-9)
        );
    }
}
