//! Venues and what happens at them: check-ins and health declarations.
//!
//! A venue is a place or a vehicle with a QR poster. A check-in says who was there from
//! when until when; a repeated scan within a short window is the same visit. A health
//! declaration is flagged when it reports symptoms or contact with a known F0.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{Invalid, text_field};
use crate::person::{PersonId, Phone};
use crate::unit::UnitCode;

/// How long check-ins and declarations are kept unless configured otherwise.
pub const DEFAULT_RETENTION: Duration = Duration::days(21);
/// Two check-ins of one visitor at one venue closer than this are one visit.
pub const REPEAT_WINDOW: Duration = Duration::minutes(30);
/// Clocks on phones and gates drift: a check-in this far in the future is still accepted.
pub const CLOCK_SKEW: Duration = Duration::minutes(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct VenueId(pub Uuid);

impl std::fmt::Display for VenueId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VenueKind {
    Office,
    Factory,
    Shop,
    Market,
    Restaurant,
    School,
    Hospital,
    Bus,
    Vehicle,
    FruitWeighingPoint,
    PlaceOfWorship,
    Other,
}

impl VenueKind {
    pub const ALL: [VenueKind; 12] = [
        VenueKind::Office,
        VenueKind::Factory,
        VenueKind::Shop,
        VenueKind::Market,
        VenueKind::Restaurant,
        VenueKind::School,
        VenueKind::Hospital,
        VenueKind::Bus,
        VenueKind::Vehicle,
        VenueKind::FruitWeighingPoint,
        VenueKind::PlaceOfWorship,
        VenueKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VenueKind::Office => "office",
            VenueKind::Factory => "factory",
            VenueKind::Shop => "shop",
            VenueKind::Market => "market",
            VenueKind::Restaurant => "restaurant",
            VenueKind::School => "school",
            VenueKind::Hospital => "hospital",
            VenueKind::Bus => "bus",
            VenueKind::Vehicle => "vehicle",
            VenueKind::FruitWeighingPoint => "fruit_weighing_point",
            VenueKind::PlaceOfWorship => "place_of_worship",
            VenueKind::Other => "other",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, Invalid> {
        VenueKind::ALL.into_iter().find(|k| k.as_str() == value.trim()).ok_or_else(|| {
            let names: Vec<_> = VenueKind::ALL.iter().map(|k| k.as_str()).collect();
            Invalid::new(field, "invalid_value", format!("kind must be one of {}", names.join(", ")))
        })
    }

    /// Vehicles carry a licence plate.
    pub fn is_vehicle(self) -> bool {
        matches!(self, VenueKind::Bus | VenueKind::Vehicle)
    }

    /// How long a visit lasts when nobody checks out: a shift at work, a meal, a ride.
    pub fn default_stay(self) -> Duration {
        match self {
            VenueKind::Office | VenueKind::Factory | VenueKind::School => Duration::hours(8),
            VenueKind::Hospital => Duration::hours(4),
            VenueKind::Market | VenueKind::Restaurant | VenueKind::PlaceOfWorship => Duration::hours(2),
            VenueKind::Bus | VenueKind::Vehicle => Duration::hours(3),
            VenueKind::FruitWeighingPoint => Duration::hours(3),
            VenueKind::Shop | VenueKind::Other => Duration::hours(1),
        }
    }
}

/// The short code on a poster: 8 letters and digits without look-alikes (no 0/O, 1/I/L).
pub fn is_venue_code(code: &str) -> bool {
    code.len() == 8 && code.bytes().all(|b| VENUE_CODE_ALPHABET.contains(&b))
}

pub const VENUE_CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// A Vietnamese licence plate such as `51B-123.45` or `29A-12345`, kept upper case.
pub fn parse_plate(field: &str, plate: &str) -> Result<String, Invalid> {
    let plate = plate.trim().to_uppercase();
    let compact: String = plate.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let valid = (6..=10).contains(&compact.len())
        && compact[..2].bytes().all(|b| b.is_ascii_digit())
        && compact[2..].bytes().any(|b| b.is_ascii_uppercase())
        && plate.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ' '));
    if valid { Ok(plate) } else { Err(Invalid::new(field, "invalid_format", "plate must look like 51B-123.45")) }
}

/// A venue's details as typed in.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct NewVenue {
    pub name: String,
    /// `office`, `factory`, `shop`, `market`, `restaurant`, `school`, `hospital`, `bus`,
    /// `vehicle`, `fruit_weighing_point`, `place_of_worship` or `other`.
    pub kind: String,
    /// Licence plate, for buses and other vehicles.
    #[serde(default)]
    pub plate: Option<String>,
    /// The unit the venue is in (a commune or below); for vehicles, where they are based.
    pub unit: String,
    #[serde(default)]
    pub address: String,
    pub contact_phone: String,
}

/// A venue's details after checking.
#[derive(Debug, Clone)]
pub struct ValidVenue {
    pub name: String,
    pub kind: VenueKind,
    pub plate: Option<String>,
    pub unit: UnitCode,
    pub address: String,
    pub contact_phone: Phone,
}

