//! Testing: sampling sessions, specimens, pools, lab results and the cases they confirm.
//!
//! A sampling session is one team at one site on one day with one kind of test. Each person
//! sampled gets a specimen with a printed barcode. In a pooled session the swabs of up to
//! `pool_size` people share one tube (the pool): a negative pool makes every member
//! negative, a positive or invalid one sends every member back for an individual retest, so
//! a pooled positive is never anyone's own result. An individual positive confirms a case
//! (F0) once per person per episode.

use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{Invalid, text_field};
use crate::unit::UnitCode;

/// A second positive this soon after a case was confirmed belongs to the same episode.
pub const EPISODE: Duration = Duration::days(90);
/// Turnaround is kept as a histogram of whole hours; slower results share the last bucket.
pub const TURNAROUND_BUCKETS: i64 = 241;
/// The pool sizes a session may use: 2 to 20 swabs per tube.
pub const POOL_SIZES: std::ops::RangeInclusive<i64> = 2..=20;

macro_rules! ids {
    ($($name:ident),*) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

ids!(SessionId, SpecimenId, PoolId, CaseId);

/// Declares a closed list of words with their wire names.
macro_rules! words {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($variant:ident => $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }

            pub fn parse(field: &str, value: &str) -> Result<Self, Invalid> {
                let value = value.trim();
                $name::ALL.iter().copied().find(|v| v.as_str() == value).ok_or_else(|| {
                    let names: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                    Invalid::new(field, "invalid_value", format!("{} must be one of {}", $what, names.join(", ")))
                })
            }
        }
    };
}

words!(
    /// The kind of test a session takes samples for.
    TestType, "test type" { RtPcr => "rt_pcr", RapidAntigen => "rapid_antigen" }
);

words!(
    /// Where a specimen (or a pool's tube) is on its way from the swab to a result.
    SpecimenStatus, "status" {
        Collected => "collected",
        InTransit => "in_transit",
        Received => "received",
        Resulted => "resulted",
        Rejected => "rejected",
    }
);

words!(
    /// What a lab reports for one tube.
    Outcome, "result" { Positive => "positive", Negative => "negative", Invalid => "invalid" }
);

words!(
    /// What a specimen ends as for the person: its own outcome, or a retest when its pool
    /// was positive or invalid.
    Conclusion, "conclusion" {
        Positive => "positive",
        Negative => "negative",
        Invalid => "invalid",
        RetestIndividually => "retest_individually",
    }
);

words!(
    /// Where a case stands.
    CaseStatus, "case status" {
        Confirmed => "confirmed",
        Isolating => "isolating",
        InTreatment => "in_treatment",
        Recovered => "recovered",
        Died => "died",
        Discarded => "discarded",
    }
);

impl Outcome {
    /// What the members of a pool with this outcome conclude.
    pub fn for_pool_members(self) -> Conclusion {
        match self {
            Outcome::Negative => Conclusion::Negative,
            Outcome::Positive | Outcome::Invalid => Conclusion::RetestIndividually,
        }
    }

    pub fn conclusion(self) -> Conclusion {
        match self {
            Outcome::Positive => Conclusion::Positive,
            Outcome::Negative => Conclusion::Negative,
            Outcome::Invalid => Conclusion::Invalid,
        }
    }
}

/// Which kind of tube a barcode is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarcodeKind {
    Specimen,
    Pool,
}

impl BarcodeKind {
    fn letter(self) -> char {
        match self {
            BarcodeKind::Specimen => 'S',
            BarcodeKind::Pool => 'P',
        }
    }
}

/// A tube's label: `S` (specimen) or `P` (pool), ten digits and a Luhn check digit, so a
/// mistyped digit is caught before it reaches the store.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct Barcode(String);

impl Barcode {
    /// The label for a number below 10^10.
    pub fn new(kind: BarcodeKind, number: u64) -> Barcode {
        let digits = format!("{:010}", number % 10_000_000_000);
        Barcode(format!("{}{digits}{}", kind.letter(), luhn_digit(&digits)))
    }

