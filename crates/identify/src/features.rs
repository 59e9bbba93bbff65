//! Observations to `(field, value)` features, the input of the signature engine.
//!
//! Field names per observation kind (the `field` of a signature):
//!
//! | kind | fields |
//! |---|---|
//! | `http` | `header:<lower-case name>` (e.g. `header:server`, `header:set-cookie`), `title` (the observation's title, or the `<title>` of the body), `body`, `realm` (of `WWW-Authenticate`), `favicon_md5`, `path`, `status`; parsed bodies add `vapix:<property>` (Axis basicdeviceinfo), `isapi:<element>` (Hikvision ISAPI deviceInfo), `magicbox:<key>` (Dahua magicBox) |
//! | `rtsp` | `header:<lower-case name>`, `realm` |
//! | `tls` | `subject`, `issuer`, `san` (one feature per name) |
//! | `onvif_probe_match` | `scope:name`, `scope:hardware`, `scope:location`, `scope:type`, `scope:mac`, `scope:profile`, `scope` (every decoded scope URI), `scopes` (all decoded scopes joined by one space, in order), `types` (one feature per type), `xaddr` |
//! | `onvif_device_info` | `manufacturer`, `model`, `firmware`, `serial`, `hardware_id` |
//! | `sadp` | `reply` (root element, `ProbeMatch`), then each element name as sent: `DeviceDescription`, `DeviceSN`, `DeviceType`, `OEMInfo`, `SoftwareVersion`, `DSPVersion`, `MAC`, `AnalogChannelNum`, `DigitalChannelNum`, ... |
//! | `dhip` | `method`, `mac`, and each `deviceInfo` field: `Vendor`, `DeviceType`, `DeviceClass`, `Version`, `SerialNo`, `MachineName`, ... |
//! | `dahua_discovery` | `mac`, `model`, `machine_name`, and each `Key:` line (`Name`, `Device`, `SerialNo`, ...) |
//! | `ssdp` | `header:<lower-case name>`, and from the description: `manufacturer`, `modelName`, `modelNumber`, `modelDescription`, `friendlyName`, `deviceType` |
//! | `mdns` | `service`, `instance`, `txt` (each TXT string, `key=value`), `txt:<lower-case key>` |
//! | `dhcp` | `vendor_class`, `hostname` |
//! | `telnet`, `ftp`, `snmp_sysdescr` | `banner` |
//! | `dns` | `query` |
//! | `port` | `port` (decimal), `banner` |
//! | `mac` | `mac` |

use crate::parse;
use base64::Engine as _;
use camtrace_model::ObservationKind;

/// A field name: static, or `header:`/`txt:`/... with a dynamic part (lower-cased when the key
/// is built).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Field<'a> {
    Static(&'a str),
    /// Prefix (e.g. `header:`) and a name that is lower-cased.
    Lower(&'static str, &'a str),
    /// Prefix (e.g. `isapi:`) and a name kept as is.
    Exact(&'static str, &'a str),
}

impl Field<'_> {
    pub fn write(&self, out: &mut String) {
        match self {
            Field::Static(s) => out.push_str(s),
            Field::Lower(p, n) => {
                out.push_str(p);
                out.extend(n.chars().map(|c| c.to_ascii_lowercase()));
            }
            Field::Exact(p, n) => {
                out.push_str(p);
                out.push_str(n);
            }
        }
    }
    pub fn to_string_owned(self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }
}

