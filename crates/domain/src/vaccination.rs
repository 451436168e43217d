//! Vaccination: priority groups, vaccine products, organisations, registrations, sessions,
//! invitations and doses, with the rules a dose must satisfy.
//!
//! Products are a fixed national list, each mapped to the EU Digital COVID Certificate value
//! sets so that a dose can become a certificate. Priority groups are a national list that
//! national admins edit. The dose rules ([`check_dose`]) compare a new dose with the
//! person's history: its number must follow the doses already given, and it must not come
//! before the minimum interval after the previous one.

use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime, Time};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{Invalid, text_field};
use crate::person::BirthDate;

ids!(OrganisationId, RegistrationId, SiteId, VaccinationSessionId, InvitationId, DoseId, AdverseEventId);

/// The least time between the end of a primary series and a booster.
pub const BOOSTER_INTERVAL: Duration = Duration::days(90);
/// Doses beyond the primary series a person may have (boosters).
pub const MAX_BOOSTERS: u8 = 2;
/// How long an invitation waits for an answer before its slot goes to the next in line.
pub const INVITATION_TTL: Duration = Duration::hours(48);

words!(
    /// How a vaccine works, for people; the certificate uses the product's prophylaxis code.
    VaccineType, "vaccine type" {
        ViralVector => "viral_vector",
        Mrna => "mrna",
        Inactivated => "inactivated",
        ProteinSubunit => "protein_subunit",
    }
);

words!(
    /// Where an organisation's application stands.
    OrganisationStatus, "organisation status" { Pending => "pending", Approved => "approved", Rejected => "rejected" }
);

words!(
    /// What an organisation is, as the unit's health staff see it.
    OrganisationKind, "organisation kind" {
        Company => "company",
        Agency => "agency",
        School => "school",
        Market => "market",
        Other => "other",
    }
);

words!(
    /// Where an invitation stands: offered by SMS, then confirmed, declined or let lapse.
    InvitationStatus, "invitation status" {
        Offered => "offered",
        Confirmed => "confirmed",
        Declined => "declined",
        Expired => "expired",
        Attended => "attended",
    }
);

words!(
    /// How serious an adverse event after vaccination is.
    Severity, "severity" { Mild => "mild", Moderate => "moderate", Severe => "severe" }
);

words!(
    /// Where the follow-up of an adverse event stands.
    AdverseStatus, "adverse event status" { Reported => "reported", FollowingUp => "following_up", Closed => "closed" }
);

words!(
    /// The age bands coverage is counted in (65+ is its own band, as the response reported it).
    AgeBand, "age band" { Under18 => "0-17", From18 => "18-49", From50 => "50-64", From65 => "65+" }
);

impl AgeBand {
    pub fn of(birth: BirthDate, on: Date) -> AgeBand {
        match birth.age_on(on) {
            ..18 => AgeBand::Under18,
            18..50 => AgeBand::From18,
            50..65 => AgeBand::From50,
            _ => AgeBand::From65,
        }
    }
}

/// A vaccine product on the national list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Product {
    /// Outbreak's short code (`comirnaty`), used in files, forms and the API.
    pub code: &'static str,
    pub name: &'static str,
    pub manufacturer: &'static str,
    pub vaccine_type: VaccineType,
    /// Doses that make the primary series.
    pub primary_doses: u8,
    /// Least days between two doses of the primary series.
    pub min_interval_days: i64,
    /// EU value set `vaccine-medicinal-product` (certificate field `mp`).
    pub eu_product: &'static str,
    /// EU value set `vaccine-mah-manf` (certificate field `ma`).
    pub eu_manufacturer: &'static str,
    /// EU value set `vaccine-prophylaxis` (certificate field `vp`).
    pub eu_prophylaxis: &'static str,
}

impl Product {
    pub fn min_interval(&self) -> Duration {
        Duration::days(self.min_interval_days)
    }
}

