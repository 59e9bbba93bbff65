//! `docs/openapi.json` is generated from the code; this test fails when it is out of date.
//! Update it with: `UPDATE_OPENAPI=1 cargo test -p camtrace-server --test openapi`.

#[test]
fn committed_openapi_document_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
    let fresh = camtrace_server::api::openapi_json();
    if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(path, &fresh).expect("write docs/openapi.json");
        return;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == fresh,
        "docs/openapi.json is out of date with the code.\nRegenerate it with:\n    UPDATE_OPENAPI=1 cargo test -p camtrace-server --test openapi\n(or `camtrace serve --openapi > docs/openapi.json`) and commit it."
    );
    let doc: serde_json::Value = serde_json::from_str(&fresh).expect("valid JSON");
    assert!(doc["openapi"].as_str().unwrap_or("").starts_with("3."));
    assert!(doc["paths"]["/api/v1/devices"]["get"].is_object());
}
