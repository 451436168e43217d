//! Check-ins and health declarations through the API: venues, the three ways in, batches
//! that are idempotent and answer per item, declarations, diaries, retention, and
//! durability when the server is killed mid-load.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{TestServer, person};

async fn body(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.unwrap())
}

async fn venue(server: &TestServer, token: &str, unit: &str) -> String {
    let client = TestServer::client();
    let (status, venue) = body(
        client
            .post(format!("{}/api/v1/venues", server.url))
            .bearer_auth(token)
            .json(&json!({"name": "Chợ Hàng Da", "kind": "market", "unit": unit, "address": "Hàng Da", "contact_phone": "0912000000"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{venue}");
    venue["code"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn venues_are_registered_with_clear_errors() {
    let server = TestServer::start().await;
    let officer = server.system_token("commune", "health_officer", "00070").await;
    let client = TestServer::client();
    let register =
        |body: Value| client.post(format!("{}/api/v1/venues", server.url)).bearer_auth(&officer).json(&body).send();
    let code = venue(&server, &officer, "00070").await;
    assert_eq!(code.len(), 8);
    let (_, public) = body(client.get(format!("{}/api/v1/venues/{code}", server.url)).send().await.unwrap()).await;
    assert_eq!((public["name"].as_str(), public["active"].as_bool()), (Some("Chợ Hàng Da"), Some(true)));
    let bus = json!({"name": "Xe buýt 08", "kind": "bus", "unit": "00070", "contact_phone": "0912000000"});
    let (status, error) = body(register(bus.clone()).await.unwrap()).await;
    assert_eq!((status, error["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("plate")));
    let mut with_plate = bus;
    with_plate["plate"] = json!("29B-123.45");
    assert_eq!(register(with_plate).await.unwrap().status(), StatusCode::CREATED);
    let (_, error) = body(
        register(json!({"name": "x", "kind": "castle", "unit": "00070", "contact_phone": "0912000000"})).await.unwrap(),
    )
    .await;
    assert_eq!(error["error"]["field"], "kind");
    let (_, error) = body(
        register(json!({"name": "x", "kind": "shop", "unit": "99999", "contact_phone": "0912000000"})).await.unwrap(),
    )
    .await;
    assert_eq!(error["error"]["code"], "unknown_unit");
    let (status, _) = body(
        register(json!({"name": "x", "kind": "shop", "unit": "26740", "contact_phone": "0912000000"})).await.unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = body(client.get(format!("{}/api/v1/venues/NOPE2345", server.url)).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_three_ways_in_and_the_repeat_window() {
    let server = TestServer::start().await;
    let gate = server.system_token("gate", "venue_owner", "00070").await;
    let registry = server.system_token("registry", "health_officer", "00070").await;
    let code = venue(&server, &registry, "00070").await;
    let client = TestServer::client();
    let mut known = person("Nguyễn Văn Khách", Some("001087012345"), "00070");
    known["insurance_number"] = json!("DN4797932123456");
    let created: Value = client
        .post(format!("{}/api/v1/people", server.url))
        .bearer_auth(&registry)
        .json(&known)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let qr: Value = client
        .get(format!("{}/api/v1/people/{id}/qr", server.url))
        .bearer_auth(&registry)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // 1. The poster: no sign-in, a phone and a name.
    let here = format!("{}/api/v1/venues/{code}/checkin", server.url);
    let (status, receipt) =
        body(client.post(&here).json(&json!({"phone": "0977000111", "name": "Bà Tư"})).send().await.unwrap()).await;
    assert_eq!((status, receipt["new_visit"].as_bool()), (StatusCode::CREATED, Some(true)), "{receipt}");
    let (status, again) =
        body(client.post(&here).json(&json!({"phone": "0977000111", "name": "Bà Tư"})).send().await.unwrap()).await;
    assert_eq!(
        (status, &again["checkin_id"]),
        (StatusCode::OK, &receipt["checkin_id"]),
        "a second scan is the same visit"
    );
    let (_, error) = body(client.post(&here).json(&json!({"phone": "12", "name": "x"})).send().await.unwrap()).await;
    assert_eq!(error["error"]["field"], "phone");

    // 2. Venue staff: the personal QR (token or whole URL), the insurance number.
    let single = format!("{}/api/v1/checkins", server.url);
    let by_qr = json!({"venue": code, "visitor": {"qr": qr["url"]}});
    let (status, result) = body(client.post(&single).bearer_auth(&gate).json(&by_qr).send().await.unwrap()).await;
    assert_eq!((status, result["status"].as_str()), (StatusCode::CREATED, Some("stored")), "{result}");
    let by_insurance = json!({"venue": code, "visitor": {"insurance_number": "dn4797932123456"}});
    let (status, result) =
        body(client.post(&single).bearer_auth(&gate).json(&by_insurance).send().await.unwrap()).await;
    assert_eq!(
        (status, result["status"].as_str()),
        (StatusCode::OK, Some("repeat")),
        "the same person within the window"
    );
    let tampered = json!({"venue": code, "visitor": {"qr": format!("{}x", qr["token"].as_str().unwrap())}});
    let (status, error) = body(client.post(&single).bearer_auth(&gate).json(&tampered).send().await.unwrap()).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_qr")));
    let unknown = json!({"venue": code, "visitor": {"cccd": "001087099999"}});
    let (_, error) = body(client.post(&single).bearer_auth(&gate).json(&unknown).send().await.unwrap()).await;
    assert_eq!(error["error"]["code"], "unknown_person");
    let outsider = server.system_token("other-gate", "venue_owner", "26740").await;
    let (status, _) = body(client.post(&single).bearer_auth(&outsider).json(&by_qr).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(server.services.store.count_checkins().await.unwrap(), 2);
}

#[tokio::test]
async fn batches_are_idempotent_and_answer_per_item() {
    let server = TestServer::start().await;
    let gate = server.system_token("gate", "venue_owner", "00070").await;
    let code = venue(&server, &gate, "00070").await;
    let client = TestServer::client();
    let now = time::OffsetDateTime::now_utc();
    let rfc = |t: time::OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).unwrap();
    let items = json!({"items": [
        {"client_id": "a1", "venue": code, "visitor": {"phone": "0911000001"}, "at": rfc(now - time::Duration::hours(2))},
        {"client_id": "a2", "venue": code, "visitor": {"phone": "0911000002", "name": "Ông Hai"}, "at": rfc(now - time::Duration::hours(1)),
         "left_at": rfc(now - time::Duration::minutes(20))},
        {"client_id": "a3", "venue": code, "visitor": {"phone": "0911000003"}, "at": rfc(now + time::Duration::hours(2))},
        {"client_id": "a4", "venue": code, "visitor": {"phone": "0911000004"}, "at": rfc(now - time::Duration::days(30))},
        {"client_id": "a5", "venue": "NOPE2345", "visitor": {"phone": "0911000005"}},
        {"client_id": "a6", "venue": code, "visitor": {"cccd": "12"}},
        {"client_id": "a7", "venue": code, "visitor": {}},
        {"client_id": "a8", "venue": code, "visitor": {"phone": "0911000008"}, "at": rfc(now), "left_at": rfc(now - time::Duration::hours(1))},
    ]});
    let batch = format!("{}/api/v1/checkins/batch", server.url);
    let (status, first) = body(client.post(&batch).bearer_auth(&gate).json(&items).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!((first["stored"].as_u64(), first["refused"].as_u64()), (Some(2), Some(6)));
    let codes: Vec<_> = first["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["error"]["code"].as_str().unwrap_or(r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        codes,
        ["stored", "stored", "in_future", "too_old", "not_found", "invalid_format", "one_of", "before_arrival"]
    );
    let (_, second) = body(client.post(&batch).bearer_auth(&gate).json(&items).send().await.unwrap()).await;
    assert_eq!((second["stored"].as_u64(), second["repeats"].as_u64()), (Some(0), Some(2)));
    assert_eq!(second["results"][0]["checkin_id"], first["results"][0]["checkin_id"]);
    assert_eq!(
        server.services.store.count_checkins().await.unwrap(),
        2,
        "the same batch twice stores each check-in once"
    );

    let too_many: Vec<Value> = (0..10_001)
        .map(|i| json!({"venue": code, "visitor": {"phone": "0911000001"}, "client_id": i.to_string()}))
        .collect();
    let (status, error) =
        body(client.post(&batch).bearer_auth(&gate).json(&json!({"items": too_many})).send().await.unwrap()).await;
    assert_eq!((status, error["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("items")));
    let (status, _) =
        body(client.post(&batch).bearer_auth(&gate).json(&json!({"items": "nope"})).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let huge = format!("{{\"items\": [{}]}}", vec!["{\"venue\": \"AAAAAAAA\", \"visitor\": {\"phone\": \"0911000001\"}, \"client_id\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}"; 90_000].join(","));
    let response = client
        .post(&batch)
        .bearer_auth(&gate)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(server.services.store.count_checkins().await.unwrap(), 2);
}

#[tokio::test]
async fn deactivated_venues_refuse_check_ins() {
    let server = TestServer::start().await;
    let owner_phone = "0988000111";
    let client = TestServer::client();
    client.post(format!("{}/api/v1/auth/code", server.url)).json(&json!({"phone": owner_phone})).send().await.unwrap();
    let code = server.last_code("+84988000111").unwrap();
    let (_, signed) = body(
        client
            .post(format!("{}/api/v1/auth/code/verify", server.url))
            .json(&json!({"phone": owner_phone, "code": code}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let csrf = signed["csrf_token"].as_str().unwrap().to_owned();
    let (status, venue) = body(
        client
            .post(format!("{}/api/v1/venues", server.url))
            .header("x-csrf-token", &csrf)
            .json(
                &json!({"name": "Quán phở Thìn", "kind": "restaurant", "unit": "00070", "contact_phone": owner_phone}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "a citizen registers their own venue: {venue}");
    let venue_code = venue["code"].as_str().unwrap();
    let mine: Vec<Value> =
        client.get(format!("{}/api/v1/venues", server.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(mine.len(), 1);
    let (status, _) = body(
        client
            .put(format!("{}/api/v1/venues/{venue_code}/active", server.url))
            .header("x-csrf-token", &csrf)
            .json(&json!({"active": false}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let visitor = TestServer::client();
    let (status, error) = body(
        visitor
            .post(format!("{}/api/v1/venues/{venue_code}/checkin", server.url))
            .json(&json!({"phone": "0911222333", "name": "Khách"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("venue_inactive")));
    assert_eq!(server.services.store.count_checkins().await.unwrap(), 0);
}

#[tokio::test]
async fn declarations_are_flagged_seen_by_the_venue_and_the_commune_and_in_the_diary() {
    let server = TestServer::start().await;
    let officer = server.system_token("station", "health_officer", "00070").await;
    let code = venue(&server, &officer, "00070").await;
    let visitor = TestServer::client();
    visitor
        .post(format!("{}/api/v1/auth/code", server.url))
        .json(&json!({"phone": "0911333444"}))
        .send()
        .await
        .unwrap();
    let otp = server.last_code("+84911333444").unwrap();
    let (_, signed) = body(
        visitor
            .post(format!("{}/api/v1/auth/code/verify", server.url))
            .json(&json!({"phone": "0911333444", "code": otp}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let csrf = signed["csrf_token"].as_str().unwrap().to_owned();
    let post = |path: &str, json: Value| {
        visitor.post(format!("{}/api/v1{path}", server.url)).header("x-csrf-token", &csrf).json(&json).send()
    };
    let (status, _) = body(post(&format!("/venues/{code}/checkin"), json!({})).await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED);
    let declaration = json!({"venue": code, "symptoms": ["fever", "cough"], "f0_contact": false, "places_visited": "Chợ Long Biên",
        "movement": {"from_unit": "26740", "to_unit": "00070", "date": time::OffsetDateTime::now_utc().date().to_string(), "vehicle": "xe khách"}});
    let (status, declared) = body(post("/declarations", declaration).await.unwrap()).await;
    assert_eq!((status, declared["flagged"].as_bool()), (StatusCode::CREATED, Some(true)), "{declared}");
    let (_, quiet) = body(
        TestServer::client()
            .post(format!("{}/api/v1/declarations", server.url))
            .json(&json!({"venue": code, "phone": "0911555666"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(quiet["flagged"], false);
    let (_, error) = body(post("/declarations", json!({"venue": code, "symptoms": ["hiccups"]})).await.unwrap()).await;
    assert_eq!(error["error"]["field"], "symptoms[0]");
    let (_, error) = body(
        TestServer::client()
            .post(format!("{}/api/v1/declarations", server.url))
            .json(&json!({"symptoms": ["fever"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(error["error"]["field"], "phone");

    let client = TestServer::client();
    let (_, today) = body(
        client.get(format!("{}/api/v1/venues/{code}/today", server.url)).bearer_auth(&officer).send().await.unwrap(),
    )
    .await;
    assert_eq!(today["checkins_today"], 1);
    assert_eq!(today["flagged_arrivals"][0]["symptoms"], json!(["fever", "cough"]));
    assert!(today["flagged_arrivals"][0].get("phone").is_none(), "no identities at the venue");
    let (_, flagged) = body(
        client.get(format!("{}/api/v1/declarations/flagged", server.url)).bearer_auth(&officer).send().await.unwrap(),
    )
    .await;
    assert_eq!(flagged.as_array().unwrap().len(), 1);
    assert_eq!(flagged[0]["phone"], "0911333444");
    let elsewhere = server.system_token("hcm-station", "health_officer", "26740").await;
    let (_, none) = body(
        client.get(format!("{}/api/v1/declarations/flagged", server.url)).bearer_auth(&elsewhere).send().await.unwrap(),
    )
    .await;
    assert!(none.as_array().unwrap().is_empty());
    let (_, log) = body(
        client.get(format!("{}/api/v1/venues/{code}/visitors", server.url)).bearer_auth(&officer).send().await.unwrap(),
    )
    .await;
    assert_eq!(log.as_array().unwrap().len(), 1);

    let (_, diary) = body(visitor.get(format!("{}/api/v1/me/diary", server.url)).send().await.unwrap()).await;
    assert_eq!(diary["checkins"][0]["venue_code"], code.as_str());
    assert_eq!(diary["declarations"][0]["move_to"], "00070");
    let id = diary["checkins"][0]["id"].as_i64().unwrap();
    let out = visitor
        .post(format!("{}/api/v1/checkins/{id}/checkout", server.url))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn retention_deletes_what_is_older_than_the_period() {
    let server = TestServer::start().await;
    let gate = server.system_token("gate", "venue_owner", "00070").await;
    let code = venue(&server, &gate, "00070").await;
    let client = TestServer::client();
    let now = time::OffsetDateTime::now_utc();
    let rfc = |t: time::OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).unwrap();
    let items = json!({"items": [
        {"venue": code, "visitor": {"phone": "0911000001"}, "at": rfc(now - time::Duration::days(20))},
        {"venue": code, "visitor": {"phone": "0911000002"}, "at": rfc(now - time::Duration::hours(1))},
    ]});
    client.post(format!("{}/api/v1/checkins/batch", server.url)).bearer_auth(&gate).json(&items).send().await.unwrap();
    let shorter = outbreak_services::Services::new(
        server.services.store.clone(),
        server.services.sms.clone(),
        outbreak_services::Config { retention: time::Duration::days(7), ..(*server.services.config).clone() },
    );
    assert_eq!(shorter.purge_expired().await.unwrap(), (1, 0));
    assert_eq!(server.services.store.count_checkins().await.unwrap(), 1);
    assert_eq!(shorter.purge_expired().await.unwrap(), (0, 0));
}

/// Nothing acknowledged is lost: the server is killed with SIGKILL in the middle of a load,
/// and after a restart every acknowledged check-in is there.
#[tokio::test]
async fn acknowledged_check_ins_survive_sigkill() {
    let dir = outbreak_testkit::scratch_dir("kill");
    std::fs::create_dir_all(&dir).unwrap();
    let database = dir.join("store.sqlite").to_string_lossy().into_owned();
    let (token, code) = {
        let server = TestServer::start_on_file(&database, dir.clone()).await;
        let token = server.system_token("gate", "venue_owner", "00070").await;
        let code = venue(&server, &token, "00070").await;
        (token, code)
    };
    let port = outbreak_testkit::free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_outbreak"))
        .args(["serve", "--database", &database, "--listen", &format!("127.0.0.1:{port}")])
        .arg("--sms-log")
        .arg(dir.join("sms.log"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let client = TestServer::client();
    for _ in 0..100 {
        if client.get(format!("{url}/readyz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<i64>::new()));
    let mut senders = Vec::new();
    for worker in 0..4 {
        let (client, url, token, code, acknowledged) =
            (client.clone(), url.clone(), token.clone(), code.clone(), acknowledged.clone());
        senders.push(tokio::spawn(async move {
            for round in 0..10_000 {
                let items: Vec<Value> = (0..50)
                    .map(|i| json!({"client_id": format!("{worker}-{round}-{i}"), "venue": code, "visitor": {"phone": format!("09{worker}{round:04}{i:03}")}}))
                    .collect();
                let Ok(response) = client.post(format!("{url}/api/v1/checkins/batch")).bearer_auth(&token).json(&json!({"items": items})).send().await else {
                    return;
                };
                let Ok(result) = response.json::<Value>().await else { return };
                let ids: Vec<i64> = result["results"].as_array().unwrap().iter().filter_map(|r| r["checkin_id"].as_i64()).collect();
                acknowledged.lock().unwrap().extend(ids);
            }
        }));
    }
    while acknowledged.lock().unwrap().len() < 5_000 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    for sender in senders {
        let _ = sender.await;
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    let store = outbreak_store::open(&database).await.unwrap();
    let stored = store.count_checkins().await.unwrap();
    assert!(stored as usize >= acknowledged.len(), "stored {stored} < acknowledged {}", acknowledged.len());
    let visits = store
        .venue_checkins(
            store.venue_by_code(&code).await.unwrap().unwrap().id,
            time::OffsetDateTime::now_utc() - time::Duration::hours(1),
            time::OffsetDateTime::now_utc() + time::Duration::hours(1),
            u32::MAX,
        )
        .await
        .unwrap();
    let ids: std::collections::HashSet<i64> = visits.iter().map(|c| c.id).collect();
    let lost: Vec<_> = acknowledged.iter().filter(|id| !ids.contains(id)).collect();
    assert!(lost.is_empty(), "{} acknowledged check-ins were lost", lost.len());
}
