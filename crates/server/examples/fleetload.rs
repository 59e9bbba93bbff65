//! Fleet ingest benchmark (issue 15): simulated site agents push batches of evidence to server
//! replicas sharing one PostgreSQL, through the real agent endpoint
//! (`POST /api/v1/agents/batches/{id}`, credential, hash check, importer, identification).
//! Prints observations stored per second, push latency (p50/p99) and each replica's memory;
//! with `--baseline`, runs the same load again with observations written one INSERT per row
//! (the naive way), side by side in one run.
//!
//! ```text
//! CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh) cargo run --release -p camtrace-server \
//!   --example fleetload -- --agents 200 --devices 500 --batches 3 --replicas 2 --baseline
//! ```
//! Every database is a new one on that server (`ct_fleet_…`). Replicas are child processes
//! (this program, `replica` mode) on 127.0.0.1; nothing leaves loopback.

use camtrace_model::{Organisation, SensitivityCriteria, Site};
use camtrace_server::auth::PasswordCost;
use camtrace_server::{App, ServerConfig};
use camtrace_store::RegisterBatch;
use sha2::{Digest, Sha256};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SAMPLE: &str = include_str!("../../../tests/data/observations.sample.jsonl");

struct Opts {
    agents: usize,
    devices: usize,
    batches: usize,
    replicas: usize,
    baseline: bool,
}

fn opts(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        agents: 200,
        devices: 500,
        batches: 3,
        replicas: 2,
        baseline: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut num = |max: usize| -> Result<usize, String> {
            let v: usize = it
                .next()
                .ok_or_else(|| format!("{a} needs a value"))?
                .parse()
                .map_err(|e| format!("{a}: {e}"))?;
            if v == 0 || v > max {
                return Err(format!("{a}: 1 to {max}"));
            }
            Ok(v)
        };
        match a.as_str() {
            "--agents" => o.agents = num(2000)?,
            "--devices" => o.devices = num(5000)?,
            "--batches" => o.batches = num(100)?,
            "--replicas" => o.replicas = num(8)?,
            "--baseline" => o.baseline = true,
            other => {
                return Err(format!(
                    "unknown option {other} (--agents N --devices N --batches N --replicas N --baseline)"
                ))
            }
        }
    }
    Ok(o)
}

/// `replica --db URL --port P [--rows N]`: serve one replica until killed.
async fn replica(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let get = |k: &str| {
        args.iter()
            .position(|a| a == k)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let url = get("--db").ok_or("--db")?;
    let port: u16 = get("--port").ok_or("--port")?.parse()?;
    let rows = get("--rows").map(|r| r.parse::<usize>()).transpose()?;
    let store = camtrace_store::open(&url).await?;
    let cfg = ServerConfig {
        bind: ([127, 0, 0, 1], port).into(),
        password_cost: PasswordCost::Low,
        ingest_rows_per_statement: rows,
        max_body_bytes: 16 << 20,
        ..ServerConfig::default()
    };
    let app = App::new(Arc::from(store), &camtrace_kb::KbFiles::embedded(), cfg)?;
    camtrace_server::serve(app, |addr, _| println!("listening on {addr}")).await?;
    Ok(())
}

struct Replica(Child);

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Replica {
    /// (peak, current) resident memory in MiB.
    fn memory(&self) -> (f64, f64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.0.id())).unwrap_or_default();
        let kb = |key: &str| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
                / 1024.0
        };
        (kb("VmHWM:"), kb("VmRSS:"))
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

fn spawn_replica(url: &str, rows: Option<usize>) -> Result<(Replica, u16), String> {
    let port = free_port();
    let mut cmd = Command::new(std::env::current_exe().map_err(|e| e.to_string())?);
    cmd.args(["replica", "--db", url, "--port", &port.to_string()]);
    if let Some(r) = rows {
        cmd.args(["--rows", &r.to_string()]);
    }
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .env("RUST_LOG", "error")
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut r = Replica(child);
    let mut line = String::new();
    use std::io::BufRead;
    let out = r.0.stdout.take().ok_or("no stdout")?;
    std::io::BufReader::new(out)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    if !line.contains("listening") {
        return Err(format!("replica did not start: {line}"));
    }
    Ok((r, port))
}