/// The products Vietnam used, with their schedules (Ministry of Health guidance, 2021).
pub const PRODUCTS: &[Product] = &[
    Product {
        code: "vaxzevria",
        name: "Vaxzevria (AstraZeneca)",
        manufacturer: "AstraZeneca AB",
        vaccine_type: VaccineType::ViralVector,
        primary_doses: 2,
        min_interval_days: 56,
        eu_product: "EU/1/21/1529",
        eu_manufacturer: "ORG-100001699",
        eu_prophylaxis: "J07BX03",
    },
    Product {
        code: "comirnaty",
        name: "Comirnaty (Pfizer-BioNTech)",
        manufacturer: "Biontech Manufacturing GmbH",
        vaccine_type: VaccineType::Mrna,
        primary_doses: 2,
        min_interval_days: 21,
        eu_product: "EU/1/20/1528",
        eu_manufacturer: "ORG-100030215",
        eu_prophylaxis: "1119349007",
    },
    Product {
        code: "spikevax",
        name: "Spikevax (Moderna)",
        manufacturer: "Moderna Biotech Spain S.L.",
        vaccine_type: VaccineType::Mrna,
        primary_doses: 2,
        min_interval_days: 28,
        eu_product: "EU/1/20/1507",
        eu_manufacturer: "ORG-100031184",
        eu_prophylaxis: "1119349007",
    },
    Product {
        code: "covilo",
        name: "Covilo (Sinopharm BIBP)",
        manufacturer: "China Sinopharm International Corp. - Beijing location",
        vaccine_type: VaccineType::Inactivated,
        primary_doses: 2,
        min_interval_days: 21,
        eu_product: "BBIBP-CorV",
        eu_manufacturer: "ORG-100020693",
        eu_prophylaxis: "1157024006",
    },
    Product {
        code: "sputnik_v",
        name: "Sputnik V (Gam-COVID-Vac)",
        manufacturer: "Gamaleya Research Institute",
        vaccine_type: VaccineType::ViralVector,
        primary_doses: 2,
        min_interval_days: 21,
        eu_product: "Sputnik-V",
        eu_manufacturer: "Gamaleya-Research-Institute",
        eu_prophylaxis: "29061000087103",
    },
    Product {
        code: "abdala",
        name: "Abdala (CIGB-66)",
        manufacturer: "Center for Genetic Engineering and Biotechnology",
        vaccine_type: VaccineType::ProteinSubunit,
        primary_doses: 3,
        min_interval_days: 14,
        eu_product: "Abdala",
        eu_manufacturer: "CIGB",
        eu_prophylaxis: "1162643001",
    },
    Product {
        code: "janssen",
        name: "Jcovden (Janssen)",
        manufacturer: "Janssen-Cilag International",
        vaccine_type: VaccineType::ViralVector,
        primary_doses: 1,
        min_interval_days: 0,
        eu_product: "EU/1/20/1525",
        eu_manufacturer: "ORG-100001417",
        eu_prophylaxis: "29061000087103",
    },
];

/// The product with this code (case and surrounding spaces ignored), or why not.
pub fn product(field: &str, code: &str) -> Result<&'static Product, Invalid> {
    let wanted = code.trim().to_ascii_lowercase().replace([' ', '-'], "_");
    PRODUCTS.iter().find(|p| p.code == wanted).ok_or_else(|| {
        let codes: Vec<&str> = PRODUCTS.iter().map(|p| p.code).collect();
        Invalid::new(
            field,
            "unknown_product",
            format!("{code:?} is not a known vaccine; use one of {}", codes.join(", ")),
        )
    })
}

/// A priority group on the national list; lower ranks are invited first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PriorityGroup {
    /// A short stable code (`health_workers`), used in files and the API.
    pub code: String,
    pub rank: i32,
    pub name: String,
    pub name_en: String,
}

impl PriorityGroup {
    /// Checks a group typed by a national admin.
    pub fn new(code: &str, rank: i32, name: &str, name_en: &str) -> Result<PriorityGroup, Invalid> {
        let code = code.trim().to_ascii_lowercase();
        if code.is_empty()
            || code.len() > 40
            || !code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(Invalid::new("code", "invalid_format", "a group code is 1–40 lowercase letters, digits or _"));
        }
        if !(1..=1000).contains(&rank) {
            return Err(Invalid::new("rank", "out_of_range", "rank must be between 1 and 1000"));
        }
        Ok(PriorityGroup {
            code,
            rank,
            name: text_field("name", name, 200, true)?,
            name_en: text_field("name_en", name_en, 200, true)?,
        })
    }
}

