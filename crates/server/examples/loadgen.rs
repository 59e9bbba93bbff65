//! Load generator for the server: seeds a store with a synthetic estate (100,000 devices by
//! default), serves it in-process on 127.0.0.1 (or targets `--url http://127.0.0.1:PORT`),
//! and sends an open-loop request stream at a fixed rate for a bounded time and count, over
//! the list and dashboard endpoints. Prints requests/s and latency percentiles.
//!
//! ```text
//! cargo run --release -p camtrace-server --example loadgen -- --devices 100000 --rate 500 --seconds 20
//! ```
//! Only loopback targets are accepted.

use camtrace_model::{Device, DeviceClass, DeviceStatus, Organisation, SensitivityCriteria, Site};
use camtrace_server::auth::{self, PasswordCost, Role, TokenScope};
use camtrace_server::{App, ServerConfig};
use camtrace_store::RegisterBatch;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Opts {
    devices: usize,
    rate: u64,
    seconds: u64,
    max_requests: u64,
    db: Option<String>,
}

fn opts() -> Result<Opts, String> {
    let mut o = Opts {
        devices: 100_000,
        rate: 500,
        seconds: 20,
        max_requests: 100_000,
        db: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--devices" => o.devices = val()?.parse().map_err(|e| format!("--devices: {e}"))?,
            "--rate" => o.rate = val()?.parse().map_err(|e| format!("--rate: {e}"))?,
            "--seconds" => o.seconds = val()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--max-requests" => o.max_requests = val()?.parse().map_err(|e| format!("--max-requests: {e}"))?,
            "--db" => o.db = Some(val()?),
            other => return Err(format!("unknown option {other} (--devices N --rate R --seconds S --max-requests N --db URL)")),
        }
    }
    o.rate = o.rate.clamp(1, 20_000);
    o.seconds = o.seconds.clamp(1, 600);
    Ok(o)
}

const MAKERS: [(&str, &str); 8] = [
    ("hikvision", "hikvision"),
    ("hikvision", "hilook"),
    ("dahua", "dahua"),
    ("dahua", "lorex"),
    ("axis", "axis"),
    ("bosch", "bosch"),
    ("hanwha-vision", "hanwha-vision"),
    ("milestone", "milestone"),
];

