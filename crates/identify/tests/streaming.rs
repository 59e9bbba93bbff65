//! `Engine::stream` (observations folded into compact per-target facts as they are read, the
//! evidence rebuilt when a target is resolved) gives exactly what identifying each target from
//! all its observations at once gives, whatever the order and interleaving of the stream.

use camtrace_identify::Engine;
use camtrace_kb::Kb;
use camtrace_model::{Identification, Observation};

const SAMPLE: &str = include_str!("../../../tests/data/observations.sample.jsonl");

fn sample() -> Vec<Observation> {
    SAMPLE
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| Observation::from_json_line(l).unwrap())
        .collect()
}

fn json(ids: &[Identification]) -> Vec<String> {
    ids.iter()
        .map(|i| serde_json::to_string(i).unwrap())
        .collect()
}

/// Each target identified from its own observations (`Engine::identify`), in first-seen order.
fn one_by_one(engine: &Engine, obs: &[Observation]) -> Vec<Identification> {
    let mut order: Vec<&str> = Vec::new();
    for o in obs {
        if !order.contains(&o.target.as_str()) {
            order.push(&o.target);
        }
    }
    order
        .iter()
        .map(|t| {
            let mine: Vec<Observation> = obs.iter().filter(|o| o.target == *t).cloned().collect();
            engine.identify(t, &mine)
        })
        .collect()
}

#[test]
fn stream_and_per_target_identification_agree_on_the_labelled_sample() {
    let kb = Kb::embedded().expect("embedded kb loads");
    let engine = Engine::new(&kb).unwrap();
    let obs = sample();
    let streamed = engine.identify_all(obs.clone());
    assert_eq!(streamed.len(), 10);
    assert!(streamed.iter().filter(|i| i.maker.is_some()).count() >= 6);
    assert_eq!(json(&streamed), json(&one_by_one(&engine, &obs)));
}

#[test]
fn interleaved_and_repeated_observations_stream_to_the_same_answers() {
    let kb = Kb::embedded().expect("embedded kb loads");
    let engine = Engine::new(&kb).unwrap();
    // Three copies of the sample under new targets, interleaved line by line, in reverse order
    // for the second copy, and each observation of the third copy sent twice: the stream's
    // shared strings and per-target facts must not mix targets up.
    let base = sample();
    let mut obs = Vec::new();
    for k in 0..base.len() {
        for (copy, o) in [(0, &base[k]), (1, &base[base.len() - 1 - k]), (2, &base[k])] {
            let mut o = o.clone();
            o.target = format!("{}-{copy}", o.target);
            if copy == 2 {
                obs.push(o.clone());
            }
            obs.push(o);
        }
    }
    let mut stream = engine.stream();
    for o in &obs {
        stream.push(o);
    }
    assert_eq!(stream.targets(), 30);
    let streamed = stream.finish();
    assert_eq!(json(&streamed), json(&one_by_one(&engine, &obs)));
    // The copies keep their own answers: the same as the sample's, up to the target's name.
    let sample_ids = engine.identify_all(base.clone());
    for i in streamed.iter().filter(|i| i.target.ends_with("-0")) {
        let want = sample_ids
            .iter()
            .find(|s| format!("{}-0", s.target) == i.target)
            .unwrap();
        assert_eq!(i.maker, want.maker, "{}", i.target);
        assert_eq!(i.evidence, want.evidence, "{}", i.target);
    }
}

#[test]
fn per_target_state_stays_compact() {
    // What the stream keeps per target and per fact (its ids into the stream's strings and
    // the engine's signatures, not cloned evidence): a regression to cloned strings fails here.
    let (target, fact) = camtrace_identify::engine::state_sizes();
    assert!(target <= 32, "TargetState is {target} bytes");
    assert!(fact <= 20, "Fact is {fact} bytes");
}

