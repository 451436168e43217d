//! The check on the calibration: how many people one case infects when everyone around is
//! susceptible and nothing is done about it — the basic reproduction number R0 — by where
//! it happens, and the share of its household it infects (the household secondary attack
//! rate); and the same under social distancing alone. The same daily life and spread as
//! the simulation, without the platform: nobody is listed, quarantined or isolated (the
//! ill still stay in on most days, and schools stay closed). Pure and seeded.

use rand::Rng;

use super::figures::Share;
use super::mixing::{BySetting, Today, World};
use super::model::Course;

/// Index cases followed at once, one per this many people: few enough that two of them
/// rarely meet the same person on the same day (who would then count once).
const PEOPLE_PER_INDEX_CASE: usize = 500;

/// What the index cases did, each in a population with no other infection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reproduction {
    pub index_cases: u64,
    /// The people they infected (not those infected in turn), by where it happened.
    pub infected: BySetting,
    /// Their household members, and how many of them they infected.
    pub household: Share,
}

impl Reproduction {
    /// R0: people infected per index case.
    pub fn r0(&self) -> f64 {
        self.per_case(self.infected.total())
    }

    /// Infections (of one setting, say) per index case.
    pub fn per_case(&self, infected: u64) -> f64 {
        infected as f64 / self.index_cases.max(1) as f64
    }
}

/// Follows `index_cases` infections from infection to recovery, in rounds of a few at a
/// time, each in a household of its own; the rounds start on different days of the week.
/// `distanced`: every commune under social distancing all along.
pub(crate) fn estimate(world: &World, rng: &mut impl Rng, index_cases: u64, distanced: bool) -> Reproduction {
    let people = world.residents.len();
    let at_once = (people / PEOPLE_PER_INDEX_CASE).clamp(1, world.households.len());
    let mut household_of = vec![0; people];
    for (h, members) in world.households.iter().enumerate() {
        for &m in members {
            household_of[m as usize] = h as u32;
        }
    }
    let distancing = vec![distanced; world.communes()];
    let mut found = Reproduction::default();
    let mut round = 0;
    while found.index_cases < index_cases {
        let take = at_once.min(usize::try_from(index_cases - found.index_cases).unwrap_or(usize::MAX));
        let mut course: Vec<Option<Course>> = vec![None; people];
        let mut taken = std::collections::HashSet::new();
        while taken.len() < take {
            // Anyone may be infected, so larger households hold more of the index cases.
            let p = rng.gen_range(0..people);
            if taken.insert(household_of[p]) {
                course[p] = Some(Course::draw(rng, 0));
                found.household.of += world.households[household_of[p] as usize].len() as u64 - 1;
            }
        }
        let last = course.iter().flatten().map(|c| c.infectious_until).max().unwrap_or(0);
        let mut infected = std::collections::HashSet::new();
        for day in 0..=last {
            let today = Today {
                weekday: (day + round) % 7 < 5,
                distanced: &distancing,
                out: &|_| true,
                ill: &|p| course[p as usize].is_some_and(|c| c.ill(day)),
                home: &|_| true,
                infectious: &|p| course[p as usize].map_or(0.0, |c| c.infectiousness(day)),
                susceptible: &|p| course[p as usize].is_none(),
            };
            let mut visits = world.visits(rng, &today);
            for t in world.spread(rng, &mut visits, &today) {
                // Met again another day, the same person counts once for the same case.
                if infected.insert((t.infector, t.infectee)) {
                    found.infected.add(t.setting);
                }
            }
        }
        found.index_cases += take as u64;
        round += 1;
    }
    found.household.hits = found.infected.household;
    found
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    /// The calibration, checked: Delta's R0 of 5 to 6, about a quarter of the household
    /// infected, and a fifth of the infections where no check-in sees them.
    #[test]
    fn delta_spreads_as_it_did_before_any_measure() {
        let world = crate::simulate::mixing::tests::world();
        let found = estimate(&world, &mut rand_chacha::ChaCha8Rng::seed_from_u64(5), 500, false);
        assert_eq!(found.index_cases, 500);
        assert!((5.0..=6.0).contains(&found.r0()), "{found:?}");
        assert!(found.household.fraction().is_some_and(|f| (0.2..=0.3).contains(&f)), "{found:?}");
        let street = found.infected.street as f64 / found.infected.total() as f64;
        assert!((0.15..=0.3).contains(&street), "{found:?}");
        assert_eq!(found.infected.seed, 0);
    }

    /// Distancing alone cuts all but household transmission, and leaves R above 1: tracing,
    /// quarantine and isolation must do the rest.
    #[test]
    fn distancing_alone_does_not_stop_delta() {
        let world = crate::simulate::mixing::tests::world();
        let found = estimate(&world, &mut rand_chacha::ChaCha8Rng::seed_from_u64(6), 500, true);
        assert!((1.0..=1.6).contains(&found.r0()), "{found:?}");
        assert!(found.infected.household * 2 > found.infected.total(), "{found:?}");
    }
}
