//! The outbreak simulator: a synthetic population lives through days of an epidemic, and
//! everything it does that the platform would see — check-ins, samples, lab results — is
//! written through the platform, so that cases are confirmed and traced as in production.
//! The simulator knows who really infected whom, so it can say how well tracing did.
//!
//! - `model`: one infection's course (incubation, symptoms, infectious days, detectability).
//! - `mixing`: daily life (households, work, errands) and the infections it passes on.
//! - `platform`: the writes through the store and the services, in simulated time.
//! - `figures`: sensitivity, false alarms and notification delays from the ground truth.
//! - `reproduction`: the calibration's check, R0 and the household attack rate.
//!
//! Time: the simulated days end yesterday (day 0 is `days` days before today, in Vietnam),
//! because the platform refuses check-ins from the future. Every day is simulated in the
//! same order: who goes where, who infects whom, check-ins, tests and their results, then
//! the notifier's rounds (tracing the new cases, telling their contacts), then the listed
//! contacts quarantine and are tested on their test days, and communes with many cases
//! that week go under social distancing from the next day. Everything random follows from
//! the seed, so the same seed gives the same epidemic.

mod figures;
mod mixing;
mod model;
mod platform;
mod reproduction;

pub use figures::{Share, Spread};
pub use mixing::{BySetting, Setting};
pub use reproduction::Reproduction;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use outbreak_domain::unit::national_units;
use outbreak_domain::{PersonId, UnitCode};
use outbreak_services::Services;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use self::figures::Fate;
use self::mixing::{Today, World};
use self::model::{Course, PCR_SENSITIVITY};
use self::platform::{Platform, Sample};
use crate::population::Generator;
use crate::{DemoError, PEOPLE_PER_TRANSACTION};

/// Listed F1s who keep to their home quarantine.
const QUARANTINE_KEPT: f64 = 0.85;
/// Listed contacts who come to be tested on their test days.
const TESTS_KEPT: f64 = 0.9;
/// A person with symptoms who has no positive test yet seeks one on a given day this often.
const SEEKS_TEST: f64 = 0.3;
/// Days before someone with symptoms and a negative test seeks another.
const RETEST_AFTER: u32 = 2;
/// Share of the healthy who get tested on a given day (a cough, a job that asks for it).
const BACKGROUND_TESTS: f64 = 0.0003;
/// Confirmed cases over a week, per 100,000 people, that put a commune under social
/// distancing: about where the Ministry of Health's measure of Resolution 128/NQ-CP's
/// levels (Decision 4800/QĐ-BYT, 2021), assessed commune by commune, starts level 3 ("high
/// risk") on new cases alone — as remembered, not checked against the decision's text.
/// Before that resolution, provinces met Delta's first community cases
/// with Directive 16 at once; this waits for a few.
const DISTANCING_FROM: f64 = 50.0;
/// Days without a new case after which a commune's distancing is lifted, as 2021's
/// lockdowns were.
const DISTANCING_LIFTED_AFTER: u32 = 14;
/// Index cases the calibration check follows (see `reproduction`): enough to put R0 within
/// about ±0.3 whatever the population's size.
const CALIBRATION_CASES: u64 = 500;

/// What to simulate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimOptions {
    /// Everything random follows from it.
    pub seed: u64,
    pub people: u64,
    /// The longest the outbreak is followed; it stops earlier when infections die out.
    pub days: u32,
    /// People infected from outside on day 0.
    pub initial_cases: u32,
    /// Communes the people live in (five-digit codes).
    pub communes: Vec<UnitCode>,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions { seed: 2021, people: 100_000, days: 120, initial_cases: 10, communes: crate::default_communes() }
    }
}

/// How far a run has come: `stage` is `people` then `days`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimProgress {
    pub stage: &'static str,
    pub done: u64,
    pub total: u64,
    /// Infections and cases so far.
    pub infections: u64,
    pub cases: u64,
}

/// One infection of the ground truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Infection {
    pub person: PersonId,
    /// Who passed it on; `None` for the first cases.
    pub by: Option<PersonId>,
    /// The simulated day (0-based).
    pub day: u32,
    pub setting: Setting,
}

