//! Vaccination certificates through the public API: one issued by the service verifies
//! against the server's trust list, a tampered copy and a revoked one are refused with a
//! reason, text that is no certificate gets a clear 422, and a retired key stops verifying.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use outbreak_domain::NewPerson;
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

#[tokio::test]
async fn certificates_verify_against_the_trust_list() {
    let server = TestServer::start().await;
    let person = NewPerson {
        full_name: "Nguyễn Văn An".into(),
        date_of_birth: "1987-03-21".into(),
        sex: "male".into(),
        phone: Some("0912000321".into()),
        address_unit: "00070".into(),
        street: "12 Hàng Bạc".into(),
        ..NewPerson::default()
    };
    let person = server.services.register_person(&root(), &person).await.unwrap().id();
    let facts = VaccinationFacts {
        person,
        family_name: "Nguyễn".into(),
        given_name: "Văn An".into(),
        date_of_birth: "1987-03-21".into(),
        vaccine: "1119349007".into(),
        product: "EU/1/20/1528".into(),
        manufacturer: "ORG-100030215".into(),
        dose_number: 2,
        total_doses: 2,
        date: time::macros::date!(2021 - 09 - 15),
    };
    let issued = server.services.issue_vaccination_certificate(&root(), &facts).await.unwrap();
    assert!(issued.hc1.starts_with("HC1:"), "{}", issued.hc1);
    assert!(issued.uvci.starts_with("URN:UVCI:01:VN:"), "{}", issued.uvci);

    // The trust list, public, names the key that signed it.
    let trust: Value = TestServer::client()
        .get(format!("{}/api/v1/certificates/trust-list", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = trust["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{trust}");

    let (status, verdict) = verify(&server, &issued.hc1).await;
    assert_eq!(status, StatusCode::OK, "{verdict}");
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert_eq!(verdict["kid"], keys[0]["kid"], "{verdict}");
    assert_eq!(verdict["content"]["nam"]["fnt"], "NGUYEN", "{verdict}");
    assert_eq!(verdict["content"]["v"][0]["ci"], issued.uvci.as_str(), "{verdict}");

    // A tampered copy is refused: either it no longer decodes, or its signature fails.
    let mut tampered: Vec<char> = issued.hc1.chars().collect();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    let (status, verdict) = verify(&server, &tampered).await;
    match status {
        StatusCode::OK => {
            assert_eq!(verdict["valid"], false, "{verdict}");
            assert!(!verdict["reasons"].as_array().unwrap().is_empty(), "{verdict}");
        }
        StatusCode::UNPROCESSABLE_ENTITY => assert_eq!(verdict["error"]["field"], "hc1", "{verdict}"),
        other => panic!("{other}: {verdict}"),
    }

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