/// The national list Outbreak starts with (Resolution 21/NQ-CP, 2021, in its order).
pub fn national_priority_groups() -> Vec<PriorityGroup> {
    [
        ("health_workers", "Người làm việc trong cơ sở y tế, ngành y tế", "Health workers"),
        ("frontline", "Người tham gia phòng chống dịch", "Frontline pandemic response"),
        ("military_police", "Lực lượng quân đội, công an", "Military and police"),
        ("diplomats_customs", "Nhân viên ngoại giao, hải quan, xuất nhập cảnh", "Diplomats, customs and immigration"),
        ("essential_services", "Người cung cấp dịch vụ thiết yếu", "Essential services"),
        ("teachers", "Giáo viên, người làm việc tại cơ sở giáo dục", "Teachers and school staff"),
        ("chronic_or_65", "Người mắc bệnh mạn tính, người trên 65 tuổi", "Chronic illness or over 65"),
        ("epidemic_areas", "Người sinh sống tại vùng có dịch", "People living in epidemic areas"),
        ("poor_social", "Người nghèo, đối tượng chính sách xã hội", "Poor and social-policy beneficiaries"),
        ("general", "Người dân khác", "Everyone else"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (code, name, name_en))| PriorityGroup {
        code: (*code).into(),
        rank: i as i32 + 1,
        name: (*name).into(),
        name_en: (*name_en).into(),
    })
    .collect()
}

/// A time slot of a session, in Vietnam's local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Slot {
    #[schema(value_type = String, example = "07:30")]
    #[serde(with = "hhmm")]
    pub start: Time,
    #[schema(value_type = String, example = "09:00")]
    #[serde(with = "hhmm")]
    pub end: Time,
    /// People this slot takes.
    pub capacity: i64,
}

mod hhmm {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Time;

    const FORMAT: &[time::format_description::FormatItem<'static>] =
        time::macros::format_description!("[hour]:[minute]");

    pub fn serialize<S: Serializer>(t: &Time, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.format(FORMAT).map_err(serde::ser::Error::custom)?)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Time, D::Error> {
        let text = String::deserialize(d)?;
        Time::parse(text.trim(), FORMAT).map_err(|_| serde::de::Error::custom("a time is HH:MM, e.g. 07:30"))
    }
}

/// Checks a session's slots: at least one, each ending after it starts, none overlapping,
/// each taking 1–10,000 people.
pub fn check_slots(slots: &[Slot]) -> Result<(), Invalid> {
    if slots.is_empty() || slots.len() > 48 {
        return Err(Invalid::new("slots", "invalid_value", "a session has 1 to 48 time slots"));
    }
    let mut sorted = slots.to_vec();
    sorted.sort_by_key(|s| s.start);
    for (i, slot) in sorted.iter().enumerate() {
        if slot.end <= slot.start {
            return Err(Invalid::new("slots", "invalid_value", "each time slot must end after it starts"));
        }
        if !(1..=10_000).contains(&slot.capacity) {
            return Err(Invalid::new("slots", "out_of_range", "each time slot takes 1 to 10,000 people"));
        }
        if i > 0 && sorted[i - 1].end > slot.start {
            return Err(Invalid::new("slots", "overlap", "time slots must not overlap"));
        }
    }
    Ok(())
}

/// A dose already given, as far as the rules need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriorDose {
    pub product: &'static Product,
    pub dose_number: u8,
    pub given_at: OffsetDateTime,
}

/// Whether doses (in order of giving) complete the primary series of the first product.
pub fn primary_complete(doses: &[PriorDose]) -> bool {
    doses.first().is_some_and(|first| doses.len() >= usize::from(first.product.primary_doses))
}

/// The number the next dose must carry, and the earliest instant it may be given.
pub fn next_dose(history: &[PriorDose]) -> (u8, Option<OffsetDateTime>) {
    let number = history.len() as u8 + 1;
    let Some(last) = history.last() else { return (1, None) };
    let interval = if primary_complete(history) { BOOSTER_INTERVAL } else { last.product.min_interval() };
    (number, Some(last.given_at + interval))
}

