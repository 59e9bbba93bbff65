//! Parsers of device replies and builders of discovery requests.
//!
//! Every parser takes untrusted bytes from the network or a file: input is size-capped, XML is
//! depth- and element-capped, nothing panics, and errors say what was wrong ([`ParseError`]).

mod devinfo;
mod dhip;
mod http;
mod onvif;
mod requests;
mod sadp;
pub(crate) mod xml;

pub use crate::error::ParseError;
pub use devinfo::{
    axis_basic_device_info, dahua_magicbox, hikvision_device_info_xml, upnp_description,
    AxisDeviceInfo, HikDeviceInfo, UpnpDevice, MAX_JSON,
};
pub use dhip::{
    dahua_discovery, dhip, dhip_json, DahuaDiscoveryReply, DhipReply, DHIP_HEADER, MAX_DHIP,
};
pub(crate) use http::floor_boundary as http_floor;
pub use http::{
    html_title, http_response, rtsp_response, ssdp_response, www_authenticate_realm, HttpResponse,
    MAX_HEADERS, MAX_MESSAGE,
};
pub use onvif::{
    decode_scope, onvif_device_info, onvif_probe_matches, OnvifDeviceInfo, ProbeMatch,
};
pub use requests::{
    dahua_discovery_request, dhip_frame, dhip_search_request, onvif_get_device_information_request,
    sadp_probe, ws_discovery_probe, ws_password_digest, DHIP_SEARCH_BODY,
};
pub(crate) use sadp::sadp_fields_plain;
pub use sadp::{sadp, SadpReply, MAX_SADP};
pub use xml::{MAX_DEPTH, MAX_NODES, MAX_XML};