/// What a run found.
#[derive(Debug, Clone)]
pub struct SimReport {
    pub people: u64,
    /// The disease in this population when nothing is done about it, estimated before the
    /// run (R0 by setting and the household attack rate), and under distancing alone.
    pub without_measures: Reproduction,
    pub under_distancing: Reproduction,
    /// Days communes spent under social distancing, added up.
    pub distancing_days: u64,
    /// Days simulated, and whether the outbreak was over by then (else the day cap ended it).
    pub days: u32,
    pub died_out: bool,
    /// Who infected whom, in the order it happened.
    pub infections: Vec<Infection>,
    /// Check-ins stored, specimens taken, cases the platform confirmed.
    pub checkins: u64,
    pub specimens: u64,
    pub cases: u64,
    /// Contact rows tracing listed, by generation, and the different people among them.
    pub f1_listed: u64,
    pub f2_listed: u64,
    pub people_listed: u64,
    /// True infectees (not the first cases) listed as F1 or F2 before they became cases.
    pub sensitivity: Share,
    /// The same for F1 alone.
    pub sensitivity_f1: Share,
    /// Listed people who were never infected.
    pub false_alarms: Share,
    /// Wall-clock time from a case's result being recorded to its contacts' SMS.
    pub notification: Option<Spread>,
    /// Wall-clock time spent in the platform: check-ins, tests and results, tracing rounds.
    pub checkin_time: Duration,
    pub testing_time: Duration,
    pub tracing_time: Duration,
}

/// Runs a simulation into the empty store behind `services`. The services' retention must
/// cover the simulated days, or the platform would refuse the first days' check-ins.
pub async fn simulate(
    services: &Services,
    options: &SimOptions,
    progress: &(dyn Fn(SimProgress) + Sync),
) -> Result<SimReport, DemoError> {
    if options.days == 0 || options.people == 0 {
        return Err(DemoError::Options("simulate at least one day and one person".into()));
    }
    if options.initial_cases == 0 || u64::from(options.initial_cases) > options.people {
        return Err(DemoError::Options("the initial cases must be between 1 and the number of people".into()));
    }
    if services.config.retention < time::Duration::days(i64::from(options.days) + 1) {
        return Err(DemoError::Options(format!(
            "the store keeps check-ins for {} days: too short for {} simulated days",
            services.config.retention.whole_days(),
            options.days
        )));
    }
    let store = &services.store;
    let existing = store.count_people().await?;
    if existing > 0 {
        return Err(DemoError::NotEmpty(existing));
    }
    let demo = crate::DemoOptions {
        seed: options.seed,
        people: options.people,
        communes: options.communes.clone(),
        ..crate::DemoOptions::default()
    };
    let (_, plans) = crate::resolve(&demo)?;
    store.seed_units(&national_units()).await?;
    let now = outbreak_domain::now();
    let today = outbreak_domain::local_date(now);

    // The people, a transaction at a time, as the demo writes them.
    let mut generator = Generator::new(options.seed, plans.clone(), today, now);
    let mut people = Vec::new();
    while let Some(chunk) = generator.next_chunk(PEOPLE_PER_TRANSACTION)? {
        store.seed_units(&chunk.units).await?;
        store.insert_people(&chunk.people).await?;
        people.extend(chunk.people);
        progress(SimProgress {
            stage: "people",
            done: people.len() as u64,
            total: options.people,
            infections: 0,
            cases: 0,
        });
    }
    let shares: Vec<_> = plans.iter().map(|c| (c.unit.clone(), c.people)).collect();
    let venues = crate::venues::create(&**store, options.seed, &shares, now).await?;
    let communes: Vec<String> = plans.iter().map(|c| c.unit.code.to_string()).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed ^ 0x0073_696d_756c_6174);
    let world = World::new(&mut rng, &people, &communes, &venues, today);
    drop(people);
    let calibration = |distanced| {
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed ^ 0x0063_616c_6962);
        reproduction::estimate(&world, &mut rng, CALIBRATION_CASES, distanced)
    };
    let (without_measures, under_distancing) = (calibration(false), calibration(true));

    let start = today - time::Duration::days(i64::from(options.days));
    let units = plans.iter().map(|c| c.unit.clone()).collect();
    let mut platform = Platform::new(services, crate::accounts::bootstrap_caller(), start, units);
    let mut run = Run::new(&world);
    for _ in 0..options.initial_cases {
        // Drawn until a person not yet chosen comes up.
        loop {
            let p = rng.gen_range(0..world.residents.len() as u32);
            if run.course[p as usize].is_none() {
                run.infect(&world, &mut rng, p, None, 0, Setting::Seed);
                break;
            }
        }
    }

    let mut report = SimReport {
        people: world.residents.len() as u64,
        without_measures,
        under_distancing,
        distancing_days: 0,
        days: 0,
        died_out: false,
        infections: Vec::new(),
        checkins: 0,
        specimens: 0,
        cases: 0,
        f1_listed: 0,
        f2_listed: 0,
        people_listed: 0,
        sensitivity: Share::default(),
        sensitivity_f1: Share::default(),
        false_alarms: Share::default(),
        notification: None,
        checkin_time: Duration::ZERO,
        testing_time: Duration::ZERO,
        tracing_time: Duration::ZERO,
    };
    let mut delays = Vec::new();
    for day in 0..options.days {
        let seeded = |phase: u64| {
            ChaCha8Rng::seed_from_u64(
                options.seed ^ ((u64::from(day) << 8) | phase).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            )
        };
        run.live_day(&world, day, platform.midnight(day), &mut seeded(1));

        let clock = Instant::now();
        report.checkins += platform.check_in(&world, &mut seeded(2), day, &run.visits).await?;
        report.checkin_time += clock.elapsed();

        let clock = Instant::now();
        let samples = run.samples(day, &mut seeded(3));
        report.specimens += samples.len() as u64;
        let confirmed = platform.test(&world, &mut seeded(4), day, &samples).await?;
        report.testing_time += clock.elapsed();

        let clock = Instant::now();
        platform.trace_and_notify().await?;
        report.tracing_time += clock.elapsed();

        let mut follow = seeded(5);
        for case in &confirmed {
            if let Some(&p) = world.index.get(&case.person) {
                run.fates[p as usize].confirmed = Some(day);
                run.case_days[world.residents[p as usize].commune as usize].push(day);
            }
        }
        run.respond(&world, day);
        report.distancing_days += run.distancing.iter().filter(|&&d| d).count() as u64;
        report.cases += confirmed.len() as u64;
        for case in &confirmed {
            for contact in platform.contacts(case.case).await? {
                match contact.generation {
                    1 => report.f1_listed += 1,
                    _ => report.f2_listed += 1,
                }
                if let Some(sent) = platform.notified.get(&contact.id.0) {
                    delays.push(sent.saturating_duration_since(case.at));
                }
                let Some(&p) = contact.person.as_ref().and_then(|id| world.index.get(id)) else { continue };
                let quarantine_until = platform.day_of(contact.quarantine_until);
                let test_days: Vec<i64> = contact.test_days.iter().map(|d| (*d - start).whole_days()).collect();
                run.listed(&mut follow, p, day, contact.generation, quarantine_until, &test_days);
            }
        }
        report.days = day + 1;
        progress(SimProgress {
            stage: "days",
            done: u64::from(day + 1),
            total: u64::from(options.days),
            infections: run.infections.len() as u64,
            cases: report.cases,
        });
        if run.over(day + 1) {
            report.died_out = true;
            break;
        }
    }

    let (sensitivity, sensitivity_f1, false_alarms) = figures::tracing_quality(&run.fates);
    report.sensitivity = sensitivity;
    report.sensitivity_f1 = sensitivity_f1;
    report.false_alarms = false_alarms;
    report.people_listed = false_alarms.of;
    report.notification = Spread::of(delays);
    report.infections = run.infections;
    Ok(report)
}

