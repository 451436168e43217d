//! Vaccination through the API: an organisation applies, is approved and uploads its list
//! (good, bad and duplicate rows; dates and phones written several ways; merged cells, an
//! empty sheet and a 100 MB file refused); a session is planned and the allocator invites
//! by SMS; the citizen confirms; the vaccinator scans the QR and records the dose; early,
//! contradicting and unknown-lot doses are refused; coverage follows; jurisdictions hold.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use outbreak_domain::{NewPerson, PersonId, local_date, now};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{TestServer, call, root};

/// A call with an API token; answers the status and the JSON body.
async fn upload(
    server: &TestServer,
    token: &str,
    organisation: &str,
    name: &str,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    let response = TestServer::client()
        .post(format!("{}/api/v1/vaccination/organisations/{organisation}/registrations?filename={name}", server.url))
        .bearer_auth(token)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn register(server: &TestServer, name: &str, phone: &str, cccd: &str, birth: &str) -> PersonId {
    let person = NewPerson {
        full_name: name.into(),
        date_of_birth: birth.into(),
        sex: "female".into(),
        phone: Some(phone.into()),
        cccd: Some(cccd.into()),
        address_unit: "00070".into(),
        street: "5 Lý Thái Tổ".into(),
        ..NewPerson::default()
    };
    server.services.register_person(&root(), &person).await.unwrap().id()
}

/// An approved organisation in Hoàn Kiếm managed by the account `manager`; returns its id
/// and the manager's token.
async fn approved_organisation(server: &TestServer, officer: &str) -> (String, String) {
    let manager = server.system_token("cty.may", "organisation_manager", "00070").await;
    let application = json!({"name": "Công ty May Hà Nội", "kind": "company", "unit": "00070",
        "address": "1 Tràng Tiền", "contact_phone": "+84 912 000 111"});
    let (status, organisation) = call(server, "", "POST", "/vaccination/organisations", Some(application)).await;
    assert_eq!(status, StatusCode::CREATED, "{organisation}");
    assert_eq!(organisation["status"], "pending");
    let id = organisation["id"].as_str().unwrap().to_owned();
    // Nobody may upload before the unit's health staff approve.
    let (status, error) = upload(server, &manager, &id, "list.csv", b"Ho va ten,Ngay sinh\nA,1990\n".to_vec()).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("not_approved")));
    let decision = json!({"approve": true, "manager": "cty.may"});
    let (status, decided) =
        call(server, officer, "POST", &format!("/vaccination/organisations/{id}/decision"), Some(decision)).await;
    assert_eq!((status, decided["status"].as_str()), (StatusCode::OK, Some("approved")), "{decided}");
    (id, manager)
}

