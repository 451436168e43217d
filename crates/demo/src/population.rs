//! The synthetic population: neighbourhoods, households and the people in them, made in
//! chunks that the store can take one transaction at a time.
//!
//! Generation is pure and sequential: one seeded random stream for everything about people
//! and a second one for their ids, so a seed always gives the same people with the same ids,
//! whatever the store. Households are built as families (a couple, their children, perhaps a
//! grandparent) so that names, ages and phones hang together: children carry their father's
//! family name and, under fifteen, a parent's phone.

use outbreak_domain::{NewPerson, Person, PersonId, Sex, Unit};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use time::{Date, Duration, OffsetDateTime};

use crate::SampleCitizen;
use crate::error::DemoError;
use crate::identifiers::{MOBILE_PREFIXES, Numbers};
use crate::names::Names;
use crate::pick::{Weighted, chance, low_skewed};
use crate::places::{HoodStyle, OLD_PROVINCES, Street, hood_style, old_province, southern};

/// Household sizes (1 to 6) in shares of a thousand, after the 2019 census (3.5 on average).
const HOUSEHOLD_SIZES: &[(u32, u32); 6] = &[(1, 110), (2, 200), (3, 220), (4, 250), (5, 130), (6, 90)];

/// Households per neighbourhood: a tổ dân phố or thôn holds one to three hundred.
const HOUSEHOLDS_PER_HOOD: std::ops::RangeInclusive<u32> = 120..=320;

/// Sample citizens kept for the summary: parents whose phone carries children, then others.
const SAMPLES_WITH_CHILDREN: usize = 3;
const SAMPLES: usize = 5;

/// One commune to fill and how.
#[derive(Debug, Clone)]
pub(crate) struct CommunePlan {
    pub unit: Unit,
    /// The old province: most people here were born in it.
    pub home_province: u16,
    pub southern: bool,
    pub style: HoodStyle,
    /// People to place here.
    pub people: u64,
}

impl CommunePlan {
    pub(crate) fn new(unit: Unit, people: u64) -> CommunePlan {
        let home_province = old_province(unit.code.as_str()).unwrap_or(1);
        let southern = southern(home_province);
        let style = hood_style(&unit, southern);
        CommunePlan { unit, home_province, southern, style, people }
    }
}

/// What one store transaction takes: new units (parents first), then people living in them.
#[derive(Debug, Default)]
pub(crate) struct Chunk {
    pub units: Vec<Unit>,
    pub people: Vec<Person>,
    pub households: u64,
    pub neighbourhoods: u64,
}

/// The neighbourhood being filled.
struct Hood {
    unit: Unit,
    capacity: u32,
    households: u32,
    street: Street,
}

/// Where a household lives.
struct Home<'a> {
    plan: &'a CommunePlan,
    hood: &'a Unit,
    household: &'a Unit,
    street: &'a str,
}

/// A member of a household being put together, before names and numbers.
#[derive(Debug, Clone, Copy)]
struct Member {
    sex: Sex,
    age: i32,
    family: &'static str,
    /// A parent of the household's children: their phone is the one children carry.
    parent: bool,
}

pub(crate) struct Generator {
    rng: ChaCha8Rng,
    /// Person ids come from their own stream, so they stay put when the way people are
    /// made changes.
    ids: ChaCha8Rng,
    /// The millisecond stamped into the next id (see [`Generator::next_id`]).
    id_millis: u64,
    numbers: Numbers,
    names: Names,
    prefixes: Weighted<u16>,
    sizes: Weighted<u32>,
    today: Date,
    now: OffsetDateTime,
    communes: Vec<CommunePlan>,
    /// The commune being filled, and how many people it has so far.
    commune: usize,
    placed: u64,
    hood: Option<Hood>,
    hoods_in_commune: u32,
    pub samples: Vec<SampleCitizen>,
}

