//! The outbreak simulator on a small population: the same seed gives the same epidemic,
//! the figures are sane, and the cases and contacts it reports are really in the store.

// Tests may unwrap and panic, helpers outside `#[test]` functions included.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::HashSet;
use std::sync::Arc;

use outbreak_demo::simulate::{SimOptions, SimReport, simulate};
use outbreak_services::sms::LogGateway;
use outbreak_services::{Config, Services};
use outbreak_store::CaseFilter;

async fn services(name: &str, days: u32) -> Services {
    let dir = outbreak_testkit::scratch_dir(&format!("simulate-{name}"));
    let store = outbreak_store::open(dir.join("store.sqlite").to_str().unwrap()).await.unwrap();
    let sms = dir.join("sms.log");
    let config =
        Config { retention: time::Duration::days(i64::from(days) + 1), ..Config::new("http://localhost", &sms) };
    Services::new(store, Arc::new(LogGateway::new(sms.clone())), config)
}

fn options() -> SimOptions {
    SimOptions { seed: 7, people: 2_000, days: 12, initial_cases: 15, ..SimOptions::default() }
}

async fn run(name: &str) -> (Services, SimReport) {
    let services = services(name, options().days).await;
    let report = simulate(&services, &options(), &|_| {}).await.unwrap();
    (services, report)
}

#[tokio::test]
async fn a_small_outbreak_is_recorded_traced_and_repeatable() {
    let (services, report) = run("a").await;
    let infections = report.infections.len() as u64;
    assert!(infections > u64::from(options().initial_cases), "the outbreak never spread: {report:?}");
    assert!(report.cases > 0 && report.cases <= infections, "{report:?}");
    assert!(report.checkins > 2_000, "{report:?}");
    assert!(report.f1_listed > 0, "{report:?}");

    // Shares are shares, and the ground truth hangs together.
    for share in [report.sensitivity, report.sensitivity_f1, report.false_alarms] {
        assert!(share.hits <= share.of, "{share:?}");
    }
    assert!(report.sensitivity_f1.hits <= report.sensitivity.hits);
    let infected: HashSet<_> = report.infections.iter().map(|i| i.person).collect();
    assert_eq!(infected.len(), report.infections.len(), "nobody is infected twice");
    for i in &report.infections {
        assert!(i.by.is_none_or(|by| infected.contains(&by)), "infectors are infected");
    }
    let notification = report.notification.unwrap();
    assert!(notification.median <= notification.p90);

    // The cases and their contacts are in the store.
    let cases = services
        .store
        .cases(&CaseFilter { scope: vec!["/VN/".into()], limit: 100_000, ..CaseFilter::default() })
        .await
        .unwrap();
    assert_eq!(cases.len() as u64, report.cases);
    let mut f1 = 0;
    for case in &cases {
        assert!(infected.contains(&case.case.person), "a case the lab confirmed was never infected");
        f1 += services
            .store
            .case_contacts(case.case.id, 1_000_000)
            .await
            .unwrap()
            .iter()
            .filter(|c| c.generation == 1)
            .count();
    }
    assert_eq!(f1 as u64, report.f1_listed);
    assert_eq!(services.store.count_checkins().await.unwrap(), report.checkins);

    // The same seed gives the same epidemic, on another store.
    let (_, again) = run("b").await;
    assert_eq!(again.infections, report.infections);
    assert_eq!((again.cases, again.f1_listed, again.f2_listed), (report.cases, report.f1_listed, report.f2_listed));
    assert_eq!(again.sensitivity, report.sensitivity);
}

/// The full-size outbreak (100,000 people, to its end or 120 days), with its figures printed:
/// minutes of work, so run on request with `--ignored --nocapture`. `outbreak simulate`
/// runs the same with a progress bar.
#[tokio::test]
#[ignore = "minutes long: run with --ignored --nocapture"]
async fn a_hundred_thousand_people_to_the_end() {
    let options = SimOptions::default();
    let services = services("full", options.days).await;
    let started = std::time::Instant::now();
    let report = simulate(&services, &options, &|p| {
        if p.stage == "days" {
            eprintln!(
                "day {}/{}: {} infections, {} cases, {:.0} s",
                p.done,
                p.total,
                p.infections,
                p.cases,
                started.elapsed().as_secs_f64()
            );
        }
    })
    .await
    .unwrap();
    eprintln!("{options:?}");
    eprintln!(
        "days {} (died out: {}), infections {}, cases {}, check-ins {}, specimens {}, F1 rows {}, F2 rows {}, people listed {}",
        report.days,
        report.died_out,
        report.infections.len(),
        report.cases,
        report.checkins,
        report.specimens,
        report.f1_listed,
        report.f2_listed,
        report.people_listed
    );
    eprintln!(
        "sensitivity {}, F1 alone {}, false alarms {}",
        report.sensitivity, report.sensitivity_f1, report.false_alarms
    );
    eprintln!("confirmation to SMS (wall clock) {:?}", report.notification);
    eprintln!(
        "check-ins {:?}, tests and results {:?}, tracing and SMS {:?}, run {:?}",
        report.checkin_time,
        report.testing_time,
        report.tracing_time,
        started.elapsed()
    );
    assert!(report.cases > 0);
}
