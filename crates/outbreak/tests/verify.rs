//! `outbreak verify` as people run it: on the EU's public test data, and on bad input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

fn outbreak(args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_outbreak")).args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[test]
fn prints_expected_against_got_for_the_eu_test_data() {
    let Some(shared) = outbreak_testkit::shared_dir() else {
        eprintln!("SKIPPED: no ../shared/dcc-testdata beside the repository");
        return;
    };
    let dir = shared.join("dcc-testdata");
    let (success, text) = outbreak(&["verify", "--test-data", dir.to_str().unwrap()]);
    let totals = text.lines().find(|l| l.contains(" expectations: ")).expect("a totals line");
    assert!(totals.starts_with("173 cases, 908 expectations: 903 met, 5 not met"), "{totals}");
    // The five are the cases documented in crates/formats/tests/dcc_testdata.rs as
    // expectations no reading of the schemas can meet; any mismatch fails the command.
    assert!(!success);
    assert_eq!(text.matches("MISMATCH").count(), 5);
}

#[test]
fn malformed_certificates_are_refused_with_a_reason() {
    for bad in ["HC1:", "HC2:NCFOXN", "HC1:%%%", "not a certificate"] {
        let (success, text) = outbreak(&["verify", bad]);
        assert!(!success, "{bad}");
        assert!(text.contains("not a readable HC1 certificate"), "{bad}: {text}");
    }
}
