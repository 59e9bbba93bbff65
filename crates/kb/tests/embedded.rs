use camtrace_kb::Kb;

#[test]
fn embedded_loads() {
    let kb = Kb::embedded().unwrap_or_else(|e| panic!("{e}"));
    assert!(kb.companies.len() >= 45);
}
