//! Budgeted selection: choose at most one action per device so that the risk removed is
//! maximal and the total cost (actions plus a one-off overhead per visited site) stays within
//! the budget.
//!
//! # Exact method
//! A 0/1 multiple-choice knapsack with per-site set-up costs, solved by dynamic programming over
//! costs in whole currency units (divided by the greatest common divisor of all costs, which
//! changes nothing). `best[c]` is the most risk removable with at most `c` spent on the sites
//! processed so far. For each site `s` with overhead `o`:
//!
//! 1. `open[c] = best[c - o]` (the site is visited: its overhead is paid once);
//! 2. for each device of the site, `open[c] = max(open[c], max_k open[c - w_k] + v_k)` over its
//!    actions `k` (one action per device: every action reads the table from before this device);
//! 3. `best[c] = max(best[c], open[c])` (visit the site or not).
//!
//! This is exact: every plan corresponds to one path through these steps and vice versa. Time
//! and memory are `O((devices + sites) x budget / unit)`; 1 to 8 bits per device and cell (packed)
//! record the choice for reconstruction. When that table would exceed [`MAX_TABLE_BYTES`], costs are
//! rounded **up** to a coarser unit (so the budget can never be exceeded) and the result says so
//! ([`Solution::unit`], [`Solution::exact`] = false): it is then optimal for the rounded costs.
//! The same happens when the work (table cells x actions) would exceed [`MAX_WORK`], so a huge
//! budget (up to `u64::MAX`) costs bounded time; a coarse answer is then compared with the
//! greedy one and the better kept, and the method says which.
//!
//! A budget that covers the dearest useful action of every device plus every site's overhead
//! does not bind: the most risk-removing action of each device is then the optimum, found
//! without a table.

use serde::{Deserialize, Serialize};

/// Largest choice table the exact method builds (bytes).
pub const MAX_TABLE_BYTES: usize = 96 << 20;
/// Most elementary steps (budget cells x actions considered) the exact method takes.
pub const MAX_WORK: u128 = 400_000_000;
// (bytes: choices are packed, 1 to 8 bits per device and budget cell)

/// One possible action on a device: its cost (without site overhead) and the risk it removes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    pub cost: u64,
    pub value: f64,
}

/// A device: its site index and its possible actions (choose at most one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub site: usize,
    pub choices: Vec<Choice>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    pub groups: Vec<Group>,
    /// One-off cost of visiting each site (index = `Group::site`).
    pub site_overhead: Vec<u64>,
    pub budget: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Solution {
    /// For each group, the index of the chosen action, or `None`.
    pub chosen: Vec<Option<usize>>,
    /// Real total cost (actions plus overheads of visited sites), never above the budget.
    pub cost: u64,
    pub value: f64,
    /// Cost unit used by the dynamic programme (currency units).
    pub unit: u64,
    /// True when the answer is proven optimal for the real costs.
    pub exact: bool,
    pub method: String,
}

impl Problem {
    /// Real cost and value of a selection, or `None` if it is not valid (wrong lengths or action
    /// indices).
    pub fn evaluate(&self, chosen: &[Option<usize>]) -> Option<(u64, f64)> {
        if chosen.len() != self.groups.len() {
            return None;
        }
        let mut cost = 0u64;
        let mut value = 0.0;
        let mut visited = vec![false; self.site_overhead.len()];
        for (g, c) in self.groups.iter().zip(chosen) {
            if let Some(k) = c {
                let ch = g.choices.get(*k)?;
                cost = cost.saturating_add(ch.cost);
                value += ch.value;
                let v = visited.get_mut(g.site)?;
                *v = true;
            }
        }
        for (s, v) in visited.iter().enumerate() {
            if *v {
                cost = cost.saturating_add(self.site_overhead[s]);
            }
        }
        Some((cost, value))
    }

    fn validate(&self) -> bool {
        self.groups
            .iter()
            .all(|g| g.site < self.site_overhead.len())
    }

