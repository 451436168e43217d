//! The demo's venues and check-ins: every kind of venue in each commune, a few days of
//! visits by the demo's people, the same for the same seed.

// Tests may unwrap and panic, helpers outside `#[test]` functions included.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;

use outbreak_demo::{DemoOptions, generate};
use outbreak_domain::venue::VenueKind;
use outbreak_services::sms::LogGateway;
use outbreak_services::{Config, Services};

async fn fresh() -> Services {
    let dir = outbreak_testkit::scratch_dir("demo-venues");
    let store = outbreak_store::open(dir.join("store.sqlite").to_str().unwrap()).await.unwrap();
    Services::new(
        store,
        Arc::new(LogGateway::new(dir.join("sms.log"))),
        Config::new("http://localhost", dir.join("sms.log")),
    )
}

#[tokio::test]
async fn venues_of_every_kind_and_days_of_visits() {
    let services = fresh().await;
    let options = DemoOptions { seed: 7, people: 600, checkin_days: 3, ..DemoOptions::default() };
    let summary = generate(&services, &options, &|_| {}).await.unwrap();
    assert!(summary.venues >= 12 * options.communes.len() as u64);
    let venues = services.store.venues(&["/VN/".into()], 10_000).await.unwrap();
    assert_eq!(venues.len() as u64, summary.venues);
    for commune in &options.communes {
        for kind in VenueKind::ALL {
            assert!(venues.iter().any(|v| &v.unit == commune && v.kind == kind), "{commune} has no {}", kind.as_str());
        }
    }
    assert!(venues.iter().filter(|v| v.kind.is_vehicle()).all(|v| v.plate.is_some()));
    let stored = services.store.count_checkins().await.unwrap();
    assert_eq!(stored, summary.checkins);
    // Most people go out on most days: at least one visit a person a day on average.
    assert!(stored >= options.people * 3, "{stored} check-ins");
    let again = fresh().await;
    let repeat = generate(&again, &options, &|_| {}).await.unwrap();
    assert_eq!((repeat.venues, repeat.checkins), (summary.venues, summary.checkins), "the same seed, the same demo");
}