/// Checks a dose against the person's history (doses in order of giving, corrections
/// applied): its number must be the next one, it must not come before the minimum interval
/// after the previous dose, nor before it, and a person gets at most [`MAX_BOOSTERS`]
/// boosters. Each refusal says what was wrong and what would be right.
pub fn check_dose(history: &[PriorDose], dose_number: u8, given_at: OffsetDateTime) -> Result<(), Invalid> {
    let (expected, earliest) = next_dose(history);
    if dose_number != expected {
        let given = history.len();
        return Err(Invalid::new(
            "dose_number",
            "contradicts_history",
            format!(
                "this person has {given} dose(s) on record, so the next dose is number {expected}, not {dose_number}"
            ),
        ));
    }
    if let Some(first) = history.first() {
        let limit = usize::from(first.product.primary_doses) + usize::from(MAX_BOOSTERS);
        if history.len() >= limit {
            return Err(Invalid::new(
                "dose_number",
                "series_complete",
                format!("this person already has the primary series and {MAX_BOOSTERS} booster(s)"),
            ));
        }
    }
    if let (Some(last), Some(earliest)) = (history.last(), earliest)
        && given_at < earliest
    {
        let days = (given_at - last.given_at).whole_days();
        let needed = (earliest - last.given_at).whole_days();
        let after = if primary_complete(history) { "the primary series" } else { last.product.name };
        return Err(Invalid::new(
            "given_at",
            "too_early",
            format!(
                "dose {dose_number} comes {days} day(s) after the previous dose; at least {needed} days must pass \
                 after {after} (earliest {})",
                crate::local_date(earliest)
            ),
        ));
    }
    Ok(())
}

/// A screening question asked before every dose. An answer of "yes" to a question that
/// defers the dose means the vaccinator must not give it today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct ScreeningQuestion {
    pub code: &'static str,
    pub text: &'static str,
    pub text_en: &'static str,
    /// Whether a "yes" means no dose today.
    pub defers: bool,
}

/// The Ministry of Health's pre-vaccination screening (Decision 3802/QĐ-BYT, shortened).
pub const SCREENING: &[ScreeningQuestion] = &[
    ScreeningQuestion {
        code: "allergy",
        text: "Từng bị phản vệ hoặc dị ứng nặng với vắc xin hay thành phần của vắc xin?",
        text_en: "Ever had anaphylaxis or a severe allergy to a vaccine or its components?",
        defers: true,
    },
    ScreeningQuestion {
        code: "acute_illness",
        text: "Đang sốt hoặc mắc bệnh cấp tính?",
        text_en: "Fever or an acute illness now?",
        defers: true,
    },
    ScreeningQuestion {
        code: "recent_covid",
        text: "Mắc COVID-19 trong vòng 3 tháng qua?",
        text_en: "COVID-19 in the last 3 months?",
        defers: true,
    },
    ScreeningQuestion { code: "pregnant", text: "Đang mang thai?", text_en: "Pregnant?", defers: false },
    ScreeningQuestion {
        code: "immunosuppressed",
        text: "Suy giảm miễn dịch hoặc đang dùng thuốc ức chế miễn dịch?",
        text_en: "Immunosuppressed or on immunosuppressive drugs?",
        defers: false,
    },
    ScreeningQuestion {
        code: "anticoagulant",
        text: "Đang dùng thuốc chống đông máu?",
        text_en: "On anticoagulants?",
        defers: false,
    },
];

/// Checks that every screening question was answered and none defers the dose; returns the
/// answers in the list's order.
pub fn check_screening(answers: &std::collections::BTreeMap<String, bool>) -> Result<Vec<(String, bool)>, Invalid> {
    let mut checked = Vec::new();
    for q in SCREENING {
        let Some(&yes) = answers.get(q.code) else {
            return Err(Invalid::new(format!("screening.{}", q.code), "required", format!("answer: {}", q.text_en)));
        };
        if yes && q.defers {
            return Err(Invalid::new(
                format!("screening.{}", q.code),
                "deferred",
                format!("no dose today: the answer to \"{}\" was yes; refer to a doctor", q.text_en),
            ));
        }
        checked.push((q.code.to_owned(), yes));
    }
    if let Some(unknown) = answers.keys().find(|k| !SCREENING.iter().any(|q| q.code == k.as_str())) {
        return Err(Invalid::new(format!("screening.{unknown}"), "unknown_question", "no such screening question"));
    }
    Ok(checked)
}

/// Checks a vaccine lot number as printed on the vial: 3–30 letters, digits or `-`.
pub fn lot_number(field: &str, value: &str) -> Result<String, Invalid> {
    let lot = value.trim().to_ascii_uppercase();
    if !(3..=30).contains(&lot.len()) || !lot.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(Invalid::new(field, "invalid_format", "a lot number is 3–30 letters, digits or -"));
    }
    Ok(lot)
}

/// Checks a reason for a correction or a decision: required, at most 500 characters.
pub fn reason(field: &str, value: &str) -> Result<String, Invalid> {
    text_field(field, value, 500, true)
}

