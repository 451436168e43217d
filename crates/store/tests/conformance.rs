//! The store conformance suite: every behaviour of the `Store` contract, run against SQLite
//! and PostgreSQL alike. Each check is written once, as a function over `&dyn Store`;
//! `conformance!` runs it on a fresh store of each kind.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use outbreak_domain::testing::{
    Barcode, BarcodeKind, CaseId, CaseStatus, Conclusion, Outcome, PoolId, SessionId, SpecimenId, SpecimenStatus,
    TestType, ValidResult,
};
use outbreak_domain::unit::national_units;
use outbreak_domain::{NewPerson, Person, PersonId, Phone, Role, Unit, UnitCode, now};
use outbreak_store::*;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// A SQLite store recording results three to a transaction, so that every batch of more
/// than three is planned on a reader while the writer records the chunk before.
async fn sqlite() -> Arc<dyn Store> {
    let dir = outbreak_testkit::scratch_dir("conformance");
    Arc::new(SqliteStore::open(dir.join("store.sqlite")).await.unwrap().with_results_per_transaction(3))
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
    certificate_signers_rotate_and_retire,
    issued_certificates_are_unique_and_revocable,
    audit_log_filters,
    venues_by_code_scope_and_owner,
    checkins_repeat_within_the_window_and_retries_store_once,
    checkins_check_out_and_diaries,
    bulk_loaded_checkins_are_found_like_recorded_ones,
    declarations_filter_by_flag_scope_and_visitor,
    retention_deletes_only_what_is_older,
    sampling_sessions_round_trip_in_scope,
    specimens_fill_pools_and_count_as_collected,
    taking_specimens_is_all_or_nothing,
    individual_results_correct_and_confirm_cases_once,
    results_are_refused_one_by_one,
    pool_results_conclude_for_members_and_retests_follow,
    tubes_move_to_the_lab_and_rejections_count,
    totals_and_turnaround_follow_results,
    events_and_cursors,
    cases_filter_and_staff_entries,
    imported_tests_count_without_events,
    concurrent_writers_keep_the_rules,
    a_long_file_is_recorded_row_after_row,
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

fn signer(kid: &str, created_at: OffsetDateTime) -> CertificateSigner {
    CertificateSigner {
        kid: kid.into(),
        private_key: vec![7; 32],
        certificate: vec![0x30, 0x03, 0x02, 0x01, 0x01],
        created_at,
        retired_at: None,
    }
}

fn audited(action: &str, entity_id: &str) -> NewAuditEntry {
    NewAuditEntry {
        at: now(),
        actor: "vaccinator".into(),
        actor_kind: "staff".into(),
        action: action.into(),
        entity: "certificate".into(),
        entity_id: entity_id.into(),
        detail: String::new(),
        client: "127.0.0.1".into(),
    }
}

async fn certificate_signers_rotate_and_retire(store: &dyn Store) {
    assert!(store.certificate_signers().await.unwrap().is_empty());
    let old = signer("b2xkLWtpZA==", now() - Duration::days(30));
    let new = signer("bmV3LWtpZA==", now());
    store.insert_certificate_signer(&old).await.unwrap();
    store.insert_certificate_signer(&new).await.unwrap();
    assert!(matches!(store.insert_certificate_signer(&old).await, Err(StoreError::Conflict { field: "kid", .. })));
    assert_eq!(store.certificate_signers().await.unwrap(), vec![new.clone(), old.clone()]);
    let at = now();
    store.retire_certificate_signer(&old.kid, at).await.unwrap();
    store.retire_certificate_signer(&old.kid, at + Duration::days(1)).await.unwrap();
    let signers = store.certificate_signers().await.unwrap();
    assert_eq!(signers[1].retired_at, Some(at), "the first retirement stands");
    assert_eq!(signers[0].retired_at, None);
    assert!(matches!(store.retire_certificate_signer("nope", at).await, Err(StoreError::NotFound("kid"))));
}

async fn issued_certificates_are_unique_and_revocable(store: &dyn Store) {
    seeded(store).await;
    let holder = person("Nguyễn Văn An", None, "00070");
    store.insert_person(&holder).await.unwrap();
    let key = signer("a2lkLWtpZA==", now());
    store.insert_certificate_signer(&key).await.unwrap();
    let first = IssuedCertificate {
        uvci: "URN:UVCI:01:VN:MOH/AAAA#B".into(),
        person: holder.id,
        kid: key.kid.clone(),
        issued_at: now() - Duration::days(1),
        expires_at: now() + Duration::days(364),
        revoked_at: None,
        revocation_reason: None,
        subject: Some("dose:1".into()),
        hc1: "HC1:FIRST".into(),
    };
    let second = IssuedCertificate {
        uvci: "URN:UVCI:01:VN:MOH/BBBB#C".into(),
        issued_at: now(),
        subject: None,
        hc1: "HC1:SECOND".into(),
        ..first.clone()
    };
    store.insert_issued_certificate(&first, &audited("certificate.issue", &first.uvci)).await.unwrap();
    store.insert_issued_certificate(&second, &audited("certificate.issue", &second.uvci)).await.unwrap();
    assert!(matches!(
        store.insert_issued_certificate(&first, &audited("certificate.issue", "again")).await,
        Err(StoreError::Conflict { field: "uvci", .. })
    ));
    let unknown_signer =
        IssuedCertificate { uvci: "URN:UVCI:01:VN:X#1".into(), kid: "bm9uZQ==".into(), ..first.clone() };
    assert!(matches!(
        store.insert_issued_certificate(&unknown_signer, &audited("certificate.issue", "x")).await,
        Err(StoreError::NotFound("kid"))
    ));
    let unknown_holder =
        IssuedCertificate { uvci: "URN:UVCI:01:VN:Y#1".into(), person: PersonId::new(), ..first.clone() };
    assert!(matches!(
        store.insert_issued_certificate(&unknown_holder, &audited("certificate.issue", "y")).await,
        Err(StoreError::NotFound("person"))
    ));
    // Refused inserts leave no audit entry behind.
    let issued = store
        .audit_entries(&AuditFilter { action: Some("certificate.issue".into()), limit: 10, ..AuditFilter::default() })
        .await
        .unwrap();
    assert_eq!(issued.len(), 2);

    assert_eq!(store.issued_certificate(&first.uvci).await.unwrap(), Some(first.clone()));
    assert_eq!(store.issued_certificate("URN:UVCI:01:VN:NONE#A").await.unwrap(), None);
    assert_eq!(store.issued_certificates_of(holder.id).await.unwrap(), vec![second.clone(), first.clone()]);
    assert_eq!(store.issued_certificates_for("dose:1").await.unwrap(), vec![first.clone()]);
    assert!(store.issued_certificates_for("dose:2").await.unwrap().is_empty());
    assert!(store.revoked_certificates().await.unwrap().is_empty());

    let at = now();
    store
        .revoke_certificate(&first.uvci, at, "issued in error", &audited("certificate.revoke", &first.uvci))
        .await
        .unwrap();
    store
        .revoke_certificate(&first.uvci, at + Duration::hours(1), "again", &audited("certificate.revoke", &first.uvci))
        .await
        .unwrap();
    let revoked = store.issued_certificate(&first.uvci).await.unwrap().unwrap();
    assert_eq!((revoked.revoked_at, revoked.revocation_reason.as_deref()), (Some(at), Some("issued in error")));
    assert_eq!(store.revoked_certificates().await.unwrap(), vec![(first.uvci.clone(), "issued in error".to_owned())]);
    assert!(matches!(
        store.revoke_certificate("URN:UVCI:01:VN:NONE#A", at, "x", &audited("certificate.revoke", "none")).await,
        Err(StoreError::NotFound("uvci"))
    ));
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
    // A client key sent twice in one batch for its visitor is one check-in, even where the
    // window would not tell; the same key for another visitor is another check-in; and a
    // scan near a stored visit repeats that visit.
    let later = vec![
        checkin(&market, "tel:+84944444444", t, Some("gate:4")),
        checkin(&market, "tel:+84944444444", t + Duration::hours(2), Some("gate:4")),
        checkin(&market, "tel:+84955555555", t, Some("gate:4")),
        checkin(&market, "tel:+84911111111", t + Duration::minutes(20), None),
    ];
    let outcomes = store.record_checkins(later, window, vec![]).await.unwrap();
    assert!(matches!(outcomes[0], CheckinOutcome::Stored(_)));
    assert_eq!(outcomes[1], CheckinOutcome::Repeat(outcomes[0].id()));
    assert!(matches!(outcomes[2], CheckinOutcome::Stored(_)), "a key is its visitor's");
    assert_eq!(outcomes[3], CheckinOutcome::Repeat(first[0].id()));
    assert_eq!(store.count_checkins().await.unwrap(), 5);
    // Groups one after another with nothing read between, as single check-ins come, then a
    // large group: each sees the check-ins and client keys of those before it.
    let one = store.record_checkins(vec![checkin(&market, "tel:+84966666666", t, Some("gate:6"))], window, vec![]);
    let one = one.await.unwrap()[0];
    let again = vec![
        checkin(&market, "tel:+84966666666", t + Duration::minutes(5), None),
        checkin(&market, "tel:+84966666666", t + Duration::hours(2), Some("gate:6")),
        checkin(&market, "tel:+84977777777", t, Some("gate:6")),
    ];
    let again = store.record_checkins(again, window, vec![]).await.unwrap();
    assert_eq!(again[..2], [CheckinOutcome::Repeat(one.id()), CheckinOutcome::Repeat(one.id())]);
    assert!(matches!(again[2], CheckinOutcome::Stored(_)));
    let mut large: Vec<NewCheckin> =
        (0..1_200).map(|i| checkin(&market, &format!("tel:+8498{i:07}"), t, None)).collect();
    large.push(checkin(&market, "tel:+84966666666", t + Duration::minutes(10), Some("gate:7")));
    large.push(checkin(&market, "tel:+84966666666", t + Duration::hours(3), Some("gate:6")));
    let outcomes = store.record_checkins(large, window, vec![]).await.unwrap();
    assert!(outcomes[..1_200].iter().all(|o| matches!(o, CheckinOutcome::Stored(_))));
    assert_eq!(outcomes[1_200..], [CheckinOutcome::Repeat(one.id()), CheckinOutcome::Repeat(one.id())]);
    // A repeat's key is not kept: its retry is the same visit again, which the window finds.
    let retried = checkin(&market, "tel:+84966666666", t + Duration::minutes(10), Some("gate:7"));
    let retried = store.record_checkins(vec![retried], window, vec![]).await.unwrap();
    assert_eq!(retried, [CheckinOutcome::Repeat(one.id())]);
    let elsewhere =
        store.record_checkins(vec![checkin(&market, "tel:+84999999999", t, Some("gate:7"))], window, vec![]);
    assert!(matches!(elsewhere.await.unwrap()[0], CheckinOutcome::Stored(_)));
    assert_eq!(store.count_checkins().await.unwrap(), 1_208);
}

async fn bulk_loaded_checkins_are_found_like_recorded_ones(store: &dyn Store) {
    seeded(store).await;
    let market = venue("MKT23456", "00070", "/VN/01/00070/", None);
    store.insert_venue(&market).await.unwrap();
    let t = now() - Duration::hours(5);
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let feed = tokio::spawn(async move {
        tx.send(vec![checkin(&market, "tel:+84911111111", t, None), checkin(&market, "tel:+84922222222", t, None)])
            .await
            .unwrap();
        // A second scan within the repeat window: a bulk load stores it as given.
        tx.send(vec![checkin(&market, "tel:+84911111111", t + Duration::minutes(5), None)]).await.unwrap();
        market
    });
    assert_eq!(store.load_checkins(rx).await.unwrap(), 3);
    let market = feed.await.unwrap();
    assert_eq!(store.count_checkins().await.unwrap(), 3);
    let diary = store.checkins_of(&["tel:+84911111111".into()], t - Duration::hours(1)).await.unwrap();
    assert_eq!(diary.len(), 2);
    assert_eq!((diary[1].venue, diary[1].at, diary[1].until), (market.id, t, t + Duration::hours(2)));
    assert_eq!(store.count_venue_checkins(market.id, t - Duration::minutes(1)).await.unwrap(), 3);
    let met = store
        .copresence(
            &[Presence {
                visitor: "tel:+84922222222".into(),
                from: t - Duration::hours(1),
                until: t + Duration::hours(1),
            }],
            10,
        )
        .await
        .unwrap();
    assert_eq!(met.len(), 2, "the indexes are back: co-presence finds the loaded rows");
    // The indexes serve recording again: a scan within the window is a repeat.
    let again = store
        .record_checkins(
            vec![checkin(&market, "tel:+84922222222", t + Duration::minutes(1), None)],
            Duration::minutes(30),
            vec![],
        )
        .await
        .unwrap();
    assert!(matches!(again[0], CheckinOutcome::Repeat(_)));

    // A batch naming an unknown venue fails; the batches before it stay, the indexes too.
    let ghost = Venue { id: outbreak_domain::venue::VenueId(Uuid::now_v7()), ..market.clone() };
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    tx.send(vec![checkin(&market, "tel:+84933333333", t, None)]).await.unwrap();
    tx.send(vec![checkin(&ghost, "tel:+84944444444", t, None)]).await.unwrap();
    drop(tx);
    assert!(matches!(store.load_checkins(rx).await, Err(StoreError::NotFound("venue"))));
    assert_eq!(store.count_checkins().await.unwrap(), 4);
    let again = store
        .record_checkins(
            vec![checkin(&market, "tel:+84933333333", t + Duration::minutes(1), None)],
            Duration::minutes(30),
            vec![],
        )
        .await
        .unwrap();
    assert!(matches!(again[0], CheckinOutcome::Repeat(_)));
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

    // A known person's check-in reads back with the person and their registered name,
    // whatever name came with it; a phone's keeps the name given at the door.
    let resident = person("Trần Văn Khách", None, "00073");
    store.insert_person(&resident).await.unwrap();
    let known = resident.id.to_string();
    let visit = NewCheckin { name: "Anh Khách".into(), ..checkin(&market, &known, t, None) };
    store.record_checkins(vec![visit], Duration::minutes(30), vec![]).await.unwrap();
    let diary = store.checkins_of(std::slice::from_ref(&known), t - Duration::days(1)).await.unwrap();
    let read = |c: &Checkin| (c.visitor.clone(), c.person, c.phone.clone(), c.name.clone());
    assert_eq!(diary.iter().map(read).collect::<Vec<_>>(), [(known, Some(resident.id), None, "Trần Văn Khách".into())]);
    let log = store.venue_checkins(market.id, t - Duration::minutes(1), now(), 10).await.unwrap();
    let by_phone = log.iter().find(|c| c.person.is_none()).map(read).unwrap();
    assert_eq!(
        by_phone,
        ("tel:+84911111111".into(), None, Some(Phone::parse("p", "0911111111").unwrap()), "Khách".into())
    );
    assert_eq!(log.iter().find(|c| c.person.is_some()).unwrap().name, "Trần Văn Khách");
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
    // A second venue, and stays of other lengths: SQLite finds old check-ins venue by
    // venue and stay class by stay class.
    let shop = venue("SHP23456", "26740", "/VN/79/26740/", None);
    store.insert_venue(&shop).await.unwrap();
    let errands: Vec<NewCheckin> = [(-22 * 24, 10), (-21 * 24 - 1, 300), (-2, 10)]
        .iter()
        .enumerate()
        .map(|(i, (hours, minutes))| {
            let at = now() + Duration::hours(*hours);
            NewCheckin {
                until: at + Duration::minutes(*minutes),
                ..checkin(&shop, &format!("tel:+8492222222{i}"), at, None)
            }
        })
        .collect();
    store.record_checkins(errands, Duration::minutes(30), vec![]).await.unwrap();
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
    assert_eq!(store.purge_before(cutoff).await.unwrap(), (4, 1));
    assert_eq!(store.count_checkins().await.unwrap(), 4);
    for place in [&market, &shop] {
        let left = store.venue_checkins(place.id, now() - Duration::days(30), now(), 10).await.unwrap();
        assert!(!left.is_empty() && left.iter().all(|c| c.at >= cutoff));
    }
    // The client keys of deleted visits went with them: the same key is new again.
    let again = store
        .record_checkins(vec![checkin(&market, "tel:+84911111111", now(), Some("k1"))], Duration::minutes(30), vec![])
        .await
        .unwrap();
    assert!(matches!(again[0], CheckinOutcome::Stored(_)));
    assert_eq!(store.purge_before(cutoff).await.unwrap(), (0, 0));
}

// Testing: sessions, specimens, pools, results, cases, totals and the outbox.

/// Noon yesterday in Vietnam (UTC) and its day: what a check takes and reads stays in one
/// local day and in the past.
fn yesterday_noon() -> (time::Date, OffsetDateTime) {
    let day = outbreak_domain::local_date(now()) - Duration::days(1);
    let noon = day.with_hms(12, 0, 0).unwrap().assume_offset(outbreak_domain::VIETNAM);
    (day, noon.to_offset(time::UtcOffset::UTC))
}

fn new_session(unit: &str, unit_path: &str, pool_size: Option<i64>, test_type: TestType) -> SamplingSession {
    let (day, noon) = yesterday_noon();
    SamplingSession {
        id: SessionId(Uuid::now_v7()),
        site: format!("Trạm Y tế {unit}"),
        unit: code(unit),
        unit_path: unit_path.into(),
        date: day,
        team: "Tổ lấy mẫu 1".into(),
        test_type,
        pool_size,
        created_by: "sampler.hk".into(),
        created_at: noon - Duration::hours(1),
        closed_at: None,
    }
}

/// A swab labelled `S…n` (and, in a pooled session, a pool label `P…n` in case one is needed).
fn swab(session: &SamplingSession, person: &Person, n: u64, at: OffsetDateTime) -> NewSpecimen {
    NewSpecimen {
        id: SpecimenId(Uuid::now_v7()),
        barcode: Barcode::new(BarcodeKind::Specimen, n),
        session: session.id,
        person: person.id,
        collected_at: at,
        new_pool: session.pool_size.map(|_| (PoolId(Uuid::now_v7()), Barcode::new(BarcodeKind::Pool, n))),
    }
}

fn lab_result(barcode: &Barcode, outcome: Outcome, ct: Option<f64>, at: OffsetDateTime) -> RecordResult {
    RecordResult {
        result: ValidResult { barcode: barcode.clone(), outcome, ct, resulted_at: at, time_given: true },
        recorded_by: "lab.bachmai".into(),
        recorded_at: now(),
        correction: None,
    }
}

fn correction(barcode: &Barcode, outcome: Outcome, at: OffsetDateTime, reason: &str) -> RecordResult {
    RecordResult { correction: Some(reason.into()), ..lab_result(barcode, outcome, None, at) }
}

/// Records results as a lab working for the whole country.
async fn record(store: &dyn Store, results: Vec<RecordResult>) -> Vec<ResultOutcome> {
    store.record_results(results, vec!["/VN/".into()], vec![]).await.unwrap()
}

fn refusal(outcome: &ResultOutcome) -> &str {
    match outcome {
        ResultOutcome::Refused { code, .. } => code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn recorded(outcome: &ResultOutcome) -> (Vec<PersonId>, Vec<CaseId>) {
    match outcome {
        ResultOutcome::Recorded { people, cases } => (people.clone(), cases.clone()),
        other => panic!("expected a recorded result, got {other:?}"),
    }
}

async fn specimen_of(store: &dyn Store, barcode: &Barcode) -> Specimen {
    match store.tube(barcode).await.unwrap() {
        Some(Tube::Specimen(s)) => s,
        other => panic!("expected the specimen {barcode}, got {other:?}"),
    }
}

async fn pool_of(store: &dyn Store, barcode: &Barcode) -> Pool {
    match store.tube(barcode).await.unwrap() {
        Some(Tube::Pool(p)) => p,
        other => panic!("expected the pool {barcode}, got {other:?}"),
    }
}

async fn people_in(store: &dyn Store, units: &[&str]) -> Vec<Person> {
    let people: Vec<Person> =
        units.iter().enumerate().map(|(i, unit)| person(&format!("Người {i}"), None, unit)).collect();
    store.insert_people(&people).await.unwrap();
    people
}

fn all_cases(person: Option<PersonId>) -> CaseFilter {
    CaseFilter { scope: vec!["/VN/".into()], since: None, person, limit: 50 }
}

async fn sampling_sessions_round_trip_in_scope(store: &dyn Store) {
    seeded(store).await;
    let ghost = SamplingSession { unit: code("99999"), ..new_session("00070", "/x/", None, TestType::RtPcr) };
    assert!(matches!(store.insert_sampling_session(&ghost).await, Err(StoreError::NotFound("unit"))));
    let base = new_session("00070", "/VN/01/00070/", None, TestType::RtPcr);
    let older = SamplingSession { date: base.date - Duration::days(1), ..base.clone() };
    let newer = SamplingSession {
        id: SessionId(Uuid::now_v7()),
        pool_size: Some(5),
        created_at: base.created_at + Duration::minutes(5),
        ..new_session("00073", "/VN/01/00073/", None, TestType::RtPcr)
    };
    let south = SamplingSession {
        created_at: base.created_at + Duration::minutes(1),
        ..new_session("26740", "/VN/79/26740/", None, TestType::RapidAntigen)
    };
    for s in [&older, &newer, &south] {
        store.insert_sampling_session(s).await.unwrap();
    }
    assert_eq!(store.sampling_session(newer.id).await.unwrap(), Some(newer.clone()));
    assert_eq!(store.sampling_session(south.id).await.unwrap(), Some(south.clone()));
    assert!(store.sampling_session(SessionId(Uuid::now_v7())).await.unwrap().is_none());
    let ids = |found: Vec<SamplingSession>| found.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(ids(store.sampling_sessions(&["/VN/01/".into()], 10).await.unwrap()), [newer.id, older.id]);
    assert_eq!(ids(store.sampling_sessions(&["/VN/".into()], 10).await.unwrap()), [newer.id, south.id, older.id]);
    assert_eq!(ids(store.sampling_sessions(&["/VN/".into()], 1).await.unwrap()), [newer.id]);
    assert_eq!(ids(store.sampling_sessions(&["/VN/79/".into()], 10).await.unwrap()), [south.id]);
    assert!(store.sampling_sessions(&[], 10).await.unwrap().is_empty());

    let at = now();
    store.close_sampling_session(newer.id, at).await.unwrap();
    store.close_sampling_session(newer.id, at + Duration::hours(1)).await.unwrap();
    assert_eq!(
        store.sampling_session(newer.id).await.unwrap().unwrap().closed_at,
        Some(at),
        "closing twice keeps the first time"
    );
    assert!(matches!(
        store.close_sampling_session(SessionId(Uuid::now_v7()), at).await,
        Err(StoreError::NotFound("session"))
    ));
}

async fn specimens_fill_pools_and_count_as_collected(store: &dyn Store) {
    seeded(store).await;
    let people = people_in(store, &["00070", "00070", "00070", "00073", "26740"]).await;
    let individual = new_session("00070", "/VN/01/00070/", None, TestType::RtPcr);
    let pooled = new_session("00070", "/VN/01/00070/", Some(3), TestType::RtPcr);
    store.insert_sampling_session(&individual).await.unwrap();
    store.insert_sampling_session(&pooled).await.unwrap();
    let (day, t) = yesterday_noon();

    let alone = swab(&individual, &people[0], 1, t);
    let taken = store.take_specimens(vec![alone.clone()], vec![]).await.unwrap();
    let own = &taken[0];
    assert_eq!(
        (own.id, &own.barcode, own.session, own.person),
        (alone.id, &alone.barcode, individual.id, people[0].id)
    );
    assert_eq!(
        (own.pool.as_ref(), own.status, own.conclusion, own.retest_of),
        (None, SpecimenStatus::Collected, None, None)
    );
    assert_eq!(
        (own.site_path.as_str(), own.home_path.as_str(), own.test_type),
        ("/VN/01/00070/", "/VN/01/00070/", TestType::RtPcr)
    );
    assert_eq!(own.collected_at, t);
    assert_eq!(store.tube(&alone.barcode).await.unwrap(), Some(Tube::Specimen(own.clone())));

    let swabs: Vec<NewSpecimen> = people[..4]
        .iter()
        .enumerate()
        .map(|(i, p)| swab(&pooled, p, 10 + i as u64, t + Duration::minutes(i as i64)))
        .collect();
    let first_pool = swabs[0].new_pool.clone().unwrap();
    let second_pool = swabs[3].new_pool.clone().unwrap();
    let mut taken = store.take_specimens(swabs[..2].to_vec(), vec![]).await.unwrap();
    taken.extend(store.take_specimens(swabs[2..3].to_vec(), vec![]).await.unwrap());
    taken.extend(store.take_specimens(swabs[3..].to_vec(), vec![]).await.unwrap());
    let pools: Vec<_> = taken.iter().map(|s| s.pool.clone().map(|p| (p.id, p.barcode))).collect();
    assert_eq!(
        pools,
        [Some(first_pool.clone()), Some(first_pool.clone()), Some(first_pool.clone()), Some(second_pool.clone())]
    );
    assert_eq!(taken[3].home_path, "/VN/01/00073/", "a specimen counts where its person lives");
    assert_eq!(taken[3].site_path, "/VN/01/00070/", "and is handled where it was taken");

    let listed = store.session_pools(pooled.id).await.unwrap();
    assert_eq!(listed.iter().map(|p| p.id).collect::<Vec<_>>(), [second_pool.0, first_pool.0], "newest first");
    let full = &listed[1];
    assert_eq!((full.members, full.size_limit, full.closed, full.status), (3, 3, true, SpecimenStatus::Collected));
    assert_eq!(
        (full.outcome, full.ct, full.resulted_at, &full.site_path),
        (None, None, None, &"/VN/01/00070/".to_owned())
    );
    assert_eq!((listed[0].members, listed[0].closed), (1, false));
    assert_eq!(pool_of(store, &first_pool.1).await, full.clone());
    let members: Vec<_> = store.pool_members(first_pool.0).await.unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(members, [swabs[0].id, swabs[1].id, swabs[2].id]);
    assert_eq!(store.session_specimens(pooled.id).await.unwrap().len(), 4);
    assert_eq!(store.session_specimens(pooled.id).await.unwrap()[0].id, swabs[3].id, "newest first");
    let mine: Vec<_> = store.person_specimens(people[0].id).await.unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(mine, [swabs[0].id, alone.id]);
    assert!(store.tube(&Barcode::new(BarcodeKind::Specimen, 999)).await.unwrap().is_none());

    let open: Vec<_> = store.open_specimens(&["/VN/01/".into()], 10).await.unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(open, [alone.id, swabs[0].id, swabs[1].id, swabs[2].id, swabs[3].id], "oldest first");
    assert_eq!(store.open_specimens(&["/VN/01/".into()], 2).await.unwrap().len(), 2);
    assert!(store.open_specimens(&["/VN/79/".into()], 10).await.unwrap().is_empty());
    assert!(store.open_specimens(&[], 10).await.unwrap().is_empty());

    // A pool closed by hand takes no more swabs: the next one opens a third pool.
    store.close_pool(second_pool.0).await.unwrap();
    assert!(matches!(store.close_pool(PoolId(Uuid::now_v7())).await, Err(StoreError::NotFound("pool"))));
    let last = swab(&pooled, &people[4], 20, t + Duration::minutes(10));
    let taken = store.take_specimens(vec![last.clone()], vec![]).await.unwrap();
    assert_eq!(taken[0].pool.as_ref().map(|p| p.id), last.new_pool.as_ref().map(|p| p.0));
    assert_eq!(store.session_pools(pooled.id).await.unwrap().len(), 3);

    let collected = |path: &'static str| async move { store.testing_totals_all(path).await.unwrap().collected };
    assert_eq!(collected("/VN/").await, 6);
    assert_eq!(collected("/VN/01/").await, 5);
    assert_eq!(collected("/VN/01/00070/").await, 4);
    assert_eq!(collected("/VN/01/00073/").await, 1);
    assert_eq!(collected("/VN/79/26740/").await, 1);
    assert_eq!(collected("/VN/48/").await, 0);
    let daily = store.testing_totals("/VN/01/00070/", day, day).await.unwrap();
    assert_eq!(
        daily,
        [DailyTotals { day, test_type: TestType::RtPcr, totals: Totals { collected: 4, ..Totals::default() } }]
    );
    assert_eq!(store.testing_totals_all("/VN/").await.unwrap().pending(), 6);
}

async fn taking_specimens_is_all_or_nothing(store: &dyn Store) {
    seeded(store).await;
    let people = people_in(store, &["00070", "00070"]).await;
    let session = new_session("00070", "/VN/01/00070/", Some(3), TestType::RtPcr);
    store.insert_sampling_session(&session).await.unwrap();
    let (_, t) = yesterday_noon();
    let first = swab(&session, &people[0], 1, t);
    store.take_specimens(vec![first.clone()], vec![]).await.unwrap();
    let totals = store.testing_totals_all("/VN/").await.unwrap();

    let twice = vec![swab(&session, &people[1], 2, t), swab(&session, &people[1], 3, t)];
    assert!(matches!(
        store.take_specimens(twice, vec![]).await,
        Err(StoreError::Refused { code: "already_sampled", .. })
    ));
    assert!(store.person_specimens(people[1].id).await.unwrap().is_empty(), "the batch stored nothing");
    let again = swab(&session, &people[0], 4, t);
    assert!(matches!(
        store.take_specimens(vec![again], vec![]).await,
        Err(StoreError::Refused { code: "already_sampled", .. })
    ));
    let ghost = person("Không Có", None, "00070");
    let batch = vec![swab(&session, &people[1], 5, t), swab(&session, &ghost, 6, t)];
    assert!(matches!(store.take_specimens(batch, vec![]).await, Err(StoreError::NotFound("person"))));
    let nowhere = NewSpecimen { session: SessionId(Uuid::now_v7()), ..swab(&session, &people[1], 7, t) };
    assert!(matches!(store.take_specimens(vec![nowhere], vec![]).await, Err(StoreError::NotFound("session"))));
    let relabelled = NewSpecimen { barcode: first.barcode.clone(), ..swab(&session, &people[1], 8, t) };
    assert!(matches!(
        store.take_specimens(vec![relabelled], vec![]).await,
        Err(StoreError::Conflict { field: "barcode", .. })
    ));
    assert!(store.person_specimens(people[1].id).await.unwrap().is_empty());
    assert_eq!(store.session_pools(session.id).await.unwrap()[0].members, 1, "no half-filled pool");
    assert_eq!(store.testing_totals_all("/VN/").await.unwrap(), totals, "no totals moved");

    store.close_sampling_session(session.id, now()).await.unwrap();
    assert!(store.session_pools(session.id).await.unwrap()[0].closed, "closing a session closes its pools");
    assert!(matches!(
        store.take_specimens(vec![swab(&session, &people[1], 9, t)], vec![]).await,
        Err(StoreError::Refused { code: "session_closed", .. })
    ));
    assert!(store.person_specimens(people[1].id).await.unwrap().is_empty());
}

async fn individual_results_correct_and_confirm_cases_once(store: &dyn Store) {
    seeded(store).await;
    let people = people_in(store, &["00070", "00073"]).await;
    let (a, b) = (&people[0], &people[1]);
    let session = new_session("00070", "/VN/01/00070/", None, TestType::RtPcr);
    let later = SamplingSession { id: SessionId(Uuid::now_v7()), ..session.clone() };
    store.insert_sampling_session(&session).await.unwrap();
    store.insert_sampling_session(&later).await.unwrap();
    let (day, t) = yesterday_noon();
    let (s1, s2) = (swab(&session, a, 1, t), swab(&session, b, 2, t));
    store.take_specimens(vec![s1.clone(), s2.clone()], vec![]).await.unwrap();
    let read = t + Duration::hours(3);

    let first = record(store, vec![lab_result(&s1.barcode, Outcome::Negative, Some(35.5), read)]).await;
    assert_eq!(recorded(&first[0]), (vec![a.id], vec![]));
    let stored = specimen_of(store, &s1.barcode).await;
    assert_eq!(
        (stored.status, stored.conclusion, stored.ct, stored.resulted_at),
        (SpecimenStatus::Resulted, Some(Conclusion::Negative), Some(35.5), Some(read))
    );
    let again = record(store, vec![lab_result(&s1.barcode, Outcome::Negative, Some(35.5), read)]).await;
    assert_eq!(again[0], ResultOutcome::Unchanged, "the same file uploaded twice changes nothing");
    let mut untimed = lab_result(&s1.barcode, Outcome::Negative, Some(35.5), now());
    untimed.result.time_given = false;
    assert_eq!(record(store, vec![untimed]).await[0], ResultOutcome::Unchanged, "resent without its time");
    let other = record(store, vec![lab_result(&s1.barcode, Outcome::Positive, None, read)]).await;
    assert_eq!(refusal(&other[0]), "already_resulted");
    let pending = record(store, vec![correction(&s2.barcode, Outcome::Negative, read, "typo")]).await;
    assert_eq!(refusal(&pending[0]), "nothing_to_correct");
    assert_eq!(specimen_of(store, &s1.barcode).await.conclusion, Some(Conclusion::Negative));

    // Corrected to positive: the person becomes a case, where they live.
    let corrected = record(store, vec![correction(&s1.barcode, Outcome::Positive, read, "wrong row")]).await;
    let (people_told, cases) = recorded(&corrected[0]);
    assert_eq!((people_told, cases.len()), (vec![a.id], 1));
    let history = store.result_history(&s1.barcode).await.unwrap();
    assert_eq!(
        history.iter().map(|h| (h.outcome, h.correction.as_deref())).collect::<Vec<_>>(),
        [(Outcome::Negative, None), (Outcome::Positive, Some("wrong row"))]
    );
    assert_eq!(
        (history[0].ct, history[0].resulted_at, history[0].recorded_by.as_str()),
        (Some(35.5), read, "lab.bachmai")
    );
    assert!(store.result_history(&s2.barcode).await.unwrap().is_empty());
    let case = store.case(cases[0]).await.unwrap().unwrap();
    assert_eq!((case.case.person, case.case.specimen, case.case.status), (a.id, Some(s1.id), CaseStatus::Confirmed));
    assert_eq!(
        (case.case.unit.as_str(), case.case.unit_path.as_str(), case.case.source.as_str()),
        ("00070", "/VN/01/00070/", "test")
    );
    assert_eq!(case.case.sample_date, Some(day));

    // A second positive of the same person within the episode confirms nothing new.
    let s3 = swab(&later, a, 3, t + Duration::hours(1));
    store.take_specimens(vec![s3.clone()], vec![]).await.unwrap();
    let second = record(store, vec![lab_result(&s3.barcode, Outcome::Positive, Some(22.0), read)]).await;
    assert_eq!(recorded(&second[0]), (vec![a.id], vec![]));
    assert_eq!(store.cases(&all_cases(Some(a.id))).await.unwrap().len(), 1);

    // b lives in another commune than where the swab was taken: the case is at home.
    let elsewhere = record(store, vec![lab_result(&s2.barcode, Outcome::Positive, None, read)]).await;
    let (_, b_cases) = recorded(&elsewhere[0]);
    let b_case = store.case(b_cases[0]).await.unwrap().unwrap().case;
    assert_eq!((b_case.unit.as_str(), b_case.unit_path.as_str()), ("00073", "/VN/01/00073/"));

    // The positive corrected away discards its case.
    let discarded = record(store, vec![correction(&s1.barcode, Outcome::Negative, read, "sample swap")]).await;
    assert_eq!(recorded(&discarded[0]), (vec![a.id], vec![]));
    assert_eq!(store.case(cases[0]).await.unwrap().unwrap().case.status, CaseStatus::Discarded);
    assert_eq!(store.result_history(&s1.barcode).await.unwrap().len(), 3);
    assert_eq!(store.case(b_cases[0]).await.unwrap().unwrap().case.status, CaseStatus::Confirmed);
}

async fn results_are_refused_one_by_one(store: &dyn Store) {
    seeded(store).await;
    let people = people_in(store, &["00070", "00070", "00070", "00070"]).await;
    let pcr = new_session("00070", "/VN/01/00070/", None, TestType::RtPcr);
    let rapid = new_session("00070", "/VN/01/00070/", None, TestType::RapidAntigen);
    let pooled = new_session("00070", "/VN/01/00070/", Some(2), TestType::RtPcr);
    for s in [&pcr, &rapid, &pooled] {
        store.insert_sampling_session(s).await.unwrap();
    }
    let (_, t) = yesterday_noon();
    let (s1, s2, s3) = (swab(&pcr, &people[0], 1, t), swab(&rapid, &people[1], 2, t), swab(&pooled, &people[2], 3, t));
    store.take_specimens(vec![s1.clone(), s2.clone(), s3.clone()], vec![]).await.unwrap();
    let read = t + Duration::hours(1);
    let outcomes = record(
        store,
        vec![
            lab_result(&Barcode::new(BarcodeKind::Specimen, 404), Outcome::Negative, None, read),
            lab_result(&s3.barcode, Outcome::Negative, None, read),
            lab_result(&s2.barcode, Outcome::Negative, Some(25.0), read),
            lab_result(&s1.barcode, Outcome::Negative, None, t - Duration::minutes(1)),
            lab_result(&s2.barcode, Outcome::Negative, None, read),
            lab_result(&s1.barcode, Outcome::Negative, None, read),
            lab_result(&s1.barcode, Outcome::Negative, None, read),
        ],
    )
    .await;
    assert_eq!(refusal(&outcomes[0]), "unknown_barcode");
    assert_eq!(refusal(&outcomes[1]), "pooled_specimen");
    assert_eq!(refusal(&outcomes[2]), "ct_not_applicable");
    assert_eq!(refusal(&outcomes[3]), "before_collection");
    assert_eq!(recorded(&outcomes[4]).0, [people[1].id], "a refusal does not stop the others");
    assert_eq!(recorded(&outcomes[5]).0, [people[0].id]);
    assert_eq!(outcomes[6], ResultOutcome::Unchanged, "a tube named twice in one batch is recorded once");
    assert_eq!(store.result_history(&s1.barcode).await.unwrap().len(), 1);
    assert!(store.result_history(&s3.barcode).await.unwrap().is_empty());
    assert_eq!(specimen_of(store, &s3.barcode).await.conclusion, None);

    let s4 = swab(&pcr, &people[3], 4, t);
    store.take_specimens(vec![s4.clone()], vec![]).await.unwrap();
    let away = store
        .record_results(vec![lab_result(&s4.barcode, Outcome::Positive, None, read)], vec!["/VN/79/".into()], vec![])
        .await
        .unwrap();
    assert_eq!(refusal(&away[0]), "outside_jurisdiction");
    assert_eq!(specimen_of(store, &s4.barcode).await.conclusion, None);
    assert!(store.cases(&all_cases(None)).await.unwrap().is_empty());
    let home = store
        .record_results(
            vec![lab_result(&s4.barcode, Outcome::Positive, None, read)],
            vec!["/VN/01/00070/".into()],
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(recorded(&home[0]).1.len(), 1);
}

async fn pool_results_conclude_for_members_and_retests_follow(store: &dyn Store) {
    seeded(store).await;
    let people = people_in(store, &["00070", "00070", "00073", "00070", "00070", "00070"]).await;
    let first = new_session("00070", "/VN/01/00070/", Some(3), TestType::RtPcr);
    let second = new_session("00070", "/VN/01/00070/", Some(3), TestType::RtPcr);
    let next_day = new_session("00070", "/VN/01/00070/", Some(3), TestType::RtPcr);
    for s in [&first, &second, &next_day] {
        store.insert_sampling_session(s).await.unwrap();
    }
    let (_, t) = yesterday_noon();
    let positive_pool: Vec<NewSpecimen> = people[..3]
        .iter()
        .enumerate()
        .map(|(i, p)| swab(&first, p, 1 + i as u64, t + Duration::minutes(i as i64)))
        .collect();
    let negative_pool: Vec<NewSpecimen> = people[3..5]
        .iter()
        .enumerate()
        .map(|(i, p)| swab(&second, p, 11 + i as u64, t + Duration::minutes(i as i64)))
        .collect();
    store.take_specimens(positive_pool.clone(), vec![]).await.unwrap();
    store.take_specimens(negative_pool.clone(), vec![]).await.unwrap();
    let p1 = positive_pool[0].new_pool.clone().unwrap().1;
    let p2 = negative_pool[0].new_pool.clone().unwrap().1;
    let read = t + Duration::hours(4);

    let outcomes = record(
        store,
        vec![lab_result(&p2, Outcome::Negative, None, read), lab_result(&p1, Outcome::Positive, Some(30.0), read)],
    )
    .await;
    assert_eq!(recorded(&outcomes[0]), (vec![people[3].id, people[4].id], vec![]));
    assert_eq!(
        recorded(&outcomes[1]),
        (vec![people[0].id, people[1].id, people[2].id], vec![]),
        "a pooled positive confirms no one"
    );
    let pool = pool_of(store, &p1).await;
    assert_eq!(
        (pool.status, pool.outcome, pool.ct, pool.resulted_at),
        (SpecimenStatus::Resulted, Some(Outcome::Positive), Some(30.0), Some(read))
    );
    for s in &negative_pool {
        let member = specimen_of(store, &s.barcode).await;
        assert_eq!(
            (member.status, member.conclusion, member.resulted_at),
            (SpecimenStatus::Resulted, Some(Conclusion::Negative), Some(read))
        );
    }
    for s in &positive_pool {
        assert_eq!(specimen_of(store, &s.barcode).await.conclusion, Some(Conclusion::RetestIndividually));
    }
    assert!(store.cases(&all_cases(None)).await.unwrap().is_empty());
    assert_eq!(store.result_history(&p1).await.unwrap().len(), 1);
    let again = record(store, vec![lab_result(&p1, Outcome::Positive, Some(30.0), read)]).await;
    assert_eq!(again[0], ResultOutcome::Unchanged);
    let member = record(store, vec![lab_result(&positive_pool[0].barcode, Outcome::Positive, None, read)]).await;
    assert_eq!(refusal(&member[0]), "pooled_specimen");

    // The next swab of a retest person is their own tube, even in a pooled session.
    let t2 = t + Duration::hours(6);
    let retest = swab(&next_day, &people[0], 21, t2);
    let newcomer = swab(&next_day, &people[5], 22, t2 + Duration::minutes(1));
    let taken = store.take_specimens(vec![retest.clone(), newcomer.clone()], vec![]).await.unwrap();
    assert_eq!((taken[0].retest_of, taken[0].pool.as_ref()), (Some(positive_pool[0].id), None));
    assert_eq!(
        (taken[1].retest_of, taken[1].pool.as_ref().map(|p| p.id)),
        (None, newcomer.new_pool.as_ref().map(|p| p.0))
    );
    let outcomes =
        record(store, vec![lab_result(&retest.barcode, Outcome::Positive, Some(21.0), t2 + Duration::hours(2))]).await;
    let (_, cases) = recorded(&outcomes[0]);
    assert_eq!(cases.len(), 1, "the individual retest's positive confirms the case");
    assert_eq!(store.case(cases[0]).await.unwrap().unwrap().case.specimen, Some(retest.id));

    let totals = store.testing_totals_all("/VN/01/").await.unwrap();
    assert_eq!(totals, Totals { collected: 7, positive: 1, negative: 2, invalid: 0, retest: 3, rejected: 0 });
    assert_eq!(totals.pending(), 1);
    let pooled_events = store.events_after(0, &["result.recorded"], 100).await.unwrap();
    assert_eq!(pooled_events.len(), 6);
    assert!(pooled_events[..5].iter().all(|e| e.payload["pooled"] == serde_json::json!(true)));
    assert_eq!(pooled_events[5].payload["pooled"], serde_json::json!(false));
}

async fn tubes_move_to_the_lab_and_rejections_count(store: &dyn Store) {
    seeded(store).await;
    let people = people_in(store, &["00070", "00073", "00070", "00070"]).await;
    let individual = new_session("00070", "/VN/01/00070/", None, TestType::RtPcr);
    let pooled = new_session("00070", "/VN/01/00070/", Some(3), TestType::RtPcr);
    store.insert_sampling_session(&individual).await.unwrap();
    store.insert_sampling_session(&pooled).await.unwrap();
    let (_, t) = yesterday_noon();
    let (s1, s2) = (swab(&individual, &people[0], 1, t), swab(&individual, &people[1], 2, t));
    let (m1, m2) = (swab(&pooled, &people[2], 3, t), swab(&pooled, &people[3], 4, t));
    store.take_specimens(vec![s1.clone(), s2.clone(), m1.clone(), m2.clone()], vec![]).await.unwrap();
    let pool = m1.new_pool.clone().unwrap().1;
    let later = t + Duration::hours(1);
    let refused = |result: Result<()>| match result {
        Err(StoreError::Refused { code, .. }) => code,
        other => panic!("expected a refusal, got {other:?}"),
    };

    store.move_tube(&s1.barcode, TubeStep::Ship, later).await.unwrap();
    assert_eq!(specimen_of(store, &s1.barcode).await.status, SpecimenStatus::InTransit);
    assert_eq!(refused(store.move_tube(&s1.barcode, TubeStep::Ship, later).await), "already_shipped");
    store.move_tube(&s1.barcode, TubeStep::Receive, later).await.unwrap();
    assert_eq!(specimen_of(store, &s1.barcode).await.status, SpecimenStatus::Received);
    assert_eq!(refused(store.move_tube(&s1.barcode, TubeStep::Receive, later).await), "already_received");
    record(store, vec![lab_result(&s1.barcode, Outcome::Negative, None, later)]).await;
    assert_eq!(refused(store.move_tube(&s1.barcode, TubeStep::Receive, later).await), "already_resulted");

    let leaked = TubeStep::Reject { reason: "ống bị rò".into() };
    store.move_tube(&s2.barcode, leaked.clone(), later).await.unwrap();
    let rejected = specimen_of(store, &s2.barcode).await;
    assert_eq!(
        (rejected.status, rejected.reject_reason.as_deref(), rejected.conclusion),
        (SpecimenStatus::Rejected, Some("ống bị rò"), None)
    );
    assert_eq!(refused(store.move_tube(&s2.barcode, TubeStep::Receive, later).await), "rejected");
    let outcome = record(store, vec![lab_result(&s2.barcode, Outcome::Positive, None, later)]).await;
    assert_eq!(refusal(&outcome[0]), "rejected");
    assert!(store.cases(&all_cases(None)).await.unwrap().is_empty());
    let events = store.events_after(0, &["specimen.rejected"], 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].subject.as_str(), events[0].unit_path.as_str()),
        (s2.id.to_string().as_str(), "/VN/01/00073/")
    );
    assert_eq!(events[0].payload["reason"], serde_json::json!("ống bị rò"));
    assert_eq!(events[0].payload["person"], serde_json::json!(people[1].id));
    let totals = store.testing_totals_all("/VN/01/00073/").await.unwrap();
    assert_eq!((totals.collected, totals.rejected, totals.pending()), (1, 1, 0));
    assert!(!store.open_specimens(&["/VN/".into()], 10).await.unwrap().iter().any(|s| s.id == s2.id));

    // A pool's swabs travel in its tube: they are not moved one by one.
    assert_eq!(refused(store.move_tube(&m1.barcode, TubeStep::Ship, later).await), "pooled_specimen");
    store.move_tube(&pool, TubeStep::Ship, later).await.unwrap();
    let shipped = pool_of(store, &pool).await;
    assert_eq!((shipped.status, shipped.closed), (SpecimenStatus::InTransit, true));
    assert_eq!(specimen_of(store, &m2.barcode).await.status, SpecimenStatus::InTransit);
    store.move_tube(&pool, TubeStep::Reject { reason: "hết hạn".into() }, later).await.unwrap();
    assert_eq!(specimen_of(store, &m1.barcode).await.status, SpecimenStatus::Rejected);
    assert_eq!(store.events_after(0, &["specimen.rejected"], 10).await.unwrap().len(), 3);
    assert_eq!(store.testing_totals_all("/VN/01/00070/").await.unwrap().rejected, 2);
    let outcome = record(store, vec![lab_result(&pool, Outcome::Negative, None, later)]).await;
    assert_eq!(refusal(&outcome[0]), "rejected");

    let unknown = store.move_tube(&Barcode::new(BarcodeKind::Pool, 404), TubeStep::Ship, later).await;
    assert!(matches!(unknown, Err(StoreError::NotFound("barcode"))));
}

async fn totals_and_turnaround_follow_results(store: &dyn Store) {
    seeded(store).await;
    let people = people_in(store, &["00070", "00073", "26740", "00070", "00070"]).await;
    let pcr = new_session("00070", "/VN/01/00070/", None, TestType::RtPcr);
    let rapid = new_session("00070", "/VN/01/00070/", None, TestType::RapidAntigen);
    store.insert_sampling_session(&pcr).await.unwrap();
    store.insert_sampling_session(&rapid).await.unwrap();
    let (day, t) = yesterday_noon();
    let swabs = vec![
        swab(&pcr, &people[0], 1, t),
        swab(&pcr, &people[1], 2, t),
        swab(&pcr, &people[2], 3, t),
        swab(&rapid, &people[3], 4, t),
        swab(&pcr, &people[4], 5, t),
    ];
    store.take_specimens(swabs.clone(), vec![]).await.unwrap();
    let outcomes = record(
        store,
        vec![
            lab_result(&swabs[0].barcode, Outcome::Negative, None, t + Duration::hours(2)),
            lab_result(&swabs[1].barcode, Outcome::Positive, Some(18.0), t + Duration::minutes(330)),
            lab_result(&swabs[2].barcode, Outcome::Invalid, None, t + Duration::minutes(150)),
            lab_result(&swabs[3].barcode, Outcome::Negative, None, t + Duration::minutes(30)),
        ],
    )
    .await;
    assert!(outcomes.iter().all(|o| matches!(o, ResultOutcome::Recorded { .. })), "{outcomes:?}");

    let counts = |collected, positive, negative, invalid| Totals {
        collected,
        positive,
        negative,
        invalid,
        retest: 0,
        rejected: 0,
    };
    let daily = |test_type, totals| DailyTotals { day, test_type, totals };
    assert_eq!(
        store.testing_totals("/VN/01/00070/", day, day).await.unwrap(),
        [daily(TestType::RapidAntigen, counts(1, 0, 1, 0)), daily(TestType::RtPcr, counts(2, 0, 1, 0))]
    );
    assert_eq!(
        store.testing_totals("/VN/01/", day - Duration::days(3), day).await.unwrap(),
        [daily(TestType::RapidAntigen, counts(1, 0, 1, 0)), daily(TestType::RtPcr, counts(3, 1, 1, 0))]
    );
    assert_eq!(
        store.testing_totals("/VN/", day, day + Duration::days(1)).await.unwrap(),
        [daily(TestType::RapidAntigen, counts(1, 0, 1, 0)), daily(TestType::RtPcr, counts(4, 1, 1, 1))]
    );
    assert!(store.testing_totals("/VN/", day + Duration::days(1), day + Duration::days(2)).await.unwrap().is_empty());
    assert!(
        store.testing_totals("/VN/01/00070/h1/", day, day).await.unwrap().is_empty(),
        "units below a commune roll up into it"
    );
    let all = store.testing_totals_all("/VN/").await.unwrap();
    assert_eq!((all.collected, all.pending()), (5, 1));
    assert_eq!(store.testing_totals_all("/VN/79/").await.unwrap(), counts(1, 0, 0, 1));
    let table = store
        .testing_totals_of(&["/VN/01/00073/".into(), "/VN/01/00070/".into(), "/VN/48/".into()], day, day)
        .await
        .unwrap();
    assert_eq!(
        table,
        [
            ("/VN/01/00073/".to_owned(), counts(1, 1, 0, 0)),
            ("/VN/01/00070/".to_owned(), counts(3, 0, 2, 0)),
            ("/VN/48/".to_owned(), Totals::default()),
        ]
    );

    assert_eq!(store.turnaround("/VN/", day, day).await.unwrap(), [(0, 1), (2, 2), (5, 1)]);
    assert_eq!(store.turnaround("/VN/01/00073/", day, day).await.unwrap(), [(5, 1)]);
    assert!(store.turnaround("/VN/", day + Duration::days(1), day + Duration::days(1)).await.unwrap().is_empty());

    // A correction moves the totals but is not a second turnaround.
    let fixed =
        record(store, vec![correction(&swabs[1].barcode, Outcome::Negative, t + Duration::minutes(330), "mix-up")])
            .await;
    assert!(matches!(fixed[0], ResultOutcome::Recorded { .. }));
    assert_eq!(store.testing_totals_all("/VN/01/00073/").await.unwrap(), counts(1, 0, 1, 0));
    assert_eq!(store.turnaround("/VN/", day, day).await.unwrap(), [(0, 1), (2, 2), (5, 1)]);
}

async fn events_and_cursors(store: &dyn Store) {
    seeded(store).await;
    let people = people_in(store, &["00070", "00070", "00073"]).await;
    let session = new_session("00070", "/VN/01/00070/", None, TestType::RtPcr);
    store.insert_sampling_session(&session).await.unwrap();
    let (_, t) = yesterday_noon();
    let swabs: Vec<NewSpecimen> = people.iter().enumerate().map(|(i, p)| swab(&session, p, 1 + i as u64, t)).collect();
    store.take_specimens(swabs.clone(), vec![]).await.unwrap();
    assert!(store.events_after(0, &[], 100).await.unwrap().is_empty(), "taking a swab is not an event");
    let read = t + Duration::hours(2);
    let outcomes = record(
        store,
        vec![
            lab_result(&swabs[0].barcode, Outcome::Negative, None, read),
            lab_result(&swabs[2].barcode, Outcome::Positive, None, read),
            lab_result(&Barcode::new(BarcodeKind::Specimen, 404), Outcome::Positive, None, read),
        ],
    )
    .await;
    let (_, cases) = recorded(&outcomes[1]);

    let confirmed = store.events_after(0, &["case.confirmed"], 100).await.unwrap();
    assert_eq!(confirmed.len(), 1);
    assert_eq!(
        (confirmed[0].subject.as_str(), confirmed[0].unit_path.as_str()),
        (cases[0].to_string().as_str(), "/VN/01/00073/")
    );
    assert_eq!(confirmed[0].payload["person"], serde_json::json!(people[2].id));
    assert_eq!(confirmed[0].payload["specimen"], serde_json::json!(swabs[2].id));
    let results = store.events_after(0, &["result.recorded"], 100).await.unwrap();
    assert_eq!(
        results.iter().map(|e| e.subject.clone()).collect::<Vec<_>>(),
        [swabs[0].id.to_string(), swabs[2].id.to_string()]
    );
    assert_eq!(results[0].payload["conclusion"], serde_json::json!("negative"));
    assert_eq!(results[0].payload["barcode"], serde_json::json!(swabs[0].barcode));
    assert_eq!(results[1].payload["conclusion"], serde_json::json!("positive"));
    assert_eq!(results[0].unit_path, "/VN/01/00070/");

    let all = store.events_after(0, &[], 100).await.unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq), "oldest first");
    assert_eq!(store.events_after(0, &["result.recorded", "case.confirmed"], 100).await.unwrap(), all);
    assert_eq!(store.events_after(all[0].seq, &[], 100).await.unwrap(), all[1..]);
    assert_eq!(store.events_after(0, &[], 2).await.unwrap(), all[..2]);
    assert!(store.events_after(all[2].seq, &[], 100).await.unwrap().is_empty());
    assert!(store.events_after(0, &["dose.recorded"], 100).await.unwrap().is_empty());

    record(store, vec![correction(&swabs[0].barcode, Outcome::Positive, read, "swapped")]).await;
    let corrected = store.events_after(all[2].seq, &[], 100).await.unwrap();
    assert_eq!(corrected.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["result.corrected", "case.confirmed"]);

    assert_eq!(store.event_cursor("sms").await.unwrap(), 0);
    store.set_event_cursor("sms", all[1].seq).await.unwrap();
    assert_eq!(store.event_cursor("sms").await.unwrap(), all[1].seq);
    store.set_event_cursor("sms", all[0].seq).await.unwrap();
    assert_eq!(store.event_cursor("sms").await.unwrap(), all[1].seq, "a cursor never moves back");
    store.set_event_cursor("sms", all[2].seq).await.unwrap();
    assert_eq!(store.event_cursor("sms").await.unwrap(), all[2].seq);
    assert_eq!(store.event_cursor("webhook").await.unwrap(), 0);

    // One server at a time runs a consumer: the lease holder renews, others wait it out.
    let at = now();
    let lease = |holder: &'static str, from: OffsetDateTime| {
        store.lease_consumer("sms", holder, from, from + Duration::seconds(30))
    };
    assert!(lease("server-a", at).await.unwrap());
    assert!(!lease("server-b", at + Duration::seconds(10)).await.unwrap(), "a's lease runs");
    assert!(lease("server-a", at + Duration::seconds(20)).await.unwrap(), "the holder renews");
    assert!(!lease("server-b", at + Duration::seconds(40)).await.unwrap(), "renewed until 50 s");
    assert!(lease("server-b", at + Duration::seconds(50)).await.unwrap(), "lapsed: b takes over");
    assert!(!lease("server-a", at + Duration::seconds(55)).await.unwrap());
    assert!(store.lease_consumer("webhook", "server-a", at, at + Duration::seconds(30)).await.unwrap());
}