/// The batch body of `agent`'s scan number `round`: `devices` devices on loopback addresses, two
/// observations each (from the labelled sample, so they identify as the real ones do).
fn batch(agent: usize, round: usize, devices: usize) -> Vec<u8> {
    let lines: Vec<serde_json::Value> = SAMPLE
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let time = format!("2026-12-03T{:02}:{:02}:00Z", round / 60 % 24, round % 60);
    let mut out = Vec::with_capacity(devices * 600);
    for d in 0..devices {
        let n = agent * devices + d;
        let target = format!("127.{}.{}.{}", 1 + n / 65536, (n / 256) % 256, n % 256);
        for k in [d % lines.len(), (d + 7) % lines.len()] {
            let mut o = lines[k].clone();
            o["target"] = target.clone().into();
            o["time"] = time.clone().into();
            out.extend_from_slice(o.to_string().as_bytes());
            out.push(b'\n');
        }
    }
    out
}

struct RunResult {
    observations: u64,
    seconds: f64,
    p50: Duration,
    p99: Duration,
    memory: Vec<(f64, f64)>,
    /// Answers that were not a receipt (busy, 503): retried, as the agent does.
    retried: usize,
}

async fn run(o: &Opts, rows: Option<usize>) -> Result<RunResult, Box<dyn std::error::Error>> {
    let url = camtrace_store::testing::fresh_postgres("fleet").await;
    let store = camtrace_store::open(&url).await?;
    let sites: Vec<Site> = (0..o.agents)
        .map(|i| Site {
            id: format!("site-{i:04}"),
            organisation: "gov".into(),
            name: format!("Site {i}"),
            address: None,
            criteria: SensitivityCriteria::default(),
            classification: None,
            government_building: true,
            tags: Vec::new(),
        })
        .collect();
    store
        .apply_register(
            &RegisterBatch {
                organisations: vec![Organisation {
                    id: "gov".into(),
                    name: "Government".into(),
                    parent: None,
                    kind: Some("central_government".into()),
                    country: Some("GB".into()),
                }],
                sites: sites.clone(),
                ..Default::default()
            },
            "fleetload",
        )
        .await?;
    let admin = App::new(
        Arc::from(store),
        &camtrace_kb::KbFiles::embedded(),
        ServerConfig::default(),
    )?;
    let mut replicas = Vec::new();
    for _ in 0..o.replicas {
        replicas.push(spawn_replica(&url, rows)?);
    }
    let http = reqwest::Client::builder().no_proxy().build()?;
    // Enrol one agent per site, one after the other (enrolment is throttled per address).
    let mut credentials = Vec::new();
    for s in &sites {
        let e = camtrace_server::api::agents::issue_enrolment(&admin, s, &s.id, 1, "fleetload")
            .await
            .map_err(|e| format!("enrolment: {e:?}"))?;
        let r: serde_json::Value = http
            .post(format!(
                "http://127.0.0.1:{}/api/v1/agents/enrol",
                replicas[0].1
            ))
            .json(&serde_json::json!({"token": e.token}))
            .send()
            .await?
            .json()
            .await?;
        credentials.push(
            r["credential"]
                .as_str()
                .ok_or_else(|| format!("enrol: {r}"))?
                .to_string(),
        );
    }
    // Batches are made before the clock starts: the agents' scanning is not measured.
    let bodies: Vec<Vec<Vec<u8>>> = (0..o.agents)
        .map(|a| (0..o.batches).map(|r| batch(a, r, o.devices)).collect())
        .collect();
    let ports: Vec<u16> = replicas.iter().map(|r| r.1).collect();
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for (a, (cred, bodies)) in credentials.into_iter().zip(bodies).enumerate() {
        let http = http.clone();
        let port = ports[a % ports.len()];
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut obs = 0u64;
            let mut failures = 0usize;
            for body in bodies {
                let id = hex::encode(Sha256::digest(&body));
                // As the agent does: a busy or failed answer is retried (the batch stays in its
                // outbox); the receipt, `stored` or `duplicate`, ends it.
                let mut attempt = 0u32;
                loop {
                    attempt += 1;
                    let t = Instant::now();
                    let r = http
                        .post(format!(
                            "http://127.0.0.1:{port}/api/v1/agents/batches/{id}"
                        ))
                        .bearer_auth(&cred)
                        .header("content-type", "application/x-ndjson")
                        .body(body.clone())
                        .send()
                        .await;
                    let elapsed = t.elapsed();
                    let retry = match r {
                        Ok(r) if r.status().is_success() => {
                            lat.push(elapsed);
                            let v: serde_json::Value = r.json().await.unwrap_or_default();
                            obs += v["observations"].as_u64().unwrap_or(0);
                            false
                        }
                        Ok(r) if r.status().as_u16() == 503 || r.status().as_u16() == 429 => true,
                        Ok(r) => {
                            eprintln!(
                                "push: {} {}",
                                r.status(),
                                r.text().await.unwrap_or_default()
                            );
                            true
                        }
                        Err(e) => {
                            eprintln!("push: {e}");
                            true
                        }
                    };
                    if !retry {
                        break;
                    }
                    failures += 1;
                    if attempt >= 60 {
                        return Err(format!("batch {id}: no receipt after {attempt} attempts"));
                    }
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt.min(10))))
                        .await;
                }
            }
            Ok((lat, obs, failures))
        }));
    }
    let mut lat = Vec::new();
    let mut observations = 0;
    let mut failures = 0;
    for t in tasks {
        let (l, n, f) = t.await??;
        lat.extend(l);
        observations += n;
        failures += f;
    }
    let seconds = t0.elapsed().as_secs_f64();
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    let memory = replicas.iter().map(|r| r.0.memory()).collect();
    // Every observation pushed is stored once.
    let stored: i64 = admin
        .store
        .list_scans(None)
        .await?
        .iter()
        .map(|s| s.observation_count)
        .sum();
    if stored as u64 != observations {
        return Err(format!("stored {stored} observations, receipts say {observations}").into());
    }
    Ok(RunResult {
        observations,
        seconds,
        p50: pct(0.5),
        p99: pct(0.99),
        memory,
        retried: failures,
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("replica") {
        return replica(&args[1..]).await;
    }
    let o = opts(&args)?;
    println!(
        "{} agents x {} devices x {} batches (2 observations per device), {} replicas",
        o.agents, o.devices, o.batches, o.replicas
    );
    let mut modes: Vec<(&str, Option<usize>)> = vec![("multi-row INSERTs (shipped)", None)];
    if o.baseline {
        modes.push(("one INSERT per row (naive)", Some(1)));
    }
    println!("| ingest | observations | seconds | observations/s | push p50 | push p99 | replica memory, peak / now (MiB) | pushes retried (busy) |");
    println!("|---|---:|---:|---:|---:|---:|---|---:|");
    for (name, rows) in modes {
        let r = run(&o, rows).await?;
        let mem: Vec<String> = r
            .memory
            .iter()
            .map(|(p, n)| format!("{p:.0} / {n:.0}"))
            .collect();
        println!(
            "| {name} | {} | {:.1} | {:.0} | {:.0} ms | {:.0} ms | {} | {} |",
            r.observations,
            r.seconds,
            r.observations as f64 / r.seconds,
            r.p50.as_secs_f64() * 1000.0,
            r.p99.as_secs_f64() * 1000.0,
            mem.join("; "),
            r.retried
        );
    }
    Ok(())
}