/// The state of the epidemic and of the people's follow-up, person by person.
struct Run {
    course: Vec<Option<Course>>,
    fates: Vec<Fate>,
    /// The first day on which a quarantined contact goes out again.
    quarantine_until: Vec<u32>,
    /// The last day each person was tested.
    last_test: Vec<Option<u32>>,
    /// Contacts' test days to come: day → people.
    test_on: HashMap<u32, Vec<u32>>,
    infections: Vec<Infection>,
    /// Today's visits, kept for the check-ins.
    visits: Vec<mixing::Visit>,
    /// Per commune: the days its cases were confirmed, and whether it is under distancing.
    case_days: Vec<Vec<u32>>,
    distancing: Vec<bool>,
}

impl Run {
    fn new(world: &World) -> Run {
        let n = world.residents.len();
        Run {
            course: vec![None; n],
            fates: vec![Fate::default(); n],
            quarantine_until: vec![0; n],
            last_test: vec![None; n],
            test_on: HashMap::new(),
            infections: Vec::new(),
            visits: Vec::new(),
            case_days: vec![Vec::new(); world.communes()],
            distancing: vec![false; world.communes()],
        }
    }

    fn infect(&mut self, world: &World, rng: &mut impl Rng, p: u32, by: Option<u32>, day: u32, setting: Setting) {
        self.course[p as usize] = Some(Course::draw(rng, day));
        let fate = &mut self.fates[p as usize];
        fate.infected = Some(day);
        fate.infected_here = by.is_some();
        self.infections.push(Infection {
            person: world.residents[p as usize].id,
            by: by.map(|b| world.residents[b as usize].id),
            day,
            setting,
        });
    }

