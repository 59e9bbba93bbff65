//! What an evidence import stores as each target's identification is what the signature engine
//! says of the file's observations. The importer identifies as it reads (a stream that keeps per
//! target what the observations proved, not the observations) and stores each identification's
//! JSON as the engine's view writes it, not as `serde_json` writes the identification again:
//! read back from the store, every identification must equal the engine's, field for field.

use camtrace_identify::Engine;
use camtrace_ingest::import::{import, ImportOptions, Input, SharedEngine};
use camtrace_ingest::FileKind;
use camtrace_kb::Kb;
use camtrace_model::{Identification, Observation};
use camtrace_store::{EstateFilter, SqlStore, Store};
use std::collections::BTreeMap;
use std::sync::Arc;

const SAMPLE: &str = include_str!("../../../tests/data/observations.sample.jsonl");

/// The sample, then the same observations again under a second name for every target, the two
/// copies interleaved (a target's observations are not together in the file).
fn evidence() -> (String, Vec<Observation>) {
    let lines: Vec<&str> = SAMPLE.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut obs = Vec::new();
    for l in &lines {
        let o = Observation::from_json_line(l).expect("sample line parses");
        let mut copy = o.clone();
        copy.target = format!("copy-of-{}", o.target);
        obs.push(o);
        obs.push(copy);
    }
    let text = obs
        .iter()
        .map(|o| serde_json::to_string(o).unwrap() + "\n")
        .collect();
    (text, obs)
}

async fn stored(store: &SqlStore) -> BTreeMap<String, Identification> {
    store
        .latest_identifications(&EstateFilter::default())
        .await
        .expect("identifications read back")
        .into_iter()
        .map(|s| (s.identification.target.clone(), s.identification))
        .collect()
}

#[tokio::test]
async fn stored_identifications_are_the_engines_own() {
    let kb = Kb::embedded().expect("embedded kb loads");
    let engine = Engine::new(&kb).expect("engine compiles");
    let (text, obs) = evidence();
    let expected: BTreeMap<String, Identification> = engine
        .identify_all(obs)
        .into_iter()
        .map(|i| (i.target.clone(), i))
        .collect();
    assert!(expected.len() >= 14, "{} targets", expected.len());
    assert!(
        expected.values().filter(|i| i.maker.is_some()).count() >= 10,
        "the sample names makers"
    );

    // Both ways an import gets its engine: compiled for it from the knowledge base (the CLI),
    // and the server's shared one.
    let shared = SharedEngine(Arc::new(Engine::new(&kb).unwrap()));
    for opts in [
        ImportOptions::default(),
        ImportOptions {
            engine: Some(shared),
            ..ImportOptions::default()
        },
    ] {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("r.db").display());
        let store = SqlStore::open(&url).await.expect("store opens");
        let input = Input::Bytes {
            name: "evidence.jsonl",
            data: text.as_bytes(),
        };
        let summary = import(&store, Some(&kb), input, Some(FileKind::Scan), &opts)
            .await
            .expect("evidence imports");
        assert_eq!(summary.identifications as usize, expected.len());
        let got = stored(&store).await;
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>()
        );
        for (target, ident) in &expected {
            assert_eq!(&got[target], ident, "{target}");
        }
    }
}