async fn cases_filter_and_staff_entries(store: &dyn Store) {
    seeded(store).await;
    let people = people_in(store, &["00070", "00073"]).await;
    let (a, b) = (&people[0], &people[1]);
    let session = new_session("00070", "/VN/01/00070/", None, TestType::RtPcr);
    store.insert_sampling_session(&session).await.unwrap();
    let (day, t) = yesterday_noon();
    let s1 = swab(&session, a, 1, t);
    store.take_specimens(vec![s1.clone()], vec![]).await.unwrap();
    let outcomes = record(store, vec![lab_result(&s1.barcode, Outcome::Positive, None, t + Duration::hours(2))]).await;
    let tested = recorded(&outcomes[0]).1[0];

    let staff = Case {
        id: CaseId(Uuid::now_v7()),
        person: b.id,
        unit: code("00073"),
        unit_path: "/VN/01/00073/".into(),
        source: "staff".into(),
        specimen: None,
        sample_date: None,
        onset_date: Some(day - Duration::days(2)),
        confirmed_at: now() - Duration::days(1),
        status: CaseStatus::Confirmed,
        note: "Bệnh viện Bạch Mai báo".into(),
    };
    store.insert_case(&staff).await.unwrap();
    let ghost = Case { id: CaseId(Uuid::now_v7()), person: PersonId::new(), ..staff.clone() };
    assert!(matches!(store.insert_case(&ghost).await, Err(StoreError::NotFound("person"))));
    assert!(store.case(ghost.id).await.unwrap().is_none());
    let row = store.case(staff.id).await.unwrap().unwrap();
    assert_eq!(row.case, staff);
    assert_eq!(
        (row.full_name.as_str(), row.phone.clone()),
        (b.full_name.as_str(), b.phone.as_ref().map(|p| p.as_str().to_owned()))
    );
    let confirmed = store.events_after(0, &["case.confirmed"], 10).await.unwrap();
    assert_eq!(
        confirmed.iter().map(|e| e.subject.clone()).collect::<Vec<_>>(),
        [tested.to_string(), staff.id.to_string()]
    );
    assert_eq!(confirmed[1].payload["source"], serde_json::json!("staff"));

    let ids = |rows: Vec<CaseRow>| rows.into_iter().map(|r| r.case.id).collect::<Vec<_>>();
    let filter = |scope: &[&str], person: Option<PersonId>| CaseFilter {
        scope: scope.iter().map(|s| s.to_string()).collect(),
        since: None,
        person,
        limit: 10,
    };
    assert_eq!(ids(store.cases(&filter(&["/VN/"], None)).await.unwrap()), [tested, staff.id], "newest first");
    assert_eq!(ids(store.cases(&filter(&["/VN/01/00070/"], None)).await.unwrap()), [tested]);
    assert_eq!(ids(store.cases(&filter(&["/VN/01/00073/", "/VN/79/"], None)).await.unwrap()), [staff.id]);
    assert!(store.cases(&filter(&["/VN/79/"], None)).await.unwrap().is_empty());
    assert!(store.cases(&filter(&[], None)).await.unwrap().is_empty());
    assert_eq!(ids(store.cases(&filter(&["/VN/"], Some(b.id))).await.unwrap()), [staff.id]);
    assert!(store.cases(&filter(&["/VN/01/00070/"], Some(b.id))).await.unwrap().is_empty());
    let recent = CaseFilter { since: Some(now() - Duration::hours(1)), ..filter(&["/VN/"], None) };
    assert_eq!(ids(store.cases(&recent).await.unwrap()), [tested]);
    assert_eq!(store.cases(&CaseFilter { limit: 1, ..filter(&["/VN/"], None) }).await.unwrap().len(), 1);
    let listed = store.cases(&filter(&["/VN/01/00070/"], None)).await.unwrap();
    assert_eq!((listed[0].full_name.as_str(), listed[0].case.person), (a.full_name.as_str(), a.id));

    store.set_case_status(staff.id, CaseStatus::Isolating, "cách ly tại nhà", now()).await.unwrap();
    let updated = store.case(staff.id).await.unwrap().unwrap().case;
    assert_eq!((updated.status, updated.note.as_str()), (CaseStatus::Isolating, "cách ly tại nhà"));
    assert!(matches!(
        store.set_case_status(CaseId(Uuid::now_v7()), CaseStatus::Recovered, "", now()).await,
        Err(StoreError::NotFound("case"))
    ));
}

