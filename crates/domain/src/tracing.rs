//! Contact tracing rules: when a case was infectious, when two stays at a venue count as
//! co-presence, what a contact is (F1, F2), where each contact's follow-up stands and what
//! is due when.
//!
//! The engine that applies these rules to stored check-ins lives in the services; the
//! co-presence query in the stores uses [`copresence_margin`] and [`LONGEST_STAY`].

use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime, Time};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::Invalid;
use crate::unit::UnitCode;
use crate::venue::{VenueId, VenueKind};

/// The longest stay a check-in covers when nobody checks out (a shift at an office): the
/// co-presence query looks this far back for stays that were still going on.
pub const LONGEST_STAY: Duration = Duration::hours(8);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct ContactId(pub Uuid);

impl std::fmt::Display for ContactId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The settings of the tracing rules; [`TracingRules::default`] holds the usual ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TracingRules {
    /// How long before symptom onset (or the sample, without symptoms) a case is infectious.
    pub lead: Duration,
    /// How long a contact stays in quarantine after their last exposure.
    pub quarantine: Duration,
    /// Days after the exposure on which a contact is tested.
    pub test_days: [i64; 2],
    /// Contacts listed per venue visit of the case, at most: a case at a market or on a bus
    /// line meets thousands; the longest co-presences are listed and the rest only counted.
    /// Tracers call a few hundred people from one visit, not thousands: everyone at a hub
    /// is reached by declaring the venue exposed for the case's stay (narrow zoning), which
    /// the trace report offers for each visit with more visitors than it listed.
    pub hub_cap: u32,
    /// The same for each venue visit of an F1: F2s are many more and matter less, and the
    /// F2 search reads every listed one's check-in.
    pub f2_cap: u32,
}

impl Default for TracingRules {
    fn default() -> Self {
        TracingRules {
            lead: Duration::days(2),
            quarantine: Duration::days(14),
            test_days: [1, 7],
            hub_cap: 200,
            f2_cap: 50,
        }
    }
}

/// When a case could infect others: from `lead` before onset until isolation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct InfectiousWindow {
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub until: OffsetDateTime,
}

impl TracingRules {
    /// The infectious window of a case: from the start (in Vietnam) of the onset day — or
    /// the sample day when there were no symptoms, or the day of confirmation when neither
    /// is known — minus `lead`, until the case was confirmed (and isolated).
    pub fn infectious_window(
        &self,
        onset: Option<Date>,
        sample: Option<Date>,
        confirmed_at: OffsetDateTime,
    ) -> InfectiousWindow {
        let day = onset.or(sample).unwrap_or_else(|| crate::local_date(confirmed_at));
        let from =
            day.with_time(Time::MIDNIGHT).assume_offset(crate::VIETNAM).to_offset(time::UtcOffset::UTC) - self.lead;
        // An onset typed after the confirmation is a mistake; the lead still applies.
        InfectiousWindow { from: from.min(confirmed_at - self.lead), until: confirmed_at }
    }

    /// The end of a contact's quarantine after their last exposure.
    pub fn quarantine_until(&self, exposure: OffsetDateTime) -> OffsetDateTime {
        exposure + self.quarantine
    }

    /// The days (in Vietnam) on which a contact exposed at `exposure` is tested.
    pub fn test_days(&self, exposure: OffsetDateTime) -> Vec<Date> {
        let day = crate::local_date(exposure);
        self.test_days.iter().map(|d| day + Duration::days(*d)).collect()
    }
}

/// How long after one visitor leaves a venue another arriving still counts as co-present:
/// none in a vehicle (the ride is the contact), a few minutes in the open air, longer in
/// closed rooms where the air stays.
pub fn copresence_margin(kind: VenueKind) -> Duration {
    match kind {
        VenueKind::Bus | VenueKind::Vehicle => Duration::ZERO,
        VenueKind::Market | VenueKind::FruitWeighingPoint => Duration::minutes(10),
        VenueKind::Restaurant | VenueKind::Shop | VenueKind::PlaceOfWorship | VenueKind::Other => Duration::minutes(15),
        VenueKind::Office | VenueKind::Factory | VenueKind::School | VenueKind::Hospital => Duration::minutes(30),
    }
}

/// A stay at a venue: from arrival until the visit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Stay {
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub until: OffsetDateTime,
}

