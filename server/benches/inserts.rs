//! Benchmark: storing a chat message through our store against the database's own tool doing
//! the very same statements (issue 14): `sqlite3` for SQLite, `pgbench` for PostgreSQL.
//!
//! Each message is stored the way the server stores it, on a database our migrations made
//! (same tables, same indexes, same trigger, same pragmas: WAL, `synchronous = NORMAL`):
//! PostgreSQL, one transaction of `UPDATE threads … RETURNING last_seq` then `INSERT INTO
//! messages … RETURNING …`; SQLite, the single `INSERT … SELECT last_seq + 1 … RETURNING …`.
//! The difference is what sqlx, the pool and our row mapping add. One writer, one message
//! after another.
//!
//! `cargo bench -p server --bench inserts` (PostgreSQL too when `TEST_POSTGRES_URL` names a
//! server whose user may create databases; `sqlite3` and `pgbench` on PATH). Prints a table,
//! then one JSON line per database for `bench/node/report.mjs`.

use std::process::Command;
use std::time::Instant;

use app::protocol::{ClientId, Role, ThreadId, UserId};
use server::store::{NewMessage, Store};

const MESSAGES: usize = 3_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("inserts.db");
        let url = format!("sqlite://{}", path.display());
        let stored = ours(&url).await?;
        let tool = sqlite3(&path)?;
        print_row("SQLite", stored, tool, "sqlite3");
        if let Ok(admin) = std::env::var("TEST_POSTGRES_URL") {
            let name = format!("easel_bench_{}", std::process::id());
            let (base, _) = admin.rsplit_once('/').ok_or("TEST_POSTGRES_URL has no database")?;
            let url = format!("{base}/{name}");
            psql(&admin, &format!("CREATE DATABASE {name}"))?;
            let measured = async { Ok::<_, Box<dyn std::error::Error>>((ours(&url).await?, pgbench(&url)?)) }.await;
            psql(&admin, &format!("DROP DATABASE {name} WITH (FORCE)"))?;
            let (stored, tool) = measured?;
            print_row("PostgreSQL", stored, tool, "pgbench");
        }
        Ok(())
    })
}

/// Messages per second through `Store::add_new_message` (a fresh user and thread).
async fn ours(url: &str) -> Result<f64, Box<dyn std::error::Error>> {
    let store = Store::connect(url).await?;
    let user = store.create_user("bench", "not a hash").await?.ok_or("no user")?.id;
    let (thread, _) = store.create_thread(user, &ClientId("bench-thread".into()), "bench").await?;
    let ids: Vec<ClientId> = (0..MESSAGES).map(|i| ClientId(format!("m-{i}"))).collect();
    let started = Instant::now();
    for (i, id) in ids.iter().enumerate() {
        let text = format!("message {i}");
        let new = NewMessage { user, thread: thread.id, client_id: Some(id), role: Role::User, text: &text };
        store.add_new_message(new).await?.ok_or("not stored")?;
    }
    Ok(MESSAGES as f64 / started.elapsed().as_secs_f64())
}

/// One message as the server stores it on PostgreSQL, with literal values.
fn statements(user: UserId, thread: ThreadId, i: usize, now: i64, prefix: &str) -> String {
    format!(
        "BEGIN;\n\
         UPDATE threads SET last_seq = last_seq + 1, updated_at = {now} WHERE id = {t} AND user_id = {u} RETURNING last_seq;\n\
         INSERT INTO messages (thread_id, user_id, seq, client_id, role, body, created_at, reply_claimed_at, answered_at) \
         VALUES ({t}, {u}, (SELECT last_seq FROM threads WHERE id = {t}), '{prefix}-{i}', 'user', 'message {i}', {now}, {now}, NULL) \
         RETURNING id, seq;\n\
         COMMIT;\n",
        t = thread.0,
        u = user.0,
    )
}

/// One message as the server stores it on SQLite (`store::messages::insert_alone`).
fn sqlite_statement(user: UserId, thread: ThreadId, i: usize, now: i64, prefix: &str) -> String {
    format!(
        "INSERT INTO messages (thread_id, user_id, seq, client_id, role, body, created_at, reply_claimed_at, answered_at) \
         SELECT id, user_id, last_seq + 1, '{prefix}-{i}', 'user', 'message {i}', {now}, {now}, NULL \
         FROM threads WHERE id = {t} AND user_id = {u} RETURNING id, thread_id, seq, client_id, role, body, created_at;\n",
        t = thread.0,
        u = user.0,
    )
}

/// Messages per second from the `sqlite3` shell on the database `ours` made (the same
/// thread, after our messages, so the indexes hold as many rows).
fn sqlite3(path: &std::path::Path) -> Result<f64, Box<dyn std::error::Error>> {
    let (user, thread) = (UserId(1), ThreadId(1));
    let mut script =
        String::from(".timeout 5000\nPRAGMA journal_mode = WAL;\nPRAGMA synchronous = NORMAL;\n.output /dev/null\n");
    for i in 0..MESSAGES {
        script.push_str(&sqlite_statement(user, thread, i, 1, "cli"));
    }
    let file = path.with_extension("sql");
    std::fs::write(&file, script)?;
    let started = Instant::now();
    let out = Command::new("sqlite3").arg(path).arg(format!(".read {}", file.display())).output()?;
    let took = started.elapsed();
    if !out.status.success() {
        return Err(format!("sqlite3 failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(MESSAGES as f64 / took.as_secs_f64())
}

/// Transactions per second from `pgbench` running the same statements, one client.
fn pgbench(url: &str) -> Result<f64, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("insert.sql");
    // The same script every time: the thread's new sequence number makes the client id unique.
    let script = statements(UserId(1), ThreadId(1), 0, 1, "pgb")
        .replace("'pgb-0'", "'pgb-' || (SELECT last_seq FROM threads WHERE id = 1)");
    std::fs::write(&file, script)?;
    let out = Command::new("pgbench")
        .args(["-n", "-c", "1", "-t", &MESSAGES.to_string(), "-f"])
        .arg(&file)
        .arg(url)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("pgbench failed: {}{}", text, String::from_utf8_lossy(&out.stderr)).into());
    }
    let tps = text
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no tps in pgbench's output: {text}"))?;
    Ok(tps)
}

fn psql(url: &str, sql: &str) -> Result<(), Box<dyn std::error::Error>> {
    let out = Command::new("psql").arg(url).args(["-qc", sql]).output()?;
    if !out.status.success() {
        return Err(format!("psql: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(())
}

fn print_row(db: &str, ours: f64, tool: f64, tool_name: &str) {
    println!("| {db} | {ours:.0} msg/s | {tool_name}: {tool:.0} msg/s | {:.2} |", ours / tool);
    println!(
        "{{\"kind\":\"row\",\"measure\":\"message inserts, {db} (msg/s)\",\"easel\":{ours:.0},\"peer\":{tool:.0},\"unit\":\"msg/s\",\"peer_name\":\"{tool_name}\"}}"
    );
}