impl Generator {
    pub(crate) fn new(seed: u64, communes: Vec<CommunePlan>, today: Date, now: OffsetDateTime) -> Generator {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut ids = ChaCha8Rng::seed_from_u64(seed);
        ids.set_stream(1);
        let numbers = Numbers::new(&mut rng);
        Generator {
            rng,
            ids,
            id_millis: u64::try_from(today.midnight().assume_utc().unix_timestamp()).unwrap_or(0) * 1_000,
            numbers,
            names: Names::new(),
            prefixes: Weighted::new(MOBILE_PREFIXES),
            sizes: Weighted::new(HOUSEHOLD_SIZES),
            today,
            now,
            communes,
            commune: 0,
            placed: 0,
            hood: None,
            hoods_in_commune: 0,
            samples: Vec::new(),
        }
    }

    /// The next households, up to about `max_people` people; `None` when everyone is placed.
    pub(crate) fn next_chunk(&mut self, max_people: usize) -> Result<Option<Chunk>, DemoError> {
        // The plans are read while `self` changes: lend them out for the length of the chunk.
        let communes = std::mem::take(&mut self.communes);
        let mut chunk = Chunk::default();
        let filled = self.fill(&communes, max_people, &mut chunk);
        self.communes = communes;
        filled?;
        Ok(if chunk.units.is_empty() { None } else { Some(chunk) })
    }

    fn fill(&mut self, communes: &[CommunePlan], max_people: usize, chunk: &mut Chunk) -> Result<(), DemoError> {
        while chunk.people.len() < max_people {
            let Some(plan) = communes.get(self.commune) else { return Ok(()) };
            let remaining = plan.people.saturating_sub(self.placed);
            if remaining == 0 {
                self.commune += 1;
                self.placed = 0;
                self.hood = None;
                self.hoods_in_commune = 0;
                continue;
            }
            let mut hood = match self.hood.take() {
                Some(hood) if hood.households < hood.capacity => hood,
                _ => {
                    let hood = self.new_hood(plan)?;
                    chunk.units.push(hood.unit.clone());
                    chunk.neighbourhoods += 1;
                    hood
                }
            };
            let size = u64::from(self.sizes.pick(&mut self.rng)).min(remaining);
            let household = self.household(plan, &mut hood, size as usize);
            self.hood = Some(hood);
            let (unit, people) = household?;
            self.placed += people.len() as u64;
            chunk.units.push(unit);
            chunk.households += 1;
            chunk.people.extend(people);
        }
        Ok(())
    }

    fn new_hood(&mut self, plan: &CommunePlan) -> Result<Hood, DemoError> {
        self.hoods_in_commune += 1;
        let n = self.hoods_in_commune;
        let style = plan.style;
        let unit = Unit::new_child(
            &plan.unit,
            &format!("{}{n}", style.code),
            &format!("{} {n}", style.name),
            style.division_type,
        )?;
        Ok(Hood {
            unit,
            capacity: self.rng.gen_range(HOUSEHOLDS_PER_HOOD),
            households: 0,
            street: Street::new(&mut self.rng),
        })
    }

    /// One household unit and its people, head first.
    fn household(
        &mut self,
        plan: &CommunePlan,
        hood: &mut Hood,
        size: usize,
    ) -> Result<(Unit, Vec<Person>), DemoError> {
        let members = self.members(size, plan.southern);
        hood.households += 1;
        let local = format!("H{}", hood.households);
        let street = hood.street.next_address(&mut self.rng, plan.style, plan.southern);

        // Names and birth dates first: the household unit is named after its head.
        let born: Vec<(Date, String)> = members
            .iter()
            .map(|m| {
                let birth = self.birth_date(m.age);
                (birth, self.names.full_name(&mut self.rng, m.family, m.sex, birth.year()))
            })
            .collect();
        let head = born.first().map(|(_, name)| name.as_str()).unwrap_or_default();
        let title = if members.first().is_some_and(|m| m.sex == Sex::Female) { "bà" } else { "ông" };
        let unit = Unit::new_child(&hood.unit, &local, &format!("Hộ {title} {head}"), "hộ gia đình")?;

        // Own phones, then children under fifteen (and some elders) carry a parent's.
        let mut phones: Vec<Option<String>> = members.iter().map(|m| self.own_phone(m.age)).collect();
        let parent_phone = members
            .iter()
            .zip(&phones)
            .filter(|(m, p)| m.parent && p.is_some())
            .max_by_key(|(m, _)| m.sex == Sex::Female)
            .and_then(|(_, p)| p.clone())
            .or_else(|| phones.first().cloned().flatten());
        for (member, phone) in members.iter().zip(phones.iter_mut()) {
            if phone.is_none() && (member.age < 15 || (member.age >= 60 && chance(&mut self.rng, 0.5))) {
                phone.clone_from(&parent_phone);
            }
        }

        let home = Home { plan, hood: &hood.unit, household: &unit, street: &street };
        let mut people = Vec::with_capacity(size);
        for ((member, (birth, name)), phone) in members.iter().zip(born).zip(phones) {
            people.push(self.person(&home, member, birth, name, phone)?);
        }
        self.keep_sample(plan, &people);
        Ok((unit, people))
    }

