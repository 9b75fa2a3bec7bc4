//! The test suite's fake OpenAI Images API on a fixed port, for the browser tests and for
//! trying the OpenAI provider by hand: `cargo run -p server --example fake_openai -- --port
//! 8189` (or `FAKE_OPENAI_PORT`), then start Easel with `OPENAI_API_KEY=sk-fake
//! OPENAI_BASE_URL=http://127.0.0.1:8189/v1`. It answers every request with `n` images and
//! the usage the real API reports for that size and quality; `GET /__fake/requests` lists
//! what it was asked. `FAKE_OPENAI_DELAY_MS` makes every answer an event stream of two
//! previews and the image spread over that time (the load test's slow engine).

// The tests use parts of the fake this binary does not.
#[allow(dead_code)]
#[path = "../tests/api/fake_openai.rs"]
mod fake_openai;

use fake_openai::FakeOpenAi;

#[path = "support/port.rs"]
mod port;

#[tokio::main]
async fn main() -> Result<(), String> {
    let port = port::port("FAKE_OPENAI_PORT", 8189)?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot bind port {port}: {e}"))?;
    let fake = FakeOpenAi::serve(listener, Vec::new());
    if let Ok(ms) = std::env::var("FAKE_OPENAI_DELAY_MS") {
        let ms: u64 = ms.parse().map_err(|_| format!("FAKE_OPENAI_DELAY_MS is not a number of milliseconds: {ms}"))?;
        // The first preview at once, the second halfway, the image at `ms`.
        let gap = std::time::Duration::from_millis(ms / 2);
        fake.reply_by_default(fake_openai::Reply::Stream { partials: 2, gap });
    }
    println!("fake OpenAI listening on {}", fake.base_url);
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    Ok(())
}
