//! Testing through the API: sessions, pooled and individual specimens, lab results one by
//! one and from files, retests, cases, SMS, corrections, dashboards, jurisdictions, and the
//! look-up that reveals nothing on a wrong answer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use outbreak_domain::{NewPerson, PersonId, local_date, now};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{TestServer, call, root};

/// A call with an API token; answers the status and the JSON body.
async fn upload(server: &TestServer, token: &str, name: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let response = TestServer::client()
        .post(format!("{}/api/v1/testing/results/upload?filename={name}", server.url))
        .bearer_auth(token)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

async fn register(server: &TestServer, name: &str, phone: &str, cccd: &str, unit: &str) -> PersonId {
    let person = NewPerson {
        full_name: name.into(),
        date_of_birth: "1990-05-12".into(),
        sex: "female".into(),
        phone: Some(phone.into()),
        cccd: Some(cccd.into()),
        address_unit: unit.into(),
        street: "5 Lý Thái Tổ".into(),
        ..NewPerson::default()
    };
    server.services.register_person(&root(), &person).await.unwrap().id()
}

fn today() -> String {
    local_date(now()).to_string()
}

async fn open_session(server: &TestServer, token: &str, unit: &str, pool_size: Option<i64>) -> String {
    let body = json!({"site": "Trạm Y tế Hàng Trống", "unit": unit, "date": today(), "team": "Tổ 1",
        "test_type": "rt_pcr", "pool_size": pool_size});
    let (status, session) = call(server, token, "POST", "/testing/sessions", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    session["id"].as_str().unwrap().to_owned()
}

async fn take(server: &TestServer, token: &str, session: &str, person: PersonId) -> Value {
    let path = format!("/testing/sessions/{session}/specimens");
    let (status, specimen) = call(server, token, "POST", &path, Some(json!({"person_id": person}))).await;
    assert_eq!(status, StatusCode::CREATED, "{specimen}");
    specimen
}

/// Waits for the notifier to have sent a message containing `text` to `phone`.
async fn wait_for_sms(server: &TestServer, phone: &str, text: &str) -> String {
    for _ in 0..100 {
        if let Some(message) = server.messages(phone).into_iter().find(|m| m.contains(text)) {
            return message;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no SMS with {text:?} reached {phone}: {:?}", server.messages(phone));
}

#[tokio::test]
async fn a_pooled_positive_sends_members_to_retest_and_an_individual_positive_confirms_one_case() {
    let server = TestServer::start().await;
    let sampler = server.system_token("sampler", "sampler", "00070").await;
    let lab = server.system_token("lab", "lab_technician", "01").await;
    let officer = server.system_token("officer", "health_officer", "00070").await;
    let elsewhere = server.system_token("officer.hcm", "health_officer", "26740").await;
    let ha = register(&server, "Nguyễn Thị Hà", "0911111111", "001190000001", "00070").await;
    let lan = register(&server, "Trần Thị Lan", "0911111112", "001190000002", "00070").await;
    let mai = register(&server, "Lê Thị Mai", "0911111113", "001190000003", "00070").await;

    let pooled = open_session(&server, &sampler, "00070", Some(5)).await;
    let first = take(&server, &sampler, &pooled, ha).await;
    let pool = first["pool"]["barcode"].as_str().unwrap().to_owned();
    for person in [lan, mai] {
        assert_eq!(take(&server, &sampler, &pooled, person).await["pool"]["barcode"], pool.as_str());
    }
    let again = format!("/testing/sessions/{pooled}/specimens");
    let (status, error) = call(&server, &sampler, "POST", &again, Some(json!({"person_id": ha}))).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("already_sampled")));
    let (status, _) = call(&server, &sampler, "POST", &format!("/testing/pools/{pool}/close"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let step = |step: &str| json!({"step": step});
    let (status, _) =
        call(&server, &sampler, "POST", &format!("/testing/tubes/{pool}/steps"), Some(step("ship"))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&server, &lab, "POST", &format!("/testing/tubes/{pool}/steps"), Some(step("receive"))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, error) = call(&server, &lab, "POST", &format!("/testing/tubes/{pool}/steps"), Some(step("receive"))).await;
    assert_eq!(error["error"]["code"], "already_received");

    // A member's own tube has no result of its own: the pool's is recorded.
    let member = first["barcode"].as_str().unwrap();
    let results =
        |barcode: &str, result: &str| json!({"results": [{"barcode": barcode, "result": result, "ct": 24.0}]});
    let (_, report) = call(&server, &lab, "POST", "/testing/results", Some(results(member, "positive"))).await;
    assert_eq!(report["results"][0]["code"], "pooled_specimen", "{report}");
    let (_, report) = call(&server, &lab, "POST", "/testing/results", Some(results(&pool, "positive"))).await;
    assert_eq!(report["recorded"], 1, "{report}");
    let (_, tube) = call(&server, &lab, "GET", &format!("/testing/tubes/{pool}"), None).await;
    let conclusions: Vec<&str> =
        tube["members"].as_array().unwrap().iter().map(|m| m["conclusion"].as_str().unwrap()).collect();
    assert_eq!(conclusions, ["retest_individually"; 3]);
    let (_, cases) = call(&server, &officer, "GET", "/cases", None).await;
    assert_eq!(cases.as_array().unwrap().len(), 0, "a pooled positive is nobody's positive");
    let retest = wait_for_sms(&server, "+84911111112", "xet nghiem lai").await;
    assert!(!retest.contains("DUONG TINH"), "{retest}");

    // The retest is an individual tube, linked to the pooled one.
    let single = open_session(&server, &sampler, "00070", None).await;
    let retest = take(&server, &sampler, &single, ha).await;
    assert!(retest["pool"].is_null());
    assert_eq!(retest["retest_of"], first["id"]);
    let label = retest["barcode"].as_str().unwrap().to_owned();
    let (_, report) = call(&server, &lab, "POST", "/testing/results", Some(results(&label, "positive"))).await;
    assert_eq!(
        (report["recorded"].as_u64(), report["results"][0]["cases"].as_array().map(Vec::len)),
        (Some(1), Some(1))
    );
    let (_, report) = call(&server, &lab, "POST", "/testing/results", Some(results(&label, "positive"))).await;
    assert_eq!(report["unchanged"], 1, "the same result again changes nothing");
    let (_, report) = call(&server, &lab, "POST", "/testing/results", Some(results(&label, "negative"))).await;
    assert_eq!(report["results"][0]["code"], "already_resulted");
    wait_for_sms(&server, "+84911111111", "DUONG TINH").await;

    let (_, cases) = call(&server, &officer, "GET", "/cases", None).await;
    let cases = cases.as_array().unwrap().clone();
    assert_eq!(cases.len(), 1);
    assert_eq!(
        (cases[0]["person"].as_str(), cases[0]["full_name"].as_str()),
        (Some(&*ha.to_string()), Some("Nguyễn Thị Hà"))
    );
    let (_, other) = call(&server, &elsewhere, "GET", "/cases", None).await;
    assert_eq!(other.as_array().unwrap().len(), 0, "another commune sees none of it");

    let (_, dashboard) = call(&server, &officer, "GET", "/testing/dashboard?unit=00070", None).await;
    let totals = (&dashboard["totals"]["collected"], &dashboard["totals"]["positive"], &dashboard["totals"]["retest"]);
    assert_eq!(totals, (&json!(4), &json!(1), &json!(3)), "{dashboard}");
    assert_eq!(dashboard["pending"], 0);
    let national = server.system_token("national", "admin", "VN").await;
    let (status, _) = call(&server, &lab, "GET", "/testing/dashboard?unit=VN", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a provincial lab sees its province, not the country");
    let (_, country) = call(&server, &national, "GET", "/testing/dashboard?unit=VN", None).await;
    assert_eq!(country["totals"]["collected"], 4, "{country}");
    let hanoi = country["children"].as_array().unwrap().iter().find(|c| c["code"] == "01").unwrap().clone();
    assert_eq!(hanoi["collected"], 4);

    // A correction keeps the history and discards the case the positive confirmed.
    let correction = json!({"barcode": label, "result": "negative", "reason": "mẫu bị nhầm ống"});
    let (status, item) = call(&server, &lab, "POST", "/testing/results/corrections", Some(correction)).await;
    assert_eq!((status, item["status"].as_str()), (StatusCode::OK, Some("recorded")), "{item}");
    let (_, tube) = call(&server, &lab, "GET", &format!("/testing/tubes/{label}"), None).await;
    assert_eq!(tube["history"].as_array().unwrap().len(), 2);
    assert_eq!(tube["history"][1]["correction"], "mẫu bị nhầm ống");
    let (_, cases) = call(&server, &officer, "GET", "/cases", None).await;
    assert_eq!(cases[0]["status"], "discarded");
}

#[tokio::test]
async fn a_results_file_stores_good_rows_reports_bad_ones_and_is_idempotent() {
    let server = TestServer::start().await;
    let sampler = server.system_token("sampler", "sampler", "00070").await;
    let lab = server.system_token("lab", "lab_technician", "01").await;
    let session = open_session(&server, &sampler, "00070", None).await;
    let mut labels = Vec::new();
    for (i, name) in ["Phạm Văn An", "Đỗ Thị Bình", "Vũ Văn Cường", "Hoàng Thị Dung"].into_iter().enumerate()
    {
        let person = register(&server, name, &format!("091222222{i}"), &format!("00119000001{i}"), "00070").await;
        labels.push(take(&server, &sampler, &session, person).await["barcode"].as_str().unwrap().to_owned());
    }
    let unknown = outbreak_domain::testing::Barcode::new(outbreak_domain::testing::BarcodeKind::Specimen, 42);
    let mut typo = labels[2].clone();
    typo.replace_range(5..6, if &typo[5..6] == "7" { "8" } else { "7" });
    // A local time just after the swabs, as a lab's software prints it.
    let read = (now() + time::Duration::minutes(2)).to_offset(outbreak_domain::VIETNAM);
    let read = format!("{} {:02}:{:02}", read.date(), read.hour(), read.minute());
    let csv = format!(
        "Mã ống,Kết quả,Ct,Thời gian trả kết quả\n{},Âm tính,,\n{},dương tính,\"23,5\",{read}\n{unknown},âm tính,,\n{},có thể,,\n{typo},âm tính,,\n",
        labels[0], labels[1], labels[2]
    );
    let (status, report) = upload(&server, &lab, "ket-qua.csv", csv.clone().into_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (report["rows"].as_u64(), report["recorded"].as_u64(), report["refused"].as_u64()),
        (Some(5), Some(2), Some(3))
    );
    let problems: Vec<(u64, &str)> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["index"].as_u64().unwrap(), p["code"].as_str().unwrap()))
        .collect();
    assert_eq!(problems, [(4, "unknown_barcode"), (5, "invalid_value"), (6, "invalid_barcode")], "{report}");
    let (_, again) = upload(&server, &lab, "ket-qua.csv", csv.into_bytes()).await;
    assert_eq!(
        (again["recorded"].as_u64(), again["unchanged"].as_u64(), again["refused"].as_u64()),
        (Some(0), Some(2), Some(3))
    );
    let (_, tube) = call(&server, &lab, "GET", &format!("/testing/tubes/{}", labels[1]), None).await;
    assert_eq!(
        (tube["specimen"]["conclusion"].as_str(), tube["specimen"]["ct"].as_f64()),
        (Some("positive"), Some(23.5))
    );
    assert_eq!(tube["history"].as_array().unwrap().len(), 1, "the second upload added no history");

    // Excel's Vietnamese code page, as old lab software writes it.
    let legacy = format!("Ma ong;Ket qua\r\n{};Âm tính\r\n", labels[2]);
    let (bytes, _, _) = encoding_rs::WINDOWS_1258.encode(&legacy);
    let (status, report) = upload(&server, &lab, "kq.csv", bytes.into_owned()).await;
    assert_eq!((status, report["recorded"].as_u64()), (StatusCode::OK, Some(1)), "{report}");

    // An XLSX sheet.
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write(0, 0, "Barcode").unwrap();
    sheet.write(0, 1, "Result").unwrap();
    sheet.write(1, 0, labels[3].as_str()).unwrap();
    sheet.write(1, 1, "negative").unwrap();
    let (status, report) = upload(&server, &lab, "results.xlsx", book.save_to_buffer().unwrap()).await;
    assert_eq!((status, report["recorded"].as_u64()), (StatusCode::OK, Some(1)), "{report}");

    // Files that are not tables get a clear refusal and change nothing.
    for (name, bytes, code) in [
        ("old.xls", vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0, 0, 0], "legacy_xls"),
        ("empty.csv", Vec::new(), "empty_file"),
        ("no-columns.csv", b"name,phone\nAn,0912\n".to_vec(), "missing_column"),
    ] {
        let (status, error) = upload(&server, &lab, name, bytes).await;
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code)),
            "{name}: {error}"
        );
    }
    let (_, dashboard) = call(&server, &lab, "GET", "/testing/dashboard?unit=00070", None).await;
    assert_eq!(
        (dashboard["totals"]["negative"].as_u64(), dashboard["pending"].as_u64()),
        (Some(3), Some(0)),
        "{dashboard}"
    );
}