impl Stay {
    /// Whether two stays at one venue are co-presence: they overlap once each is extended
    /// by `margin` after it ends.
    pub fn meets(&self, other: &Stay, margin: Duration) -> bool {
        self.at < other.until + margin && other.at < self.until + margin
    }

    /// The time the two stays share; zero when they only meet within the margin.
    pub fn overlap(&self, other: &Stay) -> Duration {
        (self.until.min(other.until) - self.at.max(other.at)).max(Duration::ZERO)
    }

    /// When the two were last together: the end of their overlap, or the later arrival
    /// when they only met within the margin.
    pub fn last_exposure(&self, other: &Stay) -> OffsetDateTime {
        self.until.min(other.until).max(self.at.max(other.at))
    }

    /// When the two were first together.
    pub fn first_exposure(&self, other: &Stay) -> OffsetDateTime {
        self.at.max(other.at)
    }
}

/// Declares a closed list of words with their wire names.
macro_rules! words {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident => $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),* }

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
    /// How a contact met the case (or the F1, for an F2).
    ContactKind, "kind" {
        /// At the same venue at overlapping times.
        Venue => "venue",
        /// In the same household.
        Household => "household",
        /// Named by the case to a tracer.
        Named => "named",
        /// Close by, as exposure notification measured it (reserved).
        Proximity => "proximity",
    }
);

words!(
    /// Where a contact's follow-up stands.
    ContactStatus, "status" {
        /// Found; nobody has reached them yet.
        Identified => "identified",
        /// Told they are a contact and what to do.
        Notified => "notified",
        /// Quarantining at home or at a facility.
        Quarantining => "quarantining",
        /// Tested (on a test day) while in quarantine.
        Tested => "tested",
        /// Quarantine is over; final.
        Released => "released",
    }
);

impl ContactStatus {
    /// The statuses a contact may move to from this one. Follow-up goes one step at a time:
    /// a contact is told before quarantining, and released only from quarantine (after a
    /// test, or at its end); between test days a tested contact goes back to quarantine.
    pub fn next(self) -> &'static [ContactStatus] {
        use ContactStatus::*;
        match self {
            Identified => &[Notified],
            Notified => &[Quarantining],
            Quarantining => &[Tested, Released],
            Tested => &[Quarantining, Released],
            Released => &[],
        }
    }

    /// The statuses from which a contact may move to this one.
    pub fn previous(self) -> Vec<ContactStatus> {
        ContactStatus::ALL.iter().copied().filter(|from| from.next().contains(&self)).collect()
    }

    /// Checks a move from this status to `to`; staying (to change the note) is always allowed.
    pub fn check_move(self, field: &str, to: ContactStatus) -> Result<(), Invalid> {
        if self == to || self.next().contains(&to) {
            return Ok(());
        }
        let allowed: Vec<&str> = self.next().iter().map(|s| s.as_str()).collect();
        let message = if allowed.is_empty() {
            format!("the contact is {}: that is final", self.as_str())
        } else {
            format!("a contact who is {} can only become {}", self.as_str(), allowed.join(" or "))
        };
        Err(Invalid::new(field, "bad_transition", message))
    }

    /// Open statuses: someone still has to act on the contact.
    pub fn is_open(self) -> bool {
        self != ContactStatus::Released
    }
}

/// One visit at which a contact met the case (or the F1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VenueEncounter {
    pub venue: VenueId,
    pub code: String,
    pub name: String,
    /// The case's (or the F1's) stay, within the infectious window.
    pub source: Stay,
    /// The contact's stay.
    pub contact: Stay,
    /// Minutes the stays share; zero when they only met within the venue's margin.
    pub overlap_minutes: i64,
}

/// Why someone is a contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    /// Co-presence at venues: the longest encounters (at most [`MAX_ENCOUNTERS`]) and how
    /// many there were.
    Venue { encounters: Vec<VenueEncounter>, count: u32 },
    /// The same household unit.
    Household { household: UnitCode },
    /// Named by the case to a tracer.
    Named { by: String, note: String },
}

/// Venue encounters kept as one contact's evidence; the count says how many there were.
pub const MAX_ENCOUNTERS: usize = 5;

impl Evidence {
    pub fn kind(&self) -> ContactKind {
        match self {
            Evidence::Venue { .. } => ContactKind::Venue,
            Evidence::Household { .. } => ContactKind::Household,
            Evidence::Named { .. } => ContactKind::Named,
        }
    }
}

