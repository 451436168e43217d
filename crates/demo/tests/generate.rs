//! Demos generated into real SQLite stores, checked through the public interfaces: the
//! same seed gives the same people, every record passes the domain's checks, the staff can
//! sign in, and a second run never writes a second copy.

// Tests may unwrap and panic, helpers outside `#[test]` functions included.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use outbreak_demo::{DemoError, DemoOptions, DemoSummary, Progress, generate};
use outbreak_domain::{NewPerson, Person, PersonId, Role, UnitCode, UnitLevel};
use outbreak_services::sms::LogGateway;
use outbreak_services::{Caller, Config, ServiceError, Services};
use outbreak_store::PersonQuery;
use time::macros::date;

const TODAY: time::Date = date!(2026 - 03 - 15);

fn temp_dir() -> PathBuf {
    outbreak_testkit::scratch_dir("demo")
}

async fn services() -> Services {
    let dir = temp_dir();
    let store = outbreak_store::open(dir.join("store.sqlite").to_str().unwrap()).await.unwrap();
    let config = Config::new("http://localhost", dir.join("sms.log"));
    Services::new(store, Arc::new(LogGateway::new(dir.join("sms.log"))), config)
}

fn options(seed: u64, people: u64) -> DemoOptions {
    DemoOptions { seed, people, today: TODAY, ..DemoOptions::default() }
}

fn quiet(_: Progress) {}

async fn everyone(services: &Services) -> Vec<Person> {
    let query = PersonQuery { scope: vec!["/VN/".into()], limit: 1_000_000, ..PersonQuery::default() };
    let mut people: Vec<Person> =
        services.store.search_people(&query).await.unwrap().into_iter().map(|r| r.person).collect();
    people.sort_by_key(|p| p.id);
    people
}

/// A person without the times the record was written, which differ from run to run.
fn identity(p: &Person) -> Person {
    let epoch = time::OffsetDateTime::UNIX_EPOCH;
    Person { created_at: epoch, updated_at: epoch, ..p.clone() }
}

#[tokio::test]
async fn the_same_seed_gives_the_same_people() {
    let (first, second, other) = (services().await, services().await, services().await);
    let a = generate(&first, &options(7, 500), &quiet).await.unwrap();
    let b = generate(&second, &options(7, 500), &quiet).await.unwrap();
    generate(&other, &options(8, 500), &quiet).await.unwrap();
    let (a_people, b_people) = (everyone(&first).await, everyone(&second).await);
    assert_eq!(a_people.len(), 500);
    assert_eq!(a_people.iter().map(identity).collect::<Vec<_>>(), b_people.iter().map(identity).collect::<Vec<_>>());
    assert_eq!(a.accounts, b.accounts);
    assert_eq!(a.sample_citizens, b.sample_citizens);
    let other_ids: HashSet<_> = everyone(&other).await.iter().map(|p| p.id).collect();
    assert!(a_people.iter().all(|p| !other_ids.contains(&p.id)));
}

#[tokio::test]
async fn every_person_is_valid_and_every_household_whole() {
    let services = services().await;
    let summary = generate(&services, &options(2021, 3_000), &quiet).await.unwrap();
    let people = everyone(&services).await;
    assert_eq!(people.len(), 3_000);
    assert_eq!(summary.people, 3_000);
    assert_eq!(services.store.count_people().await.unwrap(), 3_000);

    let mut cccds = HashSet::new();
    let mut insurance = HashSet::new();
    let mut households: HashMap<UnitCode, Vec<&Person>> = HashMap::new();
    for person in &people {
        // What the store gives back passes the checks a form would apply.
        let again = NewPerson {
            full_name: person.full_name.clone(),
            date_of_birth: person.date_of_birth.to_string(),
            sex: person.sex.as_str().into(),
            phone: person.phone.as_ref().map(|p| p.national()),
            cccd: person.cccd.as_ref().map(|c| c.as_str().into()),
            insurance_number: person.insurance_number.as_ref().map(|n| n.as_str().into()),
            address_unit: person.address_unit.to_string(),
            street: person.street.clone(),
            household: person.household.as_ref().map(ToString::to_string),
        }
        .validate(TODAY)
        .unwrap_or_else(|e| panic!("{}: {e:?}", person.full_name))
        .into_person(person.id, person.created_at);
        assert_eq!(&again, person);
        if let Some(cccd) = &person.cccd {
            assert!(cccds.insert(cccd.clone()), "CCCD {} twice", cccd.as_str());
        }
        if let Some(number) = &person.insurance_number {
            assert!(insurance.insert(number.clone()), "insurance {} twice", number.as_str());
        }
        households.entry(person.household.clone().unwrap()).or_default().push(person);
    }
    assert!(cccds.len() > 2_500 && insurance.len() > 2_500);
    assert_eq!(households.len() as u64, summary.households);
    for (code, members) in &households {
        assert!((1..=6).contains(&members.len()), "{code} has {}", members.len());
        let unit = services.store.unit(code).await.unwrap().unwrap();
        assert_eq!(unit.level, UnitLevel::Household);
        for member in members {
            assert_eq!(Some(&member.address_unit), unit.parent.as_ref());
        }
    }
    // Every demo commune got people, in its own neighbourhoods.
    for commune in &summary.communes {
        let hoods = services.store.child_units(&commune.code).await.unwrap();
        assert!(!hoods.is_empty(), "{}", commune.name);
        assert!(hoods.iter().all(|h| h.level == UnitLevel::Neighbourhood));
    }
}

