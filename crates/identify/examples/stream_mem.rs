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
//! the engine, after reading, and at the end; the stream's own heap estimate
//! (`Streaming::heap_bytes`) in all and per target; the time of each phase (JSON parsing, folding into
//! the stream, resolving and JSON writing with `Streaming::write_json_lines`) and observations
//! per second. `--hash` also hashes the JSON written (FNV-1a, a few hundred ms), to check that
//! two builds write the same bytes.
//!
//! `--distinct` makes what evidence quotes differ on every line, the worst case for the
//! stream's shared strings: each line's digest nonce, `Server` banner version, firmware and
//! software version carry the line's number (`nonce="a1b2c3"` becomes the number in hex,
//! `App-webs/` becomes `App-webs/<i>`, `nginx` becomes `nginx/1.<i>`, `10.12.153` becomes
//! `10.12.<i>`, and so on), so that no excerpt or captured version is shared between targets.

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
    let distinct = args.iter().any(|a| a == "--distinct");
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
        let varied;
        let rest = if distinct {
            varied = vary(lines[i % lines.len()], i);
            &varied
        } else {
            lines[i % lines.len()]
        };
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
    let heap = stream.heap_bytes();
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
        "stream heap estimate {:.1} MB, {:.0} bytes a target",
        heap as f64 / 1e6,
        heap as f64 / targets.max(1) as f64
    );
    println!(
        "phases: generating lines {:.2} s, JSON parsing {:.2} s, folding (features, matching, facts) {:.2} s, resolving and JSON writing {:.2} s",
        read.saturating_sub(parse + fold).as_secs_f64(),
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

/// Line `rest` of the sample with what evidence quotes made particular to line `i`.
fn vary(rest: &str, i: usize) -> String {
    [
        ("nonce=\\\"a1b2c3\\\"", format!("nonce=\\\"{i:x}\\\"")),
        ("\"App-webs/\"", format!("\"App-webs/{i}\"")),
        ("\"nginx\"", format!("\"nginx/1.{i}\"")),
        ("10.12.153", format!("10.12.{i}")),
        ("10.12.182", format!("10.12.{}", i + 1)),
        ("7.72.0027", format!("7.72.{i}")),
        ("V3.5.38build 191215", format!("V3.5.38build {i}")),
        ("2.800.0000000.16.R", format!("2.800.{i}.16.R")),
    ]
    .iter()
    .fold(rest.to_string(), |s, (from, to)| s.replace(from, to))
}
