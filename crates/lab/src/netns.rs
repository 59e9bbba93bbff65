//! Network-namespace mode: a bridge namespace, a devices namespace and a client (scanner)
//! namespace joined by veth pairs on a non-routed test subnet, so multicast and broadcast
//! discovery work as on a LAN. Everything is removed on shutdown, on drop, and on setup errors.
//!
//! Layout (names carry the pid so parallel runs never collide):
//! ```text
//!  [camlab<pid>n<k>c] eth0 (client addr) ── vc ┐
//!                                              ├─ br0  [camlab<pid>n<k>b]
//!  [camlab<pid>n<k>d] eth0 (device addrs) ─ vd ┘
//! ```

use ipnet::Ipv4Net;
use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::manifest::NetnsInfo;
use crate::LabError;

/// Prefix of every namespace this crate creates.
pub const PREFIX: &str = "camlab";

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub struct NetnsGuard {
    bridge: String,
    devices: String,
    client: String,
    client_addr: Ipv4Addr,
    removed: bool,
}

fn ip(args: &[&str]) -> Result<(), LabError> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| LabError::Netns(format!("cannot run `ip`: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if err.contains("Operation not permitted") || err.contains("Permission denied") {
            Err(LabError::NeedRoot(format!("ip {}: {err}", args.join(" "))))
        } else {
            Err(LabError::Netns(format!("ip {}: {err}", args.join(" "))))
        }
    }
}

fn ns_path(name: &str) -> PathBuf {
    Path::new("/run/netns").join(name)
}

/// Remove namespaces left behind by lab processes that no longer exist.
pub fn remove_stale() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let pid: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("ip").args(["netns", "del", name]).output();
        }
    }
}

impl NetnsGuard {
    /// `hosts`: each device's address and MAC. Every device gets its own macvlan interface with
    /// its own MAC (so ARP answers carry the maker's OUI) and source-based routing so its replies
    /// leave through that interface.
    pub async fn create(range: Ipv4Net, hosts: &[(Ipv4Addr, [u8; 6])]) -> Result<Self, LabError> {
        if !nix::unistd::geteuid().is_root() {
            return Err(LabError::NeedRoot(
                "run as root (or with CAP_NET_ADMIN and CAP_SYS_ADMIN)".into(),
            ));
        }
        let hosts = hosts.to_vec();
        tokio::task::spawn_blocking(move || Self::create_blocking(range, &hosts))
            .await
            .map_err(|e| LabError::Netns(format!("setup task failed: {e}")))?
    }

    fn create_blocking(range: Ipv4Net, hosts: &[(Ipv4Addr, [u8; 6])]) -> Result<Self, LabError> {
        remove_stale();
        let k = COUNTER.fetch_add(1, Ordering::SeqCst);
        let base = format!("{PREFIX}{}n{k}", std::process::id());
        let client_addr = Ipv4Addr::from(u32::from(range.network()).saturating_add(1));
        let mut g = NetnsGuard {
            bridge: format!("{base}b"),
            devices: format!("{base}d"),
            client: format!("{base}c"),
            client_addr,
            removed: false,
        };
        if let Err(e) = g.setup(range, hosts) {
            g.remove_blocking();
            return Err(e);
        }
        Ok(g)
    }

