//! Planner benchmark: exact dynamic programme vs greedy on 1,000 findings, side by side.
//! Run: `cargo bench -p camtrace-plan --bench plan`. Results go in docs/bench/plan.md.

use camtrace_plan::optimise::{solve_exact, solve_greedy, Choice, Group, Problem};
use std::time::Instant;

/// Deterministic pseudo-random numbers (xorshift), so every run measures the same instances.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// `n` devices on `sites` sites. With `round`, costs are multiples of 10 (as in kb/costs.toml
/// and most price lists); without, arbitrary whole currency units.
fn instance(n: usize, sites: usize, round: bool, seed: u64) -> (Problem, u64) {
    let mut r = Rng(seed);
    let mut groups = Vec::with_capacity(n);
    let mut total = 0;
    let cost = |r: &mut Rng, lo: u64, hi: u64| {
        if round {
            r.range(lo / 10, hi / 10) * 10
        } else {
            r.range(lo, hi)
        }
    };
    for _ in 0..n {
        let site = r.range(0, sites as u64 - 1) as usize;
        let risk = r.range(20, 110) as f64;
        let exposure = r.range(0, 45) as f64;
        let disconnect = Choice {
            cost: cost(&mut r, 60, 120),
            value: exposure,
        };
        let replace = Choice {
            cost: cost(&mut r, 450, 2300),
            value: risk + exposure,
        };
        total += replace.cost;
        let choices = if exposure > 0.0 {
            vec![disconnect, replace]
        } else {
            vec![replace]
        };
        groups.push(Group { site, choices });
    }
    let site_overhead = (0..sites).map(|_| r.range(20, 60) * 10).collect();
    (
        Problem {
            groups,
            site_overhead,
            budget: 0,
        },
        total,
    )
}

fn main() {
    println!("| costs | budget (share of total replacement cost) | exact risk removed | greedy risk removed | greedy gap | exact time | greedy time | exact cost | greedy cost | DP unit | proven optimal |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for round in [true, false] {
        let (mut p, total) = instance(1000, 60, round, 0x5eed_1234);
        for share in [0.05, 0.10, 0.25, 0.50] {
            p.budget = (total as f64 * share) as u64;
            let t = Instant::now();
            let e = solve_exact(&p);
            let te = t.elapsed();
            let t = Instant::now();
            let g = solve_greedy(&p);
            let tg = t.elapsed();
            assert!(e.cost <= p.budget && g.cost <= p.budget);
            println!(
                "| {} | {} ({:.0}%) | {:.0} | {:.0} | {:.2}% | {:.1} ms | {:.2} ms | {} | {} | {} | {} |",
                if round { "multiples of 10" } else { "any whole unit" },
                p.budget,
                share * 100.0,
                e.value,
                g.value,
                (e.value - g.value) / e.value.max(1.0) * 100.0,
                te.as_secs_f64() * 1000.0,
                tg.as_secs_f64() * 1000.0,
                e.cost,
                g.cost,
                e.unit,
                e.exact
            );
        }
    }
}
