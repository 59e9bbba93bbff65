//! Issue 15, item 6: `camtrace demo --agents N` runs a central server on loopback and N site
//! agents, each enrolled with a one-time token, scanning its own emulated site and pushing its
//! evidence through the agents' ingest path; the fleet view and the findings arrive. Loopback
//! only.

use std::process::Command;

#[test]
fn a_fleet_of_agents_enrols_scans_and_delivers() {
    let out = std::env::temp_dir().join(format!("camtrace-fleet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let o = Command::new(env!("CARGO_BIN_EXE_camtrace"))
        .args(["demo", "--agents", "4", "--out"])
        .arg(&out)
        .env_remove("CAMTRACE_KB")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("fleet-site-"))
        .collect();
    assert_eq!(rows.len(), 4, "{stdout}");
    let mut restricted_total = 0;
    for r in &rows {
        let f: Vec<&str> = r.split_whitespace().collect();
        // SITE RANGE OBS BATCHES OUTBOX DEVICES RESTRICTED AGENT
        assert!(f[2].parse::<u64>().unwrap() > 0, "observations: {r}");
        assert_eq!(f[3], "1", "one batch delivered: {r}");
        assert_eq!(f[4], "0", "outbox empty: {r}");
        assert!(f[5].parse::<u64>().unwrap() > 0, "devices registered: {r}");
        restricted_total += f[6].parse::<u64>().unwrap();
        assert_eq!(f[7], "reporting", "{r}");
    }
    assert!(restricted_total > 0, "{stdout}");
    assert!(
        stdout.contains("4 agents enrolled, 4 delivered"),
        "{stdout}"
    );

    // The register it leaves holds the four agents, their scans and the devices they found.
    let db = out.join("camtrace.db");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = camtrace_store::open(db.to_str().unwrap()).await.unwrap();
        let agents = store.list_agents(None).await.unwrap();
        assert_eq!(agents.len(), 4);
        assert!(agents
            .iter()
            .all(|a| a.batches == 1 && a.revoked_at.is_none()));
        let scans = store.list_scans(None).await.unwrap();
        assert_eq!(scans.len(), 4, "one scan per site");
        let mut sites: Vec<_> = scans.iter().filter_map(|s| s.site.clone()).collect();
        sites.sort();
        assert_eq!(
            sites,
            [
                "fleet-site-01",
                "fleet-site-02",
                "fleet-site-03",
                "fleet-site-04"
            ]
        );
    });
    // Each agent kept its own configuration and credential, readable by its owner only.
    let cred = out.join("agents/fleet-site-01/agent.credential");
    assert!(cred.is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&cred).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
    let _ = std::fs::remove_dir_all(&out);
}