/// The id of an exposure: a venue declared exposed for a time window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct ExposureId(pub Uuid);

impl std::fmt::Display for ExposureId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The longest window a venue may be declared exposed for.
pub const MAX_EXPOSURE_WINDOW: Duration = Duration::days(14);

/// Why someone is a contact of an exposure (a venue declared exposed by staff), rather
/// than of a case. Kept apart from [`Evidence`], whose variants the case pages match on;
/// the contact kind of an exposure contact is [`ContactKind::Venue`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExposureEvidence {
    /// Checked in at the venue while it was exposed.
    Exposure {
        venue: VenueId,
        code: String,
        name: String,
        #[serde(with = "time::serde::rfc3339")]
        #[schema(value_type = String, format = DateTime)]
        window_from: OffsetDateTime,
        #[serde(with = "time::serde::rfc3339")]
        #[schema(value_type = String, format = DateTime)]
        window_until: OffsetDateTime,
        /// The contact's stay (the longest one in the window).
        stay: Stay,
    },
}

/// Checks an exposure window: it ends after it starts, lasts at most
/// [`MAX_EXPOSURE_WINDOW`] and does not start in the future (beyond the clock skew). An
/// end in the future is cut to `now` by the caller.
pub fn check_exposure_window(from: OffsetDateTime, until: OffsetDateTime, now: OffsetDateTime) -> Result<(), Invalid> {
    if until <= from {
        return Err(Invalid::new("until", "window_ends_before_it_starts", "the window must end after it starts"));
    }
    if until - from > MAX_EXPOSURE_WINDOW {
        return Err(Invalid::new("until", "window_too_long", "an exposure window lasts at most 14 days"));
    }
    if from > now + crate::venue::CLOCK_SKEW {
        return Err(Invalid::new("from", "in_future", "the window starts in the future"));
    }
    if until > now + crate::venue::CLOCK_SKEW {
        return Err(Invalid::new("until", "in_future", "the window ends in the future: declare what has happened"));
    }
    Ok(())
}

/// The id of a restriction: a unit (a neighbourhood, a commune) under restriction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct RestrictionId(pub Uuid);

impl std::fmt::Display for RestrictionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The longest a restriction lasts; a longer one is declared again when it ends, so that
/// someone looks at it again.
pub const MAX_RESTRICTION: Duration = Duration::days(28);

/// How far back a restriction may start: one decided yesterday is recorded today.
pub const RESTRICTION_BACKDATE: Duration = Duration::days(7);

