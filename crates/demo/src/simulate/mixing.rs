//! Who meets whom: the population's daily life and the infections it carries.
//!
//! Each person lives in a household, may work at an office or factory of their commune, and
//! runs errands — shops and restaurants they favour, the market, a bus, a pagoda. A day is a
//! list of visits with arrival and departure times. Infection passes at a venue between
//! visits that overlap, with a chance that grows with the overlap and with how close people
//! get at that kind of venue (a bus packs people, a market spreads them); within a
//! household; and now and then in the street, where no check-in sees it. Schools are closed,
//! as they were in Vietnam's 2021 lockdowns. A commune under social distancing stays in but
//! for essential errands and the factories that keep running.

use std::collections::HashMap;

use outbreak_domain::venue::{VenueId, VenueKind};
use outbreak_domain::{Person, PersonId};
use outbreak_store::Venue;
use rand::Rng;

use super::model::transmission;
use crate::pick::{Weighted, chance};

/// Share of adults of working age with a job at an office or factory of their commune.
const EMPLOYED: f64 = 0.6;
/// Share of the employed who go to work on a weekday.
const AT_WORK: f64 = 0.9;
/// Errands a day, in shares of a hundred: none, one, two.
const ERRANDS: &[(u32, u32); 3] = &[(0, 30), (1, 45), (2, 25)];
/// Where errands go, by weight.
const ERRAND_KINDS: &[(VenueKind, u32); 9] = &[
    (VenueKind::Shop, 35),
    (VenueKind::Restaurant, 25),
    (VenueKind::Market, 12),
    (VenueKind::Bus, 12),
    (VenueKind::PlaceOfWorship, 4),
    (VenueKind::Other, 3),
    (VenueKind::Hospital, 3),
    (VenueKind::FruitWeighingPoint, 3),
    (VenueKind::Vehicle, 3),
];
/// Favourite shops and restaurants, each: people go back to the same few.
const FAVOURITES: usize = 2;
/// Errands to a shop or restaurant that go to a favourite.
const LOYAL: f64 = 0.75;
/// Per day of infectiousness, the chance of infecting each member of one's household. Over
/// an infection it reaches about a quarter of them (see `reproduction`), Delta's household
/// secondary attack rate: 22 % in Singapore (26 % of the unvaccinated; Ng et al., Lancet
/// Regional Health – Western Pacific, 2021), 27 % in a Chinese cohort (PMC10959284).
const HOUSEHOLD_RATE: f64 = 0.05;
/// Per day of infectiousness out of doors, the chance of infecting someone met in the
/// street, at the tea stall, in the alley: contact that no check-in records. It makes about
/// a fifth of R0 (1.2 of 5.5), for the clusters "of unknown source" that WHO's Viet Nam
/// situation reports of June to August 2021 kept finding beside the traced chains.
const STREET_RATE: f64 = 0.21;
/// A symptomatic person still out and about, on a day after onset, this often.
const OUT_WHEN_ILL: f64 = 0.4;
/// Social distancing as Directive 16 ordered it in 2021: stay at home, go out only for
/// food and medicine, keep only essential production going. Workers of a factory that
/// keeps running with its staff living on site ("3 tại chỗ") go in this often; offices
/// close.
const DISTANCED_AT_WORK: f64 = 0.3;
/// The errands that go on under distancing, for food and medicine (and the fruit harvest);
/// restaurants, buses, pagodas and the rest close.
const ESSENTIAL: [VenueKind; 4] =
    [VenueKind::Shop, VenueKind::Market, VenueKind::Hospital, VenueKind::FruitWeighingPoint];
/// The share of those errands still run: a trip to the market every few days, as the
/// market vouchers of Ho Chi Minh City's lockdown allowed.
const DISTANCED_ERRANDS: f64 = 0.3;
/// Street contact under distancing, relative to a normal day: no gathering of more than
/// two in public, alleys fenced off.
const DISTANCED_STREET: f64 = 0.1;

