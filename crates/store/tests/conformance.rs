//! The store conformance suite: every behaviour of the `Store` contract, run against SQLite
//! and PostgreSQL alike. Each check is written once, as a function over `&dyn Store`;
//! `conformance!` runs it on a fresh store of each kind.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use outbreak_domain::unit::national_units;
use outbreak_domain::{NewPerson, Person, PersonId, Phone, Role, Unit, UnitCode, now};
use outbreak_store::*;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

async fn sqlite() -> Arc<dyn Store> {
    let dir = std::env::temp_dir().join(format!("outbreak-conformance-{}", Uuid::new_v4().simple()));
    open(dir.join("store.sqlite").to_str().unwrap()).await.unwrap()
}

async fn postgres() -> Arc<dyn Store> {
    open(&outbreak_testkit::postgres::database().await).await.unwrap()
}

macro_rules! conformance {
    ($($check:ident),* $(,)?) => {
        mod on_sqlite { $( #[tokio::test] async fn $check() { super::$check(&*super::sqlite().await).await } )* }
        mod on_postgres { $( #[tokio::test] async fn $check() { super::$check(&*super::postgres().await).await } )* }
    };
}

conformance!(
    units_seed_once_and_nest,
    units_below_communes,
    population_is_all_or_nothing,
    people_round_trip,
    duplicate_identifiers_name_the_holder,
    unknown_units_store_nothing,
    people_search_stays_in_scope,
    bulk_people_all_or_nothing,
    accounts_and_grants,
    api_tokens,
    sessions_and_one_time_codes,
    signing_keys_and_qr_tokens,
    audit_log_filters,
    venues_by_code_scope_and_owner,
    checkins_repeat_within_the_window_and_retries_store_once,
    checkins_check_out_and_diaries,
    declarations_filter_by_flag_scope_and_visitor,
    retention_deletes_only_what_is_older,
);

fn code(text: &str) -> UnitCode {
    UnitCode::parse("unit", text).unwrap()
}

async fn seeded(store: &dyn Store) {
    store.seed_units(&national_units()).await.unwrap();
}

fn person(name: &str, cccd: Option<&str>, unit: &str) -> Person {
    NewPerson {
        full_name: name.into(),
        date_of_birth: "1987-03-21".into(),
        sex: "male".into(),
        phone: Some("0912345678".into()),
        cccd: cccd.map(Into::into),
        address_unit: unit.into(),
        street: "12 Hàng Bạc".into(),
        ..NewPerson::default()
    }
    .validate(time::macros::date!(2026 - 11 - 21))
    .unwrap()
    .into_person(PersonId::new(), now())
}

async fn units_seed_once_and_nest(store: &dyn Store) {
    assert_eq!(store.seed_units(&national_units()).await.unwrap(), 3356);
    assert_eq!(store.seed_units(&national_units()).await.unwrap(), 0);
    let hoan_kiem = store.unit(&code("00070")).await.unwrap().unwrap();
    assert_eq!(hoan_kiem.name, "Phường Hoàn Kiếm");
    assert_eq!(hoan_kiem.path, "/VN/01/00070/");
    let provinces = store.child_units(&UnitCode::country()).await.unwrap();
    assert_eq!(provinces.len(), 34);
    let found = store.find_units("hoan kiem", &["/VN/".into()], 10).await.unwrap();
    assert_eq!(found[0].code.as_str(), "00070");
    assert!(store.find_units("hoan kiem", &["/VN/79/".into()], 10).await.unwrap().is_empty());
    assert!(store.unit(&code("99999")).await.unwrap().is_none());
}

async fn units_below_communes(store: &dyn Store) {
    seeded(store).await;
    let commune = store.unit(&code("00070")).await.unwrap().unwrap();
    let hamlet = Unit::new_child(&commune, "TDP1", "Tổ dân phố 1", "").unwrap();
    store.insert_unit(&hamlet).await.unwrap();
    assert!(matches!(store.insert_unit(&hamlet).await, Err(StoreError::Conflict { field: "code", .. })));
    let mut orphan = Unit::new_child(&hamlet, "H1", "Hộ 1", "").unwrap();
    orphan.parent = Some(code("00070.NOPE"));
    assert!(matches!(store.insert_unit(&orphan).await, Err(StoreError::NotFound("parent"))));
    let children = store.child_units(&commune.code).await.unwrap();
    assert_eq!(children, vec![hamlet]);
}

async fn population_is_all_or_nothing(store: &dyn Store) {
    seeded(store).await;
    let bad = [(code("00070"), 1000), (code("99999"), 5)];
    assert!(matches!(store.set_population(&bad).await, Err(StoreError::NotFound("unit"))));
    assert_eq!(store.unit(&code("00070")).await.unwrap().unwrap().population, None);
    store.set_population(&[(code("00070"), 1000), (code("01"), 8_000_000)]).await.unwrap();
    assert_eq!(store.unit(&code("00070")).await.unwrap().unwrap().population, Some(1000));
}

async fn people_round_trip(store: &dyn Store) {
    seeded(store).await;
    let mut p = person("Nguyễn Văn A", Some("001087012345"), "00070");
    store.insert_person(&p).await.unwrap();
    let stored = store.person(p.id).await.unwrap().unwrap();
    assert_eq!(stored.person, p);
    assert_eq!(stored.address_path, "/VN/01/00070/");
    p.street = "14 Hàng Bạc".into();
    p.address_unit = code("00073");
    p.updated_at = now();
    store.update_person(&p).await.unwrap();
    let stored = store.person(p.id).await.unwrap().unwrap();
    assert_eq!(stored.person, p);
    assert_eq!(stored.address_path, "/VN/01/00073/");
    assert!(store.person(PersonId::new()).await.unwrap().is_none());
    let ghost = person("Ghost", None, "00070");
    assert!(matches!(store.update_person(&ghost).await, Err(StoreError::NotFound("person"))));
    assert_eq!(store.count_people().await.unwrap(), 1);
}

async fn duplicate_identifiers_name_the_holder(store: &dyn Store) {
    seeded(store).await;
    let first = person("Nguyễn Văn A", Some("001087012345"), "00070");
    store.insert_person(&first).await.unwrap();
    let second = person("Nguyễn Văn B", Some("001087012345"), "00070");
    match store.insert_person(&second).await {
        Err(StoreError::Conflict { field: "cccd", existing }) => assert_eq!(existing, Some(first.id.to_string())),
        other => panic!("expected a cccd conflict, got {other:?}"),
    }
    let mut third = person("Trần Thị C", None, "00070");
    third.insurance_number = first.insurance_number.clone();
    third.insurance_number = Some(outbreak_domain::InsuranceNumber::parse("i", "DN4797932123456").unwrap());
    store.insert_person(&third).await.unwrap();
    let mut fourth = person("Lê Văn D", None, "00070");
    fourth.insurance_number = third.insurance_number.clone();
    match store
        .update_person(&{
            let mut f = first.clone();
            f.insurance_number = fourth.insurance_number.clone();
            f
        })
        .await
    {
        Err(StoreError::Conflict { field: "insurance_number", existing }) => {
            assert_eq!(existing, Some(third.id.to_string()))
        }
        other => panic!("expected an insurance conflict, got {other:?}"),
    }
    assert_eq!(store.person(first.id).await.unwrap().unwrap().person, first);
    assert_eq!(store.count_people().await.unwrap(), 2);
}

async fn unknown_units_store_nothing(store: &dyn Store) {
    seeded(store).await;
    let lost = person("Nguyễn Văn A", None, "99999");
    assert!(matches!(store.insert_person(&lost).await, Err(StoreError::NotFound("address_unit"))));
    let mut homeless = person("Nguyễn Văn A", None, "00070");
    homeless.household = Some(code("00070.H404"));
    assert!(matches!(store.insert_person(&homeless).await, Err(StoreError::NotFound("household"))));
    assert_eq!(store.count_people().await.unwrap(), 0);
}

async fn people_search_stays_in_scope(store: &dyn Store) {
    seeded(store).await;
    let a = person("Nguyễn Văn An", Some("001087012345"), "00070");
    let b = person("Nguyễn Văn Bình", None, "00073");
    let c = person("NGUYỄN văn Cường", None, "26506");
    for p in [&a, &b, &c] {
        store.insert_person(p).await.unwrap();
    }
    let search = |name: &str, scope: &[&str]| PersonQuery {
        name: Some(outbreak_domain::text::fold(name)),
        scope: scope.iter().map(|s| s.to_string()).collect(),
        limit: 50,
        ..PersonQuery::default()
    };
    let ids = |found: Vec<PersonRecord>| found.into_iter().map(|r| r.person.id).collect::<Vec<_>>();
    assert_eq!(ids(store.search_people(&search("nguyen van", &["/VN/"])).await.unwrap()), [a.id, b.id, c.id]);
    assert_eq!(ids(store.search_people(&search("nguyen van", &["/VN/01/00070/"])).await.unwrap()), [a.id]);
    assert_eq!(
        ids(store.search_people(&search("nguyen van", &["/VN/01/00070/", "/VN/01/00073/"])).await.unwrap()),
        [a.id, b.id]
    );
    assert_eq!(ids(store.search_people(&search("van cuong", &["/VN/01/"])).await.unwrap()), Vec::<PersonId>::new());
    assert!(store.search_people(&search("nguyen", &[])).await.unwrap().is_empty());
    let by_cccd = PersonQuery {
        cccd: Some("001087012345".into()),
        scope: vec!["/VN/".into()],
        limit: 5,
        ..PersonQuery::default()
    };
    assert_eq!(ids(store.search_people(&by_cccd).await.unwrap()), [a.id]);
    let phone = Phone::parse("phone", "0912345678").unwrap();
    assert_eq!(ids(store.people_by_phone(&phone).await.unwrap()), [a.id, b.id, c.id]);
    let page = PersonQuery { offset: 1, limit: 1, ..search("nguyen", &["/VN/"]) };
    assert_eq!(ids(store.search_people(&page).await.unwrap()), [b.id]);
}

async fn bulk_people_all_or_nothing(store: &dyn Store) {
    seeded(store).await;
    let good: Vec<Person> = (0..100).map(|i| person(&format!("Người {i}"), None, "00070")).collect();
    let mut bad = good.clone();
    bad.push(person("Lạc", None, "99999"));
    assert!(store.insert_people(&bad).await.is_err());
    assert_eq!(store.count_people().await.unwrap(), 0);
    store.insert_people(&good).await.unwrap();
    assert_eq!(store.count_people().await.unwrap(), 100);
}

fn account(username: &str, grants: &[(Role, &str)]) -> NewAccount {
    NewAccount {
        id: Uuid::now_v7(),
        kind: AccountKind::User,
        username: username.into(),
        display_name: format!("{username} display"),
        password_hash: Some("$argon2id$v=19$stub".into()),
        grants: grants.iter().map(|(r, u)| (*r, code(u))).collect(),
        created_at: now(),
    }
}

async fn accounts_and_grants(store: &dyn Store) {
    seeded(store).await;
    let tracer = account("tracer.hk", &[(Role::Tracer, "00070")]);
    let officer = account("officer.hn", &[(Role::HealthOfficer, "01"), (Role::Tracer, "00073")]);
    let southern = account("tracer.hcm", &[(Role::Tracer, "79")]);
    for a in [&tracer, &officer, &southern] {
        store.insert_account(a).await.unwrap();
    }
    assert!(matches!(
        store.insert_account(&account("tracer.hk", &[])).await,
        Err(StoreError::Conflict { field: "username", .. })
    ));
    assert!(matches!(
        store.insert_account(&account("ghost", &[(Role::Admin, "99999")])).await,
        Err(StoreError::NotFound("unit"))
    ));
    assert!(store.account_by_username("ghost").await.unwrap().is_none());

    let loaded = store.account_by_username("officer.hn").await.unwrap().unwrap();
    assert_eq!(loaded.id, officer.id);
    assert_eq!(loaded.created_at, officer.created_at);
    let grants: Vec<_> = loaded.grants.iter().map(|g| (g.role, g.unit_path.as_str())).collect();
    assert_eq!(grants, [(Role::HealthOfficer, "/VN/01/"), (Role::Tracer, "/VN/01/00073/")]);

    let in_hanoi: Vec<_> =
        store.list_accounts(&["/VN/01/".into()]).await.unwrap().into_iter().map(|a| a.username).collect();
    assert_eq!(in_hanoi, ["officer.hn", "tracer.hk"]);

    store.set_grants(tracer.id, &[(Role::Sampler, code("00073"))]).await.unwrap();
    let reloaded = store.account(tracer.id).await.unwrap().unwrap();
    assert_eq!(reloaded.grants.len(), 1);
    assert_eq!(reloaded.grants[0].role, Role::Sampler);
    assert!(matches!(store.set_grants(Uuid::now_v7(), &[]).await, Err(StoreError::NotFound("account"))));
    assert!(store.set_grants(tracer.id, &[(Role::Admin, code("99999"))]).await.is_err());
    assert_eq!(
        store.account(tracer.id).await.unwrap().unwrap().grants,
        reloaded.grants,
        "a failed change keeps the old grants"
    );

    store.set_account_disabled(tracer.id, true).await.unwrap();
    assert!(store.account(tracer.id).await.unwrap().unwrap().disabled);
}

async fn api_tokens(store: &dyn Store) {
    seeded(store).await;
    let system = NewAccount {
        kind: AccountKind::System,
        password_hash: None,
        ..account("gate.system", &[(Role::VenueOwner, "00070")])
    };
    store.insert_account(&system).await.unwrap();
    let token = ApiToken {
        id: Uuid::now_v7(),
        account_id: system.id,
        name: "gate 1".into(),
        hash: vec![7; 32],
        created_at: now(),
        revoked_at: None,
    };
    store.insert_api_token(&token).await.unwrap();
    assert_eq!(store.api_token_by_hash(&[7; 32]).await.unwrap(), Some(token.clone()));
    assert!(store.api_token_by_hash(&[8; 32]).await.unwrap().is_none());
    let orphan = ApiToken { id: Uuid::now_v7(), account_id: Uuid::now_v7(), hash: vec![9; 32], ..token.clone() };
    assert!(matches!(store.insert_api_token(&orphan).await, Err(StoreError::NotFound("account"))));
    let at = now();
    store.revoke_api_token(token.id, at).await.unwrap();
    let listed = store.api_tokens(system.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].revoked_at, Some(at));
    assert_eq!(store.account(system.id).await.unwrap().unwrap().kind, AccountKind::System);
}

async fn sessions_and_one_time_codes(store: &dyn Store) {
    seeded(store).await;
    let phone = Phone::parse("phone", "0987654321").unwrap();
    let session = Session {
        hash: vec![1; 32],
        owner: SessionOwner::Citizen(phone.clone()),
        created_at: now(),
        expires_at: now() + Duration::hours(12),
    };
    store.insert_session(&session).await.unwrap();
    assert_eq!(store.session(&[1; 32]).await.unwrap(), Some(session));
    store.delete_session(&[1; 32]).await.unwrap();
    assert!(store.session(&[1; 32]).await.unwrap().is_none());

    let staff = account("staff.session", &[(Role::Tracer, "00070")]);
    store.insert_account(&staff).await.unwrap();
    let staff_session =
        Session { hash: vec![2; 32], owner: SessionOwner::Staff(staff.id), created_at: now(), expires_at: now() };
    store.insert_session(&staff_session).await.unwrap();
    assert_eq!(store.session(&[2; 32]).await.unwrap(), Some(staff_session));

    assert!(store.take_otp_attempt(&phone).await.unwrap().is_none());
    let challenge = OtpChallenge { phone: phone.clone(), code_hash: vec![3; 32], expires_at: now(), attempts: 0 };
    store.put_otp(&challenge).await.unwrap();
    assert_eq!(store.take_otp_attempt(&phone).await.unwrap().unwrap().attempts, 1);
    assert_eq!(store.take_otp_attempt(&phone).await.unwrap().unwrap().attempts, 2);
    store.put_otp(&OtpChallenge { code_hash: vec![4; 32], ..challenge }).await.unwrap();
    let renewed = store.take_otp_attempt(&phone).await.unwrap().unwrap();
    assert_eq!((renewed.attempts, renewed.code_hash), (1, vec![4; 32]));
    store.delete_otp(&phone).await.unwrap();
    assert!(store.take_otp_attempt(&phone).await.unwrap().is_none());

    let start = now();
    store.record_otp_send(&phone, "10.0.0.1", start - Duration::hours(2)).await.unwrap();
    store.record_otp_send(&phone, "10.0.0.1", start).await.unwrap();
    store.record_otp_send(&Phone::parse("p", "0911111111").unwrap(), "10.0.0.1", start).await.unwrap();
    assert_eq!(store.count_otp_sends(&phone, "10.0.0.1", start - Duration::hours(1)).await.unwrap(), (1, 2));
    assert_eq!(store.count_otp_sends(&phone, "10.0.0.2", start - Duration::hours(3)).await.unwrap(), (2, 0));
}

async fn signing_keys_and_qr_tokens(store: &dyn Store) {
    seeded(store).await;
    let old = SigningKey {
        kid: "k1".into(),
        purpose: "qr".into(),
        secret: vec![1; 32],
        created_at: now() - Duration::days(1),
        retired_at: None,
    };
    let new = SigningKey { kid: "k2".into(), created_at: now(), ..old.clone() };
    store.insert_signing_key(&old).await.unwrap();
    store.insert_signing_key(&new).await.unwrap();
    assert!(matches!(store.insert_signing_key(&old).await, Err(StoreError::Conflict { field: "kid", .. })));
    assert_eq!(store.signing_keys("qr").await.unwrap(), vec![new.clone(), old.clone()]);
    assert!(store.signing_keys("other").await.unwrap().is_empty());
    let at = now();
    store.retire_signing_key("k1", at).await.unwrap();
    assert_eq!(store.signing_keys("qr").await.unwrap()[1].retired_at, Some(at));

    let p = person("Phạm Thị E", None, "00070");
    store.insert_person(&p).await.unwrap();
    let token = QrToken { id: "tok1".into(), person: p.id, kid: "k2".into(), issued_at: now(), revoked_at: None };
    store.insert_qr_token(&token).await.unwrap();
    assert!(matches!(
        store.insert_qr_token(&QrToken { id: "tok2".into(), person: PersonId::new(), ..token.clone() }).await,
        Err(StoreError::NotFound("person"))
    ));
    assert_eq!(store.qr_token("tok1").await.unwrap(), Some(token.clone()));
    assert_eq!(store.active_qr_token(p.id).await.unwrap(), Some(token.clone()));
    assert_eq!(store.revoke_qr_tokens(p.id, now()).await.unwrap(), 1);
    assert!(store.active_qr_token(p.id).await.unwrap().is_none());
    assert!(store.qr_token("tok1").await.unwrap().unwrap().revoked_at.is_some());
}

async fn audit_log_filters(store: &dyn Store) {
    let start: OffsetDateTime = now();
    for (i, actor) in ["alice", "bob", "alice"].iter().enumerate() {
        store
            .append_audit(&NewAuditEntry {
                at: start + Duration::seconds(i as i64),
                actor: actor.to_string(),
                actor_kind: "staff".into(),
                action: "person.read".into(),
                entity: "person".into(),
                entity_id: format!("p{i}"),
                detail: String::new(),
                client: "127.0.0.1".into(),
            })
            .await
            .unwrap();
    }
    let all = store.audit_entries(&AuditFilter { limit: 10, ..AuditFilter::default() }).await.unwrap();
    assert_eq!(all.iter().map(|e| e.entity_id.as_str()).collect::<Vec<_>>(), ["p2", "p1", "p0"]);
    let alice = store
        .audit_entries(&AuditFilter { actor: Some("alice".into()), limit: 10, ..AuditFilter::default() })
        .await
        .unwrap();
    assert_eq!(alice.len(), 2);
    let page = store
        .audit_entries(&AuditFilter { before_id: Some(all[0].id), limit: 1, ..AuditFilter::default() })
        .await
        .unwrap();
    assert_eq!(page[0].entity_id, "p1");
    let window = AuditFilter {
        since: Some(start + Duration::seconds(1)),
        until: Some(start + Duration::seconds(2)),
        limit: 10,
        ..AuditFilter::default()
    };
    assert_eq!(store.audit_entries(&window).await.unwrap()[0].entity_id, "p1");
    let one = AuditFilter { entity_id: Some("p0".into()), limit: 10, ..AuditFilter::default() };
    assert_eq!(store.audit_entries(&one).await.unwrap()[0].at, start);
}

fn venue(code: &str, unit: &str, path: &str, owner: Option<&str>) -> Venue {
    Venue {
        id: outbreak_domain::venue::VenueId(Uuid::now_v7()),
        code: code.into(),
        name: format!("Chợ {code}"),
        kind: outbreak_domain::venue::VenueKind::Market,
        plate: None,
        unit: code_of(unit),
        unit_path: path.into(),
        address: "1 Hàng Đào".into(),
        contact_phone: Phone::parse("p", "0912345678").unwrap(),
        owner_phone: owner.map(|p| Phone::parse("p", p).unwrap()),
        active: true,
        created_at: now(),
    }
}

fn code_of(text: &str) -> UnitCode {
    code(text)
}

fn checkin(venue: &Venue, visitor: &str, at: OffsetDateTime, key: Option<&str>) -> NewCheckin {
    NewCheckin {
        venue: venue.id,
        visitor: visitor.into(),
        person: None,
        phone: visitor.strip_prefix("tel:").map(|p| Phone::parse("p", p).unwrap()),
        name: "Khách".into(),
        at,
        until: at + Duration::hours(2),
        source: "api".into(),
        client_key: key.map(Into::into),
    }
}

async fn venues_by_code_scope_and_owner(store: &dyn Store) {
    seeded(store).await;
    let market = venue("MKT23456", "00070", "/VN/01/00070/", Some("0987654321"));
    let shop = venue("SHP23456", "26740", "/VN/79/26740/", None);
    store.insert_venue(&market).await.unwrap();
    store.insert_venue(&shop).await.unwrap();
    let clash = Venue { id: outbreak_domain::venue::VenueId(Uuid::now_v7()), ..market.clone() };
    assert!(matches!(store.insert_venue(&clash).await, Err(StoreError::Conflict { field: "code", .. })));
    assert!(matches!(
        store.insert_venue(&venue("XXX23456", "99999", "/x/", None)).await,
        Err(StoreError::NotFound("unit"))
    ));
    assert_eq!(store.venue_by_code("MKT23456").await.unwrap(), Some(market.clone()));
    assert_eq!(store.venue(shop.id).await.unwrap(), Some(shop.clone()));
    assert_eq!(store.venues(&["/VN/01/".into()], 10).await.unwrap(), vec![market.clone()]);
    let owner = Phone::parse("p", "0987654321").unwrap();
    assert_eq!(store.venues_owned_by(&owner).await.unwrap(), vec![market.clone()]);
    store.set_venue_active(market.id, false).await.unwrap();
    assert!(!store.venue(market.id).await.unwrap().unwrap().active);
}

async fn checkins_repeat_within_the_window_and_retries_store_once(store: &dyn Store) {
    seeded(store).await;
    let market = venue("MKT23456", "00070", "/VN/01/00070/", None);
    store.insert_venue(&market).await.unwrap();
    let t = now() - Duration::hours(3);
    let batch = vec![
        checkin(&market, "tel:+84911111111", t, Some("gate:1")),
        checkin(&market, "tel:+84911111111", t + Duration::minutes(10), Some("gate:2")),
        checkin(&market, "tel:+84922222222", t, Some("gate:3")),
        checkin(&market, "tel:+84911111111", t + Duration::minutes(90), None),
    ];
    let window = Duration::minutes(30);
    let first = store.record_checkins(batch.clone(), window, vec![]).await.unwrap();
    assert!(matches!(first[0], CheckinOutcome::Stored(_)));
    assert_eq!(first[1], CheckinOutcome::Repeat(first[0].id()), "a second scan within the window is the same visit");
    assert!(matches!(first[2], CheckinOutcome::Stored(_)));
    assert!(matches!(first[3], CheckinOutcome::Stored(_)), "a later visit is a new one");
    assert_eq!(store.count_checkins().await.unwrap(), 3);
    let retried = store.record_checkins(batch[..3].to_vec(), window, vec![]).await.unwrap();
    assert_eq!(
        retried.iter().map(|o| o.id()).collect::<Vec<_>>(),
        first[..3].iter().map(|o| o.id()).collect::<Vec<_>>()
    );
    assert!(retried.iter().all(|o| matches!(o, CheckinOutcome::Repeat(_))));
    assert_eq!(store.count_checkins().await.unwrap(), 3, "a retried batch stores nothing twice");
    let ghost = Venue { id: outbreak_domain::venue::VenueId(Uuid::now_v7()), ..market.clone() };
    let bad = vec![checkin(&market, "tel:+84933333333", t, None), checkin(&ghost, "tel:+84933333333", t, None)];
    assert!(store.record_checkins(bad, window, vec![]).await.is_err());
    assert_eq!(store.count_checkins().await.unwrap(), 3, "a failed batch stores nothing");
    assert_eq!(store.count_venue_checkins(market.id, t - Duration::minutes(1)).await.unwrap(), 3);
}

async fn checkins_check_out_and_diaries(store: &dyn Store) {
    seeded(store).await;
    let market = venue("MKT23456", "00070", "/VN/01/00070/", None);
    store.insert_venue(&market).await.unwrap();
    let t = now() - Duration::hours(1);
    let stored = store
        .record_checkins(vec![checkin(&market, "tel:+84911111111", t, None)], Duration::minutes(30), vec![])
        .await
        .unwrap();
    let id = stored[0].id();
    assert!(matches!(store.check_out(id, "tel:+84922222222", now()).await, Err(StoreError::NotFound("checkin"))));
    let left = t + Duration::minutes(20);
    store.check_out(id, "tel:+84911111111", left).await.unwrap();
    let diary = store.checkins_of(&["tel:+84911111111".into()], t - Duration::days(1)).await.unwrap();
    assert_eq!(diary.len(), 1);
    assert_eq!(
        (diary[0].until, diary[0].venue_code.as_str(), diary[0].venue_name.as_str()),
        (left, "MKT23456", "Chợ MKT23456")
    );
    assert!(store.checkins_of(&["tel:+84922222222".into()], t - Duration::days(1)).await.unwrap().is_empty());
    assert!(store.checkins_of(&[], t).await.unwrap().is_empty());
    let log = store.venue_checkins(market.id, t - Duration::minutes(1), now(), 10).await.unwrap();
    assert_eq!(log[0].id, id);
}

async fn declarations_filter_by_flag_scope_and_visitor(store: &dyn Store) {
    seeded(store).await;
    let market = venue("MKT23456", "00070", "/VN/01/00070/", None);
    store.insert_venue(&market).await.unwrap();
    let declaration = |visitor: &str, flagged: bool, path: &str| NewDeclarationRecord {
        visitor: visitor.into(),
        person: None,
        phone: None,
        venue: Some(market.id),
        at: now(),
        symptoms: if flagged { vec!["fever".into(), "cough".into()] } else { vec![] },
        f0_contact: false,
        places_visited: "Chợ Bến Thành".into(),
        move_from: Some(code("00070")),
        move_to: Some(code("26740")),
        move_date: Some(now().date()),
        vehicle: "xe khách".into(),
        flagged,
        unit_path: path.into(),
    };
    let sick = declaration("tel:+84911111111", true, "/VN/01/00070/");
    let id = store.insert_declaration(&sick).await.unwrap();
    store.insert_declaration(&declaration("tel:+84922222222", false, "/VN/01/00070/")).await.unwrap();
    store.insert_declaration(&declaration("tel:+84933333333", true, "/VN/79/26740/")).await.unwrap();
    let flagged_here = DeclarationFilter {
        flagged_only: true,
        scope: Some(vec!["/VN/01/".into()]),
        limit: 10,
        ..DeclarationFilter::default()
    };
    let found = store.declarations(&flagged_here).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].id, &found[0].record, found[0].venue_name.as_deref()), (id, &sick, Some("Chợ MKT23456")));
    let mine = DeclarationFilter {
        visitors: Some(vec!["tel:+84922222222".into()]),
        limit: 10,
        ..DeclarationFilter::default()
    };
    assert_eq!(store.declarations(&mine).await.unwrap().len(), 1);
    let at_venue = DeclarationFilter {
        venue: Some(market.id),
        since: Some(now() - Duration::hours(1)),
        limit: 10,
        ..DeclarationFilter::default()
    };
    assert_eq!(store.declarations(&at_venue).await.unwrap().len(), 3);
}

