//! The port a fake listens on: `--port N`, `--port=N`, or the environment variable named,
//! else the default.

pub fn port(env: &str, default: u16) -> Result<u16, String> {
    let mut args = std::env::args().skip(1);
    let mut port = std::env::var(env).ok();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next(),
            other => match other.strip_prefix("--port=") {
                Some(p) => port = Some(p.to_string()),
                None => return Err(format!("unknown argument {other:?} (use --port N)")),
            },
        }
    }
    let port = port.unwrap_or_else(|| default.to_string());
    port.parse().map_err(|_| format!("{port:?} is not a port"))
}
