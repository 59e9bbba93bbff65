//! `camtrace agent`: the site agent (see `docs/agent.md` and the `camtrace-agent` crate).

use crate::common::Global;
use anyhow::Context;
use camtrace_agent::{Agent, AgentConfig, Client};
use std::path::PathBuf;
use std::process::ExitCode;

/// Run a site agent: scan one site on a schedule, keep every result in a durable outbox, push
/// it to the central server.
///
/// The configuration file is described, with an example, in docs/agent.md.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

#[derive(clap::Subcommand, Debug)]
pub enum Sub {
    /// Exchange a one-time enrolment token for this agent's credential (written to the
    /// configuration's `credential_file`).
    Enrol(EnrolArgs),
    /// Scan on the schedule and deliver the outbox, until stopped (Ctrl-C or SIGTERM).
    Run(RunArgs),
    /// Deliver what waits in the outbox, then exit (non-zero if some is left).
    Push(ConfigArg),
    /// Print the outbox's depth and the agent's identity (JSON).
    Status(ConfigArg),
}

#[derive(clap::Args, Debug)]
pub struct ConfigArg {
    /// The agent's configuration file (TOML, see docs/agent.md).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct EnrolArgs {
    /// The agent's configuration file (TOML, see docs/agent.md).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The enrolment token an administrator created for this site (`cte_...`).
    #[arg(long, env = "CAMTRACE_ENROLMENT_TOKEN", value_name = "TOKEN")]
    pub token: String,
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The agent's configuration file (TOML, see docs/agent.md).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Scan once, deliver the outbox, and exit (non-zero if some is left undelivered).
    #[arg(long)]
    pub once: bool,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub fn run(_g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    match a.command {
        Sub::Enrol(e) => enrol(e),
        Sub::Run(r) => run_agent(r),
        Sub::Push(c) => push(c),
        Sub::Status(c) => status(c),
    }
}

fn enrol(a: EnrolArgs) -> anyhow::Result<ExitCode> {
    let cfg = AgentConfig::load(&a.config)?;
    if cfg.credential_file.exists() {
        anyhow::bail!(
            "{} exists: this agent is enrolled already (remove the file to enrol again)",
            cfg.credential_file.display()
        );
    }
    let rt = runtime()?;
    let cred = rt.block_on(async {
        let client = Client::new(&cfg)?;
        client.enrol(a.token.trim()).await
    })?;
    if cred.site != cfg.site {
        anyhow::bail!(
            "the token is for site `{}`, the configuration names `{}`: nothing written",
            cred.site,
            cfg.site
        );
    }
    cred.save(&cfg.credential_file)?;
    eprintln!(
        "camtrace agent: enrolled as `{}` (agent {}) for site {} of {}; credential in {}",
        cred.name,
        cred.agent_id,
        cred.site,
        cred.organisation,
        cfg.credential_file.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn run_agent(a: RunArgs) -> anyhow::Result<ExitCode> {
    let cfg = AgentConfig::load(&a.config)?;
    let rt = runtime()?;
    rt.block_on(async {
        let mut agent = Agent::open(cfg).await?;
        if a.once {
            let s = agent.scan_once().await?;
            eprintln!(
                "camtrace agent: scan: {} observations, {} new batches{}",
                s.observations,
                s.batches_added,
                if s.outbox_full {
                    "; OUTBOX FULL: scanning stopped until the server takes delivery"
                } else {
                    ""
                }
            );
            return deliver(&agent).await;
        }
        eprintln!(
            "camtrace agent: running for site {} (every {} s); Ctrl-C to stop",
            agent.config.site, agent.config.schedule_secs
        );
        agent.run(shutdown()).await?;
        eprintln!("camtrace agent: stopped; the outbox keeps what was not delivered");
        Ok(ExitCode::SUCCESS)
    })
}

/// Ctrl-C or SIGTERM.
async fn shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn deliver(agent: &Agent) -> anyhow::Result<ExitCode> {
    let r = agent.push_pending().await?;
    eprintln!(
        "camtrace agent: delivered {} batches ({} already stored); {} left in the outbox{}",
        r.delivered,
        r.duplicates,
        r.remaining,
        r.last_error
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default()
    );
    Ok(if r.remaining == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

fn push(a: ConfigArg) -> anyhow::Result<ExitCode> {
    let cfg = AgentConfig::load(&a.config)?;
    runtime()?.block_on(async {
        let agent = Agent::open(cfg).await?;
        deliver(&agent).await
    })
}

fn status(a: ConfigArg) -> anyhow::Result<ExitCode> {
    let cfg = AgentConfig::load(&a.config)?;
    runtime()?.block_on(async {
        let outbox = camtrace_agent::Outbox::open(&cfg.outbox, cfg.outbox_max_bytes).await?;
        let d = outbox.depth().await?;
        let cred = camtrace_agent::Credential::load(&cfg.credential_file).ok();
        let v = serde_json::json!({
            "site": cfg.site,
            "enrolled": cred.is_some(),
            "agent_id": cred.as_ref().map(|c| c.agent_id.clone()),
            "outbox": {
                "batches": d.batches,
                "bytes": d.bytes,
                "cap": cfg.outbox_max_bytes,
            },
            "version": camtrace_agent::VERSION,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        Ok(ExitCode::SUCCESS)
    })
}
