//! The HTTP API as its clients use it: signing in, people, jurisdictions, the audit log,
//! personal QRs, units, accounts and tokens, and every kind of bad input a new user tries.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{TestServer, person};

async fn error_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    (status, body["error"].clone())
}

#[tokio::test]
async fn health_and_readiness() {
    let server = TestServer::start().await;
    let client = TestServer::client();
    assert_eq!(client.get(format!("{}/healthz", server.url)).send().await.unwrap().status(), 200);
    assert_eq!(client.get(format!("{}/readyz", server.url)).send().await.unwrap().text().await.unwrap(), "ready");
}

/// Every path and method the OpenAPI document lists is served, and answers with one of
/// the statuses it documents; the document names every response body it uses.
#[tokio::test]
async fn openapi_document_matches_the_routes() {
    let server = TestServer::start().await;
    let client = TestServer::client();
    let doc: Value =
        client.get(format!("{}/api/v1/openapi.json", server.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["openapi"].as_str().unwrap().chars().next(), Some('3'));
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 15, "only {} paths documented", paths.len());
    let mut checked = 0;
    for (path, operations) in paths {
        let concrete = path
            .replace("{id}", "0190a1b2-0000-7000-8000-000000000000")
            .replace("{token_id}", "0190a1b2-0000-7000-8000-000000000001")
            .replace("{code}", "00070")
            .replace("{token}", "k1.abc.def");
        for (method, operation) in operations.as_object().unwrap() {
            let url = format!("{}/api/v1{concrete}?q=nguyen", server.url);
            let request = match method.as_str() {
                "get" => client.get(&url),
                "post" => client.post(&url).json(&json!({})),
                "put" => client.put(&url).json(&json!({})),
                "delete" => client.delete(&url),
                other => panic!("unexpected method {other}"),
            };
            let response = request.send().await.unwrap();
            let status = response.status().as_u16().to_string();
            let body = response.text().await.unwrap();
            assert!(!body.contains("no_route"), "{method} {path} is documented but not served");
            let documented = operation["responses"].as_object().unwrap();
            assert!(
                documented.contains_key(&status),
                "{method} {path} answered {status}, documented: {:?}",
                documented.keys()
            );
            checked += 1;
        }
    }
    assert!(checked >= 20);
    let undocumented = client.get(format!("{}/api/v1/nothing-here", server.url)).send().await.unwrap();
    assert_eq!(error_of(undocumented).await.1["code"], "no_route");
}

