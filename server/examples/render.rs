//! Renders prompts with the built-in renderer into PNG files, to look at what it makes:
//! `cargo run -p server --example render -- OUT_DIR "prompt one" "prompt two" …`

use server::providers::builtin::{paint::paint, scene::Scene};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().ok_or("usage: render OUT_DIR PROMPT…")?;
    std::fs::create_dir_all(&out)?;
    for (i, prompt) in args.enumerate() {
        let path = format!("{out}/{i:02}.png");
        paint(&Scene::from_prompt(&prompt), 256, 256).save(&path)?;
        println!("{path}: {prompt}");
    }
    Ok(())
}