async fn imported_tests_count_without_events(store: &dyn Store) {
    seeded(store).await;
    let people = people_in(store, &["00070", "00073", "00070"]).await;
    let session = new_session("00070", "/VN/01/00070/", Some(2), TestType::RtPcr);
    let (day, t) = yesterday_noon();
    let read = t + Duration::hours(3);
    let pool = Pool {
        id: PoolId(Uuid::now_v7()),
        barcode: Barcode::new(BarcodeKind::Pool, 1),
        session: session.id,
        size_limit: 2,
        members: 2,
        closed: true,
        status: SpecimenStatus::Resulted,
        outcome: Some(Outcome::Negative),
        ct: None,
        resulted_at: Some(read),
        reject_reason: None,
        site_path: "/VN/01/00070/".into(),
    };
    let specimen = |person: &Person, n: u64, home: &str, pooled: bool| Specimen {
        id: SpecimenId(Uuid::now_v7()),
        barcode: Barcode::new(BarcodeKind::Specimen, n),
        session: session.id,
        person: person.id,
        test_type: TestType::RtPcr,
        site_path: "/VN/01/00070/".into(),
        home_path: home.into(),
        collected_at: t,
        pool: pooled.then(|| PoolRef { id: pool.id, barcode: pool.barcode.clone() }),
        status: if pooled { SpecimenStatus::Resulted } else { SpecimenStatus::Collected },
        conclusion: pooled.then_some(Conclusion::Negative),
        ct: None,
        resulted_at: pooled.then_some(read),
        reject_reason: None,
        retest_of: None,
    };
    let specimens = vec![
        specimen(&people[0], 1, "/VN/01/00070/", true),
        specimen(&people[1], 2, "/VN/01/00073/", true),
        specimen(&people[2], 3, "/VN/01/00070/", false),
    ];
    let import =
        TestImport { sessions: vec![session.clone()], pools: vec![pool.clone()], specimens: specimens.clone() };
    store.import_tests(import).await.unwrap();

    assert_eq!(store.sampling_session(session.id).await.unwrap(), Some(session.clone()));
    assert_eq!(pool_of(store, &pool.barcode).await, pool);
    for s in &specimens {
        assert_eq!(specimen_of(store, &s.barcode).await, s.clone());
    }
    assert!(store.events_after(0, &[], 10).await.unwrap().is_empty(), "an import raises no events");
    let totals = store.testing_totals_all("/VN/01/").await.unwrap();
    assert_eq!((totals.collected, totals.negative, totals.pending()), (3, 2, 1));
    assert_eq!(store.testing_totals_all("/VN/01/00073/").await.unwrap().negative, 1);
    assert_eq!(store.turnaround("/VN/", day, day).await.unwrap(), [(3, 2)]);

    // Imported tubes are like any other: the pending one takes its result.
    let outcome = record(store, vec![lab_result(&specimens[2].barcode, Outcome::Positive, None, read)]).await;
    assert_eq!(recorded(&outcome[0]).1.len(), 1);
    let again = record(store, vec![lab_result(&pool.barcode, Outcome::Negative, None, read)]).await;
    assert_eq!(again[0], ResultOutcome::Unchanged);

    // One label taken: nothing of the import is stored.
    let other = new_session("00070", "/VN/01/00070/", None, TestType::RtPcr);
    let clash = TestImport {
        sessions: vec![other.clone()],
        pools: vec![],
        specimens: vec![Specimen { id: SpecimenId(Uuid::now_v7()), session: other.id, ..specimens[2].clone() }],
    };
    assert!(matches!(store.import_tests(clash).await, Err(StoreError::Conflict { field: "barcode", .. })));
    assert!(store.sampling_session(other.id).await.unwrap().is_none());
    let lost = TestImport {
        sessions: vec![
            other.clone(),
            SamplingSession { id: SessionId(Uuid::now_v7()), unit: code("99999"), ..other.clone() },
        ],
        ..TestImport::default()
    };
    assert!(matches!(store.import_tests(lost).await, Err(StoreError::NotFound("unit"))));
    assert!(store.sampling_session(other.id).await.unwrap().is_none());
    assert_eq!(store.testing_totals_all("/VN/").await.unwrap().collected, 3);
}

