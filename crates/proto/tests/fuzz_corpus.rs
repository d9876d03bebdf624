//! Replays the fuzz targets' committed seed corpus (`fuzz/corpus/`) and
//! every input that once crashed one (`fuzz/regressions/`) through the same
//! entry points the fuzz targets call, so that stable `cargo test`
//! exercises them on every run. Long fuzzing runs: see `fuzz/README.md`.

use std::path::{Path, PathBuf};

use chinwag_proto::fuzzing;

type Target = fn(&[u8]);

const TARGETS: &[(&str, Target)] = &[
    ("server_stream", fuzzing::server_stream),
    ("client_stream", fuzzing::client_stream),
    ("request_body", fuzzing::request_body),
    ("server_frame_body", fuzzing::server_frame_body),
    ("split_stream", fuzzing::split_stream),
];

/// Targets of other crates, replayed by their own tests.
const ELSEWHERE: &[(&str, &str)] = &[("irc_lines", "crates/irc/tests/fuzz_corpus.rs")];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files in `dir`, or none if it does not exist.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_seed_and_every_recorded_crash_passes() {
    for (name, target) in TARGETS {
        let corpus = inputs(&fuzz_dir().join("corpus").join(name));
        assert!(
            corpus.len() >= 5,
            "fuzz/corpus/{name} has only {} inputs",
            corpus.len()
        );
        let regressions = inputs(&fuzz_dir().join("regressions").join(name));
        for path in corpus.iter().chain(&regressions) {
            target(&std::fs::read(path).unwrap());
        }
    }
}

#[test]
fn every_fuzz_target_is_replayed_here() {
    let mut declared: Vec<String> = inputs(&fuzz_dir().join("fuzz_targets"))
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    declared.sort();
    let mut replayed: Vec<String> = TARGETS
        .iter()
        .map(|(n, _)| n.to_string())
        .chain(ELSEWHERE.iter().map(|(n, _)| n.to_string()))
        .collect();
    replayed.sort();
    assert_eq!(declared, replayed);
}
