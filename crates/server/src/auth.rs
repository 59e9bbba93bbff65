//! Users, passwords (Argon2id), browser sessions, API tokens and roles.
//!
//! Secrets never leave this module in clear except once, to the caller that created them:
//! session and API tokens are stored as SHA-256 hashes, passwords as Argon2id PHC strings.

use crate::error::{ApiError, ApiResult};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use camtrace_store::{CallerCredential, NewHistory, Store, TokenRecord, UserRecord};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
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

// ---------------------------------------------------------------- through the store

fn user_from_record(r: UserRecord) -> User {
    User {
        id: r.id,
        username: r.username,
        central_role: r.central_role.as_deref().and_then(Role::parse),
        disabled: r.disabled,
        created_at: r.created_at,
        grants: r
            .grants
            .into_iter()
            .filter_map(|g| {
                Some(Grant {
                    role: Role::parse(&g.role)?,
                    organisation: g.organisation,
                })
            })
            .collect(),
    }
}

fn token_from_record(r: TokenRecord) -> ApiToken {
    ApiToken {
        scope: TokenScope::parse(&r.scope),
        id: r.id,
        user_id: r.user_id,
        name: r.name,
        created_at: r.created_at,
        expires_at: r.expires_at,
        revoked_at: r.revoked_at,
    }
}

