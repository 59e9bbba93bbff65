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
const MAX_OBSERVATIONS: usize = 20_000_000;
/// Most distinct targets in one run (what the memory of a run grows with).
const MAX_TARGETS: usize = 2_000_000;

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

/// Read observations (JSON Lines) and hand each to `each` as it is read: nothing but the line
/// being parsed is held, so memory does not grow with the input.
fn read_observations(
    input: &str,
    quiet: bool,
    mut each: impl FnMut(Observation) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let reader: Box<dyn Read> = if input == "-" {
        Box::new(std::io::stdin())
    } else {
        let p = PathBuf::from(input);
        Box::new(std::fs::File::open(&p).with_context(|| format!("opening {}", p.display()))?)
    };
    let mut r = BufReader::with_capacity(1 << 16, reader.take(MAX_INPUT + 1));
    let mut line = Vec::new();
    let mut n = 0usize;
    let mut total = 0u64;
    let mut count = 0usize;
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
        count += 1;
        if count > MAX_OBSERVATIONS {
            anyhow::bail!("{input}: more than {MAX_OBSERVATIONS} observations");
        }
        each(o).with_context(|| format!("{input}:{n}"))?;
    }
    Ok(())
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
    // Observations are folded into their target's evidence as they are read (streaming):
    // memory grows with the number of devices, not with the input's bytes.
    let mut stream = engine.stream();
    read_observations(&a.input, g.quiet, |o| {
        if stream.targets() >= MAX_TARGETS && !stream.knows(&o.target) {
            anyhow::bail!("more than {MAX_TARGETS} distinct targets");
        }
        stream.push(&o);
        Ok(())
    })?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    // JSON Lines and CSV are written as each target is resolved; only the table (which sizes
    // its columns) holds every answer.
    let mut failed: Option<std::io::Error> = None;
    match default_format(a.format) {
        Format::Table => table(&stream.finish(), &mut out)?,
        // The same bytes as `serde_json` of each identification, written without building them.
        Format::Json => stream.write_json_lines(&mut out)?,
        Format::Csv => {
            // The one CSV writer: quoted, and spreadsheet formulas neutralised.
            let header = camtrace_model::csv_out::record([
                "target",
                "brand",
                "maker",
                "model",
                "firmware",
                "class",
                "confidence",
            ]);
            out.write_all(header.as_bytes())?;
            stream.finish_each(|i| {
                if failed.is_none() {
                    let row = camtrace_model::csv_out::record([
                        i.target.clone(),
                        i.brand.as_ref().map(|b| b.id.clone()).unwrap_or_default(),
                        i.maker.as_ref().map(|b| b.id.clone()).unwrap_or_default(),
                        i.model.clone().unwrap_or_default(),
                        i.firmware.clone().unwrap_or_default(),
                        i.device_class.to_string(),
                        i.confidence.to_string(),
                    ]);
                    failed = out.write_all(row.as_bytes()).err();
                }
            });
        }
    }
    if let Some(e) = failed {
        return Err(e.into());
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
