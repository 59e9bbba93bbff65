//! Issue 15's fault tests, end to end over loopback: real `camtrace serve` processes, real
//! agents (`camtrace agent run --once`, back to back, as fast as they go) scanning a device on
//! 127.0.0.1, and a fault in the middle of the load:
//!
//! - one of two server replicas over one PostgreSQL is killed (SIGKILL);
//! - PostgreSQL itself is restarted (a private instance the test starts, so the shared test
//!   server is never disturbed);
//! - the only server is killed and stays down for 60 s while the agents keep scanning into
//!   their outboxes, then comes back on the same address.
//!
//! Afterwards every agent's outbox is flushed, and every observation the agents produced must be
//! stored exactly once: as many scans as batches made, as many observations as scanned.

mod fleet;

use fleet::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What an agent made during the load: batches put in its outbox, observations in them.
#[derive(Debug, Default, Clone, Copy)]
struct Made {
    runs: i64,
    /// Runs that ended with batches left in the outbox (exit 3): the fault, seen by the agent.
    undelivered: i64,
    batches: i64,
    observations: i64,
}

/// Run `camtrace agent run --once` for `config` back to back until `stop` is set.
fn load(config: PathBuf, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Made> {
    std::thread::spawn(move || {
        let mut made = Made::default();
        while !stop.load(Ordering::SeqCst) {
            let (code, _, err) = agent(&["run", "--once", "--config", config.to_str().unwrap()]);
            assert!(code == 0 || code == 3, "agent run: {code}\n{err}");
            // "camtrace agent: scan: N observations, M new batches"
            let line = err
                .lines()
                .find(|l| l.contains("camtrace agent: scan:"))
                .unwrap_or_else(|| panic!("no scan line: {err}"));
            let nums: Vec<i64> = line
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|w| w.parse().ok())
                .collect();
            let (obs, batches) = (nums[0], nums[1]);
            assert!(batches <= 1, "one small scan is one batch: {line}");
            made.runs += 1;
            made.undelivered += i64::from(code == 3);
            made.batches += batches;
            if batches == 1 {
                made.observations += obs;
            }
        }
        made
    })
}

/// Push `config`'s outbox until it is empty.
fn flush(config: &Path) {
    let t0 = Instant::now();
    loop {
        let (code, _, err) = agent(&["push", "--config", config.to_str().unwrap()]);
        if code == 0 {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the outbox would not empty: {err}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// (scans, observations) stored for `site` in the register at `url`.
fn stored(url: &str, site: &str) -> (i64, i64) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = camtrace_store::open(url).await.unwrap();
        let scans = store.list_scans(Some(site)).await.unwrap();
        (
            scans.len() as i64,
            scans.iter().map(|s| s.observation_count).sum(),
        )
    })
}

/// An agent of `site` in `dir`, enrolled through `port`, pushing to `servers` in that order.
fn enrolled_agent(
    dir: &Path,
    port: u16,
    token: &str,
    site: &str,
    servers: &[u16],
    device: u16,
) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let config = write_config_for(dir, servers, site, device, 5);
    let enrolment = enrolment_token_for(port, token, site, &format!("{site}-agent"));
    let (code, _, err) = agent(&[
        "enrol",
        "--config",
        config.to_str().unwrap(),
        "--token",
        &enrolment,
    ]);
    assert_eq!(code, 0, "{err}");
    config
}

/// One enrolled agent per site of `sites`, each pushing to the one server on `port`; every
/// site but `hq` (made by `prepare`) is added first.
fn agents_on_one_server(dir: &Path, port: u16, token: &str, sites: &[&str]) -> Vec<PathBuf> {
    let device = device();
    sites
        .iter()
        .map(|s| {
            if *s != "hq" {
                add_site(port, token, s);
            }
            enrolled_agent(&dir.join(s), port, token, s, &[port], device)
        })
        .collect()
}

/// Every batch made is stored once, with its observations.
fn assert_exactly_once(url: &str, sites: &[&str], made: &[Made]) {
    for (site, m) in sites.iter().zip(made) {
        assert!(m.batches > 0, "{site}: the load made nothing: {m:?}");
        let (scans, observations) = stored(url, site);
        assert_eq!(
            (scans, observations),
            (m.batches, m.observations),
            "{site}: stored (scans, observations) against made (batches, observations): {m:?}"
        );
    }
}

/// Run the agents of `configs` under load; call `fault` after `before`, keep the load on for
/// `after`, then stop it and flush every outbox. Returns what each agent made.
fn under_load(
    configs: &[PathBuf],
    before: Duration,
    fault: impl FnOnce(),
    after: Duration,
) -> Vec<Made> {
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = configs
        .iter()
        .map(|c| load(c.clone(), stop.clone()))
        .collect();
    std::thread::sleep(before);
    fault();
    std::thread::sleep(after);
    stop.store(true, Ordering::SeqCst);
    let made: Vec<Made> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    eprintln!("made under load: {made:?}");
    for c in configs {
        flush(c);
    }
    made
}

