//! Real processes the chaos tests kill: the `server` binary and a private `redis-server`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// A free loopback port (bound, then released for the child to take).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("address").port()
}

/// One Easel process, started from the binary cargo built for these tests.
pub struct ServerProcess {
    pub addr: SocketAddr,
    env: Vec<(String, String)>,
    child: Option<Child>,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl ServerProcess {
    /// Starts the server with `env` (besides the site settings) and waits until it answers.
    pub async fn start(env: &[(&str, String)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let mut all: Vec<(String, String)> = vec![
            ("LEPTOS_OUTPUT_NAME".into(), "easel".into()),
            ("LEPTOS_SITE_ROOT".into(), dir.path().display().to_string()),
            ("LEPTOS_SITE_ADDR".into(), addr.to_string()),
            ("RUST_LOG".into(), "info".into()),
            // Thousands of frames from a few users on loopback: roomy rates.
            ("EASEL_FRAMES_PER_SECOND".into(), "100000".into()),
            ("EASEL_SOCKETS_PER_USER".into(), "100000".into()),
            ("EASEL_SOCKETS_PER_ADDRESS".into(), "100000".into()),
            ("EASEL_SIGNUPS_PER_HOUR".into(), "100000".into()),
            ("EASEL_LOGINS_PER_MINUTE".into(), "100000".into()),
        ];
        all.extend(env.iter().map(|(k, v)| (k.to_string(), v.clone())));
        let log = dir.path().join("server.log");
        let mut process = Self { addr, env: all, child: None, log, _dir: dir };
        process.spawn().await;
        process
    }

    async fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_server"))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .expect("the server binary starts");
        self.child = Some(child);
        let health = format!("http://{}/healthz", self.addr);
        for _ in 0..200 {
            if reqwest::get(&health).await.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server did not answer within 10 s:\n{}", self.log_text());
    }

    /// SIGKILL: no shutdown code runs, as when the machine or the OOM killer stops it.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("SIGKILL");
        }
    }

    /// SIGTERM, then waits (at most `limit`) for the process to exit; returns its exit code.
    pub async fn terminate(&mut self, limit: Duration) -> Option<i32> {
        let mut child = self.child.take()?;
        let pid = child.id()?;
        let sent = Command::new("kill").arg("-TERM").arg(pid.to_string()).status().await.expect("kill -TERM");
        assert!(sent.success(), "SIGTERM sent");
        let status = tokio::time::timeout(limit, child.wait()).await.ok()?.ok()?;
        status.code()
    }

    /// Starts the same process again on the same address and database.
    pub async fn restart(&mut self) {
        self.kill().await;
        self.spawn().await;
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// A Redis server of the test's own, so it can be stopped without disturbing other tests.
pub struct RedisProcess {
    pub port: u16,
    child: Option<Child>,
}

impl RedisProcess {
    pub async fn start() -> Self {
        let mut redis = Self { port: free_port(), child: None };
        redis.spawn().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string(), "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let client = redis::Client::open(self.url()).expect("client");
        for _ in 0..100 {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
                if redis::cmd("PING").query_async::<String>(&mut conn).await.is_ok() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not answer on port {}", self.port);
    }

    /// Kills it (everything it held is gone, as with a Redis restart without persistence).
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("SIGKILL redis");
        }
    }

    pub async fn restart(&mut self) {
        self.kill().await;
        self.spawn().await;
    }
}
