//! Benchmark: how fast a message reaches every tab of its user, and what an idle socket costs.
//!
//! `cargo bench -p server --bench fanout` prints a table. The server runs in a child process
//! (this same binary, re-executed with `EASEL_BENCH_ROLE=server`), so its memory is read from
//! `/proc/<pid>/status` without the clients' buffers mixed in. Everything stays on loopback,
//! every loop is bounded, and the child is killed at the end.
//!
//! With `FANOUT_PEER=host:port` the same client also drives the Node `ws` broadcast peer
//! (`bench/node/peer.mjs`, started by `scripts/bench`), so the Rust client's figures have a
//! baseline in the same run as the Node client's do. Both targets' frames are read the same
//! way, as JSON values, so the client does the same work for each.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use app::protocol::*;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

const MESSAGES: usize = 200;
const TAB_COUNTS: [usize; 3] = [1, 10, 100];
const IDLE_SOCKETS: usize = 500;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    if std::env::var("EASEL_BENCH_ROLE").is_ok_and(|r| r == "server") {
        return rt.block_on(serve());
    }
    rt.block_on(drive())
}

/// Child: the real application on port 0 with a throwaway SQLite file; prints its address.
async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let leptos = leptos::config::LeptosOptions::builder()
        .output_name("easel")
        .site_addr(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .build();
    let settings = server::config::Settings {
        database_url: format!("sqlite://{}/bench.db", dir.path().display()),
        allowed_origins: vec![],
        secure_cookies: false,
        ws: server::config::WsSettings::default(),
        images: server::config::ImageSettings::default(),
        redis_url: None,
        redis_prefix: "easel".into(),
        quotas: server::config::QuotaSettings::default(),
        chat_model: None,
        // One user with a hundred tabs sending as fast as it can: no rate or cap in the way.
        throttle: server::throttle::ThrottleSettings {
            frames_per_second: 1_000_000,
            sockets_per_user: 1_000_000,
            sockets_per_address: 1_000_000,
            ..Default::default()
        },
        caps: server::config::Caps { messages_per_thread: u32::MAX, messages_per_day: u32::MAX, ..Default::default() },
        client_ip_header: None,
        metrics_token: None,
        email: None,
        leptos,
    };
    let app = server::Application::build(settings).await?;
    println!("{}", app.local_addr());
    app.run_until(std::future::pending()).await?;
    Ok(())
}

struct ServerProcess {
    child: Child,
    addr: String,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_server() -> Result<ServerProcess, Box<dyn std::error::Error>> {
    let mut child = Command::new(std::env::current_exe()?)
        .env("EASEL_BENCH_ROLE", "server")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(tokio::process::ChildStdout::from_std(stdout)?).lines();
    let addr = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await??.ok_or("no address")?;
    Ok(ServerProcess { child, addr })
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn signup(addr: &str) -> Result<String, Box<dyn std::error::Error>> {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let res = client
        .post(format!("http://{addr}/auth/signup"))
        .form(&[("username", "bench"), ("password", "benchmark password")])
        .send()
        .await?;
    let cookie = res.headers().get("set-cookie").and_then(|v| v.to_str().ok()).ok_or("no cookie")?;
    Ok(cookie.split(';').next().unwrap_or_default().to_string())
}

/// What the client drives: Easel (signed in by cookie) or the Node peer (user by query).
enum Target {
    Easel { addr: String, cookie: String },
    Peer { addr: String },
}

impl Target {
    fn name(&self) -> &'static str {
        match self {
            Target::Easel { .. } => "easel",
            Target::Peer { .. } => "peer",
        }
    }
}

async fn connect(target: &Target) -> Result<Socket, Box<dyn std::error::Error>> {
    let req = match target {
        Target::Easel { addr, cookie } => {
            let mut req = format!("ws://{addr}/ws").into_client_request()?;
            req.headers_mut().insert("cookie", HeaderValue::from_str(cookie)?);
            req.headers_mut().insert("origin", HeaderValue::from_str(&format!("http://{addr}"))?);
            req
        }
        Target::Peer { addr } => format!("ws://{addr}/ws?user=bench").into_client_request()?,
    };
    let (mut socket, _) = tokio_tungstenite::connect_async(req).await?;
    recv(&mut socket).await?; // the welcome
    Ok(socket)
}

/// The next text frame as JSON: `ServerMsg` on the wire, read without our types because the
/// peer sends only the fields the client looks at.
async fn recv(socket: &mut Socket) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), socket.next()).await?.ok_or("closed")?? {
            Message::Text(t) => return Ok(serde_json::from_str(&t)?),
            _ => continue,
        }
    }
}

