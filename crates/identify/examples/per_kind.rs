//! Time per observation kind: JSON parsing, folding into a stream (features, matching, facts),
//! and resolving + writing, for each line of `tests/data/observations.sample.jsonl` alone.
//!
//! `cargo run --release -p camtrace-identify --example per_kind -- [N]` (default 20,000
//! repetitions per line).

use std::time::Instant;

const SAMPLE: &str = include_str!("../../../tests/data/observations.sample.jsonl");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(20_000);
    let kb = camtrace_kb::Kb::embedded()?;
    let engine = camtrace_identify::Engine::new(&kb)?;
    println!(
        "{:<40} {:>9} {:>9} {:>9} {:>9}",
        "line", "parse µs", "fold µs", "resolve", "write µs"
    );
    for line in SAMPLE.lines().filter(|l| !l.trim().is_empty()) {
        let o = camtrace_model::Observation::from_json_line(line)?;
        let t0 = Instant::now();
        for _ in 0..n {
            std::hint::black_box(camtrace_model::Observation::from_json_line(line)?);
        }
        let parse = t0.elapsed().as_secs_f64() * 1e6 / n as f64;
        let mut s = engine.stream();
        let targets: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
        let mut obs = Vec::with_capacity(n);
        for t in &targets {
            let mut o = o.clone();
            o.target.clone_from(t);
            obs.push(o);
        }
        let t0 = Instant::now();
        for o in &obs {
            s.push(o);
        }
        let fold = t0.elapsed().as_secs_f64() * 1e6 / n as f64;
        let mut ids = Vec::with_capacity(n);
        let t0 = Instant::now();
        s.finish_each(|i| ids.push(i));
        let resolve = t0.elapsed().as_secs_f64() * 1e6 / n as f64;
        let mut out = Vec::with_capacity(4 << 20);
        let t0 = Instant::now();
        for i in &ids {
            out.clear();
            serde_json::to_writer(&mut out, i)?;
        }
        let write = t0.elapsed().as_secs_f64() * 1e6 / n as f64;
        let label: String = line.chars().skip(16).take(40).collect();
        println!(
            "{label:<40} {parse:>9.2} {fold:>9.2} {resolve:>9.2} {write:>9.2}  ({} B)",
            out.len()
        );
    }
    Ok(())
}
