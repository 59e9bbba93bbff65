//! What a running lab contains: ground truth for scanner and identification tests.

use camtrace_model::DeviceClass;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The address range devices were placed in.
    pub range: String,
    pub seed: u64,
    /// Namespaces, when the lab runs in netns mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<NetnsInfo>,
    pub devices: Vec<ManifestDevice>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetnsInfo {
    /// Namespace to run a scanner in (`ip netns exec <client_ns> ...`).
    pub client_ns: String,
    /// The scanner side's address inside `client_ns`.
    pub client_addr: String,
    /// Namespace holding the devices.
    pub devices_ns: String,
    /// Namespace holding the bridge.
    pub bridge_ns: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePort {
    /// Port actually bound.
    pub port: u16,
    /// Port the real device uses (differs when a privileged port fell back to a high one).
    pub nominal_port: u16,
    /// "http", "rtsp", "hik-sdk", "dahua-dvrip", "ipp", "banner".
    pub protocol: String,
    /// A port this service tried (nominal or fallback) was taken on this address by another
    /// program (another lab on the same range, or a service listening on every address), not
    /// merely privileged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub port_taken: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestDevice {
    /// IPv4 address of the device.
    pub target: String,
    /// TCP ports actually bound, ascending.
    pub ports: Vec<u16>,
    /// UDP discovery ports answered, ascending.
    pub udp_ports: Vec<u16>,
    /// TCP services with their nominal ports.
    pub services: Vec<ServicePort>,
    /// Canonical brand id (kb/brands), None for unbranded devices.
    pub brand: Option<String>,
    /// Canonical company id (kb/companies), None when unknown/generic.
    pub maker: Option<String>,
    pub model: String,
    pub firmware: String,
    pub serial: String,
    pub device_class: DeviceClass,
    /// Personality id.
    pub personality: String,
    /// MAC, lower-case colon form.
    pub mac: String,
    /// UUID used in WS-Discovery / SADP / SSDP.
    pub uuid: String,
}

impl Manifest {
    /// Devices of one personality.
    pub fn by_personality<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a ManifestDevice> {
        self.devices.iter().filter(move |d| d.personality == id)
    }
}

impl ManifestDevice {
    /// Bound port of the first service with this protocol.
    pub fn port_of(&self, protocol: &str) -> Option<u16> {
        self.services
            .iter()
            .find(|s| s.protocol == protocol)
            .map(|s| s.port)
    }
}