    /// Who lives in a household of `size`: head first, then spouse, children, grandparents.
    fn members(&mut self, size: usize, southern: bool) -> Vec<Member> {
        let rng = &mut self.rng;
        let names = &self.names;
        let mut people = Vec::with_capacity(size);
        let mut add = |rng: &mut ChaCha8Rng, sex, age: i32, family: Option<&'static str>, parent| {
            let family = family.unwrap_or_else(|| names.family(rng, southern));
            people.push(Member { sex, age: age.clamp(0, 100), family, parent });
        };
        let roll: f64 = rng.r#gen();
        match size {
            1 if roll < 0.45 => {
                let (sex, age) = (sex(rng, 0.32), low_skewed(rng, 60, 95));
                add(rng, sex, age, None, false);
            }
            1 => {
                let (sex, age) = (sex(rng, 0.55), rng.gen_range(18..=45));
                add(rng, sex, age, None, false);
            }
            2 if roll < 0.4 => {
                let husband = rng.gen_range(23..=38);
                let wife = (husband - rng.gen_range(0..=5)).max(20);
                add(rng, Sex::Male, husband, None, false);
                add(rng, Sex::Female, wife, None, false);
            }
            2 if roll < 0.78 => {
                let husband = low_skewed(rng, 55, 92);
                let wife = husband - rng.gen_range(0..=6);
                add(rng, Sex::Male, husband, None, false);
                add(rng, Sex::Female, wife, None, false);
            }
            2 => {
                let (parent_sex, age) = (sex(rng, 0.25), rng.gen_range(28..=55));
                let (child_sex, child_age) = (sex(rng, 0.52), rng.gen_range(0..=(age - 20).min(24)));
                add(rng, parent_sex, age, None, true);
                add(rng, child_sex, child_age, None, false);
            }
            _ => {
                let grandparents = match size {
                    3 => usize::from(roll < 0.15),
                    4 => usize::from(roll < 0.25),
                    5 if roll < 0.25 => 0,
                    5 if roll < 0.7 => 1,
                    5 => 2,
                    _ if roll < 0.45 => 1,
                    _ => 2,
                };
                let children = size.saturating_sub(2 + grandparents);
                let mother = match rng.gen_range(0..100) {
                    0..25 => rng.gen_range(22..=29),
                    25..65 => rng.gen_range(30..=39),
                    65..90 => rng.gen_range(40..=49),
                    _ => rng.gen_range(50..=58),
                };
                let father = (mother + rng.gen_range(-2..=7)).max(21);
                let family = names.family(rng, southern);
                // One household in six is headed by the wife.
                if chance(rng, 0.17) {
                    add(rng, Sex::Female, mother, None, true);
                    add(rng, Sex::Male, father, Some(family), true);
                } else {
                    add(rng, Sex::Male, father, Some(family), true);
                    add(rng, Sex::Female, mother, None, true);
                }
                for _ in 0..children {
                    let (child_sex, age) = (sex(rng, 0.52), rng.gen_range(0..=(mother - 19).min(28)));
                    add(rng, child_sex, age, Some(family), false);
                }
                let elder = father.max(mother) + rng.gen_range(22..=34);
                match grandparents {
                    0 => {}
                    // Widows outnumber widowers.
                    1 if chance(rng, 0.65) => add(rng, Sex::Female, elder, None, false),
                    1 => add(rng, Sex::Male, elder, Some(family), false),
                    _ => {
                        let grandmother = elder - rng.gen_range(0..=5);
                        add(rng, Sex::Male, elder, Some(family), false);
                        add(rng, Sex::Female, grandmother, None, false);
                    }
                }
            }
        }
        people
    }

    /// A birth date that makes someone `age` today, spread over the year.
    fn birth_date(&mut self, age: i32) -> Date {
        let days = i64::from(age) * 36_525 / 100 + self.rng.gen_range(0..365);
        self.today.checked_sub(Duration::days(days)).unwrap_or(self.today)
    }

    /// A phone of one's own, or none: most adults have one, fewer of the very old.
    fn own_phone(&mut self, age: i32) -> Option<String> {
        let share = match age {
            ..15 => 0.0,
            15..18 => 0.85,
            18..70 => 0.97,
            70..80 => 0.75,
            _ => 0.45,
        };
        chance(&mut self.rng, share).then(|| self.numbers.phone(&mut self.rng, &self.prefixes))
    }

    /// One person, checked as a form would check them.
    fn person(
        &mut self,
        home: &Home<'_>,
        member: &Member,
        birth: Date,
        full_name: String,
        phone: Option<String>,
    ) -> Result<Person, DemoError> {
        let plan = home.plan;
        let rng = &mut self.rng;
        let year = birth.year();
        // 3% of the elderly know only their year of birth.
        let date_of_birth = if member.age >= 65 && chance(rng, 0.03) {
            format!("{year:04}")
        } else {
            format!("{year:04}-{:02}-{:02}", u8::from(birth.month()), birth.day())
        };
        // Identity numbers from birth are recent: younger children have them less often.
        let cccd = if chance(rng, if member.age >= 14 { 0.99 } else { 0.7 }) {
            let born_here = chance(rng, if member.age < 15 { 0.95 } else { 0.8 });
            let province = if born_here {
                plan.home_province
            } else {
                OLD_PROVINCES.get(rng.gen_range(0..OLD_PROVINCES.len())).copied().unwrap_or(plan.home_province)
            };
            Some(self.numbers.cccd(province, member.sex, year)?)
        } else {
            None
        };
        // Young children and the over-eighties are insured by the state; most others too.
        let insured = member.age < 6 || member.age >= 80 || chance(rng, 0.88);
        let insurance_number = if insured { Some(self.numbers.insurance(plan.home_province)?) } else { None };
        let valid = NewPerson {
            full_name,
            date_of_birth,
            sex: member.sex.as_str().to_owned(),
            phone,
            cccd,
            insurance_number,
            address_unit: home.hood.code.to_string(),
            street: home.street.to_owned(),
            household: Some(home.household.code.to_string()),
        }
        .validate(self.today)
        .map_err(|errors| match errors.into_result() {
            Err(first) => DemoError::Invalid(first),
            Ok(()) => DemoError::Task("validation failed without a reason".into()),
        })?;
        Ok(valid.into_person(self.next_id(), self.now))
    }

    /// A time-ordered id like the ones [`PersonId::new`] makes (UUIDv7), with the demo's day
    /// and a millisecond per person as its time and seeded randomness for the rest: new ids
    /// go to the end of the store's index, as real registrations do, instead of anywhere.
    fn next_id(&mut self) -> PersonId {
        let random: [u8; 10] = self.ids.r#gen();
        self.id_millis += 1;
        PersonId(uuid::Builder::from_unix_timestamp_millis(self.id_millis, &random).into_uuid())
    }

    /// Keeps a few citizens of the first commune who can sign in with their phone.
    fn keep_sample(&mut self, plan: &CommunePlan, people: &[Person]) {
        if self.commune != 0 || self.samples.len() >= SAMPLES {
            return;
        }
        let Some(head) = people.iter().find(|p| p.phone.is_some()) else { return };
        let on_phone = people.iter().filter(|p| p.phone == head.phone).count();
        let with_children = self.samples.iter().filter(|s| s.people_on_phone > 1).count();
        let wanted = if on_phone > 1 {
            with_children < SAMPLES_WITH_CHILDREN
        } else {
            self.samples.len() - with_children < SAMPLES - SAMPLES_WITH_CHILDREN
        };
        if let (true, Some(phone)) = (wanted, head.phone.clone()) {
            self.samples.push(SampleCitizen {
                id: head.id,
                full_name: head.full_name.clone(),
                phone,
                cccd: head.cccd.clone(),
                date_of_birth: head.date_of_birth,
                commune: plan.unit.name.clone(),
                people_on_phone: on_phone as u32,
            });
        }
    }
}

