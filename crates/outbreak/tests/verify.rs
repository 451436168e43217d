//! `outbreak verify` as people run it: on the EU's public test data, and on bad input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

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

#[tokio::test]
async fn checks_a_certificate_against_a_servers_trust_list() {
    let server = support::TestServer::start().await;
    let facts = outbreak_services::certificates::VaccinationFacts {
        vaccine: "J07BX03".into(),
        product: "BBIBP-CorV".into(),
        manufacturer: "ORG-100020693".into(),
        date: time::macros::date!(2021 - 10 - 01),
        ..support::vaccinated(&server, "Lê", "Văn Tám", "1975-04-30").await
    };
    let issued = server.services.issue_vaccination_certificate(&support::root(), &facts).await.unwrap();
    let trust_list = server.dir.join("trust-list.json");
    std::fs::write(&trust_list, serde_json::to_string(&server.services.trust_list().await.unwrap()).unwrap()).unwrap();
    let list = trust_list.to_str().unwrap();

    let (success, text) = outbreak(&["verify", &issued.hc1, "--trust-list", list]);
    assert!(success && text.trim_end().ends_with("VALID"), "{text}");
    let (success, text) = outbreak(&["verify", &support::tampered_hc1(&issued.hc1, "TAM"), "--trust-list", list]);
    assert!(!success && text.contains("INVALID signature"), "{text}");

    // A key the list does not hold (the list from before a rotation).
    server.services.rotate_certificate_key().await.unwrap();
    let newer = server.services.issue_vaccination_certificate(&support::root(), &facts).await.unwrap();
    let (success, text) = outbreak(&["verify", &newer.hc1, "--trust-list", list]);
    assert!(!success && text.contains("is not in the trust list"), "{text}");
    let (success, text) = outbreak(&["verify", &newer.hc1, "--trust-list", "/nonexistent/list.json"]);
    assert!(!success && text.contains("cannot read /nonexistent/list.json"), "{text}");
}