/// A history entry about a user or a credential (written by the store in the transaction of
/// the change it records).
pub fn entry(
    actor: &str,
    action: &str,
    kind: &str,
    id: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> NewHistory {
    NewHistory {
        actor: actor.to_string(),
        action: action.to_string(),
        entity_kind: kind.to_string(),
        entity_id: id.to_string(),
        before,
        after,
    }
}

pub async fn user_count(store: &dyn Store) -> ApiResult<i64> {
    Ok(store.user_count().await?)
}

pub async fn get_user(store: &dyn Store, id: &str) -> ApiResult<Option<User>> {
    Ok(store.get_user(id).await?.map(user_from_record))
}

pub async fn list_users(store: &dyn Store) -> ApiResult<Vec<User>> {
    Ok(store
        .list_users()
        .await?
        .into_iter()
        .map(user_from_record)
        .collect())
}

pub fn valid_username(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

/// Create a user (without a history entry: see [`create_user_recorded`]).
pub async fn create_user(
    store: &dyn Store,
    username: &str,
    password: &str,
    central_role: Option<Role>,
    cost: PasswordCost,
) -> ApiResult<User> {
    create_user_recorded(store, username, password, central_role, cost, None).await
}

/// Create a user; `actor` (who creates it) gets a `user_create` history entry in the same
/// transaction.
pub async fn create_user_recorded(
    store: &dyn Store,
    username: &str,
    password: &str,
    central_role: Option<Role>,
    cost: PasswordCost,
    actor: Option<(&str, serde_json::Value)>,
) -> ApiResult<User> {
    if !valid_username(username) {
        return Err(ApiError::bad(
            "username: 1-64 characters of letters, digits, `.`, `_`, `-`, `@`",
        ));
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
    let history =
        actor.map(|(by, after)| entry(by, "user_create", "user", username, None, Some(after)));
    store
        .create_user(
            &camtrace_store::NewUser {
                id: user.id.clone(),
                username: user.username.clone(),
                password_hash: hash,
                central_role: central_role.map(|r| r.as_str().to_string()),
                created_at: user.created_at.clone(),
            },
            history.as_ref(),
        )
        .await?;
    Ok(user)
}

/// Change a password: every session and every API token of the user ends with it (a stolen
/// credential does not outlive the password it came with), in one transaction with `history`.
pub async fn set_password(
    store: &dyn Store,
    user_id: &str,
    password: &str,
    cost: PasswordCost,
    history: Option<&NewHistory>,
) -> ApiResult<()> {
    let hash = hash_password(password, cost)?;
    Ok(store.set_password_hash(user_id, &hash, history).await?)
}

/// Disable (or enable again) a user. Disabling ends the user's sessions and revokes the
/// user's API tokens.
pub async fn set_disabled(
    store: &dyn Store,
    user_id: &str,
    disabled: bool,
    history: Option<&NewHistory>,
) -> ApiResult<()> {
    Ok(store.set_user_disabled(user_id, disabled, history).await?)
}

/// Set or remove a user's central role.
pub async fn set_central_role(
    store: &dyn Store,
    user_id: &str,
    role: Option<Role>,
    history: Option<&NewHistory>,
) -> ApiResult<()> {
    Ok(store
        .set_central_role(user_id, role.map(Role::as_str), history)
        .await?)
}

/// Delete a user with its grants, sessions and API tokens (the history keeps its name).
pub async fn delete_user(
    store: &dyn Store,
    user_id: &str,
    history: Option<&NewHistory>,
) -> ApiResult<()> {
    Ok(store.delete_user(user_id, history).await?)
}

/// Enabled users holding the central admin role.
pub async fn central_admins(store: &dyn Store) -> ApiResult<Vec<String>> {
    Ok(store.central_admins().await?)
}

pub async fn set_grant(
    store: &dyn Store,
    user_id: &str,
    org: &str,
    role: Option<Role>,
    by: &str,
) -> ApiResult<()> {
    set_grant_recorded(store, user_id, org, role, by, None).await
}

pub async fn set_grant_recorded(
    store: &dyn Store,
    user_id: &str,
    org: &str,
    role: Option<Role>,
    by: &str,
    history: Option<&NewHistory>,
) -> ApiResult<()> {
    Ok(store
        .set_grant(user_id, org, role.map(Role::as_str), by, history)
        .await?)
}

/// Check a user name and password. `None` for an unknown user, a disabled user or a wrong
/// password (indistinguishable to the caller; an unknown user still costs one verification).
pub async fn check_login(
    store: &dyn Store,
    username: &str,
    password: &str,
    cost: PasswordCost,
) -> ApiResult<Option<User>> {
    let Some((user, phc)) = store.user_for_login(username).await? else {
        // Same work as a real check, against a hash that cannot match.
        let pw = password.to_string();
        tokio::task::spawn_blocking(move || verify_password(&pw, dummy_hash(cost)))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        return Ok(None);
    };
    let pw = password.to_string();
    let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &phc))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let user = user_from_record(user);
    if !ok || user.disabled {
        return Ok(None);
    }
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
    store: &dyn Store,
    user_id: &str,
    ttl: chrono::Duration,
) -> ApiResult<(String, String)> {
    let token = random_token(32);
    let csrf = random_token(24);
    let now = chrono::Utc::now();
    store
        .create_session(
            &token_hash(&token),
            user_id,
            &csrf,
            &rfc3339(now),
            &rfc3339(now + ttl),
        )
        .await?;
    Ok((token, csrf))
}

pub fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

pub async fn delete_session(store: &dyn Store, hash: &str) -> ApiResult<()> {
    Ok(store.delete_session(hash).await?)
}

/// An authenticated caller as read from the store in one round trip: the principal (user,
/// grants, credential) and `head`, the register's revision
/// ([`camtrace_store::Lookups::register_revision`]: the hash of the newest register-history
/// entry). Every register change (organisations included) appends to the hash-chained history
/// in the same transaction, by whichever process makes it, so `head` names the state of the
/// register and tells whether a cached organisation tree is still current
/// ([`crate::access::OrgTreeCache`]). Access events (sign-ins, exports) go to the separate
/// access log and do not change it.
///
/// Nothing about the credential itself is cached: a revoked token, a deleted session, a
/// disabled user or a removed grant fails or changes on the very next request.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub principal: Principal,
    pub head: String,
}