/// A file longer than a transaction: each row sees what the rows before it did, in
/// whichever transaction they were.
async fn a_long_file_is_recorded_row_after_row(store: &dyn Store) {
    seeded(store).await;
    let people = people_in(store, &["00070"; 6]).await;
    let single = new_session("00070", "/VN/01/00070/", None, TestType::RtPcr);
    let later = new_session("00070", "/VN/01/00070/", None, TestType::RtPcr);
    let pooled = new_session("00070", "/VN/01/00070/", Some(3), TestType::RtPcr);
    for session in [&single, &later, &pooled] {
        store.insert_sampling_session(session).await.unwrap();
    }
    let (_, t) = yesterday_noon();
    let (s1, s2, s3, s4) = (
        swab(&single, &people[0], 1, t),
        swab(&single, &people[1], 2, t),
        swab(&later, &people[1], 3, t + Duration::minutes(5)),
        swab(&single, &people[2], 4, t),
    );
    let members: Vec<NewSpecimen> =
        people[3..].iter().enumerate().map(|(i, p)| swab(&pooled, p, 11 + i as u64, t)).collect();
    let pool = members[0].new_pool.clone().unwrap().1;
    let mut all = vec![s1.clone(), s2.clone(), s3.clone(), s4.clone()];
    all.extend(members.clone());
    store.take_specimens(all, vec![]).await.unwrap();
    let read = t + Duration::hours(2);

    let outcomes = record(
        store,
        vec![
            lab_result(&s1.barcode, Outcome::Negative, None, read),
            lab_result(&s2.barcode, Outcome::Positive, Some(20.0), read),
            lab_result(&pool, Outcome::Negative, None, read),
            // Each again in a later transaction, and the same person's second positive.
            lab_result(&s1.barcode, Outcome::Negative, None, read),
            lab_result(&s3.barcode, Outcome::Positive, Some(24.0), read),
            lab_result(&pool, Outcome::Negative, None, read),
            lab_result(&s1.barcode, Outcome::Positive, None, read),
            lab_result(&members[0].barcode, Outcome::Positive, None, read),
            lab_result(&s4.barcode, Outcome::Negative, None, read),
        ],
    )
    .await;
    assert_eq!(recorded(&outcomes[1]).1.len(), 1, "the first positive confirms a case");
    assert_eq!(recorded(&outcomes[2]).0.len(), 3);
    assert_eq!((&outcomes[3], &outcomes[5]), (&ResultOutcome::Unchanged, &ResultOutcome::Unchanged));
    assert_eq!(recorded(&outcomes[4]), (vec![people[1].id], vec![]), "one case per person per episode");
    assert_eq!(refusal(&outcomes[6]), "already_resulted");
    assert_eq!(refusal(&outcomes[7]), "pooled_specimen");
    assert_eq!(recorded(&outcomes[8]).0, vec![people[2].id]);
    assert_eq!(store.cases(&all_cases(Some(people[1].id))).await.unwrap().len(), 1);
    assert_eq!(store.result_history(&s1.barcode).await.unwrap().len(), 1);
    assert_eq!(store.result_history(&pool).await.unwrap().len(), 1);
    assert_eq!(specimen_of(store, &s1.barcode).await.conclusion, Some(Conclusion::Negative));
    let totals = store.testing_totals_all("/VN/").await.unwrap();
    assert_eq!((totals.collected, totals.positive, totals.negative, totals.pending()), (7, 2, 5, 0));
}

