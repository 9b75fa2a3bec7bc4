//! Storage: one pool over SQLite (the default, a file under `data/`) or PostgreSQL
//! (`DATABASE_URL=postgres://…`). Queries are written once, in SQL both databases accept,
//! and run through sqlx's `Any` driver, so one repository serves both and one test suite
//! checks both. Rows are converted into the wire types here; nothing above sees SQL.

mod answers;
mod caps;
mod ending;
mod gallery;
mod images;
mod jobs;
mod messages;
mod model_usage;
mod preferences;
mod quota;
mod shares;
mod spend;
mod threads;
mod users;

use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::AnyPool;

pub use ending::JobEnding;
pub use images::{StoredVariant, VariantBytes};
pub use jobs::{JobPlace, JobRun, NewJob};
pub use messages::{NewMessage, RecentJob, RecentMessage};
pub use model_usage::ModelUsage;
pub use quota::Plan;
pub use shares::ShareTarget;
pub use spend::{DayRow, UserSpendRow};
pub use users::ListedAdmin;

/// Which database a URL names; the migrations differ in their identity columns, and SQLite's
/// has a trigger advancing a thread's `last_seq` (see `messages`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    Sqlite,
    Postgres,
}

impl DbKind {
    pub fn of(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Self::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DATABASE_URL must start with sqlite: or postgres:")]
    UnsupportedUrl,
    #[error("could not prepare the database directory: {0}")]
    Directory(#[from] std::io::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

/// The application's database. Cheap to clone (a pool handle).
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    kind: DbKind,
}

impl Store {
    /// Connects, creating the SQLite file and its directory if needed, and migrates.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let kind = DbKind::of(url)?;
        if kind == DbKind::Sqlite {
            prepare_sqlite_dir(url)?;
        }
        let options = AnyConnectOptions::from_str(&sqlite_create_mode(url))?;
        let sqlite = kind == DbKind::Sqlite;
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 4 } else { 10 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        // In WAL mode NORMAL syncs at checkpoints, not at every commit: a power
                        // cut may lose the last commits, never corrupt the file; a chat's
                        // messages are worth the 2–10× faster commits. A writer that finds the
                        // file locked waits instead of failing.
                        sqlx::query("PRAGMA synchronous = NORMAL").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA busy_timeout = 5000").execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        if sqlite {
            // WAL lets readers go on while one writer commits; it is a property of the file.
            sqlx::query("PRAGMA journal_mode = WAL").execute(&pool).await?;
        }
        match kind {
            DbKind::Sqlite => sqlx::migrate!("../migrations/sqlite").run(&pool).await?,
            DbKind::Postgres => sqlx::migrate!("../migrations/postgres").run(&pool).await?,
        }
        Ok(Self { pool, kind })
    }

    pub fn kind(&self) -> DbKind {
        self.kind
    }

    /// Answers when the database does; used by `/healthz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// SQLite URLs get `mode=rwc` so a fresh checkout creates its database file.
pub(crate) fn sqlite_create_mode(url: &str) -> String {
    if url.starts_with("sqlite:") && !url.contains("mode=") && !url.contains(":memory:") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}mode=rwc")
    } else {
        url.to_string()
    }
}

fn prepare_sqlite_dir(url: &str) -> Result<(), StoreError> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if let Some(dir) = std::path::Path::new(path).parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)?;
        }
    }
    Ok(())
}

/// Unix milliseconds now: the order of events a tab sees.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_create_their_file() {
        assert_eq!(sqlite_create_mode("sqlite://data/easel.db"), "sqlite://data/easel.db?mode=rwc");
        assert_eq!(sqlite_create_mode("sqlite://x.db?mode=ro"), "sqlite://x.db?mode=ro");
        assert_eq!(sqlite_create_mode("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[test]
    fn only_sqlite_and_postgres_are_accepted() {
        assert_eq!(DbKind::of("sqlite://a.db").ok(), Some(DbKind::Sqlite));
        assert_eq!(DbKind::of("postgresql://h/db").ok(), Some(DbKind::Postgres));
        assert!(DbKind::of("mysql://h/db").is_err());
    }
}
