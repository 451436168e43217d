//! Vaccination certificates through the public API: one issued by the service verifies
//! against the server's trust list, a tampered copy and a revoked one are refused with a
//! reason, text that is no certificate gets a clear 422, and a retired key stops verifying.
//! A dose's certificate is the same on every download until the dose is corrected. And
//! what Outbreak issues verifies with an independent implementation (the PyPI packages
//! base45, cbor2 and pycose, run by `tests/independent/verify_hc1.py`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use outbreak_services::certificates::VaccinationFacts;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{TestServer, root};

async fn verify(server: &TestServer, hc1: &str) -> (StatusCode, Value) {
    let response = TestServer::client()
        .post(format!("{}/api/v1/certificates/verify", server.url))
        .json(&json!({ "hc1": hc1 }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The server's public trust list.
async fn trust_list(server: &TestServer) -> Value {
    let url = format!("{}/api/v1/certificates/trust-list", server.url);
    TestServer::client().get(url).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn certificates_verify_against_the_trust_list() {
    let server = TestServer::start().await;
    let facts = support::vaccinated(&server, "Nguyễn", "Văn An", "1987-03-21").await;
    let issued = server.services.issue_vaccination_certificate(&root(), &facts).await.unwrap();
    assert!(issued.hc1.starts_with("HC1:"), "{}", issued.hc1);
    assert!(issued.uvci.starts_with("URN:UVCI:01:VN:"), "{}", issued.uvci);

    // The trust list, public, names the key that signed it.
    let trust: Value = trust_list(&server).await;
    let keys = trust["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{trust}");

    let (status, verdict) = verify(&server, &issued.hc1).await;
    assert_eq!(status, StatusCode::OK, "{verdict}");
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert_eq!(verdict["kid"], keys[0]["kid"], "{verdict}");
    assert_eq!(verdict["content"]["nam"]["fnt"], "NGUYEN", "{verdict}");
    assert_eq!(verdict["content"]["v"][0]["ci"], issued.uvci.as_str(), "{verdict}");

    // A tampered copy is refused because its signature fails.
    let (status, verdict) = verify(&server, &support::tampered_hc1(&issued.hc1, "NGUYEN")).await;
    assert_eq!(status, StatusCode::OK, "{verdict}");
    assert_eq!(verdict["valid"], false, "{verdict}");
    assert_eq!(verdict["reasons"][0]["code"], "bad_signature", "{verdict}");

    // Text that is no certificate.
    let (status, error) = verify(&server, "HC1:not a certificate").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["error"]["code"], "malformed_certificate", "{error}");

    // Revoked, then a retired key: refused with a reason.
    server.services.revoke_certificate(&root(), &issued.uvci, "cấp nhầm").await.unwrap();
    let (_, verdict) = verify(&server, &issued.hc1).await;
    assert_eq!(verdict["valid"], false, "{verdict}");
    let other = server.services.issue_vaccination_certificate(&root(), &facts).await.unwrap();
    let (_, verdict) = verify(&server, &other.hc1).await;
    assert_eq!(verdict["valid"], true, "{verdict}");
    server.services.retire_certificate_key(keys[0]["kid"].as_str().unwrap()).await.unwrap();
    let (_, verdict) = verify(&server, &other.hc1).await;
    assert_eq!(verdict["valid"], false, "{verdict}");
    assert!(!verdict["reasons"].as_array().unwrap().is_empty(), "{verdict}");
}

/// The Python that runs the independent check: `OUTBREAK_DCC_PYTHON` (CI points it at a
/// virtual environment with the packages), else `python3` when it has them.
fn independent_python() -> Option<String> {
    let python = std::env::var("OUTBREAK_DCC_PYTHON").unwrap_or_else(|_| "python3".into());
    let ready = std::process::Command::new(&python)
        .args(["-c", "import base45, cbor2, pycose"])
        .output()
        .is_ok_and(|out| out.status.success());
    ready.then_some(python)
}

fn verify_independently(python: &str, hc1: &str, trust_list: &Value) -> Value {
    use std::io::Write;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/independent/verify_hc1.py");
    let mut child = std::process::Command::new(python)
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let request = json!({ "hc1": hc1, "trust_list": trust_list });
    child.stdin.take().unwrap().write_all(request.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn issued_certificates_verify_with_an_independent_implementation() {
    let Some(python) = independent_python() else {
        eprintln!("SKIPPED: no Python with base45, cbor2 and pycose (set OUTBREAK_DCC_PYTHON; .ci/run does)");
        return;
    };
    let server = TestServer::start().await;
    let facts = VaccinationFacts {
        vaccine: "J07BX03".into(),
        product: "EU/1/21/1529".into(),
        manufacturer: "ORG-100001699".into(),
        dose_number: 1,
        date: time::macros::date!(2021 - 08 - 02),
        ..support::vaccinated(&server, "Trần", "Thị Bích Ngọc", "1990-12-01").await
    };
    let issued = server.services.issue_vaccination_certificate(&root(), &facts).await.unwrap();
    let trust: Value = trust_list(&server).await;

    let checked = verify_independently(&python, &issued.hc1, &trust);
    assert_eq!(checked["valid"], true, "{checked}");
    assert_eq!(checked["iss"], "VN", "{checked}");
    assert_eq!(checked["exp"].as_i64(), Some(issued.expires_at.unix_timestamp()), "{checked}");
    let hcert = &checked["hcert"];
    assert_eq!(hcert["nam"]["fn"], "Trần", "{checked}");
    assert_eq!(hcert["nam"]["gnt"], "THI<BICH<NGOC", "{checked}");
    assert_eq!(hcert["v"][0]["ci"], issued.uvci.as_str(), "{checked}");
    assert_eq!(hcert["v"][0]["dt"], "2021-08-02", "{checked}");

    let tampered = verify_independently(&python, &support::tampered_hc1(&issued.hc1, "THI"), &trust);
    assert_eq!(tampered["valid"], false, "{tampered}");
}