    fn solution(
        &self,
        chosen: Vec<Option<usize>>,
        unit: u64,
        exact: bool,
        method: &str,
    ) -> Solution {
        let (cost, value) = self.evaluate(&chosen).unwrap_or((0, 0.0));
        Solution {
            chosen,
            cost,
            value,
            unit,
            exact,
            method: method.to_string(),
        }
    }
}

/// Choices of one layer, packed: `bits` bits per budget cell (1, 2, 4 or 8).
struct Packed {
    bits: u32,
    data: Vec<u8>,
}

impl Packed {
    fn bits_for(options: usize) -> u32 {
        match options {
            0..=1 => 1,
            2..=3 => 2,
            4..=15 => 4,
            _ => 8,
        }
    }
    fn bytes(bits: u32, cells: usize) -> usize {
        (cells * bits as usize).div_ceil(8)
    }
    fn new(bits: u32, cells: usize) -> Self {
        Self {
            bits,
            data: vec![0; Self::bytes(bits, cells)],
        }
    }
    fn set(&mut self, i: usize, v: u8) {
        let per = 8 / self.bits as usize;
        let (byte, slot) = (i / per, (i % per) as u32 * self.bits);
        let mask = (((1u16 << self.bits) - 1) as u8) << slot;
        self.data[byte] = (self.data[byte] & !mask) | ((v << slot) & mask);
    }
    fn get(&self, i: usize) -> u8 {
        let per = 8 / self.bits as usize;
        let (byte, slot) = (i / per, (i % per) as u32 * self.bits);
        (self.data[byte] >> slot) & (((1u16 << self.bits) - 1) as u8)
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Exact optimisation by dynamic programming (see the module documentation).
pub fn solve_exact(p: &Problem) -> Solution {
    solve_exact_with_limit(p, MAX_TABLE_BYTES)
}

/// [`solve_exact`] with an explicit table limit (tests).
pub fn solve_exact_with_limit(p: &Problem, max_cells: usize) -> Solution {
    solve_exact_with_limits(p, max_cells, MAX_WORK)
}

/// [`solve_exact`] with explicit table (bytes) and work limits (tests).
pub fn solve_exact_with_limits(p: &Problem, max_cells: usize, max_work: u128) -> Solution {
    let empty = vec![None; p.groups.len()];
    if !p.validate() {
        return p.solution(empty, 1, false, "invalid problem");
    }
    // Only choices that can ever fit and remove something are worth considering.
    let fits = |c: &Choice, s: usize| {
        c.value > 0.0 && c.cost.saturating_add(p.site_overhead[s]) <= p.budget
    };
    if let Some(s) = unconstrained(p) {
        return s;
    }
    let mut g = 0u64;
    for grp in &p.groups {
        for c in grp.choices.iter().filter(|c| fits(c, grp.site)) {
            g = gcd(g, c.cost);
        }
    }
    for &o in &p.site_overhead {
        g = gcd(g, o);
    }
    let g = if g == 0 { p.budget.max(1) } else { g };
    // Bytes of the choice tables per budget cell: packed bits per device, one bit per site.
    let bits_per_cell: usize = p
        .groups
        .iter()
        .map(|grp| Packed::bits_for(grp.choices.len().min(255)) as usize)
        .sum::<usize>()
        + p.site_overhead.len();
    let bytes_for = |u: u64| {
        ((p.budget / u) as usize + 1)
            .saturating_mul(bits_per_cell)
            .div_ceil(8)
    };
    // Steps per budget cell: each useful action of each device, a copy per device, two per site.
    let ops_per_cell: u128 = p
        .groups
        .iter()
        .map(|grp| grp.choices.iter().filter(|c| fits(c, grp.site)).count() as u128 + 1)
        .sum::<u128>()
        + 2 * p.site_overhead.len() as u128;
    let work_for = |u: u64| (p.budget / u) as u128 + 1;
    let too_big =
        |u: u64| bytes_for(u) > max_cells || work_for(u).saturating_mul(ops_per_cell) > max_work;
    let mut unit = g;
    let mut over_work = false;
    if too_big(unit) {
        over_work = work_for(unit).saturating_mul(ops_per_cell) > max_work;
        // Coarsen to a multiple of g so that the tables and the work fit.
        let by_bytes =
            (bits_per_cell as u128 * (p.budget as u128 + 1)) / (8 * max_cells.max(1) as u128) + 1;
        let by_work = (p.budget as u128 + 1) / (max_work / ops_per_cell.max(1)).max(1) + 1;
        let need = by_bytes.max(by_work).min(u64::MAX as u128) as u64;
        let k = need.div_ceil(g).max(1);
        unit = g.saturating_mul(k);
        while too_big(unit) && unit < u64::MAX {
            unit = unit.saturating_add(g);
        }
    }
    let exact = unit == g;
    let up = |c: u64| c.div_ceil(unit) as usize;
    let cap = (p.budget / unit) as usize;
    let n = cap + 1;

    // Process sites in order; remember which groups belong to each.
    let mut by_site: Vec<Vec<usize>> = vec![Vec::new(); p.site_overhead.len()];
    for (i, grp) in p.groups.iter().enumerate() {
        by_site[grp.site].push(i);
    }
    const NEG: f64 = f64::NEG_INFINITY;
    let mut best = vec![0.0f64; n];
    let mut choice: Vec<Option<Packed>> = (0..p.groups.len()).map(|_| None).collect();
    let mut site_open: Vec<Option<Packed>> = (0..p.site_overhead.len()).map(|_| None).collect();
    let mut open = vec![NEG; n];
    for (s, members) in by_site.iter().enumerate() {
        let useful: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&i| p.groups[i].choices.iter().any(|c| fits(c, s)))
            .collect();
        if useful.is_empty() {
            continue;
        }
        let o = up(p.site_overhead[s]);
        for c in 0..n {
            open[c] = if c >= o { best[c - o] } else { NEG };
        }
        for &i in &useful {
            let grp = &p.groups[i];
            let opts: Vec<(usize, usize, f64)> = grp
                .choices
                .iter()
                .enumerate()
                .filter(|(k, c)| *k < 255 && fits(c, s) && c.value > 0.0)
                .take(255)
                .map(|(k, c)| (k, up(c.cost), c.value))
                .collect();
            let mut ch = Packed::new(Packed::bits_for(grp.choices.len().min(255)), n);
            for c in (0..n).rev() {
                let mut bestv = open[c];
                let mut bestk = 0u8;
                for &(k, w, v) in &opts {
                    if w <= c && open[c - w] > NEG {
                        let cand = open[c - w] + v;
                        if cand > bestv {
                            bestv = cand;
                            bestk = (k + 1) as u8;
                        }
                    }
                }
                open[c] = bestv;
                ch.set(c, bestk);
            }
            choice[i] = Some(ch);
        }
        let mut so = Packed::new(1, n);
        for c in 0..n {
            if open[c] > best[c] {
                best[c] = open[c];
                so.set(c, 1);
            }
        }
        site_open[s] = Some(so);
    }
    // Reconstruct from the full budget, sites in reverse order.
    let mut chosen = vec![None; p.groups.len()];
    let mut c = cap;
    for (s, members) in by_site.iter().enumerate().rev() {
        if site_open[s].as_ref().is_none_or(|so| so.get(c) == 0) {
            continue;
        }
        for &i in members.iter().rev() {
            let Some(table) = &choice[i] else { continue };
            let k = table.get(c);
            if k > 0 {
                let k = (k - 1) as usize;
                chosen[i] = Some(k);
                c = c.saturating_sub(up(p.groups[i].choices[k].cost));
            }
        }
        c = c.saturating_sub(up(p.site_overhead[s]));
    }
    if exact {
        let method = format!("exact: dynamic programme over costs in units of {unit} (0/1 multiple-choice knapsack with per-site overhead)");
        return p.solution(chosen, unit, exact, &method);
    }
    let why = if over_work {
        format!("to bound the work at {max_work} steps")
    } else {
        "to fit memory".to_string()
    };
    let coarse = p.solution(
        chosen,
        unit,
        false,
        &format!("dynamic programme with costs rounded up to units of {unit} {why}: optimal for the rounded costs, budget never exceeded (not proven optimal)"),
    );
    let greedy = solve_greedy(p);
    if greedy.value > coarse.value {
        Solution {
            method: format!(
                "{} (the exact programme would exceed its bound; greedy beat costs rounded to units of {unit})",
                greedy.method
            ),
            ..greedy
        }
    } else {
        coarse
    }
}

/// When the budget covers, for every site with something worth doing, its overhead plus the
/// dearest useful action of each of its devices, it does not bind: the optimum is each device's
/// most risk-removing action (the cheaper one on a tie). `None` when the budget binds.
fn unconstrained(p: &Problem) -> Option<Solution> {
    let mut total = 0u64;
    let mut chosen = vec![None; p.groups.len()];
    let mut visited = vec![false; p.site_overhead.len()];
    for (i, grp) in p.groups.iter().enumerate() {
        let useful = grp
            .choices
            .iter()
            .enumerate()
            .filter(|(_, c)| c.value > 0.0);
        let Some(dearest) = useful.clone().map(|(_, c)| c.cost).max() else {
            continue;
        };
        total = total.checked_add(dearest)?;
        if !visited[grp.site] {
            visited[grp.site] = true;
            total = total.checked_add(p.site_overhead[grp.site])?;
        }
        chosen[i] = useful
            .max_by(|(_, a), (_, b)| {
                a.value
                    .total_cmp(&b.value)
                    .then_with(|| b.cost.cmp(&a.cost))
            })
            .map(|(k, _)| k);
    }
    (total <= p.budget).then(|| {
        p.solution(
            chosen,
            1,
            true,
            "exact: the budget covers every device's most risk-removing action, so each device gets it (no trade-off to optimise)",
        )
    })
}

/// Greedy baseline: actions by value per cost (site overhead charged to the first action on a
/// site), taking whatever still fits. Fast, not optimal; used for comparison.
pub fn solve_greedy(p: &Problem) -> Solution {
    let mut chosen = vec![None; p.groups.len()];
    if !p.validate() {
        return p.solution(chosen, 1, false, "invalid problem");
    }
    let mut cands: Vec<(usize, usize, f64)> = Vec::new();
    for (i, g) in p.groups.iter().enumerate() {
        for (k, c) in g.choices.iter().enumerate() {
            if c.value > 0.0 {
                let ratio = c.value / (c.cost as f64 + 1.0);
                cands.push((i, k, ratio));
            }
        }
    }
    cands.sort_by(|a, b| b.2.total_cmp(&a.2));
    let mut visited = vec![false; p.site_overhead.len()];
    let mut spent = 0u64;
    for (i, k, _) in cands {
        let s = p.groups[i].site;
        let new = p.groups[i].choices[k];
        match chosen[i] {
            None => {
                let extra = new.cost + if visited[s] { 0 } else { p.site_overhead[s] };
                if spent + extra <= p.budget {
                    spent += extra;
                    visited[s] = true;
                    chosen[i] = Some(k);
                }
            }
            // Upgrade a device to a stronger action when the difference still fits.
            Some(cur) => {
                let old = p.groups[i].choices[cur];
                if new.value > old.value
                    && new.cost >= old.cost
                    && spent + (new.cost - old.cost) <= p.budget
                {
                    spent += new.cost - old.cost;
                    chosen[i] = Some(k);
                }
            }
        }
    }
    p.solution(
        chosen,
        1,
        false,
        "greedy by risk removed per unit cost, with upgrades to stronger actions (not optimal)",
    )
}

/// Exhaustive search (small problems only: tests).
pub fn solve_brute_force(p: &Problem) -> Solution {
    let mut cur = vec![None; p.groups.len()];
    let mut best = (vec![None; p.groups.len()], 0.0f64);
    fn rec(
        p: &Problem,
        i: usize,
        cur: &mut Vec<Option<usize>>,
        best: &mut (Vec<Option<usize>>, f64),
    ) {
        if i == p.groups.len() {
            if let Some((c, v)) = p.evaluate(cur) {
                if c <= p.budget && v > best.1 {
                    *best = (cur.clone(), v);
                }
            }
            return;
        }
        cur[i] = None;
        rec(p, i + 1, cur, best);
        for k in 0..p.groups[i].choices.len() {
            cur[i] = Some(k);
            rec(p, i + 1, cur, best);
        }
        cur[i] = None;
    }
    rec(p, 0, &mut cur, &mut best);
    p.solution(best.0, 1, true, "brute force")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ch(cost: u64, value: f64) -> Choice {
        Choice { cost, value }
    }

    #[test]
    fn classic_knapsack_known_optimum() {
        // Items (w, v): (10, 60) (20, 100) (30, 120), capacity 50: optimum 220 (items 2 and 3).
        let p = Problem {
            groups: vec![
                Group {
                    site: 0,
                    choices: vec![ch(10, 60.0)],
                },
                Group {
                    site: 0,
                    choices: vec![ch(20, 100.0)],
                },
                Group {
                    site: 0,
                    choices: vec![ch(30, 120.0)],
                },
            ],
            site_overhead: vec![0],
            budget: 50,
        };
        let s = solve_exact(&p);
        assert_eq!(s.value, 220.0);
        assert_eq!(s.chosen, vec![None, Some(0), Some(0)]);
        assert!(s.exact);
        // Greedy by ratio takes item 1 first and misses the optimum.
        assert!(solve_greedy(&p).value < 220.0);
    }

    #[test]
    fn site_overhead_is_paid_once_and_can_make_a_site_not_worth_it() {
        // Site 0: overhead 100, two devices of cost 10 value 10 each.
        // Site 1: overhead 0, one device cost 60 value 15.
        // Budget 120: visiting site 0 costs 120 for 20; site 1 costs 60 for 15.
        // Optimum: site 0 both devices (cost 120, value 20).
        let p = Problem {
            groups: vec![
                Group {
                    site: 0,
                    choices: vec![ch(10, 10.0)],
                },
                Group {
                    site: 0,
                    choices: vec![ch(10, 10.0)],
                },
                Group {
                    site: 1,
                    choices: vec![ch(60, 15.0)],
                },
            ],
            site_overhead: vec![100, 0],
            budget: 120,
        };
        let s = solve_exact(&p);
        assert_eq!(s.value, 20.0);
        assert_eq!(s.cost, 120);
        // With budget 119 site 0 alone gives at most 10 (cost 110); site 1 gives 15.
        let p2 = Problem { budget: 119, ..p };
        let s2 = solve_exact(&p2);
        assert_eq!(s2.value, 15.0);
        assert_eq!(s2.chosen, vec![None, None, Some(0)]);
    }

    #[test]
    fn one_action_per_device() {
        // Disconnect (cost 5, value 6) or remove (cost 20, value 10): never both.
        let p = Problem {
            groups: vec![Group {
                site: 0,
                choices: vec![ch(5, 6.0), ch(20, 10.0)],
            }],
            site_overhead: vec![0],
            budget: 100,
        };
        let s = solve_exact(&p);
        assert_eq!(s.chosen, vec![Some(1)]);
        assert_eq!(s.value, 10.0);
    }

    #[test]
    fn coarse_unit_when_table_is_too_big_never_exceeds_budget() {
        let groups: Vec<Group> = (0..50)
            .map(|i| Group {
                site: i % 3,
                choices: vec![ch(1_001 + i as u64 * 37, 1.0 + i as f64)],
            })
            .collect();
        let p = Problem {
            groups,
            site_overhead: vec![301, 0, 17],
            budget: 20_011,
        };
        let s = solve_exact_with_limit(&p, 10_000);
        assert!(!s.exact);
        assert!(s.unit > 1);
        assert!(s.cost <= p.budget);
        let full = solve_exact(&p);
        assert!(full.exact);
        assert!(full.value >= s.value);
    }

    #[test]
    fn plan_budget_of_u64_max_is_exact_and_needs_no_table() {
        let p = Problem {
            groups: vec![
                Group {
                    site: 0,
                    choices: vec![ch(100, 1.0), ch(5_000, 9.0), ch(7_000, 9.0)],
                },
                Group {
                    site: 1,
                    choices: vec![ch(3, 2.0)],
                },
                Group {
                    site: 1,
                    choices: vec![ch(0, 0.0)],
                },
            ],
            site_overhead: vec![250, 17],
            budget: u64::MAX,
        };
        let t = std::time::Instant::now();
        let s = solve_exact(&p);
        assert!(
            t.elapsed() < std::time::Duration::from_millis(200),
            "{:?}",
            t.elapsed()
        );
        assert!(s.exact, "{}", s.method);
        assert_eq!(s.chosen, vec![Some(1), Some(0), None]);
        assert_eq!(s.cost, 5_000 + 250 + 3 + 17);
        assert_eq!(s.value, 11.0);
    }

    #[test]
    fn plan_with_a_huge_binding_budget_bounds_its_work_and_says_so() {
        // Costs with gcd 1 and a budget that binds: the full table would be ~10^12 cells.
        let groups: Vec<Group> = (0..40)
            .map(|i| Group {
                site: i % 3,
                choices: vec![ch(100_000_000_000 + i as u64 * 7 + 1, 1.0 + i as f64)],
            })
            .collect();
        let p = Problem {
            groups,
            site_overhead: vec![1, 2, 3],
            budget: 1_000_000_000_000,
        };
        let t = std::time::Instant::now();
        let s = solve_exact_with_limits(&p, MAX_TABLE_BYTES, 5_000_000);
        assert!(
            t.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            t.elapsed()
        );
        assert!(!s.exact);
        assert!(s.cost <= p.budget);
        assert!(s.method.contains("bound"), "{}", s.method);
        let greedy = solve_greedy(&p);
        assert!(s.value >= greedy.value);
    }

    fn arb_problem() -> impl Strategy<Value = Problem> {
        let group = (0usize..3, prop::collection::vec((0u64..60, 0u32..50), 1..3));
        (
            prop::collection::vec(group, 0..7),
            prop::collection::vec(0u64..40, 3),
            0u64..200,
        )
            .prop_map(|(gs, ov, budget)| Problem {
                groups: gs
                    .into_iter()
                    .map(|(site, cs)| Group {
                        site,
                        choices: cs.into_iter().map(|(c, v)| ch(c, v as f64)).collect(),
                    })
                    .collect(),
                site_overhead: ov,
                budget,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn exact_matches_brute_force_and_respects_budget(p in arb_problem()) {
            let e = solve_exact(&p);
            let b = solve_brute_force(&p);
            prop_assert!(e.exact);
            prop_assert!(e.cost <= p.budget, "cost {} > budget {}", e.cost, p.budget);
            prop_assert!((e.value - b.value).abs() < 1e-9, "dp {} brute {}", e.value, b.value);
            let (c, v) = p.evaluate(&e.chosen).unwrap();
            prop_assert_eq!(c, e.cost);
            prop_assert!((v - e.value).abs() < 1e-9);
            let g = solve_greedy(&p);
            prop_assert!(g.cost <= p.budget);
            prop_assert!(g.value <= e.value + 1e-9);
        }

        #[test]
        fn coarse_solutions_never_exceed_budget(p in arb_problem()) {
            let e = solve_exact_with_limit(&p, 40);
            prop_assert!(e.cost <= p.budget);
        }
    }
}
