//! The test suite's fake ComfyUI on a fixed port, for the browser tests and for trying the
//! ComfyUI provider by hand: `cargo run -p server --example fake_comfyui -- --port 8188`
//! (or `FAKE_COMFYUI_PORT`), then start Easel with `COMFYUI_URL=http://127.0.0.1:8188`.
//! Each prompt takes 30 steps of 150 ms with a preview every 5 steps.

// The tests use parts of the fake this binary does not.
#[allow(dead_code)]
#[path = "../tests/api/fake_comfyui.rs"]
mod fake_comfyui;

use std::time::Duration;

use fake_comfyui::{FakeComfyUi, Options, Run};

#[path = "support/port.rs"]
mod port;

#[tokio::main]
async fn main() -> Result<(), String> {
    let port = port::port("FAKE_COMFYUI_PORT", 8188)?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot bind port {port}: {e}"))?;
    let run =
        Run { steps: 30, step_time: Duration::from_millis(150), preview_every: 5, fail_at: None, drop_socket_at: None };
    let fake = FakeComfyUi::serve(listener, Options { default_run: run, ..Options::default() });
    println!("fake ComfyUI listening on {}", fake.base_url);
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    Ok(())
}
