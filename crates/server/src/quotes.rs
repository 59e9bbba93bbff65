//! The procurement gate over HTTP: a quote is checked line by line against the active regimes,
//! with the caller's sites and organisations as destinations.

use crate::error::{ApiError, ApiResult};
use crate::extract::Caller;
use crate::App;
use camtrace_plan::{check_quote, parse_quote, MakerRule, RegimeRule};
use camtrace_store::SiteFilter;

pub async fn check(app: &App, caller: &Caller, body: &[u8]) -> ApiResult<serde_json::Value> {
    if body.len() > camtrace_plan::procure::MAX_QUOTE_BYTES {
        return Err(ApiError::TooLarge("quote too large".into()));
    }
    let lines = parse_quote(body).map_err(|e| ApiError::bad(e.to_string()))?;
    let orgs: Vec<_> = app
        .store
        .list_organisations()
        .await?
        .into_iter()
        .filter(|o| caller.access.can_read(&o.id))
        .collect();
    let sites: Vec<_> = app
        .store
        .list_sites(&SiteFilter::default())
        .await?
        .into_iter()
        .filter(|s| caller.access.can_read(&s.organisation))
        .collect();
    let regimes = app.policies.defaults();
    let rules: Vec<RegimeRule> = regimes.iter().map(|r| RegimeRule::new(r, &orgs)).collect();
    let dyn_rules: Vec<&dyn MakerRule> = rules.iter().map(|r| r as &dyn MakerRule).collect();
    let result = check_quote(
        &app.kb,
        &dyn_rules,
        app.catalogue.as_deref(),
        &sites,
        &lines,
        crate::findings::today(),
    );
    let json = crate::api::to_json(&result)?;
    // An audited read: to the access log, never to the register history.
    app.access_record(
        "quote_check",
        caller.name(),
        None,
        &format!(
            "quote/{}",
            &crate::auth::token_hash(&String::from_utf8_lossy(body))[..16]
        ),
        Some(serde_json::json!({"lines": result.lines.len(), "blocked": result.blocked, "inquiry": result.inquiry, "verdict": result.verdict.as_str()})),
    )
    .await?;
    Ok(json)
}
