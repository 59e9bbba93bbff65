//! Peak memory and throughput of `Engine::stream` on N generated observations: the 14 labelled
//! observations of `tests/data/observations.sample.jsonl` repeated with new loopback targets
//! (observations of one sample target share one generated target), the way the 1,000,000-line
//! benchmark file of docs/benchmarks.md was made. Each line is generated as JSON text, parsed
//! into an `Observation`, pushed into the stream; then every identification is written as JSON
//! to a counting sink. Nothing is held but the stream.
//!
//! `cargo run --release -p camtrace-identify --example stream_mem -- [N]` (default 1,000,000).
//! Prints the peak resident memory (`VmHWM` of /proc/self/status) after building the engine and
//! at the end, and observations per second for reading, resolving, and in total.

use std::io::Write;
use std::time::Instant;

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

struct Count(u64);

impl Write for Count {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0 += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = match std::env::args().nth(1) {
        Some(a) => a.parse()?,
        None => 1_000_000,
    };
    // (sample target, the line with its target left out: `{"target": "<t>", ...}`).
    let lines: Vec<(String, String)> = SAMPLE
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)?;
            let t = v["target"].as_str().unwrap_or_default().to_string();
            let rest = l
                .split_once(',')
                .map(|(_, r)| r.to_string())
                .ok_or("sample line without fields")?;
            Ok((t, rest))
        })
        .collect::<Result<_, Box<dyn std::error::Error>>>()?;

    let kb = camtrace_kb::Kb::embedded()?;
    let engine = camtrace_identify::Engine::new(&kb)?;
    let base = vm_hwm_kb();

    let start = Instant::now();
    let mut stream = engine.stream();
    let mut line = String::new();
    let mut target = String::new();
    for i in 0..n {
        let k = i % lines.len();
        let (t, rest) = &lines[k];
        if k == 0 || lines[k - 1].0 != *t {
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
        let o = camtrace_model::Observation::from_json_line(&line)?;
        stream.push(&o);
    }
    let read = start.elapsed();
    let targets = stream.targets();
    let after_read = vm_hwm_kb();
    let mut out = std::io::BufWriter::new(Count(0));
    let mut ids = 0usize;
    let mut failed = None;
    stream.finish_each(|i| {
        ids += 1;
        if failed.is_none() {
            failed = serde_json::to_writer(&mut out, &i)
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n"))
                .err();
        }
    });
    if let Some(e) = failed {
        return Err(e.into());
    }
    out.flush()?;
    let total = start.elapsed();
    let bytes = out.get_ref().0;
    let rate = |d: std::time::Duration| n as f64 / d.as_secs_f64();
    println!("observations {n}, targets {targets}, identifications {ids}, JSON out {bytes} bytes");
    println!(
        "peak RSS (VmHWM): engine built {:.1} MB, after reading {:.1} MB, at the end {:.1} MB",
        base as f64 / 1024.0,
        after_read as f64 / 1024.0,
        vm_hwm_kb() as f64 / 1024.0
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
