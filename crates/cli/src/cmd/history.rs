//! `camtrace history`: the register's append-only, hash-chained change history. `verify` checks
//! the chain and prints its head, an anchor to keep outside the database (in a ticket, a signed
//! report, a notebook); `verify --anchor SEQ:HASH` later proves the chain still holds that entry,
//! which catches the newest entries being cut off, the one change a chain cannot show on its own.

use crate::common::runtime;
use crate::common::{default_format, term_safe, Format, Global};
use camtrace_store::{HistoryAnchor, HistoryFilter, StoreError};
use std::io::Write;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Subcommand, Debug)]
#[command(
    after_help = "Examples:\n  camtrace history verify                       # prints the head: keep it\n  camtrace history verify --anchor 120:3f9a...  # later: still there, unchanged?\n  camtrace history list --kind device --id cam-0042"
)]
pub enum Command {
    /// Check the hash chain (exit 1 if it is broken) and print its head to keep elsewhere.
    Verify(VerifyArgs),
    /// List history entries, oldest first.
    List(ListArgs),
}

#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// A head printed by an earlier `verify` (or in a report), `SEQ:HASH`: the entry must still be
    /// there with that hash. Repeatable.
    #[arg(long, value_name = "SEQ:HASH")]
    pub anchor: Vec<HistoryAnchor>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Only this kind of entity (organisation, site, device, waiver, scan, ...).
    #[arg(long)]
    pub kind: Option<String>,
    /// Only this entity id.
    #[arg(long)]
    pub id: Option<String>,
    /// Only entries at or after this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long)]
    pub since: Option<String>,
    /// At most this many entries.
    #[arg(long, default_value_t = 1000)]
    pub limit: i64,
    /// Output format (default: a table on a terminal, JSON otherwise).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    match a.command {
        Command::Verify(v) => verify(g, v),
        Command::List(l) => list(g, l),
    }
}

fn verify(g: &Global, a: VerifyArgs) -> anyhow::Result<ExitCode> {
    let (result, head) = runtime()?.block_on(async {
        let store = crate::common::open_register(&g.db).await?;
        let mut result = store.verify_history().await;
        for anchor in &a.anchor {
            if result.is_err() {
                break;
            }
            result = store.verify_history_against(anchor).await;
        }
        let head = store.history_head().await?;
        anyhow::Ok((result, head))
    })?;
    let (ok, entries, broken) = match result {
        Ok(n) => (true, n, None),
        Err(StoreError::Tamper(t)) => (false, 0, Some(t)),
        Err(e) => return Err(e.into()),
    };
    let mut out = std::io::stdout().lock();
    if a.json {
        let v = serde_json::json!({
            "ok": ok,
            "entries": ok.then_some(entries),
            "anchors_checked": a.anchor.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
            "head": head.as_ref().map(|h| h.to_string()),
            "broken_at": broken.as_ref().map(|t| t.seq),
            "reason": broken.as_ref().map(|t| t.reason.clone()),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else if let Some(t) = &broken {
        writeln!(
            out,
            "history BROKEN at entry {}: {}",
            t.seq,
            term_safe(&t.reason)
        )?;
    } else {
        let checked = if a.anchor.is_empty() {
            String::new()
        } else {
            format!(", {} anchor(s) found unchanged", a.anchor.len())
        };
        writeln!(out, "history intact: {entries} entries{checked}")?;
        match &head {
            Some(h) => writeln!(
                out,
                "head {h}\n(keep this line outside the database; `camtrace history verify --anchor {h}` later proves no entry up to it was removed or changed)"
            )?,
            None => writeln!(out, "no history yet")?,
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn list(g: &Global, a: ListArgs) -> anyhow::Result<ExitCode> {
    let filter = HistoryFilter {
        entity_kind: a.kind.clone(),
        entity_id: a.id.clone(),
        since: a.since.clone(),
        limit: Some(a.limit.max(1)),
        ..Default::default()
    };
    print(g, &filter, a.format)
}

/// Print the history entries `filter` selects (also `camtrace waiver history`).
pub(crate) fn print(
    g: &Global,
    filter: &HistoryFilter,
    format: Option<Format>,
) -> anyhow::Result<ExitCode> {
    let entries = runtime()?.block_on(async {
        let store = crate::common::open_register(&g.db).await?;
        anyhow::Ok(store.history(filter).await?)
    })?;
    let mut out = std::io::stdout().lock();
    match default_format(format) {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&entries)?)?,
        Format::Csv => {
            let mut w = crate::common::CsvOut::new(&mut out);
            w.write_record(["seq", "time", "actor", "action", "kind", "id", "hash"])?;
            for e in &entries {
                w.write_record([
                    &e.seq.to_string(),
                    &e.time,
                    &e.actor,
                    &e.action,
                    &e.entity_kind,
                    &e.entity_id,
                    &e.hash,
                ])?;
            }
            w.flush()?;
        }
        Format::Table => {
            writeln!(
                out,
                "{:>6} {:<28} {:<16} {:<14} {:<13} ID",
                "SEQ", "TIME", "ACTOR", "ACTION", "KIND"
            )?;
            for e in &entries {
                writeln!(
                    out,
                    "{:>6} {:<28} {:<16} {:<14} {:<13} {}",
                    e.seq,
                    term_safe(&e.time),
                    term_safe(&e.actor),
                    term_safe(&e.action),
                    term_safe(&e.entity_kind),
                    term_safe(&e.entity_id)
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
