//! WS-Discovery ProbeMatches and ONVIF GetDeviceInformation replies.
#![no_main]
use camtrace_identify::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let _ = parse::onvif_probe_matches(&s);
    let _ = parse::onvif_device_info(&s);
});
