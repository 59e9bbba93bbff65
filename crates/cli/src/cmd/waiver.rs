//! `camtrace waiver`: add, list and revoke waivers (signed, expiring exceptions to one rule for
//! one device). Every change goes to the store's audit history; `camtrace check` shows waived
//! findings as waived (never hides them) and an expired or revoked waiver leaves its finding
//! open with a reason saying so.

use crate::common::{default_format, term_safe, Format, Global};
use crate::common::{parse_date, runtime, today};
use camtrace_estate::load_policies;
use camtrace_model::Waiver;
use camtrace_store::WaiverFilter;
use std::io::Write;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Waive one rule for one device until a date.
    Add(AddArgs),
    /// List waivers (in force, expired and, with --all, revoked).
    List(ListArgs),
    /// Revoke a waiver: its finding is open again.
    Revoke(RevokeArgs),
    /// The audit history of waivers (every add and revoke, hash-chained by the store).
    History(HistoryArgs),
}

#[derive(clap::Args, Debug)]
pub struct HistoryArgs {
    /// Only this waiver.
    pub id: Option<String>,
    /// Output format (default: a table on a terminal, JSON otherwise).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

#[derive(clap::Args, Debug)]
pub struct AddArgs {
    /// Device id in the register.
    #[arg(long)]
    pub device: String,
    /// The rule waived: `<regime>/<rule>` (e.g. uk-2022-sensitive-sites/consider-removal, or
    /// `<regime>/needs-inspection`).
    #[arg(long)]
    pub rule: String,
    /// Why (e.g. "kept on for safety until the replacement is fitted").
    #[arg(long)]
    pub reason: String,
    /// Who approved it.
    #[arg(long)]
    pub approver: String,
    /// Last day the waiver is in force (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub expires: String,
    /// Waiver id (default: generated).
    #[arg(long)]
    pub id: Option<String>,
    /// Who records the change (audit history); default: $USER.
    #[arg(long)]
    pub actor: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Only waivers on this device.
    #[arg(long)]
    pub device: Option<String>,
    /// `<regime>/<rule>`.
    #[arg(long)]
    pub rule: Option<String>,
    /// Only waivers in force today (or on --as-of).
    #[arg(long)]
    pub active: bool,
    /// The date --active refers to (YYYY-MM-DD; default: today).
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Include revoked waivers.
    #[arg(long)]
    pub all: bool,
    /// Output format (default: a table on a terminal, JSON otherwise).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

#[derive(clap::Args, Debug)]
pub struct RevokeArgs {
    /// Waiver id.
    pub id: String,
    /// Who revokes it.
    #[arg(long)]
    pub by: String,
    /// Why.
    #[arg(long)]
    pub reason: String,
}

fn actor(given: &Option<String>) -> String {
    given
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "cli".into())
}

fn nonempty(what: &str, v: &str) -> anyhow::Result<()> {
    anyhow::ensure!(!v.trim().is_empty(), "--{what} must not be empty");
    anyhow::ensure!(v.len() <= 2000, "--{what} is longer than 2000 characters");
    Ok(())
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    match a.command {
        Command::Add(x) => add(g, x),
        Command::List(x) => list(g, x),
        Command::Revoke(x) => revoke(g, x),
        Command::History(x) => history(g, x),
    }
}

fn history(g: &Global, a: HistoryArgs) -> anyhow::Result<ExitCode> {
    let filter = camtrace_store::HistoryFilter {
        entity_kind: Some("waiver".into()),
        entity_id: a.id.clone(),
        ..Default::default()
    };
    crate::cmd::history::print(g, &filter, a.format)
}

fn add(g: &Global, a: AddArgs) -> anyhow::Result<ExitCode> {
    for (w, v) in [
        ("device", &a.device),
        ("reason", &a.reason),
        ("approver", &a.approver),
        ("rule", &a.rule),
    ] {
        nonempty(w, v)?;
    }
    let expires = parse_date(&a.expires)?;
    // The same rules as the server's waiver requests (camtrace_estate::waiver).
    let files = g.kb_files()?;
    let policies = load_policies(&files)?;
    camtrace_estate::waiver::validate(
        &policies,
        &camtrace_estate::waiver::WaiverDraft {
            rule_id: &a.rule,
            reason: &a.reason,
            expires_on: expires,
        },
        today(),
    )?;
    let id = a.id.clone().unwrap_or_else(|| {
        let now = chrono::Utc::now();
        format!(
            "w-{}-{:04x}",
            now.format("%Y%m%d%H%M%S"),
            now.timestamp_subsec_micros() % 0xffff
        )
    });
    let waiver = Waiver {
        id: id.clone(),
        device_id: a.device.clone(),
        rule_id: a.rule.clone(),
        reason: a.reason.clone(),
        approver: a.approver.clone(),
        created_at: camtrace_store::now_rfc3339(),
        expires_on: expires,
        revoked_at: None,
        revoked_by: None,
        revoke_reason: None,
    };
    let who = actor(&a.actor);
    runtime()?.block_on(async {
        let store = crate::common::open_register(&g.db).await?;
        if store.get_device(&a.device).await?.is_none() {
            anyhow::bail!(
                "device `{}` is not in the register (import it first: camtrace import FILE)",
                a.device
            );
        }
        store.add_waiver(&waiver, &who).await?;
        anyhow::Ok(())
    })?;
    println!(
        "waiver {id} added: {} on {} until {expires} (approved by {})",
        a.rule, a.device, a.approver
    );
    Ok(ExitCode::SUCCESS)
}

fn list(g: &Global, a: ListArgs) -> anyhow::Result<ExitCode> {
    let on = a
        .as_of
        .as_deref()
        .map(parse_date)
        .transpose()?
        .unwrap_or_else(today);
    let filter = WaiverFilter {
        device_id: a.device.clone(),
        rule_id: a.rule.clone(),
        active_on: a.active.then_some(on),
        include_revoked: a.all,
    };
    let waivers = runtime()?.block_on(async {
        let store = crate::common::open_register(&g.db).await?;
        anyhow::Ok(store.list_waivers(&filter).await?)
    })?;
    let state = |w: &Waiver| {
        if w.revoked_at.is_some() {
            "revoked"
        } else if w.active_on(on) {
            "in_force"
        } else {
            "expired"
        }
    };
    let text = match default_format(a.format) {
        Format::Json => {
            let rows: Vec<serde_json::Value> = waivers
                .iter()
                .map(|w| {
                    let mut v = serde_json::to_value(w).unwrap_or_default();
                    if let Some(o) = v.as_object_mut() {
                        o.insert("state".into(), state(w).into());
                    }
                    v
                })
                .collect();
            serde_json::to_string_pretty(&rows)? + "\n"
        }
        Format::Csv => {
            let mut out = csv_line(&[
                "id",
                "device_id",
                "rule_id",
                "state",
                "expires_on",
                "approver",
                "reason",
                "created_at",
                "revoked_at",
                "revoked_by",
                "revoke_reason",
            ]);
            for w in &waivers {
                out.push_str(&csv_line(&[
                    &w.id,
                    &w.device_id,
                    &w.rule_id,
                    state(w),
                    &w.expires_on.to_string(),
                    &w.approver,
                    &w.reason,
                    &w.created_at,
                    w.revoked_at.as_deref().unwrap_or(""),
                    w.revoked_by.as_deref().unwrap_or(""),
                    w.revoke_reason.as_deref().unwrap_or(""),
                ]));
            }
            out
        }
        Format::Table => {
            let mut out = format!(
                "{:<24} {:<20} {:<44} {:<9} {:<10} {}\n",
                "ID", "DEVICE", "RULE", "STATE", "EXPIRES", "APPROVER: REASON"
            );
            for w in &waivers {
                out.push_str(&format!(
                    "{:<24} {:<20} {:<44} {:<9} {:<10} {}: {}\n",
                    term_safe(&w.id),
                    term_safe(&w.device_id),
                    term_safe(&w.rule_id),
                    state(w),
                    w.expires_on,
                    term_safe(&w.approver),
                    term_safe(&w.reason)
                ));
            }
            out.push_str(&format!("{} waiver(s) on {on}\n", waivers.len()));
            out
        }
    };
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// One record through the one CSV writer (RFC 4180 quoting, spreadsheet formulas neutralised).
fn csv_line(fields: &[&str]) -> String {
    camtrace_model::csv_out::record(fields)
}

fn revoke(g: &Global, a: RevokeArgs) -> anyhow::Result<ExitCode> {
    nonempty("by", &a.by)?;
    nonempty("reason", &a.reason)?;
    let w = runtime()?.block_on(async {
        let store = crate::common::open_register(&g.db).await?;
        anyhow::Ok(store.revoke_waiver(&a.id, &a.by, &a.reason).await?)
    })?;
    println!(
        "waiver {} revoked by {}: {} on {} is no longer waived",
        w.id, a.by, w.rule_id, w.device_id
    );
    Ok(ExitCode::SUCCESS)
}