async fn send(socket: &mut Socket, msg: &ClientMsg) -> Result<(), Box<dyn std::error::Error>> {
    Ok(socket.send(Message::text(serde_json::to_string(msg)?)).await?)
}

/// Waits for the `message_added` carrying `client_id` on one socket.
async fn await_message(socket: &mut Socket, client_id: &ClientId) -> Result<(), Box<dyn std::error::Error>> {
    loop {
        let frame = recv(socket).await?;
        if frame["type"] == "message_added" && frame["message"]["client_id"] == client_id.0.as_str() {
            return Ok(());
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

async fn fanout(target: &Target, tabs: usize) -> Result<(Duration, Duration), Box<dyn std::error::Error>> {
    let mut sockets = Vec::with_capacity(tabs);
    for _ in 0..tabs {
        sockets.push(connect(target).await?);
    }
    let client_id = ClientId(format!("thread-{tabs}"));
    send(&mut sockets[0], &ClientMsg::CreateThread(CreateThread { client_id, title: Some("bench".into()) })).await?;
    let thread_id = loop {
        let frame = recv(&mut sockets[0]).await?;
        if frame["type"] == "thread_created" {
            break ThreadId(frame["thread"]["id"].as_i64().ok_or("a thread without an id")?);
        }
    };
    let mut samples = Vec::with_capacity(MESSAGES);
    for i in 0..MESSAGES {
        let client_id = ClientId(format!("m-{tabs}-{i}"));
        let started = Instant::now();
        let frame = SendMessage {
            thread_id,
            client_id: client_id.clone(),
            text: format!("message {i}"),
            options: Default::default(),
        };
        send(&mut sockets[0], &ClientMsg::Send(frame)).await?;
        let waits = sockets.iter_mut().map(|s| await_message(s, &client_id));
        for r in futures::future::join_all(waits).await {
            r?;
        }
        samples.push(started.elapsed());
    }
    samples.sort();
    Ok((percentile(&samples, 0.5), percentile(&samples, 0.99)))
}

async fn drive() -> Result<(), Box<dyn std::error::Error>> {
    let server = start_server().await?;
    let easel = Target::Easel { addr: server.addr.clone(), cookie: signup(&server.addr).await? };
    let mut targets = vec![easel];
    if let Ok(addr) = std::env::var("FANOUT_PEER") {
        targets.push(Target::Peer { addr });
    }
    println!("fan-out: one message delivered to every tab of its user ({MESSAGES} messages each; Easel stores it)");
    // The same rows as JSON lines, printed last for bench/node/report.mjs (scripts/bench).
    let mut json = Vec::new();
    println!("| target | tabs | p50 | p99 |");
    println!("|---|---:|---:|---:|");
    for tabs in TAB_COUNTS {
        for target in &targets {
            let (p50, p99) = fanout(target, tabs).await?;
            let name = target.name();
            println!("| {name} | {tabs} | {:.2} ms | {:.2} ms |", p50.as_secs_f64() * 1e3, p99.as_secs_f64() * 1e3);
            json.push(format!(
                "{{\"target\":\"{name}\",\"client\":\"rust\",\"tabs\":{tabs},\"messages\":{MESSAGES},\"p50_ms\":{:.3},\"p99_ms\":{:.3}}}",
                p50.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3
            ));
        }
    }

    let pid = server.child.id();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(pid);
    let mut idle = Vec::with_capacity(IDLE_SOCKETS);
    for _ in 0..IDLE_SOCKETS {
        idle.push(connect(&targets[0]).await?);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kib(pid);
    println!();
    println!("memory: server RSS {before} KiB before, {after} KiB with {IDLE_SOCKETS} more idle sockets");
    println!("| idle sockets | server RSS growth | per socket |");
    println!("|---:|---:|---:|");
    let growth = after.saturating_sub(before);
    println!("| {IDLE_SOCKETS} | {growth} KiB | {:.1} KiB |", growth as f64 / IDLE_SOCKETS as f64);
    drop(idle);
    println!();
    for line in json {
        println!("{line}");
    }
    Ok(())
}
