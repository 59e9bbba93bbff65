//! Peak memory and throughput of `Engine::stream` on N generated observations: the 14 labelled
//! observations of `tests/data/observations.sample.jsonl` repeated with new loopback targets,
//! the way the 1,000,000-line benchmark file of docs/benchmarks.md was made: line `i` has target
//! `127.(i>>16).(i>>8).i` (bytes; `127.255.255.255` for line 0), except every tenth line, which
//! shares the previous line's target (900,000 targets per million lines). Each line is generated
//! as JSON text, parsed into an `Observation`, pushed into the stream; then every identification
//! is written as JSON to a sink that counts and hashes it (to compare builds). Nothing is held
//! but the stream.
//!
//! `cargo run --release -p camtrace-identify --example stream_mem -- [N] [--hash]` (default
//! 1,000,000). Prints the peak resident memory (`VmHWM` of /proc/self/status) after building
//! the engine, after reading, and at the end; the time of each phase (JSON parsing, folding into
//! the stream, resolving and JSON writing with `Streaming::write_json_lines`) and observations
//! per second. `--hash` also hashes the JSON written (FNV-1a, a few hundred ms), to check that
//! two builds write the same bytes.

use std::io::Write;
use std::time::{Duration, Instant};

const SAMPLE: &str = include_str!("../../../tests/data/observations.sample.jsonl");

fn vm_hwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Bytes written and, when asked, their FNV-1a hash.
struct Count(u64, Option<u64>);

impl Write for Count {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0 += b.len() as u64;
        let Some(h) = &mut self.1 else {
            return Ok(b.len());
        };
        for &x in b {
            *h = (*h ^ u64::from(x)).wrapping_mul(0x100_0000_01b3);
        }
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let hash = args.iter().any(|a| a == "--hash");
    let n: usize = match args.iter().find(|a| !a.starts_with("--")) {
        Some(a) => a.parse()?,
        None => 1_000_000,
    };
    // Each line with its target left out: `{"target": "<t>",` + the rest.
    let lines: Vec<&str> = SAMPLE
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_once(',').map(|(_, r)| r))
        .collect::<Option<_>>()
        .ok_or("sample line without fields")?;

    let kb = camtrace_kb::Kb::embedded()?;
    let engine = camtrace_identify::Engine::new(&kb)?;
    let base = vm_hwm_kb();

    let start = Instant::now();
    let mut stream = engine.stream();
    let mut line = String::new();
    let mut target = String::new();
    let (mut parse, mut fold, mut write) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for i in 0..n {
        let rest = lines[i % lines.len()];
        if i == 0 {
            target = "127.255.255.255".into();
        } else if i % 10 != 0 {
            target = format!("127.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
            if i >= 1 << 24 {
                target.push_str(&format!("-{}", i >> 24));
            }
        }
        line.clear();
        line.push_str("{\"target\": \"");
        line.push_str(&target);
        line.push_str("\",");
        line.push_str(rest);
        let t0 = Instant::now();
        let o = camtrace_model::Observation::from_json_line(&line)?;
        let t1 = Instant::now();
        stream.push(&o);
        parse += t1 - t0;
        fold += t1.elapsed();
    }
    let read = start.elapsed();
    let targets = stream.targets();
    let after_read = vm_hwm_kb();
    let mut out = std::io::BufWriter::new(Count(0, hash.then_some(0xcbf2_9ce4_8422_2325)));
    let ids = targets;
    let t0 = Instant::now();
    stream.write_json_lines(&mut out)?;
    // Resolving and writing are one pass now (nothing is built between them).
    write += t0.elapsed();
    out.flush()?;
    let total = start.elapsed();
    let (bytes, hash) = (out.get_ref().0, out.get_ref().1);
    let rate = |d: std::time::Duration| n as f64 / d.as_secs_f64();
    let hash = hash
        .map(|h| format!(", FNV-1a {h:016x}"))
        .unwrap_or_default();
    println!(
        "observations {n}, targets {targets}, identifications {ids}, JSON out {bytes} bytes{hash}"
    );
    println!(
        "peak RSS (VmHWM): engine built {:.1} MB, after reading {:.1} MB, at the end {:.1} MB",
        base as f64 / 1024.0,
        after_read as f64 / 1024.0,
        vm_hwm_kb() as f64 / 1024.0
    );
    println!(
        "phases: JSON parsing {:.2} s, folding (features, matching, facts) {:.2} s, resolving and JSON writing {:.2} s",
        parse.as_secs_f64(),
        fold.as_secs_f64(),
        write.as_secs_f64()
    );
    println!(
        "time: read+parse+match {:.2} s ({:.0} obs/s), resolve+write {:.2} s, total {:.2} s ({:.0} obs/s)",
        read.as_secs_f64(),
        rate(read),
        (total - read).as_secs_f64(),
        total.as_secs_f64(),
        rate(total)
    );
    Ok(())
}