async fn concurrent_writers_keep_the_rules(store: &dyn Store) {
    seeded(store).await;
    let people = people_in(store, &["00070"; 11]).await;
    let (first, second) = (
        new_session("00070", "/VN/01/00070/", None, TestType::RtPcr),
        new_session("00070", "/VN/01/00070/", None, TestType::RtPcr),
    );
    store.insert_sampling_session(&first).await.unwrap();
    store.insert_sampling_session(&second).await.unwrap();
    let (_, t) = yesterday_noon();
    let swabs: Vec<NewSpecimen> =
        people[..10].iter().enumerate().map(|(i, p)| swab(&first, p, 1 + i as u64, t)).collect();
    let (x1, x2) = (swab(&first, &people[10], 100, t), swab(&second, &people[10], 101, t));
    let mut all = swabs.clone();
    all.extend([x1.clone(), x2.clone()]);
    store.take_specimens(all, vec![]).await.unwrap();
    let read = t + Duration::hours(1);
    let scope = || vec!["/VN/".to_owned()];

    // Two labs send results for the same tubes at once: each tube is resulted once.
    let batch = |outcome| swabs.iter().map(|s| lab_result(&s.barcode, outcome, None, read)).collect::<Vec<_>>();
    let (a, b) = tokio::join!(
        store.record_results(batch(Outcome::Negative), scope(), vec![]),
        store.record_results(batch(Outcome::Positive), scope(), vec![]),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    for (i, s) in swabs.iter().enumerate() {
        let won = [&a[i], &b[i]].iter().filter(|o| matches!(o, ResultOutcome::Recorded { .. })).count();
        assert_eq!(won, 1, "{s:?}: {:?} / {:?}", a[i], b[i]);
        assert_eq!(store.result_history(&s.barcode).await.unwrap().len(), 1);
    }
    // Two first positives of one person at once: one case.
    let (a, b) = tokio::join!(
        store.record_results(vec![lab_result(&x1.barcode, Outcome::Positive, None, read)], scope(), vec![]),
        store.record_results(vec![lab_result(&x2.barcode, Outcome::Positive, None, read)], scope(), vec![]),
    );
    let confirmed = recorded(&a.unwrap()[0]).1.len() + recorded(&b.unwrap()[0]).1.len();
    assert_eq!(confirmed, 1);
    assert_eq!(store.cases(&all_cases(Some(people[10].id))).await.unwrap().len(), 1);
    let totals = store.testing_totals_all("/VN/").await.unwrap();
    assert_eq!((totals.collected, totals.positive + totals.negative, totals.pending()), (12, 12, 0));

    // Two samplers fill one pooled session at once: no pool takes more than its size.
    let pooled = new_session("00070", "/VN/01/00070/", Some(3), TestType::RtPcr);
    store.insert_sampling_session(&pooled).await.unwrap();
    let more = people_in(store, &["00070"; 40]).await;
    let take = |from: usize, n: u64| {
        more[from..from + 20].iter().enumerate().map(|(i, p)| swab(&pooled, p, n + i as u64, t)).collect::<Vec<_>>()
    };
    // A pool already open with room is where both would go.
    let opener = person("Người mở", None, "00070");
    store.insert_person(&opener).await.unwrap();
    store.take_specimens(vec![swab(&pooled, &opener, 199, t)], vec![]).await.unwrap();
    let (a, b) = tokio::join!(store.take_specimens(take(0, 200), vec![]), store.take_specimens(take(20, 300), vec![]));
    a.unwrap();
    b.unwrap();
    let pools = store.session_pools(pooled.id).await.unwrap();
    assert!(pools.iter().all(|p| p.members <= p.size_limit), "{pools:?}");
    assert_eq!(pools.iter().map(|p| p.members).sum::<i64>(), 41);
    for p in &pools {
        assert_eq!(store.pool_members(p.id).await.unwrap().len() as i64, p.members);
    }
    assert_eq!(store.testing_totals_all("/VN/").await.unwrap().collected, 53);
}

/// Contact tracing: co-presence over check-ins, households, contacts and their follow-up.
mod contact_tracing {
    use super::*;
    use outbreak_domain::tracing::{ContactId, ContactStatus, Evidence, Stay, VenueEncounter};
    use outbreak_domain::venue::{VenueId, VenueKind};

    conformance!(
        copresence_meets_within_the_margin_at_the_same_venue_only,
        copresence_ranks_and_counts_hub_visits,
        households_list_the_other_members,
        contacts_are_added_once_per_case_and_visitor,
        a_trace_of_hundreds_is_recorded_whole,
        contact_moves_follow_the_rules,
    );

    fn kind_venue(code: &str, kind: VenueKind) -> Venue {
        Venue {
            kind,
            plate: kind.is_vehicle().then(|| "29B-123.45".into()),
            ..venue(code, "00070", "/VN/01/00070/", None)
        }
    }

    /// A stay from `from` to `to` minutes after `t0`.
    fn visit(venue: &Venue, visitor: &str, t0: OffsetDateTime, from: i64, to: i64) -> NewCheckin {
        NewCheckin { until: t0 + Duration::minutes(to), ..checkin(venue, visitor, t0 + Duration::minutes(from), None) }
    }

    async fn store_visits(store: &dyn Store, visits: Vec<NewCheckin>) {
        let outcomes = store.record_checkins(visits, Duration::ZERO, vec![]).await.unwrap();
        assert!(outcomes.iter().all(|o| matches!(o, CheckinOutcome::Stored(_))), "{outcomes:?}");
    }

    fn base() -> OffsetDateTime {
        // Yesterday at a whole minute: inside the retention period and PostgreSQL's partitions.
        let t = now() - Duration::days(1);
        t.replace_second(0).unwrap().replace_nanosecond(0).unwrap()
    }

    fn met(rows: &[CoPresence]) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = rows.iter().map(|r| (r.visitor.clone(), r.venue_code.clone())).collect();
        pairs.sort();
        pairs
    }

    fn presence(visitor: &str, from: OffsetDateTime, until: OffsetDateTime) -> Presence {
        Presence { visitor: visitor.into(), from, until }
    }

    async fn copresence_meets_within_the_margin_at_the_same_venue_only(store: &dyn Store) {
        seeded(store).await;
        let t0 = base();
        let market = kind_venue("MARKET22", VenueKind::Market); // 10 minutes of margin
        let other = kind_venue("MARKET33", VenueKind::Market);
        let bus = kind_venue("BUS22222", VenueKind::Bus); // none
        for v in [&market, &other, &bus] {
            store.insert_venue(v).await.unwrap();
        }
        // Check-ins name their venue by its index key, so no other venue may have it.
        let (high, low) = market.id.0.as_u64_pair();
        let twin = Venue {
            id: VenueId(Uuid::from_u64_pair(high ^ 0xff, low ^ 0xff)),
            ..kind_venue("TWIN2222", VenueKind::Market)
        };
        assert!(matches!(store.insert_venue(&twin).await, Err(StoreError::Conflict { field: "id", .. })));
        assert_eq!(store.venue_by_code("TWIN2222").await.unwrap(), None);
        let resident = person("Trần Văn Khách", None, "00073");
        store.insert_person(&resident).await.unwrap();
        let known = resident.id.to_string();
        let known_visit = NewCheckin { name: String::new(), ..visit(&market, &known, t0, 30, 120) };
        store_visits(
            store,
            vec![
                visit(&market, "case", t0, 0, 60),
                known_visit,                                       // 30 minutes together
                visit(&market, "tel:+84900000002", t0, 69, 120),   // came 9 minutes after the case left
                visit(&market, "tel:+84900000003", t0, 70, 120),   // 10 minutes after: not a contact
                visit(&market, "tel:+84900000004", t0, -180, -11), // left 11 minutes before
                visit(&market, "tel:+84900000005", t0, -180, -9),  // left 9 minutes before
                visit(&market, "tel:+84900000006", t0, -420, 10),  // a long stay, begun 7 hours before
                visit(&other, "tel:+84900000007", t0, 0, 60),
                visit(&bus, "case", t0, 180, 240),
                visit(&bus, "tel:+84900000009", t0, 240, 300), // boarded as the case got off
                visit(&bus, "tel:+84900000010", t0, 210, 220),
                // Two days earlier, outside the window asked about.
                visit(&market, "case", t0, -2880, -2820),
                visit(&market, "tel:+84900000011", t0, -2870, -2830),
            ],
        )
        .await;

        let window = (t0 - Duration::days(1), t0 + Duration::days(1));
        let rows = store.copresence(&[presence("case", window.0, window.1)], 100).await.unwrap();
        assert_eq!(
            met(&rows),
            [
                (known.clone(), "MARKET22".to_owned()),
                ("tel:+84900000002".into(), "MARKET22".into()),
                ("tel:+84900000005".into(), "MARKET22".into()),
                ("tel:+84900000006".into(), "MARKET22".into()),
                ("tel:+84900000010".into(), "BUS22222".into()),
            ]
        );
        let row = rows.iter().find(|r| r.visitor == known).unwrap();
        assert_eq!(row.source, "case");
        assert_eq!(row.source_stay, Stay { at: t0, until: t0 + Duration::hours(1) });
        assert_eq!(row.stay, Stay { at: t0 + Duration::minutes(30), until: t0 + Duration::hours(2) });
        assert_eq!(
            (row.venue, row.venue_kind, row.venue_path.as_str()),
            (market.id, VenueKind::Market, "/VN/01/00070/")
        );
        assert_eq!((row.person, row.name.as_str()), (Some(resident.id), "Trần Văn Khách"), "the registered name");
        assert_eq!((row.home_path.as_deref(), row.phone.clone()), (Some("/VN/01/00073/"), resident.phone.clone()));
        assert_eq!(row.met, 4);
        let phone_only = rows.iter().find(|r| r.visitor == "tel:+84900000002").unwrap();
        assert_eq!((phone_only.person, phone_only.home_path.as_deref()), (None, None));
        assert_eq!(phone_only.phone, Some(Phone::parse("p", "0900000002").unwrap()));
        assert_eq!(phone_only.name, "Khách");
        assert_eq!(rows.iter().find(|r| r.venue_code == "BUS22222").unwrap().met, 1);

        // The window cuts the case's stays: the visit two days before counts only when asked.
        let cut = store.copresence(&[presence("case", t0 + Duration::minutes(45), window.1)], 100).await.unwrap();
        let first = cut.iter().find(|r| r.visitor == known).unwrap();
        assert_eq!(first.source_stay.at, t0 + Duration::minutes(45));
        assert!(!met(&cut).contains(&("tel:+84900000005".into(), "MARKET22".into())), "left before the window began");
        let earlier =
            store.copresence(&[presence("case", t0 - Duration::days(3), t0 - Duration::days(1))], 100).await.unwrap();
        assert_eq!(met(&earlier), [("tel:+84900000011".to_owned(), "MARKET22".to_owned())]);

        // Several sources at once: each row says whose stay it met.
        let both = store
            .copresence(&[presence("case", window.0, window.1), presence("tel:+84900000010", t0, window.1)], 100)
            .await
            .unwrap();
        let of_f1: Vec<&CoPresence> = both.iter().filter(|r| r.source == "tel:+84900000010").collect();
        assert_eq!(of_f1.len(), 1);
        assert_eq!((of_f1[0].visitor.as_str(), of_f1[0].venue_code.as_str()), ("case", "BUS22222"));
        assert!(store.copresence(&[presence("nobody", window.0, window.1)], 100).await.unwrap().is_empty());
        assert!(store.copresence(&[], 100).await.unwrap().is_empty());
    }

    async fn copresence_ranks_and_counts_hub_visits(store: &dyn Store) {
        seeded(store).await;
        let t0 = base();
        let market = kind_venue("HUB22222", VenueKind::Market);
        store.insert_venue(&market).await.unwrap();
        let mut visits = vec![visit(&market, "case", t0, 0, 120)];
        // Visitor n stays n minutes with the case.
        for n in 1..=30 {
            visits.push(visit(&market, &format!("tel:+849000001{n:02}"), t0, 120 - n, 200));
        }
        store_visits(store, visits).await;
        let rows =
            store.copresence(&[presence("case", t0 - Duration::hours(1), t0 + Duration::hours(5))], 5).await.unwrap();
        let listed: Vec<&str> = rows.iter().map(|r| r.visitor.as_str()).collect();
        assert_eq!(
            listed,
            ["tel:+84900000130", "tel:+84900000129", "tel:+84900000128", "tel:+84900000127", "tel:+84900000126"]
        );
        assert!(rows.iter().all(|r| r.met == 30));
    }

    async fn households_list_the_other_members(store: &dyn Store) {
        seeded(store).await;
        let commune = store.unit(&code("00070")).await.unwrap().unwrap();
        let hamlet = Unit::new_child(&commune, "TDP1", "Tổ dân phố 1", "").unwrap();
        let h1 = Unit::new_child(&hamlet, "H1", "Hộ 1", "").unwrap();
        let h2 = Unit::new_child(&hamlet, "H2", "Hộ 2", "").unwrap();
        for unit in [&hamlet, &h1, &h2] {
            store.insert_unit(unit).await.unwrap();
        }
        let member = |name: &str, household: Option<&Unit>| Person {
            household: household.map(|h| h.code.clone()),
            ..person(name, None, "00070")
        };
        let (a, b, c) = (member("Bố", Some(&h1)), member("Mẹ", Some(&h1)), member("Con", Some(&h1)));
        let (alone, nowhere) = (member("Một mình", Some(&h2)), member("Không hộ", None));
        store.insert_people(&[a.clone(), b.clone(), c.clone(), alone.clone(), nowhere.clone()]).await.unwrap();

        let members = store.household_members(&[a.id, alone.id, nowhere.id]).await.unwrap();
        let mut found: Vec<(PersonId, PersonId)> = members.iter().map(|m| (m.of, m.person)).collect();
        found.sort();
        let mut expected = vec![(a.id, b.id), (a.id, c.id)];
        expected.sort();
        assert_eq!(found, expected);
        let mother = members.iter().find(|m| m.person == b.id).unwrap();
        assert_eq!(
            (mother.household.clone(), mother.full_name.as_str(), mother.address_path.as_str(), mother.phone.clone()),
            (h1.code.clone(), "Mẹ", "/VN/01/00070/", b.phone.clone())
        );
        assert_eq!(store.household_members(&[b.id, c.id]).await.unwrap().len(), 4);
        assert!(store.household_members(&[]).await.unwrap().is_empty());
    }

    async fn new_case(store: &dyn Store, person: &Person) -> Case {
        let case = Case {
            id: CaseId(Uuid::now_v7()),
            person: person.id,
            unit: code("00070"),
            unit_path: "/VN/01/00070/".into(),
            source: "staff".into(),
            specimen: None,
            sample_date: None,
            onset_date: None,
            confirmed_at: now(),
            status: CaseStatus::Confirmed,
            note: String::new(),
        };
        store.insert_case(&case).await.unwrap();
        case
    }

    fn contact(case: &Case, generation: u8, visitor: &str, via: Option<&str>, unit_path: &str) -> NewContact {
        let t = time::macros::datetime!(2026-05-10 08:00 UTC);
        let encounter = VenueEncounter {
            venue: VenueId(Uuid::now_v7()),
            code: "MARKET22".into(),
            name: "Chợ Hàng Da".into(),
            source: Stay { at: t, until: t + Duration::hours(1) },
            contact: Stay { at: t + Duration::minutes(30), until: t + Duration::hours(2) },
            overlap_minutes: 30,
        };
        NewContact {
            id: ContactId(Uuid::now_v7()),
            case: case.id,
            generation,
            via_visitor: via.map(Into::into),
            person: None,
            visitor: visitor.into(),
            name: format!("Khách {visitor}"),
            phone: visitor.strip_prefix("tel:").map(|p| Phone::parse("p", p).unwrap()),
            evidence: Evidence::Venue { encounters: vec![encounter], count: 1 },
            exposure_at: t + Duration::hours(1),
            unit_path: unit_path.into(),
            quarantine_until: t + Duration::days(14),
            test_days: vec![(t + Duration::days(1)).date(), (t + Duration::days(7)).date()],
            created_at: now(),
        }
    }

    async fn contacts_are_added_once_per_case_and_visitor(store: &dyn Store) {
        seeded(store).await;
        let people = people_in(store, &["00070", "00070"]).await;
        let (case, other_case) = (new_case(store, &people[0]).await, new_case(store, &people[1]).await);
        assert!(identified(store).await.is_empty());
        let f1 = contact(&case, 1, "tel:+84900000001", None, "/VN/01/00070/");
        let household = NewContact {
            person: Some(people[1].id),
            visitor: people[1].id.to_string(),
            phone: None,
            evidence: Evidence::Household { household: code("00070") },
            ..contact(&case, 1, "x", None, "/VN/79/26740/")
        };
        let f2 = contact(&case, 2, "tel:+84900000002", Some("tel:+84900000001"), "/VN/01/00073/");
        let audit = NewAuditEntry {
            at: now(),
            actor: "tracer".into(),
            actor_kind: "staff".into(),
            action: "case.trace".into(),
            entity: "case".into(),
            entity_id: case.id.to_string(),
            detail: "3 contacts".into(),
            client: "test".into(),
        };
        // The F2 comes first: the store writes F1s first all the same.
        let added = store.insert_contacts(vec![f2.clone(), f1.clone(), household.clone()], vec![audit]).await.unwrap();
        assert_eq!(added.iter().map(|c| c.id).collect::<Vec<_>>(), [f1.id, household.id, f2.id]);
        let stored_f2 = added.iter().find(|c| c.id == f2.id).unwrap();
        assert_eq!((stored_f2.via, stored_f2.generation), (Some(f1.id), 2));
        assert_eq!(store.contact(f2.id).await.unwrap().as_ref(), Some(stored_f2));
        let first = &added[0];
        assert_eq!(
            (first.status, first.note.as_str(), first.kind, first.evidence.clone(), first.test_days.clone()),
            (
                ContactStatus::Identified,
                "",
                outbreak_domain::tracing::ContactKind::Venue,
                f1.evidence.clone(),
                f1.test_days.clone()
            )
        );
        assert_eq!(
            (first.exposure_at, first.quarantine_until, first.phone.clone()),
            (f1.exposure_at, f1.quarantine_until, f1.phone.clone())
        );
        // An event for each generation and unit, naming the case.
        let events = store.events_after(0, &[CONTACTS_IDENTIFIED], 100).await.unwrap();
        let named =
            |case, generation, contacts| IdentifiedContacts { case: Some(case), exposure: None, generation, contacts };
        assert_eq!(
            events
                .iter()
                .map(|e| (e.subject.clone(), e.unit_path.as_str(), IdentifiedContacts::of(e)))
                .collect::<Vec<_>>(),
            [
                (case.id.to_string(), "/VN/01/00070/", Some(named(case.id, 1, vec![f1.id]))),
                (case.id.to_string(), "/VN/79/26740/", Some(named(case.id, 1, vec![household.id]))),
                (case.id.to_string(), "/VN/01/00073/", Some(named(case.id, 2, vec![f2.id]))),
            ]
        );
        let audited = store
            .audit_entries(&AuditFilter { action: Some("case.trace".into()), limit: 10, ..AuditFilter::default() })
            .await
            .unwrap();
        assert_eq!(audited.len(), 1);

        // Tracing again finds the same people and one more F2 through the same F1: only the
        // new one is added, linked to the F1 recorded the first time.
        let again = vec![
            contact(&case, 1, "tel:+84900000001", None, "/VN/01/00070/"),
            contact(&case, 2, "tel:+84900000002", Some("tel:+84900000001"), "/VN/01/00073/"),
            contact(&case, 2, "tel:+84900000003", Some("tel:+84900000001"), "/VN/01/00073/"),
        ];
        let added = store.insert_contacts(again, vec![]).await.unwrap();
        assert_eq!(added.len(), 1);
        assert_eq!((added[0].visitor.as_str(), added[0].via), ("tel:+84900000003", Some(f1.id)));
        assert_eq!(identified(store).await, [f1.id, household.id, f2.id, added[0].id]);
        // The same visitor is a contact of another case on its own.
        let elsewhere = store
            .insert_contacts(vec![contact(&other_case, 1, "tel:+84900000001", None, "/VN/01/00070/")], vec![])
            .await
            .unwrap();
        assert_eq!(elsewhere.len(), 1);

        // An unknown case stores nothing.
        let ghost = Case { id: CaseId(Uuid::now_v7()), ..case.clone() };
        let refused = store
            .insert_contacts(
                vec![
                    contact(&case, 1, "tel:+84900000009", None, "/VN/"),
                    contact(&ghost, 1, "tel:+84900000009", None, "/VN/"),
                ],
                vec![],
            )
            .await;
        assert!(matches!(refused, Err(StoreError::NotFound("case"))), "{refused:?}");
        assert_eq!(store.case_contacts(case.id, 100).await.unwrap().len(), 4);

        let listed = store.case_contacts(case.id, 100).await.unwrap();
        let order: Vec<(u8, String)> = listed.iter().map(|c| (c.generation, c.visitor.clone())).collect();
        assert_eq!(
            order,
            vec![
                (1, people[1].id.to_string()),
                (1, "tel:+84900000001".into()),
                (2, "tel:+84900000002".into()),
                (2, "tel:+84900000003".into()),
            ]
        );
        assert_eq!(store.case_contacts(case.id, 1).await.unwrap().len(), 1);
        let counts = store.count_case_contacts(case.id).await.unwrap();
        assert_eq!(
            counts,
            [
                ContactCount { generation: 1, status: ContactStatus::Identified, contacts: 2 },
                ContactCount { generation: 2, status: ContactStatus::Identified, contacts: 2 },
            ]
        );
        assert!(store.count_case_contacts(CaseId(Uuid::now_v7())).await.unwrap().is_empty());

        // The queue: contacts living (or met) in the scope, in the statuses asked for.
        let queue = |scope: &[&str], statuses: &[ContactStatus]| ContactFilter {
            scope: scope.iter().map(|s| s.to_string()).collect(),
            statuses: statuses.to_vec(),
            person: None,
            limit: 100,
        };
        let visitors = |contacts: Vec<Contact>| {
            let mut v: Vec<String> = contacts.into_iter().map(|c| c.visitor).collect();
            v.sort();
            v
        };
        let open = [ContactStatus::Identified, ContactStatus::Notified];
        assert_eq!(
            visitors(store.contact_queue(&queue(&["/VN/79/"], &open)).await.unwrap()),
            [people[1].id.to_string()]
        );
        assert_eq!(
            visitors(store.contact_queue(&queue(&["/VN/01/00073/"], &open)).await.unwrap()),
            ["tel:+84900000002", "tel:+84900000003"]
        );
        assert_eq!(store.contact_queue(&queue(&["/VN/"], &open)).await.unwrap().len(), 5);
        assert!(store.contact_queue(&queue(&["/VN/"], &[ContactStatus::Notified])).await.unwrap().is_empty());
        assert!(store.contact_queue(&queue(&[], &open)).await.unwrap().is_empty());
        assert!(store.contact_queue(&queue(&["/VN/"], &[])).await.unwrap().is_empty());
        assert_eq!(store.contact_queue(&ContactFilter { limit: 2, ..queue(&["/VN/"], &open) }).await.unwrap().len(), 2);
        // One person's own follow-ups, as their page asks for them.
        let own = |person: PersonId| ContactFilter { person: Some(person), ..queue(&["/VN/"], &open) };
        assert_eq!(visitors(store.contact_queue(&own(people[1].id)).await.unwrap()), [people[1].id.to_string()]);
        assert!(store.contact_queue(&own(people[0].id)).await.unwrap().is_empty(), "the case is nobody's contact");
        // One who checked in by phone alone, found by that phone (a contact of both cases); a
        // person is found by person.
        let by_phone = store.phone_contacts("tel:+84900000001", 10).await.unwrap();
        let mut cases: Vec<CaseId> = by_phone.iter().map(|c| c.case).collect();
        cases.sort();
        let mut both = vec![case.id, other_case.id];
        both.sort();
        assert_eq!(cases, both);
        assert!(store.phone_contacts(&people[1].id.to_string(), 10).await.unwrap().is_empty());
    }

    /// A trace the size of a real one at a market: hundreds of F1s and the F2s found through
    /// them, recorded whole and in order, then traced again with one newcomer.
    async fn a_trace_of_hundreds_is_recorded_whole(store: &dyn Store) {
        seeded(store).await;
        let people = people_in(store, &["00070"]).await;
        let case = new_case(store, &people[0]).await;
        let phone = |i: usize| format!("tel:+8490{i:07}");
        let f1: Vec<NewContact> = (0..583).map(|i| contact(&case, 1, &phone(i), None, "/VN/01/00070/")).collect();
        let f2: Vec<NewContact> =
            (0..77).map(|i| contact(&case, 2, &phone(1000 + i), Some(&phone(i * 5)), "/VN/01/00073/")).collect();
        let all: Vec<NewContact> = f1.iter().chain(&f2).cloned().collect();
        let added = store.insert_contacts(all.clone(), vec![]).await.unwrap();
        assert_eq!(added.iter().map(|c| c.id).collect::<Vec<_>>(), all.iter().map(|c| c.id).collect::<Vec<_>>());
        let f1_ids: std::collections::HashMap<&str, ContactId> =
            f1.iter().map(|c| (c.visitor.as_str(), c.id)).collect();
        for (stored, asked) in added[583..].iter().zip(&f2) {
            assert_eq!(stored.via, Some(f1_ids[asked.via_visitor.as_deref().unwrap()]), "{}", asked.visitor);
        }
        assert_eq!(store.case_contacts(case.id, 1000).await.unwrap().len(), 660);
        // Each new contact is named once, a hundred to an event at most.
        let events = store.events_after(0, &[CONTACTS_IDENTIFIED], 1000).await.unwrap();
        assert_eq!(events.len(), 7, "583 F1s in one unit, then 77 F2s in another");
        assert_eq!(identified(store).await, added.iter().map(|c| c.id).collect::<Vec<_>>());

        // Again with one newcomer in the middle: only the newcomer is written.
        let mut again: Vec<NewContact> =
            all.iter().map(|c| NewContact { id: ContactId(Uuid::now_v7()), ..c.clone() }).collect();
        again.insert(300, contact(&case, 1, &phone(9999), None, "/VN/01/00070/"));
        let added = store.insert_contacts(again, vec![]).await.unwrap();
        assert_eq!(added.iter().map(|c| c.visitor.as_str()).collect::<Vec<_>>(), [phone(9999)]);
        assert_eq!(store.case_contacts(case.id, 1000).await.unwrap().len(), 661);
    }

    /// The contacts the outbox's `contacts.identified` events name, in order.
    async fn identified(store: &dyn Store) -> Vec<ContactId> {
        let events = store.events_after(0, &[CONTACTS_IDENTIFIED], 1000).await.unwrap();
        events.iter().flat_map(|e| IdentifiedContacts::of(e).unwrap().contacts).collect()
    }

    async fn contact_moves_follow_the_rules(store: &dyn Store) {
        use ContactStatus::*;
        seeded(store).await;
        let people = people_in(store, &["00070"]).await;
        let case = new_case(store, &people[0]).await;
        let new = contact(&case, 1, "tel:+84900000001", None, "/VN/01/00070/");
        store.insert_contacts(vec![new.clone()], vec![]).await.unwrap();
        let at = now();
        let moved = store.update_contact(new.id, Notified, "đã gọi, đã báo", at).await.unwrap();
        assert_eq!((moved.status, moved.note.as_str(), moved.updated_at), (Notified, "đã gọi, đã báo", at));
        assert_eq!(store.contact(new.id).await.unwrap().unwrap(), moved);
        let refused = store.update_contact(new.id, Released, "", now()).await;
        assert!(
            matches!(&refused, Err(StoreError::Refused { field: "status", code: "bad_transition", .. })),
            "{refused:?}"
        );
        assert_eq!(store.contact(new.id).await.unwrap().unwrap().status, Notified, "nothing changed");
        let note_only = store.update_contact(new.id, Notified, "gọi lại lúc 17h", now()).await.unwrap();
        assert_eq!(note_only.note, "gọi lại lúc 17h");
        for status in [Quarantining, Tested, Quarantining, Tested, Released] {
            assert_eq!(store.update_contact(new.id, status, "", now()).await.unwrap().status, status);
        }
        assert!(matches!(
            store.update_contact(new.id, Quarantining, "", now()).await,
            Err(StoreError::Refused { code: "bad_transition", .. })
        ));
        assert!(matches!(
            store.update_contact(ContactId(Uuid::now_v7()), Notified, "", now()).await,
            Err(StoreError::NotFound("contact"))
        ));
    }
}

