//! Register endpoints: organisations, sites, zones, networks, devices, bulk import, scans and
//! observations, search.

use super::{page, to_json, Page, Paging};
use crate::access::Access;
use crate::auth::Role;
use crate::error::{ApiError, ApiResult};
use crate::extract::Caller;
use crate::App;
use axum::extract::{Path, Query, State};
use axum::Json;
use camtrace_model::{Device, DeviceStatus, NetworkSegment, Organisation, Site, Zone};
use camtrace_store::{EstateFilter, HistoryFilter, ObservationFilter, RegisterBatch, SiteFilter};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use utoipa::{IntoParams, ToSchema};

// ------------------------------------------------------------------ scope helpers

/// The site if the caller can read its organisation (404 otherwise, also when it does not exist).
pub async fn readable_site(app: &App, access: &Access, id: &str, need: Role) -> ApiResult<Site> {
    let site = app
        .store
        .get_site(id)
        .await?
        .ok_or_else(|| ApiError::not_found("site", id))?;
    access
        .require(&site.organisation, need, &format!("site `{id}`"))
        .map(|_| site)
}

/// The device and its site if the caller can read the site's organisation.
pub async fn readable_device(
    app: &App,
    access: &Access,
    id: &str,
    need: Role,
) -> ApiResult<(Device, Site)> {
    let dev = app
        .store
        .get_device(id)
        .await?
        .ok_or_else(|| ApiError::not_found("device", id))?;
    let site = app
        .store
        .get_site(&dev.site)
        .await?
        .ok_or_else(|| ApiError::not_found("device", id))?;
    access.require(&site.organisation, need, &format!("device `{id}`"))?;
    Ok((dev, site))
}

/// A filter organisation must be readable; `None` means "everything readable".
fn check_filter_org(access: &Access, org: Option<&str>) -> ApiResult<()> {
    if let Some(o) = org {
        access.require(o, Role::Viewer, &format!("organisation `{o}`"))?;
    }
    Ok(())
}

// ------------------------------------------------------------------ organisations

/// Organisations the caller can read.
#[utoipa::path(get, path = "/api/v1/organisations", params(Paging), responses((status = 200, body = Page)))]
pub async fn list_organisations(
    State(app): State<App>,
    caller: Caller,
    Query(p): Query<Paging>,
) -> ApiResult<Json<Page>> {
    let orgs: Vec<Organisation> = app
        .store
        .list_organisations()
        .await?
        .into_iter()
        .filter(|o| caller.access.can_read(&o.id))
        .collect();
    page(orgs, &p)
}