impl NewVenue {
    pub fn validate(&self) -> Result<ValidVenue, crate::ValidationErrors> {
        let mut errors = crate::ValidationErrors::default();
        let name = errors.check(text_field("name", &self.name, 150, true));
        let kind = errors.check(VenueKind::parse("kind", &self.kind));
        let plate = match (kind, self.plate.as_deref().map(str::trim).filter(|p| !p.is_empty())) {
            (Some(k), Some(p)) if k.is_vehicle() => errors.check(parse_plate("plate", p).map(Some)),
            (Some(k), None) if k.is_vehicle() => {
                errors.push(Invalid::new("plate", "required", "a bus or vehicle needs its licence plate"));
                None
            }
            _ => Some(None),
        };
        let unit = errors.check(UnitCode::parse("unit", &self.unit));
        let address = errors.check(text_field("address", &self.address, 200, false));
        let contact_phone = errors.check(Phone::parse("contact_phone", &self.contact_phone));
        match (name, kind, plate, unit, address, contact_phone) {
            (Some(name), Some(kind), Some(plate), Some(unit), Some(address), Some(contact_phone))
                if errors.is_empty() =>
            {
                Ok(ValidVenue { name, kind, plate, unit, address, contact_phone })
            }
            _ => Err(errors),
        }
    }
}

/// Who checked in: a known person, or a phone number when the person is not known yet
/// (they can sign in with that phone later and see the visit).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Visitor {
    Person(PersonId),
    Phone(Phone),
}

impl Visitor {
    /// The key stored with a check-in: the person's id, or `tel:+84…`.
    pub fn key(&self) -> String {
        match self {
            Visitor::Person(id) => id.to_string(),
            Visitor::Phone(phone) => format!("tel:{}", phone.as_str()),
        }
    }

    /// The visitor a stored key names: the inverse of [`Visitor::key`]. A store keeps only
    /// the key and reads the person or phone back from it; a key that names neither (one
    /// written by hand) gives `None`.
    pub fn from_key(key: &str) -> Option<Visitor> {
        match key.strip_prefix("tel:") {
            Some(phone) => Phone::parse("visitor", phone).ok().map(Visitor::Phone),
            None => Visitor::person_in_key(key).map(Visitor::Person),
        }
    }

    /// The person a stored key names, without reading a phone key's number.
    pub fn person_in_key(key: &str) -> Option<PersonId> {
        if key.starts_with("tel:") {
            return None;
        }
        Uuid::parse_str(key).ok().map(PersonId)
    }

    pub fn person(&self) -> Option<PersonId> {
        match self {
            Visitor::Person(id) => Some(*id),
            Visitor::Phone(_) => None,
        }
    }

    pub fn phone(&self) -> Option<&Phone> {
        match self {
            Visitor::Phone(phone) => Some(phone),
            Visitor::Person(_) => None,
        }
    }
}

/// Checks a check-in's time: not from the future (beyond clock skew), not older than the
/// retention period.
pub fn check_time(field: &str, at: OffsetDateTime, now: OffsetDateTime, retention: Duration) -> Result<(), Invalid> {
    if at > now + CLOCK_SKEW {
        return Err(Invalid::new(field, "in_future", "the time is in the future; check the device's clock"));
    }
    if at < now - retention {
        return Err(Invalid::new(
            field,
            "too_old",
            format!("the time is older than the {}-day retention period", retention.whole_days()),
        ));
    }
    Ok(())
}

/// Symptoms a declaration can report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Symptom {
    Fever,
    Cough,
    ShortnessOfBreath,
    LossOfTasteOrSmell,
    SoreThroat,
    Fatigue,
    MusclePain,
    Diarrhoea,
}