/// Narrow zoning: venues declared exposed and their contacts, units under restriction.
mod zoning {
    use super::*;
    use outbreak_domain::tracing::{
        ContactId, ContactStatus, ExposureEvidence, ExposureId, RestrictionId, Stay, TracingRules,
    };

    conformance!(
        exposures_list_each_visitor_once_across_overlapping_windows,
        exposure_contacts_move_like_contacts,
        restrictions_refuse_overlaps_in_space_and_time,
    );

    fn exposure(venue: &Venue, from: OffsetDateTime, until: OffsetDateTime) -> NewExposure {
        NewExposure {
            id: ExposureId(Uuid::now_v7()),
            venue: venue.id,
            unit_path: venue.unit_path.clone(),
            window_from: from,
            window_until: until,
            reason: "Ca F0 đến chợ".into(),
            declared_by: "staff:tracer".into(),
            created_at: now(),
        }
    }

    fn exposed(venue: &Venue, exposure: &NewExposure, visitor: &str) -> NewExposureContact {
        let rules = TracingRules::default();
        let at = exposure.window_until;
        NewExposureContact {
            id: ContactId(Uuid::now_v7()),
            person: None,
            visitor: visitor.into(),
            name: "Khách lẻ".into(),
            phone: visitor.strip_prefix("tel:").map(|p| Phone::parse("phone", p).unwrap()),
            evidence: ExposureEvidence::Exposure {
                venue: venue.id,
                code: venue.code.clone(),
                name: venue.name.clone(),
                window_from: exposure.window_from,
                window_until: exposure.window_until,
                stay: Stay { at: exposure.window_from, until: at },
            },
            exposure_at: at,
            unit_path: venue.unit_path.clone(),
            quarantine_until: rules.quarantine_until(at),
            test_days: rules.test_days(at),
            created_at: now(),
        }
    }

    fn listed(contacts: &[ExposureContact]) -> Vec<&str> {
        let mut visitors: Vec<&str> = contacts.iter().map(|c| c.visitor.as_str()).collect();
        visitors.sort();
        visitors
    }

    /// Whole microseconds, as both stores keep them.
    fn base() -> OffsetDateTime {
        (now() - Duration::days(1)).replace_nanosecond(0).unwrap()
    }

