//! `camtrace identify`: observations (JSON Lines) in, one identification per target out.

use crate::common::{default_format, Format, Global};
use anyhow::Context;
use camtrace_identify::Engine;
use camtrace_model::{Identification, Observation, ObservationKind, MAX_OBSERVATION_LINE};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Largest input accepted (bytes).
const MAX_INPUT: u64 = 1 << 30;
/// Most observations accepted in one run.
const MAX_OBSERVATIONS: usize = 5_000_000;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Observations as JSON Lines (see shared FORMAT): a file, or `-` for standard input.
    #[arg(long, short, value_name = "FILE|-")]
    pub input: String,
    /// Output format (default: table on a terminal, JSON Lines otherwise).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Resolve brand ownership and OEM links as on this date (YYYY-MM-DD; default today).
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<chrono::NaiveDate>,
}

fn read_observations(input: &str, quiet: bool) -> anyhow::Result<Vec<Observation>> {
    let reader: Box<dyn Read> = if input == "-" {
        Box::new(std::io::stdin())
    } else {
        let p = PathBuf::from(input);
        Box::new(std::fs::File::open(&p).with_context(|| format!("opening {}", p.display()))?)
    };
    let mut r = BufReader::new(reader.take(MAX_INPUT + 1));
    let mut out = Vec::new();
    let mut line = Vec::new();
    let mut n = 0usize;
    let mut total = 0u64;
    loop {
        line.clear();
        // Read at most one line more than the limit so a huge line cannot exhaust memory.
        let got = (&mut r)
            .take(MAX_OBSERVATION_LINE as u64 + 2)
            .read_until(b'\n', &mut line)
            .with_context(|| format!("reading {input}"))?;
        if got == 0 {
            break;
        }
        n += 1;
        total += got as u64;
        if total > MAX_INPUT {
            anyhow::bail!("{input}: input is larger than {MAX_INPUT} bytes");
        }
        if line.len() > MAX_OBSERVATION_LINE + 1 && !line.ends_with(b"\n") {
            anyhow::bail!("{input}:{n}: line is longer than {MAX_OBSERVATION_LINE} bytes");
        }
        let text = std::str::from_utf8(&line).with_context(|| format!("{input}:{n}: not UTF-8"))?;
        let text = text.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let o =
            Observation::from_json_line(text).map_err(|e| anyhow::anyhow!("{input}:{n}: {e}"))?;
        if o.kind == ObservationKind::Unknown {
            if !quiet {
                eprintln!("warning: {input}:{n}: unknown observation kind, skipped");
            }
            continue;
        }
        if out.len() >= MAX_OBSERVATIONS {
            anyhow::bail!("{input}: more than {MAX_OBSERVATIONS} observations");
        }
        out.push(o);
    }
    Ok(out)
}

fn cell(s: &str, w: usize) -> String {
    let s: String = s.chars().filter(|c| !c.is_control()).collect();
    if s.chars().count() > w {
        let mut t: String = s.chars().take(w.saturating_sub(1)).collect();
        t.push('…');
        t
    } else {
        format!("{s:<w$}")
    }
}

fn table(ids: &[Identification], out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{} {} {} {} {} {} {:>5}  TOP EVIDENCE",
        cell("TARGET", 18),
        cell("BRAND", 14),
        cell("MAKER", 14),
        cell("MODEL", 18),
        cell("FIRMWARE", 14),
        cell("CLASS", 9),
        "CONF",
    )?;
    for i in ids {
        let top = i
            .evidence
            .first()
            .map(|e| format!("[{}] {}", e.kind, e.detail))
            .unwrap_or_default();
        let maker = i
            .maker
            .as_ref()
            .map(|m| camtrace_kb_short(&m.id, &m.name))
            .unwrap_or_else(|| "-".into());
        writeln!(
            out,
            "{} {} {} {} {} {} {:>5.2}  {}{}{}",
            cell(&i.target, 18),
            cell(i.brand.as_ref().map(|b| b.name.as_str()).unwrap_or("-"), 14),
            cell(&maker, 14),
            cell(i.model.as_deref().unwrap_or("-"), 18),
            cell(i.firmware.as_deref().unwrap_or("-"), 14),
            cell(i.device_class.as_str(), 9),
            i.confidence,
            cell(&top, 70),
            if i.conflicts.is_empty() {
                ""
            } else {
                "  (conflict)"
            },
            // The device's date does not settle the maker: name every candidate.
            if i.could_be.is_empty() {
                String::new()
            } else {
                format!(
                    "  (could be: {}; needs inspection)",
                    i.could_be
                        .iter()
                        .map(|m| camtrace_kb_short(&m.id, &m.name))
                        .collect::<Vec<_>>()
                        .join(" or ")
                )
            }
        )?;
    }
    Ok(())
}

fn camtrace_kb_short(id: &str, name: &str) -> String {
    if name.len() > 14 {
        id.to_string()
    } else {
        name.to_string()
    }
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let kb = g.load_kb()?;
    let mut engine = Engine::new(&kb).map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(d) = a.as_of {
        engine = engine.with_date(d);
    }
    let obs = read_observations(&a.input, g.quiet)?;
    let ids = engine.identify_all(obs);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match default_format(a.format) {
        Format::Table => table(&ids, &mut out)?,
        Format::Json => {
            for i in &ids {
                serde_json::to_writer(&mut out, i)?;
                out.write_all(b"\n")?;
            }
        }
        Format::Csv => {
            writeln!(out, "target,brand,maker,model,firmware,class,confidence")?;
            for i in &ids {
                let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
                writeln!(
                    out,
                    "{},{},{},{},{},{},{}",
                    q(&i.target),
                    q(i.brand.as_ref().map(|b| b.id.as_str()).unwrap_or("")),
                    q(i.maker.as_ref().map(|b| b.id.as_str()).unwrap_or("")),
                    q(i.model.as_deref().unwrap_or("")),
                    q(i.firmware.as_deref().unwrap_or("")),
                    i.device_class,
                    i.confidence
                )?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
