//! The disease: a seeded SEIR-like course drawn once per infection (latent days, incubation,
//! symptoms or none, infectious days, how long a PCR test finds it), and the chance that
//! one contact of a given closeness passes it on. Pure: no store, no clock.

use rand::Rng;

/// Share of infections that ever show symptoms.
const SYMPTOMATIC: f64 = 0.6;
/// Infectiousness of someone without symptoms, relative to someone with them.
const ASYMPTOMATIC_FACTOR: f64 = 0.5;
/// Days from infection to symptoms: 4 on average, as Delta's (3.7 days in Japan, Ogata et
/// al., IJERPH 2022; 4.2 in Guangzhou's May 2021 outbreak), shorter than the first strain's.
const INCUBATION: std::ops::RangeInclusive<u32> = 2..=6;
/// Infectious from this many days before onset (or the day an asymptomatic case would have
/// had it)...
const PRESYMPTOMATIC: u32 = 2;
/// ...to this many days after.
const INFECTIOUS_AFTER_ONSET: std::ops::RangeInclusive<u32> = 3..=7;
/// A PCR test finds the virus from this many days after infection...
const DETECTABLE_FROM: u32 = 2;
/// ...until this many.
const DETECTABLE_UNTIL: u32 = 25;
/// A PCR test of a detectable infection is positive this often.
pub(crate) const PCR_SENSITIVITY: f64 = 0.92;

/// One infection's course, in simulated days from the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Course {
    pub infected: u32,
    /// The day symptoms start; `None` for an infection without symptoms.
    pub onset: Option<u32>,
    /// Infectious from `infectious_from` to `infectious_until`, both included.
    pub infectious_from: u32,
    pub infectious_until: u32,
}

impl Course {
    pub(crate) fn draw(rng: &mut impl Rng, infected: u32) -> Course {
        let incubation = rng.gen_range(INCUBATION);
        let onset_like = infected + incubation;
        let symptomatic = rng.gen_bool(SYMPTOMATIC);
        Course {
            infected,
            onset: symptomatic.then_some(onset_like),
            // Never infectious the day one is infected: someone must carry it overnight.
            infectious_from: (onset_like - PRESYMPTOMATIC).max(infected + 1),
            infectious_until: onset_like + rng.gen_range(INFECTIOUS_AFTER_ONSET),
        }
    }

    /// How infectious on `day`: 0 outside the infectious days, lower without symptoms.
    pub(crate) fn infectiousness(&self, day: u32) -> f64 {
        if day < self.infectious_from || day > self.infectious_until {
            0.0
        } else if self.onset.is_some() {
            1.0
        } else {
            ASYMPTOMATIC_FACTOR
        }
    }

    /// Whether a PCR specimen taken on `day` could find the virus.
    pub(crate) fn detectable(&self, day: u32) -> bool {
        day >= self.infected + DETECTABLE_FROM && day <= self.infected + DETECTABLE_UNTIL
    }

    /// Whether `day` falls between the onset of symptoms and the end of the infection.
    pub(crate) fn ill(&self, day: u32) -> bool {
        self.onset.is_some_and(|o| o <= day) && !self.over(day)
    }

    /// Whether the infection is over (no longer infectious) by `day`.
    pub(crate) fn over(&self, day: u32) -> bool {
        day > self.infectious_until
    }
}

/// The chance of passing the virus on over `hours` of close contact at `infectiousness`.
/// Contacts are independent, so the chance grows as 1 − e^(−rate · time).
pub(crate) fn transmission(rate_per_hour: f64, hours: f64, infectiousness: f64) -> f64 {
    1.0 - (-rate_per_hour * hours * infectiousness).exp()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn courses_hang_together() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut symptomatic = 0;
        for _ in 0..10_000 {
            let c = Course::draw(&mut rng, 10);
            assert!(c.infectious_from > c.infected && c.infectious_from <= c.infectious_until);
            assert_eq!(c.infectiousness(c.infected), 0.0);
            if let Some(onset) = c.onset {
                symptomatic += 1;
                assert!(onset >= c.infectious_from && onset <= c.infectious_until);
            }
            assert!(c.detectable(c.infectious_from.max(c.infected + DETECTABLE_FROM)));
            assert!(c.over(c.infectious_until + 1) && !c.over(c.infectious_until));
        }
        assert!((5_500..6_500).contains(&symptomatic), "{symptomatic}");
    }

    #[test]
    fn transmission_grows_with_time_and_stays_a_probability() {
        assert_eq!(transmission(0.1, 0.0, 1.0), 0.0);
        assert!(transmission(0.1, 1.0, 1.0) < transmission(0.1, 2.0, 1.0));
        assert!(transmission(5.0, 100.0, 1.0) <= 1.0);
    }
}
