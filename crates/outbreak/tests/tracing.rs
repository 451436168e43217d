//! Contact tracing through the API: a case's F1s at a venue and at home, an F1's F2 on a
//! bus, tracing again, SMS to contacts, the tracers' queues by province, follow-up statuses,
//! named contacts, and the bad input a new tracer tries.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use outbreak_domain::testing::{CaseId, CaseStatus};
use outbreak_domain::venue::NewVenue;
use outbreak_domain::{NewPerson, PersonId, Unit, UnitCode, now};
use outbreak_store::{Case, NewCheckin, Venue};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{TestServer, call, root};
use time::OffsetDateTime;
use uuid::Uuid;

/// A call with an API token; answers the status and the JSON body.
async fn register(server: &TestServer, name: &str, phone: &str, unit: &str, household: Option<&str>) -> PersonId {
    let person = NewPerson {
        full_name: name.into(),
        date_of_birth: "1985-02-03".into(),
        sex: "male".into(),
        phone: Some(phone.into()),
        address_unit: unit.into(),
        street: "7 Hàng Đường".into(),
        household: household.map(Into::into),
        ..NewPerson::default()
    };
    server.services.register_person(&root(), &person).await.unwrap().id()
}

/// A household unit `00070.TDP1.<local>` in Hoàn Kiếm.
async fn household(server: &TestServer, local: &str) -> String {
    let store = &server.services.store;
    let hamlet_code = UnitCode::parse("unit", "00070.TDP1").unwrap();
    let hamlet = match store.unit(&hamlet_code).await.unwrap() {
        Some(hamlet) => hamlet,
        None => {
            let commune = store.unit(&UnitCode::parse("unit", "00070").unwrap()).await.unwrap().unwrap();
            let hamlet = Unit::new_child(&commune, "TDP1", "Tổ dân phố 1", "").unwrap();
            store.insert_unit(&hamlet).await.unwrap();
            hamlet
        }
    };
    let household = Unit::new_child(&hamlet, local, &format!("Hộ {local}"), "").unwrap();
    store.insert_unit(&household).await.unwrap();
    household.code.to_string()
}

async fn venue(server: &TestServer, name: &str, kind: &str) -> Venue {
    let input = NewVenue {
        name: name.into(),
        kind: kind.into(),
        plate: (kind == "bus").then(|| "29B-123.45".into()),
        unit: "00070".into(),
        address: "Phố Hàng Da".into(),
        contact_phone: "0912999999".into(),
    };
    server.services.register_venue(&root(), &input).await.unwrap()
}

/// A visitor key: a person's id, or `tel:` and a phone.
fn key(person: PersonId) -> String {
    person.to_string()
}

/// Stores a stay at `venue` from `from` to `to` minutes after `t0`, as a gate system would
/// have reported it.
async fn stay(server: &TestServer, venue: &Venue, visitor: &str, t0: OffsetDateTime, from: i64, to: i64) {
    let known = visitor.parse::<Uuid>().is_ok();
    let checkin = NewCheckin {
        venue: venue.id,
        visitor: visitor.into(),
        name: if known { String::new() } else { "Khách lẻ".into() },
        at: t0 + time::Duration::minutes(from),
        until: t0 + time::Duration::minutes(to),
        source: "api".into(),
        client_key: None,
    };
    server.services.store.record_checkins(vec![checkin], time::Duration::ZERO, vec![]).await.unwrap();
}

/// A case confirmed now for `person` of Hoàn Kiếm, with symptoms since yesterday.
async fn confirm(server: &TestServer, person: PersonId) -> CaseId {
    let confirmed_at = now();
    let case = Case {
        id: CaseId(Uuid::now_v7()),
        person,
        unit: UnitCode::parse("unit", "00070").unwrap(),
        unit_path: "/VN/01/00070/".into(),
        source: "staff".into(),
        specimen: None,
        sample_date: None,
        onset_date: Some(outbreak_domain::local_date(confirmed_at) - time::Duration::days(1)),
        confirmed_at,
        status: CaseStatus::Confirmed,
        note: "Bệnh viện báo".into(),
    };
    server.services.store.insert_case(&case).await.unwrap();
    case.id
}

