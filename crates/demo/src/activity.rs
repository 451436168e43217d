//! A fortnight of everyday life at scale, for the tracing benchmark: people in real
//! communes of Hà Nội and Thành phố Hồ Chí Minh, venues whose crowds follow a heavy tail (in
//! each commune a market and a bus line with thousands of visitors a day, most shops with
//! dozens), and each person's check-ins, day after day, in batches ready for a bulk load.
//!
//! The people come from the demo's own generator (households, names, identifiers); the
//! check-ins are made on demand by [`Town::checkins`], so a hundred million of them never
//! sit in memory at once. Everything follows from the seed.

use std::sync::Arc;

use outbreak_domain::unit::national_units;
use outbreak_domain::venue::{VENUE_CODE_ALPHABET, VenueId, VenueKind, Visitor};
use outbreak_domain::{PersonId, Phone, Unit, UnitLevel};
use outbreak_store::{NewCheckin, Store, Venue};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use time::{Duration, OffsetDateTime};

use crate::DemoError;
use crate::population::{CommunePlan, Generator};

/// People per commune: a ward of a big city.
const PEOPLE_PER_COMMUNE: u64 = 20_000;
/// People per venue: a commune of 20,000 has 250 venues.
const PEOPLE_PER_VENUE: u64 = 80;
/// The exponent of the venues' popularity (venue of rank r draws 1/(r+1)^s of the visits):
/// above one, the few biggest draw most visitors and the many small ones a few dozen.
const POPULARITY: f64 = 1.1;
/// The kinds of the most popular venues of a commune, in order; the rest are everyday ones.
const HUBS: [VenueKind; 5] =
    [VenueKind::Market, VenueKind::Bus, VenueKind::School, VenueKind::Hospital, VenueKind::PlaceOfWorship];
const EVERYDAY: [VenueKind; 8] = [
    VenueKind::Shop,
    VenueKind::Restaurant,
    VenueKind::Shop,
    VenueKind::Office,
    VenueKind::Shop,
    VenueKind::Restaurant,
    VenueKind::Factory,
    VenueKind::Other,
];
/// People whose day is made at once: their check-ins form one batch, in time order.
const PEOPLE_PER_BATCH: usize = 25_000;

/// What to make.
#[derive(Debug, Clone)]
pub struct ActivityOptions {
    pub seed: u64,
    pub people: u64,
    /// Days of check-ins, ending yesterday (Vietnam time).
    pub days: u32,
    /// Check-ins in all, about `checkins / people / days` per person and day.
    pub checkins: u64,
    pub now: OffsetDateTime,
}

/// A person of the town: who checks in, and where they live.
#[derive(Debug, Clone)]
pub struct Resident {
    pub id: PersonId,
    pub name: String,
    /// Index into [`Town::communes`].
    pub commune: usize,
}

/// The people and venues made by [`populate`], ready to make check-ins.
#[derive(Clone)]
pub struct Town {
    pub communes: Arc<Vec<Unit>>,
    pub people: Arc<Vec<Resident>>,
    /// Each commune's venues, the most popular first, with the running totals of their
    /// popularity for weighted picks.
    venues: Arc<Vec<(Vec<Venue>, Vec<f64>)>>,
    options: ActivityOptions,
}

/// The first communes of Hà Nội, then of Thành phố Hồ Chí Minh, then of the rest of the
/// country, as many as `people` need.
fn communes_for(people: u64) -> Vec<Unit> {
    let wanted = people.div_ceil(PEOPLE_PER_COMMUNE).max(1) as usize;
    let mut communes: Vec<Unit> = national_units().into_iter().filter(|u| u.level == UnitLevel::Commune).collect();
    let order = |u: &Unit| match &u.path {
        p if p.starts_with("/VN/01/") => 0,
        p if p.starts_with("/VN/79/") => 1,
        _ => 2,
    };
    communes.sort_by_key(order);
    communes.truncate(wanted);
    communes
}

/// Writes the units, people and venues of a town of `options.people`, calling `progress`
/// with the people written so far.
pub async fn populate(
    store: &dyn Store,
    options: &ActivityOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Town, DemoError> {
    store.seed_units(&national_units()).await?;
    let communes = communes_for(options.people);
    let count = communes.len() as u64;
    let plans: Vec<CommunePlan> = communes
        .iter()
        .enumerate()
        .map(|(i, unit)| {
            CommunePlan::new(unit.clone(), options.people / count + u64::from((i as u64) < options.people % count))
        })
        .collect();
    let commune_index: std::collections::HashMap<String, usize> =
        communes.iter().enumerate().map(|(i, u)| (u.code.to_string(), i)).collect();

    let mut venues = Vec::with_capacity(communes.len());
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed ^ 0x6163_7469_7669_7479);
    for plan in &plans {
        venues.push(commune_venues(store, &mut rng, &plan.unit, plan.people, options.now).await?);
    }

    let mut generator = Generator::new(options.seed, plans, options.now.date(), options.now);
    let mut people = Vec::with_capacity(options.people as usize);
    while let Some(chunk) = generator.next_chunk(crate::PEOPLE_PER_TRANSACTION)? {
        store.seed_units(&chunk.units).await?;
        store.insert_people(&chunk.people).await?;
        for person in &chunk.people {
            // Households and neighbourhoods are below the commune: its code is their prefix.
            let commune = person.address_unit.as_str().split('.').next().unwrap_or_default();
            let commune = commune_index.get(commune).copied().unwrap_or(0);
            people.push(Resident { id: person.id, name: person.full_name.clone(), commune });
        }
        progress(people.len() as u64);
    }
    Ok(Town {
        communes: Arc::new(communes),
        people: Arc::new(people),
        venues: Arc::new(venues),
        options: options.clone(),
    })
}

