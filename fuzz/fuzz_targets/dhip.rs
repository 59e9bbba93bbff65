//! DHIP (header + JSON), the older Dahua binary reply, and the JSON-only payload.
#![no_main]
use camtrace_identify::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse::dhip(data);
    let _ = parse::dahua_discovery(data);
    let _ = parse::dhip_json(&String::from_utf8_lossy(data));
    // Also behind a valid header, so the body parser is reached often.
    let _ = parse::dhip(&parse::dhip_frame(data));
});
