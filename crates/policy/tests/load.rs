use camtrace_kb::KbFiles;
use camtrace_policy::{Obligation, PolicySet};

#[test]
fn shipped_regimes_load_and_are_complete() {
    let set = PolicySet::load(&KbFiles::embedded()).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = set.regimes.iter().map(|r| r.id.as_str()).collect();
    for want in [
        "uk-2022-sensitive-sites",
        "uk-all-government-buildings",
        "us-ndaa-889-a",
        "us-ndaa-889-b",
        "us-fcc-covered-list",
        "au-defence-2023",
        "ca-ica-2025",
    ] {
        assert!(ids.contains(&want), "missing {want} in {ids:?}");
    }
    assert!(set.get("uk-all-government-buildings").unwrap().opt_in);
    assert!(!set
        .defaults()
        .iter()
        .any(|r| r.id == "uk-all-government-buildings"));
    let uk = set.get("uk-2022-sensitive-sites").unwrap();
    let r = uk.rule("remove-by-2025-04").unwrap();
    assert_eq!(r.obligation, Obligation::RemoveBy);
    assert_eq!(r.due.unwrap().to_string(), "2025-04-30");
    for g in &set.regimes {
        assert!(!g.source.is_empty());
        for r in &g.rules {
            assert!(
                !r.source.is_empty() && !r.citation.text.is_empty(),
                "{}/{}",
                g.id,
                r.id
            );
            assert!(r.location.starts_with("kb/policies/"), "{}", r.location);
        }
    }
}