#[tokio::test]
async fn staff_sign_in_and_me() {
    let server = TestServer::start().await;
    let password = server.staff("tracer.hk", "tracer", "00070").await;
    let client = TestServer::client();
    let wrong = client
        .post(format!("{}/api/v1/auth/staff", server.url))
        .json(&json!({"username": "tracer.hk", "password": "not the password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(wrong).await,
        (StatusCode::UNAUTHORIZED, json!({"code": "unauthenticated", "message": "wrong username or password"}))
    );
    let (client, _) = server.signed_in("tracer.hk", &password).await;
    let me: Value = client.get(format!("{}/api/v1/me", server.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["kind"], "staff");
    assert_eq!(me["grants"][0]["role"], "tracer");
    assert_eq!(me["grants"][0]["unit_path"], "/VN/01/00070/");
}

#[tokio::test]
async fn session_changes_need_the_csrf_header() {
    let server = TestServer::start().await;
    let password = server.staff("officer", "health_officer", "00070").await;
    let (client, csrf) = server.signed_in("officer", &password).await;
    let url = format!("{}/api/v1/people", server.url);
    let refused = client.post(&url).json(&person("Nguyễn Văn A", None, "00070")).send().await.unwrap();
    assert_eq!(error_of(refused).await.1["code"], "csrf");
    assert_eq!(server.people_count().await, 0);
    let created = client
        .post(&url)
        .header("x-csrf-token", csrf)
        .json(&person("Nguyễn Văn A", None, "00070"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn bad_people_are_refused_naming_the_field() {
    let server = TestServer::start().await;
    let token = server.system_token("registry", "health_officer", "01").await;
    let client = TestServer::client();
    let url = format!("{}/api/v1/people", server.url);
    let first: Value = client
        .post(&url)
        .bearer_auth(&token)
        .json(&person("Nguyễn Văn A", Some("001087012345"), "00070"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let existing = first["id"].as_str().unwrap().to_owned();
    let long_name = "A".repeat(101);
    let mut contradicting_sex = person("X", Some("001087012346"), "00070");
    contradicting_sex["sex"] = json!("female");
    let mut contradicting_year = person("X", Some("001087012347"), "00070");
    contradicting_year["date_of_birth"] = json!("1990-01-01");
    let mut missing_name = person("X", None, "00070");
    missing_name.as_object_mut().unwrap().remove("full_name");
    let mut bad_phone = person("X", None, "00070");
    bad_phone["phone"] = json!("12345");
    let cases = [
        (person("X", Some("00108701234"), "00070"), 422, "cccd", "invalid_format"),
        (person("X", Some("003087012345"), "00070"), 422, "cccd", "invalid_province"),
        (contradicting_sex, 422, "cccd", "contradiction"),
        (contradicting_year, 422, "cccd", "contradiction"),
        (person("X", None, "99999"), 422, "address_unit", "unknown_unit"),
        (person("X", None, "01"), 422, "address_unit", "too_broad"),
        (person(&long_name, None, "00070"), 422, "full_name", "too_long"),
        (bad_phone, 422, "phone", "invalid_format"),
        (missing_name, 422, "full_name", "invalid_body"),
        (person("Nguyễn Văn B", Some("001087012345"), "00070"), 409, "cccd", "conflict"),
    ];
    for (body, status, field, code) in cases {
        let response = client.post(&url).bearer_auth(&token).json(&body).send().await.unwrap();
        let (got_status, error) = error_of(response).await;
        assert_eq!(got_status.as_u16(), status, "{body}: {error}");
        assert_eq!(error["field"], field, "{body}: {error}");
        assert_eq!(error["code"], code, "{body}: {error}");
        assert!(error["message"].as_str().unwrap().len() > 10, "{error}");
        if code == "conflict" {
            assert_eq!(error["existing_id"], existing.as_str());
        }
    }
    let raw = |body: &'static [u8]| {
        client.post(&url).bearer_auth(&token).header("content-type", "application/json").body(body).send()
    };
    let (status, error) = error_of(raw(b"{\"full_name\": ").await.unwrap()).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_json")));
    let (status, error) = error_of(raw(b"{\"full_name\": \"Nguy\xff\xfe\"}").await.unwrap()).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_json")));
    let (status, _) = error_of(client.post(&url).bearer_auth(&token).body("{}").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = vec![b' '; 9 * 1024 * 1024];
    let response = client
        .post(&url)
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(server.people_count().await, 1, "nothing but the first person was stored");
}

#[tokio::test]
async fn jurisdiction_limits_reads_and_the_audit_log_records_them() {
    let server = TestServer::start().await;
    let registry = server.system_token("registry", "health_officer", "VN").await;
    let client = TestServer::client();
    let mut ids = Vec::new();
    for (name, unit) in [("Nguyễn Văn Hà", "00070"), ("Trần Thị Sài", "26740")] {
        let created: Value = client
            .post(format!("{}/api/v1/people", server.url))
            .bearer_auth(&registry)
            .json(&person(name, None, unit))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    let password = server.staff("tracer.hk", "tracer", "00070").await;
    let (tracer, _) = server.signed_in("tracer.hk", &password).await;
    let own = tracer.get(format!("{}/api/v1/people/{}", server.url, ids[0])).send().await.unwrap();
    assert_eq!(own.status(), 200);
    let other = tracer.get(format!("{}/api/v1/people/{}", server.url, ids[1])).send().await.unwrap();
    assert_eq!(error_of(other).await.0, StatusCode::FORBIDDEN);
    // An id cut short names nobody, and the API says so in its own JSON.
    let cut = tracer.get(format!("{}/api/v1/people/{}", server.url, &ids[0][..20])).send().await.unwrap();
    let (status, error) = error_of(cut).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{error}");
    assert!(error["message"].as_str().unwrap().contains("`id`"), "{error}");
    let found: Vec<Value> =
        tracer.get(format!("{}/api/v1/people?q=nguyen", server.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(found.len(), 1);
    let found: Vec<Value> =
        tracer.get(format!("{}/api/v1/people?q=tran thi", server.url)).send().await.unwrap().json().await.unwrap();
    assert!(found.is_empty(), "a tracer finds nobody outside their commune");

    let forbidden = tracer.get(format!("{}/api/v1/audit", server.url)).send().await.unwrap();
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    let admin_password = server.staff("admin", "admin", "VN").await;
    let (admin, _) = server.signed_in("admin", &admin_password).await;
    let reads: Vec<Value> = admin
        .get(format!("{}/api/v1/audit?actor=tracer.hk&action=person.read", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reads.len(), 1, "the refused read is not a read");
    assert_eq!(reads[0]["entity_id"], ids[0].as_str());
    assert_eq!(reads[0]["client"], "127.0.0.1");
    let created: Vec<Value> =
        admin.get(format!("{}/api/v1/audit?actor=registry", server.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(created.iter().filter(|e| e["action"] == "person.create" && e["actor_kind"] == "system").count(), 2);
}

#[tokio::test]
async fn citizens_sign_in_with_a_one_time_code() {
    let server = TestServer::start().await;
    let client = TestServer::client();
    let sent = client
        .post(format!("{}/api/v1/auth/code", server.url))
        .json(&json!({"phone": "0912 345 678"}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    let code = server.last_code("+84912345678").expect("a code in the SMS log");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let verify = |code: &str| {
        client
            .post(format!("{}/api/v1/auth/code/verify", server.url))
            .json(&json!({"phone": "+84912345678", "code": code}))
            .send()
    };
    assert_eq!(verify(wrong).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(verify(&code).await.unwrap().status(), 200);
    let body: Value = client.get(format!("{}/api/v1/me", server.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(body, json!({"kind": "citizen", "name": "+84912345678", "grants": []}));
    assert_eq!(verify(&code).await.unwrap().status(), StatusCode::UNAUTHORIZED, "a code works once");

    // Five wrong guesses void the code, even for the right one after.
    client.post(format!("{}/api/v1/auth/code", server.url)).json(&json!({"phone": "0912345678"})).send().await.unwrap();
    let code = server.last_code("+84912345678").unwrap();
    for _ in 0..5 {
        verify(if code == "000000" { "111111" } else { "000000" }).await.unwrap();
    }
    assert_eq!(verify(&code).await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // A third code in 15 minutes is the last.
    client.post(format!("{}/api/v1/auth/code", server.url)).json(&json!({"phone": "0912345678"})).send().await.unwrap();
    let limited = client
        .post(format!("{}/api/v1/auth/code", server.url))
        .json(&json!({"phone": "0912345678"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(limited).await.1["code"], "rate_limited");
    let bad =
        client.post(format!("{}/api/v1/auth/code", server.url)).json(&json!({"phone": "12345"})).send().await.unwrap();
    assert_eq!(error_of(bad).await.1["field"], "phone");
}

#[tokio::test]
async fn personal_qr_opens_the_person_until_revoked() {
    let server = TestServer::start().await;
    let token = server.system_token("sampling-app", "sampler", "00070").await;
    let client = TestServer::client();
    let created: Value = client
        .post(format!("{}/api/v1/people", server.url))
        .bearer_auth(&token)
        .json(&person("Lê Văn Quét", Some("001087012345"), "00070"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let qr: Value = client
        .get(format!("{}/api/v1/people/{id}/qr", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let qr_token = qr["token"].as_str().unwrap().to_owned();
    assert!(qr["url"].as_str().unwrap().ends_with(&format!("/q/{qr_token}")));
    assert!(!qr_token.contains("001087012345") && !qr_token.contains(id), "the token carries no identifier");
    let again: Value = client
        .get(format!("{}/api/v1/people/{id}/qr", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["token"], qr_token.as_str(), "the same card keeps working");

    let scan = |t: String| client.get(format!("{}/api/v1/qr/{t}", server.url)).bearer_auth(&token).send();
    let scanned: Value = scan(qr_token.clone()).await.unwrap().json().await.unwrap();
    assert_eq!(scanned["id"], id);
    let mut tampered = qr_token.clone();
    tampered.replace_range(tampered.len() - 2.., if tampered.ends_with("AA") { "BB" } else { "AA" });
    assert_eq!(scan(tampered).await.unwrap().status(), StatusCode::NOT_FOUND);
    let parts: Vec<&str> = qr_token.split('.').collect();
    assert_eq!(scan(format!("{}.{}x.{}", parts[0], parts[1], parts[2])).await.unwrap().status(), StatusCode::NOT_FOUND);

    let outsider = server.system_token("other-app", "sampler", "26740").await;
    let refused =
        client.get(format!("{}/api/v1/qr/{qr_token}", server.url)).bearer_auth(&outsider).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    let reissued: Value = client
        .post(format!("{}/api/v1/people/{id}/qr/reissue", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(reissued["token"], qr_token.as_str());
    assert_eq!(scan(qr_token.clone()).await.unwrap().status(), StatusCode::NOT_FOUND, "a revoked card stops working");
    assert_eq!(scan(reissued["token"].as_str().unwrap().to_owned()).await.unwrap().status(), 200);

    // Rotating keys keeps old cards working; retiring a key voids its cards.
    let kid_before = reissued["token"].as_str().unwrap().split('.').next().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    server.services.rotate_qr_key().await.unwrap();
    assert_eq!(scan(reissued["token"].as_str().unwrap().to_owned()).await.unwrap().status(), 200);
    server.services.retire_qr_key(&kid_before).await.unwrap();
    assert_eq!(scan(reissued["token"].as_str().unwrap().to_owned()).await.unwrap().status(), StatusCode::NOT_FOUND);
    let fresh: Value = client
        .get(format!("{}/api/v1/people/{id}/qr", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(fresh["token"].as_str().unwrap().split('.').next().unwrap(), kid_before);
    assert_eq!(scan(fresh["token"].as_str().unwrap().to_owned()).await.unwrap().status(), 200);
}

#[tokio::test]
async fn commune_staff_add_units_and_import_population() {
    let server = TestServer::start().await;
    let officer = server.system_token("commune-hk", "health_officer", "00070").await;
    let tracer = server.system_token("tracer-hk", "tracer", "00070").await;
    let client = TestServer::client();
    let add = |token: &str, parent: &str, body: Value| {
        client.post(format!("{}/api/v1/units/{parent}/children", server.url)).bearer_auth(token).json(&body).send()
    };
    let created = add(&officer, "00070", json!({"code": "tdp1", "name": "Tổ dân phố 1"})).await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let unit: Value = created.json().await.unwrap();
    assert_eq!((unit["code"].as_str(), unit["level"].as_str()), (Some("00070.TDP1"), Some("neighbourhood")));
    assert_eq!(
        add(&officer, "00070.TDP1", json!({"code": "H1", "name": "Hộ ông Ba"})).await.unwrap().status(),
        StatusCode::CREATED
    );
    assert_eq!(
        error_of(add(&officer, "00070", json!({"code": "TDP1", "name": "again"})).await.unwrap()).await.0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        error_of(add(&officer, "00073", json!({"code": "X", "name": "x"})).await.unwrap()).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        error_of(add(&tracer, "00070", json!({"code": "X", "name": "x"})).await.unwrap()).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        error_of(add(&officer, "01", json!({"code": "X", "name": "x"})).await.unwrap()).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, error) =
        error_of(add(&officer, "00070", json!({"code": "bad code!", "name": "x"})).await.unwrap()).await;
    assert_eq!((status, error["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("code")));
    let children: Vec<Value> =
        client.get(format!("{}/api/v1/units/00070/children", server.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(children.len(), 1);
    let found: Vec<Value> =
        client.get(format!("{}/api/v1/units?q=hoan kiem", server.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(found[0]["code"], "00070");

    let import = |body: &'static str| {
        client
            .put(format!("{}/api/v1/units/population", server.url))
            .bearer_auth(&officer)
            .header("content-type", "text/csv")
            .body(body)
            .send()
    };
    let bad = import("code,population\n00070,1000\n00070.NOPE,5\n").await.unwrap();
    assert_eq!(error_of(bad).await.1["code"], "unknown_unit");
    let outside = import("code,population\n00070,1000\n00073,5\n").await.unwrap();
    assert_eq!(outside.status(), StatusCode::FORBIDDEN);
    assert_eq!(server.services.unit("00070").await.unwrap().population, None, "nothing was imported");
    let good: Value = import("Mã;Dân số\n00070;18.000\n00070.TDP1;1200\n").await.unwrap().json().await.unwrap();
    assert_eq!(good["units_updated"], 2);
    assert_eq!(server.services.unit("00070").await.unwrap().population, Some(18_000));
}

#[tokio::test]
async fn admins_manage_accounts_and_tokens_within_their_jurisdiction() {
    let server = TestServer::start().await;
    let password = server.staff("admin.hn", "admin", "01").await;
    let (admin, csrf) = server.signed_in("admin.hn", &password).await;
    let post = |path: &str, body: Value| {
        admin.post(format!("{}/api/v1{path}", server.url)).header("x-csrf-token", &csrf).json(&body).send()
    };
    let new_account = json!({"username": "Tracer.New", "display_name": "Nguyễn Truy Vết", "password": "a-long-password",
        "grants": [{"role": "tracer", "unit": "00070"}]});
    let created = post("/accounts", new_account.clone()).await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(error_of(post("/accounts", new_account).await.unwrap()).await.0, StatusCode::CONFLICT);
    let outside = json!({"username": "x.hcm", "display_name": "x", "password": "a-long-password", "grants": [{"role": "tracer", "unit": "79"}]});
    assert_eq!(error_of(post("/accounts", outside).await.unwrap()).await.0, StatusCode::FORBIDDEN);
    let short = json!({"username": "shorty", "display_name": "x", "password": "short", "grants": [{"role": "tracer", "unit": "01"}]});
    assert_eq!(error_of(post("/accounts", short).await.unwrap()).await.1["field"], "password");
    let no_role = json!({"username": "norole", "display_name": "x", "password": "a-long-password", "grants": [{"role": "king", "unit": "01"}]});
    assert_eq!(error_of(post("/accounts", no_role).await.unwrap()).await.1["field"], "grants[0].role");
    let (_, signed_in_csrf) = server.signed_in("tracer.new", "a-long-password").await;
    assert!(!signed_in_csrf.is_empty(), "usernames are kept in lower case");

    let system: Value = post(
        "/accounts",
        json!({"username": "gate-1", "display_name": "Cổng chợ", "system": true,
        "grants": [{"role": "venue_owner", "unit": "00070"}]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let system_id = system["id"].as_str().unwrap();
    let issued: Value =
        post(&format!("/accounts/{system_id}/tokens"), json!({"name": "gate"})).await.unwrap().json().await.unwrap();
    let secret = issued["secret"].as_str().unwrap();
    let client = TestServer::client();
    let me = client.get(format!("{}/api/v1/me", server.url)).bearer_auth(secret).send().await.unwrap();
    assert_eq!(me.status(), 200);
    let listed: Vec<Value> = admin
        .get(format!("{}/api/v1/accounts/{system_id}/tokens", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].get("secret").is_none());
    let revoked = admin
        .delete(format!("{}/api/v1/accounts/{system_id}/tokens/{}", server.url, issued["id"].as_str().unwrap()))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let refused = client.get(format!("{}/api/v1/me", server.url)).bearer_auth(secret).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    let accounts: Vec<Value> =
        admin.get(format!("{}/api/v1/accounts", server.url)).send().await.unwrap().json().await.unwrap();
    let names: Vec<_> = accounts.iter().map(|a| a["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["admin.hn", "gate-1", "tracer.new"]);
}

/// The same workflows on the scale-out store.
#[tokio::test]
async fn people_and_jurisdiction_on_postgres() {
    let server = TestServer::start_postgres().await;
    let registry = server.system_token("registry", "health_officer", "VN").await;
    let client = TestServer::client();
    let created = client
        .post(format!("{}/api/v1/people", server.url))
        .bearer_auth(&registry)
        .json(&person("Nguyễn Văn A", Some("001087012345"), "00070"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = created.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let duplicate = client
        .post(format!("{}/api/v1/people", server.url))
        .bearer_auth(&registry)
        .json(&person("Nguyễn Văn B", Some("001087012345"), "00070"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(duplicate).await.1["existing_id"], id.as_str());
    let outsider = server.system_token("hcm", "tracer", "79").await;
    let refused = client.get(format!("{}/api/v1/people/{id}", server.url)).bearer_auth(&outsider).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}