    /// Isolated (in a facility) from the day after confirmation.
    fn isolated(&self, p: u32, day: u32) -> bool {
        self.fates[p as usize].confirmed.is_some_and(|c| c < day)
    }

    /// The health authorities' answer to the week's cases, commune by commune, from
    /// tomorrow: distancing when they reach the line, lifted after long enough without one.
    fn respond(&mut self, world: &World, day: u32) {
        for (commune, days) in self.case_days.iter().enumerate() {
            let week = days.iter().filter(|&&d| d + 7 > day).count();
            let per_100k = week as f64 * 100_000.0 / world.people_in(commune).max(1) as f64;
            let quiet = days.last().is_none_or(|&last| day >= last + DISTANCING_LIFTED_AFTER);
            let distancing = &mut self.distancing[commune];
            *distancing = per_100k >= DISTANCING_FROM || (*distancing && !quiet);
        }
    }

    /// One day of life: who goes where, and who infects whom.
    fn live_day(&mut self, world: &World, day: u32, midnight: time::OffsetDateTime, rng: &mut ChaCha8Rng) {
        let weekday = !matches!(
            midnight.to_offset(outbreak_domain::VIETNAM).weekday(),
            time::Weekday::Saturday | time::Weekday::Sunday
        );
        let today = Today {
            weekday,
            distanced: &self.distancing,
            out: &|p| !self.isolated(p, day) && self.quarantine_until[p as usize] <= day,
            ill: &|p| self.course[p as usize].is_some_and(|c| c.ill(day)),
            home: &|p| !self.isolated(p, day),
            infectious: &|p| {
                if self.isolated(p, day) { 0.0 } else { self.course[p as usize].map_or(0.0, |c| c.infectiousness(day)) }
            },
            susceptible: &|p| self.course[p as usize].is_none(),
        };
        let mut visits = world.visits(rng, &today);
        let passed = world.spread(rng, &mut visits, &today);
        for t in passed {
            self.infect(world, rng, t.infectee, Some(t.infector), day, t.setting);
        }
        self.visits = visits;
    }

    /// Who is sampled today: contacts on their test days, people with symptoms who seek a
    /// test, and a few of the healthy; each with whether the lab will find the virus.
    fn samples(&mut self, day: u32, rng: &mut ChaCha8Rng) -> Vec<Sample> {
        let due: std::collections::HashSet<u32> = self.test_on.remove(&day).unwrap_or_default().into_iter().collect();
        let mut samples = Vec::new();
        for p in 0..self.course.len() as u32 {
            let i = p as usize;
            if self.fates[i].confirmed.is_some() {
                continue;
            }
            let course = self.course[i];
            let ill = course.is_some_and(|c| c.ill(day));
            let rested = self.last_test[i].is_none_or(|t| day >= t + RETEST_AFTER);
            let tested = (due.contains(&p) && rng.gen_bool(TESTS_KEPT))
                || (ill && rested && rng.gen_bool(SEEKS_TEST))
                || rng.gen_bool(BACKGROUND_TESTS);
            if tested {
                self.last_test[i] = Some(day);
                let positive = course.is_some_and(|c| c.detectable(day)) && rng.gen_bool(PCR_SENSITIVITY);
                samples.push(Sample { person: p, positive });
            }
        }
        samples
    }

    /// A contact listed today: F1s quarantine (most of them), everyone is tested on the
    /// test days tracing gave them.
    fn listed(
        &mut self,
        rng: &mut ChaCha8Rng,
        p: u32,
        day: u32,
        generation: u8,
        quarantine_until: i64,
        test_days: &[i64],
    ) {
        let fate = &mut self.fates[p as usize];
        fate.listed.get_or_insert(day);
        if generation == 1 {
            fate.listed_f1.get_or_insert(day);
            if rng.gen_bool(QUARANTINE_KEPT) {
                let until = u32::try_from(quarantine_until.max(0)).unwrap_or(u32::MAX);
                let q = &mut self.quarantine_until[p as usize];
                *q = (*q).max(until);
            }
        }
        for &t in test_days {
            // A test day already past is taken tomorrow.
            let t = u32::try_from(t).unwrap_or(0).max(day + 1);
            self.test_on.entry(t).or_default().push(p);
        }
    }

    /// Whether nobody is still infected (or about to be infectious) from `day` on.
    fn over(&self, day: u32) -> bool {
        self.course.iter().flatten().all(|c| c.over(day))
    }
}