/// Male with probability `male_share`.
fn sex(rng: &mut impl Rng, male_share: f64) -> Sex {
    if chance(rng, male_share) { Sex::Male } else { Sex::Female }
}

#[cfg(test)]
mod tests {
    use super::*;
    use outbreak_domain::unit::national_units;
    use time::macros::{date, datetime};

    fn generator(seed: u64, people: u64) -> Generator {
        let units = national_units();
        let communes = ["00070", "26740", "00640"]
            .iter()
            .map(|code| CommunePlan::new(units.iter().find(|u| u.code.as_str() == *code).unwrap().clone(), people / 3))
            .collect();
        Generator::new(seed, communes, date!(2026 - 05 - 01), datetime!(2026-05-01 0:00 UTC))
    }

    fn everyone(mut g: Generator) -> Vec<Person> {
        let mut people = Vec::new();
        while let Some(chunk) = g.next_chunk(1_000).unwrap() {
            people.extend(chunk.people);
        }
        people
    }

    #[test]
    fn ages_look_like_vietnam() {
        let people = everyone(generator(5, 60_000));
        assert_eq!(people.len(), 60_000);
        let today = date!(2026 - 05 - 01);
        let share = |range: std::ops::Range<i32>| {
            people.iter().filter(|p| range.contains(&p.date_of_birth.age_on(today))).count() as f64
                / people.len() as f64
        };
        // Vietnam 2019: about 24% under 15, 68% from 15 to 64, 8% over 64.
        let (young, working, old) = (share(0..15), share(15..65), share(65..200));
        println!("0-14 {young:.3}  15-64 {working:.3}  65+ {old:.3}");
        assert!((0.18..0.30).contains(&young), "{young}");
        assert!((0.58..0.75).contains(&working), "{working}");
        assert!((0.05..0.14).contains(&old), "{old}");
        let men = people.iter().filter(|p| p.sex == Sex::Male).count() as f64 / people.len() as f64;
        assert!((0.46..0.52).contains(&men), "{men}");
    }

