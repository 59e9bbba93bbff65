//! Users, role grants, browser sessions and API tokens of the HTTP server.
//!
//! The store keeps what the server decided: password hashes (never passwords) and SHA-256
//! hashes of session and API tokens (never the tokens). Roles and token scopes are stored as the
//! server's text (`viewer` ... `admin`, `read`, `write`, `metrics:read`). Every change that is
//! recorded writes its history entry in the same transaction as the change.

use crate::sql::append_history_in;
use crate::{NewHistory, Result, SqlStore, StoreError};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// A user as stored (without the password hash), with every role grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub id: String,
    pub username: String,
    pub central_role: Option<String>,
    pub disabled: bool,
    pub created_at: String,
    /// Ordered by organisation.
    pub grants: Vec<GrantRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecord {
    pub organisation: String,
    pub role: String,
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: String,
    pub username: String,
    /// PHC string (Argon2id).
    pub password_hash: String,
    pub central_role: Option<String>,
    pub created_at: String,
}

/// An API token as stored (the token itself is never stored, only its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub scope: String,
    pub created_at: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
}

/// How a caller presented itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerCredential {
    Session {
        csrf_token: String,
        expires_at: String,
    },
    Token {
        id: String,
        scope: String,
        expires_at: String,
        revoked_at: Option<String>,
    },
}

/// The caller behind a session or token hash, read in one round trip: the user with every
/// grant, the credential, and the register's revision ([`crate::lookups::Lookups::register_revision`]) at
/// that moment. The server checks expiry, revocation and whether the user is disabled.
#[derive(Debug, Clone)]
pub struct CallerRecord {
    pub user: UserRecord,
    pub credential: CallerCredential,
    pub register_revision: String,
}

/// Users, grants, sessions and API tokens. Implemented by every [`crate::Store`].
#[async_trait]
pub trait Accounts: Send + Sync {
    async fn user_count(&self) -> Result<i64>;
    async fn get_user(&self, id: &str) -> Result<Option<UserRecord>>;
    async fn list_users(&self) -> Result<Vec<UserRecord>>;
    /// The user named `username` with its password hash (for a sign-in check).
    async fn user_for_login(&self, username: &str) -> Result<Option<(UserRecord, String)>>;
    /// Create a user; [`StoreError::Conflict`] when the name is taken. `history` is appended in
    /// the same transaction.
    async fn create_user(&self, user: &NewUser, history: Option<&NewHistory>) -> Result<()>;
    /// Replace a password hash and end every session and API token of the user, in one
    /// transaction with `history`.
    async fn set_password_hash(
        &self,
        user_id: &str,
        hash: &str,
        history: Option<&NewHistory>,
    ) -> Result<()>;
    /// Disable (ending every session and API token) or enable a user.
    async fn set_user_disabled(
        &self,
        user_id: &str,
        disabled: bool,
        history: Option<&NewHistory>,
    ) -> Result<()>;
    async fn set_central_role(
        &self,
        user_id: &str,
        role: Option<&str>,
        history: Option<&NewHistory>,
    ) -> Result<()>;
    /// Delete a user with its grants, sessions and API tokens.
    async fn delete_user(&self, user_id: &str, history: Option<&NewHistory>) -> Result<()>;
    /// Ids of the enabled users holding the central `admin` role.
    async fn central_admins(&self) -> Result<Vec<String>>;
    /// Set (`Some`) or remove (`None`) a user's role on an organisation.
    async fn set_grant(
        &self,
        user_id: &str,
        organisation: &str,
        role: Option<&str>,
        by: &str,
        history: Option<&NewHistory>,
    ) -> Result<()>;
    async fn create_session(
        &self,
        token_hash: &str,
        user_id: &str,
        csrf_token: &str,
        created_at: &str,
        expires_at: &str,
    ) -> Result<()>;
    async fn delete_session(&self, token_hash: &str) -> Result<()>;
    /// Sessions stored for a user (their token hashes).
    async fn session_hashes(&self, user_id: &str) -> Result<Vec<String>>;
    async fn session_caller(&self, token_hash: &str) -> Result<Option<CallerRecord>>;
    async fn create_token(
        &self,
        token: &TokenRecord,
        token_hash: &str,
        history: Option<&NewHistory>,
    ) -> Result<()>;
    async fn list_tokens(&self, user_id: Option<&str>) -> Result<Vec<TokenRecord>>;
    async fn get_token(&self, id: &str) -> Result<Option<TokenRecord>>;
    /// Whether a token with this hash is stored (revoked or not).
    async fn token_hash_exists(&self, token_hash: &str) -> Result<bool>;
    async fn revoke_token(&self, id: &str, history: Option<&NewHistory>) -> Result<()>;
    async fn token_caller(&self, token_hash: &str) -> Result<Option<CallerRecord>>;
}

