//! Demo data for Outbreak: a deterministic synthetic population, from a commune-sized demo
//! ready in seconds to millions of people for benchmarks.
//!
//! [`generate`] fills a store through the services: the national units, neighbourhoods and
//! households below the chosen communes, people living in them (Vietnamese names, ages on a
//! plausible pyramid, phones, CCCD and health-insurance numbers that pass every check), and
//! one staff account per role. The same [`DemoOptions`] always give the same people with
//! the same ids and the same passwords. A run that was interrupted can be run again with
//! the same options to finish it; a finished demo is never written twice.
//!
//! - `population`: households and people, made in chunks of one transaction each.
//! - `names`, `places`, `identifiers`: what the people are made of.
//! - `accounts`: the staff accounts and their passwords.
//! - `venues`: venues of every kind in each commune and a few days of check-ins.
//! - `testing`: sampling sessions, specimens and pools, results and the cases they confirm.
//! - [`simulate`]: an outbreak lived through day by day, recorded through the platform, and
//!   how well tracing found the true infections.
//! - `activity`: a fortnight of check-ins at venues of heavy-tailed sizes, in bulk, for the
//!   tracing benchmark ([`populate`], [`Town::checkins`]).
//! - `vaccination`: organisations, registrations, sites, lots, sessions and doses.

mod accounts;
mod activity;
mod error;
mod identifiers;
mod names;
mod pick;
mod places;
mod population;
pub mod simulate;
mod testing;
mod vaccination;
mod venues;

pub use activity::{ActivityOptions, Checkins, Resident, Town, populate};
pub use error::DemoError;

use outbreak_domain::unit::national_units;
use outbreak_domain::{BirthDate, Cccd, PersonId, Phone, Role, Unit, UnitCode, UnitLevel};
use outbreak_services::Services;
use outbreak_store::AuditFilter;
use time::Date;

use crate::population::{Chunk, CommunePlan, Generator};

/// People written per store transaction: large enough that commits are rare, small enough
/// that progress moves and memory stays flat.
pub const PEOPLE_PER_TRANSACTION: usize = 20_000;

/// Audit-log actions that mark a demo's start (with its options) and its end.
const STARTED: &str = "demo.start";
const FINISHED: &str = "demo.finish";

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoOptions {
    /// Everything random follows from it: the same seed gives the same demo.
    pub seed: u64,
    /// People in all, shared evenly between the communes.
    pub people: u64,
    /// Communes to populate (five-digit codes from the national list); staff accounts work
    /// at the first one.
    pub communes: Vec<UnitCode>,
    /// The day ages are counted to. It defaults to today; fix it to get the same birth
    /// dates (and so the same CCCDs) on any day.
    pub today: Date,
    /// Days of check-ins before today.
    pub checkin_days: u32,
}

impl Default for DemoOptions {
    /// A commune-sized demo ready in seconds: 2,000 people in six communes of Hà Nội and
    /// Thành phố Hồ Chí Minh, wards and rural communes both.
    fn default() -> Self {
        DemoOptions {
            seed: 2021,
            people: 2_000,
            communes: default_communes(),
            today: outbreak_domain::now().date(),
            checkin_days: 3,
        }
    }
}

/// Hoàn Kiếm, Ba Đình and Thanh Trì in Hà Nội; Sài Gòn, Bến Thành and Củ Chi in Thành phố
/// Hồ Chí Minh.
pub fn default_communes() -> Vec<UnitCode> {
    ["00070", "00004", "00640", "26740", "26743", "27553"]
        .into_iter()
        .filter_map(|code| UnitCode::parse("communes", code).ok())
        .collect()
}

/// How far a run has come, for a progress bar. `stage` is `units`, `accounts` or `people`;
/// each stage reports `done` out of `total` as it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub stage: &'static str,
    pub done: u64,
    pub total: u64,
}

/// A staff account the demo made, with the password to sign in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoAccount {
    pub role: Role,
    pub username: String,
    pub password: String,
    pub display_name: String,
    /// The unit the role is granted over.
    pub unit_code: UnitCode,
    pub unit_name: String,
}

/// A demo citizen a visitor can sign in as, with the phone (one-time codes go to the SMS
/// log) and the identifiers staff can look them up by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleCitizen {
    pub id: PersonId,
    pub full_name: String,
    pub phone: Phone,
    pub cccd: Option<Cccd>,
    pub date_of_birth: BirthDate,
    /// The name of the commune they live in.
    pub commune: String,
    /// People registered with this phone, the citizen included (children carry a parent's).
    pub people_on_phone: u32,
}

