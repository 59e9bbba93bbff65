//! ONVIF device service (SOAP 1.2 over HTTP POST): GetSystemDateAndTime, GetDeviceInformation,
//! GetScopes, GetCapabilities, GetServices, GetHostname, GetNetworkInterfaces; SOAP faults for the
//! rest. WS-UsernameToken is required for non-pre-auth operations when credentials are configured.

use quick_xml::events::Event;
use quick_xml::Reader;

use super::auth;
use crate::device::Device;
use crate::personality::OnvifSpec;

const ENV_OPEN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:SOAP-ENC="http://www.w3.org/2003/05/soap-encoding" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:wsa5="http://www.w3.org/2005/08/addressing" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:ter="http://www.onvif.org/ver10/error"><SOAP-ENV:Body>"#;
const ENV_CLOSE: &str = "</SOAP-ENV:Body></SOAP-ENV:Envelope>\r\n";

/// What we need from a request.
#[derive(Debug, Default)]
pub struct SoapRequest {
    pub operation: String,
    pub username: String,
    pub password: String,
    pub password_type: String,
    pub nonce: String,
    pub created: String,
}

/// Parse the operation name and UsernameToken of a SOAP request.
pub fn parse_request(body: &[u8]) -> Option<SoapRequest> {
    let mut rd = Reader::from_reader(body);
    rd.config_mut().trim_text(true);
    let mut out = SoapRequest::default();
    let mut in_body = false;
    let mut current = String::new();
    let mut buf = Vec::new();
    let mut depth_in_body = 0usize;
    loop {
        let ev = rd.read_event_into(&mut buf).ok()?;
        match ev {
            Event::Start(e) | Event::Empty(e) => {
                let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if in_body && depth_in_body == 0 && out.operation.is_empty() {
                    out.operation = local.clone();
                }
                if local == "Body" {
                    in_body = true;
                } else if in_body {
                    depth_in_body += 1;
                }
                if local == "Password" {
                    for a in e.attributes().flatten() {
                        if a.key.local_name().as_ref() == b"Type" {
                            out.password_type = String::from_utf8_lossy(&a.value).into_owned();
                        }
                    }
                }
                current = local;
            }
            Event::Text(t) => {
                let v = t.decode().map(|c| c.into_owned()).unwrap_or_default();
                match current.as_str() {
                    "Username" => out.username = v,
                    "Password" => out.password = v,
                    "Nonce" => out.nonce = v,
                    "Created" => out.created = v,
                    _ => {}
                }
            }
            Event::End(e) => {
                let local = e.local_name();
                if local.as_ref() == b"Body" {
                    in_body = false;
                } else if in_body && depth_in_body > 0 {
                    depth_in_body -= 1;
                }
                current.clear();
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Some(out)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub fn fault(code: &str, subcode: &str, reason: &str) -> String {
    format!(
        "{ENV_OPEN}<SOAP-ENV:Fault><SOAP-ENV:Code><SOAP-ENV:Value>{code}</SOAP-ENV:Value><SOAP-ENV:Subcode><SOAP-ENV:Value>{subcode}</SOAP-ENV:Value></SOAP-ENV:Subcode></SOAP-ENV:Code><SOAP-ENV:Reason><SOAP-ENV:Text xml:lang=\"en\">{reason}</SOAP-ENV:Text></SOAP-ENV:Reason></SOAP-ENV:Fault>{ENV_CLOSE}"
    )
}

/// Answer one SOAP request: (HTTP status, body).
pub fn handle(dev: &Device, o: &OnvifSpec, body: &[u8]) -> (u16, String) {
    let Some(req) = parse_request(body) else {
        return (
            400,
            fault(
                "SOAP-ENV:Sender",
                "ter:WellFormed",
                "Malformed SOAP request",
            ),
        );
    };
    let pre_auth = matches!(
        req.operation.as_str(),
        "GetSystemDateAndTime"
            | "GetCapabilities"
            | "GetServices"
            | "GetHostname"
            | "GetWsdlUrl"
            | "GetServiceCapabilities"
            | "GetEndpointReference"
    );
    if !pre_auth {
        if let Some(c) = dev.credentials.as_deref() {
            let ok = !req.username.is_empty()
                && auth::check_username_token(
                    &req.username,
                    &req.password,
                    &req.password_type,
                    &req.nonce,
                    &req.created,
                    c,
                );
            if !ok {
                return (
                    400,
                    fault(
                        "SOAP-ENV:Sender",
                        "ter:NotAuthorized",
                        "Sender not Authorized",
                    ),
                );
            }
        }
    }
    let xaddr = format!("http://{}:{}", dev.ip, dev.vars.get("port_http"));
    let inner = match req.operation.as_str() {
        "GetSystemDateAndTime" => {
            let now = chrono::Utc::now();
            use chrono::{Datelike, Timelike};
            format!(
                "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings><tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone><tt:UTCDateTime><tt:Time><tt:Hour>{}</tt:Hour><tt:Minute>{}</tt:Minute><tt:Second>{}</tt:Second></tt:Time><tt:Date><tt:Year>{}</tt:Year><tt:Month>{}</tt:Month><tt:Day>{}</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>",
                now.hour(), now.minute(), now.second(), now.year(), now.month(), now.day()
            )
        }
        "GetDeviceInformation" => format!(
            "<tds:GetDeviceInformationResponse><tds:Manufacturer>{}</tds:Manufacturer><tds:Model>{}</tds:Model><tds:FirmwareVersion>{}</tds:FirmwareVersion><tds:SerialNumber>{}</tds:SerialNumber><tds:HardwareId>{}</tds:HardwareId></tds:GetDeviceInformationResponse>",
            esc(&dev.render(&o.manufacturer)),
            esc(&dev.render(&o.model)),
            esc(&dev.identity.firmware),
            esc(&dev.identity.serial),
            esc(&dev.render(&o.hardware_id)),
        ),
        "GetScopes" => {
            let mut s = String::from("<tds:GetScopesResponse>");
            for sc in &o.scopes {
                s.push_str(&format!(
                    "<tds:Scopes><tt:ScopeDef>Fixed</tt:ScopeDef><tt:ScopeItem>{}</tt:ScopeItem></tds:Scopes>",
                    esc(&dev.render(sc))
                ));
            }
            s.push_str("</tds:GetScopesResponse>");
            s
        }
        "GetHostname" => format!(
            "<tds:GetHostnameResponse><tds:HostnameInformation><tt:FromDHCP>false</tt:FromDHCP><tt:Name>{}</tt:Name></tds:HostnameInformation></tds:GetHostnameResponse>",
            esc(&dev.render(dev.vars.get("hostname")))
        ),
        "GetCapabilities" => format!(
            "<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Device><tt:XAddr>{x}/onvif/device_service</tt:XAddr><tt:Network><tt:IPFilter>false</tt:IPFilter><tt:ZeroConfiguration>false</tt:ZeroConfiguration><tt:IPVersion6>false</tt:IPVersion6><tt:DynDNS>false</tt:DynDNS></tt:Network><tt:System><tt:DiscoveryResolve>false</tt:DiscoveryResolve><tt:DiscoveryBye>true</tt:DiscoveryBye><tt:RemoteDiscovery>false</tt:RemoteDiscovery><tt:SystemBackup>false</tt:SystemBackup><tt:SystemLogging>false</tt:SystemLogging><tt:FirmwareUpgrade>true</tt:FirmwareUpgrade><tt:SupportedVersions><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tt:SupportedVersions></tt:System><tt:Security><tt:TLS1.1>false</tt:TLS1.1><tt:TLS1.2>false</tt:TLS1.2><tt:OnboardKeyGeneration>false</tt:OnboardKeyGeneration><tt:AccessPolicyConfig>false</tt:AccessPolicyConfig><tt:X.509Token>false</tt:X.509Token><tt:SAMLToken>false</tt:SAMLToken><tt:KerberosToken>false</tt:KerberosToken><tt:RELToken>false</tt:RELToken></tt:Security></tt:Device><tt:Media><tt:XAddr>{x}/onvif/Media</tt:XAddr><tt:StreamingCapabilities><tt:RTPMulticast>true</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media></tds:Capabilities></tds:GetCapabilitiesResponse>",
            x = xaddr
        ),
        "GetServices" => format!(
            "<tds:GetServicesResponse><tds:Service><tds:Namespace>http://www.onvif.org/ver10/device/wsdl</tds:Namespace><tds:XAddr>{x}/onvif/device_service</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service><tds:Service><tds:Namespace>http://www.onvif.org/ver10/media/wsdl</tds:Namespace><tds:XAddr>{x}/onvif/Media</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service></tds:GetServicesResponse>",
            x = xaddr
        ),
        "GetNetworkInterfaces" => format!(
            "<tds:GetNetworkInterfacesResponse><tds:NetworkInterfaces token=\"eth0\"><tt:Enabled>true</tt:Enabled><tt:Info><tt:Name>eth0</tt:Name><tt:HwAddress>{}</tt:HwAddress><tt:MTU>1500</tt:MTU></tt:Info><tt:IPv4><tt:Enabled>true</tt:Enabled><tt:Config><tt:Manual><tt:Address>{}</tt:Address><tt:PrefixLength>16</tt:PrefixLength></tt:Manual><tt:DHCP>false</tt:DHCP></tt:Config></tt:IPv4></tds:NetworkInterfaces></tds:GetNetworkInterfacesResponse>",
            dev.vars.get("mac"),
            dev.ip
        ),
        "" => {
            return (
                400,
                fault("SOAP-ENV:Sender", "ter:WellFormed", "No operation in SOAP body"),
            )
        }
        _ => {
            return (
                400,
                fault(
                    "SOAP-ENV:Receiver",
                    "ter:ActionNotSupported",
                    "Optional Action Not Implemented",
                ),
            )
        }
    };
    (200, format!("{ENV_OPEN}{inner}{ENV_CLOSE}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_operation_and_token() {
        let body = br#"<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header><Security><UsernameToken><Username>admin</Username><Password Type="x#PasswordDigest">abc=</Password><Nonce>bm9uY2U=</Nonce><Created>2026-01-01T00:00:00Z</Created></UsernameToken></Security></s:Header><s:Body><GetDeviceInformation xmlns="http://www.onvif.org/ver10/device/wsdl"/></s:Body></s:Envelope>"#;
        let r = parse_request(body).unwrap();
        assert_eq!(r.operation, "GetDeviceInformation");
        assert_eq!(r.username, "admin");
        assert_eq!(r.password, "abc=");
        assert_eq!(r.password_type, "x#PasswordDigest");
        assert_eq!(r.nonce, "bm9uY2U=");
    }
}
