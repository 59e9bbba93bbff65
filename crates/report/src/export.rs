//! CSV, JSON and XLSX exports. The same tables go into CSV files and XLSX sheets.

use crate::{ReportError, ReportInput};
use rust_xlsxwriter::{Format, Workbook};

/// A table: header and rows of text cells.
pub struct Table {
    pub name: &'static str,
    pub header: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(|x| x.to_string()).unwrap_or_default()
}

/// The tables of a report, in sheet order.
pub fn tables(r: &ReportInput) -> Vec<Table> {
    let s = r.summary();
    let mut summary = vec![
        vec!["title".into(), r.title.clone()],
        vec!["as_of".into(), r.as_of.to_string()],
        vec!["generated".into(), r.generated.clone()],
        vec!["kb_version".into(), r.kb_version.clone()],
        vec![
            "history_head".into(),
            r.history_head.clone().unwrap_or_default(),
        ],
        vec!["regimes".into(), r.regimes.join(", ")],
        vec!["organisations".into(), s.organisations.to_string()],
        vec!["sites".into(), s.sites.to_string()],
        vec!["sensitive_sites".into(), s.sensitive_sites.to_string()],
        vec!["devices".into(), s.devices.to_string()],
        vec![
            "restricted_devices".into(),
            s.restricted_devices.to_string(),
        ],
        vec![
            "restricted_on_sensitive_sites".into(),
            s.restricted_on_sensitive_sites.to_string(),
        ],
        vec!["open_findings".into(), s.open_findings.to_string()],
        vec!["plan_cost".into(), opt(&s.plan_cost)],
        vec!["plan_budget".into(), opt(&s.plan_budget)],
    ];
    for (k, v) in &s.findings_by_obligation {
        summary.push(vec![format!("findings:{k}"), v.to_string()]);
    }
    let findings = r
        .findings
        .iter()
        .map(|f| {
            vec![
                f.device.clone(),
                f.site.clone(),
                f.regime.clone(),
                f.rule.clone(),
                f.obligation.clone(),
                f.status.clone(),
                opt(&f.due),
                opt(&f.citation),
                f.reasons.join(" | "),
            ]
        })
        .collect();
    let plan = r
        .plan
        .iter()
        .flat_map(|p| p.rows.iter())
        .map(|x| {
            vec![
                x.device.clone(),
                x.site.clone(),
                opt(&x.organisation),
                opt(&x.maker),
                opt(&x.model),
                x.class.clone(),
                x.action.id().to_string(),
                x.selected.to_string(),
                x.risk.score.to_string(),
                format!("{}", x.risk_removed),
                x.cost.device.to_string(),
                x.cost.labour.to_string(),
                x.cost.total.to_string(),
                opt(&x.scheduled_upgrade),
                opt(&x.wait_reason),
                x.alternatives
                    .iter()
                    .map(|a| format!("{} {}", a.maker, a.model))
                    .collect::<Vec<_>>()
                    .join("; "),
                x.reasons.join(" | "),
            ]
        })
        .collect();
    let devices = r
        .devices
        .iter()
        .map(|d| {
            vec![
                d.id.clone(),
                d.site.clone(),
                opt(&d.brand),
                opt(&d.maker),
                opt(&d.maker_basis),
                opt(&d.model),
                d.class.clone(),
                d.status.clone(),
                d.addresses.join(" "),
                opt(&d.network),
                d.confidence.map(|c| format!("{c:.2}")).unwrap_or_default(),
                d.registered.to_string(),
                d.discovered.to_string(),
            ]
        })
        .collect();
    let waivers = r
        .waivers
        .iter()
        .map(|w| {
            vec![
                w.id.clone(),
                w.subject.clone(),
                w.site.clone(),
                w.regime.clone(),
                w.approver.clone(),
                w.reason.clone(),
                w.expires.to_string(),
                w.expired.to_string(),
            ]
        })
        .collect();
    let evidence = r
        .evidence
        .iter()
        .map(|e| {
            vec![
                e.device.clone(),
                e.site.clone(),
                e.kind.clone(),
                e.detail.clone(),
                e.signature.clone(),
                e.source.clone(),
            ]
        })
        .collect();
    vec![
        Table {
            name: "Summary",
            header: vec!["field", "value"],
            rows: summary,
        },
        Table {
            name: "Findings",
            header: vec![
                "device",
                "site",
                "regime",
                "rule",
                "obligation",
                "status",
                "due",
                "citation",
                "reasons",
            ],
            rows: findings,
        },
        Table {
            name: "Plan",
            header: vec![
                "device",
                "site",
                "organisation",
                "maker",
                "model",
                "class",
                "action",
                "selected",
                "risk",
                "risk_removed",
                "cost_device",
                "cost_labour",
                "cost_total",
                "scheduled_upgrade",
                "wait_reason",
                "alternatives",
                "reasons",
            ],
            rows: plan,
        },
        Table {
            name: "Devices",
            header: vec![
                "id",
                "site",
                "brand",
                "maker",
                "maker_basis",
                "model",
                "class",
                "status",
                "addresses",
                "network",
                "confidence",
                "registered",
                "discovered",
            ],
            rows: devices,
        },
        Table {
            name: "Waivers",
            header: vec![
                "id", "subject", "site", "regime", "approver", "reason", "expires", "expired",
            ],
            rows: waivers,
        },
        Table {
            name: "Evidence",
            header: vec!["device", "site", "kind", "detail", "signature", "source"],
            rows: evidence,
        },
    ]
}

/// One table as CSV, through the one CSV writer ([`camtrace_model::csv_out`]): RFC 4180 quoting,
/// spreadsheet formulas from device-supplied text neutralised.
pub fn csv_bytes(t: &Table) -> Result<Vec<u8>, ReportError> {
    let mut out = camtrace_model::csv_out::Table::new(&t.header);
    for row in &t.rows {
        out.row(row);
    }
    Ok(out.into_string().into_bytes())
}

/// Largest text in one XLSX cell.
const MAX_CELL: usize = 32_000;

pub fn xlsx_bytes(r: &ReportInput) -> Result<Vec<u8>, ReportError> {
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let err = |e: rust_xlsxwriter::XlsxError| ReportError::Write(format!("XLSX: {e}"));
    for t in tables(r) {
        let ws = wb.add_worksheet();
        ws.set_name(t.name).map_err(err)?;
        for (c, h) in t.header.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, *h, &bold)
                .map_err(err)?;
        }
        for (i, row) in t.rows.iter().enumerate().take(1_000_000) {
            for (c, v) in row.iter().enumerate() {
                let mut v = v.as_str();
                if v.len() > MAX_CELL {
                    let mut end = MAX_CELL;
                    while !v.is_char_boundary(end) {
                        end -= 1;
                    }
                    v = &v[..end];
                }
                ws.write_string((i + 1) as u32, c as u16, v).map_err(err)?;
            }
        }
        ws.autofilter(
            0,
            0,
            t.rows.len() as u32,
            (t.header.len().max(1) - 1) as u16,
        )
        .map_err(err)?;
        ws.set_freeze_panes(1, 0).map_err(err)?;
    }
    wb.save_to_buffer().map_err(err)
}
