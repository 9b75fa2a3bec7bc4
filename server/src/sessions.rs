//! Server-side sessions (tower-sessions with its sqlx stores) in the same database as
//! everything else, so a signed-in user stays signed in across a restart. The cookie holds
//! only a random id; it is HttpOnly and SameSite=Lax.
//!
//! The sqlx stores are typed per database, so [`SessionBackend`] picks one at start-up and
//! delegates to it.

use std::str::FromStr;

use async_trait::async_trait;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use tower_sessions::cookie::{time::Duration, SameSite};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion};
use tower_sessions::{Expiry, SessionManagerLayer, SessionStore};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

use crate::store::{sqlite_create_mode, DbKind, StoreError};

/// Key of the signed-in user's id in the session.
pub const USER_ID_KEY: &str = "user_id";
/// When the session signed in (ms): a session older than its account's `sessions_from`
/// was ended by "sign out everywhere" or a new password.
pub const SIGNED_IN_AT_KEY: &str = "signed_in_at";
/// A session ends after this long without a visit.
const IDLE_DAYS: i64 = 30;

#[derive(Debug, Clone)]
pub enum SessionBackend {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl SessionBackend {
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let backend = match DbKind::of(url)? {
            DbKind::Sqlite => {
                let options = SqliteConnectOptions::from_str(&sqlite_create_mode(url))?;
                Self::Sqlite(SqliteStore::new(SqlitePoolOptions::new().max_connections(2).connect_with(options).await?))
            }
            DbKind::Postgres => {
                Self::Postgres(PostgresStore::new(PgPoolOptions::new().max_connections(4).connect(url).await?))
            }
        };
        match &backend {
            Self::Sqlite(s) => s.migrate().await?,
            Self::Postgres(s) => s.migrate().await?,
        }
        Ok(backend)
    }

    pub fn layer(self, secure: bool) -> SessionManagerLayer<Self> {
        SessionManagerLayer::new(self)
            .with_name("easel_session")
            .with_secure(secure)
            .with_http_only(true)
            .with_same_site(SameSite::Lax)
            .with_expiry(Expiry::OnInactivity(Duration::days(IDLE_DAYS)))
    }

    /// Removes expired sessions every hour, for as long as the server runs.
    pub fn spawn_cleanup(&self) {
        let period = tokio::time::Duration::from_secs(3600);
        let task = match self.clone() {
            Self::Sqlite(s) => tokio::spawn(s.continuously_delete_expired(period)),
            Self::Postgres(s) => tokio::spawn(s.continuously_delete_expired(period)),
        };
        tokio::spawn(async move {
            if let Ok(Err(e)) = task.await {
                tracing::warn!(error = %e, "expired-session cleanup stopped");
            }
        });
    }
}

#[async_trait]
impl SessionStore for SessionBackend {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Self::Sqlite(s) => s.create(record).await,
            Self::Postgres(s) => s.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Self::Sqlite(s) => s.save(record).await,
            Self::Postgres(s) => s.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Self::Sqlite(s) => s.load(id).await,
            Self::Postgres(s) => s.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Self::Sqlite(s) => s.delete(id).await,
            Self::Postgres(s) => s.delete(id).await,
        }
    }
}
