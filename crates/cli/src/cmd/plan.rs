//! `camtrace plan`: remediation actions for open findings, costed and risk-ranked; with
//! `--budget`, the exact selection that removes the most risk within the budget.
//!

use crate::common::{
    default_format, emit, load_estate, parse_date, runtime, today, Format, Global,
};
use anyhow::Context;
use camtrace_estate::{judge, load_policies, make_plan, PlanSettings};
use camtrace_plan::{Method, Plan};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only this organisation (and those below it).
    #[arg(long)]
    pub org: Option<String>,
    /// Only this site.
    #[arg(long)]
    pub site: Option<String>,
    /// Regimes to apply (repeatable); default: every regime that is not opt-in.
    #[arg(long = "regime", value_name = "ID")]
    pub regimes: Vec<String>,
    /// Budget for the period, in whole currency units (see kb/costs.toml `currency`).
    #[arg(long, value_name = "AMOUNT")]
    pub budget: Option<u64>,
    /// Name of the budget period (e.g. 2026-27, Q1).
    #[arg(long, value_name = "P")]
    pub period: Option<String>,
    /// Plan as of this date (YYYY-MM-DD): the estate rebuilt from stored history. Default: today.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Selection method: exact (dynamic programme, optimal) or greedy (fast baseline).
    #[arg(long, value_enum, default_value = "exact")]
    pub method: MethodArg,
    /// Output format (default: a table on a terminal, JSON otherwise).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write the output to this file instead of stdout.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MethodArg {
    Exact,
    Greedy,
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let files = g.kb_files()?;
    let kb = g.load_kb()?;
    let policies = load_policies(&files)?;
    let as_of_given = a.as_of.as_deref().map(parse_date).transpose()?;
    let as_of = as_of_given.unwrap_or_else(today);
    let estate = runtime()?.block_on(load_estate(
        &g.db,
        a.org.as_deref(),
        a.site.as_deref(),
        as_of_given,
    ))?;
    let judged = judge(&kb, &policies, estate, &a.regimes, as_of)?;
    let plan = make_plan(
        &files,
        &kb,
        &judged,
        &PlanSettings {
            budget: a.budget,
            period: a.period.clone(),
            method: match a.method {
                MethodArg::Exact => Method::Exact,
                MethodArg::Greedy => Method::Greedy,
            },
            as_of,
        },
    )?;
    let text = match default_format(a.format) {
        Format::Json => serde_json::to_string_pretty(&plan)? + "\n",
        Format::Csv => plan_csv(&plan),
        Format::Table => plan_table(&plan),
    };
    match &a.out {
        Some(p) => std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?,
        None => emit(&text)?,
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn plan_csv(p: &Plan) -> String {
    // The one CSV writer: RFC 4180 quoting, spreadsheet formulas neutralised.
    let mut s = camtrace_model::csv_out::record([
        "device",
        "site",
        "action",
        "selected",
        "risk",
        "risk_removed",
        "cost",
        "wait_reason",
        "alternatives",
        "reasons",
    ]);
    for r in &p.rows {
        let fields = [
            r.device.clone(),
            r.site.clone(),
            r.action.id().to_string(),
            r.selected.to_string(),
            r.risk.score.to_string(),
            format!("{}", r.risk_removed),
            r.cost.total.to_string(),
            r.wait_reason.clone().unwrap_or_default(),
            r.alternatives
                .iter()
                .map(|a| format!("{} {}", a.maker, a.model))
                .collect::<Vec<_>>()
                .join("; "),
            r.reasons.join(" | "),
        ];
        camtrace_model::csv_out::push_record(&mut s, &fields);
    }
    s
}

pub(crate) fn plan_table(p: &Plan) -> String {
    let mut s = String::new();
    let cur = &p.currency;
    s.push_str(&format!(
        "Plan {} as of {}: {} {} spent of {}; risk removed {:.0} of {} points.\nMethod: {}\n\n",
        p.period.as_deref().unwrap_or(""),
        p.today,
        cur,
        p.total_cost,
        p.budget
            .map(|b| format!("{cur} {b}"))
            .unwrap_or_else(|| "no budget".into()),
        p.risk_removed,
        p.total_risk,
        p.method
    ));
    s.push_str(&format!(
        "{:<28} {:<16} {:<34} {:>5} {:>8}  {}\n",
        "DEVICE", "SITE", "ACTION", "RISK", "COST", "REPLACE WITH / WHY IT WAITS"
    ));
    for r in &p.rows {
        let tail = match &r.wait_reason {
            Some(w) => format!("waits: {w}"),
            None => r
                .alternatives
                .iter()
                .map(|a| a.model.clone())
                .collect::<Vec<_>>()
                .join(", "),
        };
        s.push_str(&format!(
            "{:<28} {:<16} {:<34} {:>5} {:>8}  {}\n",
            r.device,
            r.site,
            r.action.as_str(),
            r.risk.score,
            r.cost.total,
            tail
        ));
        // The rules come first: they say what must be done and under which regime; the rest of
        // the chain (device, identification, site) is in the JSON output.
        let is_rule = |x: &str| {
            let t = x.split_once("] ").map_or(x, |(_, t)| t);
            t.starts_with("[rule]") || t.starts_with("rule ")
        };
        let mut shown: Vec<&String> = r.reasons.iter().filter(|x| is_rule(x)).collect();
        if shown.is_empty() {
            shown.extend(r.reasons.first());
        }
        for x in &shown {
            s.push_str(&format!("    because {x}\n"));
        }
        if r.reasons.len() > shown.len() {
            s.push_str(&format!(
                "    (and {} more reasons: device, identification, site; --format json lists them)\n",
                r.reasons.len() - shown.len()
            ));
        }
    }
    let visited: Vec<&str> = p
        .sites
        .iter()
        .filter(|v| v.visited)
        .map(|v| v.site.as_str())
        .collect();
    s.push_str(&format!(
        "\nSite visits in this plan: {} (overhead {} {} each, counted once per site).\n",
        if visited.is_empty() {
            "none".into()
        } else {
            visited.join(", ")
        },
        cur,
        p.sites.first().map(|v| v.overhead).unwrap_or(0)
    ));
    s
}
