//! Findings over the stored estate, evaluated once per change of the register and shared by
//! every request (the cache key is the register's revision, the newest register-history
//! entry's hash, plus the date and regimes). Every register, scan and waiver change appends to
//! the history in its transaction, so the revision names the state of the register; access
//! events (sign-ins, exports) go to the separate access log and never change it. Requests pass
//! the revision they read with their credential ([`crate::access::Access::head`]) and cost no
//! query here when nothing changed.

use crate::error::{ApiError, ApiResult};
use crate::App;
use camtrace_model::Estate;
use camtrace_policy::{evaluate, DeviceFacts, EvalContext, Finding};
use camtrace_store::EstateFilter;
use chrono::NaiveDate;
use std::sync::Arc;

#[derive(Clone)]
pub struct Evaluated {
    /// (register revision, date, regimes).
    pub key: (String, NaiveDate, Vec<String>),
    pub estate: Arc<Estate>,
    pub findings: Arc<Vec<Finding>>,
    /// Per-organisation counts for the dashboard, computed once per evaluation.
    pub summary: Arc<Summary>,
}

/// Devices by finding state, per organisation (each device counted once per state).
#[derive(Debug, Clone, Default)]
pub struct OrgCounts {
    pub sensitive: usize,
    pub other: usize,
    pub inspect: usize,
    pub waived: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub by_org: std::collections::BTreeMap<String, OrgCounts>,
    /// Sensitive site → devices with open findings there.
    pub sensitive_sites: std::collections::BTreeMap<String, usize>,
    /// Register devices per organisation (counted by `camtrace_store::reconcile::device_counts`,
    /// as `camtrace devices`, `sites` and the report count them).
    pub devices_by_org: std::collections::HashMap<String, usize>,
    /// Devices found on the network, identified and not in the register, per organisation.
    pub unregistered_by_org: std::collections::HashMap<String, usize>,
}

fn summarise(estate: &Estate, findings: &[Finding]) -> Summary {
    use std::collections::{HashMap, HashSet};
    let sens: HashMap<&str, bool> = estate
        .sites
        .iter()
        .map(|s| (s.id.as_str(), s.criteria.is_sensitive()))
        .collect();
    let site_org: HashMap<&str, &str> = estate
        .sites
        .iter()
        .map(|s| (s.id.as_str(), s.organisation.as_str()))
        .collect();
    let mut out = Summary::default();
    let (_, by_site) = camtrace_store::reconcile::device_counts(estate);
    for (site, c) in &by_site {
        if let Some(o) = site_org.get(site.as_str()) {
            *out.devices_by_org.entry(o.to_string()).or_default() += c.registered;
            *out.unregistered_by_org.entry(o.to_string()).or_default() += c.unregistered;
        }
    }
    let mut seen: HashSet<(&str, &str)> = HashSet::new();
    for f in findings {
        let state = f.status.as_str();
        let c = out.by_org.entry(f.org_id.to_string()).or_default();
        if state == "waived" {
            c.waived += 1;
            continue;
        }
        if !seen.insert((&f.device_id, state)) {
            continue;
        }
        let sensitive = sens.get(&*f.site_id).copied().unwrap_or(false);
        match (state, sensitive) {
            ("open", true) => {
                c.sensitive += 1;
                *out.sensitive_sites
                    .entry(f.site_id.to_string())
                    .or_default() += 1;
            }
            ("open", false) => c.other += 1,
            _ => c.inspect += 1,
        }
    }
    out
}

#[derive(Default)]
pub struct FindingsCache {
    /// Serialises evaluations (one at a time; waiters reuse the result).
    last: tokio::sync::Mutex<Option<Evaluated>>,
    /// The latest evaluation under the default regimes, for lock-free readers.
    current: std::sync::RwLock<Option<Evaluated>>,
}

/// The register's revision: the caches' key (access events never change it).
async fn register_revision(app: &App) -> ApiResult<String> {
    Ok(app.store.register_revision().await?)
}

/// The whole estate and its findings on `date` under `regimes` (empty: the default regimes).
/// Callers scope the result to what the principal may read.
pub async fn evaluated(app: &App, date: NaiveDate, regimes: &[String]) -> ApiResult<Evaluated> {
    let head = register_revision(app).await?;
    evaluated_at(app, head, date, regimes).await
}

/// [`evaluated`] for a request, at the history head read with its credential (no query when
/// the cached evaluation is of that head).
pub async fn evaluated_for(
    app: &App,
    access: &crate::access::Access,
    date: NaiveDate,
    regimes: &[String],
) -> ApiResult<Evaluated> {
    evaluated_at(app, access.head().to_string(), date, regimes).await
}

/// The evaluation at `head`. The estate is loaded after `head` was read, so it is at least that
/// new; a later change has a new head and makes a later request evaluate again.
async fn evaluated_at(
    app: &App,
    head: String,
    date: NaiveDate,
    regimes: &[String],
) -> ApiResult<Evaluated> {
    app.policies.select(regimes).map_err(ApiError::BadRequest)?;
    let key = (head, date, regimes.to_vec());
    // Fast path: a read lock, no waiting behind other readers.
    if let Some(e) = app.findings.current.read().ok().and_then(|g| g.clone()) {
        if e.key == key {
            return Ok(e);
        }
    }
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
    let summary = Arc::new(summarise(&estate, &findings));
    let ev = Evaluated {
        key,
        estate,
        findings: Arc::new(findings),
        summary,
    };
    *guard = Some(ev.clone());
    if regimes.is_empty() {
        if let Ok(mut c) = app.findings.current.write() {
            *c = Some(ev.clone());
        }
    }
    Ok(ev)
}

pub fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}
