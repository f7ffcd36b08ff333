//! Every committed fuzz input through its harness (`janus_model::fuzzing`) on stable Rust: the
//! seeds (`fuzz/seeds/<target>/`, a smoke test of each harness) and every input a fuzz run ever
//! crashed on (`fuzz/regressions/<target>/`, added when the crash was fixed; FUZZING.md). A
//! panic here is a parser bug come back.

use std::path::PathBuf;

use janus_model::fuzzing::TARGETS;

fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz")
        .join(kind)
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn every_seed_and_past_crash_goes_through_its_harness() {
    for (target, harness) in TARGETS {
        let seeds = inputs("seeds", target);
        assert!(
            !seeds.is_empty(),
            "no seeds for {target}: fuzz/make_seeds.py"
        );
        let regressions = inputs("regressions", target);
        for file in seeds.iter().chain(&regressions) {
            let data = std::fs::read(file).unwrap();
            harness(&data);
        }
        println!(
            "{target}: {} seeds, {} past crashes",
            seeds.len(),
            regressions.len()
        );
    }
}
