//! `camtrace lab`: start an emulated estate of devices and keep it running until Ctrl-C/SIGTERM.

use crate::common::Global;
use anyhow::Context;
use camtrace_lab::{Credentials, Ipv4Net, Lab, LabConfig};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// `println!` that ignores a closed stdout (e.g. piped into `head`) instead of panicking.
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

/// Devices of one (maker, brand, class) group and how many of them listen on each TCP port.
type Group = (usize, BTreeMap<u16, usize>);

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Number of emulated devices.
    #[arg(long, default_value_t = 40)]
    pub devices: usize,
    /// Address range (default 127.20.0.0/16 on loopback, 198.18.0.0/16 with --netns).
    #[arg(long, value_name = "CIDR")]
    pub range: Option<Ipv4Net>,
    /// Seed: the same seed gives the same estate.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write the manifest (ground truth: address, ports, brand, maker, model...) as JSON here.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Run the devices in a private network namespace behind a bridge (root only), so multicast
    /// discovery works as on a LAN. Scan from the printed client namespace.
    #[arg(long)]
    pub netns: bool,
    /// Only these personalities (comma-separated ids; see --list).
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub personalities: Option<Vec<String>>,
    /// Personality table (TOML, same format as the built-in crates/lab/data/personalities.toml)
    /// replacing the built-in one.
    #[arg(long, value_name = "FILE")]
    pub personality_file: Option<PathBuf>,
    /// Credentials the devices accept (USER:PASSWORD). Without, protected pages always answer 401.
    #[arg(long, value_name = "USER:PASSWORD")]
    pub credentials: Option<String>,
    /// Move ports below 1024 up by 10000 even when they could be bound (80 -> 10080).
    #[arg(long)]
    pub high_ports: bool,
    /// List the personalities and exit.
    #[arg(long)]
    pub list: bool,
    /// Start, print the summary, write the manifest and exit at once (for scripts and tests).
    #[arg(long, hide = true)]
    pub exit_after_start: bool,
}

pub fn run(_g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    if a.list {
        let ps = camtrace_lab::personality::builtin().map_err(|e| anyhow::anyhow!("{e}"))?;
        outln!(
            "{:<26} {:<14} {:<14} {:<10} {}",
            "PERSONALITY",
            "BRAND",
            "MAKER",
            "CLASS",
            "DESCRIPTION"
        );
        for p in ps {
            outln!(
                "{:<26} {:<14} {:<14} {:<10} {}",
                p.id,
                p.brand.as_deref().unwrap_or("-"),
                p.maker.as_deref().unwrap_or("-"),
                p.class.as_str(),
                p.description
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let credentials = match &a.credentials {
        None => None,
        Some(s) => {
            let (u, p) = s
                .split_once(':')
                .context("--credentials must be USER:PASSWORD")?;
            Some(Credentials {
                username: u.to_string(),
                password: p.to_string(),
            })
        }
    };
    let personalities = match &a.personality_file {
        None => None,
        Some(path) => {
            let meta =
                std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
            anyhow::ensure!(
                meta.len() <= 4 << 20,
                "{} is larger than 4 MiB",
                path.display()
            );
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Some(
                camtrace_lab::personality::parse(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
            )
        }
    };
    let cfg = LabConfig {
        personalities,
        range: a.range,
        devices: a.devices,
        seed: a.seed,
        force_high_ports: a.high_ports,
        mix: a.personalities.clone(),
        netns: a.netns,
        credentials,
        ..Default::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let t0 = std::time::Instant::now();
        let lab = Lab::start(cfg).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let m = lab.manifest();
        outln!(
            "camtrace lab: {} devices in {} (seed {}), started in {:.2?}",
            m.devices.len(),
            m.range,
            m.seed,
            t0.elapsed()
        );
        if let Some(ns) = &m.netns {
            outln!(
                "network namespace mode: scan from `ip netns exec {} ...` (client address {})",
                ns.client_ns,
                ns.client_addr
            );
        }
        let taken = m
            .devices
            .iter()
            .filter(|d| d.services.iter().any(|s| s.port_taken))
            .count();
        if taken > 0 {
            eprintln!(
                "camtrace lab: warning: on {taken} of {} devices a port was already taken on the device's own address: another `camtrace lab` on {} (or a program listening on every address) answers there too, so scans of this range see both. Stop it or choose another --range.",
                m.devices.len(),
                m.range
            );
        }
        let mut by_maker: BTreeMap<(String, String, String), Group> = BTreeMap::new();
        for d in &m.devices {
            let e = by_maker
                .entry((
                    d.maker.clone().unwrap_or_else(|| "-".into()),
                    d.brand.clone().unwrap_or_else(|| "-".into()),
                    d.device_class.as_str().to_string(),
                ))
                .or_default();
            e.0 += 1;
            for p in &d.ports {
                *e.1.entry(*p).or_default() += 1;
            }
        }
        outln!(
            "{:<14} {:<14} {:<10} {:>7}  TCP PORTS",
            "MAKER",
            "BRAND",
            "CLASS",
            "DEVICES"
        );
        for ((maker, brand, class), (n, ports)) in &by_maker {
            let ports: Vec<String> = ports.keys().map(|p| p.to_string()).collect();
            outln!(
                "{maker:<14} {brand:<14} {class:<10} {n:>7}  {}",
                ports.join(",")
            );
        }
        outln!("scan it: {}", scan_hint(m));
        if let Some(path) = &a.manifest {
            let json = serde_json::to_string_pretty(m)?;
            std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
            outln!("manifest written to {}", path.display());
        }
        if a.exit_after_start {
            lab.shutdown().await;
            return Ok(ExitCode::SUCCESS);
        }
        outln!("running; Ctrl-C to stop");
        wait_for_signal().await;
        outln!("stopping");
        lab.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// The scan command for this lab: its range, plus `--ports` for every port the lab had to move
/// (80 -> 10080 when privileged ports cannot be bound), which the curated list does not cover.
fn scan_hint(m: &camtrace_lab::Manifest) -> String {
    let mut moved: Vec<u16> = m
        .devices
        .iter()
        .flat_map(|d| d.services.iter())
        .filter(|s| s.port != s.nominal_port)
        .map(|s| s.port)
        .collect();
    moved.sort_unstable();
    moved.dedup();
    let mut cmd = String::new();
    if let Some(ns) = &m.netns {
        cmd.push_str(&format!("ip netns exec {} ", ns.client_ns));
    }
    cmd.push_str(&format!("camtrace scan {}", m.range));
    if !moved.is_empty() {
        let list: Vec<String> = moved.iter().map(|p| format!("+{p}")).collect();
        cmd.push_str(&format!(" --ports default,{}", list.join(",")));
    }
    cmd
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
