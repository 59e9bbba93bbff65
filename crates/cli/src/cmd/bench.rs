//! `camtrace bench`: built-in benchmarks, run side by side in one process.
//!
//! * `bench scan`: start the lab (loopback, in-process), scan it with camtrace and identify, then
//!   run `nmap -sV -Pn` over the same ports on a random sample of the same hosts, and compare
//!   wall time, hosts/s and makers named correctly against the lab manifest.
//! * `bench identify`: identification throughput of the engine over generated observations.

use crate::common::Global;
use anyhow::Context;
use camtrace_kb::Kb;
use camtrace_model::{Identification, Observation};
use camtrace_probe::{ScanConfig, TargetSet};
use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub what: What,
}

#[derive(clap::Subcommand, Debug)]
pub enum What {
    /// camtrace scan vs nmap -sV on an in-process lab estate (loopback only).
    Scan(ScanBench),
    /// Identification engine throughput over generated observations.
    Identify(IdentifyBench),
}

#[derive(clap::Args, Debug)]
pub struct ScanBench {
    /// Emulated devices in the lab.
    #[arg(long, default_value_t = 1000)]
    pub devices: usize,
    /// Lab address range (a /16 inside 127.0.0.0/8).
    #[arg(long, default_value = "127.60.0.0/16", value_name = "CIDR")]
    pub range: String,
    /// Lab seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Hosts given to nmap (a random sample of the lab; its time is scaled up to all hosts).
    /// 0 skips nmap.
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub nmap_sample: usize,
    /// nmap timing template (-T0..5); T4 is nmap's recommended fast profile for LANs.
    #[arg(long, default_value_t = 4)]
    pub nmap_timing: u8,
    /// camtrace connection rate for the run (the loopback default of `camtrace scan`).
    #[arg(long, default_value_t = 100000.0)]
    pub rate: f64,
    /// Give camtrace only the lab's device addresses instead of sweeping the whole range.
    #[arg(long)]
    pub devices_only: bool,
    /// Write the results as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<std::path::PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct IdentifyBench {
    /// Distinct hosts to identify (observations are replicated from one scan of a small lab).
    #[arg(long, default_value_t = 100_000)]
    pub hosts: usize,
    /// Devices in the small lab the observations come from.
    #[arg(long, default_value_t = 60)]
    pub lab_devices: usize,
    /// Lab address range (a /16 inside 127.0.0.0/8).
    #[arg(long, default_value = "127.61.0.0/16", value_name = "CIDR")]
    pub range: String,
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    match a.what {
        What::Scan(b) => bench_scan(g, b),
        What::Identify(b) => bench_identify(g, b),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn lab_range(s: &str) -> anyhow::Result<camtrace_lab::Ipv4Net> {
    let r: camtrace_lab::Ipv4Net = s.parse().with_context(|| format!("bad range `{s}`"))?;
    let lo: camtrace_lab::Ipv4Net = "127.0.0.0/8".parse()?;
    if !lo.contains(&r) {
        anyhow::bail!("benchmarks run on loopback only: {s} is not inside 127.0.0.0/8");
    }
    Ok(r)
}

/// Maps maker/brand names found in free text (nmap product strings) to company ids, from the KB.
pub(crate) struct NameMatcher {
    /// (lower-case needle, company id), longest needles first.
    needles: Vec<(String, String)>,
}

impl NameMatcher {
    pub(crate) fn new(kb: &Kb) -> Self {
        let today = chrono::Utc::now().date_naive();
        let mut needles: Vec<(String, String)> = Vec::new();
        for c in &kb.companies {
            for n in std::iter::once(&c.id)
                .chain(std::iter::once(&c.short))
                .chain(c.aliases.iter())
            {
                if n.len() >= 3 {
                    needles.push((n.to_lowercase(), c.id.clone()));
                }
            }
        }
        for b in &kb.brands {
            let maker = kb
                .oem_for(&b.id, None, today)
                .first()
                .map(|l| l.maker.clone())
                .or_else(|| kb.brand_owner_on(&b.id, today).map(|o| o.company.clone()));
            if let Some(m) = maker {
                for n in std::iter::once(&b.name).chain(b.aliases.iter()) {
                    if n.len() >= 3 && !needles.iter().any(|(x, _)| *x == n.to_lowercase()) {
                        needles.push((n.to_lowercase(), m.clone()));
                    }
                }
            }
        }
        needles.sort_by_key(|n| std::cmp::Reverse(n.0.len()));
        Self { needles }
    }

    /// The company named in `text` (whole-word, case-insensitive), if any.
    pub(crate) fn find(&self, text: &str) -> Option<&str> {
        let t = text.to_lowercase();
        for (n, id) in &self.needles {
            let mut from = 0;
            while let Some(i) = t[from..].find(n.as_str()) {
                let s = from + i;
                let e = s + n.len();
                let before = t[..s]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !c.is_alphanumeric());
                let after = t[e..].chars().next().is_none_or(|c| !c.is_alphanumeric());
                if before && after {
                    return Some(id);
                }
                from = e;
            }
        }
        None
    }
}

/// Per host: the strings nmap produced (service name, product, version, extra info, device
/// type, CPE names, script output), read by the importer's nmap reader.
pub(crate) fn parse_nmap_xml(xml: &str) -> anyhow::Result<HashMap<String, Vec<String>>> {
    use camtrace_model::ObservationKind;
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for o in camtrace_ingest::nmap::read(xml.as_bytes(), "nmap") {
        let o = o.context("reading nmap's XML")?;
        let e = out.entry(o.target).or_default();
        match o.kind {
            ObservationKind::Port {
                protocol, banner, ..
            } => {
                e.extend(protocol);
                // CPE names (`cpe:/h:hikvision:ipcam`) as words.
                e.extend(banner.map(|b| b.replace([':', '/', '_'], " ")));
            }
            ObservationKind::Http { headers, title, .. } => {
                e.extend(title);
                e.extend(headers.into_values());
            }
            ObservationKind::Tls { subject, .. } => e.push(subject),
            _ => {}
        }
    }
    Ok(out)
}

#[derive(Debug, serde::Serialize)]
struct ToolResult {
    tool: String,
    hosts: usize,
    wall_secs: f64,
    hosts_per_sec: f64,
    makers_right: usize,
    makers_expected: usize,
    non_camera_as_camera: usize,
    non_camera_hosts: usize,
}

fn score(
    manifest: &[&camtrace_lab::ManifestDevice],
    predicted: &HashMap<String, (Option<String>, bool)>,
) -> (usize, usize, usize, usize) {
    let mut right = 0;
    let mut expected = 0;
    let mut false_cam = 0;
    let mut non_cam = 0;
    for d in manifest {
        let p = predicted.get(&d.target);
        if let Some(m) = &d.maker {
            expected += 1;
            if p.and_then(|(pm, _)| pm.as_ref()) == Some(m) {
                right += 1;
            }
        }
        if !d.device_class.is_surveillance() {
            non_cam += 1;
            if p.is_some_and(|(_, cam)| *cam) {
                false_cam += 1;
            }
        }
    }
    (right, expected, false_cam, non_cam)
}

fn bench_scan(g: &Global, b: ScanBench) -> anyhow::Result<ExitCode> {
    let range = lab_range(&b.range)?;
    let kb = g.load_kb()?;
    let ident = super::scan::Identifier::new(g)?;
    let matcher = NameMatcher::new(&kb);
    let rt = runtime()?;
    let lab = rt
        .block_on(camtrace_lab::Lab::start(camtrace_lab::LabConfig {
            devices: b.devices,
            range: Some(range),
            seed: b.seed,
            ..Default::default()
        }))
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("starting the lab")?;
    let manifest = lab.manifest().clone();
    let devices: Vec<&camtrace_lab::ManifestDevice> = manifest.devices.iter().collect();
    // The whole range, as a user scans it (host discovery finds the devices among the empty
    // addresses), unless --devices-only hands camtrace the answer.
    let targets: Vec<String> = if b.devices_only {
        devices.iter().map(|d| d.target.clone()).collect()
    } else {
        vec![range.to_string()]
    };
    let addresses: u64 = if b.devices_only {
        devices.len() as u64
    } else {
        1u64 << (32 - range.prefix_len())
    };
    let ports = camtrace_probe::default_ports();
    eprintln!(
        "bench scan: lab of {} devices on {} (seed {}), {} ports; camtrace scans {}",
        devices.len(),
        range,
        b.seed,
        ports.len(),
        if b.devices_only {
            "the device addresses"
        } else {
            "every address of the range"
        }
    );

    // camtrace
    let cfg = ScanConfig {
        ports: ports.clone(),
        rate: b.rate,
        ..Default::default()
    };
    let set = TargetSet::new(
        camtrace_probe::targets::parse_specs(&targets, false)?,
        vec![],
    );
    let t0 = Instant::now();
    let (obs, summary) = rt.block_on(camtrace_probe::scan_collect(&cfg, &set))?;
    let ids: Vec<Identification> = ident.identify(&obs);
    let ct_secs = t0.elapsed().as_secs_f64();
    let ct_pred: HashMap<String, (Option<String>, bool)> = ids
        .iter()
        .map(|i| {
            (
                i.target.clone(),
                (
                    i.maker.as_ref().map(|m| m.id.clone()),
                    i.device_class.is_surveillance(),
                ),
            )
        })
        .collect();
    let (r, e, fc, nc) = score(&devices, &ct_pred);
    let camtrace = ToolResult {
        tool: "camtrace".into(),
        hosts: devices.len(),
        wall_secs: ct_secs,
        hosts_per_sec: devices.len() as f64 / ct_secs.max(1e-9),
        makers_right: r,
        makers_expected: e,
        non_camera_as_camera: fc,
        non_camera_hosts: nc,
    };
    eprintln!(
        "camtrace: {} addresses, {} hosts up, in {:.2}s ({} connects, {} UDP replies, {} observations)",
        addresses,
        summary.hosts_up,
        ct_secs,
        summary.tcp_connects,
        summary.udp_replies,
        obs.len()
    );

    // nmap on a sample
    let mut nmap_res: Option<(ToolResult, ToolResult, String)> = None;
    if b.nmap_sample > 0 {
        match which_nmap() {
            None => eprintln!("SKIP nmap: not installed"),
            Some(nmap) => {
                let sample = sample(&devices, b.nmap_sample, b.seed);
                let port_arg = ports
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(",");
                let mut cmd = std::process::Command::new(&nmap);
                cmd.args([
                    "-sV",
                    "-Pn",
                    "-n",
                    &format!("-T{}", b.nmap_timing.min(5)),
                    "-p",
                    &port_arg,
                    "-oX",
                    "-",
                ]);
                cmd.args(sample.iter().map(|d| d.target.as_str()));
                let shown = format!(
                    "nmap -sV -Pn -n -T{} -p {} -oX - <{} sampled hosts>",
                    b.nmap_timing.min(5),
                    port_arg,
                    sample.len()
                );
                eprintln!("running: {shown}");
                let t1 = Instant::now();
                let out = rt.block_on(async {
                    tokio::task::spawn_blocking(move || cmd.output()).await
                })??;
                let nm_secs = t1.elapsed().as_secs_f64();
                if !out.status.success() {
                    anyhow::bail!("nmap failed: {}", String::from_utf8_lossy(&out.stderr));
                }
                let hosts = parse_nmap_xml(&String::from_utf8_lossy(&out.stdout))?;
                let nm_pred: HashMap<String, (Option<String>, bool)> = hosts
                    .iter()
                    .map(|(ip, strings)| {
                        let joined = strings.join(" | ");
                        let maker = matcher.find(&joined).map(str::to_string);
                        let cam = strings.iter().any(|s| {
                            let l = s.to_lowercase();
                            l.contains("camera")
                                || l.contains("webcam")
                                || l.contains("dvr")
                                || l.contains("nvr")
                        });
                        (ip.clone(), (maker, cam))
                    })
                    .collect();
                let mut nm_miss: BTreeMap<String, usize> = BTreeMap::new();
                for d in &sample {
                    if let Some(m) = &d.maker {
                        if nm_pred.get(&d.target).and_then(|(p, _)| p.as_ref()) != Some(m) {
                            *nm_miss.entry(d.personality.clone()).or_default() += 1;
                        }
                    }
                }
                if !nm_miss.is_empty() {
                    eprintln!("nmap misses by personality: {nm_miss:?}");
                }
                let (r, e, fc, nc) = score(&sample, &nm_pred);
                let nm = ToolResult {
                    tool: "nmap -sV".into(),
                    hosts: sample.len(),
                    wall_secs: nm_secs,
                    hosts_per_sec: sample.len() as f64 / nm_secs.max(1e-9),
                    makers_right: r,
                    makers_expected: e,
                    non_camera_as_camera: fc,
                    non_camera_hosts: nc,
                };
                let (r, e, fc, nc) = score(&sample, &ct_pred);
                let ct_sample = ToolResult {
                    tool: "camtrace (same sample)".into(),
                    hosts: sample.len(),
                    wall_secs: ct_secs * sample.len() as f64 / devices.len().max(1) as f64,
                    hosts_per_sec: camtrace.hosts_per_sec,
                    makers_right: r,
                    makers_expected: e,
                    non_camera_as_camera: fc,
                    non_camera_hosts: nc,
                };
                nmap_res = Some((nm, ct_sample, shown));
            }
        }
    }
    rt.block_on(lab.shutdown());

    // report
    println!();
    println!(
        "camtrace bench scan: {} lab devices in {}, {} TCP ports (loopback, one process)",
        devices.len(),
        range,
        ports.len()
    );
    println!(
        "camtrace swept {} addresses ({}); hosts/s below counts lab devices",
        addresses,
        if b.devices_only {
            "the device addresses only"
        } else {
            "the whole range, host discovery included"
        }
    );
    println!("{:<34} {:>16} {:>22}", "", "camtrace", "nmap -sV (sampled)");
    let pct = |r: usize, e: usize| {
        if e == 0 {
            0.0
        } else {
            100.0 * r as f64 / e as f64
        }
    };
    match &nmap_res {
        Some((nm, cs, shown)) => {
            let scaled = nm.wall_secs * devices.len() as f64 / nm.hosts.max(1) as f64;
            println!(
                "{:<34} {:>16} {:>22}",
                "hosts scanned",
                camtrace.hosts,
                format!("{} of {}", nm.hosts, devices.len())
            );
            println!(
                "{:<34} {:>15.2}s {:>21.1}s",
                "wall time (measured)", camtrace.wall_secs, nm.wall_secs
            );
            println!(
                "{:<34} {:>15.2}s {:>21.1}s",
                format!("wall time for {} hosts", devices.len()),
                camtrace.wall_secs,
                scaled
            );
            println!(
                "{:<34} {:>16.1} {:>22.2}",
                "hosts/s", camtrace.hosts_per_sec, nm.hosts_per_sec
            );
            println!(
                "{:<34} {:>16} {:>22}",
                "makers right (sample)",
                format!(
                    "{}/{} ({:.0}%)",
                    cs.makers_right,
                    cs.makers_expected,
                    pct(cs.makers_right, cs.makers_expected)
                ),
                format!(
                    "{}/{} ({:.0}%)",
                    nm.makers_right,
                    nm.makers_expected,
                    pct(nm.makers_right, nm.makers_expected)
                )
            );
            println!(
                "{:<34} {:>16} {:>22}",
                "makers right (all hosts)",
                format!(
                    "{}/{} ({:.1}%)",
                    camtrace.makers_right,
                    camtrace.makers_expected,
                    pct(camtrace.makers_right, camtrace.makers_expected)
                ),
                "-"
            );
            println!(
                "{:<34} {:>16} {:>22}",
                "non-cameras called camera",
                format!(
                    "{}/{}",
                    camtrace.non_camera_as_camera, camtrace.non_camera_hosts
                ),
                format!("{}/{}", nm.non_camera_as_camera, nm.non_camera_hosts)
            );
            println!(
                "{:<34} {:>16.0}x",
                "speed-up (hosts/s)",
                camtrace.hosts_per_sec / nm.hosts_per_sec.max(1e-9)
            );
            println!("nmap command: {shown}");
        }
        None => {
            println!("{:<34} {:>16}", "hosts scanned", camtrace.hosts);
            println!("{:<34} {:>15.2}s", "wall time", camtrace.wall_secs);
            println!("{:<34} {:>16.1}", "hosts/s", camtrace.hosts_per_sec);
            println!(
                "{:<34} {:>16}",
                "makers right",
                format!(
                    "{}/{} ({:.1}%)",
                    camtrace.makers_right,
                    camtrace.makers_expected,
                    pct(camtrace.makers_right, camtrace.makers_expected)
                )
            );
            println!(
                "{:<34} {:>16}",
                "non-cameras called camera",
                format!(
                    "{}/{}",
                    camtrace.non_camera_as_camera, camtrace.non_camera_hosts
                )
            );
        }
    }
    // misses, for the curious
    let mut misses: BTreeMap<String, usize> = BTreeMap::new();
    for d in &devices {
        if let Some(m) = &d.maker {
            if ct_pred.get(&d.target).and_then(|(p, _)| p.as_ref()) != Some(m) {
                *misses.entry(d.personality.clone()).or_default() += 1;
            }
        }
    }
    if !misses.is_empty() {
        println!("camtrace misses by personality: {misses:?}");
    }
    if let Some(path) = &b.json {
        let v = serde_json::json!({
            "devices": devices.len(),
            "addresses_scanned": addresses,
            "ports": ports,
            "camtrace": camtrace,
            "nmap": nmap_res.as_ref().map(|(n, _, _)| n),
            "camtrace_on_nmap_sample": nmap_res.as_ref().map(|(_, c, _)| c),
            "nmap_command": nmap_res.as_ref().map(|(_, _, s)| s),
        });
        std::fs::write(path, serde_json::to_string_pretty(&v)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn which_nmap() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("nmap"))
        .find(|p| p.is_file())
}

/// A deterministic random sample (xorshift over the seed).
fn sample<'a>(
    devices: &[&'a camtrace_lab::ManifestDevice],
    n: usize,
    seed: u64,
) -> Vec<&'a camtrace_lab::ManifestDevice> {
    let mut v: Vec<&camtrace_lab::ManifestDevice> = devices.to_vec();
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
    v.truncate(n.min(v.len()));
    v
}

fn bench_identify(g: &Global, b: IdentifyBench) -> anyhow::Result<ExitCode> {
    let range = lab_range(&b.range)?;
    let ident = super::scan::Identifier::new(g)?;
    let rt = runtime()?;
    let lab = rt
        .block_on(camtrace_lab::Lab::start(camtrace_lab::LabConfig {
            devices: b.lab_devices,
            range: Some(range),
            ..Default::default()
        }))
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("starting the lab")?;
    let targets: Vec<String> = lab
        .manifest()
        .devices
        .iter()
        .map(|d| d.target.clone())
        .collect();
    let set = TargetSet::new(
        camtrace_probe::targets::parse_specs(&targets, false)?,
        vec![],
    );
    let cfg = ScanConfig {
        rate: 20000.0,
        udp_wait: Duration::from_millis(500),
        ..Default::default()
    };
    let (obs, _) = rt.block_on(camtrace_probe::scan_collect(&cfg, &set))?;
    rt.block_on(lab.shutdown());
    // replicate per host under new target names
    let mut by_host: BTreeMap<String, Vec<Observation>> = BTreeMap::new();
    for o in obs {
        by_host.entry(o.target.clone()).or_default().push(o);
    }
    let templates: Vec<Vec<Observation>> = by_host.into_values().collect();
    if templates.is_empty() {
        anyhow::bail!("the lab scan produced no observations");
    }
    let mut all = Vec::new();
    for i in 0..b.hosts {
        let t = &templates[i % templates.len()];
        let name = format!("host-{i}");
        all.extend(t.iter().cloned().map(|mut o| {
            o.target = name.clone();
            o
        }));
    }
    let n_obs = all.len();
    let t0 = Instant::now();
    let ids = ident.identify(&all);
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "camtrace bench identify: {} hosts, {} observations identified in {:.3}s: {:.0} hosts/s, {:.0} observations/s ({} identifications)",
        b.hosts,
        n_obs,
        secs,
        b.hosts as f64 / secs.max(1e-9),
        n_obs as f64 / secs.max(1e-9),
        ids.len()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nmap_xml_strings_per_host() {
        let xml = r#"<?xml version="1.0"?><nmaprun><host><address addr="127.60.0.5" addrtype="ipv4"/><ports><port protocol="tcp" portid="8000"><state state="open"/><service name="ipcam" product="Hikvision IPCam control port" devicetype="webcam"><cpe>cpe:/h:hikvision:ipcam</cpe></service></port></ports></host><host><address addr="127.60.0.6" addrtype="ipv4"/></host></nmaprun>"#;
        let h = parse_nmap_xml(xml).unwrap();
        assert!(h["127.60.0.5"]
            .iter()
            .any(|s| s.contains("Hikvision IPCam")));
        assert!(h["127.60.0.5"]
            .iter()
            .any(|s| s.contains("hikvision ipcam")));
        // A host with nothing open says nothing.
        assert!(!h.contains_key("127.60.0.6"));
        assert!(parse_nmap_xml("<not xml").is_err());
    }

    #[test]
    fn names_match_whole_words_from_the_kb() {
        let kb = Kb::embedded().unwrap();
        let m = NameMatcher::new(&kb);
        assert_eq!(m.find("Hikvision IPCam control port"), Some("hikvision"));
        assert_eq!(m.find("Dahua Rtsp Server"), Some("dahua"));
        assert_eq!(m.find("nginx"), None);
        assert_eq!(m.find("xhikvisionx"), None);
    }

    #[test]
    fn samples_are_deterministic_subsets() {
        let d: Vec<camtrace_lab::ManifestDevice> = (0..20)
            .map(|i| {
                serde_json::from_value(serde_json::json!({
                    "target": format!("127.0.0.{i}"), "ports": [], "udp_ports": [], "services": [],
                    "brand": null, "maker": null, "model": "", "firmware": "", "serial": "",
                    "device_class": "camera", "personality": "p", "mac": "", "uuid": ""
                }))
                .unwrap()
            })
            .collect();
        let refs: Vec<&camtrace_lab::ManifestDevice> = d.iter().collect();
        let a = sample(&refs, 5, 7);
        let b = sample(&refs, 5, 7);
        assert_eq!(a.len(), 5);
        assert_eq!(
            a.iter().map(|x| &x.target).collect::<Vec<_>>(),
            b.iter().map(|x| &x.target).collect::<Vec<_>>()
        );
    }
}
