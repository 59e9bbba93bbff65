//! Reports a department can sign: a printable HTML report per organisation and per site
//! (summary, findings with reasons, plan, waivers, evidence appendix, progress chart as inline
//! SVG), and CSV, JSON and XLSX exports. Reports are dated and state the knowledge-base
//! version; the input ([`ReportInput`]) is plain data built from stored history, so the same
//! `--as-of` date gives the same report.

pub mod chart;
pub mod export;
pub mod html;
mod model;

pub use model::*;

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("rendering: {0}")]
    Render(String),
    #[error("writing: {0}")]
    Write(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What was written.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Written {
    pub index: PathBuf,
    pub files: Vec<PathBuf>,
}

fn put(path: PathBuf, bytes: &[u8], files: &mut Vec<PathBuf>) -> Result<(), ReportError> {
    std::fs::write(&path, bytes).map_err(|source| ReportError::Io {
        path: path.clone(),
        source,
    })?;
    files.push(path);
    Ok(())
}

/// Write the report for `input` (already scoped with [`ReportInput::scoped`] if wanted) into
/// `dir`: `index.html`, one `org-<id>.html` per organisation, one `site-<id>.html` per site, `findings.csv`, `plan.csv`,
/// `devices.csv`, `waivers.csv`, `evidence.csv`, `summary.csv`, `report.json`, `report.xlsx`.
pub fn write_report(input: &ReportInput, dir: &Path) -> Result<Written, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files = Vec::new();
    let index = dir.join("index.html");
    let html = html::render(input, true).map_err(|e| ReportError::Render(e.to_string()))?;
    put(index.clone(), html.as_bytes(), &mut files)?;
    for o in &input.organisations {
        let scoped = input.scoped(Some(&o.id), None);
        let page = html::render(&scoped, true).map_err(|e| ReportError::Render(e.to_string()))?;
        put(dir.join(html::org_file(&o.id)), page.as_bytes(), &mut files)?;
    }
    for s in &input.sites {
        let scoped = input.scoped(None, Some(&s.id));
        let page = html::render(&scoped, false).map_err(|e| ReportError::Render(e.to_string()))?;
        put(
            dir.join(html::site_file(&s.id)),
            page.as_bytes(),
            &mut files,
        )?;
    }
    for t in export::tables(input) {
        let name = format!("{}.csv", t.name.to_ascii_lowercase());
        put(dir.join(name), &export::csv_bytes(&t)?, &mut files)?;
    }
    let json = serde_json::to_vec_pretty(&serde_json::json!({
        "summary": input.summary(),
        "report": input,
    }))
    .map_err(|e| ReportError::Write(format!("JSON: {e}")))?;
    put(dir.join("report.json"), &json, &mut files)?;
    put(
        dir.join("report.xlsx"),
        &export::xlsx_bytes(input)?,
        &mut files,
    )?;
    Ok(Written { index, files })
}
