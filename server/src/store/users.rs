//! Accounts. Usernames arrive normalised (see `app::auth_form`); hashes are PHC strings.

use app::protocol::{UserId, UserInfo};
use sqlx::Row;

use super::{is_unique_violation, now_ms, Store, StoreError};

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

    pub async fn user(&self, id: UserId) -> Result<Option<UserInfo>, StoreError> {
        let row =
            sqlx::query("SELECT username FROM users WHERE id = $1").bind(id.0).fetch_optional(self.pool()).await?;
        row.map(|r| Ok(UserInfo { id, username: r.try_get("username")?, admin: false })).transpose()
    }
}
