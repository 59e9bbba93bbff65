//! The web dashboard.
use crate::App;
pub fn routes() -> axum::Router<App> {
    axum::Router::new()
}
