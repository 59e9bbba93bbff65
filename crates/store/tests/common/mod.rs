//! Backends for the conformance tests (see `camtrace_store::testing`).
#![allow(dead_code)]

pub async fn fresh_postgres(tag: &str) -> String {
    camtrace_store::testing::fresh_postgres(tag).await
}
