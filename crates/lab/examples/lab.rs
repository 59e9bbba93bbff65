//! Minimal lab runner for manual checks: `cargo run -p camtrace-lab --example lab -- 127.20.0.0/24 20 [ids,..]`.
//! Prints the manifest as JSON and runs until Ctrl-C.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let range = args.next().unwrap_or_else(|| "127.20.0.0/24".into());
    let devices = args.next().and_then(|s| s.parse().ok()).unwrap_or(20);
    let mix = args
        .next()
        .map(|s| s.split(',').map(String::from).collect());
    let lab = camtrace_lab::Lab::start(camtrace_lab::LabConfig {
        range: Some(range.parse()?),
        devices,
        mix,
        ..Default::default()
    })
    .await?;
    println!("{}", serde_json::to_string_pretty(lab.manifest())?);
    tokio::signal::ctrl_c().await?;
    lab.shutdown().await;
    Ok(())
}