/// How close visitors get at a kind of venue: the number of people one is in close contact
/// with there, and the rate of passing the virus per hour of close contact.
///
/// Delta's rates: with them a case infects about 1.5 people at work and 2.1 on errands over
/// an infection (see `reproduction`), most at restaurants, on buses and at the market — in
/// Guangzhou's Delta outbreak of May 2021 meals caused some 29 % of the infections. An
/// errand's hourly rate is high because it overlaps only the few people there at the same
/// time; at work one spends the whole shift near the same people, close to each now and
/// then, so the hourly rate is low and a shift's chance (a fifth for each of the nearest) is
/// not.
fn closeness(kind: VenueKind) -> (f64, f64) {
    match kind {
        VenueKind::Office => (8.0, 0.025),
        VenueKind::Factory => (10.0, 0.025),
        // Nobody goes: schools are closed.
        VenueKind::School => (20.0, 0.03),
        VenueKind::Shop => (2.0, 0.35),
        VenueKind::Restaurant => (4.0, 0.65),
        VenueKind::Market => (10.0, 0.25),
        VenueKind::Bus => (8.0, 0.45),
        VenueKind::Vehicle => (8.0, 0.35),
        VenueKind::Hospital => (4.0, 0.35),
        VenueKind::FruitWeighingPoint | VenueKind::PlaceOfWorship | VenueKind::Other => (8.0, 0.25),
    }
}

/// How long a visit of each kind lasts, in minutes.
fn stay_minutes(kind: VenueKind, rng: &mut impl Rng) -> u32 {
    match kind {
        VenueKind::Shop => rng.gen_range(10..=40),
        VenueKind::Restaurant | VenueKind::PlaceOfWorship | VenueKind::Hospital => rng.gen_range(30..=90),
        VenueKind::Market | VenueKind::FruitWeighingPoint => rng.gen_range(20..=60),
        VenueKind::Bus => rng.gen_range(15..=60),
        VenueKind::Vehicle => rng.gen_range(60..=180),
        VenueKind::Office | VenueKind::Factory | VenueKind::School | VenueKind::Other => rng.gen_range(30..=120),
    }
}

/// A person as the simulation sees them.
#[derive(Debug, Clone)]
pub(crate) struct Resident {
    pub id: PersonId,
    pub name: String,
    pub commune: u32,
    pub workplace: Option<u32>,
    favourites: [u32; 2 * FAVOURITES],
    /// Scans the poster at this share of visits: most people nearly always, some rarely.
    pub scans: f64,
}

/// A venue as the simulation sees it.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    pub id: VenueId,
    pub kind: VenueKind,
}

/// One visit: a person at a venue, in minutes after local midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Visit {
    pub venue: u32,
    pub at: u32,
    pub until: u32,
    pub person: u32,
}

/// Where an infection happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// One of the outbreak's first cases, infected outside the population.
    Seed,
    Household,
    /// At work: the office or factory (its id).
    Work(VenueId),
    /// On an errand: a shop, a restaurant, the market, a bus… (the venue's id).
    Venue(VenueId),
    /// In the street, at the roadside tea stall: nothing records it.
    Street,
}

/// Infections counted by where they happened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BySetting {
    pub seed: u64,
    pub household: u64,
    pub work: u64,
    pub errands: u64,
    pub street: u64,
}

impl BySetting {
    pub fn total(&self) -> u64 {
        self.seed + self.household + self.work + self.errands + self.street
    }

    pub(crate) fn add(&mut self, setting: Setting) {
        match setting {
            Setting::Seed => self.seed += 1,
            Setting::Household => self.household += 1,
            Setting::Work(_) => self.work += 1,
            Setting::Venue(_) => self.errands += 1,
            Setting::Street => self.street += 1,
        }
    }
}

impl FromIterator<Setting> for BySetting {
    fn from_iter<I: IntoIterator<Item = Setting>>(settings: I) -> BySetting {
        let mut counts = BySetting::default();
        for setting in settings {
            counts.add(setting);
        }
        counts
    }
}

/// An infection passed on today, before it is applied.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Transmission {
    pub infectee: u32,
    pub infector: u32,
    pub setting: Setting,
}

/// How things stand today, person by person and commune by commune, as daily life and the
/// spread of the virus see them.
pub(crate) struct Today<'a> {
    /// Monday to Friday: the employed go to work.
    pub weekday: bool,
    /// Per commune: under social distancing.
    pub distanced: &'a [bool],
    /// Whether p may leave home (neither isolated nor in quarantine).
    pub out: &'a dyn Fn(u32) -> bool,
    /// Whether p has symptoms (and so often stays in).
    pub ill: &'a dyn Fn(u32) -> bool,
    /// Whether p is at home (not isolated in a facility).
    pub home: &'a dyn Fn(u32) -> bool,
    /// How infectious p is: 0 when not.
    pub infectious: &'a dyn Fn(u32) -> f64,
    /// Whether p can still be infected.
    pub susceptible: &'a dyn Fn(u32) -> bool,
}