async fn retention_deletes_only_what_is_older(store: &dyn Store) {
    seeded(store).await;
    let market = venue("MKT23456", "00070", "/VN/01/00070/", None);
    store.insert_venue(&market).await.unwrap();
    let cutoff = now() - Duration::days(21);
    let visits: Vec<NewCheckin> = [-5 * 24, -22 * 24, -21 * 24 - 1, -21 * 24 + 1, -1]
        .iter()
        .enumerate()
        .map(|(i, hours)| {
            checkin(&market, &format!("tel:+8491111111{i}"), now() + Duration::hours(*hours), Some(&format!("k{i}")))
        })
        .collect();
    store.record_checkins(visits, Duration::minutes(30), vec![]).await.unwrap();
    for hours in [-22 * 24, -1] {
        let record = NewDeclarationRecord {
            visitor: "tel:+84911111111".into(),
            person: None,
            phone: None,
            venue: None,
            at: now() + Duration::hours(hours),
            symptoms: vec![],
            f0_contact: false,
            places_visited: String::new(),
            move_from: None,
            move_to: None,
            move_date: None,
            vehicle: String::new(),
            flagged: false,
            unit_path: "/VN/01/00070/".into(),
        };
        store.insert_declaration(&record).await.unwrap();
    }
    assert_eq!(store.purge_before(cutoff).await.unwrap(), (2, 1));
    assert_eq!(store.count_checkins().await.unwrap(), 3);
    let left = store.venue_checkins(market.id, now() - Duration::days(30), now(), 10).await.unwrap();
    assert!(left.iter().all(|c| c.at >= cutoff));
    // The client keys of deleted visits went with them: the same key is new again.
    let again = store
        .record_checkins(vec![checkin(&market, "tel:+84911111111", now(), Some("k1"))], Duration::minutes(30), vec![])
        .await
        .unwrap();
    assert!(matches!(again[0], CheckinOutcome::Stored(_)));
    assert_eq!(store.purge_before(cutoff).await.unwrap(), (0, 0));
}
