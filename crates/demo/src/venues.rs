//! Venues of every kind in the demo's communes, and a few days of their visitors.
//!
//! Each commune gets shops, restaurants and offices in proportion to its people, and a
//! market, a school, a health station, a place of worship, a bus line and the rest; each
//! person visits one to three venues of their commune on most days, in daytime, shops and
//! markets more often than offices. Everything follows from the seed.

use std::collections::HashMap;

use outbreak_domain::venue::{REPEAT_WINDOW, VENUE_CODE_ALPHABET, VenueId, VenueKind, Visitor};
use outbreak_domain::{Person, Phone, Unit};
use outbreak_store::{NewCheckin, Store, Venue};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use time::{Duration, OffsetDateTime};

use crate::DemoError;

/// People per venue of the everyday kinds (shops, restaurants, offices, factories).
const PEOPLE_PER_VENUE: u64 = 60;

/// How often each kind is chosen for a visit.
const VISIT_WEIGHTS: [(VenueKind, u32); 12] = [
    (VenueKind::Shop, 30),
    (VenueKind::Market, 20),
    (VenueKind::Restaurant, 18),
    (VenueKind::Office, 10),
    (VenueKind::Factory, 6),
    (VenueKind::School, 5),
    (VenueKind::Bus, 4),
    (VenueKind::Hospital, 2),
    (VenueKind::PlaceOfWorship, 2),
    (VenueKind::Vehicle, 1),
    (VenueKind::FruitWeighingPoint, 1),
    (VenueKind::Other, 1),
];

pub(crate) fn name(kind: VenueKind, n: usize, commune: &str) -> String {
    let place = commune.trim_start_matches("Phường ").trim_start_matches("Xã ").trim_start_matches("Đặc khu ");
    match kind {
        VenueKind::Office => format!("Văn phòng Công ty TNHH {place} {n}"),
        VenueKind::Factory => format!("Xưởng may {place} số {n}"),
        VenueKind::Shop => format!("Cửa hàng tạp hoá số {n}"),
        VenueKind::Market => format!("Chợ {place}"),
        VenueKind::Restaurant => format!("Quán ăn {place} {n}"),
        VenueKind::School => format!("Trường THCS {place}"),
        VenueKind::Hospital => format!("Trạm y tế {commune}"),
        VenueKind::Bus => format!("Xe buýt tuyến {:02}", 10 + n),
        VenueKind::Vehicle => format!("Xe khách {place} {n}"),
        VenueKind::FruitWeighingPoint => format!("Điểm cân thanh long {place} {n}"),
        VenueKind::PlaceOfWorship => format!("Chùa {place}"),
        VenueKind::Other => format!("Nhà văn hoá {place}"),
    }
}

fn code(rng: &mut ChaCha8Rng) -> String {
    (0..8).map(|_| VENUE_CODE_ALPHABET[rng.gen_range(0..VENUE_CODE_ALPHABET.len())] as char).collect()
}

/// How many venues of a kind a commune of `people` gets.
pub(crate) fn count(kind: VenueKind, people: u64) -> usize {
    let everyday = (people / PEOPLE_PER_VENUE).max(1) as usize;
    match kind {
        VenueKind::Shop | VenueKind::Restaurant => everyday,
        VenueKind::Office | VenueKind::Factory => everyday.div_ceil(3),
        VenueKind::Bus => everyday.div_ceil(20),
        _ => 1,
    }
}