/// The population, its venues and who belongs where.
pub(crate) struct World {
    pub residents: Vec<Resident>,
    pub places: Vec<Place>,
    pub households: Vec<Vec<u32>>,
    /// Per commune: its residents, and its venues by kind.
    commune_people: Vec<Vec<u32>>,
    commune_places: Vec<HashMap<VenueKind, Vec<u32>>>,
    pub index: HashMap<PersonId, u32>,
}

impl World {
    /// Builds the world from the generated people and each commune's venues (in the order
    /// of `communes`); jobs, favourites and scanning habits follow from `rng`.
    pub(crate) fn new(
        rng: &mut impl Rng,
        people: &[Person],
        communes: &[String],
        venues: &HashMap<String, Vec<Venue>>,
        today: time::Date,
    ) -> World {
        let mut places = Vec::new();
        let mut commune_places = Vec::new();
        for commune in communes {
            let mut kinds: HashMap<VenueKind, Vec<u32>> = HashMap::new();
            for venue in venues.get(commune).map(Vec::as_slice).unwrap_or_default() {
                kinds.entry(venue.kind).or_default().push(places.len() as u32);
                places.push(Place { id: venue.id, kind: venue.kind });
            }
            commune_places.push(kinds);
        }
        let mut household_of: HashMap<String, u32> = HashMap::new();
        let mut households: Vec<Vec<u32>> = Vec::new();
        let mut commune_people = vec![Vec::new(); communes.len()];
        let mut residents = Vec::with_capacity(people.len());
        let mut index = HashMap::with_capacity(people.len());
        for person in people {
            let i = residents.len() as u32;
            let unit = person.household.as_ref().unwrap_or(&person.address_unit).to_string();
            let commune_code = unit.split('.').next().unwrap_or_default();
            let commune = communes.iter().position(|c| c == commune_code).unwrap_or(0);
            let next = households.len() as u32;
            let household = *household_of.entry(unit).or_insert(next);
            if household == next {
                households.push(Vec::new());
            }
            households[household as usize].push(i);
            commune_people[commune].push(i);
            let kinds = &commune_places[commune];
            let any = |rng: &mut dyn rand::RngCore, kind: VenueKind| {
                kinds.get(&kind).filter(|v| !v.is_empty()).map(|v| v[rng.gen_range(0..v.len())])
            };
            let age = today.year() - person.date_of_birth.year();
            let workplace = if (18..=60).contains(&age) && chance(rng, EMPLOYED) {
                let kind = if chance(rng, 0.5) { VenueKind::Office } else { VenueKind::Factory };
                any(rng, kind)
            } else {
                None
            };
            let mut favourites = [0; 2 * FAVOURITES];
            for (n, slot) in favourites.iter_mut().enumerate() {
                let kind = if n < FAVOURITES { VenueKind::Shop } else { VenueKind::Restaurant };
                *slot = any(rng, kind).unwrap_or(0);
            }
            let scans = if chance(rng, 0.85) { 0.95 } else { 0.3 };
            residents.push(Resident {
                id: person.id,
                name: person.full_name.clone(),
                commune: commune as u32,
                workplace,
                favourites,
                scans,
            });
            index.insert(person.id, i);
        }
        World { residents, places, households, commune_people, commune_places, index }
    }

    pub(crate) fn communes(&self) -> usize {
        self.commune_people.len()
    }

    pub(crate) fn people_in(&self, commune: usize) -> usize {
        self.commune_people[commune].len()
    }

