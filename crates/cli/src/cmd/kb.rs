//! `camtrace kb`: validate the knowledge base, explain a company or brand with the source of
//! every fact, list entries, look a MAC address up.

use crate::common::{default_format, Format, Global};
use anyhow::Context;
use camtrace_kb::{
    BrandExplanation, CompanyExplanation, Kb, KbErrors, KbFiles, ListStatus, OemRef, Subject,
    Tristate,
};
use chrono::NaiveDate;
use std::fmt::Write as _;
use std::process::ExitCode;

/// `writeln!` into a String buffer (cannot fail).
macro_rules! outln {
    ($o:expr, $($t:tt)*) => {{
        let _ = writeln!($o, $($t)*);
    }};
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Load and validate the whole knowledge base (embedded plus `--kb` overlay); print counts
    /// and "ok", or every error as file:line: reason (exit status 1).
    Check {
        /// Output format (text or json).
        #[arg(long, value_enum, default_value = "text")]
        format: ShowFormat,
    },
    /// Explain a company or brand (by id or name): facts, lists on a date, brands, OEM links,
    /// MAC prefixes, each with its source.
    Show {
        /// Company or brand id, or a name or alias (`hikvision`, `CP_PLUS`, `Wisenet`).
        query: String,
        /// Date the explanation is for (lists, owners and OEM links change over time).
        #[arg(long, value_name = "YYYY-MM-DD")]
        as_of: Option<NaiveDate>,
        /// For a brand: the model, to pick per-model OEM links.
        #[arg(long)]
        model: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: ShowFormat,
    },
    /// List companies, brands, lists, OEM links or policy regimes.
    List {
        /// What to list.
        #[arg(value_enum)]
        what: ListWhat,
        /// Companies only: those subject to the PRC National Intelligence Law or on a list on
        /// the date.
        #[arg(long)]
        restricted: bool,
        /// Owners, OEM links and list memberships as on this date (default: today).
        #[arg(long, value_name = "YYYY-MM-DD")]
        as_of: Option<NaiveDate>,
        /// Output format (default: a table on a terminal, JSON otherwise).
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Look a MAC address up in the IEEE prefixes of the knowledge base.
    Mac {
        mac: String,
        #[arg(long, value_enum, default_value = "text")]
        format: ShowFormat,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShowFormat {
    Text,
    Json,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListWhat {
    Companies,
    Brands,
    Lists,
    Oem,
    /// Policy regimes (`kb/policies/`): the ids `--regime` takes, and which apply by default.
    Regimes,
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    match a.cmd {
        Cmd::Check { format } => check(g, format),
        Cmd::Show {
            query,
            as_of,
            model,
            format,
        } => show(
            g,
            &query,
            as_of.unwrap_or_else(today),
            model.as_deref(),
            format,
        ),
        Cmd::List {
            what,
            restricted,
            as_of,
            format,
        } => list(g, what, restricted, as_of.unwrap_or_else(today), format),
        Cmd::Mac { mac, format } => mac_lookup(g, &mac, format),
    }
}

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

// ---------------------------------------------------------------------------------------------
// check

/// The result of `kb check`: named counts and errors. Each part of the knowledge base adds its
/// own lines through a [`Checker`], so more parts can be appended to [`CHECKERS`].
#[derive(Debug, Default, serde::Serialize)]
pub struct CheckReport {
    pub version: String,
    pub counts: Vec<(String, usize)>,
    pub errors: Vec<String>,
}

impl CheckReport {
    fn count(&mut self, what: &str, n: usize) {
        self.counts.push((what.to_string(), n));
    }
    fn kb_errors(&mut self, e: &KbErrors) {
        self.errors.extend(e.0.iter().map(|e| e.to_string()));
    }
}

/// One part of the knowledge-base check: reads the file set (and the vendor base when it
/// loaded) and appends counts and errors.
pub type Checker = fn(&KbFiles, Option<&Kb>, &mut CheckReport);

/// The checks `kb check` runs, in order (after the vendor base itself).
pub const CHECKERS: &[(&str, Checker)] = &[
    ("policies", check_policies),
    ("catalogue", check_catalogue),
    ("recog", check_recog),
    ("citations", check_citation_urls),
];

/// Every entry cites a public URL, or says why it cannot (`unverified = true`, or
/// `source_kind`): how many entries cite no URL and why, and an error for each verified entry
/// that cites none and does not say why (see `camtrace_kb::check_source_urls`).
fn check_citation_urls(files: &KbFiles, _kb: Option<&Kb>, r: &mut CheckReport) {
    let (c, errors) = camtrace_kb::check_source_urls(files);
    r.count("entries citing a URL", c.with_url);
    r.count("entries citing no URL", c.without_url());
    r.count("  no URL: unverified (unverified = true)", c.unverified);
    for k in camtrace_kb::SourceKind::ALL {
        r.count(
            &format!(
                "  no URL: source_kind = \"{}\", {}",
                k.as_str(),
                k.meaning()
            ),
            c.declared.get(k).copied().unwrap_or(0),
        );
    }
    r.count("  no URL and no reason given (refused)", c.refused);
    r.kb_errors(&errors);
}

/// The vendored recog databases as the signature engine compiles them: counts, and every
/// pattern that no regex engine compiles, listed (an error: it must be handled, never dropped).
fn check_recog(_files: &KbFiles, kb: Option<&Kb>, r: &mut CheckReport) {
    let Some(kb) = kb else { return };
    r.count(
        "recog fingerprints (kb/recog)",
        kb.recog.fingerprint_count(),
    );
    r.count("component tells (kb/components)", kb.recog.components.len());
    match camtrace_identify::Engine::new(kb) {
        Ok(e) => {
            let rep = e.recog_report();
            r.count("recog fingerprints compiled", rep.used);
            r.count("recog fingerprints compiled with fancy-regex", rep.fancy);
            r.count("recog fingerprints without a camtrace claim", rep.no_claim);
            r.count("recog patterns no engine compiles", rep.unsupported.len());
            for u in &rep.unsupported {
                r.errors.push(format!(
                    "{}: recog pattern `{}` is not compiled: {}",
                    u.location, u.pattern, u.reason
                ));
            }
        }
        Err(e) => r.errors.push(format!("signature engine: {e}")),
    }
}

fn check_vendor(kb: &Kb, r: &mut CheckReport) {
    r.count("companies", kb.companies.len());
    r.count(
        "restricted makers (prc_nil yes)",
        kb.companies
            .iter()
            .filter(|c| c.prc_nil == Tristate::Yes)
            .count(),
    );
    r.count("lists", kb.lists.len());
    r.count(
        "list memberships",
        kb.companies.iter().map(|c| c.lists.len()).sum(),
    );
    r.count("brands", kb.brands.len());
    r.count("OEM links", kb.oem_links.len());
    r.count("OUI blocks", kb.oui_blocks.len());
    r.count("OUI prefixes", kb.oui_prefix_count());
    r.count("signatures", kb.signatures.len());
    // Verification state (the loader has refused every entry whose words say "unverified"
    // without the flag): verdicts never rest on an unverified entry alone.
    let v = kb.verification_summary();
    r.count("entries (incl. memberships, owner periods)", v.entries);
    r.count("unverified entries (unverified = true)", v.unverified.len());
    r.count(
        "partly verified entries (unverified_fields)",
        v.partial.len(),
    );
}

fn check_policies(files: &KbFiles, _kb: Option<&Kb>, r: &mut CheckReport) {
    match camtrace_policy::PolicySet::load(files) {
        Ok(p) => {
            r.count("policy regimes", p.regimes.len());
            r.count(
                "policy rules",
                p.regimes.iter().map(|x| x.rules.len()).sum(),
            );
        }
        Err(e) => r.kb_errors(&e),
    }
}

fn check_catalogue(files: &KbFiles, kb: Option<&Kb>, r: &mut CheckReport) {
    match camtrace_plan::Catalogue::load(files) {
        Ok(c) => {
            r.count("catalogue models", c.entries.len());
            if let Some(kb) = kb {
                if let Err(e) = c.validate_against(kb) {
                    r.errors.push(e.to_string());
                }
            }
        }
        Err(e) => r.errors.push(e.to_string()),
    }
}

/// Run every check over a file set.
pub fn check_files(files: &KbFiles) -> CheckReport {
    let mut r = CheckReport {
        version: files.version(),
        ..Default::default()
    };
    let kb = match Kb::load(files) {
        Ok(kb) => {
            check_vendor(&kb, &mut r);
            Some(kb)
        }
        Err(e) => {
            r.kb_errors(&e);
            None
        }
    };
    for (_, checker) in CHECKERS {
        checker(files, kb.as_ref(), &mut r);
    }
    r
}

fn check(g: &Global, format: ShowFormat) -> anyhow::Result<ExitCode> {
    let files = g.kb_files()?;
    let r = check_files(&files);
    let mut o = String::new();
    match format {
        ShowFormat::Json => outln!(o, "{}", serde_json::to_string_pretty(&r)?),
        ShowFormat::Text => {
            outln!(o, "knowledge base {}", r.version);
            let w = r.counts.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            for (k, n) in &r.counts {
                outln!(o, "  {k:<w$}  {n}");
            }
            if r.errors.is_empty() {
                outln!(o, "ok");
            } else {
                outln!(o, "{} error(s):", r.errors.len());
                for e in &r.errors {
                    outln!(o, "  {e}");
                }
            }
        }
    }
    emit(o.trim_end())?;
    Ok(if r.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

// ---------------------------------------------------------------------------------------------
// show

fn not_found(kb: &Kb, query: &str) -> anyhow::Error {
    let close = kb.suggest(query, 6);
    if close.is_empty() {
        anyhow::anyhow!("no company or brand `{query}` in the knowledge base (try `camtrace kb list companies`)")
    } else {
        anyhow::anyhow!(
            "no company or brand `{query}` in the knowledge base; close matches: {}",
            close.join(", ")
        )
    }
}

/// What `kb show` prints as JSON: the company and/or the brand the query names (a maker that
/// sells under its own name has both, and the brand carries owners over time and OEM makers).
#[derive(Debug, serde::Serialize)]
pub struct ShowOutput {
    pub query: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<CompanyExplanation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand: Option<BrandExplanation>,
}

/// Explain whatever `query` names on `date`.
pub fn explain(
    kb: &Kb,
    query: &str,
    date: NaiveDate,
    model: Option<&str>,
) -> anyhow::Result<ShowOutput> {
    let subject = kb.resolve(query).ok_or_else(|| not_found(kb, query))?;
    let (company_id, brand_id) = match subject {
        Subject::Company(id) => (Some(id), kb.brand(id).map(|b| b.id.as_str())),
        Subject::Brand(id) => (None, Some(id)),
    };
    let company = company_id.and_then(|id| kb.explain_company(id, date));
    let mut brand = brand_id.and_then(|id| kb.explain_brand(id, model, date));
    if let (Some(c), Some(b)) = (&company, &mut brand) {
        // The maker is the company already shown: do not repeat it.
        if b.maker.as_ref().is_some_and(|m| m.id == c.id) {
            b.maker = None;
        }
    }
    Ok(ShowOutput {
        query: query.to_string(),
        company,
        brand,
    })
}

fn show(
    g: &Global,
    query: &str,
    date: NaiveDate,
    model: Option<&str>,
    format: ShowFormat,
) -> anyhow::Result<ExitCode> {
    let kb = g.load_kb()?;
    let o = explain(&kb, query, date, model).context("kb show")?;
    match format {
        ShowFormat::Json => emit(&serde_json::to_string_pretty(&o)?)?,
        ShowFormat::Text => {
            let mut text = String::new();
            if let Some(c) = &o.company {
                text.push_str(&company_text(c));
            }
            if let Some(b) = &o.brand {
                if o.company.is_some() {
                    text.push_str("\n=== brand ===\n");
                }
                text.push_str(&brand_text(b));
            }
            emit(text.trim_end())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Print to stdout; a closed pipe (`| head`) is not an error.
fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

fn src(source: &str, as_of: impl std::fmt::Display, at: Option<&str>) -> String {
    match at {
        Some(at) => format!("source: {source} (as of {as_of}; {at})"),
        None => format!("source: {source} (as of {as_of})"),
    }
}

fn period(from: Option<impl std::fmt::Display>, to: Option<impl std::fmt::Display>) -> String {
    match (from, to) {
        (Some(f), Some(t)) => format!("from {f} until {t} (exclusive)"),
        (Some(f), None) => format!("from {f}"),
        (None, Some(t)) => format!("until {t} (exclusive; start not dated)"),
        (None, None) => "undated".into(),
    }
}

fn list_text(out: &mut String, l: &ListStatus) {
    let flag = if l.unverified { "[UNVERIFIED] " } else { "" };
    let via = if l.inherited {
        format!(" (through parent {})", l.holder)
    } else {
        String::new()
    };
    let removed = l
        .removed
        .map(|r| format!(", removed {r}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "  - {flag}{} [{}], {}: added {}{removed}{via}",
        l.list_name, l.list, l.jurisdiction, l.added
    );
    if let Some(s) = &l.scope {
        let _ = writeln!(out, "      scope: {s}");
    }
    if let Some(t) = &l.inherited_by {
        let _ = writeln!(out, "      covers subsidiaries and affiliates: {t}");
    }
    if let Some(n) = &l.note {
        let _ = writeln!(out, "      note: {n}");
    }
    let _ = writeln!(out, "      {}", src(&l.source, l.as_of, None));
}

fn oem_text(out: &mut String, o: &OemRef, show_maker: bool) {
    let models = if o.models.is_empty() {
        "brand-wide".to_string()
    } else {
        format!("models {}", o.models.join(", "))
    };
    let who = if show_maker {
        format!("made by {}", o.maker)
    } else {
        format!("brand {}", o.brand)
    };
    let active = if o.active {
        ""
    } else {
        " [not active on the date]"
    };
    let _ = writeln!(
        out,
        "  - {who}: {models}, {} confidence, {}{active}",
        o.confidence.as_str(),
        period(o.from, o.to)
    );
    if let Some(n) = &o.note {
        let _ = writeln!(out, "      note: {n}");
    }
    let _ = writeln!(
        out,
        "      {}",
        src(&o.source, o.as_of, o.location.as_deref())
    );
}

/// The text form of a company explanation.
pub fn company_text(e: &CompanyExplanation) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} ({}) [company `{}`]", e.short, e.name, e.id);
    let _ = writeln!(
        out,
        "knowledge base {}, facts as of {}{}",
        e.kb_version,
        e.date,
        e.location
            .as_deref()
            .map(|l| format!(", defined at {l}"))
            .unwrap_or_default()
    );
    if !e.aliases.is_empty() {
        let _ = writeln!(out, "aliases: {}", e.aliases.join(", "));
    }
    let _ = writeln!(out, "\nFacts:");
    for f in &e.facts {
        if f.field == "also" {
            continue;
        }
        let _ = writeln!(out, "  {}: {}", f.field, f.value);
        if let Some(n) = &f.note {
            let _ = writeln!(out, "      {n}");
        }
        let _ = writeln!(
            out,
            "      {}",
            src(&f.source, f.as_of, f.location.as_deref())
        );
    }
    let also: Vec<&str> = e
        .facts
        .iter()
        .filter(|f| f.field == "also")
        .map(|f| f.source.as_str())
        .collect();
    if !also.is_empty() {
        let _ = writeln!(out, "  further sources: {}", also.join("; "));
    }
    if !e.parent_chain.is_empty() {
        let chain: Vec<String> = e
            .parent_chain
            .iter()
            .map(|p| format!("{} ({}, PRC NIL {})", p.id, p.country, p.prc_nil.as_str()))
            .collect();
        let _ = writeln!(out, "\nParent chain: {} -> {}", e.id, chain.join(" -> "));
    }
    if !e.subsidiaries.is_empty() {
        let _ = writeln!(out, "Subsidiaries: {}", e.subsidiaries.join(", "));
    }
    let _ = writeln!(out, "\nLists on {}:", e.date);
    if e.lists_active.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for l in &e.lists_active {
        list_text(&mut out, l);
    }
    if !e.lists_inactive.is_empty() {
        let _ = writeln!(out, "Lists not in force on {}:", e.date);
        for l in &e.lists_inactive {
            list_text(&mut out, l);
        }
    }
    if !e.brands.is_empty() {
        let _ = writeln!(out, "\nBrands:");
        for b in &e.brands {
            let active = if b.active { "" } else { " [not on the date]" };
            let _ = writeln!(
                out,
                "  - {} [{}]: {}, {}, {} confidence{active}",
                b.brand_name,
                b.brand,
                b.relationship,
                period(b.from, b.to),
                b.confidence.as_str()
            );
            if let Some(n) = &b.note {
                let _ = writeln!(out, "      note: {n}");
            }
            let _ = writeln!(out, "      {}", src(&b.source, b.as_of, None));
        }
    }
    if !e.oem_brands.is_empty() {
        let _ = writeln!(out, "\nMakes products sold under other brands (OEM):");
        for o in &e.oem_brands {
            oem_text(&mut out, o, false);
        }
    }
    let _ = writeln!(out, "\nMAC prefixes:");
    if e.oui.blocks == 0 {
        let _ = writeln!(out, "  (none in the knowledge base)");
    } else {
        let _ = writeln!(
            out,
            "  {} prefixes in {} blocks: {} MA-L, {} MA-M, {} MA-S",
            e.oui.prefixes, e.oui.blocks, e.oui.ma_l, e.oui.ma_m, e.oui.ma_s
        );
        let _ = writeln!(out, "  registered as: {}", e.oui.assignees.join("; "));
        if e.oui.not_surveillance_alone {
            let _ = writeln!(
                out,
                "  a prefix alone does not make a device surveillance equipment"
            );
        }
        if let Some(s) = &e.oui.source {
            let _ = writeln!(out, "  source: {s}");
        }
    }
    out
}

/// The text form of a brand explanation.
pub fn brand_text(e: &BrandExplanation) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} [brand `{}`]", e.name, e.id);
    let _ = writeln!(
        out,
        "knowledge base {}, facts as of {}{}",
        e.kb_version,
        e.date,
        e.location
            .as_deref()
            .map(|l| format!(", defined at {l}"))
            .unwrap_or_default()
    );
    if !e.aliases.is_empty() {
        let _ = writeln!(out, "aliases: {}", e.aliases.join(", "));
    }
    if let Some(n) = &e.note {
        let _ = writeln!(out, "note: {n}");
    }
    let _ = writeln!(out, "{}", src(&e.source, e.as_of, None));
    let _ = writeln!(out, "\nOwners:");
    if e.owners.is_empty() {
        let _ = writeln!(out, "  (no owner company in the knowledge base)");
    }
    for o in &e.owners {
        let active = if o.active { " [owner on the date]" } else { "" };
        let _ = writeln!(
            out,
            "  - {} [{}]: {}, {}, {} confidence{active}",
            o.company_name,
            o.company,
            o.relationship,
            period(o.from, o.to),
            o.confidence.as_str()
        );
        if let Some(n) = &o.note {
            let _ = writeln!(out, "      note: {n}");
        }
        let _ = writeln!(out, "      {}", src(&o.source, o.as_of, None));
    }
    if !e.oem.is_empty() {
        let _ = writeln!(out, "\nMade by (OEM links):");
        for o in &e.oem {
            oem_text(&mut out, o, true);
        }
    }
    let _ = writeln!(
        out,
        "\nMaker on {}: {}",
        e.date,
        e.maker_on_date.as_deref().unwrap_or("unknown")
    );
    if let Some(m) = &e.maker {
        let _ = writeln!(out, "\n--- maker ---");
        out.push_str(&company_text(m));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// list

fn list(
    g: &Global,
    what: ListWhat,
    restricted: bool,
    date: NaiveDate,
    format: Option<Format>,
) -> anyhow::Result<ExitCode> {
    let kb = g.load_kb()?;
    let (header, rows): (Vec<&str>, Vec<Vec<String>>) = match what {
        ListWhat::Companies => (
            vec!["id", "short", "country", "prc_nil", "lists", "source"],
            kb.companies
                .iter()
                .filter_map(|c| {
                    let lists: Vec<String> = kb
                        .lists_on(&c.id, date)
                        .into_iter()
                        .map(|(_, m)| m.list.clone())
                        .collect::<std::collections::BTreeSet<_>>()
                        .into_iter()
                        .collect();
                    if restricted && c.prc_nil != Tristate::Yes && lists.is_empty() {
                        return None;
                    }
                    Some(vec![
                        c.id.clone(),
                        c.short.clone(),
                        c.country.clone(),
                        c.prc_nil.as_str().to_string(),
                        lists.join(" "),
                        c.source.clone(),
                    ])
                })
                .collect(),
        ),
        ListWhat::Brands => (
            vec!["id", "name", "owner", "maker", "source"],
            kb.brands
                .iter()
                .map(|b| {
                    vec![
                        b.id.clone(),
                        b.name.clone(),
                        kb.brand_owner_on(&b.id, date)
                            .map(|o| o.company.clone())
                            .unwrap_or_default(),
                        kb.oem_for(&b.id, None, date)
                            .first()
                            .map(|o| format!("{} ({})", o.maker, o.confidence.as_str()))
                            .unwrap_or_default(),
                        b.source.clone(),
                    ]
                })
                .collect(),
        ),
        ListWhat::Lists => (
            vec!["id", "name", "jurisdiction", "members", "source"],
            kb.lists
                .iter()
                .map(|l| {
                    let members: Vec<&str> = kb
                        .companies
                        .iter()
                        .filter(|c| c.lists.iter().any(|m| m.list == l.id && m.active_on(date)))
                        .map(|c| c.id.as_str())
                        .collect();
                    vec![
                        l.id.clone(),
                        l.name.clone(),
                        l.jurisdiction.clone(),
                        members.join(" "),
                        l.source.clone(),
                    ]
                })
                .collect(),
        ),
        ListWhat::Regimes => {
            let policies = camtrace_policy::PolicySet::load(&g.kb_files()?)
                .map_err(|e| anyhow::anyhow!("{e}"))
                .context("loading kb/policies")?;
            (
                vec![
                    "id",
                    "jurisdiction",
                    "effective",
                    "default",
                    "rules",
                    "title",
                    "source",
                ],
                policies
                    .regimes
                    .iter()
                    .map(|r| {
                        vec![
                            r.id.clone(),
                            r.jurisdiction.clone(),
                            r.effective.to_string(),
                            if r.opt_in { "no (opt-in)" } else { "yes" }.into(),
                            r.rules.len().to_string(),
                            r.title.clone(),
                            r.source.clone(),
                        ]
                    })
                    .collect(),
            )
        }
        ListWhat::Oem => (
            vec!["brand", "maker", "models", "period", "confidence", "source"],
            kb.oem_links
                .iter()
                .map(|o| {
                    vec![
                        o.brand.clone(),
                        o.maker.clone(),
                        if o.models.is_empty() {
                            "*".into()
                        } else {
                            o.models.join(" ")
                        },
                        period(o.from, o.to),
                        o.confidence.as_str().into(),
                        o.source.clone(),
                    ]
                })
                .collect(),
        ),
    };
    let mut o = String::new();
    match default_format(format) {
        Format::Json => {
            let v: Vec<serde_json::Map<String, serde_json::Value>> = rows
                .iter()
                .map(|r| {
                    header
                        .iter()
                        .zip(r)
                        .map(|(h, v)| (h.to_string(), serde_json::Value::String(v.clone())))
                        .collect()
                })
                .collect();
            outln!(o, "{}", serde_json::to_string_pretty(&v)?);
        }
        Format::Csv => {
            outln!(o, "{}", header.join(","));
            for r in &rows {
                let cells: Vec<String> = r.iter().map(|c| csv_cell(c)).collect();
                outln!(o, "{}", cells.join(","));
            }
        }
        Format::Table => {
            // The source column is long: leave it out of the table.
            let cols = header.len() - 1;
            let widths: Vec<usize> = (0..cols)
                .map(|i| {
                    rows.iter()
                        .map(|r| r[i].chars().count())
                        .chain(std::iter::once(header[i].len()))
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let line = |cells: Vec<&str>| {
                cells
                    .iter()
                    .zip(&widths)
                    .map(|(c, w)| format!("{c:<w$}"))
                    .collect::<Vec<_>>()
                    .join("  ")
                    .trim_end()
                    .to_string()
            };
            outln!(o, "{}", line(header[..cols].to_vec()));
            for r in &rows {
                outln!(
                    o,
                    "{}",
                    line(r[..cols].iter().map(String::as_str).collect())
                );
            }
            outln!(o, "({} rows, as of {date})", rows.len());
        }
    }
    emit(o.trim_end())?;
    Ok(ExitCode::SUCCESS)
}

/// One cell through the one CSV writer (RFC 4180 quoting, spreadsheet formulas neutralised).
fn csv_cell(s: &str) -> String {
    camtrace_model::csv_out::field(s)
}

// ---------------------------------------------------------------------------------------------
// mac

fn mac_lookup(g: &Global, mac: &str, format: ShowFormat) -> anyhow::Result<ExitCode> {
    let kb = g.load_kb()?;
    let Some(hit) = kb.lookup_mac(mac) else {
        anyhow::bail!("`{mac}`: no prefix in the knowledge base (or not a 48-bit MAC address)");
    };
    let mut o = String::new();
    match format {
        ShowFormat::Json => outln!(
            o,
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "mac": mac,
                "prefix": hit.prefix,
                "registry": hit.block.registry,
                "assignee": hit.block.assignee,
                "company": hit.company.id,
                "prc_nil": hit.company.prc_nil,
                "not_surveillance_alone": hit.block.not_surveillance_alone,
                "source": hit.block.source,
                "as_of": hit.block.as_of,
            }))?
        ),
        ShowFormat::Text => {
            outln!(
                o,
                "{mac}: {} prefix {} registered to \"{}\" -> company `{}` ({}, PRC NIL {})",
                hit.block.registry,
                hit.prefix,
                hit.block.assignee,
                hit.company.id,
                hit.company.country,
                hit.company.prc_nil.as_str()
            );
            if hit.block.not_surveillance_alone {
                outln!(
                    o,
                    "  this prefix alone does not make the device surveillance equipment"
                );
            }
            outln!(o, "  {}", src(&hit.block.source, hit.block.as_of, None));
        }
    }
    emit(o.trim_end())?;
    Ok(ExitCode::SUCCESS)
}