impl Symptom {
    pub const ALL: [Symptom; 8] = [
        Symptom::Fever,
        Symptom::Cough,
        Symptom::ShortnessOfBreath,
        Symptom::LossOfTasteOrSmell,
        Symptom::SoreThroat,
        Symptom::Fatigue,
        Symptom::MusclePain,
        Symptom::Diarrhoea,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Symptom::Fever => "fever",
            Symptom::Cough => "cough",
            Symptom::ShortnessOfBreath => "shortness_of_breath",
            Symptom::LossOfTasteOrSmell => "loss_of_taste_or_smell",
            Symptom::SoreThroat => "sore_throat",
            Symptom::Fatigue => "fatigue",
            Symptom::MusclePain => "muscle_pain",
            Symptom::Diarrhoea => "diarrhoea",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, Invalid> {
        Symptom::ALL
            .into_iter()
            .find(|s| s.as_str() == value.trim())
            .ok_or_else(|| Invalid::new(field, "invalid_value", format!("{value:?} is not a known symptom")))
    }
}

/// A health declaration as typed in, with a check-in or on its own.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct NewDeclaration {
    #[serde(default)]
    pub symptoms: Vec<String>,
    /// Contact with a known F0 in the last 14 days.
    #[serde(default)]
    pub f0_contact: bool,
    /// Places visited in the last 14 days, in the person's words.
    #[serde(default)]
    pub places_visited: String,
    /// Domestic movement: from unit, to unit, date (`YYYY-MM-DD`), vehicle.
    #[serde(default)]
    pub movement: Option<NewMovement>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct NewMovement {
    pub from_unit: String,
    pub to_unit: String,
    pub date: String,
    #[serde(default)]
    pub vehicle: String,
}

/// A checked declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidDeclaration {
    pub symptoms: Vec<Symptom>,
    pub f0_contact: bool,
    pub places_visited: String,
    pub movement: Option<Movement>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Movement {
    pub from_unit: UnitCode,
    pub to_unit: UnitCode,
    #[schema(value_type = String)]
    pub date: time::Date,
    pub vehicle: String,
}

impl ValidDeclaration {
    /// Flagged declarations are shown at the venue at once and listed for the commune.
    pub fn flagged(&self) -> bool {
        self.f0_contact || !self.symptoms.is_empty()
    }
}

impl NewDeclaration {
    pub fn validate(&self, today: time::Date) -> Result<ValidDeclaration, Invalid> {
        let mut symptoms = Vec::new();
        for (i, s) in self.symptoms.iter().enumerate() {
            let symptom = Symptom::parse(&format!("symptoms[{i}]"), s)?;
            if !symptoms.contains(&symptom) {
                symptoms.push(symptom);
            }
        }
        let places_visited = text_field("places_visited", &self.places_visited, 1000, false)?;
        let movement = match &self.movement {
            None => None,
            Some(m) => {
                let format = time::macros::format_description!("[year]-[month]-[day]");
                let date = time::Date::parse(m.date.trim(), format)
                    .map_err(|_| Invalid::new("movement.date", "invalid_format", "date must be YYYY-MM-DD"))?;
                if date > today + Duration::days(30) || date < today - Duration::days(30) {
                    return Err(Invalid::new(
                        "movement.date",
                        "out_of_range",
                        "the journey must be within 30 days of today",
                    ));
                }
                Some(Movement {
                    from_unit: UnitCode::parse("movement.from_unit", &m.from_unit)?,
                    to_unit: UnitCode::parse("movement.to_unit", &m.to_unit)?,
                    date,
                    vehicle: text_field("movement.vehicle", &m.vehicle, 100, false)?,
                })
            }
        };
        Ok(ValidDeclaration { symptoms, f0_contact: self.f0_contact, places_visited, movement })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vehicles_need_plates() {
        let bus = NewVenue {
            name: "Xe buýt số 8".into(),
            kind: "bus".into(),
            unit: "00070".into(),
            contact_phone: "0912345678".into(),
            ..NewVenue::default()
        };
        assert_eq!(bus.validate().unwrap_err().0[0].field, "plate");
        let with_plate = NewVenue { plate: Some("29B-123.45".into()), ..bus };
        assert_eq!(with_plate.validate().unwrap().plate.as_deref(), Some("29B-123.45"));
        assert!(parse_plate("p", "ABC").is_err());
    }

    #[test]
    fn a_visitor_is_read_back_from_its_key() {
        let person = Visitor::Person(PersonId::new());
        let phone = Visitor::Phone(Phone::parse("p", "0912345678").unwrap());
        for visitor in [person, phone] {
            assert_eq!(Visitor::from_key(&visitor.key()), Some(visitor));
        }
        assert_eq!(Visitor::person_in_key("tel:+84912345678"), None);
        assert_eq!(Visitor::from_key("case"), None);
        assert_eq!(Visitor::from_key("tel:12"), None);
    }

    #[test]
    fn times_inside_retention_only() {
        let now = crate::now();
        assert!(check_time("at", now, now, DEFAULT_RETENTION).is_ok());
        assert!(check_time("at", now + Duration::minutes(4), now, DEFAULT_RETENTION).is_ok());
        assert_eq!(check_time("at", now + Duration::hours(1), now, DEFAULT_RETENTION).unwrap_err().code, "in_future");
        assert_eq!(check_time("at", now - Duration::days(22), now, DEFAULT_RETENTION).unwrap_err().code, "too_old");
    }

    #[test]
    fn declarations_flag_symptoms_and_contacts() {
        let today = crate::now().date();
        let quiet = NewDeclaration::default().validate(today).unwrap();
        assert!(!quiet.flagged());
        let fever = NewDeclaration { symptoms: vec!["fever".into(), "fever".into()], ..NewDeclaration::default() };
        assert_eq!(fever.validate(today).unwrap().symptoms, [Symptom::Fever]);
        assert!(NewDeclaration { f0_contact: true, ..NewDeclaration::default() }.validate(today).unwrap().flagged());
        let bad = NewDeclaration { symptoms: vec!["hiccups".into()], ..NewDeclaration::default() };
        assert_eq!(bad.validate(today).unwrap_err().field, "symptoms[0]");
    }

    #[test]
    fn venue_codes() {
        assert!(is_venue_code("AB23CD45"));
        assert!(!is_venue_code("AB23CD4O"));
        assert!(!is_venue_code("ab23cd45"));
    }
}