/// Checks a restriction's window: it ends after it starts and after `now` (a restriction
/// that is already over restricts nothing), lasts at most [`MAX_RESTRICTION`], and starts
/// no more than [`RESTRICTION_BACKDATE`] ago.
pub fn check_restriction_window(
    from: OffsetDateTime,
    until: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<(), Invalid> {
    if until <= from {
        return Err(Invalid::new("until", "window_ends_before_it_starts", "the restriction must end after it starts"));
    }
    if until <= now {
        return Err(Invalid::new(
            "until",
            "already_over",
            "the restriction would already be over: it must end in the future",
        ));
    }
    if until - from > MAX_RESTRICTION {
        return Err(Invalid::new(
            "until",
            "window_too_long",
            "a restriction lasts at most 28 days; declare it again when it ends",
        ));
    }
    if from < now - RESTRICTION_BACKDATE {
        return Err(Invalid::new("from", "too_old", "a restriction starts at most 7 days ago"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn the_window_starts_two_days_before_onset_in_vietnam() {
        let rules = TracingRules::default();
        let confirmed = datetime!(2026-05-10 03:00 UTC);
        let window = rules.infectious_window(Some(date!(2026 - 05 - 07)), Some(date!(2026 - 05 - 09)), confirmed);
        // Midnight of 5 May in Vietnam is 17:00 UTC on 4 May.
        assert_eq!(window.from, datetime!(2026-05-04 17:00 UTC));
        assert_eq!(window.until, confirmed);
        let no_onset = rules.infectious_window(None, Some(date!(2026 - 05 - 09)), confirmed);
        assert_eq!(no_onset.from, datetime!(2026-05-06 17:00 UTC));
        let typo = rules.infectious_window(Some(date!(2026 - 06 - 01)), None, confirmed);
        assert_eq!(typo.from, confirmed - Duration::days(2));
    }

    #[test]
    fn stays_meet_within_the_margin_only() {
        let stay = |from: i64, to: i64| Stay {
            at: datetime!(2026-05-10 08:00 UTC) + Duration::minutes(from),
            until: datetime!(2026-05-10 08:00 UTC) + Duration::minutes(to),
        };
        let case = stay(0, 60);
        let margin = Duration::minutes(15);
        assert!(case.meets(&stay(30, 90), margin));
        assert_eq!(case.overlap(&stay(30, 90)), Duration::minutes(30));
        assert!(case.meets(&stay(74, 120), margin), "arrived 14 minutes after the case left");
        assert!(!case.meets(&stay(75, 120), margin), "arrived 15 minutes after the case left");
        assert!(!case.meets(&stay(-60, -15), margin), "left 15 minutes before the case arrived");
        assert!(case.meets(&stay(-60, -14), margin));
        assert_eq!(case.overlap(&stay(70, 120)), Duration::ZERO);
        assert_eq!(case.last_exposure(&stay(70, 120)), stay(70, 70).at);
        assert_eq!(case.last_exposure(&stay(30, 90)), stay(60, 60).at);
        assert!(!stay(0, 60).meets(&stay(60, 90), Duration::ZERO), "a bus ride that ends as the next begins");
    }

    #[test]
    fn follow_up_goes_step_by_step_and_release_is_final() {
        use ContactStatus::*;
        assert!(Identified.check_move("status", Notified).is_ok());
        assert!(Identified.check_move("status", Identified).is_ok());
        assert_eq!(Identified.check_move("status", Released).unwrap_err().code, "bad_transition");
        assert!(Identified.check_move("status", Quarantining).is_err());
        assert!(Tested.check_move("status", Quarantining).is_ok());
        assert!(Released.check_move("status", Quarantining).unwrap_err().message.contains("final"));
        assert_eq!(Released.previous(), [Quarantining, Tested]);
        assert_eq!(ContactStatus::parse("s", "quarantining").unwrap(), Quarantining);
        assert!(ContactStatus::parse("s", "cured").is_err());
    }

    #[test]
    fn due_dates_follow_the_exposure() {
        let rules = TracingRules::default();
        let exposure = datetime!(2026-05-10 20:00 UTC); // 11 May, 03:00 in Vietnam
        assert_eq!(rules.test_days(exposure), [date!(2026 - 05 - 12), date!(2026 - 05 - 18)]);
        assert_eq!(rules.quarantine_until(exposure), datetime!(2026-05-24 20:00 UTC));
    }

    #[test]
    fn every_venue_kind_has_a_margin_shorter_than_the_longest_stay() {
        for kind in VenueKind::ALL {
            assert!(copresence_margin(kind) <= Duration::minutes(30));
            assert!(kind.default_stay() <= LONGEST_STAY);
        }
    }
    #[test]
    fn exposure_windows_end_after_they_start_and_are_not_too_long() {
        let now = datetime!(2026-05-10 12:00 UTC);
        let ok = check_exposure_window(now - Duration::hours(3), now - Duration::hours(1), now);
        assert!(ok.is_ok());
        let back = check_exposure_window(now - Duration::hours(1), now - Duration::hours(3), now).unwrap_err();
        assert_eq!((back.field.as_str(), back.code), ("until", "window_ends_before_it_starts"));
        assert!(check_exposure_window(now - Duration::hours(1), now - Duration::hours(1), now).is_err());
        let long = check_exposure_window(now - Duration::days(15), now, now).unwrap_err();
        assert_eq!(long.code, "window_too_long");
        assert_eq!(check_exposure_window(now, now + Duration::hours(1), now).unwrap_err().code, "in_future");
        assert!(check_exposure_window(now - Duration::hours(1), now + Duration::minutes(4), now).is_ok());
    }

    #[test]
    fn restrictions_end_in_the_future_and_are_not_too_long() {
        let now = datetime!(2026-05-10 12:00 UTC);
        assert!(check_restriction_window(now, now + Duration::days(14), now).is_ok());
        let code = |from, until| check_restriction_window(from, until, now).unwrap_err().code;
        assert_eq!(code(now + Duration::days(2), now + Duration::days(1)), "window_ends_before_it_starts");
        assert_eq!(code(now - Duration::days(3), now - Duration::days(1)), "already_over");
        assert_eq!(code(now, now + Duration::days(29)), "window_too_long");
        assert_eq!(code(now - Duration::days(8), now + Duration::days(1)), "too_old");
    }
}