fn estate(n: usize) -> (Vec<Organisation>, Vec<Site>, Vec<Device>) {
    let mut orgs = vec![Organisation {
        id: "gov".into(),
        name: "Government".into(),
        parent: None,
        kind: Some("central_government".into()),
        country: Some("GB".into()),
    }];
    for i in 0..20 {
        orgs.push(Organisation {
            id: format!("dept-{i:02}"),
            name: format!("Department {i}"),
            parent: Some("gov".into()),
            kind: Some("central_government".into()),
            country: Some("GB".into()),
        });
    }
    let site_count = (n / 100).max(1);
    let sites: Vec<Site> = (0..site_count)
        .map(|i| Site {
            id: format!("site-{i:05}"),
            organisation: format!("dept-{:02}", i % 20),
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
        .collect();
    let devices = (0..n)
        .map(|i| {
            let (maker, brand) = MAKERS[i % MAKERS.len()];
            Device {
                id: format!("dev-{i:07}"),
                site: format!("site-{:05}", i % site_count),
                zone: None,
                network: None,
                brand: Some(brand.into()),
                maker: Some(maker.into()),
                model: Some(format!("M-{}", i % 97)),
                firmware: None,
                class: DeviceClass::Camera,
                mac: None,
                addresses: vec![format!(
                    "127.{}.{}.{}",
                    (i >> 16) & 255,
                    (i >> 8) & 255,
                    i & 255
                )],
                status: DeviceStatus::Installed,
                install_date: None,
                scheduled_upgrade: None,
                cost_device: Some(250.0),
                cost_labour: Some(80.0),
                confidence: Some(1.0),
                notes: None,
            }
        })
        .collect();
    (orgs, sites, devices)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = opts()?;
    let dir = tempfile::tempdir()?;
    let url =
        o.db.clone()
            .unwrap_or_else(|| dir.path().join("load.db").display().to_string());
    let store = camtrace_store::open(&url).await?;
    let cfg = ServerConfig {
        password_cost: PasswordCost::Low,
        ..ServerConfig::default()
    };
    let app = App::new(Arc::from(store), &camtrace_kb::KbFiles::embedded(), cfg)?;

    let t0 = Instant::now();
    let existing = app
        .store
        .list_devices(&camtrace_store::DeviceFilter {
            limit: Some(1),
            ..Default::default()
        })
        .await?;
    if existing.is_empty() {
        let (orgs, sites, devices) = estate(o.devices);
        app.store
            .apply_register(
                &RegisterBatch {
                    organisations: orgs,
                    sites,
                    ..Default::default()
                },
                "loadgen",
            )
            .await?;
        for chunk in devices.chunks(10_000) {
            app.store
                .apply_register(
                    &RegisterBatch {
                        devices: chunk.to_vec(),
                        ..Default::default()
                    },
                    "loadgen",
                )
                .await?;
        }
        eprintln!(
            "seeded {} devices in {:.1}s",
            o.devices,
            t0.elapsed().as_secs_f64()
        );
    }
    let user = auth::create_user(
        &*app.store,
        "loadgen",
        "loadgen-password",
        Some(Role::Viewer),
        PasswordCost::Low,
    )
    .await;
    let user = match user {
        Ok(u) => u,
        Err(_) => auth::list_users(&*app.store)
            .await?
            .into_iter()
            .find(|u| u.username == "loadgen")
            .ok_or("no loadgen user")?,
    };
    let (token, _) = auth::create_token(
        &*app.store,
        &user.id,
        "loadgen",
        TokenScope::Read,
        chrono::Duration::hours(1),
    )
    .await?;
    let (session, _) =
        auth::create_session(&*app.store, &user.id, chrono::Duration::hours(1)).await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    assert!(addr.ip().is_loopback());
    let router = camtrace_server::router(app.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    // Warm the findings cache (first evaluation of the whole estate).
    let t1 = Instant::now();
    camtrace_server::findings::evaluated(&app, camtrace_server::findings::today(), &[]).await?;
    eprintln!(
        "first findings evaluation: {:.1}s",
        t1.elapsed().as_secs_f64()
    );

    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(256)
        .build_http();
    let base = format!("http://{addr}");
    // The mix: API lists (cursor pages, filters) and dashboard pages.
    let paths: Vec<(&str, String, bool)> = vec![
        (
            "api devices page",
            "/api/v1/devices?limit=50&cursor=dev-00{N}".into(),
            false,
        ),
        (
            "api devices by org",
            "/api/v1/devices?organisation=dept-{D}&limit=50".into(),
            false,
        ),
        (
            "api devices sensitive hikvision",
            "/api/v1/devices?maker=hikvision&sensitive=true&limit=50".into(),
            false,
        ),
        (
            "api findings page",
            "/api/v1/findings?organisation=dept-{D}&limit=50".into(),
            false,
        ),
        (
            "api sites",
            "/api/v1/sites?organisation=dept-{D}&limit=50".into(),
            false,
        ),
        (
            "dashboard devices",
            "/devices?organisation=dept-{D}".into(),
            true,
        ),
        ("dashboard overview", "/".into(), true),
    ];
    let interval = Duration::from_nanos(1_000_000_000 / o.rate);
    let deadline = Instant::now() + Duration::from_secs(o.seconds);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Duration, bool)>();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut sent = 0u64;
    while Instant::now() < deadline && sent < o.max_requests {
        ticker.tick().await;
        let k = (sent as usize) % paths.len();
        let (_, tpl, browser) = &paths[k];
        let p = tpl
            .replace(
                "{N}",
                &format!("{:05}", (sent * 7919) % (o.devices as u64).max(1) / 10),
            )
            .replace("{D}", &format!("{:02}", sent % 20));
        let mut req = hyper::Request::get(format!("{base}{p}"));
        req = if *browser {
            req.header("cookie", format!("camtrace_session={session}"))
        } else {
            req.header("authorization", format!("Bearer {token}"))
        };
        let req = req.body(Empty::<Bytes>::new())?;
        let (c, tx) = (client.clone(), tx.clone());
        tokio::spawn(async move {
            let t = Instant::now();
            let ok = match c.request(req).await {
                Ok(r) => {
                    let status = r.status();
                    let body = r.into_body().collect().await;
                    if !status.is_success() {
                        static ONCE: std::sync::Once = std::sync::Once::new();
                        let text = body
                            .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
                            .unwrap_or_default();
                        ONCE.call_once(|| {
                            eprintln!(
                                "first error: {status} {}",
                                text.chars().take(300).collect::<String>()
                            )
                        });
                        false
                    } else {
                        body.is_ok()
                    }
                }
                Err(e) => {
                    static ONCE: std::sync::Once = std::sync::Once::new();
                    ONCE.call_once(|| eprintln!("first transport error: {e}"));
                    false
                }
            };
            let _ = tx.send((k, t.elapsed(), ok));
        });
        sent += 1;
    }
    drop(tx);
    let mut all = Vec::new();
    let mut per: Vec<Vec<Duration>> = vec![Vec::new(); paths.len()];
    let mut errors = 0u64;
    let mut errs = vec![0u64; paths.len()];
    while let Some((k, d, ok)) = rx.recv().await {
        if !ok {
            errors += 1;
            errs[k] += 1;
        }
        all.push(d);
        per[k].push(d);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    println!(
        "devices: {}  target rate: {} req/s  duration: {:.1}s  requests: {}  errors: {}",
        o.devices,
        o.rate,
        elapsed,
        all.len(),
        errors
    );
    println!("achieved: {:.0} req/s", all.len() as f64 / elapsed);
    println!(
        "all: p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        percentile(&all, 0.50).as_secs_f64() * 1e3,
        percentile(&all, 0.90).as_secs_f64() * 1e3,
        percentile(&all, 0.99).as_secs_f64() * 1e3,
        all.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    for (k, (name, _, _)) in paths.iter().enumerate() {
        per[k].sort();
        println!(
            "  {name:34} n={:6} errors={:5}  p50 {:7.2} ms  p99 {:7.2} ms",
            per[k].len(),
            errs[k],
            percentile(&per[k], 0.50).as_secs_f64() * 1e3,
            percentile(&per[k], 0.99).as_secs_f64() * 1e3
        );
    }
    Ok(())
}
