//! Evaluate every shipped regime over 1,000,000 devices on 10,000 sites, side by side with the
//! naive approach (no cache shared across devices: every device's predicates evaluated afresh,
//! measured on a 10,000-device slice and scaled).
//!
//! Run: `cargo bench -p camtrace-policy --bench policy`

use camtrace_kb::{Kb, KbFiles};
use camtrace_model::{
    Device, DeviceClass, DeviceStatus, NetworkSegment, Organisation, SensitivityCriteria, Site,
    Waiver,
};
use camtrace_policy::{evaluate, DeviceFacts, EvalContext, IdentSummary, PolicySet};
use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

const LISTS: &str = r#"
[[list]]
id = "fcc-covered"
name = "FCC Covered List"
authority = "FCC"
jurisdiction = "US"
source = "bench"
as_of = 2026-11-28
[[list]]
id = "ndaa-889"
name = "NDAA 889"
authority = "US Congress"
jurisdiction = "US"
source = "bench"
as_of = 2026-11-28
[[list]]
id = "ca-ica-2025"
name = "ICA order"
authority = "Canada"
jurisdiction = "CA"
source = "bench"
as_of = 2026-11-28
"#;

fn company(
    id: &str,
    country: &str,
    nil: &str,
    parent: Option<&str>,
    lists: &[(&str, bool)],
) -> String {
    let mut s = format!(
        "[[company]]\nid = \"{id}\"\nname = \"{id}\"\nshort = \"{id}\"\ncountry = \"{country}\"\nprc_nil = \"{nil}\"\nprc_nil_reason = \"bench\"\nsource = \"bench\"\nas_of = 2026-11-28\n"
    );
    if let Some(p) = parent {
        s.push_str(&format!("parent = \"{p}\"\n"));
    }
    for (l, scoped) in lists {
        s.push_str(&format!("[[company.list]]\nlist = \"{l}\"\nadded = 2021-03-12\nsource = \"bench\"\nas_of = 2026-11-28\n"));
        if *scoped {
            s.push_str("scope = \"to the extent it is used for ...\"\n");
        }
    }
    s
}

/// The embedded knowledge base when it has companies; otherwise a small stand-in.
fn kb() -> Kb {
    if let Ok(kb) = Kb::embedded() {
        if kb.company("hikvision").is_some() && kb.company("axis").is_some() {
            return kb;
        }
    }
    let mut f = KbFiles::default();
    f.insert("lists.toml", LISTS);
    let all = [
        (
            "hikvision",
            "CN",
            "yes",
            None,
            vec![
                ("ndaa-889", false),
                ("fcc-covered", true),
                ("ca-ica-2025", false),
            ],
        ),
        ("ezviz", "CN", "yes", Some("hikvision"), vec![]),
        (
            "dahua",
            "CN",
            "yes",
            None,
            vec![("ndaa-889", false), ("fcc-covered", true)],
        ),
        ("huawei", "CN", "yes", None, vec![("fcc-covered", false)]),
        ("uniview", "CN", "yes", None, vec![]),
        ("axis", "SE", "no", None, vec![]),
        ("bosch", "DE", "no", None, vec![]),
        ("tp-link", "US", "unknown", None, vec![]),
    ];
    let text: String = all
        .iter()
        .map(|(id, c, n, p, l)| company(id, c, n, *p, l))
        .collect::<Vec<_>>()
        .join("\n");
    f.insert("companies/bench.toml", text);
    Kb::load(&f).expect("bench kb")
}