/// The venues of each commune, keyed by commune code: one of every kind, and more of the
/// everyday kinds as the commune grows.
pub(crate) async fn create(
    store: &dyn Store,
    seed: u64,
    communes: &[(Unit, u64)],
    now: OffsetDateTime,
) -> Result<HashMap<String, Vec<Venue>>, DemoError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7665_6e75_6573);
    let mut by_commune = HashMap::new();
    for (commune, people) in communes {
        let mut venues = Vec::new();
        for kind in VenueKind::ALL {
            for n in 1..=count(kind, *people) {
                let plate = kind.is_vehicle().then(|| {
                    format!("{}B-{:03}.{:02}", &commune.path[4..6], rng.gen_range(100..999), rng.gen_range(10..99))
                });
                let venue = Venue {
                    id: VenueId(uuid::Uuid::from_u64_pair(rng.r#gen(), rng.r#gen())),
                    code: code(&mut rng),
                    name: name(kind, n, &commune.name),
                    kind,
                    plate,
                    unit: commune.code.clone(),
                    unit_path: commune.path.clone(),
                    address: format!("Số {} {}", rng.gen_range(1..300), commune.name),
                    contact_phone: Phone::parse("phone", &format!("09{:08}", rng.gen_range(0..100_000_000)))
                        .map_err(|e| DemoError::Options(e.to_string()))?,
                    owner_phone: None,
                    active: true,
                    created_at: now - Duration::days(30),
                };
                match store.insert_venue(&venue).await {
                    // A resumed run finds its venues already there.
                    Ok(()) | Err(outbreak_store::StoreError::Conflict { field: "id", .. }) => {}
                    // A code drawn twice: this venue is left out, the demo goes on.
                    Err(outbreak_store::StoreError::Conflict { field: "code", .. }) => continue,
                    Err(e) => return Err(e.into()),
                }
                venues.push(venue);
            }
        }
        by_commune.insert(commune.code.to_string(), venues);
    }
    Ok(by_commune)
}

/// The visits of these people over the last `days` days, at venues of their commune.
pub(crate) fn visits(
    people: &[Person],
    venues: &HashMap<String, Vec<Venue>>,
    seed: u64,
    days: u32,
    now: OffsetDateTime,
) -> Vec<NewCheckin> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ people.first().map_or(0, |p| p.id.0.as_u64_pair().1));
    let total: u32 = VISIT_WEIGHTS.iter().map(|(_, w)| w).sum();
    let midnight = crate::venues::local_midnight(now);
    // Each commune's venues by kind, once per chunk rather than once per visit.
    let by_kind: HashMap<&str, HashMap<VenueKind, Vec<&Venue>>> = venues
        .iter()
        .map(|(commune, list)| {
            let mut kinds: HashMap<VenueKind, Vec<&Venue>> = HashMap::new();
            for venue in list {
                kinds.entry(venue.kind).or_default().push(venue);
            }
            (commune.as_str(), kinds)
        })
        .collect();
    let mut visits = Vec::with_capacity(people.len() * days as usize * 2);
    for person in people {
        let commune = person.address_unit.as_str().split('.').next().unwrap_or_default();
        let (Some(here), Some(kinds)) = (venues.get(commune).filter(|v| !v.is_empty()), by_kind.get(commune)) else {
            continue;
        };
        for day in 1..=days {
            // Most people go out on most days; a few stay home.
            if rng.gen_bool(0.15) {
                continue;
            }
            let start = midnight - Duration::days(i64::from(day));
            for _ in 0..rng.gen_range(1..=3) {
                let mut pick = rng.gen_range(0..total);
                let kind = VISIT_WEIGHTS
                    .iter()
                    .find(|(_, w)| {
                        if pick < *w {
                            true
                        } else {
                            pick -= w;
                            false
                        }
                    })
                    .map_or(VenueKind::Shop, |(k, _)| *k);
                let venue = match kinds.get(&kind) {
                    Some(choices) if !choices.is_empty() => choices[rng.gen_range(0..choices.len())],
                    _ => &here[rng.gen_range(0..here.len())],
                };
                // Daytime in Vietnam: 06:00 to 21:00 local.
                let at = start + Duration::minutes(rng.gen_range(6 * 60..21 * 60));
                visits.push(NewCheckin {
                    venue: venue.id,
                    visitor: Visitor::Person(person.id).key(),
                    name: person.full_name.clone(),
                    at,
                    until: at + venue.kind.default_stay().min(Duration::minutes(rng.gen_range(15..240))),
                    source: if rng.gen_bool(0.8) { "poster" } else { "staff" }.into(),
                    client_key: None,
                });
            }
        }
    }
    visits
}

/// Writes visits in one transaction; returns how many were new visits.
pub(crate) async fn record(store: &dyn Store, visits: Vec<NewCheckin>) -> Result<u64, DemoError> {
    let outcomes = store.record_checkins(visits, REPEAT_WINDOW, Vec::new()).await?;
    Ok(outcomes.iter().filter(|o| matches!(o, outbreak_store::CheckinOutcome::Stored(_))).count() as u64)
}

/// The start of a day in Vietnam (UTC+7), as an instant.
pub(crate) fn local_midnight(at: OffsetDateTime) -> OffsetDateTime {
    let local = at.to_offset(time::macros::offset!(+7));
    local.replace_time(time::Time::MIDNIGHT).to_offset(time::UtcOffset::UTC)
}