    /// The day's visits of everyone who goes out, in person order.
    pub(crate) fn visits(&self, rng: &mut impl Rng, today: &Today) -> Vec<Visit> {
        let errands = Weighted::new(ERRANDS);
        let kinds = Weighted::new(ERRAND_KINDS);
        let mut visits = Vec::with_capacity(self.residents.len() * 2);
        for (i, resident) in self.residents.iter().enumerate() {
            let person = i as u32;
            if !(today.out)(person) || ((today.ill)(person) && !chance(rng, OUT_WHEN_ILL)) {
                continue;
            }
            let distanced = today.distanced[resident.commune as usize];
            let at_work = resident.workplace.filter(|&work| {
                today.weekday
                    && chance(rng, AT_WORK)
                    && (!distanced
                        || (self.places[work as usize].kind == VenueKind::Factory && chance(rng, DISTANCED_AT_WORK)))
            });
            if let Some(work) = at_work {
                // 07:30 to 08:30, for eight to nine hours.
                let at = rng.gen_range(450..=510);
                visits.push(Visit { venue: work, at, until: at + rng.gen_range(480..=540), person });
            }
            for _ in 0..errands.pick(rng) {
                let kind = kinds.pick(rng);
                if distanced && !(ESSENTIAL.contains(&kind) && chance(rng, DISTANCED_ERRANDS)) {
                    continue;
                }
                let venue = match kind {
                    VenueKind::Shop | VenueKind::Restaurant if chance(rng, LOYAL) => {
                        let base = if kind == VenueKind::Shop { 0 } else { FAVOURITES };
                        Some(resident.favourites[base + rng.gen_range(0..FAVOURITES)])
                    }
                    _ => self.commune_places[resident.commune as usize]
                        .get(&kind)
                        .filter(|v| !v.is_empty())
                        .map(|v| v[rng.gen_range(0..v.len())]),
                };
                let Some(venue) = venue else { continue };
                let stay = stay_minutes(kind, rng);
                // Out between 06:00 and 21:00.
                let at = rng.gen_range(360..=(1260 - stay));
                visits.push(Visit { venue, at, until: at + stay, person });
            }
        }
        visits
    }

    /// The infections the day's visits, households and streets pass on.
    pub(crate) fn spread(&self, rng: &mut impl Rng, visits: &mut [Visit], today: &Today) -> Vec<Transmission> {
        let Today { infectious, susceptible, home, out, .. } = *today;
        let mut found: Vec<Transmission> = Vec::new();
        let mut taken = std::collections::HashSet::new();
        let mut pass = |found: &mut Vec<Transmission>, infectee: u32, infector: u32, setting| {
            if susceptible(infectee) && taken.insert(infectee) {
                found.push(Transmission { infectee, infector, setting });
            }
        };
        visits.sort_unstable();
        for at_venue in visits.chunk_by(|a, b| a.venue == b.venue) {
            let place = &self.places[at_venue[0].venue as usize];
            let (contacts, rate) = closeness(place.kind);
            let setting = match place.kind {
                VenueKind::Office | VenueKind::Factory => Setting::Work(place.id),
                _ => Setting::Venue(place.id),
            };
            for source in at_venue {
                let strength = infectious(source.person);
                if strength == 0.0 {
                    continue;
                }
                let met: Vec<&Visit> = at_venue
                    .iter()
                    .filter(|v| v.person != source.person && v.at < source.until && source.at < v.until)
                    .collect();
                // With many people present, one is close to only a few of them.
                let close = (contacts / met.len().max(1) as f64).min(1.0);
                for other in met {
                    let hours = f64::from(other.until.min(source.until) - other.at.max(source.at)) / 60.0;
                    if chance(rng, close * transmission(rate, hours, strength)) {
                        pass(&mut found, other.person, source.person, setting);
                    }
                }
            }
        }
        for members in &self.households {
            for &source in members {
                let strength = infectious(source);
                if strength == 0.0 || !home(source) {
                    continue;
                }
                for &other in members.iter().filter(|&&m| m != source) {
                    if chance(rng, transmission(HOUSEHOLD_RATE, 1.0, strength)) {
                        pass(&mut found, other, source, Setting::Household);
                    }
                }
            }
        }
        for (i, resident) in self.residents.iter().enumerate() {
            let source = i as u32;
            let strength = infectious(source);
            if strength == 0.0 || !out(source) {
                continue;
            }
            let neighbours = &self.commune_people[resident.commune as usize];
            let rate =
                if today.distanced[resident.commune as usize] { STREET_RATE * DISTANCED_STREET } else { STREET_RATE };
            if !neighbours.is_empty() && chance(rng, transmission(rate, 1.0, strength)) {
                // Someone kept in (quarantined, isolated) is not met in the street.
                let other = neighbours[rng.gen_range(0..neighbours.len())];
                if other != source && out(other) {
                    pass(&mut found, other, source, Setting::Street);
                }
            }
        }
        found
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// 3,000 people in one commune with the venues the demo gives a commune of that size.
    pub(crate) fn world() -> World {
        let units = outbreak_domain::unit::national_units();
        let commune = units.iter().find(|u| u.code.as_str() == "00070").unwrap().clone();
        let today = time::macros::date!(2026 - 05 - 01);
        let plan = crate::population::CommunePlan::new(commune.clone(), 3_000);
        let mut generator =
            crate::population::Generator::new(1, vec![plan], today, time::macros::datetime!(2026-05-01 0:00 UTC));
        let mut people = Vec::new();
        while let Some(chunk) = generator.next_chunk(1_000).unwrap() {
            people.extend(chunk.people);
        }
        let venues: Vec<Venue> = VenueKind::ALL
            .into_iter()
            .flat_map(|kind| std::iter::repeat_n(kind, crate::venues::count(kind, 3_000)))
            .enumerate()
            .map(|(n, kind)| Venue {
                id: VenueId(uuid::Uuid::from_u64_pair(0, n as u64)),
                code: format!("V{n:07}"),
                name: format!("{kind:?} {n}"),
                kind,
                plate: None,
                unit: commune.code.clone(),
                unit_path: commune.path.clone(),
                address: String::new(),
                contact_phone: outbreak_domain::Phone::parse("phone", "0912345678").unwrap(),
                owner_phone: None,
                active: true,
                created_at: time::macros::datetime!(2026-04-01 0:00 UTC),
            })
            .collect();
        let code = commune.code.to_string();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        World::new(&mut rng, &people, std::slice::from_ref(&code), &HashMap::from([(code.clone(), venues)]), today)
    }

    /// A weekday with nobody kept in, ill, infectious or distanced.
    fn ordinary(distanced: &[bool]) -> Today<'_> {
        Today {
            weekday: true,
            distanced,
            out: &|_| true,
            ill: &|_| false,
            home: &|_| true,
            infectious: &|_| 0.0,
            susceptible: &|_| true,
        }
    }

