//! The fleet page (`/agents`): the site agents of the organisations the signed-in user
//! administers, with what each last reported (issue 15). The same data as `GET /api/v1/agents`.

use super::{caller, layout, page_error, render, Browser, Layout};
use crate::auth::Role;
use crate::error::ApiError;
use crate::App;
use askama::Template;
use axum::extract::State;
use axum::response::Response;

pub(super) struct AgentRow {
    pub name: String,
    pub organisation: String,
    pub site: String,
    pub last_seen: String,
    pub last_scan: String,
    pub outbox: String,
    pub version: String,
    pub batches: i64,
    /// `ok`, `silent`, `outbox full`, `revoked`.
    pub state: String,
}

#[derive(Template)]
#[template(path = "agents.html")]
struct FleetPage {
    l: Layout,
    agents: Vec<AgentRow>,
    silent: usize,
}

pub(super) async fn page(State(app): State<App>, b: Browser) -> Response {
    let c = try_page!(b, caller(&b));
    let orgs: Vec<String> = c.access.with_role(Role::Admin).into_iter().collect();
    if orgs.is_empty() {
        return page_error(
            &b,
            ApiError::forbidden("admin role on an organisation required to see its agents"),
        );
    }
    let list = try_page!(b, app.store.list_agents(Some(&orgs)).await);
    let now = chrono::Utc::now();
    let agents: Vec<AgentRow> = list
        .into_iter()
        .map(|a| {
            let silent = crate::api::agents::is_silent(&a, now);
            AgentRow {
                state: if a.revoked_at.is_some() {
                    "revoked"
                } else if silent {
                    "silent"
                } else if a.outbox_full {
                    "outbox full"
                } else {
                    "ok"
                }
                .into(),
                last_seen: a.last_seen.clone().unwrap_or_else(|| "never".into()),
                last_scan: a.last_scan.clone().unwrap_or_else(|| "-".into()),
                outbox: match (a.outbox_depth, a.outbox_bytes) {
                    (Some(d), Some(b)) => format!("{d} ({} KiB)", b / 1024),
                    (Some(d), None) => d.to_string(),
                    _ => "-".into(),
                },
                version: a.agent_version.clone().unwrap_or_else(|| "-".into()),
                batches: a.batches,
                name: a.name,
                organisation: a.organisation,
                site: a.site,
            }
        })
        .collect();
    render(&FleetPage {
        l: layout(&b, None),
        silent: agents.iter().filter(|a| a.state == "silent").count(),
        agents,
    })
}
