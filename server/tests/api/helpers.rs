//! `spawn_app` and a typed WebSocket client for the tests.

use std::time::Duration;

use app::protocol::*;
use leptos::config::LeptosOptions;
use server::config::{ImageSettings, QuotaSettings, Settings, WsSettings};
use server::limits::{Limits, Policies};
use server::store::Store;
use server::Application;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};

pub const PASSWORD: &str = "correct horse battery";
pub(crate) const WAIT: Duration = Duration::from_secs(10);

mod client;
pub use client::*;

/// A database for one test: a temporary SQLite file, or a fresh PostgreSQL database.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// The same database for a second instance (the first one keeps it alive).
    pub fn shared(&self) -> TestDb {
        TestDb { url: self.url.clone(), _dir: None }
    }
}

pub async fn test_db() -> TestDb {
    if std::env::var("EASEL_TEST_DB").is_ok_and(|v| v == "postgres") {
        TestDb { url: fresh_postgres().await, _dir: None }
    } else {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/easel.db", dir.path().display());
        TestDb { url, _dir: Some(dir) }
    }
}

/// The server at `TEST_POSTGRES_URL` (default: local `postgres`/`postgres`), a new database on it.
pub async fn fresh_postgres() -> String {
    use sqlx::{Connection, Executor};
    let admin = std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".to_string());
    let name = format!("easel_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin).await.expect("PostgreSQL reachable at TEST_POSTGRES_URL");
    conn.execute(format!(r#"CREATE DATABASE "{name}""#).as_str()).await.expect("create test database");
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base);
    format!("{base}/{name}")
}

/// Now, in Unix milliseconds (the windows' clock).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

pub struct TestApp {
    pub addr: std::net::SocketAddr,
    pub store: Store,
    pub db: TestDb,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

pub fn settings(url: &str) -> Settings {
    let leptos = LeptosOptions::builder()
        .output_name("easel")
        .site_root("target/site")
        .site_addr(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .build();
    Settings {
        database_url: url.to_string(),
        allowed_origins: vec!["http://allowed.example".into()],
        secure_cookies: false,
        ws: WsSettings {
            ping_every: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30),
            revalidate_every: Duration::from_secs(2),
        },
        // A stop in a test is a restart: running jobs are not waited for.
        images: ImageSettings {
            render_pace: Duration::from_millis(20),
            shutdown_grace: Duration::ZERO,
            ..ImageSettings::default()
        },
        redis_url: None,
        redis_prefix: "easel".into(),
        quotas: QuotaSettings {
            policies: roomy(),
            admins: vec!["root".into()],
            spend_alert_micros: None,
            spend_cap_micros: None,
        },
        chat_model: None,
        // Tests sign up and log in many accounts from one address; `accounts.rs` sets its own.
        throttle: server::throttle::ThrottleSettings {
            logins_per_address: 100_000,
            logins_per_name: 100_000,
            signups_per_address: 100_000,
            frames_per_second: 100_000,
            sockets_per_user: 100_000,
            sockets_per_address: 100_000,
        },
        caps: Default::default(),
        client_ip_header: None,
        metrics_token: None,
        email: None,
        leptos,
    }
}

/// Limits no ordinary test reaches (no cooldown); quota tests set their own.
pub fn roomy() -> Policies {
    let roomy = Limits { hourly: 1_000, daily: 1_000, monthly: 1_000, cooldown: Duration::ZERO, ..Limits::FREE };
    Policies { free: roomy, premium: Limits { max_running: 2, ..roomy } }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_on(test_db().await).await
}

pub async fn spawn_app_on(db: TestDb) -> TestApp {
    spawn_app_with(db, |_| {}).await
}

/// Like [`spawn_app`], with settings changed by `adjust` (e.g. a faster heartbeat).
pub async fn spawn_app_with(db: TestDb, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    if std::env::var_os("RUST_LOG").is_some() {
        server::telemetry::init();
    }
    let mut settings = settings(&db.url);
    adjust(&mut settings);
    let app = Application::build(settings).await.expect("app builds");
    let addr = app.local_addr();
    let store = app.store();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        app.run_until(async move {
            let _ = rx.await;
        })
        .await
        .expect("server runs");
    });
    TestApp { addr, store, db, shutdown: Some(tx), task: Some(task) }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving and hands back the database, as a process restart would.
    pub async fn stop(mut self) -> TestDb {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(WAIT, task).await;
        }
        self.db
    }

    /// Signs up `username` and returns the session cookie (`name=value`).
    pub async fn signup(&self, username: &str) -> String {
        let (status, location, cookie) =
            self.post_form("/auth/signup", &[("username", username), ("password", PASSWORD)], None).await;
        assert_eq!(status, reqwest::StatusCode::SEE_OTHER, "sign-up redirects");
        assert_eq!(location.as_deref(), Some("/"), "sign-up succeeded");
        cookie.expect("sign-up sets a session cookie")
    }

    /// Signs `username` up and gives the account the admin right, as the operator's
    /// `server admin grant` does; returns its cookie.
    pub async fn signup_admin(&self, username: &str) -> String {
        let cookie = self.signup(username).await;
        assert!(self.store.set_admin(username, true).await.expect("db"), "the account exists");
        cookie
    }

    /// Signs `username` in (a new session) and returns its cookie.
    pub async fn signin(&self, username: &str) -> String {
        let (status, _, cookie) =
            self.post_form("/auth/login", &[("username", username), ("password", PASSWORD)], None).await;
        assert_eq!(status, reqwest::StatusCode::SEE_OTHER, "sign-in redirects");
        cookie.expect("sign-in sets a session cookie")
    }

    /// The id of the account `username`.
    pub async fn user_id(&self, username: &str) -> UserId {
        self.store.credentials(username).await.expect("db").expect("the account").user.id
    }

    /// Signs up `username`, opens a tab and a thread, and sends `text` in it.
    pub async fn new_user_says(&self, username: &str, text: &str) -> (Client, ThreadSummary) {
        let cookie = self.signup(username).await;
        let mut tab = self.connect(&cookie).await;
        let thread = tab.create_thread("t").await;
        tab.say(thread.id, "m-1", text).await;
        (tab, thread)
    }

    /// Posts a form without following redirects: (status, Location, session cookie if set).
    pub async fn post_form(
        &self,
        path: &str,
        form: &[(&str, &str)],
        cookie: Option<&str>,
    ) -> (reqwest::StatusCode, Option<String>, Option<String>) {
        // A deadline, so a server that never answers fails the test with a reason, not a hang.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        let mut req = client.post(self.url(path)).form(form);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let res = req.send().await.expect("request sent");
        let header = |name: &str| res.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let cookie = header("set-cookie").and_then(|c| c.split(';').next().map(str::to_string));
        (res.status(), header("location"), cookie)
    }

    pub async fn get_page(&self, path: &str, cookie: Option<&str>) -> (reqwest::StatusCode, String) {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
        let mut req = client.get(self.url(path));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let res = match req.send().await {
            Ok(res) => res,
            // Say whether the whole server is wedged or only this page (pages once hung for
            // good while another app in this process listed its routes: `http::route_list`).
            Err(e) => {
                let probe = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("client");
                let health = probe.get(self.url("/healthz")).send().await.map(|r| r.status());
                let home = probe.get(self.url("/login")).send().await.map(|r| r.status());
                panic!("GET {path} failed: {e}; then /healthz: {health:?}, /login: {home:?}")
            }
        };
        let status = res.status();
        (status, res.text().await.expect("body"))
    }

    pub async fn connect(&self, cookie: &str) -> Client {
        let (socket, _welcome) = self.try_connect(Some(cookie), Some(&self.origin())).await.expect("socket upgrades");
        Client { socket }
    }

    /// Opens a socket; `Err(status)` when the upgrade is refused.
    pub async fn try_connect(
        &self,
        cookie: Option<&str>,
        origin: Option<&str>,
    ) -> Result<(Socket, Welcome), StatusCode> {
        let mut req = format!("ws://{}/ws", self.addr).into_client_request().expect("request");
        if let Some(c) = cookie {
            req.headers_mut().insert("cookie", HeaderValue::from_str(c).expect("cookie header"));
        }
        if let Some(o) = origin {
            req.headers_mut().insert("origin", HeaderValue::from_str(o).expect("origin header"));
        }
        match connect_async(req).await {
            Ok((mut socket, _)) => {
                let first = next_text(&mut socket).await;
                match ServerMsg::from_json(&first) {
                    Ok(ServerMsg::Welcome(w)) => Ok((socket, w)),
                    other => panic!("expected a welcome first, got {other:?}"),
                }
            }
            Err(tokio_tungstenite::tungstenite::Error::Http(res)) => Err(res.status()),
            Err(e) => panic!("unexpected handshake error: {e}"),
        }
    }
}