#[test]
#[cfg_attr(
    not(camtrace_has_postgres),
    ignore = "needs PostgreSQL: export CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh)"
)]
fn a_replica_killed_under_load_loses_nothing() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = rt.block_on(camtrace_store::testing::fresh_postgres("cli_replicas"));
    let dir = TempDir::new("replicas");
    let (pa, pb) = (free_port(), free_port());
    let a = serve(&url, pa, &dir.path().join("a.log"));
    let token = prepare(pa);
    let b = serve(&url, pb, &dir.path().join("b.log"));
    add_site(pa, &token, "s1");
    add_site(pa, &token, "s2");
    let device = device();
    let sites = ["hq", "s1", "s2"];
    // Two agents try the replica that will die first; one tries the other first.
    let order: [&[u16]; 3] = [&[pa, pb], &[pa, pb], &[pb, pa]];
    let configs: Vec<PathBuf> = sites
        .iter()
        .zip(order)
        .map(|(s, o)| enrolled_agent(&dir.path().join(s), pb, &token, s, o, device))
        .collect();
    let mut a = Some(a);
    let made = under_load(
        &configs,
        Duration::from_secs(4),
        || drop(a.take()), // SIGKILL, then reaped
        Duration::from_secs(4),
    );
    assert!(
        made.iter().all(|m| m.runs >= 2),
        "the load ran before and after the kill: {made:?}"
    );
    assert_exactly_once(&url, &sites, &made);
    // The survivor's fleet view counts every batch once. (Agents scanning the same device in
    // the same second make identical batches: each site's is counted for its own agent.)
    let (status, v) = http(pb, "GET", "/api/v1/agents", &token, "");
    assert_eq!(status, 200, "{v}");
    let counted: i64 = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["batches"].as_i64().unwrap())
        .sum();
    assert_eq!(counted, made.iter().map(|m| m.batches).sum::<i64>(), "{v}");
    drop(b);
}

/// A PostgreSQL instance of the test's own, on a free port, stopped on drop.
struct PrivatePostgres {
    dir: TempDir,
    port: u16,
    url: String,
}

fn pg_script(pg: &Path, port: u16, action: &str) -> String {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/start-postgres.sh"
    );
    let out = Command::new("bash")
        .arg(script)
        .arg(action)
        .env("CAMTRACE_PG_PORT", port.to_string())
        .env("CAMTRACE_PG_DIR", pg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "start-postgres.sh {action}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl PrivatePostgres {
    fn start() -> PrivatePostgres {
        let dir = TempDir::new("pg");
        let port = free_port();
        let url = pg_script(&dir.path().join("pg"), port, "start");
        PrivatePostgres { dir, port, url }
    }
    fn restart(&self) {
        pg_script(&self.dir.path().join("pg"), self.port, "restart");
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../scripts/start-postgres.sh"
            ))
            .arg("stop")
            .env("CAMTRACE_PG_PORT", self.port.to_string())
            .env("CAMTRACE_PG_DIR", self.dir.path().join("pg"))
            .output();
    }
}

#[test]
#[cfg_attr(
    not(camtrace_has_postgres),
    ignore = "needs PostgreSQL: export CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh)"
)]
fn postgres_restarted_during_ingest_loses_nothing() {
    let pg = PrivatePostgres::start();
    let dir = TempDir::new("pgrestart");
    let port = free_port();
    let server = serve(&pg.url, port, &dir.path().join("serve.log"));
    let token = prepare(port);
    let sites = ["hq", "s1"];
    let configs = agents_on_one_server(dir.path(), port, &token, &sites);
    let made = under_load(
        &configs,
        Duration::from_secs(3),
        || pg.restart(),
        Duration::from_secs(4),
    );
    assert_exactly_once(&pg.url, &sites, &made);
    // The server came through it: ready, and answering from the restarted database.
    let (status, _, v) = request(port, "GET", "/readyz", "", "");
    assert_eq!(status, 200, "{v}");
    let (status, v) = http(port, "GET", "/api/v1/agents", &token, "");
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["total"], 2, "{v}");
    drop(server);
}

#[test]
#[cfg_attr(
    not(camtrace_has_postgres),
    ignore = "needs PostgreSQL: export CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh)"
)]
fn the_server_stopped_for_60_seconds_loses_nothing() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = rt.block_on(camtrace_store::testing::fresh_postgres("cli_outage"));
    let dir = TempDir::new("outage");
    let port = free_port();
    let mut server = Some(serve(&url, port, &dir.path().join("serve.log")));
    let token = prepare(port);
    let sites = ["hq", "s1"];
    let configs = agents_on_one_server(dir.path(), port, &token, &sites);
    let outage = Duration::from_secs(60);
    let made = under_load(
        &configs,
        Duration::from_secs(3),
        || {
            // SIGKILL: nothing is flushed, as when the machine dies. The agents keep scanning
            // into their outboxes for the whole outage; then the server comes back on the
            // same address.
            drop(server.take());
            let t0 = Instant::now();
            std::thread::sleep(outage);
            assert!(
                std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
                "nothing answers during the outage"
            );
            server = Some(serve(&url, port, &dir.path().join("serve2.log")));
            assert!(t0.elapsed() >= outage);
        },
        Duration::from_secs(4),
    );
    // The agents saw the outage (runs that ended with their batch kept in the outbox), and
    // kept scanning through it.
    let undelivered: i64 = made.iter().map(|m| m.undelivered).sum();
    assert!(
        made.iter().all(|m| m.undelivered >= 3),
        "every agent kept scanning through the outage: {made:?}"
    );
    assert_exactly_once(&url, &sites, &made);
    eprintln!("{undelivered} agent runs kept their batch in the outbox during the outage");
    for c in &configs {
        assert_eq!(outbox_batches(c), 0, "{} flushed", c.display());
    }
    drop(server);
}