    #[test]
    fn children_carry_a_parents_phone() {
        let today = date!(2026 - 05 - 01);
        let mut g = generator(9, 3_000);
        let chunk = g.next_chunk(3_000).unwrap().unwrap();
        let mut by_household: std::collections::HashMap<_, Vec<&Person>> = Default::default();
        for p in &chunk.people {
            by_household.entry(p.household.clone()).or_default().push(p);
        }
        let mut children_with_phone = 0;
        for members in by_household.values() {
            assert!((1..=6).contains(&members.len()));
            for child in members.iter().filter(|p| p.date_of_birth.age_on(today) < 15) {
                if let Some(phone) = &child.phone {
                    children_with_phone += 1;
                    let adult = |p: &&&Person| p.date_of_birth.age_on(today) >= 18 && p.phone.as_ref() == Some(phone);
                    assert!(members.iter().any(|p| adult(&p)), "{}", child.full_name);
                }
            }
        }
        assert!(children_with_phone > 100);
        assert!(g.samples.iter().any(|s| s.people_on_phone > 1));
    }

    /// How fast people are made without a store: `cargo test --release -p outbreak-demo
    /// --lib generation_speed -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn generation_speed() {
        let started = std::time::Instant::now();
        let mut g = generator(1, 1_000_000);
        let mut people = 0;
        while let Some(chunk) = g.next_chunk(20_000).unwrap() {
            people += chunk.people.len();
        }
        println!("{people} people made in {:.2?}", started.elapsed());
    }
}