fn estate(n_devices: usize, n_sites: usize) -> Vec<DeviceFacts> {
    let kinds = [
        ("central_government", "GB"),
        ("local_government", "GB"),
        ("federal_agency", "US"),
        ("contractor", "US"),
        ("defence", "AU"),
        ("crown_corporation", "CA"),
    ];
    let orgs: Vec<Arc<Organisation>> = kinds
        .iter()
        .enumerate()
        .map(|(i, (k, c))| {
            Arc::new(Organisation {
                id: format!("org-{i}"),
                name: format!("Org {i}"),
                parent: None,
                kind: Some(k.to_string()),
                country: Some(c.to_string()),
            })
        })
        .collect();
    let sites: Vec<Arc<Site>> = (0..n_sites)
        .map(|i| {
            Arc::new(Site {
                id: format!("site-{i}"),
                organisation: orgs[i % orgs.len()].id.clone(),
                name: format!("Site {i}"),
                address: None,
                criteria: SensitivityCriteria {
                    secret_or_above: i % 7 == 0,
                    dv_significant: i % 11 == 0,
                    ministerial_use: i % 13 == 0,
                    socpa_2005: i % 17 == 0,
                },
                classification: None,
                government_building: i % 2 == 0,
                tags: if i % 5 == 0 {
                    vec!["public-safety".into()]
                } else {
                    Vec::new()
                },
            })
        })
        .collect();
    let nets: Vec<Arc<NetworkSegment>> = (0..2)
        .map(|i| {
            Arc::new(NetworkSegment {
                id: format!("net-{i}"),
                site: String::new(),
                name: String::new(),
                cidrs: Vec::new(),
                core: i == 1,
                internet_exposed: false,
            })
        })
        .collect();
    let makers = [
        Some("hikvision"),
        Some("dahua"),
        Some("axis"),
        Some("bosch"),
        Some("uniview"),
        Some("ezviz"),
        Some("huawei"),
        Some("tp-link"),
        None,
    ];
    let statuses = [
        DeviceStatus::Installed,
        DeviceStatus::Installed,
        DeviceStatus::Planned,
        DeviceStatus::Disconnected,
    ];
    let classes = [
        DeviceClass::Camera,
        DeviceClass::Camera,
        DeviceClass::Recorder,
        DeviceClass::Unknown,
    ];
    (0..n_devices)
        .map(|i| {
            let site = &sites[i % n_sites];
            let org = &orgs[(i % n_sites) % orgs.len()];
            let maker = makers[i % makers.len()];
            DeviceFacts {
                device: Device {
                    id: format!("dev-{i}"),
                    site: site.id.clone(),
                    zone: None,
                    network: None,
                    brand: None,
                    maker: maker.map(str::to_string),
                    model: None,
                    firmware: None,
                    class: classes[(i / 9) % classes.len()],
                    mac: None,
                    addresses: Vec::new(),
                    status: statuses[(i / 7) % statuses.len()],
                    install_date: None,
                    scheduled_upgrade: None,
                    cost_device: None,
                    cost_labour: None,
                    confidence: None,
                    notes: None,
                },
                site: site.clone(),
                org: Some(org.clone()),
                network: Some(nets[(i / 3) % 2].clone()),
                ident: IdentSummary {
                    maker: maker.map(str::to_string),
                    brand: None,
                    model: None,
                    confidence: [0.95, 0.9, 0.4][(i / 5) % 3],
                    evidence: vec!["http: Server: bench [kb/signatures/bench.toml:1]".into()],
                    first_seen: None,
                },
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let kb = kb();
    let set = PolicySet::load(&KbFiles::embedded()).expect("policies");
    let regimes: Vec<_> = set.regimes.iter().collect();
    let as_of = NaiveDate::from_ymd_opt(2025, 1, 10).unwrap();
    let devices = estate(1_000_000, 10_000);
    let waivers: Vec<Waiver> = Vec::new();
    let ctx = EvalContext::new(&kb, regimes.clone(), as_of);

    if std::env::var_os("POLICY_PROFILE").is_some() {
        // For `perf record`: only the evaluation, repeated.
        let (mut best_wall, mut best_cpu, mut best_drop) = (f64::MAX, f64::MAX, f64::MAX);
        for _ in 0..10 {
            let (t, c) = (Instant::now(), thread_cpu());
            let out = black_box(evaluate(&ctx, &devices, &waivers));
            best_wall = best_wall.min(t.elapsed().as_secs_f64());
            best_cpu = best_cpu.min((thread_cpu() - c).as_secs_f64());
            let t = Instant::now();
            drop(out);
            best_drop = best_drop.min(t.elapsed().as_secs_f64());
        }
        eprintln!("best of 10: evaluate {best_wall:.3} s wall, {best_cpu:.3} s CPU; dropping the findings {best_drop:.3} s");
        return;
    }
    let cpu0 = thread_cpu();
    let t = Instant::now();
    let findings = evaluate(&ctx, &devices, &waivers);
    let cached = t.elapsed();
    let cached_cpu = thread_cpu() - cpu0;
    let slice = &devices[..10_000];
    let t = Instant::now();
    let mut naive_n = 0usize;
    for d in slice {
        naive_n += evaluate(&ctx, std::slice::from_ref(d), &waivers).len();
    }
    let naive = t.elapsed() * 100;
    eprintln!(
        "policy: {} regimes, 1,000,000 devices, 10,000 sites -> {} findings; cached {:.3} s wall, {:.3} s CPU (first run, cold); naive (per-device CEL, scaled from 10,000 devices, {} findings there) {:.1} s",
        regimes.len(),
        findings.len(),
        cached.as_secs_f64(),
        cached_cpu.as_secs_f64(),
        naive_n,
        naive.as_secs_f64()
    );
    drop(findings);

    let mut g = c.benchmark_group("policy");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("evaluate_all_regimes_1M_devices_10k_sites", |b| {
        // The findings are dropped outside the timed section (criterion's iter_with_large_drop).
        b.iter_with_large_drop(|| evaluate(&ctx, black_box(&devices), &waivers))
    });
    g.bench_function("naive_per_device_10k_devices", |b| {
        b.iter(|| {
            slice
                .iter()
                .map(|d| evaluate(&ctx, std::slice::from_ref(d), &waivers).len())
                .sum::<usize>()
        })
    });
    g.finish();
}

/// CPU time of this thread (what "one core" costs, whatever else the machine is doing).
fn thread_cpu() -> Duration {
    use nix::time::{clock_gettime, ClockId};
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(Duration::from)
        .unwrap_or_default()
}

criterion_group!(benches, bench);
criterion_main!(benches);
