//! The procurement gate: check a quote or purchase order line by line against the active
//! regimes, following rebrands (OEM links), sub-brands and parents in the knowledge base.

use crate::{Catalogue, PlanError};
use camtrace_kb::{Company, Kb, Tristate};
use camtrace_model::{NamedRef, Site};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Largest quote file accepted.
pub const MAX_QUOTE_BYTES: usize = 16 << 20;
/// Most lines in one quote.
pub const MAX_QUOTE_LINES: usize = 100_000;

/// One line of a quote or purchase order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QuoteLine {
    /// Where the line is: the file line for CSV (the header is line 1), the position in the
    /// array (from 1) for JSON.
    #[serde(default)]
    pub line: usize,
    #[serde(default)]
    pub supplier: String,
    #[serde(default)]
    pub brand: String,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub sku: String,
    #[serde(default = "one")]
    pub quantity: u64,
    /// Destination site id or name.
    #[serde(default)]
    pub site: String,
    #[serde(default)]
    pub unit_price: Option<f64>,
}

fn one() -> u64 {
    1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Allowed,
    /// The maker could not be established (or a fact is unknown): ask the supplier.
    Inquiry,
    Blocked,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Inquiry => "inquiry",
            Self::Blocked => "blocked",
        }
    }
}

/// What one regime says about one maker at one destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RuleOutcome {
    /// The regime does not cover this destination.
    NotApplicable(String),
    Allowed,
    Blocked(Vec<String>),
    /// A fact the regime needs is unknown.
    Unknown(Vec<String>),
}

/// A regime as seen by the procurement gate: does it bar *new deployment* of this maker's
/// equipment at this destination? Implemented by the policy crate's regimes (adapter in the CLI)
/// and by [`FactRule`].
pub trait MakerRule: Send + Sync {
    fn regime(&self) -> &str;
    fn title(&self) -> &str;
    fn check(&self, kb: &Kb, maker: &Company, site: Option<&Site>, date: NaiveDate) -> RuleOutcome;
}

/// A simple data-driven regime: bars makers (or their parents) subject to the PRC National
/// Intelligence Law and/or on any of the named lists, optionally only for sensitive sites.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactRule {
    pub regime: String,
    pub title: String,
    #[serde(default)]
    pub prc_nil: bool,
    #[serde(default)]
    pub lists: Vec<String>,
    #[serde(default)]
    pub sensitive_sites_only: bool,
    #[serde(default)]
    pub citation: String,
}

/// The company and its parents (at most 8 levels).
pub fn company_chain<'a>(kb: &'a Kb, c: &'a Company) -> Vec<&'a Company> {
    let mut out = vec![c];
    let mut cur = c;
    while let Some(p) = cur.parent.as_deref().and_then(|p| kb.company(p)) {
        if out.len() > 8 || out.iter().any(|x| x.id == p.id) {
            break;
        }
        out.push(p);
        cur = p;
    }
    out
}

impl MakerRule for FactRule {
    fn regime(&self) -> &str {
        &self.regime
    }
    fn title(&self) -> &str {
        &self.title
    }
    fn check(&self, kb: &Kb, maker: &Company, site: Option<&Site>, date: NaiveDate) -> RuleOutcome {
        if self.sensitive_sites_only {
            if let Some(s) = site {
                if !s.criteria.is_sensitive() {
                    return RuleOutcome::NotApplicable(format!(
                        "site `{}` meets none of the sensitive-site criteria",
                        s.id
                    ));
                }
            }
        }
        let mut blocked = Vec::new();
        let mut unknown = Vec::new();
        if self.prc_nil {
            let chain = company_chain(kb, maker);
            if let Some(c) = chain.iter().find(|c| c.prc_nil == Tristate::Yes) {
                let via = if c.id == maker.id {
                    String::new()
                } else {
                    format!(" (parent of {})", maker.short)
                };
                blocked.push(format!(
                    "{}{via} is subject to the PRC National Intelligence Law: {} [{}]",
                    c.short, c.prc_nil_reason, c.source
                ));
            } else if chain.iter().any(|c| c.prc_nil == Tristate::Unknown) {
                unknown.push(format!(
                    "whether {} is subject to the PRC National Intelligence Law is unknown: {}",
                    maker.short, maker.prc_nil_reason
                ));
            }
        }
        for (c, m) in kb.lists_on(&maker.id, date) {
            if self.lists.iter().any(|l| l == &m.list) {
                let list = kb.list(&m.list).map(|l| l.name.as_str()).unwrap_or(&m.list);
                let via = if c.id == maker.id {
                    String::new()
                } else {
                    format!(" (via parent {})", c.short)
                };
                blocked.push(format!(
                    "{}{via} on {list} since {} [{}]",
                    maker.short, m.added, m.source
                ));
            }
        }
        if !blocked.is_empty() {
            if !self.citation.is_empty() {
                blocked.push(format!("{}: {}", self.title, self.citation));
            }
            RuleOutcome::Blocked(blocked)
        } else if !unknown.is_empty() {
            RuleOutcome::Unknown(unknown)
        } else {
            RuleOutcome::Allowed
        }
    }
}

