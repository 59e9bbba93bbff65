//! `camtrace sites`: list sites with the sensitive-site criteria they meet.

use crate::common::{default_format, Format, Global};
use camtrace_store::SiteFilter;
use std::io::Write;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only this organisation and the organisations below it.
    #[arg(long, value_name = "ORG")]
    pub org: Option<String>,
    /// Only this site.
    #[arg(long, value_name = "SITE")]
    pub site: Option<String>,
    /// Only sites meeting a UK sensitive-site criterion.
    #[arg(long, conflicts_with = "not_sensitive")]
    pub sensitive: bool,
    /// Only sites meeting none.
    #[arg(long)]
    pub not_sensitive: bool,
    /// Only sites with this tag.
    #[arg(long)]
    pub tag: Option<String>,
    /// Output format (default: a table on a terminal, JSON otherwise).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async_run(g, a))
}

async fn async_run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let store = crate::common::open_register(&g.db).await?;
    let sensitive = if a.sensitive {
        Some(true)
    } else if a.not_sensitive {
        Some(false)
    } else {
        None
    };
    let rows = camtrace_estate::sites::overview(
        store.as_ref(),
        &SiteFilter {
            organisation: a.org.clone(),
            site: a.site.clone(),
            sensitive,
            tag: a.tag.clone(),
        },
    )
    .await?;
    let mut out = std::io::stdout().lock();
    match default_format(a.format) {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &rows)?;
            writeln!(out)?;
        }
        Format::Csv => {
            let mut w = crate::common::CsvOut::new(out);
            w.write_record([
                "site",
                "organisation",
                "name",
                "address",
                "sensitive",
                "secret_or_above",
                "dv_significant",
                "ministerial_use",
                "socpa_2005",
                "classification",
                "government_building",
                "tags",
                "devices",
                "unregistered",
            ])?;
            let yn = |b: bool| if b { "yes" } else { "no" };
            for r in &rows {
                let s = &r.site;
                w.write_record([
                    s.id.as_str(),
                    &s.organisation,
                    &s.name,
                    s.address.as_deref().unwrap_or(""),
                    yn(r.sensitive),
                    yn(s.criteria.secret_or_above),
                    yn(s.criteria.dv_significant),
                    yn(s.criteria.ministerial_use),
                    yn(s.criteria.socpa_2005),
                    s.classification.as_deref().unwrap_or(""),
                    yn(s.government_building),
                    &s.tags.join(";"),
                    &r.devices.to_string(),
                    &r.unregistered.to_string(),
                ])?;
            }
            w.flush()?;
        }
        Format::Table => {
            let t = rows
                .iter()
                .map(|r| {
                    vec![
                        r.site.id.clone(),
                        r.site.organisation.clone(),
                        r.site.name.clone(),
                        if r.sensitive {
                            "yes".into()
                        } else {
                            "no".into()
                        },
                        r.reasons.join("; "),
                        r.devices.to_string(),
                        r.unregistered.to_string(),
                    ]
                })
                .collect();
            super::devices::table(
                &mut out,
                &[
                    "SITE",
                    "ORGANISATION",
                    "NAME",
                    "SENSITIVE",
                    "CRITERIA",
                    "DEVICES",
                    "NOT IN REGISTER",
                ],
                t,
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