/// What a run made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    pub seed: u64,
    pub accounts: Vec<DemoAccount>,
    /// The populated communes, in the order of the options.
    pub communes: Vec<Unit>,
    /// Units this run added: national ones on a new store, neighbourhoods, households.
    pub units_added: u64,
    pub neighbourhoods: u64,
    pub households: u64,
    /// People in the demo.
    pub people: u64,
    /// People this run wrote: fewer than `people` when it finished an interrupted run.
    pub people_added: u64,
    /// Venues in the demo's communes, of every kind.
    pub venues: u64,
    /// Check-ins this run wrote.
    pub checkins: u64,
    /// Specimens this run took, and the cases their results confirmed.
    pub specimens: u64,
    pub cases: u64,
    /// Registrations and doses this run stored.
    pub registrations: u64,
    pub doses: u64,
    /// Whether this run finished one that had been interrupted.
    pub resumed: bool,
    pub sample_citizens: Vec<SampleCitizen>,
}

/// Fills the store behind `services` with a demo population and staff accounts, calling
/// `progress` as it goes.
///
/// Refuses, before writing anything, a store that already holds a finished demo or an
/// unfinished one made with other options ([`DemoError::AlreadyFilled`]), people not put
/// there by a demo ([`DemoError::NotEmpty`]), or an account under one of the demo's
/// usernames ([`DemoError::UsernameTaken`]). An unfinished demo with the same options is
/// finished: people are written a transaction at a time, and transactions already there are
/// skipped.
pub async fn generate(
    services: &Services,
    options: &DemoOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<DemoSummary, DemoError> {
    let (country, communes) = resolve(options)?;
    let home = communes.first().map(|c| c.unit.clone()).ok_or_else(|| DemoError::Options("no communes".into()))?;
    let elsewhere = other_province(&home, &communes);
    let staff = accounts::plan(options.seed, &country, &home, &elsewhere);
    let caller = accounts::bootstrap_caller();
    let store = &services.store;

    let resumed = unfinished_demo(services, options).await?;
    if !resumed {
        let people = store.count_people().await?;
        if people > 0 {
            return Err(DemoError::NotEmpty(people));
        }
        for account in &staff {
            if store.account_by_username(&account.username).await?.is_some() {
                return Err(DemoError::UsernameTaken(account.username.clone()));
            }
        }
    }

    progress(Progress { stage: "units", done: 0, total: 1 });
    let mut units_added = store.seed_units(&national_units()).await?;
    progress(Progress { stage: "units", done: 1, total: 1 });
    if !resumed {
        services.audit(&caller, STARTED, "demo", &options.seed.to_string(), &fingerprint(options)).await?;
    }

    let total = staff.len() as u64;
    progress(Progress { stage: "accounts", done: 0, total });
    accounts::create(services, &caller, &staff).await?;
    progress(Progress { stage: "accounts", done: total, total });

    let started_at = outbreak_domain::now();
    let shares: Vec<(Unit, u64)> = communes.iter().map(|c| (c.unit.clone(), c.people)).collect();
    progress(Progress { stage: "venues", done: 0, total: 1 });
    let venues = venues::create(&**store, options.seed, &shares, started_at).await?;
    let venue_count = venues.values().map(Vec::len).sum::<usize>() as u64;
    progress(Progress { stage: "venues", done: 1, total: 1 });
    let communes_only: Vec<Unit> = communes.iter().map(|c| c.unit.clone()).collect();
    let sessions = testing::open(&**store, options.seed, &communes_only, started_at).await?;
    let vaccination_plan = vaccination::open(&**store, options.seed, &communes_only, started_at).await?;

    let generator = Generator::new(options.seed, communes.clone(), options.today, outbreak_domain::now());
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Chunk, DemoError>>(1);
    // People are made on a blocking thread while the previous chunk is being written.
    let producer = tokio::task::spawn_blocking(move || {
        let mut generator = generator;
        loop {
            match generator.next_chunk(PEOPLE_PER_TRANSACTION) {
                Ok(Some(chunk)) => {
                    // A closed channel means the writer failed; it reports its own error.
                    if tx.blocking_send(Ok(chunk)).is_err() {
                        break;
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    let _ = tx.blocking_send(Err(error));
                    break;
                }
            }
        }
        generator.samples
    });

    let (mut people, mut people_added, mut households, mut neighbourhoods, mut checkins) = (0, 0, 0, 0, 0);
    let (mut specimens, mut cases, mut chunk_number) = (0, 0, 0);
    let (mut registrations, mut doses) = (0, 0);
    progress(Progress { stage: "people", done: 0, total: options.people });
    while let Some(chunk) = rx.recv().await {
        let chunk = chunk?;
        units_added += store.seed_units(&chunk.units).await?;
        let written = match (resumed, chunk.people.first()) {
            (true, Some(first)) => store.person(first.id).await?.is_some(),
            _ => false,
        };
        if !written {
            store.insert_people(&chunk.people).await?;
            people_added += chunk.people.len() as u64;
            let visits = venues::visits(&chunk.people, &venues, options.seed, options.checkin_days, started_at);
            checkins += venues::record(&**store, visits).await?;
            let tested =
                testing::sample(&**store, &sessions, &chunk.people, options.seed, chunk_number, started_at).await?;
            specimens += tested.specimens;
            cases += tested.cases;
            let vaccinated = vaccination::vaccinate(
                &**store,
                &vaccination_plan,
                &chunk.people,
                options.seed,
                chunk_number,
                started_at,
            )
            .await?;
            registrations += vaccinated.registrations;
            doses += vaccinated.doses;
        }
        chunk_number += 1;
        people += chunk.people.len() as u64;
        households += chunk.households;
        neighbourhoods += chunk.neighbourhoods;
        progress(Progress { stage: "people", done: people, total: options.people });
    }
    let sample_citizens = producer.await.map_err(|e| DemoError::Task(e.to_string()))?;
    testing::mark_told(&**store).await?;

    let detail = format!("{people} people in {households} households, {} accounts", staff.len());
    services.audit(&caller, FINISHED, "demo", &options.seed.to_string(), &detail).await?;
    Ok(DemoSummary {
        seed: options.seed,
        accounts: staff,
        communes: communes.into_iter().map(|c| c.unit).collect(),
        units_added,
        neighbourhoods,
        households,
        people,
        people_added,
        venues: venue_count,
        checkins,
        specimens,
        cases,
        registrations,
        doses,
        resumed,
        sample_citizens,
    })
}

/// The options as the audit log records them, to recognise an unfinished run.
fn fingerprint(options: &DemoOptions) -> String {
    let communes: Vec<&str> = options.communes.iter().map(UnitCode::as_str).collect();
    format!(
        "seed {}, {} people in {}, ages on {}",
        options.seed,
        options.people,
        communes.join(" "),
        BirthDate::Full(options.today)
    )
}

/// Whether the store holds an unfinished demo made with these options; an error when it
/// holds a finished one or one made otherwise.
async fn unfinished_demo(services: &Services, options: &DemoOptions) -> Result<bool, DemoError> {
    let last = |action: &str| AuditFilter { action: Some(action.into()), limit: 1, ..AuditFilter::default() };
    if let Some(done) = services.store.audit_entries(&last(FINISHED)).await?.first() {
        return Err(DemoError::AlreadyFilled(format!("a demo with seed {} finished: {}", done.entity_id, done.detail)));
    }
    match services.store.audit_entries(&last(STARTED)).await?.first() {
        None => Ok(false),
        Some(started) if started.detail == fingerprint(options) => Ok(true),
        Some(started) => Err(DemoError::AlreadyFilled(format!(
            "an unfinished demo made with other options: {}; run it again with those to finish it",
            started.detail
        ))),
    }
}

/// The country unit and the communes of the options, each with its share of the people.
fn resolve(options: &DemoOptions) -> Result<(Unit, Vec<CommunePlan>), DemoError> {
    let units = national_units();
    let country = units
        .iter()
        .find(|u| u.level == UnitLevel::Country)
        .cloned()
        .ok_or_else(|| DemoError::Options("the national list has no country unit".into()))?;
    if options.communes.is_empty() {
        return Err(DemoError::Options("name at least one commune to populate".into()));
    }
    let count = options.communes.len() as u64;
    let mut plans: Vec<CommunePlan> = Vec::with_capacity(options.communes.len());
    for (i, code) in options.communes.iter().enumerate() {
        let unit = units
            .iter()
            .find(|u| u.code == *code && u.level == UnitLevel::Commune)
            .ok_or_else(|| DemoError::Options(format!("{code} is not a commune code from the national list")))?;
        if plans.iter().any(|p| p.unit.code == *code) {
            return Err(DemoError::Options(format!("commune {code} is named twice")));
        }
        // An even share, the remainder going to the first communes.
        let people = options.people / count + u64::from((i as u64) < options.people % count);
        plans.push(CommunePlan::new(unit.clone(), people));
    }
    Ok((country, plans))
}

/// A commune in another province than `home` for the second tracer: the first such commune
/// of the options, else the first of the national list.
fn other_province(home: &Unit, communes: &[CommunePlan]) -> Unit {
    let elsewhere = |unit: &&Unit| unit.level == UnitLevel::Commune && unit.parent != home.parent;
    communes
        .iter()
        .map(|c| &c.unit)
        .find(elsewhere)
        .cloned()
        .or_else(|| national_units().iter().find(elsewhere).cloned())
        .unwrap_or_else(|| home.clone())
}