    async fn exposures_list_each_visitor_once_across_overlapping_windows(store: &dyn Store) {
        seeded(store).await;
        let market = venue("ZONE0001", "00070", "/VN/01/00070/", None);
        let other = venue("ZONE0002", "00070", "/VN/01/00070/", None);
        store.insert_venue(&market).await.unwrap();
        store.insert_venue(&other).await.unwrap();
        let t0 = base();
        let hours = |h: i64| t0 + Duration::hours(h);

        let first = exposure(&market, hours(0), hours(4));
        let contacts = vec![exposed(&market, &first, "tel:+84900000001"), exposed(&market, &first, "tel:+84900000002")];
        let added = store.insert_exposure(first.clone(), contacts.clone(), vec![]).await.unwrap();
        assert_eq!(listed(&added), ["tel:+84900000001", "tel:+84900000002"]);
        let events = store.events_after(0, &[CONTACTS_IDENTIFIED], 10).await.unwrap();
        assert_eq!(
            events.iter().map(|e| (e.subject.clone(), IdentifiedContacts::of(e))).collect::<Vec<_>>(),
            [(
                first.id.to_string(),
                Some(IdentifiedContacts {
                    case: None,
                    exposure: Some(first.id),
                    generation: 1,
                    contacts: added.iter().map(|c| c.id).collect()
                })
            )]
        );
        let again = store.insert_exposure(exposure(&market, hours(0), hours(4)), contacts, vec![]).await.unwrap();
        assert!(again.is_empty(), "an overlapping window at the same venue lists nobody twice");

        // Overlapping at the same venue: only who is new; elsewhere or later: listed again.
        let overlapping = exposure(&market, hours(3), hours(6));
        let people = vec![
            exposed(&market, &overlapping, "tel:+84900000002"),
            exposed(&market, &overlapping, "tel:+84900000003"),
        ];
        let added = store.insert_exposure(overlapping.clone(), people, vec![]).await.unwrap();
        assert_eq!(listed(&added), ["tel:+84900000003"]);
        let later = exposure(&market, hours(6), hours(8));
        let added =
            store.insert_exposure(later, vec![exposed(&market, &first, "tel:+84900000001")], vec![]).await.unwrap();
        assert_eq!(listed(&added), ["tel:+84900000001"]);
        let elsewhere = exposure(&other, hours(0), hours(4));
        let added =
            store.insert_exposure(elsewhere, vec![exposed(&other, &first, "tel:+84900000001")], vec![]).await.unwrap();
        assert_eq!(listed(&added), ["tel:+84900000001"]);

        let read = store.exposure(first.id).await.unwrap().unwrap();
        assert_eq!((read.venue_code.as_str(), read.contacts, read.window_from), ("ZONE0001", 2, first.window_from));
        assert_eq!(store.exposures(&["/VN/01/".into()], 100).await.unwrap().len(), 5);
        assert!(store.exposures(&["/VN/79/".into()], 100).await.unwrap().is_empty());
        let of_first = store.exposure_contacts(first.id, 100).await.unwrap();
        assert_eq!(listed(&of_first), ["tel:+84900000001", "tel:+84900000002"]);
        assert_eq!(of_first[0].status, ContactStatus::Identified);
        assert_eq!(store.exposure_contact(of_first[0].id).await.unwrap().unwrap(), of_first[0]);

        // An unknown venue stores nothing.
        let ghost = Venue { id: outbreak_domain::venue::VenueId(Uuid::now_v7()), ..market.clone() };
        let unknown = exposure(&ghost, hours(0), hours(1));
        let refused = store.insert_exposure(unknown.clone(), vec![exposed(&ghost, &unknown, "x")], vec![]).await;
        assert!(matches!(refused, Err(StoreError::NotFound("venue"))), "{refused:?}");
        assert!(store.exposure(unknown.id).await.unwrap().is_none());
    }

    async fn exposure_contacts_move_like_contacts(store: &dyn Store) {
        use ContactStatus::*;
        seeded(store).await;
        let market = venue("ZONE0003", "00070", "/VN/01/00070/", None);
        store.insert_venue(&market).await.unwrap();
        let t0 = base();
        let window = exposure(&market, t0, t0 + Duration::hours(2));
        let added = store
            .insert_exposure(window.clone(), vec![exposed(&market, &window, "tel:+84900000009")], vec![])
            .await
            .unwrap();
        let id = added[0].id;
        let moved = store.update_exposure_contact(id, Notified, "đã gọi", now()).await.unwrap();
        assert_eq!((moved.status, moved.note.as_str()), (Notified, "đã gọi"));
        assert_eq!(store.exposure_contact(id).await.unwrap().unwrap(), moved);
        let refused = store.update_exposure_contact(id, Released, "", now()).await;
        assert!(
            matches!(refused, Err(StoreError::Refused { field: "status", code: "bad_transition", .. })),
            "{refused:?}"
        );
        assert_eq!(store.exposure_contact(id).await.unwrap().unwrap().status, Notified, "nothing changed");
        assert!(matches!(
            store.update_exposure_contact(ContactId(Uuid::now_v7()), Notified, "", now()).await,
            Err(StoreError::NotFound("contact"))
        ));
        // The visitor's own page finds them by their key, and nobody else's.
        assert_eq!(store.visitor_exposure_contacts("tel:+84900000009", 10).await.unwrap(), [moved]);
        assert!(store.visitor_exposure_contacts("tel:+84900000008", 10).await.unwrap().is_empty());
    }

    fn restriction(unit: &str, from: OffsetDateTime, until: OffsetDateTime) -> NewRestriction {
        NewRestriction {
            id: RestrictionId(Uuid::now_v7()),
            unit: code(unit),
            window_from: from,
            window_until: until,
            reason: "Cụm ca bệnh trong khu phố".into(),
            declared_by: "staff:health".into(),
            created_at: now(),
        }
    }

    async fn restrictions_refuse_overlaps_in_space_and_time(store: &dyn Store) {
        seeded(store).await;
        let commune = store.unit(&code("00070")).await.unwrap().unwrap();
        let hamlet = Unit::new_child(&commune, "TDP9", "Tổ dân phố 9", "").unwrap();
        store.insert_unit(&hamlet).await.unwrap();
        let t0 = base();
        let days = |d: i64| t0 + Duration::days(d);

        let first = restriction(hamlet.code.as_str(), days(0), days(14));
        let stored = store.insert_restriction(first.clone(), vec![]).await.unwrap();
        assert_eq!(
            (stored.unit_name.as_str(), stored.unit_path.as_str(), stored.window_until, stored.lifted_at),
            ("Tổ dân phố 9", hamlet.path.as_str(), first.window_until, None)
        );
        assert_eq!(store.restriction(first.id).await.unwrap().unwrap(), stored);

        // The same unit, the commune around it: overlapping windows are refused, naming it.
        for unit in [hamlet.code.as_str(), "00070"] {
            let refused = store.insert_restriction(restriction(unit, days(13), days(20)), vec![]).await;
            match refused {
                Err(StoreError::Conflict { field: "unit", existing }) => {
                    assert_eq!(existing, Some(first.id.to_string()));
                }
                other => panic!("{unit}: {other:?}"),
            }
        }
        // Another commune at the same time, and the same unit afterwards, are fine.
        store.insert_restriction(restriction("00073", days(0), days(14)), vec![]).await.unwrap();
        store.insert_restriction(restriction("00070", days(14), days(20)), vec![]).await.unwrap();
        let unknown = store.insert_restriction(restriction("00070.NOPE", days(0), days(1)), vec![]).await;
        assert!(matches!(unknown, Err(StoreError::NotFound("unit"))), "{unknown:?}");

        let in_hanoi = store.restrictions(&["/VN/01/".into()], 10).await.unwrap();
        assert_eq!(in_hanoi.len(), 3);
        assert!(store.restrictions(&["/VN/79/".into()], 10).await.unwrap().is_empty());

        // Lifted once; the window is cut to the moment, so the commune may be restricted then.
        let at = (t0 + Duration::days(2)).replace_nanosecond(0).unwrap();
        let lifted = store.lift_restriction(first.id, at, vec![]).await.unwrap();
        assert_eq!((lifted.lifted_at, lifted.window_until), (Some(at), at));
        let again = store.lift_restriction(first.id, at, vec![]).await;
        assert!(
            matches!(again, Err(StoreError::Refused { field: "restriction", code: "already_over", .. })),
            "{again:?}"
        );
        store.insert_restriction(restriction(hamlet.code.as_str(), days(3), days(10)), vec![]).await.unwrap();
        assert!(matches!(
            store.lift_restriction(RestrictionId(Uuid::now_v7()), at, vec![]).await,
            Err(StoreError::NotFound("restriction"))
        ));
    }
}

/// Vaccination: reference lists, organisations, registrations, sessions, invitations, doses, coverage.
mod vaccination {
    use super::*;
    use outbreak_domain::vaccination::{
        AdverseEventId, AdverseStatus, DoseId, InvitationId, InvitationStatus, OrganisationId, OrganisationKind,
        OrganisationStatus, RegistrationId, Severity, SiteId, Slot, VaccinationSessionId, national_priority_groups,
    };
    use time::macros::{date, time};

    conformance!(
        priority_groups_and_organisation_approval,
        registrations_match_known_people_and_never_duplicate,
        sessions_need_a_known_lot_of_their_product,
        invitations_fill_slots_in_priority_order_once,
        doses_follow_the_rules_and_move_coverage,
        corrections_keep_history_and_totals_follow,
        adverse_events_stay_in_scope,
    );

    async fn prepared(store: &dyn Store) {
        seeded(store).await;
        store.put_priority_groups(&national_priority_groups()).await.unwrap();
    }

    fn organisation(unit: &str) -> Organisation {
        Organisation {
            id: OrganisationId(Uuid::new_v4()),
            name: "Công ty May Hà Nội".into(),
            kind: OrganisationKind::Company,
            unit: code(unit),
            unit_path: String::new(),
            address: "1 Tràng Tiền".into(),
            contact_phone: "0912000111".into(),
            manager: None,
            status: OrganisationStatus::Pending,
            applied_at: now(),
            decided_by: None,
            decided_at: None,
            decision_note: String::new(),
        }
    }

    fn registration(person: Person, group: &str, organisation: Option<OrganisationId>) -> NewRegistration {
        NewRegistration {
            id: RegistrationId(Uuid::new_v4()),
            preferred_unit: person.address_unit.clone(),
            person,
            organisation,
            priority_group: group.into(),
            comorbidities: String::new(),
            registered_at: now(),
        }
    }

    fn born(mut p: Person, year: &str) -> Person {
        p.date_of_birth = outbreak_domain::BirthDate::parse("dob", year, date!(2026 - 01 - 01)).unwrap();
        p
    }

    async fn registered(store: &dyn Store, people: Vec<(Person, &str)>) -> Vec<PersonId> {
        let rows = people.into_iter().map(|(p, g)| registration(p, g, None)).collect();
        let outcomes = store.register(rows, vec![]).await.unwrap();
        outcomes
            .into_iter()
            .map(|o| match o {
                RegistrationOutcome::Registered { person, .. } => person,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    async fn site_and_lot(store: &dyn Store, product: &str, lot: &str) -> Site {
        store
            .insert_lot(&Lot {
                lot: lot.into(),
                product: product.into(),
                expires_on: date!(2030 - 12 - 31),
                unit: code("01"),
            })
            .await
            .unwrap();
        let site = Site {
            id: SiteId(Uuid::new_v4()),
            name: "Trạm y tế Hoàn Kiếm".into(),
            unit: code("00070"),
            unit_path: "/VN/01/00070/".into(),
            address: "2 Hàng Bài".into(),
            created_by: "planner".into(),
        };
        store.insert_site(&site).await.unwrap();
        site
    }

    fn session(site: &Site, product: &str, lot: &str, capacities: &[i64]) -> VaccinationSession {
        let slots = capacities
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let start = time!(07:00) + Duration::hours(i as i64);
                Slot { start, end: start + Duration::hours(1), capacity: *c }
            })
            .collect();
        VaccinationSession {
            id: VaccinationSessionId(Uuid::new_v4()),
            site: site.id,
            site_name: site.name.clone(),
            unit_path: site.unit_path.clone(),
            date: outbreak_domain::local_date(now()) + Duration::days(2),
            product: product.into(),
            lot: lot.into(),
            slots,
            created_by: "planner".into(),
            created_at: now(),
        }
    }

    fn dose(person: PersonId, site: &Site, product: &str, lot: &str, number: u8, at: OffsetDateTime) -> NewDose {
        NewDose {
            id: DoseId(Uuid::new_v4()),
            person,
            product: product.into(),
            lot: lot.into(),
            dose_number: number,
            given_at: at,
            site: site.id,
            session: None,
            vaccinator: "vaccinator".into(),
            screening: vec![("allergy".into(), false)],
        }
    }

    fn correction(lot: Option<&str>, void: bool, reason: &str) -> DoseCorrection {
        DoseCorrection {
            product: None,
            lot: lot.map(Into::into),
            given_at: None,
            void,
            reason: reason.into(),
            by: "vaccinator".into(),
            at: now(),
        }
    }

    fn refused_code(result: Result<Dose, StoreError>) -> (&'static str, &'static str) {
        match result {
            Err(StoreError::Refused { field, code, .. }) => (field, code),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    async fn priority_groups_and_organisation_approval(store: &dyn Store) {
        prepared(store).await;
        let groups = store.priority_groups().await.unwrap();
        assert_eq!(groups.len(), 10);
        assert_eq!(groups[0].code, "health_workers");
        let mut renamed = groups[9].clone();
        renamed.name = "Người dân".into();
        store.put_priority_groups(&[renamed.clone()]).await.unwrap();
        assert_eq!(store.priority_groups().await.unwrap()[9], renamed);

        let org = organisation("00070");
        store.insert_organisation(&org).await.unwrap();
        assert!(matches!(store.insert_organisation(&organisation("99999")).await, Err(StoreError::NotFound("unit"))));
        let pending = store.organisations(&["/VN/01/".into()], Some(OrganisationStatus::Pending), 10).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].unit_path, "/VN/01/00070/");
        assert!(store.organisations(&["/VN/79/".into()], None, 10).await.unwrap().is_empty());

        let manager = NewAccount {
            id: Uuid::new_v4(),
            kind: AccountKind::User,
            username: "org.manager".into(),
            display_name: "Quản lý".into(),
            password_hash: None,
            grants: vec![(Role::OrganisationManager, code("00070"))],
            created_at: now(),
        };
        store.insert_account(&manager).await.unwrap();
        let decided = store
            .decide_organisation(org.id, OrganisationStatus::Approved, Some(manager.id), "officer", "", now())
            .await
            .unwrap();
        assert_eq!(decided.status, OrganisationStatus::Approved);
        assert_eq!(decided.manager, Some(manager.id));
        let again = store.decide_organisation(org.id, OrganisationStatus::Rejected, None, "officer", "", now()).await;
        assert!(matches!(again, Err(StoreError::Refused { code: "already_decided", .. })), "{again:?}");
        assert_eq!(store.managed_organisations(manager.id).await.unwrap(), vec![decided]);
    }

    async fn registrations_match_known_people_and_never_duplicate(store: &dyn Store) {
        prepared(store).await;
        let known = person("Trần Thị Bình", Some("001087000001"), "00070");
        store.insert_person(&known).await.unwrap();
        let org = organisation("00070");
        store.insert_organisation(&org).await.unwrap();

        // The same CCCD as someone known, with another name typed: matched, not duplicated.
        let again = person("Tran Thi Binh", Some("001087000001"), "00070");
        let fresh = person("Lê Văn Cường", Some("001087000002"), "00070");
        let fresh_twice = person("Lê Văn Cường", Some("001087000002"), "00070");
        // No CCCD: matched by phone, folded name and birth date to the known person.
        let by_phone = person("TRAN THI BINH", None, "00070");
        let no_match = person("Phạm Thị Dung", None, "00070");
        let mut bad_unit = person("Võ Văn Em", Some("001087000003"), "00070");
        bad_unit.address_unit = code("99999");
        let mut bad_unit = registration(bad_unit, "general", Some(org.id));
        bad_unit.preferred_unit = code("00070");
        let rows = vec![
            registration(again, "teachers", Some(org.id)),
            registration(fresh.clone(), "general", Some(org.id)),
            registration(fresh_twice, "general", Some(org.id)),
            registration(by_phone, "general", Some(org.id)),
            registration(no_match.clone(), "nope", Some(org.id)),
            registration(no_match, "general", Some(org.id)),
            bad_unit,
        ];
        let outcomes = store.register(rows, vec![]).await.unwrap();
        assert!(
            matches!(outcomes[0], RegistrationOutcome::Registered { person, matched: true, .. } if person == known.id),
            "{outcomes:?}"
        );
        assert!(
            matches!(outcomes[1], RegistrationOutcome::Registered { person, matched: false, .. } if person == fresh.id)
        );
        assert!(matches!(outcomes[2], RegistrationOutcome::AlreadyRegistered { person, .. } if person == fresh.id));
        assert!(matches!(outcomes[3], RegistrationOutcome::AlreadyRegistered { person, .. } if person == known.id));
        assert!(matches!(&outcomes[4], RegistrationOutcome::Refused { code, .. } if code == "unknown_group"));
        assert!(matches!(outcomes[5], RegistrationOutcome::Registered { matched: false, .. }));
        assert!(matches!(&outcomes[6], RegistrationOutcome::Refused { field, .. } if field == "address_unit"));

        assert_eq!(store.count_registrations(Some(org.id)).await.unwrap(), 3);
        assert_eq!(store.count_people().await.unwrap(), 3, "one known person and two new ones, nobody twice");
        let reg = store.registration_of(known.id).await.unwrap().unwrap();
        assert_eq!(reg.priority_group, "teachers");
        assert_eq!(reg.preferred_path, "/VN/01/00070/");
        assert_eq!(reg.organisation, Some(org.id));
    }

    async fn sessions_need_a_known_lot_of_their_product(store: &dyn Store) {
        prepared(store).await;
        let site = site_and_lot(store, "comirnaty", "FK1234").await;
        assert!(matches!(
            store
                .insert_lot(&Lot {
                    lot: "FK1234".into(),
                    product: "spikevax".into(),
                    expires_on: date!(2030 - 01 - 01),
                    unit: code("01")
                })
                .await,
            Err(StoreError::Conflict { field: "lot", .. })
        ));
        let unknown = store.insert_vaccination_session(&session(&site, "comirnaty", "NOPE99", &[10])).await;
        assert!(matches!(unknown, Err(StoreError::Refused { code: "unknown_lot", .. })), "{unknown:?}");
        let other = store.insert_vaccination_session(&session(&site, "vaxzevria", "FK1234", &[10])).await;
        assert!(matches!(other, Err(StoreError::Refused { code: "lot_product_mismatch", .. })), "{other:?}");
        let mut lost = session(&site, "comirnaty", "FK1234", &[10]);
        lost.site = SiteId(Uuid::new_v4());
        assert!(matches!(store.insert_vaccination_session(&lost).await, Err(StoreError::NotFound("site"))));
        let good = session(&site, "comirnaty", "FK1234", &[10, 20]);
        store.insert_vaccination_session(&good).await.unwrap();
        let stored = store.vaccination_session(good.id).await.unwrap().unwrap();
        assert_eq!(stored, good);
        assert_eq!(stored.capacity(), 30);
        assert_eq!(store.vaccination_sessions(&["/VN/01/".into()], 10).await.unwrap(), vec![good]);
        assert!(store.vaccination_sessions(&["/VN/79/".into()], 10).await.unwrap().is_empty());
        assert_eq!(store.sites(&["/VN/01/00070/".into()], 10).await.unwrap(), vec![site.clone()]);
        assert_eq!(store.site(site.id).await.unwrap(), Some(site));
    }

    async fn invitations_fill_slots_in_priority_order_once(store: &dyn Store) {
        prepared(store).await;
        let young_teacher = born(person("Giáo viên Trẻ", Some("001087000011"), "00070"), "1995");
        let old_teacher = born(person("Giáo viên Già", Some("001087000012"), "00070"), "1955");
        let doctor = born(person("Bác sĩ", Some("001087000013"), "00070"), "1990");
        let elsewhere = person("Ở Xa", Some("079087000014"), "26740");
        let ids = registered(
            store,
            vec![
                (young_teacher, "teachers"),
                (old_teacher, "teachers"),
                (doctor, "health_workers"),
                (elsewhere, "health_workers"),
            ],
        )
        .await;
        let other = VaccinationSessionId(Uuid::new_v4());
        let candidates = store.allocation_candidates(other, &["/VN/01/".into()], 0, 10).await.unwrap();
        let order: Vec<PersonId> = candidates.iter().map(|c| c.person).collect();
        assert_eq!(order, vec![ids[2], ids[1], ids[0]], "group rank first, then the oldest");
        assert_eq!(store.allocation_candidates(other, &["/VN/01/".into()], 1, 1).await.unwrap()[0].person, ids[1]);

        let site = site_and_lot(store, "comirnaty", "FK1234").await;
        let s = session(&site, "comirnaty", "FK1234", &[1, 1]);
        store.insert_vaccination_session(&s).await.unwrap();
        let offer = |person: PersonId, slot: usize| NewInvitation {
            id: InvitationId(Uuid::new_v4()),
            session: s.id,
            person,
            slot,
            dose_number: 1,
            offered_at: now(),
            expires_at: now() + Duration::hours(48),
        };
        let stored = store
            .invite(vec![offer(ids[2], 0), offer(ids[1], 0), offer(ids[1], 1), offer(ids[0], 1)], vec![])
            .await
            .unwrap();
        let invited: Vec<(PersonId, usize)> = stored.iter().map(|i| (i.person, i.slot)).collect();
        assert_eq!(invited, vec![(ids[2], 0), (ids[1], 1)], "a full slot and a second open invitation are skipped");
        let events = store.events_after(0, &["invitation.sent"], 10).await.unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].subject, ids[2].to_string());
        assert_eq!(events[0].payload["session"], serde_json::json!(s.id));