    fn setup(&mut self, range: Ipv4Net, hosts: &[(Ipv4Addr, [u8; 6])]) -> Result<(), LabError> {
        let (b, d, c) = (
            self.bridge.clone(),
            self.devices.clone(),
            self.client.clone(),
        );
        for n in [&b, &d, &c] {
            let _ = Command::new("ip").args(["netns", "del", n]).output();
            ip(&["netns", "add", n])?;
        }
        ip(&["-n", &b, "link", "add", "br0", "type", "bridge"])?;
        // Flood multicast to every port (no IGMP snooping surprises).
        ip(&[
            "-n",
            &b,
            "link",
            "set",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ])?;
        ip(&[
            "-n", &b, "link", "add", "vd", "type", "veth", "peer", "name", "eth0", "netns", &d,
        ])?;
        ip(&[
            "-n", &b, "link", "add", "vc", "type", "veth", "peer", "name", "eth0", "netns", &c,
        ])?;
        for v in ["vd", "vc"] {
            ip(&["-n", &b, "link", "set", v, "master", "br0"])?;
            ip(&["-n", &b, "link", "set", v, "up"])?;
        }
        ip(&["-n", &b, "link", "set", "br0", "up"])?;
        let prefix = range.prefix_len().to_string();
        for n in [&d, &c] {
            ip(&["-n", n, "link", "set", "lo", "up"])?;
            ip(&["-n", n, "link", "set", "eth0", "up"])?;
            ip(&["-n", n, "link", "set", "eth0", "multicast", "on"])?;
        }
        ip(&[
            "-n",
            &c,
            "addr",
            "add",
            &format!("{}/{prefix}", self.client_addr),
            "dev",
            "eth0",
        ])?;
        // Namespace-local default route so multicast/broadcast sends have an egress interface.
        ip(&["-n", &c, "route", "add", "default", "dev", "eth0"])?;
        // Answer ARP only on the interface that holds the address (each device's macvlan), and
        // accept replies leaving through a different interface than the route would pick.
        // (Written from a thread inside the namespace: /proc/sys/net is per network namespace.)
        let sysctls = run_in_netns(&ns_path(&d), || -> Result<(), String> {
            for k in ["all", "default"] {
                for (key, val) in [
                    ("arp_ignore", "1"),
                    ("arp_announce", "2"),
                    ("rp_filter", "0"),
                ] {
                    let path = format!("/proc/sys/net/ipv4/conf/{k}/{key}");
                    std::fs::write(&path, val).map_err(|e| format!("{path}: {e}"))?;
                }
            }
            Ok(())
        })?;
        sysctls.map_err(LabError::Netns)?;
        // One macvlan per device (own MAC), address, and a source rule + table so replies leave
        // through it. All in one batch.
        let mut batch = String::new();
        batch.push_str(&format!("route add {range} dev eth0\n"));
        batch.push_str("route add default dev eth0\n");
        for (i, (a, mac)) in hosts.iter().enumerate() {
            let ifn = format!("m{i}");
            let mac = crate::identity::mac_string(mac, ":", false);
            let table = 1000 + i;
            batch.push_str(&format!(
                "link add link eth0 name {ifn} address {mac} type macvlan mode bridge\n"
            ));
            batch.push_str(&format!("link set {ifn} up\n"));
            batch.push_str(&format!("addr add {a}/32 dev {ifn}\n"));
            batch.push_str(&format!(
                "route add {range} dev {ifn} src {a} table {table}\n"
            ));
            batch.push_str(&format!(
                "route add default dev {ifn} src {a} table {table}\n"
            ));
            batch.push_str(&format!(
                "rule add from {a} lookup {table} pref {}\n",
                100 + i
            ));
        }
        let file = std::env::temp_dir().join(format!("{d}.batch"));
        std::fs::write(&file, batch)?;
        let r = ip(&["-n", &d, "-batch", &file.to_string_lossy()]);
        let _ = std::fs::remove_file(&file);
        r?;
        // Let addresses settle (DAD does not apply to IPv4, but links need to come up).
        std::thread::sleep(std::time::Duration::from_millis(100));
        Ok(())
    }

    pub fn devices_ns_path(&self) -> PathBuf {
        ns_path(&self.devices)
    }

    pub fn client_ns_path(&self) -> PathBuf {
        ns_path(&self.client)
    }

    pub fn client_ns(&self) -> &str {
        &self.client
    }

    pub fn info(&self) -> NetnsInfo {
        NetnsInfo {
            client_ns: self.client.clone(),
            client_addr: self.client_addr.to_string(),
            devices_ns: self.devices.clone(),
            bridge_ns: self.bridge.clone(),
        }
    }

    fn remove_blocking(&mut self) {
        if self.removed {
            return;
        }
        for n in [&self.client, &self.devices, &self.bridge] {
            let _ = Command::new("ip").args(["netns", "del", n]).output();
        }
        self.removed = true;
    }

    pub async fn remove(mut self) {
        let mut me = std::mem::replace(
            &mut self,
            NetnsGuard {
                bridge: String::new(),
                devices: String::new(),
                client: String::new(),
                client_addr: Ipv4Addr::UNSPECIFIED,
                removed: true,
            },
        );
        let _ = tokio::task::spawn_blocking(move || me.remove_blocking()).await;
    }
}

impl Drop for NetnsGuard {
    fn drop(&mut self) {
        self.remove_blocking();
    }
}

/// Run `f` on a fresh thread that has joined the network namespace at `path`. Sockets created by
/// `f` stay in that namespace for their whole life, whichever thread later uses them.
pub fn run_in_netns<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, LabError> {
    let path = path.to_path_buf();
    std::thread::spawn(move || -> Result<T, LabError> {
        let file = std::fs::File::open(&path)
            .map_err(|e| LabError::Netns(format!("open {}: {e}", path.display())))?;
        nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| LabError::Netns(format!("setns {}: {e}", path.display())))?;
        Ok(f())
    })
    .join()
    .map_err(|_| LabError::Netns("namespace thread panicked".into()))?
}