async fn signed_in(services: &Services, summary: &DemoSummary, username: &str) -> Caller {
    let account = summary.accounts.iter().find(|a| a.username == username).unwrap();
    let signed = services.staff_sign_in(&account.username, &account.password).await.unwrap();
    Caller { principal: signed.principal, client: "test".into(), is_system: false }
}

#[tokio::test]
async fn staff_sign_in_within_their_jurisdiction() {
    let services = services().await;
    let summary = generate(&services, &options(3, 300), &quiet).await.unwrap();
    assert_eq!(summary.accounts.len(), Role::ALL.len() + 1);
    for account in &summary.accounts {
        assert!(account.password.starts_with("demo-") && account.password.len() >= 10);
        services.staff_sign_in(&account.username, &account.password).await.unwrap();
        assert!(services.staff_sign_in(&account.username, "demo-wrong-password").await.is_err());
    }
    let admin = summary.accounts.iter().find(|a| a.role == Role::Admin).unwrap();
    assert_eq!(admin.unit_code, UnitCode::country());
    let tracer2 = summary.accounts.iter().find(|a| a.username == "tracer2").unwrap();
    assert_eq!(tracer2.unit_code.as_str(), "26740");

    // A citizen of the first commune: the tracer there may open the record, tracer2 may not.
    let citizen = summary.sample_citizens.first().unwrap();
    assert_eq!(citizen.commune, "Phường Hoàn Kiếm");
    let tracer = signed_in(&services, &summary, "tracer").await;
    services.person(&tracer, citizen.id).await.unwrap();
    let far = signed_in(&services, &summary, "tracer2").await;
    assert!(matches!(services.person(&far, citizen.id).await, Err(ServiceError::Forbidden(_))));

    // Sample citizens sign in with their phone and see everyone it carries.
    for sample in &summary.sample_citizens {
        let on_phone = services.store.people_by_phone(&sample.phone).await.unwrap();
        assert_eq!(on_phone.len() as u32, sample.people_on_phone, "{}", sample.full_name);
    }
    assert!(summary.sample_citizens.iter().any(|s| s.people_on_phone > 1));

    // The accounts were made through the services, so the audit log names them.
    let filter =
        outbreak_store::AuditFilter { action: Some("account.create".into()), limit: 100, ..Default::default() };
    assert_eq!(services.store.audit_entries(&filter).await.unwrap().len(), summary.accounts.len());
}

#[tokio::test]
async fn a_second_run_is_refused_and_changes_nothing() {
    let services = services().await;
    let first = generate(&services, &options(11, 400), &quiet).await.unwrap();
    assert!(!first.resumed);
    let people = services.store.count_people().await.unwrap();
    let hoods = services.store.child_units(&first.communes[0].code).await.unwrap();
    for again in [options(11, 400), options(12, 400)] {
        let error = generate(&services, &again, &quiet).await.unwrap_err();
        assert!(matches!(error, DemoError::AlreadyFilled(_)), "{error}");
    }
    assert_eq!(services.store.count_people().await.unwrap(), people);
    assert_eq!(services.store.child_units(&first.communes[0].code).await.unwrap(), hoods);
}