#[test]
fn stream_heap_grows_by_a_few_hundred_bytes_per_target() {
    // 10,000 targets of the sample's observations (the benchmark file's make-up): each costs
    // its name, its table entry and its facts; the strings the evidence quotes are shared.
    // Before the state was made compact each target kept ~3 KB of cloned evidence.
    let kb = Kb::embedded().expect("embedded kb loads");
    let engine = Engine::new(&kb).unwrap();
    let base = sample();
    let mut stream = engine.stream();
    for round in 0..1000 {
        for b in &base {
            let mut o = b.clone();
            o.target = format!("{}-{round}", b.target);
            stream.push(&o);
        }
    }
    assert_eq!(stream.targets(), 10_000);
    let per_target = stream.heap_bytes() / stream.targets();
    eprintln!("{per_target} bytes per target");
    assert!(
        (40..=300).contains(&per_target),
        "{per_target} bytes per target"
    );
    let ids = stream.finish();
    assert_eq!(ids.len(), 10_000);
    assert_eq!(ids.iter().filter(|i| i.maker.is_some()).count(), 9_000);
}

/// The JSON Lines of `stream` written by `Streaming::write_json_lines` (without building
/// identifications) and by `serde_json` for each identification of `Streaming::finish`.
fn both_json_lines(engine: &Engine, obs: &[Observation]) -> (String, String) {
    let mut s = engine.stream();
    obs.iter().for_each(|o| s.push(o));
    let mut expected = Vec::new();
    for i in s.finish() {
        serde_json::to_writer(&mut expected, &i).unwrap();
        expected.push(b'\n');
    }
    let mut s = engine.stream();
    obs.iter().for_each(|o| s.push(o));
    let mut got = Vec::new();
    s.write_json_lines(&mut got).unwrap();
    (
        String::from_utf8(got).unwrap(),
        String::from_utf8(expected).unwrap(),
    )
}

/// The labelled sample, on today's date and on an old one, and the sample with dates (first
/// seen), quotes, control characters and non-ASCII text in targets, and an excerpt long enough
/// to be cut: `write_json_lines` writes byte for byte what `serde_json` writes.
#[test]
fn json_lines_are_byte_identical_to_serde_json_of_the_identifications() {
    let kb = Kb::embedded().expect("embedded kb loads");
    let mut odd = sample();
    for (i, o) in odd.iter_mut().enumerate() {
        o.time = Some(format!("2021-0{}-1{}T10:00:00Z", 1 + i % 9, i % 10));
        o.target = format!("odd\"{}\\\u{1}é\t", i % 7);
    }
    odd.push(
        Observation::from_json_line(&format!(
            r#"{{"target":"odd-long","kind":"http","headers":{{"Server":"App-webs/ {}\t\"q\" \u0002 ü"}},"title":"DVR Login"}}"#,
            "é".repeat(150)
        ))
        .unwrap(),
    );
    for engine in [
        Engine::new(&kb).unwrap(),
        Engine::new(&kb)
            .unwrap()
            .with_date(chrono::NaiveDate::from_ymd_opt(2019, 6, 1).unwrap()),
    ] {
        for obs in [sample(), odd.clone()] {
            let (got, expected) = both_json_lines(&engine, &obs);
            assert!(expected.lines().count() >= 7);
            assert_eq!(got, expected);
            // What a scan import stores: each identification of `finish` with, as its text,
            // exactly what `serde_json` writes for it.
            let mut a = engine.stream();
            obs.iter().for_each(|o| a.push(o));
            let mut b = engine.stream();
            obs.iter().for_each(|o| b.push(o));
            let identified: Vec<(Identification, String)> = b.into_identified().collect();
            let finished = a.finish();
            assert_eq!(identified.len(), finished.len());
            for ((ident, text), expected) in identified.iter().zip(&finished) {
                assert_eq!(ident, expected);
                assert_eq!(text, &serde_json::to_string(expected).unwrap());
            }
        }
    }
}

/// A scan import holds the stream across its writes to the store, in a server's request
/// future, which must be `Send` (a regression to `Rc` in the stream broke the server's build).
#[test]
fn the_stream_can_be_held_across_awaits() {
    fn send<T: Send>() {}
    send::<camtrace_identify::Streaming<'static>>();
    send::<camtrace_identify::Identified<'static>>();
}