/// The lowest-ranked (most urgent) of the candidates first, then the oldest, then the
/// earliest registered: the order in which the allocator invites.
pub fn allocation_key(group_rank: i32, birth: BirthDate, registered_at: OffsetDateTime) -> (i32, i32, OffsetDateTime) {
    let born = match birth {
        BirthDate::Full(d) => d.to_julian_day(),
        BirthDate::Year(y) => Date::from_calendar_date(y, time::Month::January, 1).map_or(0, Date::to_julian_day),
    };
    (group_rank, born, registered_at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn prior(code: &str, n: u8, at: OffsetDateTime) -> PriorDose {
        PriorDose { product: product("p", code).unwrap(), dose_number: n, given_at: at }
    }

    #[test]
    fn every_product_has_a_schedule_and_is_found_by_code() {
        // That its EU codes are in the value sets is checked against the value sets
        // themselves, in formats/tests/dcc_valuesets.rs.
        for p in PRODUCTS {
            assert!(!p.eu_product.is_empty() && !p.eu_manufacturer.is_empty() && !p.eu_prophylaxis.is_empty());
            assert!(p.primary_doses >= 1);
        }
        assert_eq!(product("p", " Sputnik-V ").unwrap().code, "sputnik_v");
        assert_eq!(product("p", "coronavac").unwrap_err().code, "unknown_product");
    }

    #[test]
    fn a_second_dose_before_the_interval_is_refused() {
        let first = datetime!(2021-08-01 08:00 UTC);
        let history = [prior("vaxzevria", 1, first)];
        let early = check_dose(&history, 2, first + Duration::days(30)).unwrap_err();
        assert_eq!(early.code, "too_early");
        assert!(early.message.contains("56"), "{}", early.message);
        check_dose(&history, 2, first + Duration::days(56)).unwrap();
    }

    #[test]
    fn a_dose_number_contradicting_history_is_refused() {
        let at = datetime!(2021-09-01 08:00 UTC);
        assert_eq!(check_dose(&[], 2, at).unwrap_err().code, "contradicts_history");
        let history = [prior("comirnaty", 1, at)];
        assert_eq!(check_dose(&history, 1, at + Duration::days(30)).unwrap_err().code, "contradicts_history");
        check_dose(&[], 1, at).unwrap();
    }

    #[test]
    fn boosters_wait_after_a_complete_series() {
        let at = datetime!(2021-07-01 08:00 UTC);
        let janssen = [prior("janssen", 1, at)];
        assert!(primary_complete(&janssen));
        assert_eq!(check_dose(&janssen, 2, at + Duration::days(30)).unwrap_err().code, "too_early");
        check_dose(&janssen, 2, at + Duration::days(90)).unwrap();
        let full = [
            prior("janssen", 1, at),
            prior("comirnaty", 2, at + Duration::days(100)),
            prior("comirnaty", 3, at + Duration::days(200)),
        ];
        assert_eq!(check_dose(&full, 4, at + Duration::days(400)).unwrap_err().code, "series_complete");
    }

    #[test]
    fn age_bands_include_65_plus() {
        let on = time::macros::date!(2021 - 09 - 01);
        assert_eq!(AgeBand::of(BirthDate::Year(1950), on), AgeBand::From65);
        assert_eq!(AgeBand::of(BirthDate::Full(time::macros::date!(1956 - 09 - 02)), on), AgeBand::From50);
        assert_eq!(AgeBand::of(BirthDate::Year(2010), on), AgeBand::Under18);
    }

    #[test]
    fn screening_needs_every_answer_and_defers_on_contraindications() {
        let mut answers: std::collections::BTreeMap<String, bool> =
            SCREENING.iter().map(|q| (q.code.to_owned(), false)).collect();
        assert_eq!(check_screening(&answers).unwrap().len(), SCREENING.len());
        answers.insert("acute_illness".into(), true);
        assert_eq!(check_screening(&answers).unwrap_err().code, "deferred");
        answers.remove("acute_illness");
        assert_eq!(check_screening(&answers).unwrap_err().code, "required");
    }

    #[test]
    fn slots_must_not_overlap() {
        let t = |h, m| Time::from_hms(h, m, 0).unwrap();
        let ok = [
            Slot { start: t(7, 30), end: t(9, 0), capacity: 50 },
            Slot { start: t(9, 0), end: t(11, 0), capacity: 50 },
        ];
        check_slots(&ok).unwrap();
        let bad = [ok[0], Slot { start: t(8, 0), end: t(10, 0), capacity: 5 }];
        assert_eq!(check_slots(&bad).unwrap_err().code, "overlap");
    }
}
