//! Narrow zoning through the API: a venue declared exposed for a window lists everyone
//! checked in then (and only them), an overlapping second declaration lists only who is
//! new, and the bad input a new user tries gets a clear answer and stores nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use outbreak_domain::venue::NewVenue;
use outbreak_domain::{PersonId, Phone, now};
use outbreak_store::{NewCheckin, Venue};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{TestServer, root};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

async fn call(server: &TestServer, token: &str, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let client = TestServer::client();
    let url = format!("{}/api/v1{path}", server.url);
    let request = match method {
        "GET" => client.get(url),
        _ => client.post(url),
    }
    .bearer_auth(token);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn venue(server: &TestServer, name: &str) -> Venue {
    let input = NewVenue {
        name: name.into(),
        kind: "market".into(),
        plate: None,
        unit: "00070".into(),
        address: "Phố Hàng Da".into(),
        contact_phone: "0912999999".into(),
    };
    server.services.register_venue(&root(), &input).await.unwrap()
}

async fn stay(server: &TestServer, venue: &Venue, visitor: &str, t0: OffsetDateTime, from: i64, to: i64) {
    let phone = visitor.strip_prefix("tel:").map(|p| Phone::parse("phone", p).unwrap());
    let person = visitor.parse::<Uuid>().ok().map(PersonId);
    let checkin = NewCheckin {
        venue: venue.id,
        visitor: visitor.into(),
        person,
        phone,
        name: "Khách lẻ".into(),
        at: t0 + time::Duration::minutes(from),
        until: t0 + time::Duration::minutes(to),
        source: "api".into(),
        client_key: None,
    };
    server.services.store.record_checkins(vec![checkin], time::Duration::ZERO, vec![]).await.unwrap();
}

fn at(t0: OffsetDateTime, minutes: i64) -> String {
    (t0 + time::Duration::minutes(minutes)).format(&Rfc3339).unwrap()
}

fn visitors(contacts: &Value) -> Vec<String> {
    let mut listed: Vec<String> =
        contacts.as_array().unwrap().iter().map(|c| c["visitor"].as_str().unwrap().to_owned()).collect();
    listed.sort();
    listed
}

#[tokio::test]
async fn a_venue_declared_exposed_lists_who_was_there_then() {
    exposure_lists_who_was_there(TestServer::start().await).await;
}

#[tokio::test]
async fn a_venue_declared_exposed_on_postgres() {
    exposure_lists_who_was_there(TestServer::start_postgres().await).await;
}

async fn exposure_lists_who_was_there(server: TestServer) {
    let tracer = server.system_token("tracer.hk", "tracer", "00070").await;
    let elsewhere = server.system_token("tracer.hcm", "tracer", "79").await;
    let market = venue(&server, "Chợ Hàng Da").await;
    let t0 = now() - time::Duration::days(1);
    stay(&server, &market, "tel:+84911000001", t0, 0, 60).await; // before and into the window
    stay(&server, &market, "tel:+84911000002", t0, 90, 120).await; // inside
    stay(&server, &market, "tel:+84911000003", t0, 200, 260).await; // after the window
    stay(&server, &market, "tel:+84911000004", t0, -120, -30).await; // before the window
    stay(&server, &market, "tel:+84911000005", t0, 185, 200).await; // inside the second window only

    // A window that ends before it starts: a clear 422, nothing stored.
    let backwards = json!({"venue": market.code, "from": at(t0, 180), "until": at(t0, 30), "reason": "F0"});
    let (status, error) = call(&server, &tracer, "POST", "/exposures", Some(backwards)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["error"]["code"], "window_ends_before_it_starts", "{error}");
    assert_eq!(error["error"]["field"], "until", "{error}");
    let (status, list) = call(&server, &tracer, "GET", "/exposures", None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list, json!([]));

    // An unknown venue, and a venue outside one's jurisdiction.
    let unknown = json!({"venue": "NO-SUCH-VENUE", "from": at(t0, 30), "until": at(t0, 180), "reason": "F0"});
    let (status, error) = call(&server, &tracer, "POST", "/exposures", Some(unknown)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    assert!(error["error"]["message"].as_str().unwrap().contains("venue"), "{error}");
    let body = json!({"venue": market.code, "from": at(t0, 30), "until": at(t0, 180), "reason": "Ca F0 đến chợ"});
    let (status, error) = call(&server, &elsewhere, "POST", "/exposures", Some(body.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{error}");

    // Only the stays overlapping the window become contacts, with the exposure as evidence.
    let (status, report) = call(&server, &tracer, "POST", "/exposures", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    assert_eq!(report["contacts"], 2, "{report}");
    assert_eq!(visitors(&report["new_contacts"]), ["tel:+84911000001", "tel:+84911000002"]);
    let first = report["exposure"]["id"].as_str().unwrap().to_owned();
    let (status, contacts) = call(&server, &tracer, "GET", &format!("/exposures/{first}/contacts"), None).await;
    assert_eq!(status, StatusCode::OK, "{contacts}");
    assert_eq!(visitors(&contacts), ["tel:+84911000001", "tel:+84911000002"]);
    let contact = &contacts[0];
    assert_eq!(contact["kind"], "venue");
    assert_eq!(contact["status"], "identified");
    assert_eq!(contact["evidence"]["kind"], "exposure");
    assert_eq!(contact["evidence"]["code"], market.code.as_str());
    assert_eq!(contact["unit_path"], "/VN/01/00070/");
    let (status, _) = call(&server, &elsewhere, "GET", &format!("/exposures/{first}/contacts"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // An overlapping second declaration lists only who is new.
    let again = json!({"venue": market.code, "from": at(t0, 100), "until": at(t0, 190), "reason": "Ca F0 thứ hai"});
    let (status, report) = call(&server, &tracer, "POST", "/exposures", Some(again)).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    assert_eq!(report["contacts"], 2, "{report}");
    assert_eq!(report["already_listed"], 1, "{report}");
    assert_eq!(visitors(&report["new_contacts"]), ["tel:+84911000005"]);
    let (_, list) = call(&server, &tracer, "GET", "/exposures", None).await;
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    let (_, list) = call(&server, &elsewhere, "GET", "/exposures", None).await;
    assert_eq!(list, json!([]), "another province sees none");

    // The contacts hear of it.
    for _ in 0..100 {
        if server.messages("+84911000002").iter().any(|m| m.contains("cho hang da")) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no SMS reached the contact: {:?}", server.messages("+84911000002"));
}