/// A citizen signed in through the API, and the CSRF token for their changes.
async fn sign_in_citizen(server: &TestServer, phone: &str) -> (reqwest::Client, String) {
    let client = TestServer::client();
    client.post(format!("{}/api/v1/auth/code", server.url)).json(&json!({"phone": phone})).send().await.unwrap();
    let code = server.last_code(phone).unwrap();
    let verified = client
        .post(format!("{}/api/v1/auth/code/verify", server.url))
        .json(&json!({"phone": phone, "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status(), 200);
    let body: Value = verified.json().await.unwrap();
    (client, body["csrf_token"].as_str().unwrap().to_owned())
}

fn screening_no() -> Value {
    json!({"allergy": false, "acute_illness": false, "recent_covid": false, "pregnant": false,
        "immunosuppressed": false, "anticoagulant": false})
}

#[tokio::test]
async fn an_organisation_list_is_reported_row_by_row_and_never_duplicates() {
    let server = TestServer::start().await;
    let officer = server.system_token("yte.hk", "health_officer", "00070").await;
    let known = register(&server, "Trần Thị Bình", "0912000222", "001187000001", "1987-03-21").await;
    let (organisation, manager) = approved_organisation(&server, &officer).await;

    // As organisations write them: Vietnamese headers, dates three ways, phones with and
    // without +84, a group by number or by name; a person already known; a duplicate row;
    // and bad rows.
    let csv = "Họ và tên;Ngày sinh;Giới tính;Số CCCD;Số điện thoại;Nhóm ưu tiên;Bệnh nền\n\
        Trần Thị Bình;21/03/1987;Nữ;001187000001;0912000222;6;\n\
        Lê Văn Cường;1990-07-15;Nam;001090000002;+84 913 000 333;Nhóm 5;tiểu đường\n\
        Phạm Thị Dung;1965;Nữ;;0914000444;Giáo viên, người làm việc tại cơ sở giáo dục;\n\
        Lê Văn Cường;15.07.1990;Nam;001090000002;0913000333;5;\n\
        Võ Văn Em;31/02/1990;Nam;001090000005;0915000555;5;\n\
        Đỗ Thị Phương;1991-01-01;Nữ;12345;0916000666;5;\n\
        Hồ Văn Giang;1992-02-02;Nam;001092000007;0917000777;nhóm 99;\n\
        Ngô Thị Hà;1993-03-03;Nữ;;;5;\n";
    let (status, report) = upload(&server, &manager, &organisation, "danh-sach.csv", csv.as_bytes().to_vec()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let statuses: Vec<(u64, &str)> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["line"].as_u64().unwrap(), i["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            (2, "matched"),
            (3, "registered"),
            (4, "registered"),
            (5, "already_registered"),
            (6, "refused"),
            (7, "refused"),
            (8, "refused"),
            (9, "refused")
        ],
        "{report}"
    );
    assert_eq!(report["items"][0]["person"], json!(known));
    let fields: Vec<&str> =
        report["items"].as_array().unwrap()[4..].iter().map(|i| i["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["date_of_birth", "cccd", "priority_group", "cccd"], "{report}");
    assert!(report["items"][4]["message"].as_str().unwrap().contains("31/02/1990"), "{report}");
    assert_eq!(server.people_count().await, 3, "the known person plus two new ones, nobody twice");

    // Uploading the same list again registers nobody twice.
    let (_, again) = upload(&server, &manager, &organisation, "danh-sach.csv", csv.as_bytes().to_vec()).await;
    assert_eq!((again["registered"].as_u64(), again["matched"].as_u64()), (Some(0), Some(0)), "{again}");
    assert_eq!(again["already_registered"].as_u64(), Some(4));

    // An XLSX with merged cells, an empty sheet, a 100 MB file: clear refusals, nothing stored.
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write(0, 0, "Họ và tên").unwrap();
    sheet.write(0, 1, "Ngày sinh").unwrap();
    sheet.merge_range(1, 0, 2, 0, "Nguyễn Văn Hùng", &rust_xlsxwriter::Format::new()).unwrap();
    sheet.write(1, 1, "1980").unwrap();
    let merged = book.save_to_buffer().unwrap();
    let mut empty_book = rust_xlsxwriter::Workbook::new();
    empty_book.add_worksheet();
    let empty = empty_book.save_to_buffer().unwrap();
    for (name, bytes, code) in [("merged.xlsx", merged, "merged_cells"), ("empty.xlsx", empty, "no_rows")] {
        let (status, error) = upload(&server, &manager, &organisation, name, bytes).await;
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code)),
            "{name}: {error}"
        );
        assert!(error["error"]["message"].as_str().unwrap().len() > 30, "{error}");
    }
    let huge = vec![b'a'; 101 * 1024 * 1024];
    let (status, _) = upload(&server, &manager, &organisation, "huge.csv", huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(server.people_count().await, 3);

    // Another organisation's manager, or one from another province, may not upload here.
    let stranger = server.system_token("cty.khac", "organisation_manager", "00070").await;
    let (status, _) = upload(&server, &stranger, &organisation, "x.csv", csv.as_bytes().to_vec()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let far = server.system_token("yte.hcm", "health_officer", "79").await;
    let (status, _) = upload(&server, &far, &organisation, "x.csv", csv.as_bytes().to_vec()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_session_invites_by_priority_and_the_vaccinator_records_the_dose() {
    let server = TestServer::start().await;
    let planner = server.system_token("ke.hoach", "health_officer", "00070").await;
    let vaccinator = server.system_token("tiem.chung", "vaccinator", "00070").await;
    let citizen_phone = "+84912000888";
    let elder = register(&server, "Cụ Nguyễn Văn Lão", "0912000888", "001150000011", "1950-01-01").await;
    let young = register(&server, "Trẻ Văn Tuổi", "0912000999", "001199000012", "1999-01-01").await;
    let (organisation, manager) = approved_organisation(&server, &planner).await;
    let csv = "Họ và tên,Ngày sinh,Số CCCD,Nhóm ưu tiên\n\
        Trẻ Văn Tuổi,1999-01-01,001199000012,7\nCụ Nguyễn Văn Lão,1950-01-01,001150000011,7\n";
    let (_, report) = upload(&server, &manager, &organisation, "ds.csv", csv.as_bytes().to_vec()).await;
    assert_eq!(report["matched"].as_u64(), Some(2), "{report}");

    let (status, lot) = call(
        &server,
        &planner,
        "POST",
        "/vaccination/lots",
        Some(json!({"lot": "AZ0001", "product": "vaxzevria", "expires_on": "31/12/2030", "unit": "00070"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{lot}");
    let (status, site) = call(
        &server,
        &planner,
        "POST",
        "/vaccination/sites",
        Some(json!({"name": "Trạm Y tế Hoàn Kiếm", "unit": "00070", "address": "2 Hàng Bài"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{site}");
    let site = site["id"].as_str().unwrap().to_owned();
    let date = (local_date(now()) + time::Duration::days(1)).to_string();
    let unknown_lot = json!({"site": site, "date": date, "product": "vaxzevria", "lot": "ZZ9999",
        "slots": [{"start": "07:30", "end": "09:00", "capacity": 1}]});
    let (status, error) = call(&server, &planner, "POST", "/vaccination/sessions", Some(unknown_lot)).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_lot")));
    let body = json!({"site": site, "date": date, "product": "vaxzevria", "lot": "AZ0001",
        "slots": [{"start": "07:30", "end": "09:00", "capacity": 1}]});
    let (status, session) = call(&server, &planner, "POST", "/vaccination/sessions", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    let session = session["id"].as_str().unwrap().to_owned();

    // One place: the oldest of the same group is invited, by SMS.
    let (status, allocation) =
        call(&server, &planner, "POST", &format!("/vaccination/sessions/{session}/allocate"), None).await;
    assert_eq!(status, StatusCode::OK, "{allocation}");
    let invited = allocation["invited"].as_array().unwrap();
    assert_eq!(invited.len(), 1);
    assert_eq!(invited[0]["person"], json!(elder));
    let invitation = invited[0]["id"].as_str().unwrap().to_owned();
    server.services.notify_pending().await.unwrap();
    let sms = server.messages(citizen_phone);
    assert!(sms.iter().any(|m| m.contains("moi tiem mui 1") && m.contains("07:30")), "{sms:?}");

    // The elder declines; the place goes to the next in line at once.
    let (client, token) = sign_in_citizen(&server, citizen_phone).await;
    let answered = client
        .post(format!("{}/api/v1/me/invitations/{invitation}/answer", server.url))
        .header("X-CSRF-Token", &token)
        .json(&json!({"confirm": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), 200, "{}", answered.text().await.unwrap());
    let (_, view) = call(&server, &planner, "GET", &format!("/vaccination/sessions/{session}"), None).await;
    let offered: Vec<&Value> =
        view["invitations"].as_array().unwrap().iter().filter(|i| i["status"] == "offered").collect();
    assert_eq!(offered.len(), 1, "{view}");
    assert_eq!(offered[0]["person"], json!(young));

    // The vaccinator scans the elder's personal QR (they came anyway, walk-in) and records
    // dose 1; a second dose a week later and a dose numbered 3 are refused with reasons.
    let qr = server.services.personal_qr_token(elder).await.unwrap();
    let (status, vaccinee) = call(
        &server,
        &vaccinator,
        "POST",
        &format!("/vaccination/sites/{site}/vaccinee"),
        Some(json!({"scanned": server.services.personal_qr_url(&qr)})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{vaccinee}");
    assert_eq!((vaccinee["person"].clone(), vaccinee["next_dose_number"].as_u64()), (json!(elder), Some(1)));
    assert_eq!(vaccinee["screening"].as_array().unwrap().len(), 6);
    let given = now() - time::Duration::days(60);
    let dose = |number: u8, at: time::OffsetDateTime, lot: &str| {
        json!({"person": elder, "site": site, "product": "vaxzevria", "lot": lot, "dose_number": number,
            "given_at": at.format(&time::format_description::well_known::Rfc3339).unwrap(), "screening": screening_no()})
    };
    let (status, error) =
        call(&server, &vaccinator, "POST", "/vaccination/doses", Some(dose(1, given, "NOPE01"))).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_lot")));
    let mut deferred = dose(1, given, "AZ0001");
    deferred["screening"]["acute_illness"] = json!(true);
    let (status, error) = call(&server, &vaccinator, "POST", "/vaccination/doses", Some(deferred)).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("deferred")));
    let (status, first) =
        call(&server, &vaccinator, "POST", "/vaccination/doses", Some(dose(1, given, "AZ0001"))).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, error) = call(
        &server,
        &vaccinator,
        "POST",
        "/vaccination/doses",
        Some(dose(2, given + time::Duration::days(7), "AZ0001")),
    )
    .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("too_early")),
        "{error}"
    );
    assert!(error["error"]["message"].as_str().unwrap().contains("56"), "{error}");
    let (status, error) =
        call(&server, &vaccinator, "POST", "/vaccination/doses", Some(dose(3, now(), "AZ0001"))).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("contradicts_history"))
    );
    let (status, second) =
        call(&server, &vaccinator, "POST", "/vaccination/doses", Some(dose(2, now(), "AZ0001"))).await;
    assert_eq!(status, StatusCode::CREATED, "{second}");

    // The citizen sees both doses on their page; coverage counts a full series at 65+.
    let mine: Value = client.get(format!("{}/api/v1/me/doses", server.url)).send().await.unwrap().json().await.unwrap();
    let doses = mine[0]["doses"].as_array().unwrap();
    assert_eq!(doses.iter().map(|d| d["dose_number"].as_u64().unwrap()).collect::<Vec<_>>(), [1, 2], "{mine}");
    let (_, coverage) = call(&server, &planner, "GET", "/vaccination/coverage?unit=00070&days=90", None).await;
    assert_eq!(coverage["total"], json!({"at_least_one": 1, "full_series": 1}), "{coverage}");
    let band =
        coverage["rows"].as_array().unwrap().iter().find(|r| r["dimension"] == "age" && r["bucket"] == "65+").cloned();
    assert_eq!(band.map(|b| b["full_series"].clone()), Some(json!(1)));
    assert_eq!(coverage["days"].as_array().unwrap().iter().map(|d| d["doses"].as_i64().unwrap()).sum::<i64>(), 2);

    // The citizen downloads the second dose's certificate: the same one every time.
    let second_id = second["id"].as_str().unwrap();
    let certificate_of = |id: &str| client.get(format!("{}/api/v1/vaccination/doses/{id}/certificate", server.url));
    let certificate: Value = certificate_of(second_id).send().await.unwrap().json().await.unwrap();
    let again: Value = certificate_of(second_id).send().await.unwrap().json().await.unwrap();
    assert_eq!(certificate["uvci"], again["uvci"], "{certificate} {again}");
    let verify = |hc1: Value| {
        TestServer::client()
            .post(format!("{}/api/v1/certificates/verify", server.url))
            .json(&json!({ "hc1": hc1 }))
            .send()
    };
    let verdict: Value = verify(certificate["hc1"].clone()).await.unwrap().json().await.unwrap();
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert_eq!(
        (verdict["content"]["v"][0]["dn"].as_u64(), verdict["content"]["v"][0]["sd"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(verdict["content"]["v"][0]["mp"], "EU/1/21/1529", "{verdict}");
    // The name corrected on the record: the next download states it, under a new identifier.
    let corrected_name = NewPerson {
        full_name: "Cụ Nguyễn Văn Lảo".into(),
        date_of_birth: "1950-01-01".into(),
        sex: "female".into(),
        phone: Some("0912000888".into()),
        cccd: Some("001150000011".into()),
        address_unit: "00070".into(),
        street: "5 Lý Thái Tổ".into(),
        ..NewPerson::default()
    };
    server.services.update_person(&root(), elder, &corrected_name).await.unwrap();
    let renamed: Value = certificate_of(second_id).send().await.unwrap().json().await.unwrap();
    assert_ne!(renamed["uvci"], certificate["uvci"], "{renamed}");
    let verdict: Value = verify(renamed["hc1"].clone()).await.unwrap().json().await.unwrap();
    assert_eq!(verdict["content"]["nam"]["gnt"], "NGUYEN<VAN<LAO", "{verdict}");
    let stranger = TestServer::client().get(format!("{}/api/v1/vaccination/doses/{second_id}/certificate", server.url));
    assert_eq!(stranger.send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // A correction keeps the history and moves the totals; what the voided dose's
    // certificate said is revoked, and it has no certificate any more.
    let (status, corrected) = call(
        &server,
        &vaccinator,
        "POST",
        &format!("/vaccination/doses/{second_id}/corrections"),
        Some(json!({"void": true, "reason": "ghi nhầm người"})),
    )
    .await;
    assert_eq!((status, corrected["voided"].as_bool()), (StatusCode::OK, Some(true)), "{corrected}");
    let (_, view) = call(&server, &vaccinator, "GET", &format!("/vaccination/doses/{second_id}"), None).await;
    assert_eq!(view["history"][0]["reason"], "ghi nhầm người");
    let verdict: Value = verify(certificate["hc1"].clone()).await.unwrap().json().await.unwrap();
    assert_eq!(verdict["reasons"][0]["code"], "revoked", "{verdict}");
    let refused = certificate_of(second_id).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused: Value = refused.json().await.unwrap();
    assert_eq!(refused["error"]["code"], "voided", "{refused}");
    let province = server.system_token("yte.hn", "health_officer", "01").await;
    let (_, coverage) = call(&server, &province, "GET", "/vaccination/coverage?unit=01", None).await;
    assert_eq!(coverage["total"], json!({"at_least_one": 1, "full_series": 0}), "{coverage}");
    assert!(coverage["children"].as_array().unwrap().iter().any(|c| c["code"] == "00070" && c["at_least_one"] == 1));
}

#[tokio::test]
async fn staff_act_only_within_their_units_and_lookup_reveals_nothing_wrong() {
    let server = TestServer::start().await;
    let planner = server.system_token("ke.hoach", "health_officer", "00070").await;
    let far = server.system_token("tiem.hcm", "vaccinator", "79").await;
    let person = register(&server, "Người Tra Cứu", "0918000111", "001180000021", "1980-04-04").await;
    server
        .services
        .add_lot(
            &root(),
            &serde_json::from_value(
                json!({"lot": "FK1234", "product": "comirnaty", "expires_on": "2030-01-01", "unit": "00070"}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let (_, site) =
        call(&server, &planner, "POST", "/vaccination/sites", Some(json!({"name": "Trạm", "unit": "00070"}))).await;
    let site = site["id"].as_str().unwrap().to_owned();
    let dose = json!({"person": person, "site": site, "product": "comirnaty", "lot": "FK1234", "dose_number": 1,
        "screening": screening_no()});
    assert_eq!(call(&server, &far, "POST", "/vaccination/doses", Some(dose.clone())).await.0, StatusCode::FORBIDDEN);
    let (status, _) =
        call(&server, &far, "POST", "/vaccination/sites", Some(json!({"name": "x", "unit": "00070"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(call(&server, &far, "GET", "/vaccination/coverage?unit=00070", None).await.0, StatusCode::FORBIDDEN);
    assert_eq!(call(&server, &planner, "POST", "/vaccination/doses", Some(dose)).await.0, StatusCode::CREATED);

    // The look-up: a code to the registered phone, nothing on a wrong answer.
    let client = TestServer::client();
    let ask = json!({"cccd": "001180000021", "date_of_birth": "1980-04-04"});
    let sent = client.post(format!("{}/api/v1/lookup/code", server.url)).json(&ask).send().await.unwrap();
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    let code = server.last_code("+84918000111").unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let lookup = |birth: &str, code: &str| {
        client
            .post(format!("{}/api/v1/lookup/doses", server.url))
            .json(&json!({"cccd": "001180000021", "date_of_birth": birth, "code": code}))
            .send()
    };
    assert_eq!(lookup("1980-04-05", &code).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(lookup("1980-04-04", wrong).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    client.post(format!("{}/api/v1/lookup/code", server.url)).json(&ask).send().await.unwrap();
    let code = server.last_code("+84918000111").unwrap();
    let found: Value = lookup("1980-04-04", &code).await.unwrap().json().await.unwrap();
    assert_eq!(found["doses"][0]["product"], "comirnaty", "{found}");
}