#[utoipa::path(get, path = "/api/v1/organisations/{id}", params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404)))]
pub async fn get_organisation(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Organisation>> {
    caller
        .access
        .require(&id, Role::Viewer, &format!("organisation `{id}`"))?;
    app.store
        .get_organisation(&id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("organisation", &id))
}

/// What writing organisations needs, for one organisation or a whole batch, judged on the tree
/// as it will be after the write:
/// - no organisation may end up its own ancestor, whatever the order of the batch;
/// - changing an existing organisation needs admin on it;
/// - creating one, or moving one, needs admin on its new parent (a top-level organisation needs
///   the central admin role); a new parent created in the same batch is judged by its own row;
/// - moving an existing organisation also needs admin on its current parent, so a child's admin
///   cannot detach it from the organisation above.
fn check_org_writes(access: &Access, orgs: &[Organisation]) -> ApiResult<()> {
    let in_batch: HashMap<&str, Option<&str>> = orgs
        .iter()
        .map(|o| (o.id.as_str(), o.parent.as_deref()))
        .collect();
    let parent_after = |id: &str| -> Option<String> {
        match in_batch.get(id) {
            Some(p) => p.map(str::to_string),
            None => access.parent_of(id).flatten().map(str::to_string),
        }
    };
    let limit = access.organisations().len() + orgs.len() + 1;
    for o in orgs {
        let what = format!("organisation `{}`", o.id);
        // Cycle check on the tree as it will be.
        let mut cur = o.parent.clone();
        let mut steps = 0;
        while let Some(id) = cur {
            if id == o.id || steps > limit {
                return Err(ApiError::bad(format!("{what}: parent would make a cycle")));
            }
            steps += 1;
            cur = parent_after(&id);
        }
        let exists = access.exists(&o.id);
        if exists {
            access.require(&o.id, Role::Admin, &what)?;
        }
        let old_parent = access.parent_of(&o.id).flatten();
        if exists && old_parent == o.parent.as_deref() {
            continue;
        }
        match &o.parent {
            Some(parent) if access.exists(parent) => {
                access.require(parent, Role::Admin, &format!("organisation `{parent}`"))?;
            }
            // New in this batch: its own row is checked (the cycle check ensures the chain of
            // new parents ends at an existing organisation or at the top).
            Some(parent) if in_batch.contains_key(parent.as_str()) => {}
            // Missing and unreadable answer alike.
            Some(parent) => {
                return Err(ApiError::not_found("organisation", parent));
            }
            None => {
                if access.central_role() != Some(Role::Admin) {
                    return Err(ApiError::forbidden(
                        "only a central admin can create or change a top-level organisation",
                    ));
                }
            }
        }
        if exists {
            let may_leave = match old_parent {
                Some(p) => access.role(p).is_some_and(|r| r >= Role::Admin),
                None => access.central_role() == Some(Role::Admin),
            };
            if !may_leave {
                return Err(ApiError::forbidden(format!(
                    "{what}: moving it needs the admin role on its current parent organisation"
                )));
            }
        }
    }
    Ok(())
}

/// Create or update an organisation.
#[utoipa::path(post, path = "/api/v1/organisations", request_body = Object, responses((status = 200, body = Object)))]
pub async fn put_organisation(
    State(app): State<App>,
    caller: Caller,
    Json(org): Json<Organisation>,
) -> ApiResult<Json<serde_json::Value>> {
    check_org_writes(&caller.access, std::slice::from_ref(&org))?;
    let change = app.store.upsert_organisation(&org, caller.name()).await?;
    Ok(Json(serde_json::json!({ "id": org.id, "change": change })))
}

// ------------------------------------------------------------------ sites

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SiteQuery {
    /// The organisation and everything below it.
    pub organisation: Option<String>,
    /// Only sites meeting (true) or not meeting (false) a sensitive-site criterion.
    pub sensitive: Option<bool>,
    pub tag: Option<String>,
    /// Case-insensitive substring of the id or name.
    pub q: Option<String>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

#[utoipa::path(get, path = "/api/v1/sites", params(SiteQuery), responses((status = 200, body = Page)))]
pub async fn list_sites(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<SiteQuery>,
) -> ApiResult<Json<Page>> {
    check_filter_org(&caller.access, q.organisation.as_deref())?;
    let needle = q.q.as_deref().map(str::to_lowercase);
    let sites: Vec<Site> = app
        .store
        .list_sites(&SiteFilter {
            organisation: q.organisation.clone(),
            site: None,
            sensitive: q.sensitive,
            tag: q.tag.clone(),
        })
        .await?
        .into_iter()
        .filter(|s| caller.access.can_read(&s.organisation))
        .filter(|s| {
            needle.as_ref().is_none_or(|n| {
                s.id.to_lowercase().contains(n) || s.name.to_lowercase().contains(n)
            })
        })
        .collect();
    page(
        sites,
        &Paging {
            limit: q.limit,
            offset: q.offset,
        },
    )
}

#[utoipa::path(get, path = "/api/v1/sites/{id}", params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404)))]
pub async fn get_site(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Site>> {
    readable_site(&app, &caller.access, &id, Role::Viewer)
        .await
        .map(Json)
}

async fn check_site_write(app: &App, access: &Access, site: &Site) -> ApiResult<()> {
    access.require(
        &site.organisation,
        Role::Editor,
        &format!("organisation `{}`", site.organisation),
    )?;
    if let Some(old) = app.store.get_site(&site.id).await? {
        access.require(
            &old.organisation,
            Role::Editor,
            &format!("site `{}`", site.id),
        )?;
    }
    Ok(())
}

#[utoipa::path(post, path = "/api/v1/sites", request_body = Object, responses((status = 200, body = Object)))]
pub async fn put_site(
    State(app): State<App>,
    caller: Caller,
    Json(site): Json<Site>,
) -> ApiResult<Json<serde_json::Value>> {
    check_site_write(&app, &caller.access, &site).await?;
    let change = app.store.upsert_site(&site, caller.name()).await?;
    Ok(Json(serde_json::json!({ "id": site.id, "change": change })))
}

// ------------------------------------------------------------------ zones and networks

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SiteScoped {
    pub site: Option<String>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

/// Site id → organisation id for every site.
async fn site_orgs(app: &App) -> ApiResult<HashMap<String, String>> {
    Ok(app.store.site_organisations().await?)
}

#[utoipa::path(get, path = "/api/v1/zones", params(SiteScoped), responses((status = 200, body = Page)))]
pub async fn list_zones(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<SiteScoped>,
) -> ApiResult<Json<Page>> {
    if let Some(s) = &q.site {
        readable_site(&app, &caller.access, s, Role::Viewer).await?;
    }
    let orgs = site_orgs(&app).await?;
    let zones: Vec<Zone> = app
        .store
        .list_zones(q.site.as_deref())
        .await?
        .into_iter()
        .filter(|z| orgs.get(&z.site).is_some_and(|o| caller.access.can_read(o)))
        .collect();
    page(
        zones,
        &Paging {
            limit: q.limit,
            offset: q.offset,
        },
    )
}

#[utoipa::path(post, path = "/api/v1/zones", request_body = Object, responses((status = 200, body = Object)))]
pub async fn put_zone(
    State(app): State<App>,
    caller: Caller,
    Json(zone): Json<Zone>,
) -> ApiResult<Json<serde_json::Value>> {
    readable_site(&app, &caller.access, &zone.site, Role::Editor).await?;
    if let Some(old) = app.store.get_zone(&zone.id).await? {
        // The stored row's site is not named: the caller may not be able to read it.
        readable_site(&app, &caller.access, &old.site, Role::Editor)
            .await
            .map_err(|e| e.hide_as("zone", &zone.id))?;
    }
    let change = app.store.upsert_zone(&zone, caller.name()).await?;
    Ok(Json(serde_json::json!({ "id": zone.id, "change": change })))
}

#[utoipa::path(get, path = "/api/v1/networks", params(SiteScoped), responses((status = 200, body = Page)))]
pub async fn list_networks(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<SiteScoped>,
) -> ApiResult<Json<Page>> {
    if let Some(s) = &q.site {
        readable_site(&app, &caller.access, s, Role::Viewer).await?;
    }
    let orgs = site_orgs(&app).await?;
    let nets: Vec<NetworkSegment> = app
        .store
        .list_networks(q.site.as_deref())
        .await?
        .into_iter()
        .filter(|n| orgs.get(&n.site).is_some_and(|o| caller.access.can_read(o)))
        .collect();
    page(
        nets,
        &Paging {
            limit: q.limit,
            offset: q.offset,
        },
    )
}

#[utoipa::path(post, path = "/api/v1/networks", request_body = Object, responses((status = 200, body = Object)))]
pub async fn put_network(
    State(app): State<App>,
    caller: Caller,
    Json(net): Json<NetworkSegment>,
) -> ApiResult<Json<serde_json::Value>> {
    readable_site(&app, &caller.access, &net.site, Role::Editor).await?;
    if let Some(old) = app.store.get_network(&net.id).await? {
        readable_site(&app, &caller.access, &old.site, Role::Editor)
            .await
            .map_err(|e| e.hide_as("network", &net.id))?;
    }
    let change = app.store.upsert_network(&net, caller.name()).await?;
    Ok(Json(serde_json::json!({ "id": net.id, "change": change })))
}

// ------------------------------------------------------------------ devices

#[derive(Debug, Default, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeviceQuery {
    /// The organisation and everything below it.
    pub organisation: Option<String>,
    pub site: Option<String>,
    /// Maker (knowledge-base company id or name), case-insensitive: the declared maker, else the
    /// maker the brand (and model) is attributed to at the install date.
    pub maker: Option<String>,
    pub brand: Option<String>,
    pub class: Option<String>,
    /// planned, installed, disconnected, removed.
    pub status: Option<String>,
    /// Only devices on sensitive (true) / non-sensitive (false) sites.
    pub sensitive: Option<bool>,
    /// Case-insensitive substring of the id, model, MAC or address.
    pub q: Option<String>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One page of devices matching the query among the readable organisations (keyset paging on
/// the id, so any page costs the same). `CROSS JOIN` makes SQLite walk devices in id order and
/// stop after one page instead of sorting a whole organisation's devices; PostgreSQL plans it
/// as an ordinary join.
pub async fn device_page(
    app: &App,
    access: &Access,
    q: &DeviceQuery,
) -> ApiResult<(Vec<Device>, Option<String>)> {
    check_filter_org(access, q.organisation.as_deref())?;
    if let Some(s) = &q.site {
        readable_site(app, access, s, Role::Viewer).await?;
    }
    let limit = q
        .limit
        .unwrap_or(super::DEFAULT_LIMIT)
        .clamp(1, super::MAX_LIMIT) as i64;
    // The readable organisations (all of them for a central role).
    let scope: BTreeSet<String> = match &q.organisation {
        Some(root) => access
            .readable()
            .into_iter()
            .filter(|o| access.is_within(o, root))
            .collect(),
        None => access.readable(),
    };
    let organisations = (!access.is_central() || q.organisation.is_some())
        .then(|| scope.into_iter().collect::<Vec<_>>());
    if q.q.as_ref().is_some_and(|n| n.len() > 200) {
        return Err(ApiError::bad("q: at most 200 characters"));
    }
    let status = match &q.status {
        Some(st) => Some(st.parse::<DeviceStatus>().map_err(ApiError::BadRequest)?),
        None => None,
    };
    // The maker is matched as `camtrace devices` matches it: the declared maker, else the one
    // the brand is attributed to (`camtrace_estate::devices::page`).
    let (devices, next) = camtrace_estate::devices::page(
        app.store.as_ref(),
        &app.kb,
        &camtrace_store::DevicePageQuery {
            organisations,
            site: q.site.clone(),
            maker: q.maker.clone(),
            brand: q.brand.clone(),
            class: q.class.clone(),
            status,
            sensitive: q.sensitive,
            text: q.q.clone(),
            after_id: q.cursor.clone(),
            limit,
        },
        crate::findings::today(),
    )
    .await?;
    Ok((devices, next))
}

#[utoipa::path(get, path = "/api/v1/devices", params(DeviceQuery), responses((status = 200, body = Page)))]
pub async fn list_devices(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<DeviceQuery>,
) -> ApiResult<Json<Page>> {
    let (devices, next) = device_page(&app, &caller.access, &q).await?;
    let today = crate::findings::today();
    let limit = q
        .limit
        .unwrap_or(super::DEFAULT_LIMIT)
        .clamp(1, super::MAX_LIMIT);
    Ok(Json(Page {
        // Each device as `camtrace devices --format json` gives it: with the maker the register
        // means (`attributed_maker`) when it names none.
        items: devices
            .into_iter()
            .map(|d| {
                to_json(&camtrace_estate::devices::DeviceRow::new(
                    Some(&app.kb),
                    d,
                    today,
                ))
            })
            .collect::<ApiResult<_>>()?,
        total: None,
        limit,
        offset: 0,
        next_cursor: next,
    }))
}

/// A device with its evidence: its site, the latest identification matched to it, its
/// findings and its history.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceDetail {
    #[schema(value_type = Object)]
    pub device: Device,
    #[schema(value_type = Object)]
    pub site: Site,
    #[schema(value_type = Vec<Object>)]
    pub identifications: Vec<camtrace_model::SeenIdentification>,
    #[schema(value_type = Vec<Object>)]
    pub findings: Vec<camtrace_policy::Finding>,
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<camtrace_store::HistoryEntry>,
}

pub async fn device_detail(app: &App, access: &Access, id: &str) -> ApiResult<DeviceDetail> {
    let (device, site) = readable_device(app, access, id, Role::Viewer).await?;
    let identifications: Vec<_> = app
        .store
        .latest_identifications(&EstateFilter {
            organisation: None,
            site: Some(site.id.clone()),
        })
        .await?
        .into_iter()
        .filter(|s| s.device_id.as_deref() == Some(id))
        .collect();
    let ev = crate::findings::evaluated_for(app, access, crate::findings::today(), &[]).await?;
    let findings = ev
        .findings
        .iter()
        .filter(|f| &*f.device_id == id)
        .cloned()
        .collect();
    let history = app
        .store
        .history(&HistoryFilter {
            entity_kind: Some("device".into()),
            entity_id: Some(id.to_string()),
            limit: Some(200),
            ..Default::default()
        })
        .await?;
    Ok(DeviceDetail {
        device,
        site,
        identifications,
        findings,
        history,
    })
}

#[utoipa::path(get, path = "/api/v1/devices/{id}", params(("id" = String, Path)), responses((status = 200, body = DeviceDetail), (status = 404)))]
pub async fn get_device(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<DeviceDetail>> {
    device_detail(&app, &caller.access, &id).await.map(Json)
}

async fn check_device_write(app: &App, access: &Access, dev: &Device) -> ApiResult<()> {
    readable_site(app, access, &dev.site, Role::Editor).await?;
    if let Some(old) = app.store.get_device(&dev.id).await? {
        if old.site != dev.site {
            readable_site(app, access, &old.site, Role::Editor)
                .await
                .map_err(|e| e.hide_as("device", &dev.id))?;
        }
    }
    Ok(())
}

#[utoipa::path(post, path = "/api/v1/devices", request_body = Object, responses((status = 200, body = Object)))]
pub async fn put_device(
    State(app): State<App>,
    caller: Caller,
    Json(dev): Json<Device>,
) -> ApiResult<Json<serde_json::Value>> {
    check_device_write(&app, &caller.access, &dev).await?;
    let change = app.store.upsert_device(&dev, caller.name()).await?;
    crate::alerts::device_changed(&app, &dev).await;
    Ok(Json(serde_json::json!({ "id": dev.id, "change": change })))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StatusChange {
    /// planned, installed, disconnected, removed.
    pub status: String,
    pub reason: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/devices/{id}/status", params(("id" = String, Path)), request_body = StatusChange, responses((status = 200, body = Object)))]
pub async fn set_status(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<StatusChange>,
) -> ApiResult<Json<serde_json::Value>> {
    readable_device(&app, &caller.access, &id, Role::Editor).await?;
    let status: DeviceStatus = body.status.parse().map_err(ApiError::BadRequest)?;
    let change = app
        .store
        .set_device_status(&id, status, caller.name(), body.reason.as_deref())
        .await?;
    Ok(Json(serde_json::json!({ "id": id, "change": change })))
}

// ------------------------------------------------------------------ bulk import

/// Check a whole register batch against the caller's roles before anything is written. Every
/// row passes the same rule as the single-item endpoint, for the row as it will be (its new
/// site or organisation) and for the row as stored (who owns it now). A stored row the caller
/// cannot read answers 404 naming only the row's own id, as `GET` of it would: never its site.
pub async fn check_batch(app: &App, access: &Access, batch: &RegisterBatch) -> ApiResult<()> {
    check_org_writes(access, &batch.organisations)?;
    // Organisations created in this batch: the caller becomes able to write under them only
    // through a grant on an ancestor, which `check_org_writes` required.
    let new_org_ok = |org: &str| -> bool {
        let mut cur = Some(org.to_string());
        let mut steps = 0;
        while let Some(id) = cur {
            steps += 1;
            if steps > 64 {
                return false;
            }
            if access.exists(&id) {
                return access.role(&id).is_some_and(|r| r >= Role::Editor);
            }
            cur = batch
                .organisations
                .iter()
                .find(|o| o.id == id)
                .and_then(|o| o.parent.clone());
        }
        access.central_role().is_some_and(|r| r >= Role::Editor)
    };
    let mut site_org: HashMap<String, String> = HashMap::new();
    for s in &batch.sites {
        if !new_org_ok(&s.organisation) {
            // Readable but not writable: 403 naming the role needed; unreadable: 404.
            if access.exists(&s.organisation) {
                access.require(
                    &s.organisation,
                    Role::Editor,
                    &format!("organisation `{}`", s.organisation),
                )?;
            }
            return Err(ApiError::not_found("organisation", &s.organisation));
        }
        if let Some(old) = app.store.get_site(&s.id).await? {
            access.require(&old.organisation, Role::Editor, &format!("site `{}`", s.id))?;
        }
        site_org.insert(s.id.clone(), s.organisation.clone());
    }
    // Stored sites' organisations, looked up once each.
    let mut stored: HashMap<String, Option<String>> = HashMap::new();
    let mut writable = async |site: &str| -> ApiResult<bool> {
        if let Some(org) = site_org.get(site) {
            return Ok(new_org_ok(org));
        }
        if !stored.contains_key(site) {
            let org = app.store.get_site(site).await?.map(|s| s.organisation);
            stored.insert(site.to_string(), org);
        }
        Ok(stored
            .get(site)
            .and_then(|o| o.as_deref())
            .is_some_and(|o| access.role(o).is_some_and(|r| r >= Role::Editor)))
    };
    // The row as it will be: its new site must be writable (404 naming that site, which the
    // caller gave). The row as stored: its current site must be writable too (404 naming the
    // row only).
    for z in &batch.zones {
        if !writable(&z.site).await? {
            readable_site(app, access, &z.site, Role::Editor).await?;
        }
        if let Some(old) = app.store.get_zone(&z.id).await? {
            if !writable(&old.site).await? {
                return Err(ApiError::not_found("zone", &z.id));
            }
        }
    }
    for n in &batch.networks {
        if !writable(&n.site).await? {
            readable_site(app, access, &n.site, Role::Editor).await?;
        }
        if let Some(old) = app.store.get_network(&n.id).await? {
            if !writable(&old.site).await? {
                return Err(ApiError::not_found("network", &n.id));
            }
        }
    }
    for d in &batch.devices {
        if !writable(&d.site).await? {
            readable_site(app, access, &d.site, Role::Editor).await?;
        }
        if let Some(old) = app.store.get_device(&d.id).await? {
            if !writable(&old.site).await? {
                return Err(ApiError::not_found("device", &d.id));
            }
        }
    }
    Ok(())
}

/// Apply a register batch (organisations, sites, zones, networks, devices) in one transaction,
/// all or nothing, after checking every entity against the caller's roles; audited.
pub async fn import_batch(
    app: &App,
    caller: &Caller,
    batch: &RegisterBatch,
    via: &str,
) -> ApiResult<serde_json::Value> {
    if batch.len() > 1_000_000 {
        return Err(ApiError::TooLarge(
            "at most 1,000,000 entities per import".into(),
        ));
    }
    check_batch(app, &caller.access, batch).await?;
    // One transaction: the changes, their history entries and the import's own audit entry.
    let mut r = app.store.begin_register(caller.name()).await?;
    r.apply(batch).await?;
    let summary_json = to_json(r.summary())?;
    r.record(&camtrace_store::NewHistory {
        actor: caller.name().to_string(),
        action: "import".into(),
        entity_kind: "register".into(),
        entity_id: via.into(),
        before: None,
        after: Some(serde_json::json!({ "entities": batch.len(), "summary": summary_json })),
    })
    .await?;
    r.commit().await?;
    for d in &batch.devices {
        crate::alerts::device_changed(app, d).await;
    }
    Ok(serde_json::json!({ "summary": summary_json }))
}

// ------------------------------------------------------------------ evidence

#[utoipa::path(get, path = "/api/v1/scans", params(SiteScoped), responses((status = 200, body = Page)))]
pub async fn list_scans(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<SiteScoped>,
) -> ApiResult<Json<Page>> {
    if let Some(s) = &q.site {
        readable_site(&app, &caller.access, s, Role::Viewer).await?;
    }
    let orgs = site_orgs(&app).await?;
    let central = caller.access.is_central();
    let scans: Vec<_> = app
        .store
        .list_scans(q.site.as_deref())
        .await?
        .into_iter()
        .filter(|s| match &s.site {
            Some(site) => orgs.get(site).is_some_and(|o| caller.access.can_read(o)),
            // Scans not tied to a site are visible to central roles only.
            None => central,
        })
        .collect();
    page(
        scans,
        &Paging {
            limit: q.limit,
            offset: q.offset,
        },
    )
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ObservationQuery {
    /// Required unless the caller has a central role.
    pub site: Option<String>,
    pub scan_id: Option<String>,
    pub target: Option<String>,
    pub kind: Option<String>,
    pub limit: Option<u64>,
}

#[utoipa::path(get, path = "/api/v1/observations", params(ObservationQuery), responses((status = 200, body = Page)))]
pub async fn list_observations(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<ObservationQuery>,
) -> ApiResult<Json<Page>> {
    let mut site = q.site.clone();
    if let Some(scan) = &q.scan_id {
        let scans = app.store.list_scans(None).await?;
        let s = scans
            .into_iter()
            .find(|s| &s.id == scan)
            .ok_or_else(|| ApiError::not_found("scan", scan))?;
        match (&s.site, &site) {
            (Some(a), Some(b)) if a != b => return Ok(Json(empty_page())),
            (Some(a), _) => site = Some(a.clone()),
            (None, _) if !caller.access.is_central() => {
                return Err(ApiError::not_found("scan", scan))
            }
            _ => {}
        }
    }
    match &site {
        Some(s) => {
            readable_site(&app, &caller.access, s, Role::Viewer).await?;
        }
        None if !caller.access.is_central() => {
            return Err(ApiError::bad("give `site` or `scan_id`"));
        }
        None => {}
    }
    let limit = q
        .limit
        .unwrap_or(super::DEFAULT_LIMIT)
        .clamp(1, super::MAX_LIMIT);
    let obs = app
        .store
        .observations(&ObservationFilter {
            scan_id: q.scan_id.clone(),
            site,
            target: q.target.clone(),
            kind: q.kind.clone(),
            limit: Some(limit as i64),
        })
        .await?;
    page(
        obs,
        &Paging {
            limit: Some(limit),
            offset: None,
        },
    )
}

fn empty_page() -> Page {
    Page {
        items: Vec::new(),
        total: Some(0),
        limit: 0,
        offset: 0,
        next_cursor: None,
    }
}

// ------------------------------------------------------------------ search

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Case-insensitive text.
    pub q: String,
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResult {
    #[schema(value_type = Vec<Object>)]
    pub organisations: Vec<Organisation>,
    #[schema(value_type = Vec<Object>)]
    pub sites: Vec<Site>,
    #[schema(value_type = Vec<Object>)]
    pub devices: Vec<Device>,
}

/// Search organisations, sites and devices the caller can read.
#[utoipa::path(get, path = "/api/v1/search", params(SearchQuery), responses((status = 200, body = SearchResult)))]
pub async fn search(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<SearchResult>> {
    search_all(
        &app,
        &caller.access,
        &q.q,
        q.limit.unwrap_or(20).clamp(1, 100),
    )
    .await
    .map(Json)
}

pub async fn search_all(
    app: &App,
    access: &Access,
    q: &str,
    limit: u64,
) -> ApiResult<SearchResult> {
    let n = q.trim().to_lowercase();
    if n.is_empty() || n.len() > 200 {
        return Err(ApiError::bad("q: 1-200 characters"));
    }
    let organisations = app
        .store
        .list_organisations()
        .await?
        .into_iter()
        .filter(|o| access.can_read(&o.id))
        .filter(|o| o.id.to_lowercase().contains(&n) || o.name.to_lowercase().contains(&n))
        .take(limit as usize)
        .collect();
    let sites = app
        .store
        .list_sites(&SiteFilter::default())
        .await?
        .into_iter()
        .filter(|s| access.can_read(&s.organisation))
        .filter(|s| s.id.to_lowercase().contains(&n) || s.name.to_lowercase().contains(&n))
        .take(limit as usize)
        .collect();
    let (devices, _) = device_page(
        app,
        access,
        &DeviceQuery {
            q: Some(n.clone()),
            limit: Some(limit),
            ..Default::default()
        },
    )
    .await?;
    Ok(SearchResult {
        organisations,
        sites,
        devices,
    })
}
