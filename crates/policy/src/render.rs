//! Findings as a table, JSON or CSV (strings; the caller writes them).

use crate::finding::Finding;
use std::fmt::Write as _;

/// JSON array of findings, each with its full reason chain.
pub fn json(findings: &[Finding]) -> String {
    serde_json::to_string_pretty(findings).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// CSV: one row per finding; reasons joined with ` | ` in one column. Written by the one CSV
/// writer ([`camtrace_model::csv_out`]): RFC 4180 quoting, spreadsheet formulas neutralised.
pub fn csv(findings: &[Finding]) -> String {
    let mut t = camtrace_model::csv_out::Table::new([
        "device_id",
        "site_id",
        "org_id",
        "regime_id",
        "rule_id",
        "obligation",
        "severity",
        "due",
        "status",
        "waiver_id",
        "maker",
        "citation_url",
        "reasons",
    ]);
    for f in findings {
        let waiver = match &f.status {
            crate::FindingStatus::Waived { waiver_id, .. } => waiver_id.as_str(),
            _ => "",
        };
        let reasons = f
            .reasons
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join(" | ");
        t.row([
            &*f.device_id,
            &*f.site_id,
            &*f.org_id,
            &*f.regime_id,
            &*f.rule_id,
            f.obligation.as_str(),
            f.severity.as_str(),
            &f.due.map(|d| d.to_string()).unwrap_or_default(),
            f.state(),
            waiver,
            f.maker.as_deref().unwrap_or(""),
            &f.citation.locator(),
            &reasons,
        ]);
    }
    t.into_string()
}

/// A human table: one line per finding, then its reasons indented when `with_reasons`.
pub fn table(findings: &[Finding], with_reasons: bool) -> String {
    let cols = [
        "DEVICE",
        "SITE",
        "MAKER",
        "REGIME",
        "RULE",
        "OBLIGATION",
        "SEVERITY",
        "DUE",
        "STATUS",
    ];
    let rows: Vec<[String; 9]> = findings
        .iter()
        .map(|f| {
            [
                f.device_id.to_string(),
                f.site_id.to_string(),
                f.maker.as_deref().unwrap_or("?").to_string(),
                f.regime_id.to_string(),
                f.rule_id.to_string(),
                f.obligation.to_string(),
                f.severity.to_string(),
                f.due.map(|d| d.to_string()).unwrap_or_else(|| "-".into()),
                match &f.status {
                    crate::FindingStatus::Waived { waiver_id, expires } => {
                        format!("waived ({waiver_id} until {expires})")
                    }
                    s => s.as_str().to_string(),
                },
            ]
        })
        .collect();
    let mut width = cols.map(str::len);
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            width[i] = width[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[&str]| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = width[i]))
            .collect();
        let _ = writeln!(out, "{}", parts.join("  ").trim_end());
    };
    line(&mut out, &cols);
    for (f, r) in findings.iter().zip(&rows) {
        let cells: Vec<&str> = r.iter().map(String::as_str).collect();
        line(&mut out, &cells);
        if with_reasons {
            for reason in f.reasons.iter() {
                let _ = writeln!(out, "    - {reason}");
            }
        }
    }
    let open = findings
        .iter()
        .filter(|f| f.status == crate::FindingStatus::Open)
        .count();
    let insp = findings
        .iter()
        .filter(|f| f.status == crate::FindingStatus::NeedsInspection)
        .count();
    let _ = writeln!(
        out,
        "{} finding(s): {open} open, {insp} need inspection, {} waived",
        findings.len(),
        findings.len() - open - insp
    );
    out
}
