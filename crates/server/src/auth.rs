//! Users, passwords (Argon2id), browser sessions, API tokens and roles.
//!
//! Secrets never leave this module in clear except once, to the caller that created them:
//! session and API tokens are stored as SHA-256 hashes, passwords as Argon2id PHC strings.

use crate::error::{ApiError, ApiResult};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use camtrace_store::AnyPool;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;
use utoipa::ToSchema;

/// A role on an organisation (and, inherited, every organisation below it). Ordered: each role
/// can do everything the roles before it can.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read everything of the organisation.
    Viewer,
    /// Change the register, import, request waivers, draft plans.
    Editor,
    /// Approve or reject waivers and plans.
    Approver,
    /// Manage users, grants and webhooks of the organisation.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Editor => "editor",
            Self::Approver => "approver",
            Self::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "viewer" => Some(Self::Viewer),
            "editor" => Some(Self::Editor),
            "approver" => Some(Self::Approver),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// What an API token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenScope {
    /// GET only (capped at viewer).
    Read,
    /// Everything the owning user may do.
    Write,
    /// `GET /metrics` and nothing else (for a Prometheus scraper); only central admins may
    /// create one. Every other endpoint refuses it with 403.
    #[serde(rename = "metrics:read")]
    MetricsRead,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::MetricsRead => "metrics:read",
        }
    }
    /// The stored text back to a scope. Anything unknown is read-only (never more).
    pub fn parse(s: &str) -> TokenScope {
        match s {
            "write" => Self::Write,
            "metrics:read" => Self::MetricsRead,
            _ => Self::Read,
        }
    }
}

/// Argon2id cost. Tests use [`PasswordCost::Low`]; production uses the OWASP-recommended
/// defaults of the argon2 crate (19 MiB, 2 passes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCost {
    Default,
    Low,
}

fn hasher(cost: PasswordCost) -> Argon2<'static> {
    match cost {
        PasswordCost::Default => Argon2::default(),
        PasswordCost::Low => Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, None).unwrap_or_default(),
        ),
    }
}

pub const MIN_PASSWORD_LEN: usize = 10;
pub const MAX_PASSWORD_LEN: usize = 1024;