/// Waits for the case's contacts to number `f1` and `f2` (tracing runs by itself).
async fn wait_for_contacts(server: &TestServer, token: &str, case: CaseId, f1: u64, f2: u64) -> Value {
    let mut last = Value::Null;
    for _ in 0..150 {
        let (status, contacts) = call(server, token, "GET", &format!("/cases/{case}/contacts"), None).await;
        assert_eq!(status, StatusCode::OK, "{contacts}");
        if contacts["f1"] == f1 && contacts["f2"] == f2 {
            return contacts;
        }
        last = contacts;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the case's contacts did not reach {f1} F1 and {f2} F2: {last}");
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

fn contact_of<'a>(contacts: &'a Value, visitor: &str) -> &'a Value {
    contacts["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["visitor"] == visitor)
        .unwrap_or_else(|| panic!("{visitor} is not a contact: {contacts}"))
}

fn visitors(contacts: &Value) -> Vec<String> {
    let mut listed: Vec<String> =
        contacts.as_array().unwrap().iter().map(|c| c["visitor"].as_str().unwrap().to_owned()).collect();
    listed.sort();
    listed
}

/// The whole flow on one store: the same on SQLite and PostgreSQL.
async fn a_case_is_traced_to_its_contacts_and_they_are_followed_up(server: TestServer) {
    let hanoi = server.system_token("tracer.hn", "tracer", "01").await;
    let saigon = server.system_token("tracer.hcm", "tracer", "79").await;
    let home = household(&server, "H1").await;
    let f0 = register(&server, "Nguyễn Văn Ca", "0911000001", "00070", Some(&home)).await;
    let spouse = register(&server, "Nguyễn Thị Hộ", "0911000002", "00070", Some(&home)).await;
    let trader = register(&server, "Trần Văn Buôn", "0911000003", "26740", None).await;
    let rider = register(&server, "Lê Văn Xe", "0911000005", "00070", None).await;
    let market = venue(&server, "Chợ Hàng Da", "market").await;
    let bus = venue(&server, "Xe buýt số 9", "bus").await;

    let t0 = now() - time::Duration::days(1);
    stay(&server, &market, &key(f0), t0, 0, 60).await;
    stay(&server, &market, &key(trader), t0, 30, 60).await; // 30 minutes with the case
    stay(&server, &market, "tel:+84911000004", t0, 65, 120).await; // 5 minutes after the case left
    stay(&server, &market, "tel:+84911000006", t0, 130, 180).await; // after everyone had left
    stay(&server, &bus, &key(trader), t0, 180, 240).await; // the trader rides on, later
    stay(&server, &bus, &key(rider), t0, 210, 270).await;

    // Tracing runs by itself once the case is confirmed, and the contacts hear of it.
    let case = confirm(&server, f0).await;
    let contacts = wait_for_contacts(&server, &hanoi, case, 3, 1).await;
    let at_home = contact_of(&contacts, &key(spouse));
    assert_eq!((at_home["generation"].as_u64(), at_home["kind"].as_str()), (Some(1), Some("household")));
    assert_eq!(at_home["evidence"], json!({"kind": "household", "household": home}));
    assert_eq!(at_home["status"], "identified");
    let met = contact_of(&contacts, &key(trader));
    assert_eq!((met["kind"].as_str(), met["name"].as_str()), (Some("venue"), Some("Trần Văn Buôn")));
    assert_eq!(met["unit_path"], "/VN/79/26740/", "followed up where they live");
    let encounter = &met["evidence"]["encounters"][0];
    assert_eq!(
        (encounter["code"].as_str(), encounter["overlap_minutes"].as_i64()),
        (Some(market.code.as_str()), Some(30))
    );
    assert_eq!(met["phone"], "+84911000003");
    assert_eq!(met["test_days"].as_array().unwrap().len(), 2);
    let walk_in = contact_of(&contacts, "tel:+84911000004");
    assert_eq!((walk_in["person"].clone(), walk_in["unit_path"].as_str()), (Value::Null, Some("/VN/01/00070/")));
    assert_eq!(walk_in["evidence"]["encounters"][0]["overlap_minutes"], 0, "met within the market's margin");
    let second = contact_of(&contacts, &key(rider));
    assert_eq!((second["generation"].as_u64(), &second["via"]), (Some(2), &met["id"]));
    assert_eq!(second["evidence"]["encounters"][0]["code"], bus.code.as_str());
    assert_eq!(contacts["contacts"].as_array().unwrap().len(), 4, "the late shopper is no contact");

    let f1_sms = wait_for_sms(&server, "+84911000003", "tiep xuc gan").await;
    assert!(f1_sms.contains("self-isolate") && !f1_sms.contains("NGUYEN"), "the case is not named: {f1_sms}");
    wait_for_sms(&server, "+84911000002", "tiep xuc gan").await;
    wait_for_sms(&server, "+84911000004", "tiep xuc gan").await;
    wait_for_sms(&server, "+84911000005", "(F1)").await;
    assert!(server.messages("+84911000006").is_empty());
    assert!(server.messages("+84911000001").is_empty(), "the case is not its own contact");

    // Each reads their own follow-up through the API once signed in: the trader as a
    // person, the walk-in by the phone they checked in with. The case is not named.
    let own = |phone: &'static str| {
        let server = &server;
        async move {
            let citizen = TestServer::client();
            let url = |path: &str| format!("{}/api/v1{path}", server.url);
            citizen.post(url("/auth/code")).json(&json!({"phone": phone})).send().await.unwrap();
            let code = server.last_code(phone).unwrap();
            let verified = citizen
                .post(url("/auth/code/verify"))
                .json(&json!({"phone": phone, "code": code}))
                .send()
                .await
                .unwrap();
            assert_eq!(verified.status(), StatusCode::OK);
            citizen.get(url("/me/contacts")).send().await.unwrap().json::<Value>().await.unwrap()
        }
    };
    let trader_sees = own("+84911000003").await;
    assert_eq!(trader_sees[0]["how"], "close_contact");
    assert_eq!(
        (trader_sees[0]["full_name"].as_str(), trader_sees[0]["venue"].as_str()),
        (Some("Trần Văn Buôn"), Some("Chợ Hàng Da"))
    );
    assert!(!trader_sees.to_string().contains("Nguyễn Văn Ca"), "{trader_sees}");
    let walk_in_sees = own("+84911000004").await;
    assert_eq!((walk_in_sees.as_array().unwrap().len(), walk_in_sees[0]["how"].as_str()), (1, Some("close_contact")));

    // Tracing again on demand finds the same people and adds nobody.
    let (status, report) = call(&server, &hanoi, "POST", &format!("/cases/{case}/trace"), None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (report["f1"].as_u64(), report["f2"].as_u64(), report["new_f1"].as_u64(), report["new_f2"].as_u64()),
        (Some(3), Some(1), Some(0), Some(0)),
        "{report}"
    );
    assert_eq!(report["checkins"], 1);
    // A run records its F1s, then its F2s, and the audit log says what each added.
    let auditor = server.system_token("auditor", "admin", "VN").await;
    let (_, runs) = call(&server, &auditor, "GET", "/audit?actor=tracer.hn&action=case.trace", None).await;
    let details: Vec<&str> = runs.as_array().unwrap().iter().filter_map(|e| e["detail"].as_str()).collect();
    assert_eq!(details, ["1 F2 found; 0 new", "3 F1 found; 0 new"], "newest first");
    assert_eq!(report["venues"][0]["code"], market.code.as_str());
    assert_eq!((report["venues"][0]["visitors"].as_u64(), report["venues"][0]["listed"].as_u64()), (Some(2), Some(2)));
    // A gate's batch arrives late: tracing again adds the one new contact only.
    stay(&server, &market, "tel:+84911000007", t0, 10, 40).await;
    let (_, report) = call(&server, &hanoi, "POST", &format!("/cases/{case}/trace"), None).await;
    assert_eq!(
        (report["f1"].as_u64(), report["new_f1"].as_u64(), report["new_f2"].as_u64()),
        (Some(4), Some(1), Some(0))
    );
    let (_, report) = call(&server, &hanoi, "POST", &format!("/cases/{case}/trace"), None).await;
    assert_eq!((report["new_f1"].as_u64(), report["new_f2"].as_u64()), (Some(0), Some(0)));
    wait_for_sms(&server, "+84911000007", "tiep xuc gan").await;

    // Each province's tracers see the contacts who live there; the case stays Hanoi's.
    let (status, queue) = call(&server, &saigon, "GET", "/contacts", None).await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    assert_eq!(visitors(&queue), [key(trader)]);
    let (_, queue) = call(&server, &hanoi, "GET", "/contacts", None).await;
    let mut expected = vec![key(spouse), key(rider), "tel:+84911000004".to_owned(), "tel:+84911000007".to_owned()];
    expected.sort();
    assert_eq!(visitors(&queue), expected);
    for path in [format!("/cases/{case}/contacts"), format!("/cases/{case}/trace")] {
        let method = if path.ends_with("trace") { "POST" } else { "GET" };
        let (status, error) = call(&server, &saigon, method, &path, None).await;
        assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{path}");
    }

    // The Saigon tracer follows the trader up; Hanoi sees how it stands.
    let trader_contact = met["id"].as_str().unwrap().to_owned();
    let update = |status: &str, note: &str| Some(json!({"status": status, "note": note}));
    let path = format!("/contacts/{trader_contact}");
    let (status, moved) = call(&server, &saigon, "PUT", &path, update("notified", "đã gọi điện")).await;
    assert_eq!((status, moved["status"].as_str()), (StatusCode::OK, Some("notified")), "{moved}");
    let (status, error) = call(&server, &saigon, "PUT", &path, update("released", "")).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("bad_transition")));
    assert!(error["error"]["message"].as_str().unwrap().contains("quarantining"), "{error}");
    let (status, moved) = call(&server, &saigon, "PUT", &path, update("quarantining", "cách ly tại nhà")).await;
    assert_eq!((status, moved["note"].as_str()), (StatusCode::OK, Some("cách ly tại nhà")));
    let (status, _) = call(&server, &hanoi, "PUT", &path, update("tested", "")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the trader is Saigon's to follow up");
    let (_, contacts) = call(&server, &hanoi, "GET", &format!("/cases/{case}/contacts"), None).await;
    assert_eq!(contact_of(&contacts, &key(trader))["status"], "quarantining");
    let counts = contacts["counts"].as_array().unwrap();
    assert!(counts.contains(&json!({"generation": 1, "status": "quarantining", "contacts": 1})), "{counts:?}");
    let (_, queue) = call(&server, &saigon, "GET", "/contacts?status=quarantining", None).await;
    assert_eq!(visitors(&queue), [key(trader)]);
    let (_, queue) = call(&server, &saigon, "GET", "/contacts?status=identified", None).await;
    assert!(visitors(&queue).is_empty());

    // Bad input changes nothing.
    let (status, error) = call(&server, &hanoi, "GET", "/contacts?status=cured", None).await;
    assert_eq!((status, error["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("status")));
    let spouse_path = format!("/contacts/{}", at_home["id"].as_str().unwrap());
    let (status, error) = call(&server, &hanoi, "PUT", &spouse_path, update("released", "")).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("bad_transition")));
    let (status, _) = call(&server, &hanoi, "PUT", &spouse_path, update("cured", "")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let nobody = format!("/contacts/{}", Uuid::now_v7());
    assert_eq!(call(&server, &hanoi, "PUT", &nobody, update("notified", "")).await.0, StatusCode::NOT_FOUND);
    let (_, contacts) = call(&server, &hanoi, "GET", &format!("/cases/{case}/contacts"), None).await;
    assert_eq!(contact_of(&contacts, &key(spouse))["status"], "identified");
}

#[tokio::test]
async fn a_case_is_traced_on_sqlite() {
    a_case_is_traced_to_its_contacts_and_they_are_followed_up(TestServer::start().await).await;
}

#[tokio::test]
async fn a_case_is_traced_on_postgres() {
    a_case_is_traced_to_its_contacts_and_they_are_followed_up(TestServer::start_postgres().await).await;
}

#[tokio::test]
async fn a_case_without_checkins_gets_an_empty_but_clear_report() {
    let server = TestServer::start().await;
    let officer = server.system_token("officer.hk", "health_officer", "00070").await;
    let sampler = server.system_token("sampler.hk", "sampler", "00070").await;
    let loner = register(&server, "Phạm Văn Một", "0911000020", "00070", None).await;
    let case = confirm(&server, loner).await;
    let (status, report) = call(&server, &officer, "POST", &format!("/cases/{case}/trace"), None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (report["f1"].as_u64(), report["f2"].as_u64(), report["checkins"].as_u64()),
        (Some(0), Some(0), Some(0))
    );
    assert_eq!(report["venues"], json!([]));
    assert!(report["summary"].as_str().unwrap().contains("no check-ins in its infectious window"), "{report}");
    assert!(report["window"]["from"].as_str().unwrap() < report["window"]["until"].as_str().unwrap());

    let (status, _) = call(&server, &officer, "POST", &format!("/cases/{}/trace", Uuid::now_v7()), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(&server, &sampler, "POST", &format!("/cases/{case}/trace"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "samplers do not trace");
    let (status, _) = call(&server, &sampler, "GET", "/contacts", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_case_names_its_contacts_once() {
    let server = TestServer::start().await;
    let tracer = server.system_token("tracer.hk", "tracer", "00070").await;
    let elsewhere = server.system_token("tracer.hcm", "tracer", "79").await;
    let f0 = register(&server, "Đỗ Văn Kể", "0911000030", "00070", None).await;
    let friend = register(&server, "Vũ Thị Bạn", "0911000031", "26740", None).await;
    let case = confirm(&server, f0).await;
    let path = format!("/cases/{case}/contacts");

    let named = json!({"visitor": {"person_id": friend}, "note": "ăn tối cùng nhau"});
    let (status, contact) = call(&server, &tracer, "POST", &path, Some(named.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{contact}");
    assert_eq!((contact["kind"].as_str(), contact["generation"].as_u64()), (Some("named"), Some(1)));
    assert_eq!(contact["evidence"], json!({"kind": "named", "by": "tracer.hk", "note": "ăn tối cùng nhau"}));
    assert_eq!(contact["unit_path"], "/VN/79/26740/");
    let (status, error) = call(&server, &tracer, "POST", &path, Some(named)).await;
    assert_eq!((status, error["error"]["existing_id"].clone()), (StatusCode::CONFLICT, contact["id"].clone()));
    wait_for_sms(&server, "+84911000031", "tiep xuc gan").await;

    let by_phone =
        json!({"visitor": {"phone": "0911000032", "name": "Anh xe ôm"}, "exposed_at": "2020-01-01T00:00:00Z"});
    let (status, contact) = call(&server, &tracer, "POST", &path, Some(by_phone)).await;
    assert_eq!(status, StatusCode::CREATED, "{contact}");
    assert_eq!((contact["visitor"].as_str(), contact["name"].as_str()), (Some("tel:+84911000032"), Some("Anh xe ôm")));
    assert_eq!(contact["unit_path"], "/VN/01/00070/", "the case's tracers follow up a phone");

    let cases = [
        (json!({"visitor": {"person_id": f0}}), "is_the_case"),
        (json!({"visitor": {}}), "one_of"),
        (json!({"visitor": {"phone": "0911000033"}, "exposed_at": "2999-01-01T00:00:00Z"}), "in_future"),
    ];
    for (body, code) in cases {
        let (status, error) = call(&server, &tracer, "POST", &path, Some(body.clone())).await;
        assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(code)), "{body}");
    }
    let (status, _) = call(&server, &elsewhere, "POST", &path, Some(json!({"visitor": {"phone": "0911000034"}}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, contacts) = call(&server, &tracer, "GET", &path, None).await;
    assert_eq!((contacts["f1"].as_u64(), contacts["contacts"].as_array().map(Vec::len)), (Some(2), Some(2)));
}

/// At a hub the report lists the longest co-presences up to the cap and counts the rest.
/// Services of their own on a fresh SQLite store, configured by `adjust`, with no notifier
/// tracing on its own: a test traces when it says so.
async fn own_services(name: &str, adjust: impl FnOnce(&mut outbreak_services::Config)) -> outbreak_services::Services {
    let dir = outbreak_testkit::scratch_dir(name);
    let store = outbreak_store::open(dir.join("store.sqlite").to_str().unwrap()).await.unwrap();
    store.seed_units(&outbreak_domain::unit::national_units()).await.unwrap();
    let sms = dir.join("sms.log");
    let mut config = outbreak_services::Config::new("http://localhost", &sms);
    adjust(&mut config);
    outbreak_services::Services::new(store, std::sync::Arc::new(outbreak_services::sms::LogGateway::new(sms)), config)
}

/// A resident of Hoàn Kiếm with a phone, registered on `services`.
async fn resident(services: &outbreak_services::Services, name: &str, phone: &str) -> PersonId {
    let person = NewPerson {
        full_name: name.into(),
        date_of_birth: "1970-01-01".into(),
        sex: "male".into(),
        phone: Some(phone.into()),
        address_unit: "00070".into(),
        street: "1 Hàng Bè".into(),
        ..NewPerson::default()
    };
    services.register_person(&root(), &person).await.unwrap().id()
}

#[tokio::test]
async fn a_hub_lists_the_longest_co_presences_and_counts_the_rest() {
    // A small cap.
    let services = own_services("hub", |config| config.tracing.hub_cap = 3).await;
    let f0 = resident(&services, "Hoàng Văn Chợ", "0911000040").await;
    let market = NewVenue {
        name: "Chợ Đồng Xuân".into(),
        kind: "market".into(),
        unit: "00070".into(),
        contact_phone: "0912999998".into(),
        ..NewVenue::default()
    };
    let market = services.register_venue(&root(), &market).await.unwrap();
    let t0 = now() - time::Duration::hours(20);
    let visit = |visitor: String, from: i64, to: i64| NewCheckin {
        venue: market.id,
        visitor,
        name: "Khách".into(),
        at: t0 + time::Duration::minutes(from),
        until: t0 + time::Duration::minutes(to),
        source: "api".into(),
        client_key: None,
    };
    // Visitor n shares n × 5 minutes with the case.
    let mut visits = vec![visit(key(f0), 0, 60)];
    visits.extend((1..=8).map(|n| visit(format!("tel:+8491100010{n}"), 60 - 5 * n, 120)));
    services.store.record_checkins(visits, time::Duration::ZERO, vec![]).await.unwrap();
    let case = confirm_with(&services, f0).await;

    let report = services.trace_case(&root(), case).await.unwrap();
    assert_eq!((report.f1, report.new_f1, report.unlisted_f1), (3, 3, 5));
    assert_eq!((report.venues[0].visitors, report.venues[0].listed), (8, 3));
    let contacts = services.contacts(&root(), case).await.unwrap();
    let of = |generation: u8| {
        let mut listed: Vec<&str> =
            contacts.contacts.iter().filter(|c| c.generation == generation).map(|c| c.visitor.as_str()).collect();
        listed.sort();
        listed
    };
    assert_eq!(of(1), ["tel:+84911000106", "tel:+84911000107", "tel:+84911000108"], "the longest together");
    // The rest are not lost: they met the F1s there, so they are listed as F2.
    assert_eq!(of(2).len(), 5);
}

#[tokio::test]
async fn visits_apart_in_time_are_traced_as_one_window() {
    // The engine asks for the window in two parts when the case's visits leave a gap: what
    // it finds must be what one question finds, visits seen by person and by phone alike.
    let services = own_services("apart", |_| ()).await;
    let f0 = resident(&services, "Phạm Văn Đi", "0911000050").await;
    let place = |name: &str, kind: &str| NewVenue {
        name: name.into(),
        kind: kind.into(),
        plate: (kind == "bus").then(|| "29B-555.55".into()),
        unit: "00070".into(),
        contact_phone: "0912999997".into(),
        ..NewVenue::default()
    };
    let market = services.register_venue(&root(), &place("Chợ Hôm", "market")).await.unwrap();
    let bus = services.register_venue(&root(), &place("Xe buýt số 3", "bus")).await.unwrap();
    let t0 = now() - time::Duration::hours(20);
    let visit = |venue: &Venue, visitor: &str, from: i64, to: i64| NewCheckin {
        venue: venue.id,
        visitor: visitor.into(),
        name: "Khách".into(),
        at: t0 + time::Duration::minutes(from),
        until: t0 + time::Duration::minutes(to),
        source: "api".into(),
        client_key: None,
    };
    let (both, late, early) = ("tel:+84911000151", "tel:+84911000152", "tel:+84911000153");
    let visits = vec![
        visit(&market, &key(f0), 0, 60),
        visit(&bus, "tel:+84911000050", 180, 240), // the case on the bus by phone alone
        visit(&market, &key(f0), 300, 330),
        visit(&market, both, 30, 90),
        visit(&bus, both, 200, 260),
        visit(&market, late, 310, 340),
        visit(&bus, early, 100, 150),
    ];
    services.store.record_checkins(visits, time::Duration::ZERO, vec![]).await.unwrap();
    let case = confirm_with(&services, f0).await;

    let report = services.trace_case(&root(), case).await.unwrap();
    assert_eq!((report.checkins, report.f1, report.new_f1), (3, 2, 2));
    let met: Vec<(String, u64)> = report.venues.iter().map(|v| (v.code.clone(), v.visitors)).collect();
    assert_eq!(met, [(market.code.clone(), 1), (bus.code.clone(), 1), (market.code.clone(), 1)]);
    let contacts = services.contacts(&root(), case).await.unwrap();
    let f1: Vec<&str> = contacts.contacts.iter().filter(|c| c.generation == 1).map(|c| c.visitor.as_str()).collect();
    assert_eq!(f1.len(), 2);
    assert!(f1.contains(&both) && f1.contains(&late) && !f1.contains(&early), "{f1:?}");
    let twice = contacts.contacts.iter().find(|c| c.visitor == both).unwrap();
    let outbreak_domain::tracing::Evidence::Venue { encounters, count } = &twice.evidence else {
        panic!("{:?}", twice.evidence)
    };
    let seen: Vec<(&str, i64)> = encounters.iter().map(|e| (e.code.as_str(), e.overlap_minutes)).collect();
    assert_eq!(seen, [(bus.code.as_str(), 40), (market.code.as_str(), 30)], "the longest first");
    assert_eq!(*count, 2);
}

async fn confirm_with(services: &outbreak_services::Services, person: PersonId) -> CaseId {
    let case = Case {
        id: CaseId(Uuid::now_v7()),
        person,
        unit: UnitCode::parse("unit", "00070").unwrap(),
        unit_path: "/VN/01/00070/".into(),
        source: "staff".into(),
        specimen: None,
        sample_date: Some(outbreak_domain::local_date(now())),
        onset_date: None,
        confirmed_at: now(),
        status: CaseStatus::Confirmed,
        note: String::new(),
    };
    services.store.insert_case(&case).await.unwrap();
    case.id
}