/// The gate's answer for one regime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegimeVerdict {
    pub regime: String,
    pub verdict: Verdict,
    pub reasons: Vec<String>,
}

/// The gate's answer for one line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineCheck {
    pub line: QuoteLine,
    pub verdict: Verdict,
    pub brand: Option<NamedRef>,
    pub maker: Option<NamedRef>,
    /// How the maker was established, step by step (brand, OEM link, owner, parent).
    pub chain: Vec<String>,
    pub regimes: Vec<RegimeVerdict>,
    /// The approved catalogue entry, when the line is on the framework.
    pub approved: Option<String>,
}

impl LineCheck {
    /// Every reason, chain first, one string.
    pub fn reason_text(&self) -> String {
        let mut v = self.chain.clone();
        for r in &self.regimes {
            for x in &r.reasons {
                v.push(format!("{}: {x}", r.regime));
            }
        }
        v.join("; ")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuoteCheck {
    pub date: NaiveDate,
    pub lines: Vec<LineCheck>,
    pub allowed: usize,
    pub inquiry: usize,
    pub blocked: usize,
    /// The worst line verdict.
    pub verdict: Verdict,
    pub regimes: Vec<String>,
}

/// Parse a quote: CSV with a header row (`supplier, brand, model, sku, quantity, site`, any
/// order, case-insensitive; `qty`, `destination`, `destination_site`, `part`/`part_number` are
/// accepted too) or JSON (an array of lines, or an object with `lines`).
pub fn parse_quote(bytes: &[u8]) -> Result<Vec<QuoteLine>, PlanError> {
    if bytes.len() > MAX_QUOTE_BYTES {
        return Err(PlanError::Input(format!(
            "quote is larger than {MAX_QUOTE_BYTES} bytes"
        )));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| PlanError::Input(format!("quote is not UTF-8: {e}")))?;
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let mut lines = if trimmed.starts_with('[') || trimmed.starts_with('{') {
        parse_json(trimmed)?
    } else {
        parse_csv(trimmed)?
    };
    if lines.len() > MAX_QUOTE_LINES {
        return Err(PlanError::Input(format!(
            "quote has more than {MAX_QUOTE_LINES} lines"
        )));
    }
    for l in &mut lines {
        for s in [
            &mut l.supplier,
            &mut l.brand,
            &mut l.model,
            &mut l.sku,
            &mut l.site,
        ] {
            *s = s.trim().to_string();
        }
    }
    Ok(lines)
}

fn parse_json(text: &str) -> Result<Vec<QuoteLine>, PlanError> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Doc {
        Lines(Vec<serde_json::Value>),
        Wrapped { lines: Vec<serde_json::Value> },
    }
    let doc: Doc =
        serde_json::from_str(text).map_err(|e| PlanError::Input(format!("quote JSON: {e}")))?;
    let raw = match doc {
        Doc::Lines(v) | Doc::Wrapped { lines: v } => v,
    };
    let mut out = Vec::new();
    for (i, v) in raw.into_iter().enumerate() {
        let obj = v
            .as_object()
            .ok_or_else(|| PlanError::Input(format!("quote JSON line {}: not an object", i + 1)))?;
        if let Some(k) = obj
            .keys()
            .find(|k| canon(k).is_none() && k.as_str() != "line")
        {
            return Err(PlanError::Input(format!(
                "quote JSON line {}: unknown field `{k}` (known fields: {KNOWN_COLUMNS})",
                i + 1
            )));
        }
        let fields: Vec<(String, String)> = obj
            .iter()
            .map(|(k, v)| {
                let s = match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => String::new(),
                    other => other.to_string(),
                };
                (k.clone(), s)
            })
            .collect();
        out.push(line_from_fields(i + 1, &fields)?);
    }
    Ok(out)
}