    pub fn parse(field: &str, text: &str) -> Result<Barcode, Invalid> {
        let text = text.trim().to_ascii_uppercase();
        let bad = |message: &str| Invalid::new(field, "invalid_barcode", format!("{text:?} {message}"));
        let Some(digits) = text.strip_prefix('S').or_else(|| text.strip_prefix('P')) else {
            return Err(bad("is not an Outbreak tube label: labels start with S (specimen) or P (pool)"));
        };
        if digits.len() != 11 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("is not an Outbreak tube label: a label is a letter and 11 digits"));
        }
        if luhn_digit(&digits[..10]) != digits[10..].chars().next().unwrap_or('x') {
            return Err(bad("has a wrong check digit: a digit was probably mistyped"));
        }
        Ok(Barcode(text))
    }

    pub fn kind(&self) -> BarcodeKind {
        if self.0.starts_with('P') { BarcodeKind::Pool } else { BarcodeKind::Specimen }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A barcode read back from the store, trusted as written.
    pub fn from_stored(text: String) -> Barcode {
        Barcode(text)
    }
}

impl std::fmt::Display for Barcode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn luhn_digit(digits: &str) -> char {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    char::from(b'0' + ((10 - sum % 10) % 10) as u8)
}

/// A sampling session as typed in.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct NewSession {
    /// Where samples are taken: a health station, a school yard, a checkpoint.
    pub site: String,
    /// The unit the site is in.
    pub unit: String,
    /// `YYYY-MM-DD`.
    pub date: String,
    #[serde(default)]
    pub team: String,
    /// `rt_pcr` or `rapid_antigen`.
    pub test_type: String,
    /// Swabs per pooled tube (2–20); absent or 0 for individual tubes.
    #[serde(default)]
    pub pool_size: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidSession {
    pub site: String,
    pub unit: UnitCode,
    pub date: Date,
    pub team: String,
    pub test_type: TestType,
    pub pool_size: Option<i64>,
}

impl NewSession {
    pub fn validate(&self, today: Date) -> Result<ValidSession, Invalid> {
        let site = text_field("site", &self.site, 200, true)?;
        let unit = UnitCode::parse("unit", &self.unit)?;
        let date = parse_date("date", &self.date)?;
        if (date - today).abs() > Duration::days(7) {
            return Err(Invalid::new("date", "out_of_range", "a session's date must be within a week of today"));
        }
        let team = text_field("team", &self.team, 200, false)?;
        let test_type = TestType::parse("test_type", &self.test_type)?;
        let pool_size = match self.pool_size {
            None | Some(0) | Some(1) => None,
            Some(size) if POOL_SIZES.contains(&size) => Some(size),
            Some(_) => {
                return Err(Invalid::new(
                    "pool_size",
                    "out_of_range",
                    format!("a pool holds {} to {} swabs", POOL_SIZES.start(), POOL_SIZES.end()),
                ));
            }
        };
        if pool_size.is_some() && test_type == TestType::RapidAntigen {
            return Err(Invalid::new("pool_size", "not_allowed", "rapid antigen tests are not pooled"));
        }
        Ok(ValidSession { site, unit, date, team, test_type, pool_size })
    }
}

/// A result as a lab reports it, for a specimen or a pool.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct NewResult {
    /// The tube's label: a specimen (`S…`) or a pool (`P…`).
    pub barcode: String,
    /// `positive`, `negative` or `invalid`.
    pub result: String,
    /// The RT-PCR cycle threshold, when the lab reports one.
    #[serde(default)]
    pub ct: Option<f64>,
    /// When the result was read (RFC 3339); now when absent.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resulted_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ValidResult {
    pub barcode: Barcode,
    pub outcome: Outcome,
    pub ct: Option<f64>,
    pub resulted_at: OffsetDateTime,
    /// Whether the lab gave the time; a result sent again without one is the same result
    /// whatever the clock says now.
    pub time_given: bool,
}

impl NewResult {
    /// Checks what can be checked without the tube: the label, the words, the Ct range and
    /// that the time is not in the future. The store checks the rest against the tube.
    pub fn validate(&self, now: OffsetDateTime) -> Result<ValidResult, Invalid> {
        let barcode = Barcode::parse("barcode", &self.barcode)?;
        let outcome = Outcome::parse("result", &self.result)?;
        let ct = match self.ct {
            None => None,
            Some(ct) if ct.is_finite() && ct > 0.0 && ct <= 50.0 => Some(ct),
            Some(_) => return Err(Invalid::new("ct", "out_of_range", "a Ct value lies between 0 and 50")),
        };
        let resulted_at = self.resulted_at.unwrap_or(now);
        if resulted_at > now + crate::venue::CLOCK_SKEW {
            return Err(Invalid::new("resulted_at", "in_future", "a result cannot be read in the future"));
        }
        Ok(ValidResult { barcode, outcome, ct, resulted_at, time_given: self.resulted_at.is_some() })
    }
}

