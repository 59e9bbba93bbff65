//! Finds the outside services the integration tests need (see scripts/test-services.rs).
include!("../../scripts/test-services.rs");

fn main() {
    watch_test_env();
    test_service(
        "camtrace_has_chromium",
        on_path(&["chromium", "chromium-browser", "google-chrome"]),
    );
}
