//! People and the checks on what identifies them.
//!
//! A CCCD (citizen identity card number) carries the place of birth, the sex, the century
//! and the year of birth; it must agree with what else the record says. Phones are kept in
//! E.164 (`+84912345678`) whichever way they were typed. Names are kept in NFC with a folded
//! copy for search.

use serde::{Deserialize, Serialize};
use time::{Date, Month, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{Invalid, ValidationErrors, text_field};
use crate::text;
use crate::unit::UnitCode;

/// A person's identifier in Outbreak: when the record was made and random bits (UUIDv7), so it
/// reveals nothing about the person, and new people land at the end of the store's indexes
/// rather than on a scattered page each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct PersonId(pub Uuid);

impl PersonId {
    pub fn new() -> Self {
        PersonId(Uuid::now_v7())
    }
}

impl Default for PersonId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for PersonId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, Invalid> {
        match value.trim().to_lowercase().as_str() {
            "male" | "m" | "nam" => Ok(Sex::Male),
            "female" | "f" | "nữ" | "nu" => Ok(Sex::Female),
            _ => Err(Invalid::new(field, "invalid_value", "sex must be male or female")),
        }
    }
}

/// A date of birth, or only its year when that is all the person knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BirthDate {
    Full(Date),
    Year(i32),
}

impl BirthDate {
    /// Parses `YYYY-MM-DD` or `YYYY`, between 1900 and today.
    pub fn parse(field: &str, value: &str, today: Date) -> Result<Self, Invalid> {
        let value = value.trim();
        let bad = || Invalid::new(field, "invalid_format", "date of birth must be YYYY-MM-DD, or a year YYYY alone");
        let birth = if value.len() == 4 {
            BirthDate::Year(value.parse().map_err(|_| bad())?)
        } else {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            BirthDate::Full(Date::parse(value, format).map_err(|_| bad())?)
        };
        let year = birth.year();
        if year < 1900 || birth.earliest() > today {
            return Err(Invalid::new(field, "out_of_range", "date of birth must be between 1900 and today"));
        }
        Ok(birth)
    }

    pub fn year(self) -> i32 {
        match self {
            BirthDate::Full(date) => date.year(),
            BirthDate::Year(year) => year,
        }
    }

    /// The first day the birth could have been.
    fn earliest(self) -> Date {
        match self {
            BirthDate::Full(date) => date,
            BirthDate::Year(year) => Date::from_calendar_date(year, Month::January, 1).unwrap_or(Date::MIN),
        }
    }

    /// Age in whole years on `today`; a year-only birth counts from 1 January.
    pub fn age_on(self, today: Date) -> i32 {
        let born = self.earliest();
        let mut age = today.year() - born.year();
        if (today.month(), today.day()) < (born.month(), born.day()) {
            age -= 1;
        }
        age
    }
}

impl std::fmt::Display for BirthDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BirthDate::Full(date) => write!(f, "{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day()),
            BirthDate::Year(year) => write!(f, "{year:04}"),
        }
    }
}

impl Serialize for BirthDate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BirthDate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        BirthDate::parse("date_of_birth", &text, Date::MAX).map_err(serde::de::Error::custom)
    }
}

/// Province codes in use before 2025, the first three digits of a CCCD.
const CCCD_PROVINCES: [u16; 63] = [
    1, 2, 4, 6, 8, 10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25, 26, 27, 30, 31, 33, 34, 35, 36, 37, 38, 40, 42, 44, 45,
    46, 48, 49, 51, 52, 54, 56, 58, 60, 62, 64, 66, 67, 68, 70, 72, 74, 75, 77, 79, 80, 82, 83, 84, 86, 87, 89, 91, 92,
    93, 94, 95, 96,
];

/// A citizen identity card number (CCCD): twelve digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct Cccd(String);