/// The caller behind a session cookie, if the session exists and has not expired and its user
/// is enabled.
pub async fn resolve_session(store: &dyn Store, token: &str) -> ApiResult<Option<Resolved>> {
    if token.len() > 256 {
        return Ok(None);
    }
    let hash = token_hash(token);
    let Some(rec) = store.session_caller(&hash).await? else {
        return Ok(None);
    };
    let CallerCredential::Session {
        csrf_token,
        expires_at,
    } = rec.credential
    else {
        return Ok(None);
    };
    if expires_at < rfc3339(chrono::Utc::now()) {
        delete_session(store, &hash).await?;
        return Ok(None);
    }
    let user = user_from_record(rec.user);
    if user.disabled {
        return Ok(None);
    }
    Ok(Some(Resolved {
        principal: Principal {
            user,
            via: Via::Session {
                csrf: csrf_token,
                token_hash: hash,
            },
        },
        head: rec.register_revision,
    }))
}

/// The principal behind a session cookie ([`resolve_session`] without the history head).
pub async fn session_principal(store: &dyn Store, token: &str) -> ApiResult<Option<Principal>> {
    Ok(resolve_session(store, token).await?.map(|r| r.principal))
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
    store: &dyn Store,
    user_id: &str,
    name: &str,
    scope: TokenScope,
    ttl: chrono::Duration,
) -> ApiResult<(String, ApiToken)> {
    create_token_recorded(store, user_id, name, scope, ttl, None).await
}

/// [`create_token`], with a `token_create` history entry by `actor` in the same transaction.
pub async fn create_token_recorded(
    store: &dyn Store,
    user_id: &str,
    name: &str,
    scope: TokenScope,
    ttl: chrono::Duration,
    actor: Option<&str>,
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
    let history = actor.map(|by| {
        entry(
            by,
            "token_create",
            "api_token",
            &rec.id,
            None,
            Some(serde_json::json!({"name": rec.name, "scope": rec.scope, "expires_at": rec.expires_at})),
        )
    });
    store
        .create_token(
            &TokenRecord {
                id: rec.id.clone(),
                user_id: rec.user_id.clone(),
                name: rec.name.clone(),
                scope: scope.as_str().to_string(),
                created_at: rec.created_at.clone(),
                expires_at: rec.expires_at.clone(),
                revoked_at: None,
            },
            &token_hash(&token),
            history.as_ref(),
        )
        .await?;
    Ok((token, rec))
}

pub async fn list_tokens(store: &dyn Store, user_id: Option<&str>) -> ApiResult<Vec<ApiToken>> {
    Ok(store
        .list_tokens(user_id)
        .await?
        .into_iter()
        .map(token_from_record)
        .collect())
}

pub async fn get_token(store: &dyn Store, id: &str) -> ApiResult<Option<ApiToken>> {
    Ok(store.get_token(id).await?.map(token_from_record))
}

pub async fn revoke_token(
    store: &dyn Store,
    id: &str,
    history: Option<&NewHistory>,
) -> ApiResult<()> {
    Ok(store.revoke_token(id, history).await?)
}

/// The caller behind a bearer token, if the token is valid, unexpired and not revoked and its
/// user is enabled.
pub async fn resolve_token(store: &dyn Store, token: &str) -> ApiResult<Option<Resolved>> {
    if token.len() > 256 || !token.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    let Some(rec) = store.token_caller(&token_hash(token)).await? else {
        return Ok(None);
    };
    let CallerCredential::Token {
        id,
        scope,
        expires_at,
        revoked_at,
    } = rec.credential
    else {
        return Ok(None);
    };
    let user = user_from_record(rec.user);
    if revoked_at.is_some() || expires_at < rfc3339(chrono::Utc::now()) || user.disabled {
        return Ok(None);
    }
    Ok(Some(Resolved {
        principal: Principal {
            user,
            via: Via::Token {
                id,
                scope: TokenScope::parse(&scope),
            },
        },
        head: rec.register_revision,
    }))
}

/// The principal behind a bearer token ([`resolve_token`] without the history head).
pub async fn token_principal(store: &dyn Store, token: &str) -> ApiResult<Option<Principal>> {
    Ok(resolve_token(store, token).await?.map(|r| r.principal))
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