fn row_user(r: &AnyRow) -> Result<UserRecord> {
    Ok(UserRecord {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        central_role: r.try_get("central_role")?,
        disabled: r.try_get::<i64, _>("disabled")? != 0,
        created_at: r.try_get("created_at")?,
        grants: Vec::new(),
    })
}

fn row_token(r: &AnyRow) -> Result<TokenRecord> {
    Ok(TokenRecord {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        name: r.try_get("name")?,
        scope: r.try_get("scope")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

async fn load_grants(c: &mut AnyConnection, user: &mut UserRecord) -> Result<()> {
    let rows = sqlx::query(
        "SELECT organisation, role FROM role_grants WHERE user_id = $1 ORDER BY organisation",
    )
    .bind(user.id.clone())
    .fetch_all(&mut *c)
    .await?;
    user.grants = rows
        .iter()
        .map(|r| {
            Ok(GrantRecord {
                organisation: r.try_get("organisation")?,
                role: r.try_get("role")?,
            })
        })
        .collect::<Result<_>>()?;
    Ok(())
}

async fn end_credentials(c: &mut AnyConnection, user_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id.to_string())
        .execute(&mut *c)
        .await?;
    sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
        .bind(crate::now_rfc3339())
        .bind(user_id.to_string())
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// The user and role columns shared by the session and token lookups, plus the register
/// revision.
macro_rules! caller_columns {
    () => {
        "u.id AS id, u.username AS username, u.central_role AS central_role, u.disabled AS disabled, u.created_at AS created_at, g.organisation AS grant_org, g.role AS grant_role, COALESCE((SELECT hash FROM history ORDER BY seq DESC LIMIT 1), '') AS head"
    };
}

/// The user (with every grant) from the rows of a caller lookup: one row per grant, or one
/// row with null grant columns for a user without grants.
fn user_from_rows(rows: &[AnyRow]) -> Result<Option<(UserRecord, String)>> {
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let mut user = row_user(first)?;
    let head: String = first.try_get("head")?;
    for r in rows {
        let org: Option<String> = r.try_get("grant_org")?;
        let role: Option<String> = r.try_get("grant_role")?;
        if let (Some(organisation), Some(role)) = (org, role) {
            user.grants.push(GrantRecord { organisation, role });
        }
    }
    Ok(Some((user, head)))
}

impl SqlStore {
    /// Run `write` and append `history` in one transaction.
    async fn audited<F>(&self, history: Option<&NewHistory>, write: F) -> Result<()>
    where
        F: for<'c> FnOnce(
                &'c mut AnyConnection,
            ) -> std::pin::Pin<
                Box<dyn std::future::Future<Output = Result<()>> + Send + 'c>,
            > + Send,
    {
        let mut tx = self.begin().await?;
        write(&mut tx).await?;
        if let Some(h) = history {
            append_history_in(&mut tx, self.backend, h).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl Accounts for SqlStore {
    async fn user_count(&self) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(&self.pool)
            .await?;
        Ok(r.try_get::<i64, _>("n")?)
    }

    async fn get_user(&self, id: &str) -> Result<Option<UserRecord>> {
        let mut c = self.pool.acquire().await?;
        let row = sqlx::query(
            "SELECT id, username, central_role, disabled, created_at FROM users WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&mut *c)
        .await?;
        match row {
            Some(r) => {
                let mut u = row_user(&r)?;
                load_grants(&mut c, &mut u).await?;
                Ok(Some(u))
            }
            None => Ok(None),
        }
    }

    async fn list_users(&self) -> Result<Vec<UserRecord>> {
        let mut c = self.pool.acquire().await?;
        let rows = sqlx::query(
            "SELECT id, username, central_role, disabled, created_at FROM users ORDER BY username",
        )
        .fetch_all(&mut *c)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut u = row_user(r)?;
            load_grants(&mut c, &mut u).await?;
            out.push(u);
        }
        Ok(out)
    }

    async fn user_for_login(&self, username: &str) -> Result<Option<(UserRecord, String)>> {
        let mut c = self.pool.acquire().await?;
        let row = sqlx::query(
            "SELECT id, username, central_role, disabled, created_at, password_hash FROM users WHERE username = $1",
        )
        .bind(username.to_string())
        .fetch_optional(&mut *c)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut u = row_user(&row)?;
        load_grants(&mut c, &mut u).await?;
        Ok(Some((u, row.try_get("password_hash")?)))
    }

    async fn create_user(&self, user: &NewUser, history: Option<&NewHistory>) -> Result<()> {
        let user = user.clone();
        self.audited(history, move |c| {
            Box::pin(async move {
                let exists = sqlx::query("SELECT id FROM users WHERE username = $1")
                    .bind(user.username.clone())
                    .fetch_optional(&mut *c)
                    .await?;
                if exists.is_some() {
                    return Err(StoreError::Conflict(format!(
                        "user `{}` already exists",
                        user.username
                    )));
                }
                sqlx::query("INSERT INTO users (id, username, password_hash, central_role, disabled, created_at) VALUES ($1, $2, $3, $4, 0, $5)")
                    .bind(user.id)
                    .bind(user.username)
                    .bind(user.password_hash)
                    .bind(user.central_role)
                    .bind(user.created_at)
                    .execute(&mut *c)
                    .await?;
                Ok(())
            })
        })
        .await
    }

    async fn set_password_hash(
        &self,
        user_id: &str,
        hash: &str,
        history: Option<&NewHistory>,
    ) -> Result<()> {
        let (user_id, hash) = (user_id.to_string(), hash.to_string());
        self.audited(history, move |c| {
            Box::pin(async move {
                sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                    .bind(hash)
                    .bind(user_id.clone())
                    .execute(&mut *c)
                    .await?;
                // A stolen credential does not outlive the password it came with.
                end_credentials(c, &user_id).await
            })
        })
        .await
    }

    async fn set_user_disabled(
        &self,
        user_id: &str,
        disabled: bool,
        history: Option<&NewHistory>,
    ) -> Result<()> {
        let user_id = user_id.to_string();
        self.audited(history, move |c| {
            Box::pin(async move {
                sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
                    .bind(disabled as i64)
                    .bind(user_id.clone())
                    .execute(&mut *c)
                    .await?;
                if disabled {
                    end_credentials(c, &user_id).await?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn set_central_role(
        &self,
        user_id: &str,
        role: Option<&str>,
        history: Option<&NewHistory>,
    ) -> Result<()> {
        let (user_id, role) = (user_id.to_string(), role.map(str::to_string));
        self.audited(history, move |c| {
            Box::pin(async move {
                sqlx::query("UPDATE users SET central_role = $1 WHERE id = $2")
                    .bind(role)
                    .bind(user_id)
                    .execute(&mut *c)
                    .await?;
                Ok(())
            })
        })
        .await
    }

    async fn delete_user(&self, user_id: &str, history: Option<&NewHistory>) -> Result<()> {
        let user_id = user_id.to_string();
        self.audited(history, move |c| {
            Box::pin(async move {
                for sql in [
                    "DELETE FROM role_grants WHERE user_id = $1",
                    "DELETE FROM sessions WHERE user_id = $1",
                    "DELETE FROM api_tokens WHERE user_id = $1",
                    "DELETE FROM users WHERE id = $1",
                ] {
                    sqlx::query(sql)
                        .bind(user_id.clone())
                        .execute(&mut *c)
                        .await?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn central_admins(&self) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT id FROM users WHERE central_role = 'admin' AND disabled = 0 ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("id").map_err(Into::into))
            .collect()
    }

    async fn set_grant(
        &self,
        user_id: &str,
        organisation: &str,
        role: Option<&str>,
        by: &str,
        history: Option<&NewHistory>,
    ) -> Result<()> {
        let (user_id, org, role, by) = (
            user_id.to_string(),
            organisation.to_string(),
            role.map(str::to_string),
            by.to_string(),
        );
        self.audited(history, move |c| {
            Box::pin(async move {
                sqlx::query("DELETE FROM role_grants WHERE user_id = $1 AND organisation = $2")
                    .bind(user_id.clone())
                    .bind(org.clone())
                    .execute(&mut *c)
                    .await?;
                if let Some(role) = role {
                    sqlx::query("INSERT INTO role_grants (user_id, organisation, role, granted_by, granted_at) VALUES ($1, $2, $3, $4, $5)")
                        .bind(user_id)
                        .bind(org)
                        .bind(role)
                        .bind(by)
                        .bind(crate::now_rfc3339())
                        .execute(&mut *c)
                        .await?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn create_session(
        &self,
        token_hash: &str,
        user_id: &str,
        csrf_token: &str,
        created_at: &str,
        expires_at: &str,
    ) -> Result<()> {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(token_hash.to_string())
            .bind(user_id.to_string())
            .bind(csrf_token.to_string())
            .bind(created_at.to_string())
            .bind(expires_at.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn session_hashes(&self, user_id: &str) -> Result<Vec<String>> {
        let rows =
            sqlx::query("SELECT token_hash FROM sessions WHERE user_id = $1 ORDER BY token_hash")
                .bind(user_id.to_string())
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("token_hash").map_err(Into::into))
            .collect()
    }

    async fn session_caller(&self, token_hash: &str) -> Result<Option<CallerRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT s.csrf_token AS csrf_token, s.expires_at AS expires_at, ",
            caller_columns!(),
            " FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN role_grants g ON g.user_id = u.id WHERE s.token_hash = $1 ORDER BY g.organisation"
        ))
        .bind(token_hash.to_string())
        .fetch_all(&self.pool)
        .await?;
        let Some((user, head)) = user_from_rows(&rows)? else {
            return Ok(None);
        };
        Ok(Some(CallerRecord {
            user,
            credential: CallerCredential::Session {
                csrf_token: rows[0].try_get("csrf_token")?,
                expires_at: rows[0].try_get("expires_at")?,
            },
            register_revision: head,
        }))
    }

    async fn create_token(
        &self,
        t: &TokenRecord,
        token_hash: &str,
        history: Option<&NewHistory>,
    ) -> Result<()> {
        let (t, token_hash) = (t.clone(), token_hash.to_string());
        self.audited(history, move |c| {
            Box::pin(async move {
                sqlx::query("INSERT INTO api_tokens (id, token_hash, user_id, name, scope, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(t.id)
                    .bind(token_hash)
                    .bind(t.user_id)
                    .bind(t.name)
                    .bind(t.scope)
                    .bind(t.created_at)
                    .bind(t.expires_at)
                    .execute(&mut *c)
                    .await?;
                Ok(())
            })
        })
        .await
    }

    async fn list_tokens(&self, user_id: Option<&str>) -> Result<Vec<TokenRecord>> {
        let rows = match user_id {
            Some(u) => sqlx::query("SELECT id, user_id, name, scope, created_at, expires_at, revoked_at FROM api_tokens WHERE user_id = $1 ORDER BY created_at")
                .bind(u.to_string())
                .fetch_all(&self.pool)
                .await?,
            None => sqlx::query("SELECT id, user_id, name, scope, created_at, expires_at, revoked_at FROM api_tokens ORDER BY created_at")
                .fetch_all(&self.pool)
                .await?,
        };
        rows.iter().map(row_token).collect()
    }

    async fn get_token(&self, id: &str) -> Result<Option<TokenRecord>> {
        let row = sqlx::query("SELECT id, user_id, name, scope, created_at, expires_at, revoked_at FROM api_tokens WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(row_token).transpose()
    }

    async fn token_hash_exists(&self, token_hash: &str) -> Result<bool> {
        let row = sqlx::query("SELECT id FROM api_tokens WHERE token_hash = $1")
            .bind(token_hash.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    async fn revoke_token(&self, id: &str, history: Option<&NewHistory>) -> Result<()> {
        let id = id.to_string();
        self.audited(history, move |c| {
            Box::pin(async move {
                sqlx::query(
                    "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
                )
                .bind(crate::now_rfc3339())
                .bind(id)
                .execute(&mut *c)
                .await?;
                Ok(())
            })
        })
        .await
    }

    async fn token_caller(&self, token_hash: &str) -> Result<Option<CallerRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT t.id AS token_id, t.scope AS scope, t.expires_at AS expires_at, t.revoked_at AS revoked_at, ",
            caller_columns!(),
            " FROM api_tokens t JOIN users u ON u.id = t.user_id LEFT JOIN role_grants g ON g.user_id = u.id WHERE t.token_hash = $1 ORDER BY g.organisation"
        ))
        .bind(token_hash.to_string())
        .fetch_all(&self.pool)
        .await?;
        let Some((user, head)) = user_from_rows(&rows)? else {
            return Ok(None);
        };
        let r = &rows[0];
        Ok(Some(CallerRecord {
            user,
            credential: CallerCredential::Token {
                id: r.try_get("token_id")?,
                scope: r.try_get("scope")?,
                expires_at: r.try_get("expires_at")?,
                revoked_at: r.try_get("revoked_at")?,
            },
            register_revision: head,
        }))
    }
}