#[tokio::test]
async fn an_interrupted_run_is_finished_by_running_it_again() {
    let services = services().await;
    let options = options(5, 45_000);
    // Stop the run as soon as its first transaction of people is written.
    let interrupted = tokio::spawn({
        let (services, options) = (services.clone(), options.clone());
        async move {
            let stop = |p: Progress| assert!(!(p.stage == "people" && p.done > 0), "interrupted");
            generate(&services, &options, &stop).await
        }
    });
    assert!(interrupted.await.is_err());
    let written = services.store.count_people().await.unwrap();
    assert!(written > 0 && written < 45_000, "{written}");

    // Other options are refused; the same ones finish the job.
    let error = generate(&services, &DemoOptions { seed: 6, ..options.clone() }, &quiet).await.unwrap_err();
    assert!(matches!(error, DemoError::AlreadyFilled(_)), "{error}");
    let summary = generate(&services, &options, &quiet).await.unwrap();
    assert!(summary.resumed);
    assert_eq!(summary.people, 45_000);
    assert_eq!(summary.people_added, 45_000 - written);
    assert_eq!(services.store.count_people().await.unwrap(), 45_000);
    assert!(matches!(generate(&services, &options, &quiet).await, Err(DemoError::AlreadyFilled(_))));
}

#[tokio::test]
async fn a_store_with_other_people_or_accounts_is_left_alone() {
    let services = services().await;
    services.store.seed_units(&outbreak_domain::unit::national_units()).await.unwrap();
    let person = NewPerson {
        full_name: "Trần Thị Bình".into(),
        date_of_birth: "1990-05-04".into(),
        sex: "female".into(),
        address_unit: "00070".into(),
        ..NewPerson::default()
    }
    .validate(TODAY)
    .unwrap()
    .into_person(PersonId::new(), outbreak_domain::now());
    services.store.insert_person(&person).await.unwrap();
    let error = generate(&services, &options(1, 100), &quiet).await.unwrap_err();
    assert!(matches!(error, DemoError::NotEmpty(1)), "{error}");

    let other = self::services().await;
    let demo = generate(&other, &options(1, 10), &quiet).await.unwrap();
    let third = self::services().await;
    third.store.seed_units(&outbreak_domain::unit::national_units()).await.unwrap();
    let caller = Caller {
        principal: outbreak_domain::Principal::Staff {
            account_id: uuid::Uuid::nil(),
            username: "root".into(),
            grants: vec![outbreak_domain::Grant {
                role: Role::Admin,
                unit: UnitCode::country(),
                unit_path: "/VN/".into(),
            }],
        },
        client: "test".into(),
        is_system: false,
    };
    let request = outbreak_services::accounts::AccountRequest {
        username: "tracer".into(),
        display_name: "Someone else".into(),
        password: Some("a real password".into()),
        system: false,
        grants: vec![],
    };
    third.create_account(&caller, &request).await.unwrap();
    let error = generate(&third, &options(1, 10), &quiet).await.unwrap_err();
    assert!(matches!(&error, DemoError::UsernameTaken(name) if name == "tracer"), "{error}");
    assert_eq!(third.store.count_people().await.unwrap(), 0);
    assert_eq!(demo.people, 10);
}

#[tokio::test]
async fn bad_options_are_named() {
    let services = services().await;
    for communes in [vec![], vec!["01"], vec!["99999"], vec!["00070", "00070"]] {
        let communes = communes.iter().map(|c| UnitCode::parse("c", c).unwrap()).collect();
        let error = generate(&services, &DemoOptions { communes, ..options(1, 10) }, &quiet).await.unwrap_err();
        assert!(matches!(error, DemoError::Options(_)), "{error}");
    }
    assert_eq!(services.store.count_people().await.unwrap(), 0);
}

#[tokio::test]
async fn progress_reaches_every_total() {
    let services = services().await;
    let seen = std::sync::Mutex::new(Vec::new());
    generate(&services, &options(4, 250), &|p| seen.lock().unwrap().push(p)).await.unwrap();
    let seen = seen.into_inner().unwrap();
    for stage in ["units", "accounts", "people"] {
        let last = seen.iter().rev().find(|p| p.stage == stage).unwrap();
        assert_eq!(last.done, last.total, "{stage}");
    }
    assert_eq!(seen.last().unwrap().total, 250);
}
