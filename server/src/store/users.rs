//! Accounts. Usernames arrive normalised (see `app::auth_form`); hashes are PHC strings.

use app::protocol::{UserId, UserInfo};
use sqlx::Row;

use super::{is_unique_violation, now_ms, Store, StoreError};

/// What the start-up grant of a listed admin name did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListedAdmin {
    Granted,
    /// The account was created after the name was first listed, or its right was revoked.
    NotGranted,
    NoAccount,
}

/// What a log-in needs to check a password.
pub struct Credentials {
    pub user: UserInfo,
    pub password_hash: String,
}

impl Store {
    /// Creates an account; `None` when the username is taken.
    pub async fn create_user(&self, username: &str, password_hash: &str) -> Result<Option<UserInfo>, StoreError> {
        let row =
            sqlx::query("INSERT INTO users (username, password_hash, created_at) VALUES ($1, $2, $3) RETURNING id")
                .bind(username)
                .bind(password_hash)
                .bind(now_ms())
                .fetch_one(self.pool())
                .await;
        match row {
            Ok(row) => {
                Ok(Some(UserInfo { id: UserId(row.try_get("id")?), username: username.to_string(), admin: false }))
            }
            Err(e) if is_unique_violation(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn credentials(&self, username: &str) -> Result<Option<Credentials>, StoreError> {
        let row = sqlx::query("SELECT id, password_hash FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| {
            Ok(Credentials {
                user: UserInfo { id: UserId(r.try_get("id")?), username: username.to_string(), admin: false },
                password_hash: r.try_get("password_hash")?,
            })
        })
        .transpose()
    }

    /// The account, with its admin right as the database holds it (read on every request,
    /// so a grant or a revocation counts at once).
    pub async fn user(&self, id: UserId) -> Result<Option<UserInfo>, StoreError> {
        let row = sqlx::query("SELECT username, is_admin FROM users WHERE id = $1")
            .bind(id.0)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| Ok(UserInfo { id, username: r.try_get("username")?, admin: r.try_get::<i64, _>("is_admin")? != 0 }))
            .transpose()
    }

    /// The account of a session signed in at `signed_in_at`, unless the account ended every
    /// session since ("sign out everywhere", a new password) or is gone.
    pub async fn signed_in_user(&self, id: UserId, signed_in_at: i64) -> Result<Option<UserInfo>, StoreError> {
        let row = sqlx::query("SELECT username, is_admin, sessions_from FROM users WHERE id = $1")
            .bind(id.0)
            .fetch_optional(self.pool())
            .await?;
        let Some(r) = row else { return Ok(None) };
        if signed_in_at < r.try_get::<i64, _>("sessions_from")? {
            return Ok(None);
        }
        Ok(Some(UserInfo { id, username: r.try_get("username")?, admin: r.try_get::<i64, _>("is_admin")? != 0 }))
    }

    /// Ends every session of the account signed in before `at` (ms).
    pub async fn end_sessions_before(&self, id: UserId, at: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET sessions_from = $1 WHERE id = $2")
            .bind(at)
            .bind(id.0)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// A new password hash; every session signed in before `at` ends with it.
    pub async fn set_password(&self, id: UserId, password_hash: &str, at: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET password_hash = $1, sessions_from = $2 WHERE id = $3")
            .bind(password_hash)
            .bind(at)
            .bind(id.0)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Gives or takes the admin right of an existing account; `false` when there is none. A
    /// revocation also stops `EASEL_ADMINS` from granting it again at the next start-up.
    pub async fn set_admin(&self, username: &str, admin: bool) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE users SET is_admin = $1 WHERE username = $2")
            .bind(i64::from(admin))
            .bind(username)
            .execute(self.pool())
            .await?;
        if !admin {
            sqlx::query(
                "INSERT INTO admin_listing (username, first_listed_at) VALUES ($1, 0) \
                 ON CONFLICT (username) DO UPDATE SET first_listed_at = 0",
            )
            .bind(username)
            .execute(self.pool())
            .await?;
        }
        Ok(done.rows_affected() == 1)
    }

    /// The start-up grant of a name listed in `EASEL_ADMINS` (first seen listed now, or
    /// earlier): given only to an account created before the name was first listed.
    pub async fn grant_listed_admin(&self, username: &str, now: i64) -> Result<ListedAdmin, StoreError> {
        sqlx::query(
            "INSERT INTO admin_listing (username, first_listed_at) VALUES ($1, $2) ON CONFLICT (username) DO NOTHING",
        )
        .bind(username)
        .bind(now)
        .execute(self.pool())
        .await?;
        let granted = sqlx::query(
            "UPDATE users SET is_admin = 1 WHERE username = $1 \
             AND created_at < (SELECT first_listed_at FROM admin_listing WHERE username = $1)",
        )
        .bind(username)
        .execute(self.pool())
        .await?;
        if granted.rows_affected() == 1 {
            return Ok(ListedAdmin::Granted);
        }
        let exists =
            sqlx::query("SELECT id FROM users WHERE username = $1").bind(username).fetch_optional(self.pool()).await?;
        Ok(if exists.is_some() { ListedAdmin::NotGranted } else { ListedAdmin::NoAccount })
    }

    /// The usernames that hold the admin right.
    pub async fn admins(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT username FROM users WHERE is_admin <> 0 ORDER BY username")
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| Ok(r.try_get("username")?)).collect()
    }
}
