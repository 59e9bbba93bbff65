//! Findings over the stored estate, evaluated once per change of the store and shared by every
//! request (the cache key is the last history entry and the scan count, plus the date).

use crate::error::{ApiError, ApiResult};
use crate::App;
use camtrace_model::Estate;
use camtrace_policy::{evaluate, DeviceFacts, EvalContext, Finding};
use camtrace_store::EstateFilter;
use chrono::NaiveDate;
use sqlx::Row;
use std::sync::Arc;

#[derive(Clone)]
pub struct Evaluated {
    pub key: (i64, i64, NaiveDate, Vec<String>),
    pub estate: Arc<Estate>,
    pub findings: Arc<Vec<Finding>>,
}

#[derive(Default)]
pub struct FindingsCache {
    last: tokio::sync::Mutex<Option<Evaluated>>,
}

async fn change_key(app: &App) -> ApiResult<(i64, i64)> {
    let r = sqlx::query(
        "SELECT (SELECT COALESCE(MAX(seq), 0) FROM history) AS h, (SELECT COUNT(*) FROM scans) AS s",
    )
    .fetch_one(app.pool())
    .await?;
    Ok((r.try_get::<i64, _>("h")?, r.try_get::<i64, _>("s")?))
}

/// The whole estate and its findings on `date` under `regimes` (empty: the default regimes).
/// Callers scope the result to what the principal may read.
pub async fn evaluated(app: &App, date: NaiveDate, regimes: &[String]) -> ApiResult<Evaluated> {
    app.policies.select(regimes).map_err(ApiError::BadRequest)?;
    let (h, s) = change_key(app).await?;
    let key = (h, s, date, regimes.to_vec());
    let mut guard = app.findings.last.lock().await;
    if let Some(e) = guard.as_ref() {
        if e.key == key {
            return Ok(e.clone());
        }
    }
    let estate = Arc::new(app.store.load_estate(&EstateFilter::default()).await?);
    let (kb, policies, est, ids) = (
        app.kb.clone(),
        app.policies.clone(),
        estate.clone(),
        regimes.to_vec(),
    );
    let findings = tokio::task::spawn_blocking(move || -> Result<Vec<Finding>, String> {
        let selected = policies.select(&ids)?;
        let ctx = EvalContext::new(&kb, selected, date);
        let facts = DeviceFacts::from_estate(&est);
        Ok(evaluate(&ctx, &facts, &est.waivers))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(ApiError::BadRequest)?;
    let ev = Evaluated {
        key,
        estate,
        findings: Arc::new(findings),
    };
    *guard = Some(ev.clone());
    Ok(ev)
}

pub fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}
