//! Finds the outside services the integration tests need (see scripts/test-services.rs).
include!("../../scripts/test-services.rs");

fn main() {
    watch_test_env();
    test_service("camtrace_has_nmap", on_path(&["nmap"]));
    test_service("camtrace_has_onvif_client", python_imports("onvif, zeep"));
    test_service("camtrace_is_root", is_root());
    test_service("camtrace_has_ip", on_path(&["ip"]));
}
