//! HTTP / RTSP / SSDP messages and the header/body helpers.
#![no_main]
use camtrace_identify::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse::http_response(data);
    let _ = parse::rtsp_response(data);
    let _ = parse::ssdp_response(data);
    let s = String::from_utf8_lossy(data);
    let _ = parse::html_title(&s);
    let _ = parse::www_authenticate_realm(&s);
    let _ = parse::dahua_magicbox(&s);
    let _ = parse::axis_basic_device_info(&s);
});
