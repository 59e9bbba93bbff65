//! SADP (and every XML document parser) on arbitrary text.
#![no_main]
use camtrace_identify::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let _ = parse::sadp(&s);
    let _ = parse::hikvision_device_info_xml(&s);
    let _ = parse::upnp_description(&s);
});
