//! Starts Easel: logs, settings, the application, and a clean stop on Ctrl-C or SIGTERM.

use leptos::config::get_configuration;
use server::{config::Settings, telemetry, Application};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    telemetry::init();
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // Said in words (a configuration error names the variable and what to do), not
            // as the `Debug` of an enum.
            tracing::error!("Easel could not start: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let leptos = get_configuration(None)?.leptos_options;
    let settings = Settings::from_env(leptos)?;
    let app = Application::build(settings).await?;
    tracing::info!("listening on http://{}", app.local_addr());
    app.run_until(shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("shutting down");
}
