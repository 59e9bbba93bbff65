//! Look-ups for access control and paging: which organisation owns a site or a device, one
//! keyset page of devices within a set of organisations, and the register's revision.

use crate::sql::row_device;
use crate::{Result, SqlStore};
use async_trait::async_trait;
use camtrace_model::{Device, DeviceStatus};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::HashMap;

/// One page of devices.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevicePageQuery {
    /// Only devices of sites of these organisations (`None`: every organisation).
    pub organisations: Option<Vec<String>>,
    pub site: Option<String>,
    /// Maker id, case-insensitive.
    pub maker: Option<String>,
    /// Brand id, case-insensitive.
    pub brand: Option<String>,
    /// Device class as stored (lower case).
    pub class: Option<String>,
    pub status: Option<DeviceStatus>,
    /// Only devices on sites meeting (true) / not meeting (false) a sensitive-site criterion.
    pub sensitive: Option<bool>,
    /// A substring of the id, model, MAC or an address (case-insensitive, at most 200 bytes).
    pub text: Option<String>,
    /// Devices with an id after this one (the previous page's last id).
    pub after_id: Option<String>,
    /// At most this many (1 to 10,000).
    pub limit: i64,
}

/// Look-ups for the server. Implemented by every [`crate::Store`].
#[async_trait]
pub trait Lookups: Send + Sync {
    /// Site id → organisation id, for every site.
    async fn site_organisations(&self) -> Result<HashMap<String, String>>;
    /// Device id → organisation id (of its site), for the given devices or every device.
    async fn device_organisations(&self, ids: Option<&[String]>)
        -> Result<HashMap<String, String>>;
    /// A page of devices in id order, and whether more follow.
    async fn device_page(&self, q: &DevicePageQuery) -> Result<(Vec<Device>, bool)>;
    /// The register's revision: the hash of the newest register-history entry (empty for an
    /// empty history). Every change to the register and to decisions appends to the history in
    /// its own transaction, whichever process makes it, so the revision names the register's
    /// state; access events (the access log) do not change it.
    async fn register_revision(&self) -> Result<String>;
}

#[async_trait]
impl Lookups for SqlStore {
    async fn site_organisations(&self) -> Result<HashMap<String, String>> {
        sqlx::query("SELECT id, organisation FROM sites")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("organisation")?)))
            .collect()
    }

    async fn device_organisations(
        &self,
        ids: Option<&[String]>,
    ) -> Result<HashMap<String, String>> {
        let Some(ids) = ids else {
            return sqlx::query(
                "SELECT d.id AS id, s.organisation AS org FROM devices d JOIN sites s ON s.id = d.site",
            )
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("org")?)))
            .collect();
        };
        let mut out = HashMap::new();
        for chunk in ids.chunks(500) {
            let sql = format!(
                "SELECT d.id AS id, s.organisation AS org FROM devices d JOIN sites s ON s.id = d.site WHERE d.id IN ({})",
                crate::sql::placeholders(0, chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id.clone());
            }
            for r in q.fetch_all(&self.pool).await? {
                out.insert(r.try_get("id")?, r.try_get("org")?);
            }
        }
        Ok(out)
    }

    /// Keyset paging on the id, so any page costs the same. `CROSS JOIN` makes SQLite walk
    /// devices in id order and stop after one page instead of sorting a whole organisation's
    /// devices; PostgreSQL plans it as an ordinary join.
    async fn device_page(&self, q: &DevicePageQuery) -> Result<(Vec<Device>, bool)> {
        let limit = q.limit.clamp(1, 10_000);
        let mut args: Vec<String> = Vec::new();
        let mut arg = |v: String| {
            args.push(v);
            format!("${}", args.len())
        };
        let mut sql = String::from(
            "SELECT d.id AS id, d.site AS site, d.zone AS zone, d.network AS network, d.brand AS brand, d.maker AS maker, d.model AS model, d.firmware AS firmware, d.class AS class, d.mac AS mac, d.addresses AS addresses, d.status AS status, d.install_date AS install_date, d.scheduled_upgrade AS scheduled_upgrade, d.cost_device AS cost_device, d.cost_labour AS cost_labour, d.confidence AS confidence, d.notes AS notes FROM devices d CROSS JOIN sites s WHERE s.id = d.site",
        );
        if let Some(orgs) = &q.organisations {
            if orgs.is_empty() {
                return Ok((Vec::new(), false));
            }
            let ps: Vec<String> = orgs.iter().map(|o| arg(o.clone())).collect();
            sql.push_str(&format!(" AND s.organisation IN ({})", ps.join(", ")));
        }
        if let Some(s) = &q.site {
            sql.push_str(&format!(" AND d.site = {}", arg(s.clone())));
        }
        if let Some(m) = &q.maker {
            sql.push_str(&format!(" AND LOWER(d.maker) = {}", arg(m.to_lowercase())));
        }
        if let Some(b) = &q.brand {
            sql.push_str(&format!(" AND LOWER(d.brand) = {}", arg(b.to_lowercase())));
        }
        if let Some(c) = &q.class {
            sql.push_str(&format!(" AND d.class = {}", arg(c.to_lowercase())));
        }
        if let Some(st) = q.status {
            sql.push_str(&format!(" AND d.status = {}", arg(st.as_str().into())));
        }
        match q.sensitive {
            Some(true) => sql.push_str(
                " AND (s.secret_or_above + s.dv_significant + s.ministerial_use + s.socpa_2005) > 0",
            ),
            Some(false) => sql.push_str(
                " AND (s.secret_or_above + s.dv_significant + s.ministerial_use + s.socpa_2005) = 0",
            ),
            None => {}
        }
        if let Some(needle) = q.text.as_deref().filter(|n| !n.is_empty()) {
            if needle.len() > 200 {
                return Err(crate::StoreError::invalid(
                    "device search",
                    "at most 200 characters",
                ));
            }
            let like = format!("%{}%", needle.to_lowercase().replace(['%', '_'], ""));
            let p = arg(like);
            sql.push_str(&format!(
                " AND (LOWER(d.id) LIKE {p} OR LOWER(COALESCE(d.model, '')) LIKE {p} OR LOWER(COALESCE(d.mac, '')) LIKE {p} OR LOWER(d.addresses) LIKE {p})"
            ));
        }
        if let Some(c) = &q.after_id {
            sql.push_str(&format!(" AND d.id > {}", arg(c.clone())));
        }
        sql.push_str(&format!(" ORDER BY d.id LIMIT {}", limit + 1));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for a in args {
            query = query.bind(a);
        }
        let mut devices = query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(row_device)
            .collect::<Result<Vec<_>>>()?;
        let more = devices.len() as i64 > limit;
        devices.truncate(limit as usize);
        Ok((devices, more))
    }

    async fn register_revision(&self) -> Result<String> {
        let r = sqlx::query(
            "SELECT COALESCE((SELECT hash FROM history ORDER BY seq DESC LIMIT 1), '') AS h",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(r.try_get::<String, _>("h")?)
    }
}