/// A commune's venues, the most popular first, with the running totals of their popularity.
async fn commune_venues(
    store: &dyn Store,
    rng: &mut ChaCha8Rng,
    commune: &Unit,
    people: u64,
    now: OffsetDateTime,
) -> Result<(Vec<Venue>, Vec<f64>), DemoError> {
    let count = (people / PEOPLE_PER_VENUE).max(HUBS.len() as u64 + 3) as usize;
    let (mut venues, mut cumulative, mut total) = (Vec::with_capacity(count), Vec::with_capacity(count), 0.0);
    for rank in 0..count {
        let kind = HUBS.get(rank).copied().unwrap_or(EVERYDAY[rank % EVERYDAY.len()]);
        let venue = Venue {
            id: VenueId(uuid::Uuid::from_u64_pair(rng.r#gen(), rng.r#gen())),
            code: (0..8).map(|_| VENUE_CODE_ALPHABET[rng.gen_range(0..VENUE_CODE_ALPHABET.len())] as char).collect(),
            name: crate::venues::name(kind, rank + 1, &commune.name),
            kind,
            plate: kind.is_vehicle().then(|| {
                format!("{}B-{:03}.{:02}", &commune.path[4..6], rng.gen_range(100..999), rng.gen_range(10..99))
            }),
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
            Ok(()) => {}
            // A code drawn twice: this venue is left out.
            Err(outbreak_store::StoreError::Conflict { field: "code", .. }) => continue,
            Err(e) => return Err(e.into()),
        }
        total += 1.0 / ((rank + 1) as f64).powf(POPULARITY);
        cumulative.push(total);
        venues.push(venue);
    }
    Ok((venues, cumulative))
}

impl Town {
    /// The check-ins of every person, the oldest day first, in batches of a few tens of
    /// thousands people's days each sorted by time (as they would have arrived); there are
    /// `options.checkins` in all.
    pub fn checkins(&self) -> Checkins {
        Checkins { town: self.clone(), day: 0, next_person: 0, left: self.options.checkins }
    }

    /// Check-ins per person and day.
    fn rate(&self) -> f64 {
        self.options.checkins as f64 / (self.people.len().max(1) as f64 * f64::from(self.options.days.max(1)))
    }
}

/// The batches of [`Town::checkins`].
pub struct Checkins {
    town: Town,
    day: u32,
    next_person: usize,
    left: u64,
}

impl Iterator for Checkins {
    type Item = Vec<NewCheckin>;

    fn next(&mut self) -> Option<Vec<NewCheckin>> {
        let town = &self.town;
        if self.left == 0 || town.people.is_empty() {
            return None;
        }
        if self.next_person >= town.people.len() {
            self.next_person = 0;
            self.day += 1;
        }
        let days = town.options.days.max(1);
        // Past the last day, the remainder is spread over the days again.
        let day_start =
            crate::venues::local_midnight(town.options.now) - Duration::days(i64::from(days - self.day % days));
        let stream = u64::from(self.day) << 32 | self.next_person as u64;
        let mut rng = ChaCha8Rng::seed_from_u64(town.options.seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let rate = town.rate();
        let end = (self.next_person + PEOPLE_PER_BATCH).min(town.people.len());
        let mut batch = Vec::with_capacity(((end - self.next_person) as f64 * rate * 1.2) as usize);
        for person in &town.people[self.next_person..end] {
            let (venues, cumulative) = &town.venues[person.commune];
            let Some(total) = cumulative.last() else { continue };
            let visits = rate.floor() as u32 + u32::from(rng.gen_bool(rate.fract()));
            for _ in 0..visits {
                let x = rng.gen_range(0.0..*total);
                let venue = &venues[cumulative.partition_point(|&c| c <= x).min(venues.len() - 1)];
                // Daytime in Vietnam: 06:00 to 21:00 local.
                let at = day_start + Duration::minutes(rng.gen_range(6 * 60..21 * 60));
                batch.push(NewCheckin {
                    venue: venue.id,
                    visitor: Visitor::Person(person.id).key(),
                    name: person.name.clone(),
                    at,
                    until: at + venue.kind.default_stay().min(Duration::minutes(rng.gen_range(10..240))),
                    source: if rng.gen_bool(0.8) { "poster" } else { "staff" }.into(),
                    client_key: None,
                });
            }
        }
        self.next_person = end;
        batch.sort_by_key(|c| c.at);
        batch.truncate(self.left.min(batch.len() as u64) as usize);
        self.left -= batch.len() as u64;
        Some(batch)
    }
}
