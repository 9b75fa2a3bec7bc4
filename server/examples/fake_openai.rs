//! The test suite's fake OpenAI Images API on a fixed port, for the browser tests and for
//! trying the OpenAI provider by hand: `cargo run -p server --example fake_openai -- --port
//! 8189` (or `FAKE_OPENAI_PORT`), then start Easel with `OPENAI_API_KEY=sk-fake
//! OPENAI_BASE_URL=http://127.0.0.1:8189/v1`. It answers every request with `n` images and
//! the usage the real API reports for that size and quality; `GET /__fake/requests` lists
//! what it was asked.

// The tests use parts of the fake this binary does not.
#[allow(dead_code)]
#[path = "../tests/api/fake_openai.rs"]
mod fake_openai;

use fake_openai::FakeOpenAi;

fn port() -> Result<u16, String> {
    let mut args = std::env::args().skip(1);
    let mut port = std::env::var("FAKE_OPENAI_PORT").ok();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next(),
            other => match other.strip_prefix("--port=") {
                Some(p) => port = Some(p.to_string()),
                None => return Err(format!("unknown argument {other:?} (use --port N)")),
            },
        }
    }
    let port = port.unwrap_or_else(|| "8189".into());
    port.parse().map_err(|_| format!("{port:?} is not a port"))
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let port = port()?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot bind port {port}: {e}"))?;
    let fake = FakeOpenAi::serve(listener, Vec::new());
    println!("fake OpenAI listening on {}", fake.base_url);
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    Ok(())
}