pub fn hash_password(password: &str, cost: PasswordCost) -> ApiResult<String> {
    if password.len() < MIN_PASSWORD_LEN {
        return Err(ApiError::bad(format!(
            "password must be at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(ApiError::bad("password too long"));
    }
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    hasher(cost)
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Internal(format!("hashing password: {e}")))
}

/// Verify against a stored PHC string (parameters come from the string itself).
pub fn verify_password(password: &str, phc: &str) -> bool {
    if password.len() > MAX_PASSWORD_LEN {
        return false;
    }
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// `n` random bytes from the OS, base64url without padding.
pub fn random_token(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// A random identifier (128 bits, hex).
pub fn new_id() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// SHA-256 hex of a secret token: what the database keeps.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Constant-time string comparison (CSRF tokens, signatures).
pub fn ct_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: String,
    pub username: String,
    /// A role over every organisation (the central security group), if any.
    pub central_role: Option<Role>,
    pub disabled: bool,
    pub created_at: String,
    pub grants: Vec<Grant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Grant {
    pub organisation: String,
    pub role: Role,
}

/// How the request was authenticated.
#[derive(Debug, Clone)]
pub enum Via {
    /// Browser session: state-changing requests need the CSRF token.
    Session {
        csrf: String,
        token_hash: String,
    },
    Token {
        id: String,
        scope: TokenScope,
    },
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    pub via: Via,
}

impl Principal {
    pub fn name(&self) -> &str {
        &self.user.username
    }
    /// A read-only (or metrics-only) token caps every role at viewer.
    pub fn cap(&self) -> Role {
        match self.via {
            Via::Token {
                scope: TokenScope::Read | TokenScope::MetricsRead,
                ..
            } => Role::Viewer,
            _ => Role::Admin,
        }
    }
    /// May read `GET /metrics`: a token with the `metrics:read` scope, or a browser session of a
    /// central admin. Other tokens may not, whoever owns them (a scraper gets its own
    /// credential that can do nothing else).
    pub fn may_read_metrics(&self) -> bool {
        match self.via {
            Via::Token { scope, .. } => scope == TokenScope::MetricsRead,
            Via::Session { .. } => self.user.central_role == Some(Role::Admin),
        }
    }
}

// ---------------------------------------------------------------- database access

fn row_user(r: &sqlx::any::AnyRow) -> ApiResult<User> {
    let central: Option<String> = r.try_get("central_role")?;
    Ok(User {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        central_role: central.as_deref().and_then(Role::parse),
        disabled: r.try_get::<i64, _>("disabled")? != 0,
        created_at: r.try_get("created_at")?,
        grants: Vec::new(),
    })
}

pub async fn user_count(pool: &AnyPool) -> ApiResult<i64> {
    let r = sqlx::query("SELECT COUNT(*) AS n FROM users")
        .fetch_one(pool)
        .await?;
    Ok(r.try_get::<i64, _>("n")?)
}

async fn load_grants(pool: &AnyPool, user: &mut User) -> ApiResult<()> {
    let rows = sqlx::query(
        "SELECT organisation, role FROM role_grants WHERE user_id = $1 ORDER BY organisation",
    )
    .bind(user.id.clone())
    .fetch_all(pool)
    .await?;
    user.grants = rows
        .iter()
        .filter_map(|r| {
            let org: String = r.try_get("organisation").ok()?;
            let role: String = r.try_get("role").ok()?;
            Some(Grant {
                organisation: org,
                role: Role::parse(&role)?,
            })
        })
        .collect();
    Ok(())
}

pub async fn get_user(pool: &AnyPool, id: &str) -> ApiResult<Option<User>> {
    let row = sqlx::query(
        "SELECT id, username, central_role, disabled, created_at FROM users WHERE id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(pool)
    .await?;
    match row {
        Some(r) => {
            let mut u = row_user(&r)?;
            load_grants(pool, &mut u).await?;
            Ok(Some(u))
        }
        None => Ok(None),
    }
}

pub async fn list_users(pool: &AnyPool) -> ApiResult<Vec<User>> {
    let rows = sqlx::query(
        "SELECT id, username, central_role, disabled, created_at FROM users ORDER BY username",
    )
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut u = row_user(r)?;
        load_grants(pool, &mut u).await?;
        out.push(u);
    }
    Ok(out)
}

pub fn valid_username(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

pub async fn create_user(
    pool: &AnyPool,
    username: &str,
    password: &str,
    central_role: Option<Role>,
    cost: PasswordCost,
) -> ApiResult<User> {
    if !valid_username(username) {
        return Err(ApiError::bad(
            "username: 1-64 characters of letters, digits, `.`, `_`, `-`, `@`",
        ));
    }
    let exists = sqlx::query("SELECT id FROM users WHERE username = $1")
        .bind(username.to_string())
        .fetch_optional(pool)
        .await?;
    if exists.is_some() {
        return Err(ApiError::Conflict(format!(
            "user `{username}` already exists"
        )));
    }
    let hash = hash_password(password, cost)?;
    let user = User {
        id: new_id(),
        username: username.to_string(),
        central_role,
        disabled: false,
        created_at: camtrace_store::now_rfc3339(),
        grants: Vec::new(),
    };
    sqlx::query("INSERT INTO users (id, username, password_hash, central_role, disabled, created_at) VALUES ($1, $2, $3, $4, 0, $5)")
        .bind(user.id.clone())
        .bind(user.username.clone())
        .bind(hash)
        .bind(central_role.map(|r| r.as_str().to_string()))
        .bind(user.created_at.clone())
        .execute(pool)
        .await?;
    Ok(user)
}

pub async fn set_password(
    pool: &AnyPool,
    user_id: &str,
    password: &str,
    cost: PasswordCost,
) -> ApiResult<()> {
    let hash = hash_password(password, cost)?;
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(user_id.to_string())
        .execute(pool)
        .await?;
    // Every session and every API token of the user ends with a password change: a stolen
    // credential does not outlive the password it came with.
    end_credentials(pool, user_id).await
}

/// End every session and revoke every API token of a user.
pub async fn end_credentials(pool: &AnyPool, user_id: &str) -> ApiResult<()> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id.to_string())
        .execute(pool)
        .await?;
    sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
        .bind(camtrace_store::now_rfc3339())
        .bind(user_id.to_string())
        .execute(pool)
        .await?;
    Ok(())
}

/// Disable (or enable again) a user. Disabling ends the user's sessions and revokes the
/// user's API tokens.
pub async fn set_disabled(pool: &AnyPool, user_id: &str, disabled: bool) -> ApiResult<()> {
    sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
        .bind(if disabled { 1i64 } else { 0 })
        .bind(user_id.to_string())
        .execute(pool)
        .await?;
    if disabled {
        end_credentials(pool, user_id).await?;
    }
    Ok(())
}

/// Set or remove a user's central role.
pub async fn set_central_role(pool: &AnyPool, user_id: &str, role: Option<Role>) -> ApiResult<()> {
    sqlx::query("UPDATE users SET central_role = $1 WHERE id = $2")
        .bind(role.map(|r| r.as_str().to_string()))
        .bind(user_id.to_string())
        .execute(pool)
        .await?;
    Ok(())
}

/// Delete a user with its grants, sessions and API tokens (the history keeps its name).
pub async fn delete_user(pool: &AnyPool, user_id: &str) -> ApiResult<()> {
    let mut tx = pool.begin().await?;
    for table in ["role_grants", "sessions", "api_tokens"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE user_id = $1"
        )))
        .bind(user_id.to_string())
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(user_id.to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Enabled users holding the central admin role.
pub async fn central_admins(pool: &AnyPool) -> ApiResult<Vec<String>> {
    let rows = sqlx::query(
        "SELECT id FROM users WHERE central_role = 'admin' AND disabled = 0 ORDER BY id",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| r.try_get::<String, _>("id").map_err(Into::into))
        .collect()
}

pub async fn set_grant(
    pool: &AnyPool,
    user_id: &str,
    org: &str,
    role: Option<Role>,
    by: &str,
) -> ApiResult<()> {
    sqlx::query("DELETE FROM role_grants WHERE user_id = $1 AND organisation = $2")
        .bind(user_id.to_string())
        .bind(org.to_string())
        .execute(pool)
        .await?;
    if let Some(role) = role {
        sqlx::query("INSERT INTO role_grants (user_id, organisation, role, granted_by, granted_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(user_id.to_string())
            .bind(org.to_string())
            .bind(role.as_str().to_string())
            .bind(by.to_string())
            .bind(camtrace_store::now_rfc3339())
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// Check a user name and password. `None` for an unknown user, a disabled user or a wrong
/// password (indistinguishable to the caller; an unknown user still costs one verification).
pub async fn check_login(
    pool: &AnyPool,
    username: &str,
    password: &str,
    cost: PasswordCost,
) -> ApiResult<Option<User>> {
    let row = sqlx::query(
        "SELECT id, username, central_role, disabled, created_at, password_hash FROM users WHERE username = $1",
    )
    .bind(username.to_string())
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        // Same work as a real check, against a hash that cannot match.
        let pw = password.to_string();
        tokio::task::spawn_blocking(move || verify_password(&pw, dummy_hash(cost)))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        return Ok(None);
    };
    let phc: String = row.try_get("password_hash")?;
    let pw = password.to_string();
    let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &phc))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut user = row_user(&row)?;
    if !ok || user.disabled {
        return Ok(None);
    }
    load_grants(pool, &mut user).await?;
    Ok(Some(user))
}

const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2dKbs0Rk9Nfvqa6SjD1dVqlZ3eFZwPGPjMG7WQkXJUI";

/// A hash no password matches, at the cost real hashes have (so an unknown user name takes as
/// long as a known one).
fn dummy_hash(cost: PasswordCost) -> &'static str {
    static LOW: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    match cost {
        PasswordCost::Default => DUMMY_HASH,
        PasswordCost::Low => LOW.get_or_init(|| {
            hash_password(&random_token(24), PasswordCost::Low)
                .unwrap_or_else(|_| DUMMY_HASH.to_string())
        }),
    }
}

/// A new browser session: returns (cookie token, CSRF token).
pub async fn create_session(
    pool: &AnyPool,
    user_id: &str,
    ttl: chrono::Duration,
) -> ApiResult<(String, String)> {
    let token = random_token(32);
    let csrf = random_token(24);
    let now = chrono::Utc::now();
    sqlx::query("INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(token_hash(&token))
        .bind(user_id.to_string())
        .bind(csrf.clone())
        .bind(rfc3339(now))
        .bind(rfc3339(now + ttl))
        .execute(pool)
        .await?;
    Ok((token, csrf))
}

pub fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

pub async fn delete_session(pool: &AnyPool, hash: &str) -> ApiResult<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(hash.to_string())
        .execute(pool)
        .await?;
    Ok(())
}

/// An authenticated caller as read from the database in one round trip: the principal (user,
/// grants, credential) and `head`, the hash of the newest history entry (empty for an empty
/// history). Every register change (organisations included) appends to the hash-chained
/// history in the same transaction, by whichever process makes it, so `head` names the state
/// of the register and tells whether a cached organisation tree is still current
/// ([`crate::access::OrgTreeCache`]). The hash rather than the sequence number: it also
/// changes when entries were removed and others appended up to the same number.
///
/// Nothing about the credential itself is cached: a revoked token, a deleted session, a
/// disabled user or a removed grant fails or changes on the very next request.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub principal: Principal,
    pub head: String,
}

/// The user and role columns shared by the session and token lookups, plus the history head.
macro_rules! caller_columns {
    () => {
        "u.id AS id, u.username AS username, u.central_role AS central_role, u.disabled AS disabled, u.created_at AS created_at, g.organisation AS grant_org, g.role AS grant_role, COALESCE((SELECT hash FROM history ORDER BY seq DESC LIMIT 1), '') AS head"
    };
}

/// The user (with every grant) from the rows of a caller lookup: one row per grant, or one
/// row with null grant columns for a user without grants.
fn user_from_rows(rows: &[sqlx::any::AnyRow]) -> ApiResult<Option<(User, String)>> {
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let mut user = row_user(first)?;
    let head: String = first.try_get("head")?;
    for r in rows {
        let org: Option<String> = r.try_get("grant_org")?;
        let role: Option<String> = r.try_get("grant_role")?;
        if let (Some(organisation), Some(role)) = (org, role.as_deref().and_then(Role::parse)) {
            user.grants.push(Grant { organisation, role });
        }
    }
    Ok(Some((user, head)))
}

/// The caller behind a session cookie, if the session exists and has not expired and its user
/// is enabled.
pub async fn resolve_session(pool: &AnyPool, token: &str) -> ApiResult<Option<Resolved>> {
    if token.len() > 256 {
        return Ok(None);
    }
    let hash = token_hash(token);
    let rows = sqlx::query(concat!(
        "SELECT s.csrf_token AS csrf_token, s.expires_at AS expires_at, ",
        caller_columns!(),
        " FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN role_grants g ON g.user_id = u.id WHERE s.token_hash = $1 ORDER BY g.organisation"
    ))
    .bind(hash.clone())
    .fetch_all(pool)
    .await?;
    let Some((user, head)) = user_from_rows(&rows)? else {
        return Ok(None);
    };
    let expires: String = rows[0].try_get("expires_at")?;
    if expires < rfc3339(chrono::Utc::now()) {
        delete_session(pool, &hash).await?;
        return Ok(None);
    }
    if user.disabled {
        return Ok(None);
    }
    let csrf: String = rows[0].try_get("csrf_token")?;
    Ok(Some(Resolved {
        principal: Principal {
            user,
            via: Via::Session {
                csrf,
                token_hash: hash,
            },
        },
        head,
    }))
}

/// The principal behind a session cookie ([`resolve_session`] without the history head).
pub async fn session_principal(pool: &AnyPool, token: &str) -> ApiResult<Option<Principal>> {
    Ok(resolve_session(pool, token).await?.map(|r| r.principal))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiToken {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub scope: TokenScope,
    pub created_at: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
}

pub const TOKEN_PREFIX: &str = "ct_";

/// A new API token: returns the token (shown once) and its record.
pub async fn create_token(
    pool: &AnyPool,
    user_id: &str,
    name: &str,
    scope: TokenScope,
    ttl: chrono::Duration,
) -> ApiResult<(String, ApiToken)> {
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::bad("token name: 1-100 characters"));
    }
    let token = format!("{TOKEN_PREFIX}{}", random_token(32));
    let now = chrono::Utc::now();
    let rec = ApiToken {
        id: new_id(),
        user_id: user_id.to_string(),
        name: name.to_string(),
        scope,
        created_at: rfc3339(now),
        expires_at: rfc3339(now + ttl),
        revoked_at: None,
    };
    sqlx::query("INSERT INTO api_tokens (id, token_hash, user_id, name, scope, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(rec.id.clone())
        .bind(token_hash(&token))
        .bind(rec.user_id.clone())
        .bind(rec.name.clone())
        .bind(scope.as_str().to_string())
        .bind(rec.created_at.clone())
        .bind(rec.expires_at.clone())
        .execute(pool)
        .await?;
    Ok((token, rec))
}

fn row_token(r: &sqlx::any::AnyRow) -> ApiResult<ApiToken> {
    let scope: String = r.try_get("scope")?;
    Ok(ApiToken {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        name: r.try_get("name")?,
        scope: TokenScope::parse(&scope),
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

pub async fn list_tokens(pool: &AnyPool, user_id: Option<&str>) -> ApiResult<Vec<ApiToken>> {
    let rows = match user_id {
        Some(u) => sqlx::query("SELECT id, user_id, name, scope, created_at, expires_at, revoked_at FROM api_tokens WHERE user_id = $1 ORDER BY created_at")
            .bind(u.to_string())
            .fetch_all(pool)
            .await?,
        None => sqlx::query("SELECT id, user_id, name, scope, created_at, expires_at, revoked_at FROM api_tokens ORDER BY created_at")
            .fetch_all(pool)
            .await?,
    };
    rows.iter().map(row_token).collect()
}

pub async fn get_token(pool: &AnyPool, id: &str) -> ApiResult<Option<ApiToken>> {
    let row = sqlx::query("SELECT id, user_id, name, scope, created_at, expires_at, revoked_at FROM api_tokens WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(row_token).transpose()
}

pub async fn revoke_token(pool: &AnyPool, id: &str) -> ApiResult<()> {
    sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(camtrace_store::now_rfc3339())
        .bind(id.to_string())
        .execute(pool)
        .await?;
    Ok(())
}

/// The caller behind a bearer token, if the token is valid, unexpired and not revoked and its
/// user is enabled.
pub async fn resolve_token(pool: &AnyPool, token: &str) -> ApiResult<Option<Resolved>> {
    if token.len() > 256 || !token.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    let rows = sqlx::query(concat!(
        "SELECT t.id AS token_id, t.scope AS scope, t.expires_at AS expires_at, t.revoked_at AS revoked_at, ",
        caller_columns!(),
        " FROM api_tokens t JOIN users u ON u.id = t.user_id LEFT JOIN role_grants g ON g.user_id = u.id WHERE t.token_hash = $1 ORDER BY g.organisation"
    ))
    .bind(token_hash(token))
    .fetch_all(pool)
    .await?;
    let Some((user, head)) = user_from_rows(&rows)? else {
        return Ok(None);
    };
    let r = &rows[0];
    let revoked: Option<String> = r.try_get("revoked_at")?;
    let expires: String = r.try_get("expires_at")?;
    if revoked.is_some() || expires < rfc3339(chrono::Utc::now()) || user.disabled {
        return Ok(None);
    }
    let scope: String = r.try_get("scope")?;
    Ok(Some(Resolved {
        principal: Principal {
            user,
            via: Via::Token {
                id: r.try_get("token_id")?,
                scope: TokenScope::parse(&scope),
            },
        },
        head,
    }))
}

/// The principal behind a bearer token ([`resolve_token`] without the history head).
pub async fn token_principal(pool: &AnyPool, token: &str) -> ApiResult<Option<Principal>> {
    Ok(resolve_token(pool, token).await?.map(|r| r.principal))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse battery", PasswordCost::Low).unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong horse battery", &h));
        assert!(hash_password("short", PasswordCost::Low).is_err());
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = random_token(32);
        let b = random_token(32);
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
        assert!(ct_eq("abc", "abc"));
        assert!(!ct_eq("abc", "abd"));
        assert!(!ct_eq("abc", "abcd"));
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Admin > Role::Approver);
        assert!(Role::Approver > Role::Editor);
        assert!(Role::Editor > Role::Viewer);
        assert_eq!(Role::parse("Approver"), Some(Role::Approver));
        assert_eq!(Role::parse("root"), None);
    }
}