/// Where a double quote opens a field that is never closed: the 1-based line of that quote.
/// `""` inside a quoted field is an escaped quote.
fn unclosed_quote(text: &str) -> Option<usize> {
    let mut line = 1;
    let mut open_at = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            '"' if open_at.is_some() => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                } else {
                    open_at = None;
                }
            }
            '"' => open_at = Some(line),
            _ => {}
        }
    }
    open_at
}

/// Quote CSV fails closed: an unbalanced quote, a row with more or fewer fields than the header,
/// a field that spans lines and an unknown or repeated column each reject the whole quote with
/// the line, so no line is silently swallowed or misread.
fn parse_csv(text: &str) -> Result<Vec<QuoteLine>, PlanError> {
    let bad = |msg: String| PlanError::Input(format!("quote CSV {msg}"));
    if let Some(line) = unclosed_quote(text) {
        return Err(bad(format!(
            "line {line}: a quoted field opened on this line is never closed (unbalanced `\"`); \
             nothing was checked"
        )));
    }
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| bad(format!("line 1 (header): {e}")))?
        .iter()
        .map(|h| h.to_string())
        .collect();
    let mut seen: Vec<&'static str> = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        match canon(h) {
            Some(c) if seen.contains(&c) => {
                return Err(bad(format!(
                    "line 1 (header): column `{h}` repeats the `{c}` column"
                )))
            }
            Some(c) => seen.push(c),
            None if h.trim().is_empty() => {
                return Err(bad(format!(
                    "line 1 (header): column {} has no name",
                    i + 1
                )))
            }
            None => {
                return Err(bad(format!(
                    "line 1 (header): unknown column `{h}` (known columns: {KNOWN_COLUMNS})"
                )))
            }
        }
    }
    if !seen.contains(&"brand") {
        return Err(PlanError::Input(
            "quote CSV has no `brand` column (expected supplier, brand, model, sku, quantity, site)".into(),
        ));
    }
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(i + 2, |p| p.line() as usize);
            let what = match e.kind() {
                csv::ErrorKind::UnequalLengths {
                    expected_len, len, ..
                } => format!("has {len} fields where the header has {expected_len}"),
                _ => e.to_string(),
            };
            bad(format!("line {line}: {what}"))
        })?;
        let line = rec.position().map_or(i + 2, |p| p.line() as usize);
        if let Some((h, _)) = headers
            .iter()
            .zip(rec.iter())
            .find(|(_, v)| v.contains(['\n', '\r']))
        {
            return Err(bad(format!(
                "line {line}: the `{h}` field spans lines (a misplaced `\"`?)"
            )));
        }
        if rec.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let fields: Vec<(String, String)> = headers
            .iter()
            .cloned()
            .zip(rec.iter().map(|s| s.to_string()))
            .collect();
        out.push(line_from_fields(line, &fields)?);
        if out.len() > MAX_QUOTE_LINES {
            break;
        }
    }
    Ok(out)
}

/// The column names a quote may use (and their accepted spellings).
const KNOWN_COLUMNS: &str = "supplier (vendor, reseller), brand (manufacturer, make), model, \
     sku (part, part_number), quantity (qty), site (destination, deliver_to), unit_price (price)";

fn canon(h: &str) -> Option<&'static str> {
    let n: String = h
        .trim()
        .to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    Some(match n.as_str() {
        "supplier" | "vendor" | "reseller" => "supplier",
        "brand" | "manufacturer" | "make" => "brand",
        "model" | "modelnumber" => "model",
        "sku" | "part" | "partnumber" | "partno" => "sku",
        "quantity" | "qty" => "quantity",
        "site" | "destination" | "destinationsite" | "deliverto" => "site",
        "unitprice" | "price" => "unit_price",
        _ => return None,
    })
}

