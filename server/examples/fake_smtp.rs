//! The test suite's fake SMTP server on a fixed port, for the browser tests and for trying
//! quota emails by hand: `cargo run -p server --example fake_smtp -- --port 2525`, then start
//! Easel with `SMTP_URL=smtp://127.0.0.1:2525`. The mails it received are listed as JSON at
//! `http://127.0.0.1:{port + 1}/__fake/mails`.

#[allow(dead_code)]
#[path = "../tests/api/fake_smtp.rs"]
mod fake_smtp;

use axum::routing::get;
use axum::{Json, Router};
use fake_smtp::FakeSmtp;

#[path = "support/port.rs"]
mod port;

#[tokio::main]
async fn main() -> Result<(), String> {
    let port = port::port("FAKE_SMTP_PORT", 2525)?;
    let bind = |p: u16| async move {
        tokio::net::TcpListener::bind(("127.0.0.1", p)).await.map_err(|e| format!("cannot bind port {p}: {e}"))
    };
    let smtp = FakeSmtp::serve(bind(port).await?);
    let mails = smtp.clone();
    let app = Router::new().route("/__fake/mails", get(move || async move { Json(mails.mails()) }));
    let http = bind(port + 1).await?;
    tokio::spawn(async move { axum::serve(http, app).await });
    println!("fake SMTP on {}, its mails at http://127.0.0.1:{}/__fake/mails", smtp.url(), port + 1);
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    Ok(())
}
