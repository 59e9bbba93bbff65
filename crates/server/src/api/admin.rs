//! Login/logout, the current user, users and role grants, API tokens, webhooks.

use super::{page, Page, Paging};
use crate::auth::{self, ApiToken, Role, TokenScope, User, Via};
use crate::error::{ApiError, ApiResult};
use crate::extract::{self, Caller};
use crate::{AccessAction, App};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginBody {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LoginResult {
    pub user: User,
    /// Send as `X-CSRF-Token` on every state-changing request made with the session cookie.
    pub csrf_token: String,
}

/// Check credentials, start a session and record the attempt ([`App::access_event`]).
/// Returns the session cookie value and the CSRF token.
///
/// The throttle ([`crate::throttle`]) reserves the attempt before anything else, in one
/// critical section: concurrent guesses cannot run more password checks than its limits, and
/// a refused attempt costs no password check and no database write.
pub async fn do_login(
    app: &App,
    username: &str,
    password: &str,
    addr: Option<std::net::IpAddr>,
) -> ApiResult<(User, String, String)> {
    let now = std::time::Instant::now();
    let permit = match app.login_throttle.begin(username, addr, now) {
        Ok(p) => p,
        Err(wait) => {
            app.access_event(AccessAction::LoginThrottled, username, addr)
                .await?;
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            return Err(ApiError::TooManyRequests(
                format!("too many failed sign-ins; try again in {secs} s"),
                secs,
            ));
        }
    };
    // A name no account can have, or an oversized password, is a failure without a check.
    if !auth::valid_username(username) || password.len() > auth::MAX_PASSWORD_LEN {
        app.access_event(AccessAction::LoginFailed, username, addr)
            .await?;
        return Err(ApiError::Unauthenticated);
    }
    match auth::check_login(&*app.store, username, password, app.password_cost).await? {
        Some(user) => {
            app.login_throttle
                .succeeded(permit, std::time::Instant::now());
            let (token, csrf) =
                auth::create_session(&*app.store, &user.id, app.config.session_ttl).await?;
            app.access_event(AccessAction::Login, &user.username, addr)
                .await?;
            Ok((user, token, csrf))
        }
        None => {
            app.access_event(AccessAction::LoginFailed, username, addr)
                .await?;
            Err(ApiError::Unauthenticated)
        }
    }
}

pub fn set_cookie_header(app: &App, token: &str) -> (header::HeaderName, HeaderValue) {
    let v = extract::session_cookie(
        token,
        app.config.secure_cookies(),
        app.config.session_ttl.num_seconds(),
    );
    (
        header::SET_COOKIE,
        HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("")),
    )
}

/// Start a browser session (sets the `camtrace_session` cookie: HttpOnly, SameSite=Strict).
#[utoipa::path(post, path = "/api/v1/auth/login", request_body = LoginBody, responses((status = 200, body = LoginResult), (status = 401), (status = 429, description = "too many failed sign-ins from this address or for this user name: wait `Retry-After` seconds")))]
pub async fn login(
    State(app): State<App>,
    extract::ClientAddr(addr): extract::ClientAddr,
    Json(body): Json<LoginBody>,
) -> ApiResult<Response> {
    let (user, token, csrf) = do_login(&app, &body.username, &body.password, addr).await?;
    Ok((
        [set_cookie_header(&app, &token)],
        Json(LoginResult {
            user,
            csrf_token: csrf,
        }),
    )
        .into_response())
}

#[utoipa::path(post, path = "/api/v1/auth/logout", responses((status = 204)))]
pub async fn logout(
    State(app): State<App>,
    extract::ClientAddr(addr): extract::ClientAddr,
    caller: Caller,
) -> ApiResult<Response> {
    if let Via::Session { token_hash, .. } = &caller.principal.via {
        auth::delete_session(&*app.store, token_hash).await?;
    }
    app.access_event(AccessAction::Logout, caller.name(), addr)
        .await?;
    let v = extract::clear_cookie(app.config.secure_cookies());
    Ok((
        axum::http::StatusCode::NO_CONTENT,
        [(
            header::SET_COOKIE,
            HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("")),
        )],
    )
        .into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub user: User,
    /// Effective role per readable organisation (grants inherited down the tree).
    pub roles: std::collections::BTreeMap<String, Role>,
    /// How this request authenticated: `session` or `token`.
    pub via: String,
    pub csrf_token: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = Me), (status = 401)))]
