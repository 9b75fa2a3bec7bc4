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

fn port() -> Result<u16, String> {
    let mut args = std::env::args().skip(1);
    let mut port = std::env::var("FAKE_COMFYUI_PORT").ok();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next(),
            other => match other.strip_prefix("--port=") {
                Some(p) => port = Some(p.to_string()),
                None => return Err(format!("unknown argument {other:?} (use --port N)")),
            },
        }
    }
    let port = port.unwrap_or_else(|| "8188".into());
    port.parse().map_err(|_| format!("{port:?} is not a port"))
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let port = port()?;
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