        let remaining = store.allocation_candidates(other, &["/VN/01/".into()], 0, 10).await.unwrap();
        assert_eq!(remaining.iter().map(|c| c.person).collect::<Vec<_>>(), vec![ids[0]]);

        let confirmed = store.answer_invitation(stored[0].id, InvitationStatus::Confirmed, now()).await.unwrap();
        assert_eq!(confirmed.status, InvitationStatus::Confirmed);
        let twice = store.answer_invitation(stored[0].id, InvitationStatus::Declined, now()).await;
        assert!(matches!(twice, Err(StoreError::Refused { code: "not_offered", .. })), "{twice:?}");
        store.answer_invitation(stored[1].id, InvitationStatus::Declined, now()).await.unwrap();
        // Who declined is not asked again for this session, but is for others.
        let for_this = store.allocation_candidates(s.id, &["/VN/01/".into()], 0, 10).await.unwrap();
        assert_eq!(for_this.iter().map(|c| c.person).collect::<Vec<_>>(), vec![ids[0]]);
        let for_other = store.allocation_candidates(other, &["/VN/01/".into()], 0, 10).await.unwrap();
        assert_eq!(for_other.iter().map(|c| c.person).collect::<Vec<_>>(), vec![ids[1], ids[0]]);
        // The declined slot is free again for the next in line.
        let next = store.invite(vec![offer(ids[0], 1)], vec![]).await.unwrap();
        assert_eq!(next.len(), 1);
        let freed = store.expire_invitations(now() + Duration::hours(49)).await.unwrap();
        assert_eq!(freed, vec![s.id]);
        assert_eq!(store.invitation(next[0].id).await.unwrap().unwrap().status, InvitationStatus::Expired);
        let late = store.answer_invitation(next[0].id, InvitationStatus::Confirmed, now()).await;
        assert!(matches!(late, Err(StoreError::Refused { .. })));
        assert_eq!(store.session_invitations(s.id).await.unwrap().len(), 3);
        assert_eq!(store.person_invitations(ids[2]).await.unwrap()[0].status, InvitationStatus::Confirmed);
    }

    async fn doses_follow_the_rules_and_move_coverage(store: &dyn Store) {
        prepared(store).await;
        let elder = born(person("Cụ Ông", Some("001087000021"), "00070"), "1950");
        let ids = registered(store, vec![(elder, "chronic_or_65")]).await;
        let site = site_and_lot(store, "vaxzevria", "AZ0001").await;
        let s = session(&site, "vaxzevria", "AZ0001", &[5]);
        store.insert_vaccination_session(&s).await.unwrap();
        let invitation = NewInvitation {
            id: InvitationId(Uuid::new_v4()),
            session: s.id,
            person: ids[0],
            slot: 0,
            dose_number: 1,
            offered_at: now(),
            expires_at: now() + Duration::hours(48),
        };
        store.invite(vec![invitation.clone()], vec![]).await.unwrap();
        let first_at = now() - Duration::days(70);

        let unknown_lot = store.record_dose(dose(ids[0], &site, "vaxzevria", "ZZ9999", 1, first_at), vec![]).await;
        assert_eq!(refused_code(unknown_lot), ("lot", "unknown_lot"));
        let wrong_number = store.record_dose(dose(ids[0], &site, "vaxzevria", "AZ0001", 2, first_at), vec![]).await;
        assert_eq!(refused_code(wrong_number), ("dose_number", "contradicts_history"));

        let mut first = dose(ids[0], &site, "vaxzevria", "AZ0001", 1, first_at);
        first.session = Some(s.id);
        let stored = store.record_dose(first, vec![]).await.unwrap();
        assert_eq!(stored.home_path, "/VN/01/00070/");
        assert_eq!(store.invitation(invitation.id).await.unwrap().unwrap().status, InvitationStatus::Attended);

        let early = store
            .record_dose(dose(ids[0], &site, "vaxzevria", "AZ0001", 2, first_at + Duration::days(20)), vec![])
            .await;
        assert_eq!(refused_code(early), ("given_at", "too_early"));
        let repeat = store
            .record_dose(dose(ids[0], &site, "vaxzevria", "AZ0001", 1, first_at + Duration::days(60)), vec![])
            .await;
        assert_eq!(refused_code(repeat), ("dose_number", "contradicts_history"));

        let coverage = |rows: Vec<CoverageRow>, dimension: &str, bucket: &str| {
            rows.into_iter()
                .find(|r| r.dimension == dimension && r.bucket == bucket)
                .map(|r| r.coverage)
                .unwrap_or_default()
        };
        let rows = store.coverage("/VN/01/").await.unwrap();
        assert_eq!(coverage(rows.clone(), "all", "all"), Coverage { at_least_one: 1, full_series: 0 });
        assert_eq!(coverage(rows.clone(), "age", "65+"), Coverage { at_least_one: 1, full_series: 0 });
        assert_eq!(coverage(rows.clone(), "group", "chronic_or_65"), Coverage { at_least_one: 1, full_series: 0 });
        assert_eq!(coverage(rows, "comorbid", "no"), Coverage { at_least_one: 1, full_series: 0 });

        let second_at = first_at + Duration::days(60);
        store.record_dose(dose(ids[0], &site, "vaxzevria", "AZ0001", 2, second_at), vec![]).await.unwrap();
        for path in ["/VN/", "/VN/01/", "/VN/01/00070/"] {
            let rows = store.coverage(path).await.unwrap();
            assert_eq!(coverage(rows, "all", "all"), Coverage { at_least_one: 1, full_series: 1 }, "{path}");
        }
        let of = store.coverage_of(&["/VN/01/00070/".into(), "/VN/01/00073/".into()]).await.unwrap();
        assert_eq!(of[0].1, Coverage { at_least_one: 1, full_series: 1 });
        assert_eq!(of[1].1, Coverage::default());
        let days = store
            .doses_per_day("/VN/01/", outbreak_domain::local_date(first_at), outbreak_domain::local_date(now()))
            .await
            .unwrap();
        assert_eq!(days.iter().map(|d| d.doses).sum::<i64>(), 2);
        assert!(days.iter().all(|d| d.product == "vaxzevria"));
        let events = store.events_after(0, &["dose.recorded"], 10).await.unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[1].payload["dose_number"], 2);
        let doses = store.person_doses(ids[0]).await.unwrap();
        assert_eq!(doses.iter().map(|d| d.dose_number).collect::<Vec<_>>(), vec![1, 2]);
        assert!(
            store
                .allocation_candidates(VaccinationSessionId(Uuid::new_v4()), &["/VN/".into()], 0, 10)
                .await
                .unwrap()
                .is_empty(),
            "fully vaccinated"
        );
    }

    async fn corrections_keep_history_and_totals_follow(store: &dyn Store) {
        prepared(store).await;
        let ids = registered(store, vec![(person("Người Sửa", Some("001087000031"), "00070"), "general")]).await;
        let site = site_and_lot(store, "comirnaty", "FK1234").await;
        let t = now() - Duration::days(40);
        let first = store.record_dose(dose(ids[0], &site, "comirnaty", "FK1234", 1, t), vec![]).await.unwrap();
        let second = store
            .record_dose(dose(ids[0], &site, "comirnaty", "FK1234", 2, t + Duration::days(25)), vec![])
            .await
            .unwrap();
        let full = |rows: Vec<CoverageRow>| rows.into_iter().find(|r| r.dimension == "all").map(|r| r.coverage);
        assert_eq!(full(store.coverage("/VN/").await.unwrap()), Some(Coverage { at_least_one: 1, full_series: 1 }));

        let bad = store.correct_dose(second.id, correction(Some("NOPE99"), false, "typo"), vec![]).await;
        assert!(matches!(bad, Err(StoreError::Refused { code: "unknown_lot", .. })), "{bad:?}");
        assert!(store.dose_history(second.id).await.unwrap().is_empty(), "a refused correction leaves no trace");

        // The first dose was recorded twice by mistake at another site: void it.
        let voided = store.correct_dose(first.id, correction(None, true, "ghi trùng"), vec![]).await.unwrap();
        assert!(voided.voided);
        let history = store.dose_history(first.id).await.unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].reason, "ghi trùng");
        assert!(!history[0].voided);
        let doses = store.person_doses(ids[0]).await.unwrap();
        let remaining = doses.iter().find(|d| d.id == second.id).unwrap();
        assert_eq!(remaining.dose_number, 1, "the doses left are renumbered");
        assert_eq!(
            full(store.coverage("/VN/01/00070/").await.unwrap()),
            Some(Coverage { at_least_one: 1, full_series: 0 })
        );
        let day = outbreak_domain::local_date(t);
        let per_day = store.doses_per_day("/VN/", day, day).await.unwrap();
        assert!(per_day.is_empty(), "the voided dose no longer counts: {per_day:?}");
        assert_eq!(store.events_after(0, &["dose.corrected"], 10).await.unwrap().len(), 1);

        let voided_all = store.correct_dose(second.id, correction(None, true, "nhầm người"), vec![]).await.unwrap();
        assert!(voided_all.voided);
        assert_eq!(full(store.coverage("/VN/").await.unwrap()), Some(Coverage::default()));
    }

    async fn adverse_events_stay_in_scope(store: &dyn Store) {
        prepared(store).await;
        let ids = registered(store, vec![(person("Người Sốt", Some("001087000041"), "00070"), "general")]).await;
        let site = site_and_lot(store, "spikevax", "MO0001").await;
        let given = store
            .record_dose(dose(ids[0], &site, "spikevax", "MO0001", 1, now() - Duration::hours(5)), vec![])
            .await
            .unwrap();
        let event = AdverseEvent {
            id: AdverseEventId(Uuid::new_v4()),
            dose: given.id,
            person: ids[0],
            severity: Severity::Moderate,
            description: "Sốt 39 độ".into(),
            onset_at: now() - Duration::hours(2),
            status: AdverseStatus::Reported,
            note: String::new(),
            reported_by: "vaccinator".into(),
            unit_path: given.site_path.clone(),
            reported_at: now(),
        };
        store.insert_adverse_event(&event).await.unwrap();
        let mut orphan = event.clone();
        orphan.id = AdverseEventId(Uuid::new_v4());
        orphan.dose = DoseId(Uuid::new_v4());
        assert!(matches!(store.insert_adverse_event(&orphan).await, Err(StoreError::NotFound("dose"))));
        assert_eq!(store.adverse_events(&["/VN/01/".into()], 10).await.unwrap(), vec![event.clone()]);
        assert!(store.adverse_events(&["/VN/79/".into()], 10).await.unwrap().is_empty());
        store.update_adverse_event(event.id, AdverseStatus::FollowingUp, "đã gọi điện").await.unwrap();
        let listed = store.adverse_events(&["/VN/".into()], 10).await.unwrap();
        assert_eq!((listed[0].status, listed[0].note.as_str()), (AdverseStatus::FollowingUp, "đã gọi điện"));
    }
}

/// PostgreSQL indexes each day's partition of the check-ins. A bulk load drops the indexes
/// and builds them again from their definitions, and the definition PostgreSQL gives back
/// for a partitioned index says `ON ONLY`, which builds an invalid index on the parent and
/// none on the partitions: every look-up then scans whole days.
#[tokio::test]
async fn on_postgres_a_bulk_load_indexes_every_day_again() {
    let url = outbreak_testkit::postgres::database().await;
    let store = open(&url).await.unwrap();
    bulk_loaded_checkins_are_found_like_recorded_ones(&*store).await;
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let invalid: i64 = client
        .query_one("SELECT count(*) FROM pg_index WHERE indrelid = 'checkins'::regclass AND NOT indisvalid", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(invalid, 0, "every index of the check-ins covers every partition");
    let unindexed: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_inherits p WHERE p.inhparent = 'checkins'::regclass
               AND (SELECT count(*) FROM pg_index x WHERE x.indrelid = p.inhrelid)
                 < (SELECT count(*) FROM pg_index x WHERE x.indrelid = 'checkins'::regclass)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(unindexed, 0, "every day's partition has every index");
}
