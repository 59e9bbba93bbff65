//! `camtrace report`: printable HTML per organisation and per site, with CSV, JSON and XLSX
//! exports, dated, naming the knowledge-base version, reproducible with `--as-of`.

use crate::common::Global;
use crate::common::{parse_date, runtime, today};
use anyhow::Context;
use camtrace_estate::report::{report_input, Knowledge, ReportRequest, Scope};
use camtrace_estate::{load_policies, PlanSettings};
use camtrace_plan::{Catalogue, CostBook, Method};
use camtrace_report::write_report;
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
    /// Report the state at the end of this date (YYYY-MM-DD), rebuilt from stored history.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Regimes to apply (repeatable); default: every regime that is not opt-in.
    #[arg(long = "regime", value_name = "ID")]
    pub regimes: Vec<String>,
    /// Budget for the plan section, in whole currency units.
    #[arg(long, value_name = "AMOUNT")]
    pub budget: Option<u64>,
    /// Name of the budget period (e.g. 2026-27, Q1).
    #[arg(long, value_name = "P")]
    pub period: Option<String>,
    /// The report's title.
    #[arg(long, default_value = camtrace_estate::report::DEFAULT_TITLE)]
    pub title: String,
    /// Output directory (index.html, site-*.html, *.csv, report.json, report.xlsx).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let files = g.kb_files()?;
    let kb = g.load_kb()?;
    let policies = load_policies(&files)?;
    let costs = CostBook::load(&files)?;
    let catalogue = Catalogue::load(&files)?;
    if let Err(e) = catalogue.validate_against(&kb) {
        tracing::warn!("catalogue: {e}");
    }
    let as_of_given = a.as_of.as_deref().map(parse_date).transpose()?;
    let as_of = as_of_given.unwrap_or_else(today);
    let kb_version = files.version();
    let knowledge = Knowledge {
        kb: &kb,
        kb_version: &kb_version,
        policies: &policies,
        costs: Some(&costs),
        catalogue: Some(&catalogue),
    };
    let req = ReportRequest {
        scope: Scope {
            readable: None,
            org: a.org.clone(),
            site: a.site.clone(),
        },
        title: a.title.clone(),
        as_of,
        rebuild: as_of_given.is_some(),
        regimes: a.regimes.clone(),
        plan: Some(PlanSettings {
            budget: a.budget,
            period: a.period.clone(),
            method: Method::Exact,
            as_of,
        }),
        record_progress: true,
    };
    let scoped = runtime()?.block_on(async {
        let store = crate::common::open_register(&g.db).await?;
        anyhow::Ok(report_input(store.as_ref(), &knowledge, &req).await?)
    })?;
    let w = write_report(&scoped, &a.out)
        .with_context(|| format!("writing the report to {}", a.out.display()))?;
    let s = scoped.summary();
    println!(
        "Report as of {as_of} (knowledge base {}): {} devices: {} restricted, {} need inspection, {} not restricted; {} open findings, {} overdue.",
        scoped.kb_version,
        s.devices,
        s.verdicts.restricted,
        s.verdicts.needs_inspection,
        s.verdicts.not_restricted,
        s.open_findings,
        s.overdue_findings
    );
    println!(
        "Written: {} (+ {} files in {})",
        w.index.display(),
        w.files.len() - 1,
        a.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
