//! Replays the `irc_lines` fuzz target's committed seed corpus
//! (`fuzz/corpus/irc_lines/`) and any input that once crashed it
//! (`fuzz/regressions/irc_lines/`) through the target's entry point, so
//! that stable `cargo test` exercises them on every run.

use std::path::{Path, PathBuf};

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
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let corpus = inputs(&fuzz.join("corpus/irc_lines"));
    assert!(
        corpus.len() >= 5,
        "fuzz/corpus/irc_lines has {} inputs",
        corpus.len()
    );
    let regressions = inputs(&fuzz.join("regressions/irc_lines"));
    for path in corpus.iter().chain(&regressions) {
        chinwag_irc::fuzzing::irc_lines(&std::fs::read(path).unwrap());
    }
}