#[tokio::test]
async fn labs_and_samplers_act_only_within_their_units() {
    let server = TestServer::start().await;
    let sampler = server.system_token("sampler", "sampler", "00070").await;
    let far_sampler = server.system_token("sampler.hcm", "sampler", "26740").await;
    let far_lab = server.system_token("lab.hcm", "lab_technician", "79").await;
    let person = register(&server, "Ngô Thị Hoa", "0913333333", "001190000020", "00070").await;
    let session = open_session(&server, &sampler, "00070", None).await;
    let label = take(&server, &sampler, &session, person).await["barcode"].as_str().unwrap().to_owned();

    let (status, _) = call(
        &server,
        &far_sampler,
        "POST",
        &format!("/testing/sessions/{session}/specimens"),
        Some(json!({"person_id": person})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let body = json!({"site": "x", "unit": "00070", "date": today(), "test_type": "rt_pcr"});
    assert_eq!(call(&server, &far_sampler, "POST", "/testing/sessions", Some(body)).await.0, StatusCode::FORBIDDEN);
    let (_, report) = call(
        &server,
        &far_lab,
        "POST",
        "/testing/results",
        Some(json!({"results": [{"barcode": label, "result": "positive"}]})),
    )
    .await;
    assert_eq!(report["results"][0]["code"], "outside_jurisdiction", "{report}");
    assert_eq!(call(&server, &far_lab, "GET", &format!("/testing/tubes/{label}"), None).await.0, StatusCode::FORBIDDEN);
    let (_, open) = call(&server, &far_lab, "GET", "/testing/specimens/open", None).await;
    assert_eq!(open.as_array().unwrap().len(), 0);
    let (status, _) = call(&server, &far_lab, "GET", "/testing/dashboard?unit=00070", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Bad input a new user would try: a closed session, a tube label typed wrong, a Ct on a
    // rapid test, a future result.
    let (status, _) = call(&server, &sampler, "POST", &format!("/testing/sessions/{session}/close"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let other = register(&server, "Bùi Văn Tú", "0913333334", "001190000021", "00070").await;
    let (_, error) = call(
        &server,
        &sampler,
        "POST",
        &format!("/testing/sessions/{session}/specimens"),
        Some(json!({"person_id": other})),
    )
    .await;
    assert_eq!(error["error"]["code"], "session_closed");
    let (_, error) = call(&server, &sampler, "GET", "/testing/tubes/S12345", None).await;
    assert_eq!(error["error"]["code"], "invalid_barcode");
    let lab = server.system_token("lab", "lab_technician", "00070").await;
    let future = (now() + time::Duration::hours(2)).format(&time::format_description::well_known::Rfc3339).unwrap();
    let (_, report) = call(
        &server,
        &lab,
        "POST",
        "/testing/results",
        Some(json!({"results": [{"barcode": label, "result": "negative", "resulted_at": future}]})),
    )
    .await;
    assert_eq!(report["results"][0]["code"], "in_future", "{report}");
    let body = json!({"site": "x", "unit": "00070", "date": today(), "test_type": "rapid_antigen", "pool_size": 5});
    let (_, error) = call(&server, &sampler, "POST", "/testing/sessions", Some(body)).await;
    assert_eq!(error["error"]["field"], "pool_size");
}

#[tokio::test]
async fn a_six_swab_session_of_pools_of_five_opens_a_second_pool() {
    let server = TestServer::start().await;
    let sampler = server.system_token("sampler", "sampler", "00070").await;
    let session = open_session(&server, &sampler, "00070", Some(5)).await;
    let mut pools = Vec::new();
    for i in 0..6 {
        let person =
            register(&server, "Người Thử", &format!("09144444{i:02}"), &format!("0011900001{i:02}"), "00070").await;
        pools.push(take(&server, &sampler, &session, person).await["pool"]["barcode"].as_str().unwrap().to_owned());
    }
    assert!(pools[..5].iter().all(|p| *p == pools[0]));
    assert_ne!(pools[5], pools[0], "a full pool takes no sixth swab");
    let (_, view) = call(&server, &sampler, "GET", &format!("/testing/sessions/{session}"), None).await;
    let sizes: Vec<(u64, bool)> = view["pools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["members"].as_u64().unwrap(), p["closed"].as_bool().unwrap()))
        .collect();
    assert_eq!(sizes, [(1, false), (5, true)]);
}

#[tokio::test]
async fn a_result_look_up_reveals_nothing_on_a_wrong_answer() {
    let server = TestServer::start().await;
    let sampler = server.system_token("sampler", "sampler", "00070").await;
    let lab = server.system_token("lab", "lab_technician", "00070").await;
    let person = register(&server, "Đặng Thị Thu", "0915555555", "001190000030", "00070").await;
    let session = open_session(&server, &sampler, "00070", None).await;
    let label = take(&server, &sampler, &session, person).await["barcode"].as_str().unwrap().to_owned();
    call(
        &server,
        &lab,
        "POST",
        "/testing/results",
        Some(json!({"results": [{"barcode": label, "result": "negative"}]})),
    )
    .await;
    let client = TestServer::client();
    let post = |path: &str, body: Value| client.post(format!("{}/api/v1{path}", server.url)).json(&body).send();

    let wrong = post("/lookup/code", json!({"cccd": "001190000030", "date_of_birth": "1991-05-12"})).await.unwrap();
    assert_eq!(wrong.status(), StatusCode::ACCEPTED);
    let wrong: Value = wrong.json().await.unwrap();
    assert!(server.last_code("+84915555555").is_none(), "no code for a wrong date of birth");
    let right = post("/lookup/code", json!({"cccd": "001190000030", "date_of_birth": "1990-05-12"})).await.unwrap();
    assert_eq!(right.status(), StatusCode::ACCEPTED);
    assert_eq!(right.json::<Value>().await.unwrap(), wrong, "the same answer either way");
    let code = server.last_code("+84915555555").expect("a code was sent");
    let bad = post("/lookup/results", json!({"cccd": "001190000030", "date_of_birth": "1990-05-12", "code": "000000"}))
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    let other = post("/lookup/results", json!({"cccd": "001190000031", "date_of_birth": "1990-05-12", "code": code}))
        .await
        .unwrap();
    let (other_status, other_body): (StatusCode, Value) = (other.status(), other.json().await.unwrap());
    assert_eq!(other_status, StatusCode::UNAUTHORIZED);
    let good = post("/lookup/results", json!({"cccd": "001190000030", "date_of_birth": "1990-05-12", "code": code}))
        .await
        .unwrap();
    assert_eq!(good.status(), StatusCode::OK);
    let results: Value = good.json().await.unwrap();
    assert_eq!(results["specimens"][0]["conclusion"], "negative");
    assert!(!other_body.to_string().contains("Đặng"));
    let malformed = post("/lookup/code", json!({"cccd": "12", "date_of_birth": "1990-05-12"})).await.unwrap();
    assert_eq!(malformed.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn the_dashboard_stream_sends_new_totals_when_a_result_arrives() {
    let server = TestServer::start().await;
    let sampler = server.system_token("sampler", "sampler", "00070").await;
    let lab = server.system_token("lab", "lab_technician", "00070").await;
    let person = register(&server, "Kiều Thị Nga", "0916666666", "001190000040", "00070").await;
    let session = open_session(&server, &sampler, "00070", None).await;
    let label = take(&server, &sampler, &session, person).await["barcode"].as_str().unwrap().to_owned();
    let mut stream = TestServer::client()
        .get(format!("{}/api/v1/testing/dashboard/stream?unit=00070", server.url))
        .bearer_auth(&lab)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let mut seen = String::new();
    let mut next_event = async || loop {
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.chunk()).await.unwrap().unwrap().unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(end) = seen.find("\n\n") {
            let event: String = seen.drain(..end + 2).collect();
            if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                return serde_json::from_str::<Value>(data).unwrap();
            }
        }
    };
    let first = next_event().await;
    assert_eq!((first["pending"].as_u64(), first["totals"]["positive"].as_u64()), (Some(1), Some(0)));
    call(
        &server,
        &lab,
        "POST",
        "/testing/results",
        Some(json!({"results": [{"barcode": label, "result": "positive"}]})),
    )
    .await;
    let second = next_event().await;
    assert_eq!((second["pending"].as_u64(), second["totals"]["positive"].as_u64()), (Some(0), Some(1)));
}
