//! `camtrace`: the one binary. Each subcommand lives in its own module under `cmd/`.

mod cmd;
mod common;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Find the surveillance equipment on your networks and sites, work out who really made each
/// device (rebrands included), apply the rules that restrict some makers, and plan and prove
/// their removal.
#[derive(Parser, Debug)]
#[command(name = "camtrace", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: common::Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the whole job on the built-in demo estate: lab, scan, register, check, plan, report.
    Demo(cmd::demo::Args),
    /// Identify devices from JSON Lines observations (who made it, with evidence).
    Identify(cmd::identify::Args),
    /// Inspect and validate the knowledge base.
    Kb(cmd::kb::Args),
    /// Start an emulated estate of devices on loopback or in network namespaces.
    Lab(cmd::lab::Args),
    /// Discover and identify devices on the targets you name (rate-limited, scoped).
    Scan(cmd::scan::Args),
    /// Import registers, nmap XML, pcap files or scan results into the register.
    Import(cmd::import::Args),
    /// Compare what was discovered with what the register says.
    Reconcile(cmd::reconcile::Args),
    /// List devices in the register.
    Devices(cmd::devices::Args),
    /// List sites in the register.
    Sites(cmd::sites::Args),
    /// Evaluate policy regimes and list findings with their reasons.
    Check(cmd::check::Args),
    /// Add, list or revoke waivers (signed, expiring exceptions).
    Waiver(cmd::waiver::Args),
    /// Plan remediation within a budget.
    Plan(cmd::plan::Args),
    /// Check a quote or purchase order against the active regimes.
    Procure(cmd::procure::Args),
    /// Write reports (HTML, CSV, JSON, XLSX).
    Report(cmd::report::Args),
    /// Serve the HTTP API and the web dashboard.
    Serve(cmd::serve::Args),
    /// Run built-in benchmarks.
    Bench(cmd::bench::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    common::init_tracing(&cli.global);
    let result = match cli.command {
        Command::Demo(a) => cmd::demo::run(&cli.global, a),
        Command::Identify(a) => cmd::identify::run(&cli.global, a),
        Command::Kb(a) => cmd::kb::run(&cli.global, a),
        Command::Lab(a) => cmd::lab::run(&cli.global, a),
        Command::Scan(a) => cmd::scan::run(&cli.global, a),
        Command::Import(a) => cmd::import::run(&cli.global, a),
        Command::Reconcile(a) => cmd::reconcile::run(&cli.global, a),
        Command::Devices(a) => cmd::devices::run(&cli.global, a),
        Command::Sites(a) => cmd::sites::run(&cli.global, a),
        Command::Check(a) => cmd::check::run(&cli.global, a),
        Command::Waiver(a) => cmd::waiver::run(&cli.global, a),
        Command::Plan(a) => cmd::plan::run(&cli.global, a),
        Command::Procure(a) => cmd::procure::run(&cli.global, a),
        Command::Report(a) => cmd::report::run(&cli.global, a),
        Command::Serve(a) => cmd::serve::run(&cli.global, a),
        Command::Bench(a) => cmd::bench::run(&cli.global, a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("camtrace: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