fn line_from_fields(line: usize, fields: &[(String, String)]) -> Result<QuoteLine, PlanError> {
    let mut l = QuoteLine {
        line,
        quantity: 1,
        ..Default::default()
    };
    for (k, v) in fields {
        let v = v.trim();
        match canon(k) {
            Some("supplier") => l.supplier = v.to_string(),
            Some("brand") => l.brand = v.to_string(),
            Some("model") => l.model = v.to_string(),
            Some("sku") => l.sku = v.to_string(),
            Some("site") => l.site = v.to_string(),
            Some("quantity") if !v.is_empty() => {
                l.quantity = v.parse().map_err(|_| {
                    PlanError::Input(format!(
                        "quote line {line}: quantity `{v}` is not a whole number"
                    ))
                })?
            }
            Some("unit_price") if !v.is_empty() => {
                l.unit_price = Some(
                    v.trim_start_matches(['£', '$', '€'])
                        .replace(',', "")
                        .parse()
                        .map_err(|_| {
                            PlanError::Input(format!(
                                "quote line {line}: unit price `{v}` is not a number"
                            ))
                        })?,
                )
            }
            _ => {}
        }
    }
    if l.brand.is_empty() && l.model.is_empty() && l.sku.is_empty() {
        return Err(PlanError::Input(format!(
            "quote line {line}: no brand, model or SKU"
        )));
    }
    Ok(l)
}

/// Establish who makes what a line sells, with the knowledge base's one attribution rule
/// ([`Kb::attribute_brand`], as a purchase on `date`), else the company the brand text names.
/// Returns (brand, maker, chain). A maker that rests on an unverified fact alone is returned,
/// and the chain says the fact is unverified; [`check_quote`] makes such a line an inquiry.
pub fn resolve_maker<'a>(
    kb: &'a Kb,
    brand_text: &str,
    model: &str,
    date: NaiveDate,
) -> (Option<NamedRef>, Option<&'a Company>, Vec<String>) {
    let mut chain = Vec::new();
    let model_opt = (!model.is_empty()).then_some(model);
    if let Some(b) = kb.brand_by_name(brand_text) {
        let bref = NamedRef::new(&b.id, &b.name);
        chain.push(format!(
            "brand `{brand_text}` is {} (kb brand `{}`)",
            b.name, b.id
        ));
        let att = kb.attribute_brand(&b.id, model_opt, camtrace_kb::DateBasis::Purchase(date));
        if let Some(m) = att.as_ref().and_then(|a| a.maker.as_ref()) {
            if let Some(c) = kb.company(&m.company) {
                let own = m.kind == camtrace_kb::FactKind::Owner && m.company == b.id;
                if !own {
                    chain.push(format!("{} [{}]", m.text, m.source));
                }
                return (Some(bref), Some(c), chain);
            }
        }
        if let Some(c) = kb.company(&b.id) {
            return (Some(bref), Some(c), chain);
        }
        chain.push(format!(
            "no owner or OEM link known for {} on {date}",
            b.name
        ));
        return (Some(bref), None, chain);
    }
    if let Some(c) = kb.company_by_name(brand_text) {
        chain.push(format!("`{brand_text}` is the company {}", c.short));
        return (None, Some(c), chain);
    }
    chain.push(format!(
        "brand `{brand_text}` is not in the knowledge base: maker unknown, ask the supplier for the manufacturer and country of origin"
    ));
    (None, None, chain)
}

/// The fact naming the maker of `brand_text` bought on `date`, when it is unverified and no
/// verified fact names the same maker.
fn unverified_alone(kb: &Kb, brand_text: &str, model: &str, date: NaiveDate) -> Option<String> {
    let b = kb.brand_by_name(brand_text)?;
    let model = (!model.is_empty()).then_some(model);
    let att = kb.attribute_brand(&b.id, model, camtrace_kb::DateBasis::Purchase(date))?;
    let m = att.maker.as_ref()?;
    let verified = m.verified
        || att
            .others
            .iter()
            .any(|c| c.verified && c.company == m.company);
    (!verified).then(|| m.text.clone())
}