/// Whole hours from collection to result, capped at the last histogram bucket.
pub fn turnaround_bucket(collected: OffsetDateTime, resulted: OffsetDateTime) -> i64 {
    (resulted - collected).whole_hours().clamp(0, TURNAROUND_BUCKETS - 1)
}

/// The value below which `share` (0–1) of a histogram's weight lies, in bucket units.
pub fn histogram_quantile(buckets: &[(i64, i64)], share: f64) -> Option<i64> {
    let total: i64 = buckets.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return None;
    }
    let wanted = (share * total as f64).ceil().max(1.0) as i64;
    let mut sorted = buckets.to_vec();
    sorted.sort_unstable();
    let mut seen = 0;
    for (bucket, n) in sorted {
        seen += n;
        if seen >= wanted {
            return Some(bucket);
        }
    }
    None
}

/// A date as people and programs write it in forms: `YYYY-MM-DD`.
pub fn parse_date(field: &str, text: &str) -> Result<Date, Invalid> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text.trim(), format)
        .map_err(|_| Invalid::new(field, "invalid_format", "a date is written YYYY-MM-DD, for example 2021-08-15"))
}

/// A free-text reason (a rejection, a correction): required, at most 300 characters.
pub fn reason(field: &str, text: &str) -> Result<String, Invalid> {
    text_field(field, text, 300, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn barcodes_carry_a_check_digit() {
        let code = Barcode::new(BarcodeKind::Specimen, 1_234_567_890);
        assert_eq!(code.as_str().len(), 12);
        assert_eq!(Barcode::parse("b", code.as_str()), Ok(code.clone()));
        assert_eq!(Barcode::parse("b", &code.as_str().to_lowercase()), Ok(code.clone()));
        let mut typo = code.as_str().to_owned();
        typo.replace_range(3..4, if &typo[3..4] == "9" { "8" } else { "9" });
        assert_eq!(Barcode::parse("b", &typo).unwrap_err().code, "invalid_barcode");
        assert!(Barcode::parse("b", "X12345678901").is_err());
        assert!(Barcode::parse("b", "S123").is_err());
        assert_eq!(Barcode::new(BarcodeKind::Pool, 7).kind(), BarcodeKind::Pool);
    }

    #[test]
    fn a_pooled_positive_is_never_a_members_positive() {
        assert_eq!(Outcome::Positive.for_pool_members(), Conclusion::RetestIndividually);
        assert_eq!(Outcome::Invalid.for_pool_members(), Conclusion::RetestIndividually);
        assert_eq!(Outcome::Negative.for_pool_members(), Conclusion::Negative);
    }

    #[test]
    fn quantiles_come_from_the_histogram() {
        let buckets = [(10, 4), (2, 6), (30, 1)];
        assert_eq!(histogram_quantile(&buckets, 0.5), Some(2));
        assert_eq!(histogram_quantile(&buckets, 0.9), Some(10));
        assert_eq!(histogram_quantile(&buckets, 1.0), Some(30));
        assert_eq!(histogram_quantile(&[], 0.5), None);
    }

    #[test]
    fn sessions_are_checked() {
        let today = time::macros::date!(2021 - 08 - 15);
        let mut new = NewSession {
            site: "Trạm Y tế Hàng Trống".into(),
            unit: "00070".into(),
            date: "2021-08-15".into(),
            test_type: "rt_pcr".into(),
            pool_size: Some(10),
            ..NewSession::default()
        };
        assert_eq!(new.validate(today).unwrap().pool_size, Some(10));
        new.pool_size = Some(50);
        assert_eq!(new.validate(today).unwrap_err().field, "pool_size");
        new.pool_size = Some(5);
        new.test_type = "rapid_antigen".into();
        assert_eq!(new.validate(today).unwrap_err().code, "not_allowed");
    }
}
