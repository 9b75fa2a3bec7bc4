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
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.is_empty() {
        return command(&args).await;
    }
    let mut leptos = get_configuration(None)?.leptos_options;
    // The build names the front end's files by their hashes (`hash-files`) and lists them in a
    // file beside this binary; `cargo leptos` says so in LEPTOS_HASH_FILES, a binary started
    // on its own (a deploy, the browser tests) finds that file.
    if std::env::var_os("LEPTOS_HASH_FILES").is_none() {
        let exe_dir = std::env::current_exe()?.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
        leptos.hash_files = exe_dir.join(leptos.hash_file.as_ref()).is_file();
    }
    let settings = Settings::from_env(leptos)?;
    let app = Application::build(settings).await?;
    tracing::info!("listening on http://{}", app.local_addr());
    app.run_until(shutdown_signal()).await?;
    Ok(())
}

const USAGE: &str =
    "usage: server [admin grant NAME | admin revoke NAME | admin list] (on the database at DATABASE_URL)";

/// The operator's commands, run against the database at `DATABASE_URL` (A5: admin rights
/// are granted here or at start-up, never by signing up).
async fn command(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| server::config::DEFAULT_DATABASE_URL.to_string());
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let store = || server::store::Store::connect(&url);
    match words.as_slice() {
        ["admin", verb @ ("grant" | "revoke"), name] => {
            let name = name.trim().to_lowercase();
            if !store().await?.set_admin(&name, *verb == "grant").await? {
                return Err(format!("there is no account named {name}").into());
            }
            println!("{name}: admin right {}", if *verb == "grant" { "granted" } else { "revoked" });
        }
        ["admin", "list"] => {
            for name in store().await?.admins().await? {
                println!("{name}");
            }
        }
        _ => return Err(USAGE.into()),
    }
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