/// How a line with no (or an unregistered) destination is judged: the conservative reading,
/// stated as an assumption, never as a fact of the site register.
pub const AS_IF_SENSITIVE: &str = "as if for a sensitive site (assumed to meet every UK \
     sensitive-site criterion and to be a government building; no site register entry says so)";

/// Check every line of a quote against the active regimes on `date`. A line whose destination
/// is missing or not a registered site is judged [`AS_IF_SENSITIVE`].
pub fn check_quote(
    kb: &Kb,
    rules: &[&dyn MakerRule],
    catalogue: Option<&Catalogue>,
    sites: &[Site],
    lines: &[QuoteLine],
    date: NaiveDate,
) -> QuoteCheck {
    let mut out = Vec::new();
    for l in lines {
        let site = sites.iter().find(|s| {
            s.id == l.site || (!l.site.is_empty() && s.name.eq_ignore_ascii_case(&l.site))
        });
        let (brand, maker, mut chain) = resolve_maker(
            kb,
            &l.brand,
            if l.model.is_empty() { &l.sku } else { &l.model },
            date,
        );
        let approved = catalogue
            .and_then(|c| {
                c.find(&l.brand, &l.model)
                    .or_else(|| c.find(&l.brand, &l.sku))
            })
            .map(|e| e.id.clone());
        if let Some(a) = &approved {
            chain.push(format!("on the approved framework as `{a}`"));
        }
        if l.site.is_empty() {
            chain.push(format!("no destination given: judged {AS_IF_SENSITIVE}"));
        } else if site.is_none() {
            chain.push(format!(
                "destination `{}` is not a registered site: judged {AS_IF_SENSITIVE}",
                l.site
            ));
        }
        let mut regimes = Vec::new();
        let verdict = match maker {
            None => Verdict::Inquiry,
            Some(m) => {
                let mut worst = Verdict::Allowed;
                for r in rules {
                    let (v, reasons) = match r.check(kb, m, site, date) {
                        RuleOutcome::NotApplicable(why) => {
                            (Verdict::Allowed, vec![format!("not applicable: {why}")])
                        }
                        RuleOutcome::Allowed => (Verdict::Allowed, Vec::new()),
                        RuleOutcome::Blocked(r) => (Verdict::Blocked, r),
                        RuleOutcome::Unknown(r) => (Verdict::Inquiry, r),
                    };
                    worst = worst.max(v);
                    regimes.push(RegimeVerdict {
                        regime: r.regime().to_string(),
                        verdict: v,
                        reasons,
                    });
                }
                worst
            }
        };
        // An unverified fact alone neither blocks nor allows a purchase: it is an inquiry
        // (the same rule as the policy engine's "needs inspection").
        let verdict = match unverified_alone(
            kb,
            &l.brand,
            if l.model.is_empty() { &l.sku } else { &l.model },
            date,
        ) {
            Some(fact) if maker.is_some() && verdict != Verdict::Inquiry => {
                chain.push(format!(
                    "the maker rests on an unverified fact alone (no public source confirms it): {fact}; ask the supplier for the manufacturer before buying (an inquiry, not a {} verdict)",
                    if verdict == Verdict::Blocked { "blocked" } else { "allowed" }
                ));
                Verdict::Inquiry
            }
            _ => verdict,
        };
        out.push(LineCheck {
            line: l.clone(),
            verdict,
            brand,
            maker: maker.map(|c| NamedRef::new(&c.id, &c.name)),
            chain,
            regimes,
            approved,
        });
    }
    let count = |v: Verdict| out.iter().filter(|l| l.verdict == v).count();
    QuoteCheck {
        date,
        allowed: count(Verdict::Allowed),
        inquiry: count(Verdict::Inquiry),
        blocked: count(Verdict::Blocked),
        verdict: out
            .iter()
            .map(|l| l.verdict)
            .max()
            .unwrap_or(Verdict::Allowed),
        regimes: rules.iter().map(|r| r.regime().to_string()).collect(),
        lines: out,
    }
}