pub async fn me(caller: Caller) -> Json<Me> {
    let roles = caller
        .access
        .readable()
        .into_iter()
        .filter_map(|o| caller.access.role(&o).map(|r| (o, r)))
        .collect();
    let (via, csrf) = match &caller.principal.via {
        Via::Session { csrf, .. } => ("session", Some(csrf.clone())),
        Via::Token { .. } => ("token", None),
    };
    Json(Me {
        user: caller.principal.user.clone(),
        roles,
        via: via.into(),
        csrf_token: csrf,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordChange {
    pub current: String,
    pub new: String,
}

#[utoipa::path(post, path = "/api/v1/me/password", request_body = PasswordChange, responses((status = 204), (status = 401)))]
pub async fn change_password(
    State(app): State<App>,
    extract::ClientAddr(addr): extract::ClientAddr,
    caller: Caller,
    Json(b): Json<PasswordChange>,
) -> ApiResult<axum::http::StatusCode> {
    // The current password is a guess like any sign-in (a stolen session or token must not
    // test passwords faster than the sign-in form allows).
    let permit = app
        .login_throttle
        .begin(caller.name(), addr, std::time::Instant::now())
        .map_err(|wait| {
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            ApiError::TooManyRequests(
                format!("too many wrong passwords; try again in {secs} s"),
                secs,
            )
        })?;
    if auth::check_login(&*app.store, caller.name(), &b.current, app.password_cost)
        .await?
        .is_none()
    {
        return Err(ApiError::forbidden("current password is wrong"));
    }
    app.login_throttle
        .succeeded(permit, std::time::Instant::now());
    auth::set_password(
        &*app.store,
        &caller.principal.user.id,
        &b.new,
        app.password_cost,
        Some(&auth::entry(
            caller.name(),
            "password_change",
            "user",
            caller.name(),
            None,
            None,
        )),
    )
    .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

fn require_central_admin(caller: &Caller) -> ApiResult<()> {
    if caller.access.central_role() == Some(Role::Admin) {
        Ok(())
    } else {
        Err(ApiError::forbidden("central admin role required"))
    }
}

/// Every user (central admin) or the users holding a role within the organisations the caller
/// administers (organisation admin).
#[utoipa::path(get, path = "/api/v1/users", params(Paging), responses((status = 200, body = Page)))]
pub async fn list_users(
    State(app): State<App>,
    caller: Caller,
    Query(p): Query<Paging>,
) -> ApiResult<Json<Page>> {
    let admin_of = caller.access.with_role(Role::Admin);
    if admin_of.is_empty() {
        return Err(ApiError::forbidden("admin role required"));
    }
    let users = auth::list_users(&*app.store).await?;
    let users: Vec<User> = if caller.access.central_role() == Some(Role::Admin) {
        users
    } else {
        users
            .into_iter()
            .filter(|u| u.grants.iter().any(|g| admin_of.contains(&g.organisation)))
            .map(|mut u| {
                // Only show the grants the caller administers.
                u.grants.retain(|g| admin_of.contains(&g.organisation));
                u.central_role = None;
                u
            })
            .collect()
    };
    page(users, &p)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    pub central_role: Option<Role>,
}

#[utoipa::path(post, path = "/api/v1/users", request_body = NewUser, responses((status = 200, body = User), (status = 403)))]
pub async fn create_user(
    State(app): State<App>,
    caller: Caller,
    Json(b): Json<NewUser>,
) -> ApiResult<Json<User>> {
    require_central_admin(&caller)?;
    let u = auth::create_user_recorded(
        &*app.store,
        &b.username,
        &b.password,
        b.central_role,
        app.password_cost,
        Some((
            caller.name(),
            serde_json::json!({"username": b.username, "central_role": b.central_role}),
        )),
    )
    .await?;
    Ok(Json(u))
}

/// The user `id`, for a central admin (404 otherwise).
async fn user_for_central_admin(app: &App, caller: &Caller, id: &str) -> ApiResult<User> {
    require_central_admin(caller)?;
    auth::get_user(&*app.store, id)
        .await?
        .ok_or_else(|| ApiError::not_found("user", id))
}

/// Refuse a change that would leave no enabled central admin, or that a central admin makes
/// to their own account (another admin must do it).
async fn keep_an_admin(app: &App, caller: &Caller, target: &User, what: &str) -> ApiResult<()> {
    if target.id == caller.principal.user.id {
        return Err(ApiError::forbidden(format!(
            "you cannot {what} your own account; ask another central admin"
        )));
    }
    let admins = auth::central_admins(&*app.store).await?;
    if admins.len() <= 1 && admins.contains(&target.id) {
        return Err(ApiError::Conflict(format!(
            "cannot {what} the last enabled central admin"
        )));
    }
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DisabledBody {
    /// `true` disables the user (ending every session and revoking every API token); `false`
    /// enables the user again (old tokens stay revoked).
    pub disabled: bool,
}

/// Disable or enable a user (central admin).
#[utoipa::path(post, path = "/api/v1/users/{id}/disabled", params(("id" = String, Path)), request_body = DisabledBody, responses((status = 200, body = User), (status = 403), (status = 404), (status = 409)))]
pub async fn set_user_disabled(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(b): Json<DisabledBody>,
) -> ApiResult<Json<User>> {
    let before = user_for_central_admin(&app, &caller, &id).await?;
    if b.disabled {
        keep_an_admin(&app, &caller, &before, "disable").await?;
    }
    auth::set_disabled(
        &*app.store,
        &before.id,
        b.disabled,
        Some(&auth::entry(
            caller.name(),
            if b.disabled {
                "user_disable"
            } else {
                "user_enable"
            },
            "user",
            &before.username,
            Some(serde_json::json!({"disabled": before.disabled})),
            Some(serde_json::json!({"disabled": b.disabled})),
        )),
    )
    .await?;
    Ok(Json(
        auth::get_user(&*app.store, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("user", &id))?,
    ))
}

/// Delete a user, with the user's grants, sessions and API tokens (central admin). The
/// history keeps the name.
#[utoipa::path(delete, path = "/api/v1/users/{id}", params(("id" = String, Path)), responses((status = 204), (status = 403), (status = 404), (status = 409)))]
pub async fn delete_user(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::http::StatusCode> {
    let before = user_for_central_admin(&app, &caller, &id).await?;
    keep_an_admin(&app, &caller, &before, "delete").await?;
    auth::delete_user(
        &*app.store,
        &before.id,
        Some(&auth::entry(
            caller.name(),
            "user_delete",
            "user",
            &before.username,
            Some(serde_json::json!({"username": before.username, "central_role": before.central_role, "grants": before.grants})),
            None,
        )),
    )
    .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CentralRoleBody {
    /// The role over every organisation; `null` removes it.
    pub central_role: Option<Role>,
}

/// Set or remove a user's central role (central admin).
#[utoipa::path(post, path = "/api/v1/users/{id}/central-role", params(("id" = String, Path)), request_body = CentralRoleBody, responses((status = 200, body = User), (status = 403), (status = 404), (status = 409)))]
pub async fn set_central_role(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(b): Json<CentralRoleBody>,
) -> ApiResult<Json<User>> {
    let before = user_for_central_admin(&app, &caller, &id).await?;
    if before.central_role == Some(Role::Admin) && b.central_role != Some(Role::Admin) {
        keep_an_admin(&app, &caller, &before, "remove the central admin role of").await?;
    }
    auth::set_central_role(
        &*app.store,
        &before.id,
        b.central_role,
        Some(&auth::entry(
            caller.name(),
            "central_role",
            "user",
            &before.username,
            Some(serde_json::json!({"central_role": before.central_role})),
            Some(serde_json::json!({"central_role": b.central_role})),
        )),
    )
    .await?;
    Ok(Json(
        auth::get_user(&*app.store, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("user", &id))?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct GrantBody {
    pub organisation: String,
    /// `null` removes the grant.
    pub role: Option<Role>,
}

/// Grant (or remove) a role on an organisation: needs the admin role on that organisation.
#[utoipa::path(post, path = "/api/v1/users/{id}/grants", params(("id" = String, Path)), request_body = GrantBody, responses((status = 200, body = User)))]
pub async fn set_grant(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(b): Json<GrantBody>,
) -> ApiResult<Json<User>> {
    caller.access.require(
        &b.organisation,
        Role::Admin,
        &format!("organisation `{}`", b.organisation),
    )?;
    let before = auth::get_user(&*app.store, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("user", &id))?;
    // The grants after the change, as the store will list them (ordered by organisation).
    let mut grants: Vec<auth::Grant> = before
        .grants
        .iter()
        .filter(|g| g.organisation != b.organisation)
        .cloned()
        .collect();
    if let Some(role) = b.role {
        grants.push(auth::Grant {
            organisation: b.organisation.clone(),
            role,
        });
    }
    grants.sort_by(|x, y| x.organisation.cmp(&y.organisation));
    auth::set_grant_recorded(
        &*app.store,
        &id,
        &b.organisation,
        b.role,
        caller.name(),
        Some(&auth::entry(
            caller.name(),
            "grant",
            "user",
            &before.username,
            Some(serde_json::json!({"organisation": b.organisation, "grants": before.grants})),
            Some(serde_json::json!({"organisation": b.organisation, "grants": grants})),
        )),
    )
    .await?;
    let after = auth::get_user(&*app.store, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("user", &id))?;
    Ok(Json(after))
}

/// The caller's API tokens (all tokens for a central admin).
#[utoipa::path(get, path = "/api/v1/tokens", responses((status = 200, body = [ApiToken])))]
pub async fn list_tokens(State(app): State<App>, caller: Caller) -> ApiResult<Json<Vec<ApiToken>>> {
    let all = caller.access.central_role() == Some(Role::Admin);
    Ok(Json(
        auth::list_tokens(
            &*app.store,
            if all {
                None
            } else {
                Some(&caller.principal.user.id)
            },
        )
        .await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewToken {
    pub name: String,
    /// `read`, `write`, or `metrics:read` (only `GET /metrics`; central admins only).
    pub scope: TokenScope,
    /// Lifetime in days, 1 up to the server's `token_days` (the default); anything else is 400.
    pub expires_days: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    /// The token: shown this once, never stored in clear.
    pub token: String,
    pub record: ApiToken,
}

#[utoipa::path(post, path = "/api/v1/tokens", request_body = NewToken, responses((status = 200, body = CreatedToken)))]
pub async fn create_token(
    State(app): State<App>,
    caller: Caller,
    Json(b): Json<NewToken>,
) -> ApiResult<Json<CreatedToken>> {
    if let Via::Token { .. } = caller.principal.via {
        return Err(ApiError::forbidden(
            "API tokens cannot create tokens; log in",
        ));
    }
    if b.scope == TokenScope::MetricsRead {
        // Metrics span every organisation: only a central admin may hand out access to them.
        require_central_admin(&caller)?;
    }
    let max = app.config.token_ttl;
    // Range-checked before any date arithmetic: `Duration::days` panics far below i64::MAX.
    let max_days = max.num_days().max(1);
    let ttl = match b.expires_days {
        Some(d) if (1..=max_days).contains(&d) => chrono::Duration::days(d),
        Some(_) => {
            return Err(ApiError::bad(format!(
                "expires_days must be 1..{max_days} (the server's token_days)"
            )))
        }
        None => max,
    };
    let (token, record) = auth::create_token_recorded(
        &*app.store,
        &caller.principal.user.id,
        &b.name,
        b.scope,
        ttl,
        Some(caller.name()),
    )
    .await?;
    Ok(Json(CreatedToken { token, record }))
}

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", params(("id" = String, Path)), responses((status = 204), (status = 404)))]
pub async fn revoke_token(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::http::StatusCode> {
    let t = auth::get_token(&*app.store, &id)
        .await?
        .filter(|t| {
            t.user_id == caller.principal.user.id
                || caller.access.central_role() == Some(Role::Admin)
        })
        .ok_or_else(|| ApiError::not_found("token", &id))?;
    auth::revoke_token(
        &*app.store,
        &t.id,
        Some(&auth::entry(
            caller.name(),
            "token_revoke",
            "api_token",
            &t.id,
            None,
            None,
        )),
    )
    .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

// ------------------------------------------------------------------ webhooks

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewWebhook {
    /// http(s) URL that receives signed POSTs.
    pub url: String,
    /// Events to send (`restricted_device_on_sensitive_site`, `waiver_expired`,
    /// `plan_overdue`, `agent_silent`); empty: all.
    #[serde(default)]
    pub events: Vec<String>,
    /// Only events of this organisation (and below); `null`: every organisation (central admin).
    pub organisation: Option<String>,
}

fn admin_scope(caller: &Caller, org: Option<&str>) -> ApiResult<()> {
    match org {
        Some(o) => caller
            .access
            .require(o, Role::Admin, &format!("organisation `{o}`")),
        None => require_central_admin(caller),
    }
}

#[utoipa::path(get, path = "/api/v1/webhooks", responses((status = 200, body = [crate::alerts::Webhook])))]
pub async fn list_webhooks(
    State(app): State<App>,
    caller: Caller,
) -> ApiResult<Json<Vec<crate::alerts::Webhook>>> {
    let hooks = crate::alerts::list_webhooks(&app).await?;
    Ok(Json(
        hooks
            .into_iter()
            .filter(|h| admin_scope(&caller, h.organisation.as_deref()).is_ok())
            .collect(),
    ))
}

#[utoipa::path(post, path = "/api/v1/webhooks", request_body = NewWebhook, responses((status = 200, body = crate::alerts::CreatedWebhook)))]
pub async fn create_webhook(
    State(app): State<App>,
    caller: Caller,
    Json(b): Json<NewWebhook>,
) -> ApiResult<Json<crate::alerts::CreatedWebhook>> {
    admin_scope(&caller, b.organisation.as_deref())?;
    let created = crate::alerts::create_webhook(
        &app,
        &b.url,
        &b.events,
        b.organisation.as_deref(),
        caller.name(),
    )
    .await?;
    Ok(Json(created))
}

/// Every delivery attempt of a webhook. Central roles see the receiver's status code and the
/// error; organisation admins only whether each attempt arrived (`error` is `failed` or null).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", params(("id" = String, Path)), responses((status = 200, body = [crate::alerts::Delivery])))]
pub async fn webhook_deliveries(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<crate::alerts::Delivery>>> {
    let hook = webhook_in_scope(&app, &caller, &id).await?;
    let all = crate::alerts::deliveries(&app, &hook.id).await?;
    Ok(Json(if caller.access.is_central() {
        all
    } else {
        all.into_iter()
            .map(crate::alerts::Delivery::coarse)
            .collect()
    }))
}

/// A webhook the caller administers (404 otherwise, whether or not it exists).
async fn webhook_in_scope(
    app: &App,
    caller: &Caller,
    id: &str,
) -> ApiResult<crate::alerts::Webhook> {
    crate::alerts::list_webhooks(app)
        .await?
        .into_iter()
        .find(|h| h.id == id)
        .filter(|h| admin_scope(caller, h.organisation.as_deref()).is_ok())
        .ok_or_else(|| ApiError::not_found("webhook", id))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct WebhookState {
    /// `false` stops deliveries (kept with its log); `true` resumes them (the URL is checked
    /// against the address policy again).
    pub active: bool,
}

/// Turn a webhook off (or on again).
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/active", params(("id" = String, Path)), request_body = WebhookState, responses((status = 200, body = crate::alerts::Webhook), (status = 404)))]
pub async fn set_webhook_active(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(b): Json<WebhookState>,
) -> ApiResult<Json<crate::alerts::Webhook>> {
    let hook = webhook_in_scope(&app, &caller, &id).await?;
    crate::alerts::set_webhook_active(
        &app,
        &hook.id,
        b.active,
        Some(&auth::entry(
            caller.name(),
            if b.active {
                "webhook_enable"
            } else {
                "webhook_disable"
            },
            "webhook",
            &hook.id,
            Some(serde_json::json!({"active": hook.active, "organisation": hook.organisation})),
            Some(serde_json::json!({"active": b.active, "organisation": hook.organisation})),
        )),
    )
    .await?;
    Ok(Json(webhook_in_scope(&app, &caller, &id).await?))
}

/// Delete a webhook with its secret and delivery log.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", params(("id" = String, Path)), responses((status = 204), (status = 404)))]
pub async fn delete_webhook(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::http::StatusCode> {
    let hook = webhook_in_scope(&app, &caller, &id).await?;
    crate::alerts::delete_webhook(
        &app,
        &hook.id,
        Some(&auth::entry(
            caller.name(),
            "webhook_delete",
            "webhook",
            &hook.id,
            Some(serde_json::json!({"url": hook.url, "events": hook.events, "organisation": hook.organisation})),
            None,
        )),
    )
    .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
