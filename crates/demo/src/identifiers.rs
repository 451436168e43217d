//! Identifiers that look random but never repeat: CCCD, phone and health-insurance numbers.
//!
//! Each number's free digits come from a counter passed through a bijection (multiply by a
//! constant prime to ten, add a seeded offset, modulo a power of ten), so the digits look
//! scattered while two people can never get the same number. A CCCD counts per prefix
//! (province, century and sex, year), the others over the whole run.

use std::collections::HashMap;

use outbreak_domain::Sex;
use rand::Rng;

use crate::error::DemoError;

/// Mobile prefixes in use (after the leading 0) with their rough share of subscribers:
/// Viettel, VinaPhone, MobiFone, Vietnamobile, Gmobile.
pub(crate) const MOBILE_PREFIXES: &[(u16, u32)] = &[
    (32, 5),
    (33, 5),
    (34, 5),
    (35, 5),
    (36, 5),
    (37, 5),
    (38, 5),
    (39, 5),
    (86, 6),
    (96, 8),
    (97, 8),
    (98, 8),
    (81, 3),
    (82, 3),
    (83, 3),
    (84, 3),
    (85, 3),
    (88, 4),
    (91, 5),
    (94, 4),
    (70, 3),
    (76, 2),
    (77, 3),
    (78, 2),
    (79, 2),
    (89, 2),
    (90, 4),
    (93, 3),
    (52, 1),
    (56, 1),
    (58, 1),
    (92, 1),
    (59, 1),
    (99, 1),
];

/// A counter's value scattered over `0..modulus` without repeats.
fn scatter(counter: u64, multiplier: u64, offset: u64, modulus: u64) -> u64 {
    (counter % modulus * multiplier + offset) % modulus
}

/// Hands out identifiers; one per run, driven by the run's seed.
pub(crate) struct Numbers {
    /// Numbers given so far per CCCD prefix (the first six digits).
    cccd: HashMap<u32, u64>,
    cccd_offset: u64,
    phones: u64,
    phone_offset: u64,
    insurance: u64,
    insurance_offset: u64,
}

const CCCD_SPACE: u64 = 1_000_000;
const PHONE_SPACE: u64 = 10_000_000;
const INSURANCE_SPACE: u64 = 100_000_000;

impl Numbers {
    pub(crate) fn new(rng: &mut impl Rng) -> Numbers {
        Numbers {
            cccd: HashMap::new(),
            cccd_offset: rng.gen_range(0..CCCD_SPACE),
            phones: 0,
            phone_offset: rng.gen_range(0..PHONE_SPACE),
            insurance: 0,
            insurance_offset: rng.gen_range(0..INSURANCE_SPACE),
        }
    }

    /// A CCCD for someone born in `province` (old code) in `year` of this sex.
    pub(crate) fn cccd(&mut self, province: u16, sex: Sex, year: i32) -> Result<String, DemoError> {
        let century = (year.div_euclid(100) - 19).clamp(0, 4) as u32;
        let sex_digit = century * 2 + u32::from(sex == Sex::Female);
        let yy = year.rem_euclid(100) as u32;
        let prefix = u32::from(province) * 1000 + sex_digit * 100 + yy;
        let count = self.cccd.entry(prefix).or_insert(0);
        if *count >= CCCD_SPACE {
            return Err(DemoError::Exhausted("CCCD"));
        }
        // A different offset per prefix, so neighbouring cohorts do not share digit patterns.
        let offset = (self.cccd_offset + u64::from(prefix) * 7_919) % CCCD_SPACE;
        let serial = scatter(*count, 481_159, offset, CCCD_SPACE);
        *count += 1;
        Ok(format!("{province:03}{sex_digit}{yy:02}{serial:06}"))
    }

    /// A mobile number in national form (`0912345678`); unique for the first ten million.
    pub(crate) fn phone(&mut self, rng: &mut impl Rng, prefixes: &crate::pick::Weighted<u16>) -> String {
        let line = scatter(self.phones, 7_654_321, self.phone_offset, PHONE_SPACE);
        self.phones += 1;
        format!("0{}{line:07}", prefixes.pick(rng))
    }

    /// A 10-digit social-insurance code: two digits of the province, eight of the person.
    pub(crate) fn insurance(&mut self, province: u16) -> Result<String, DemoError> {
        if self.insurance >= INSURANCE_SPACE {
            return Err(DemoError::Exhausted("health-insurance"));
        }
        let serial = scatter(self.insurance, 48_271_337, self.insurance_offset, INSURANCE_SPACE);
        self.insurance += 1;
        Ok(format!("{:02}{serial:08}", province % 100))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use outbreak_domain::{BirthDate, Cccd, Phone};
    use rand::SeedableRng;

    #[test]
    fn scatter_never_repeats() {
        let seen: HashSet<u64> = (0..CCCD_SPACE).map(|c| scatter(c, 481_159, 12_345, CCCD_SPACE)).collect();
        assert_eq!(seen.len() as u64, CCCD_SPACE);
    }

    #[test]
    fn numbers_pass_the_domain_checks() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut numbers = Numbers::new(&mut rng);
        let prefixes = crate::pick::Weighted::new(MOBILE_PREFIXES);
        for (sex, year) in [(Sex::Male, 1987), (Sex::Female, 2003), (Sex::Male, 1900), (Sex::Female, 2025)] {
            let cccd = Cccd::parse("cccd", &numbers.cccd(79, sex, year).unwrap()).unwrap();
            cccd.check_against("cccd", sex, BirthDate::Year(year)).unwrap();
        }
        for _ in 0..100 {
            Phone::parse("phone", &numbers.phone(&mut rng, &prefixes)).unwrap();
        }
        assert_eq!(numbers.insurance(1).unwrap().len(), 10);
    }
}