    #[test]
    fn days_are_spent_in_daytime_at_the_communes_venues() {
        let world = world();
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let visits = world.visits(&mut rng, &ordinary(&[false]));
        assert!(visits.len() > world.residents.len(), "{} visits", visits.len());
        for v in &visits {
            assert!(v.at >= 360 && v.until > v.at && v.until <= 21 * 60 + 180, "{v:?}");
            assert!((v.venue as usize) < world.places.len());
        }
        // Nobody kept in goes out.
        let none = world.visits(&mut rng, &Today { out: &|_| false, ..ordinary(&[false]) });
        assert!(none.is_empty());
    }

    #[test]
    fn distancing_keeps_most_people_in_and_closes_all_but_essentials() {
        let world = world();
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let normal = world.visits(&mut rng, &ordinary(&[false]));
        let distanced = world.visits(&mut rng, &ordinary(&[true]));
        assert!(distanced.len() * 4 < normal.len(), "{} of {} visits", distanced.len(), normal.len());
        for v in &distanced {
            let kind = world.places[v.venue as usize].kind;
            assert!(kind == VenueKind::Factory || ESSENTIAL.contains(&kind), "{kind:?}");
        }
    }

    #[test]
    fn only_the_infectious_infect_and_only_the_susceptible_are_infected() {
        let world = world();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut visits = world.visits(&mut rng, &ordinary(&[false]));
        let sources: std::collections::HashSet<u32> = (0..world.residents.len() as u32).step_by(10).collect();
        let infectious = |p: u32| if sources.contains(&p) { 1.0 } else { 0.0 };
        let susceptible = |p: u32| !sources.contains(&p) && p % 2 == 1;
        let today = Today { infectious: &infectious, susceptible: &susceptible, ..ordinary(&[false]) };
        let passed = world.spread(&mut rng, &mut visits, &today);
        assert!(!passed.is_empty());
        let mut seen = std::collections::HashSet::new();
        for t in &passed {
            assert!(sources.contains(&t.infector) && susceptible(t.infectee) && seen.insert(t.infectee));
            if t.setting == Setting::Household {
                let home = world.households.iter().find(|h| h.contains(&t.infector)).unwrap();
                assert!(home.contains(&t.infectee));
            }
        }
        let none = world.spread(&mut rng, &mut visits, &Today { susceptible: &susceptible, ..ordinary(&[false]) });
        assert!(none.is_empty());
    }
}