/// Structured facts read from parsed payloads, fed to the result directly.
#[derive(Debug, Default)]
pub(crate) struct Structured {
    /// (value, weight, what) — `what` names the field for evidence.
    pub model: Vec<(String, f64, &'static str)>,
    pub firmware: Vec<(String, f64, &'static str)>,
    /// Brand or maker names as the device states them.
    pub names: Vec<(String, f64, &'static str)>,
    pub macs: Vec<(String, &'static str)>,
    /// Parse failures worth an evidence line.
    pub notes: Vec<String>,
}

const MAX_VALUE: usize = 256 * 1024;

fn clip(s: &str) -> &str {
    &s[..parse::http_floor(s, MAX_VALUE)]
}

/// Call `emit` for every feature of one observation, and collect structured facts.
/// Decimal text of a number without allocating.
fn dec(n: u16, buf: &mut [u8; 5]) -> &str {
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("")
}

/// Call `emit` for every feature of one observation, and collect structured facts. `want`
/// says whether a derived field (realm, title from the body, status, port) is used by any
/// signature, so that it is only computed when needed.
pub(crate) fn features(
    kind: &ObservationKind,
    st: &mut Structured,
    want: &dyn Fn(&str) -> bool,
    emit: &mut dyn FnMut(Field<'_>, &str),
) {
    let mut nbuf = [0u8; 5];
    match kind {
        ObservationKind::Mac { mac } => {
            emit(Field::Static("mac"), mac);
            st.macs.push((mac.clone(), "mac"));
        }
        ObservationKind::Http {
            path,
            status,
            headers,
            title,
            body,
            favicon_md5,
            ..
        } => {
            for (k, v) in headers.iter().take(128) {
                emit(Field::Lower("header:", k), clip(v));
                if k.eq_ignore_ascii_case("www-authenticate") && want("realm") {
                    if let Some(r) = parse::www_authenticate_realm(v) {
                        emit(Field::Static("realm"), &r);
                    }
                }
            }
            if let Some(s) = status {
                emit(Field::Static("status"), dec(*s, &mut nbuf));
            }
            if let Some(p) = path {
                emit(Field::Static("path"), clip(p));
            }
            match (title, body) {
                (Some(t), _) if !t.is_empty() => emit(Field::Static("title"), clip(t)),
                (_, Some(b)) if want("title") => {
                    if let Some(t) = parse::html_title(b) {
                        emit(Field::Static("title"), &t)
                    }
                }
                _ => {}
            }
            if let Some(f) = favicon_md5 {
                emit(Field::Static("favicon_md5"), &f.to_ascii_lowercase());
            }
            if let Some(b) = body {
                emit(Field::Static("body"), clip(b));
                http_documents(path.as_deref().unwrap_or(""), b, st, emit);
            }
        }
        ObservationKind::Rtsp { headers, .. } => {
            for (k, v) in headers.iter().take(128) {
                emit(Field::Lower("header:", k), clip(v));
                if k.eq_ignore_ascii_case("www-authenticate") && want("realm") {
                    if let Some(r) = parse::www_authenticate_realm(v) {
                        emit(Field::Static("realm"), &r);
                    }
                }
            }
        }
        ObservationKind::Tls {
            subject,
            issuer,
            san,
            ..
        } => {
            emit(Field::Static("subject"), clip(subject));
            emit(Field::Static("issuer"), clip(issuer));
            for s in san.iter().take(64) {
                emit(Field::Static("san"), clip(s));
            }
        }
        ObservationKind::OnvifProbeMatch {
            scopes,
            types,
            xaddrs,
            ..
        } => {
            let decoded: Vec<String> = scopes
                .iter()
                .take(128)
                .map(|s| parse::decode_scope(s))
                .collect();
            let pm = parse::ProbeMatch {
                scopes: decoded,
                types: types.clone(),
                ..Default::default()
            };
            for cat in ["name", "hardware", "location", "type", "mac", "profile"] {
                let field = match cat {
                    "name" => "scope:name",
                    "hardware" => "scope:hardware",
                    "location" => "scope:location",
                    "type" => "scope:type",
                    "mac" => "scope:mac",
                    _ => "scope:profile",
                };
                for v in pm.scope_values(cat) {
                    emit(Field::Static(field), v);
                    match cat {
                        "name" => st.names.push((v.to_string(), 0.75, "ONVIF scope name")),
                        "hardware" => st.model.push((v.to_string(), 0.6, "ONVIF scope hardware")),
                        "mac" => st.macs.push((v.to_string(), "ONVIF scope MAC")),
                        _ => {}
                    }
                }
            }
            for s in &pm.scopes {
                emit(Field::Static("scope"), s);
            }
            emit(Field::Static("scopes"), &pm.scopes.join(" "));
            for t in types.iter().take(64) {
                emit(Field::Static("types"), t);
            }
            for x in xaddrs.iter().take(64) {
                emit(Field::Static("xaddr"), x);
            }
        }
        ObservationKind::OnvifDeviceInfo {
            manufacturer,
            model,
            firmware,
            serial,
            hardware_id,
        } => {
            emit(Field::Static("manufacturer"), manufacturer);
            emit(Field::Static("model"), model);
            emit(Field::Static("firmware"), firmware);
            emit(Field::Static("serial"), serial);
            emit(Field::Static("hardware_id"), hardware_id);
            if !manufacturer.trim().is_empty() {
                st.names.push((
                    manufacturer.clone(),
                    0.85,
                    "ONVIF GetDeviceInformation Manufacturer",
                ));
            }
            if !model.trim().is_empty() {
                st.model.push((
                    model.trim().to_string(),
                    0.9,
                    "ONVIF GetDeviceInformation Model",
                ));
            }
            if !firmware.trim().is_empty() {
                st.firmware.push((
                    firmware.trim().to_string(),
                    0.9,
                    "ONVIF GetDeviceInformation FirmwareVersion",
                ));
            }
        }
        ObservationKind::Sadp { payload } => match parse::sadp_fields_plain(payload) {
            // The plain form, read without building a tree (the same fields as `parse::sadp`).
            Some(fields) => {
                emit(Field::Static("reply"), "ProbeMatch");
                for (k, v) in &fields {
                    emit(Field::Exact("", k), v);
                }
                let get = |name: &str| {
                    fields
                        .binary_search_by(|(k, _)| (*k).cmp(name))
                        .ok()
                        .map(|i| fields[i].1)
                        .filter(|v| !v.is_empty())
                };
                if let Some(m) = get("DeviceDescription") {
                    st.model
                        .push((m.to_string(), 0.9, "SADP DeviceDescription"));
                }
                if let Some(f) = get("SoftwareVersion") {
                    st.firmware
                        .push((f.to_string(), 0.9, "SADP SoftwareVersion"));
                }
                if let Some(m) = get("MAC") {
                    st.macs.push((m.to_string(), "SADP MAC"));
                }
                if let Some(o) = get("OEMInfo") {
                    st.names.push((o.to_string(), 0.8, "SADP OEMInfo"));
                }
            }
            None => sadp_tree(payload, st, emit),
        },
        ObservationKind::Dhip {
            payload_b64,
            payload,
        } => {
            let parsed = if let Some(b) = payload_b64 {
                match base64::engine::general_purpose::STANDARD.decode(b.trim()) {
                    Ok(bytes) => parse::dhip(&bytes),
                    Err(e) => Err(parse::ParseError::BadHeader(format!(
                        "payload_b64 is not base64: {e}"
                    ))),
                }
            } else if let Some(p) = payload {
                parse::dhip_json(p)
            } else {
                Err(parse::ParseError::Empty)
            };
            match parsed {
                Ok(r) => {
                    if let Some(m) = &r.method {
                        emit(Field::Static("method"), m);
                    }
                    if let Some(m) = &r.mac {
                        emit(Field::Static("mac"), m);
                        st.macs.push((m.clone(), "DHIP mac"));
                    }
                    for (k, v) in &r.fields {
                        emit(Field::Exact("", k), v);
                    }
                    if let Some(m) = r.device_type() {
                        st.model.push((m.to_string(), 0.9, "DHIP DeviceType"));
                    }
                    if let Some(v) = r.version() {
                        st.firmware.push((v.to_string(), 0.9, "DHIP Version"));
                    }
                    if let Some(v) = r.vendor() {
                        st.names.push((v.to_string(), 0.8, "DHIP Vendor"));
                    }
                }
                Err(e) => st.notes.push(format!("DHIP payload not parsed: {e}")),
            }
        }
        ObservationKind::DahuaDiscovery { payload_b64 } => {
            let parsed = base64::engine::general_purpose::STANDARD
                .decode(payload_b64.trim())
                .map_err(|e| {
                    parse::ParseError::BadHeader(format!("payload_b64 is not base64: {e}"))
                })
                .and_then(|b| parse::dahua_discovery(&b));
            match parsed {
                Ok(r) => {
                    emit(Field::Static("reply"), "dahua_discovery");
                    if let Some(m) = &r.mac {
                        emit(Field::Static("mac"), m);
                        st.macs.push((m.clone(), "Dahua discovery MAC"));
                    }
                    if let Some(m) = &r.model {
                        emit(Field::Static("model"), m);
                        st.model.push((m.clone(), 0.8, "Dahua discovery model"));
                    }
                    if let Some(n) = &r.machine_name {
                        emit(Field::Static("machine_name"), n);
                    }
                    for (k, v) in &r.fields {
                        emit(Field::Exact("", k), v);
                    }
                }
                Err(e) => st
                    .notes
                    .push(format!("Dahua discovery payload not parsed: {e}")),
            }
        }
        ObservationKind::Ssdp {
            headers,
            description,
        } => {
            for (k, v) in headers.iter().take(128) {
                emit(Field::Lower("header:", k), clip(v));
            }
            if let Some(d) = description {
                match parse::upnp_description(d) {
                    Ok(u) => {
                        for (f, v) in [
                            ("manufacturer", &u.manufacturer),
                            ("modelName", &u.model_name),
                            ("modelNumber", &u.model_number),
                            ("modelDescription", &u.model_description),
                            ("friendlyName", &u.friendly_name),
                            ("deviceType", &u.device_type),
                        ] {
                            if let Some(v) = v {
                                emit(Field::Static(f), v);
                            }
                        }
                        if let Some(m) = &u.manufacturer {
                            st.names.push((m.clone(), 0.7, "UPnP manufacturer"));
                        }
                        if let Some(m) = u.model_number.as_ref().or(u.model_name.as_ref()) {
                            st.model.push((m.clone(), 0.6, "UPnP model"));
                        }
                    }
                    Err(e) => st.notes.push(format!("UPnP description not parsed: {e}")),
                }
            }
        }
        ObservationKind::Mdns {
            service,
            instance,
            txt,
        } => {
            emit(Field::Static("service"), service);
            emit(Field::Static("instance"), instance);
            for t in txt.iter().take(64) {
                emit(Field::Static("txt"), clip(t));
                if let Some((k, v)) = t.split_once('=') {
                    emit(Field::Lower("txt:", k), v);
                    if k.eq_ignore_ascii_case("macaddress") {
                        st.macs.push((v.to_string(), "mDNS TXT macaddress"));
                    }
                }
            }
        }
        ObservationKind::Dhcp {
            vendor_class,
            hostname,
        } => {
            if let Some(v) = vendor_class {
                emit(Field::Static("vendor_class"), v);
            }
            if let Some(h) = hostname {
                emit(Field::Static("hostname"), h);
            }
        }
        ObservationKind::Telnet { banner }
        | ObservationKind::Ftp { banner }
        | ObservationKind::SnmpSysdescr { banner } => emit(Field::Static("banner"), clip(banner)),
        ObservationKind::Dns { query } => emit(Field::Static("query"), query.trim_end_matches('.')),
        ObservationKind::Port { port, banner, .. } => {
            emit(Field::Static("port"), dec(*port, &mut nbuf));
            if let Some(b) = banner {
                emit(Field::Static("banner"), clip(b));
            }
        }
        ObservationKind::Unknown => {}
    }
}

/// A SADP reply not in the plain form: parsed into a tree by `parse::sadp` (with its errors).
fn sadp_tree(payload: &str, st: &mut Structured, emit: &mut dyn FnMut(Field<'_>, &str)) {
    match parse::sadp(payload) {
        Ok(r) => {
            emit(Field::Static("reply"), "ProbeMatch");
            for (k, v) in &r.fields {
                emit(Field::Exact("", k), v);
            }
            if let Some(m) = r.device_description() {
                st.model
                    .push((m.to_string(), 0.9, "SADP DeviceDescription"));
            }
            if let Some(f) = r.software_version() {
                st.firmware
                    .push((f.to_string(), 0.9, "SADP SoftwareVersion"));
            }
            if let Some(m) = r.mac() {
                st.macs.push((m.to_string(), "SADP MAC"));
            }
            if let Some(o) = r.oem_info() {
                st.names.push((o.to_string(), 0.8, "SADP OEMInfo"));
            }
        }
        Err(e) => st.notes.push(format!("SADP payload not parsed: {e}")),
    }
}

/// Device documents carried in HTTP bodies: Axis basicdeviceinfo, ISAPI deviceInfo, magicBox.
fn http_documents(
    path: &str,
    body: &str,
    st: &mut Structured,
    emit: &mut dyn FnMut(Field<'_>, &str),
) {
    let lpath = path.to_ascii_lowercase();
    let trimmed = body.trim_start();
    if lpath.contains("basicdeviceinfo")
        || (trimmed.starts_with('{') && body.contains("propertyList"))
    {
        if let Ok(a) = parse::axis_basic_device_info(body) {
            for (k, v) in &a.properties {
                emit(Field::Exact("vapix:", k), v);
            }
            if let Some(b) = a.brand() {
                st.names
                    .push((b.to_string(), 0.9, "VAPIX basicdeviceinfo Brand"));
            }
            if let Some(m) = a.model() {
                st.model
                    .push((m.to_string(), 0.9, "VAPIX basicdeviceinfo ProdNbr"));
            }
            if let Some(f) = a.firmware() {
                st.firmware
                    .push((f.to_string(), 0.9, "VAPIX basicdeviceinfo Version"));
            }
        }
    } else if lpath.contains("/isapi/system/deviceinfo")
        || (trimmed.starts_with('<') && body.contains("<DeviceInfo"))
    {
        if let Ok(h) = parse::hikvision_device_info_xml(body) {
            for (k, v) in &h.fields {
                emit(Field::Exact("isapi:", k), v);
            }
            if let Some(m) = h.model() {
                st.model
                    .push((m.to_string(), 0.9, "ISAPI deviceInfo model"));
            }
            if let Some(f) = h.firmware_version() {
                st.firmware
                    .push((f.to_string(), 0.9, "ISAPI deviceInfo firmwareVersion"));
            }
            if let Some(m) = h.manufacturer() {
                st.names
                    .push((m.to_string(), 0.8, "ISAPI deviceInfo manufacturer"));
            }
        }
    } else if lpath.contains("magicbox") {
        if let Ok(m) = parse::dahua_magicbox(body) {
            for (k, v) in &m {
                emit(Field::Exact("magicbox:", k), v);
            }
            if let Some(d) = m.get("deviceType").or(m.get("updateSerial")) {
                st.model.push((d.clone(), 0.85, "magicBox deviceType"));
            }
        }
    }
}
