//! The demo's testing: sessions in each commune, specimens individual and pooled, results
//! for the past days with the cases they confirm (one in the staff's commune), today's
//! specimens pending, and no SMS for the demo's history when a server starts.

// Tests may unwrap and panic, helpers outside `#[test]` functions included.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;

use outbreak_demo::{DemoOptions, generate};
use outbreak_services::sms::LogGateway;
use outbreak_services::{Config, Services};
use outbreak_store::CaseFilter;

#[tokio::test]
async fn days_of_sampling_with_pools_results_and_cases() {
    let dir = outbreak_testkit::scratch_dir("demo-testing");
    let store = outbreak_store::open(dir.join("store.sqlite").to_str().unwrap()).await.unwrap();
    let sms = dir.join("sms.log");
    let services = Services::new(store, Arc::new(LogGateway::new(sms.clone())), Config::new("http://localhost", &sms));
    let options = DemoOptions { seed: 11, people: 3_000, checkin_days: 0, ..DemoOptions::default() };
    let summary = generate(&services, &options, &|_| {}).await.unwrap();
    assert!(summary.specimens > 300, "{} specimens", summary.specimens);
    assert!(summary.cases > 0, "no case among {} specimens", summary.specimens);

    let cases = services
        .store
        .cases(&CaseFilter { scope: vec!["/VN/".into()], limit: 1000, ..CaseFilter::default() })
        .await
        .unwrap();
    assert_eq!(cases.len() as u64, summary.cases);
    // The staff accounts' commune (the first) has a case for its tracers to work on.
    let home = outbreak_demo::default_communes()[0].to_string();
    assert!(
        cases.iter().any(|c| c.case.unit_path.contains(&format!("/{home}/"))),
        "no case in {home}: {:?}",
        cases.iter().map(|c| &c.case.unit_path).collect::<Vec<_>>()
    );
    let country = services.store.testing_totals_all("/VN/").await.unwrap();
    assert_eq!(country.collected as u64, summary.specimens);
    assert!(country.negative > 0 && country.retest > 0, "{country:?}");
    assert!(country.pending() > 0, "today's specimens wait for their results");

    // The demo's results are history: a starting server does not text every one of them.
    assert_eq!(services.notify_pending().await.unwrap(), 0);
    assert!(!sms.exists() || std::fs::read_to_string(&sms).unwrap().is_empty());
}