impl Cccd {
    /// Checks the form: twelve digits with a known province of birth.
    pub fn parse(field: &str, value: &str) -> Result<Self, Invalid> {
        let digits: String = value.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() != 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Invalid::new(field, "invalid_format", "CCCD must be exactly 12 digits"));
        }
        let province: u16 = digits[..3].parse().unwrap_or(0);
        if !CCCD_PROVINCES.contains(&province) {
            return Err(Invalid::new(
                field,
                "invalid_province",
                format!("CCCD starts with {}, which is not a province code (001–096)", &digits[..3]),
            ));
        }
        Ok(Cccd(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The sex and birth year the number encodes.
    pub fn sex_and_year(&self) -> (Sex, i32) {
        let code = i32::from(self.0.as_bytes()[3] - b'0');
        let century = match code / 2 {
            0 => 1900,
            1 => 2000,
            2 => 2100,
            3 => 2200,
            _ => 1800,
        };
        let sex = if code % 2 == 0 { Sex::Male } else { Sex::Female };
        let year_in_century: i32 = self.0[4..6].parse().unwrap_or(0);
        (sex, century + year_in_century)
    }

    /// Checks that the number agrees with the sex and birth year on the record.
    pub fn check_against(&self, field: &str, sex: Sex, birth: BirthDate) -> Result<(), Invalid> {
        let (cccd_sex, cccd_year) = self.sex_and_year();
        if cccd_sex != sex {
            return Err(Invalid::new(
                field,
                "contradiction",
                format!("CCCD digit 4 says {} but the record says {}", cccd_sex.as_str(), sex.as_str()),
            ));
        }
        if cccd_year != birth.year() {
            return Err(Invalid::new(
                field,
                "contradiction",
                format!("CCCD says born in {cccd_year} but the date of birth is in {}", birth.year()),
            ));
        }
        Ok(())
    }
}

/// A phone number in E.164, Vietnamese by default.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    /// Accepts `0912 345 678`, `+84 912-345-678`, `84912345678`; keeps `+84912345678`.
    pub fn parse(field: &str, value: &str) -> Result<Self, Invalid> {
        let trimmed = value.trim();
        let plus = trimmed.starts_with('+');
        let digits: String = trimmed.chars().filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')' | '+')).collect();
        let bad = || {
            Invalid::new(
                field,
                "invalid_format",
                "phone must be a Vietnamese number such as 0912345678 or +84912345678",
            )
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let national =
            if let Some(rest) = digits.strip_prefix("84").filter(|r| plus || r.len() >= 9 && !r.starts_with('0')) {
                rest.to_owned()
            } else if let Some(rest) = digits.strip_prefix('0').filter(|_| !plus) {
                rest.to_owned()
            } else {
                return Err(bad());
            };
        // Mobiles have 9 digits after the 0; landlines (area codes starting with 2) have 10.
        let valid = match national.as_bytes().first() {
            Some(b'2') => national.len() == 10,
            Some(b'3' | b'5' | b'7' | b'8' | b'9') => national.len() == 9,
            _ => false,
        };
        if !valid {
            return Err(bad());
        }
        Ok(Phone(format!("+84{national}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number as people write it at home (`0912345678`).
    pub fn national(&self) -> String {
        format!("0{}", &self.0[3..])
    }
}

/// A health-insurance number: the 10-digit social-insurance code, or the older 15-character
/// card number (two letters, then 13 digits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct InsuranceNumber(String);

impl InsuranceNumber {
    pub fn parse(field: &str, value: &str) -> Result<Self, Invalid> {
        let value: String = value.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase();
        let bytes = value.as_bytes();
        let code = bytes.len() == 10 && bytes.iter().all(u8::is_ascii_digit);
        let card = bytes.len() == 15
            && bytes[..2].iter().all(u8::is_ascii_uppercase)
            && bytes[2..].iter().all(u8::is_ascii_digit);
        if code || card {
            Ok(InsuranceNumber(value))
        } else {
            Err(Invalid::new(
                field,
                "invalid_format",
                "health-insurance number must be 10 digits, or 2 letters and 13 digits",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a person's record says, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Person {
    pub id: PersonId,
    /// Full name in NFC.
    pub full_name: String,
    /// `YYYY-MM-DD`, or `YYYY` when only the year is known.
    #[schema(value_type = String, example = "1987-03-21")]
    pub date_of_birth: BirthDate,
    pub sex: Sex,
    pub phone: Option<Phone>,
    pub cccd: Option<Cccd>,
    pub insurance_number: Option<InsuranceNumber>,
    /// The unit of the address: a commune or a unit below it.
    pub address_unit: UnitCode,
    pub street: String,
    /// The household unit the person belongs to, when known.
    pub household: Option<UnitCode>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Person {
    /// The search key of the person's name.
    pub fn folded_name(&self) -> String {
        text::fold(&self.full_name)
    }
}

/// A person's details as typed into a form or posted to the API, before any checks.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct NewPerson {
    pub full_name: String,
    /// `YYYY-MM-DD`, or `YYYY` when only the year is known.
    pub date_of_birth: String,
    /// `male` or `female`.
    pub sex: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub cccd: Option<String>,
    #[serde(default)]
    pub insurance_number: Option<String>,
    pub address_unit: String,
    #[serde(default)]
    pub street: String,
    #[serde(default)]
    pub household: Option<String>,
}

/// A person's details after every field was checked on its own and against the others.
#[derive(Debug, Clone)]
pub struct ValidPerson {
    pub full_name: String,
    pub date_of_birth: BirthDate,
    pub sex: Sex,
    pub phone: Option<Phone>,
    pub cccd: Option<Cccd>,
    pub insurance_number: Option<InsuranceNumber>,
    pub address_unit: UnitCode,
    pub street: String,
    pub household: Option<UnitCode>,
}

fn optional<T>(value: &Option<String>, parse: impl FnOnce(&str) -> Result<T, Invalid>) -> Result<Option<T>, Invalid> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => parse(text).map(Some),
    }
}

impl NewPerson {
    /// Checks every field, then the CCCD against sex and birth year; returns all problems.
    pub fn validate(&self, today: Date) -> Result<ValidPerson, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let full_name = errors.check(text_field("full_name", &self.full_name, 100, true));
        let date_of_birth = errors.check(BirthDate::parse("date_of_birth", &self.date_of_birth, today));
        let sex = errors.check(Sex::parse("sex", &self.sex));
        let phone = errors.check(optional(&self.phone, |p| Phone::parse("phone", p)));
        let cccd = errors.check(optional(&self.cccd, |c| Cccd::parse("cccd", c)));
        let insurance_number =
            errors.check(optional(&self.insurance_number, |n| InsuranceNumber::parse("insurance_number", n)));
        let address_unit = errors.check(UnitCode::parse("address_unit", &self.address_unit));
        let street = errors.check(text_field("street", &self.street, 200, false));
        let household = errors.check(optional(&self.household, |h| UnitCode::parse("household", h)));
        if let (Some(Some(cccd)), Some(sex), Some(birth)) = (&cccd, sex, date_of_birth) {
            errors.check(cccd.check_against("cccd", sex, birth));
        }
        match (full_name, date_of_birth, sex, phone, cccd, insurance_number, address_unit, street, household) {
            (
                Some(full_name),
                Some(date_of_birth),
                Some(sex),
                Some(phone),
                Some(cccd),
                Some(insurance_number),
                Some(address_unit),
                Some(street),
                Some(household),
            ) if errors.is_empty() => Ok(ValidPerson {
                full_name,
                date_of_birth,
                sex,
                phone,
                cccd,
                insurance_number,
                address_unit,
                street,
                household,
            }),
            _ => Err(errors),
        }
    }
}

impl ValidPerson {
    pub fn into_person(self, id: PersonId, now: OffsetDateTime) -> Person {
        Person {
            id,
            full_name: self.full_name,
            date_of_birth: self.date_of_birth,
            sex: self.sex,
            phone: self.phone,
            cccd: self.cccd,
            insurance_number: self.insurance_number,
            address_unit: self.address_unit,
            street: self.street,
            household: self.household,
            created_at: now,
            updated_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 21);

    fn person(cccd: &str, sex: &str, dob: &str) -> NewPerson {
        NewPerson {
            full_name: "Nguyễn Văn A".into(),
            date_of_birth: dob.into(),
            sex: sex.into(),
            cccd: Some(cccd.into()),
            address_unit: "00070".into(),
            ..NewPerson::default()
        }
    }

    #[test]
    fn cccd_agrees_with_sex_and_century() {
        assert!(person("001087012345", "male", "1987-03-21").validate(TODAY).is_ok());
        assert!(person("079303012345", "female", "2003").validate(TODAY).is_ok());
        assert!(person("079203012345", "male", "2003-01-01").validate(TODAY).is_ok());
    }

    #[test]
    fn cccd_contradictions_name_the_field() {
        for (cccd, sex, dob, code) in [
            ("001087012345", "female", "1987", "contradiction"),
            ("001087012345", "male", "1988", "contradiction"),
            ("001287012345", "male", "1987", "contradiction"),
            ("003087012345", "male", "1987", "invalid_province"),
            ("097087012345", "male", "1987", "invalid_province"),
            ("00108701234", "male", "1987", "invalid_format"),
            ("00108701234x", "male", "1987", "invalid_format"),
        ] {
            let errors = person(cccd, sex, dob).validate(TODAY).unwrap_err();
            assert_eq!(errors.0[0].field, "cccd", "{cccd}");
            assert_eq!(errors.0[0].code, code, "{cccd}");
        }
    }

    #[test]
    fn phones_normalise_to_e164() {
        for typed in ["0912345678", "0912 345 678", "+84912345678", "+84 912-345-678", "84912345678"] {
            assert_eq!(Phone::parse("phone", typed).unwrap().as_str(), "+84912345678", "{typed}");
        }
        assert_eq!(Phone::parse("phone", "02438253531").unwrap().as_str(), "+842438253531");
        assert_eq!(Phone::parse("phone", "+84912345678").unwrap().national(), "0912345678");
        for bad in ["12345", "0112345678", "09123456789", "+1 202 555 0100", "09x2345678", ""] {
            assert!(Phone::parse("phone", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn birth_dates_allow_year_alone() {
        assert_eq!(BirthDate::parse("d", "1950", TODAY).unwrap(), BirthDate::Year(1950));
        assert_eq!(BirthDate::parse("d", "1950", TODAY).unwrap().to_string(), "1950");
        assert!(BirthDate::parse("d", "2030-01-01", TODAY).is_err());
        assert!(BirthDate::parse("d", "1850", TODAY).is_err());
        assert!(BirthDate::parse("d", "21/03/1987", TODAY).is_err());
        assert_eq!(BirthDate::Full(date!(1987 - 11 - 22)).age_on(TODAY), 38);
    }

    #[test]
    fn insurance_numbers() {
        assert!(InsuranceNumber::parse("i", "dn4797932123456").is_ok());
        assert!(InsuranceNumber::parse("i", "7932123456").is_ok());
        assert!(InsuranceNumber::parse("i", "DN47979321234").is_err());
    }

    #[test]
    fn all_bad_fields_are_reported() {
        let errors = NewPerson { full_name: "x".repeat(101), ..NewPerson::default() }.validate(TODAY).unwrap_err();
        let fields: Vec<_> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["full_name", "date_of_birth", "sex", "address_unit"]);
    }
}
