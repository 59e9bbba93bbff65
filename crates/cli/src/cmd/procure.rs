//! `camtrace procure check QUOTE`: check a quote or purchase order, line by line, against the
//! active regimes (rebrands, sub-brands and parents followed through the knowledge base).
//! Exit status: 0 when no line is blocked, 1 when a line is blocked (3 with `--strict` when a
//! line needs an inquiry and none is blocked).

use crate::common::{default_format, Format, Global};
use crate::common::{emit, parse_date, runtime, today};
use anyhow::Context;
use camtrace_estate::load_policies;
use camtrace_model::{Organisation, Site};
use camtrace_plan::{
    check_quote, parse_quote, Catalogue, MakerRule, QuoteCheck, RegimeRule, Verdict,
};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

#[derive(clap::Subcommand, Debug)]
pub enum Sub {
    /// Check a quote or purchase order (CSV or JSON; `-` for stdin).
    Check(CheckArgs),
}

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The quote: CSV with a header (supplier, brand, model, sku, quantity, site) or JSON.
    pub quote: PathBuf,
    /// Regimes to apply (repeatable); default: every regime that is not opt-in.
    #[arg(long = "regime", value_name = "ID")]
    pub regimes: Vec<String>,
    /// Check as of this date (YYYY-MM-DD). Default: today.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Organisation of destinations that are not registered sites (id, with kind and country
    /// from the register), so country-scoped regimes apply.
    #[arg(long)]
    pub org: Option<String>,
    /// Do not read sites from the register database (destinations are then all unknown and
    /// treated as sensitive).
    #[arg(long)]
    pub no_db: bool,
    /// Exit non-zero (3) also when a line needs an inquiry.
    #[arg(long)]
    pub strict: bool,
    /// Output format (default: a table on a terminal, JSON otherwise).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    match a.command {
        Sub::Check(c) => check(g, c),
    }
}

/// Read a quote file (size-capped).
pub(crate) fn read_quote(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    let cap = camtrace_plan::procure::MAX_QUOTE_BYTES as u64 + 1;
    let mut buf = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin().take(cap).read_to_end(&mut buf)?;
    } else {
        std::fs::File::open(path)
            .with_context(|| format!("opening {}", path.display()))?
            .take(cap)
            .read_to_end(&mut buf)?;
    }
    Ok(buf)
}

/// Check quote bytes against the regimes; sites and organisations give the destinations.
pub(crate) fn check_bytes(
    g: &Global,
    bytes: &[u8],
    regimes: &[String],
    sites: &[Site],
    orgs: &[Organisation],
    default_org: Option<&str>,
    date: chrono::NaiveDate,
) -> anyhow::Result<QuoteCheck> {
    let files = g.kb_files()?;
    let kb = g.load_kb()?;
    let policies = load_policies(&files)?;
    let selected = policies.select(regimes).map_err(|e| anyhow::anyhow!(e))?;
    let catalogue = Catalogue::load(&files)?;
    let lines = parse_quote(bytes)?;
    let default_org = default_org.and_then(|o| {
        orgs.iter()
            .find(|x| x.id == o || x.name.eq_ignore_ascii_case(o))
    });
    let rules: Vec<RegimeRule> = selected
        .iter()
        .map(|r| {
            let mut rr = RegimeRule::new(r, orgs);
            rr.default_org = default_org;
            rr
        })
        .collect();
    let dyn_rules: Vec<&dyn MakerRule> = rules.iter().map(|r| r as &dyn MakerRule).collect();
    Ok(check_quote(
        &kb,
        &dyn_rules,
        Some(&catalogue),
        sites,
        &lines,
        date,
    ))
}

pub(crate) fn table(q: &QuoteCheck) -> String {
    let mut s = format!(
        "Quote check as of {} against {}: {} blocked, {} to inquire, {} allowed. Verdict: {}\n\n",
        q.date,
        q.regimes.join(", "),
        q.blocked,
        q.inquiry,
        q.allowed,
        q.verdict.as_str().to_uppercase()
    );
    s.push_str(&format!(
        "{:>4}  {:<8} {:<14} {:<16} {:>4}  {:<12} {:<14} {}\n",
        "LINE", "VERDICT", "BRAND", "MODEL/SKU", "QTY", "SITE", "MAKER", "REASONS"
    ));
    for l in &q.lines {
        let model = if l.line.model.is_empty() {
            &l.line.sku
        } else {
            &l.line.model
        };
        s.push_str(&format!(
            "{:>4}  {:<8} {:<14} {:<16} {:>4}  {:<12} {:<14} {}\n",
            l.line.line,
            l.verdict.as_str(),
            l.line.brand,
            model,
            l.line.quantity,
            l.line.site,
            l.maker.as_ref().map(|m| m.id.as_str()).unwrap_or("unknown"),
            l.reason_text()
        ));
    }
    s
}

fn check(g: &Global, a: CheckArgs) -> anyhow::Result<ExitCode> {
    let date = a
        .as_of
        .as_deref()
        .map(parse_date)
        .transpose()?
        .unwrap_or_else(today);
    let bytes = read_quote(&a.quote)?;
    let missing = crate::common::sqlite_file(&g.db).filter(|f| !f.exists());
    let (sites, orgs) = if a.no_db {
        (Vec::new(), Vec::new())
    } else if let Some(file) = missing {
        // Never create a database to read sites from.
        tracing::warn!(
            "{}; destinations treated as unknown (judged as if for sensitive sites)",
            crate::common::no_register_message(&g.db, &file)
        );
        (Vec::new(), Vec::new())
    } else {
        match runtime()?.block_on(async {
            let store = camtrace_store::open(&g.db).await?;
            let sites = store.list_sites(&Default::default()).await?;
            let orgs = store.list_organisations().await?;
            Ok::<_, anyhow::Error>((sites, orgs))
        }) {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(
                    "register not available ({e:#}); destinations treated as unknown (sensitive)"
                );
                (Vec::new(), Vec::new())
            }
        }
    };
    let q = check_bytes(g, &bytes, &a.regimes, &sites, &orgs, a.org.as_deref(), date)?;
    let text = match default_format(a.format) {
        Format::Json => serde_json::to_string_pretty(&q)? + "\n",
        Format::Table => table(&q),
        Format::Csv => {
            let mut t = camtrace_model::csv_out::Table::new([
                "line", "verdict", "supplier", "brand", "model", "sku", "quantity", "site",
                "maker", "reasons",
            ]);
            for l in &q.lines {
                t.row([
                    l.line.line.to_string().as_str(),
                    l.verdict.as_str(),
                    &l.line.supplier,
                    &l.line.brand,
                    &l.line.model,
                    &l.line.sku,
                    &l.line.quantity.to_string(),
                    &l.line.site,
                    l.maker.as_ref().map(|m| m.id.as_str()).unwrap_or(""),
                    &l.reason_text(),
                ]);
            }
            t.into_string()
        }
    };
    emit(&text)?;
    Ok(match q.verdict {
        Verdict::Blocked => ExitCode::from(1),
        Verdict::Inquiry if a.strict => ExitCode::from(3),
        _ => ExitCode::SUCCESS,
    })
}
