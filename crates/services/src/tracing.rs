//! Contact tracing: from a confirmed case (F0) to its contacts (F1) and theirs (F2), and
//! the tracers' follow-up of each contact.
//!
//! The engine asks the store two questions — who met these visitors at a venue, and who
//! shares these people's households — once for the case in its infectious window and once
//! for all its F1s from their exposure on, then records who is new. It runs on demand and
//! by itself for every `case.confirmed` event (from the notifier's loop, so the contacts it
//! finds are told in the same round). A contact is followed up by the tracers where they
//! live; the case's tracers still see how it stands.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};

use outbreak_domain::testing::{CaseId, CaseStatus};
use outbreak_domain::tracing::{
    ContactId, ContactStatus, Evidence, ExposureEvidence, InfectiousWindow, LONGEST_STAY, MAX_ENCOUNTERS, Stay,
    TracingRules, VenueEncounter,
};
use outbreak_domain::venue::{CLOCK_SKEW, VenueId, Visitor};
use outbreak_domain::{Invalid, Permission, PersonId, Phone, Principal, local_date, now};
use outbreak_store::{
    CaseRow, Checkin, CoPresence, Contact, ContactCount, ContactFilter, Event, ExposureContact, HouseholdMember,
    NewAuditEntry, NewContact, Presence,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::checkins::VisitorId;
use crate::{Caller, Result, ServiceError, Services, audit_entry};

/// The outbox consumer name under which automatic tracing keeps its place.
const TRACER: &str = "tracing";
/// `case.confirmed` events read per round.
const TRACE_ROUND: u32 = 50;
/// F1s whose co-presence the first store query of the F2 search looks up; each next query
/// takes twice as many, up to [`SOURCES_PER_QUERY`]. The closest F1s go first, and one F1
/// who shops at a market meets thousands: small first steps keep the search from reading
/// far past its limits.
const FIRST_SOURCES: usize = 8;
/// F1s whose co-presence one store query looks up, at most.
const SOURCES_PER_QUERY: usize = 200;
/// F2s found per case, at most; the report says when the search stopped there. Ten
/// thousand people asked to watch their health is already a district's work for a week.
const MAX_F2: usize = 10_000;
/// Other visitors' stays the F2 search reads, at most, before it stops (and says so). A
/// case at a market has hundreds of F1s, many of whom shop there every day, and each of
/// their visits meets thousands again: without a bound the search reads the commune's
/// fortnight many times over to find the same people. The closest F1s are searched first,
/// so the bound leaves out the F2s of the most distant ones.
const F2_STAYS: u64 = 150_000;
/// Contacts a case's list shows; the counts cover them all.
const LIST_LIMIT: u32 = 10_000;
/// Contacts of a case read when tracing it again.
const ALL_CONTACTS: u32 = 1_000_000;
const QUEUE_LIMIT: u32 = 500;
/// Open follow-ups shown to a citizen for one person: more than anyone has at once.
const MY_CONTACTS: u32 = 20;

/// What one run of tracing found for a case.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TraceReport {
    pub case: CaseId,
    /// When the case was infectious: the F1 search covers it.
    pub window: InfectiousWindow,
    /// The case's check-ins in the window.
    pub checkins: u64,
    /// F1 and F2 contacts of the case now, and how many of them this run added.
    pub f1: u64,
    pub f2: u64,
    pub new_f1: u64,
    pub new_f2: u64,
    /// The case's venue visits in the window, with how many others met each.
    pub venues: Vec<VisitReport>,
    /// Check-ins that met the case (or an F1) at busy venues beyond the listing cap: counted,
    /// not listed as contacts.
    pub unlisted_f1: u64,
    pub unlisted_f2: u64,
    /// True when the F2 search stopped at its limits (F2s listed or stays read) before it
    /// had looked around every F1: the closest F1s' contacts are the ones listed.
    pub f2_truncated: bool,
    /// The figures in a sentence, Vietnamese then English.
    pub summary: String,
}

/// One venue visit of the case within its infectious window.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VisitReport {
    pub venue: VenueId,
    pub code: String,
    pub name: String,
    /// The case's stay, cut to the window.
    pub stay: Stay,
    /// Other visitors' check-ins that met the stay.
    pub visitors: u64,
    /// How many of them are listed (the longest together first, up to the hub cap).
    pub listed: u64,
}

/// How far a run of tracing goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TraceDepth {
    /// The case's contacts only: what tracers call first.
    F1,
    /// The contacts of the F1s too.
    #[default]
    F2,
}

/// A case's contacts with their counts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseContacts {
    pub case: CaseId,
    pub f1: u64,
    pub f2: u64,
    /// Contacts per generation and status.
    pub counts: Vec<ContactCount>,
    /// F1s first; at most 10,000.
    pub contacts: Vec<Contact>,
}

/// How a citizen came to be followed up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Exposed {
    /// A close contact of a case (F1).
    CloseContact,
    /// A contact of a close contact (F2).
    ContactOfContact,
    /// Checked in at a venue while it was declared exposed.
    AtExposedVenue,
}

/// A follow-up as the person followed up sees it: their own side only, never the case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ContactNotice {
    /// The registered person's name, else the name given when checking in by phone alone.
    pub full_name: String,
    pub how: Exposed,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub exposure_at: OffsetDateTime,
    /// Where they were exposed, when it was at a venue.
    pub venue: Option<String>,
    /// Their own stay at that venue.
    pub stay: Option<Stay>,
    pub status: ContactStatus,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub quarantine_until: OffsetDateTime,
    #[schema(value_type = Vec<String>)]
    pub test_days: Vec<time::Date>,
}

impl ContactNotice {
    fn of(full_name: Option<&str>, contact: Contact) -> ContactNotice {
        let (venue, stay) = match contact.evidence {
            Evidence::Venue { encounters, .. } => encounters.into_iter().next().map(|e| (e.name, e.contact)).unzip(),
            Evidence::Household { .. } | Evidence::Named { .. } => (None, None),
        };
        ContactNotice {
            full_name: full_name.unwrap_or(&contact.name).to_owned(),
            how: if contact.generation == 1 { Exposed::CloseContact } else { Exposed::ContactOfContact },
            exposure_at: contact.exposure_at,
            venue,
            stay,
            status: contact.status,
            quarantine_until: contact.quarantine_until,
            test_days: contact.test_days,
        }
    }

    fn of_exposure(full_name: Option<&str>, contact: ExposureContact) -> ContactNotice {
        let full_name = full_name.unwrap_or(&contact.name).to_owned();
        let ExposureEvidence::Exposure { name, stay, .. } = contact.evidence;
        ContactNotice {
            full_name,
            how: Exposed::AtExposedVenue,
            exposure_at: contact.exposure_at,
            venue: Some(name),
            stay: Some(stay),
            status: contact.status,
            quarantine_until: contact.quarantine_until,
            test_days: contact.test_days,
        }
    }
}

/// A contact the case names to a tracer.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct NamedContact {
    /// Who: exactly one of a scanned personal QR, CCCD, insurance number, person id, or a
    /// phone (with a name).
    pub visitor: VisitorId,
    /// When they were last together; the end of the infectious window when absent.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub exposed_at: Option<OffsetDateTime>,
    /// How the case knows them, where they met.
    #[serde(default)]
    pub note: String,
}

/// Someone found while tracing, before they are recorded.
#[derive(Debug, Clone)]
struct Candidate {
    generation: u8,
    /// For an F2, the F1's visitor key.
    via: Option<String>,
    person: Option<PersonId>,
    name: String,
    phone: Option<Phone>,
    unit_path: String,
    evidence: Evidence,
    first: OffsetDateTime,
    last: OffsetDateTime,
}

impl Candidate {
    fn met_at(row: &CoPresence, generation: u8, via: Option<String>) -> Candidate {
        Candidate {
            generation,
            via,
            person: row.person,
            name: row.name.clone(),
            phone: row.phone.clone(),
            unit_path: row.home_path.clone().unwrap_or_else(|| row.venue_path.clone()),
            evidence: Evidence::Venue {
                encounters: vec![VenueEncounter {
                    venue: row.venue,
                    code: row.venue_code.clone(),
                    name: row.venue_name.clone(),
                    source: row.source_stay,
                    contact: row.stay,
                    overlap_minutes: row.source_stay.overlap(&row.stay).whole_minutes(),
                }],
                count: 1,
            },
            first: row.source_stay.first_exposure(&row.stay),
            last: row.source_stay.last_exposure(&row.stay),
        }
    }

    fn lives_with(
        member: &HouseholdMember,
        generation: u8,
        via: Option<String>,
        first: OffsetDateTime,
        last: OffsetDateTime,
    ) -> Candidate {
        Candidate {
            generation,
            via,
            person: Some(member.person),
            name: member.full_name.clone(),
            phone: member.phone.clone(),
            unit_path: member.address_path.clone(),
            evidence: Evidence::Household { household: member.household.clone() },
            first,
            last,
        }
    }

    /// Folds another finding of the same visitor in: a household is the closer tie; venue
    /// encounters add up and the longest are kept.
    fn merge(&mut self, other: Candidate) {
        self.first = self.first.min(other.first);
        self.last = self.last.max(other.last);
        if matches!((&self.evidence, &other.evidence), (Evidence::Venue { .. }, Evidence::Household { .. })) {
            self.evidence = other.evidence;
            self.unit_path = other.unit_path;
            return;
        }
        if let (Evidence::Venue { encounters, count }, Evidence::Venue { encounters: more, count: n }) =
            (&mut self.evidence, other.evidence)
        {
            encounters.extend(more);
            encounters.sort_by(|a, b| b.overlap_minutes.cmp(&a.overlap_minutes).then(a.source.at.cmp(&b.source.at)));
            encounters.truncate(MAX_ENCOUNTERS);
            *count += n;
        }
    }

    fn into_new(self, visitor: String, case: CaseId, rules: &TracingRules, at: OffsetDateTime) -> NewContact {
        NewContact {
            id: ContactId(Uuid::now_v7()),
            case,
            generation: self.generation,
            via_visitor: self.via,
            person: self.person,
            visitor,
            name: self.name,
            phone: self.phone,
            evidence: self.evidence,
            exposure_at: self.last,
            unit_path: self.unit_path,
            quarantine_until: rules.quarantine_until(self.last),
            test_days: rules.test_days(self.last),
            created_at: at,
        }
    }
}

fn add(found: &mut BTreeMap<String, Candidate>, visitor: String, candidate: Candidate) {
    match found.entry(visitor) {
        Entry::Occupied(mut seen) => seen.get_mut().merge(candidate),
        Entry::Vacant(new) => {
            new.insert(candidate);
        }
    }
}

/// Where the F2 search starts: each F1, found now or by an earlier run, with when they
/// were first exposed and how close they were to the case, and the F1s who are people.
struct F2Seeds {
    f1_from: BTreeMap<String, (OffsetDateTime, Closeness)>,
    f1_people: Vec<PersonId>,
}

impl F2Seeds {
    fn of(f1: &BTreeMap<String, Candidate>, existing: &[Contact]) -> F2Seeds {
        let mut f1_from: BTreeMap<String, (OffsetDateTime, Closeness)> =
            f1.iter().map(|(k, c)| (k.clone(), (c.first, closeness(&c.evidence)))).collect();
        let mut f1_people: Vec<PersonId> = f1.values().filter_map(|c| c.person).collect();
        for c in existing.iter().filter(|c| c.generation == 1) {
            if !f1_from.contains_key(c.visitor.as_str()) {
                f1_from.insert(c.visitor.clone(), (c.exposure_at, closeness(&c.evidence)));
                f1_people.extend(c.person);
            }
        }
        F2Seeds { f1_from, f1_people }
    }
}

/// The F2s found, the check-ins counted beyond the caps, and whether the search stopped at
/// its limits.
type F2Found = (BTreeMap<String, Candidate>, u64, bool);

/// How close an F1 was to the case, the closest least: the household, a contact the case
/// named, then venue encounters by the longest time together.
type Closeness = (u8, i64);

fn closeness(evidence: &Evidence) -> Closeness {
    match evidence {
        Evidence::Household { .. } => (0, 0),
        Evidence::Named { .. } => (1, 0),
        Evidence::Venue { encounters, .. } => (2, -encounters.iter().map(|e| e.overlap_minutes).max().unwrap_or(0)),
    }
}

/// Per source visit: the check-ins that met it, and how many of them are listed.
fn visit_counts(rows: &[CoPresence]) -> HashMap<i64, (u64, u64)> {
    let mut counts: HashMap<i64, (u64, u64)> = HashMap::new();
    for r in rows {
        let entry = counts.entry(r.source_checkin).or_insert((r.met, 0));
        entry.1 += 1;
    }
    counts
}

fn unlisted(rows: &[CoPresence]) -> u64 {
    visit_counts(rows).values().map(|(met, listed)| met.saturating_sub(*listed)).sum()
}

/// The part of a check-in's stay inside the window; `None` when it lies outside.
fn stay_within(checkin: &Checkin, window: &InfectiousWindow) -> Option<Stay> {
    (checkin.at < window.until && checkin.until > window.from)
        .then(|| Stay { at: checkin.at.max(window.from), until: checkin.until.min(window.until) })
}

/// The case's venue visits in the window (from its check-ins since the window's start
/// less the longest stay), with the others who met each.
fn case_visits(checkins: Vec<Checkin>, window: &InfectiousWindow, rows: &[CoPresence]) -> Vec<VisitReport> {
    let counts = visit_counts(rows);
    let mut visits: Vec<VisitReport> = checkins
        .into_iter()
        .filter_map(|c| {
            let stay = stay_within(&c, window)?;
            let (visitors, listed) = counts.get(&c.id).copied().unwrap_or((0, 0));
            Some(VisitReport { venue: c.venue, code: c.venue_code, name: c.venue_name, stay, visitors, listed })
        })
        .collect();
    visits.sort_by_key(|v| v.stay.at);
    visits
}

/// A time in the window that none of the case's visits spans or ends at, with about as
/// many visits before it as after; `None` when the visits leave no such time.
fn cut_between_visits(checkins: &[Checkin], window: &InfectiousWindow) -> Option<OffsetDateTime> {
    let mut stays: Vec<(OffsetDateTime, OffsetDateTime)> =
        checkins.iter().filter_map(|c| stay_within(c, window)).map(|s| (s.at, s.until)).collect();
    stays.sort_unstable();
    // The start of a visit is a cut when every visit before it has ended earlier, and the
    // visit itself lasts (a stay of no length at the cut would fall in neither part).
    let mut reach = window.from;
    let mut cuts = Vec::new();
    for (i, &(at, until)) in stays.iter().enumerate() {
        if i > 0 && reach < at && at < until {
            cuts.push((i, at));
        }
        reach = reach.max(until);
    }
    let middle = stays.len() / 2;
    cuts.into_iter().min_by_key(|(i, _)| i.abs_diff(middle)).map(|(_, at)| at)
}

/// A day in Vietnam as people write it: 15/08/2021.
fn day_text(at: OffsetDateTime) -> String {
    let day = local_date(at);
    format!("{:02}/{:02}/{}", day.day(), u8::from(day.month()), day.year())
}

fn summary(report: &TraceReport) -> String {
    let window = format!("{} – {}", day_text(report.window.from), day_text(report.window.until));
    if report.checkins == 0 && report.f1 == 0 {
        return format!(
            "Ca bệnh không có lượt check-in nào trong thời gian lây nhiễm ({window}) và không có người cùng hộ: chưa tìm thấy người tiếp xúc. Hãy hỏi ca bệnh và ghi người tiếp xúc được kể tên. / The case has no check-ins in its infectious window ({window}) and no household members: no contacts were found. Ask the case and add the contacts they name."
        );
    }
    format!(
        "{} F1 ({} mới), {} F2 ({} mới) từ {} lượt check-in trong thời gian lây nhiễm ({window}). / {} F1 ({} new), {} F2 ({} new) from {} check-ins in the infectious window ({window}).",
        report.f1,
        report.new_f1,
        report.f2,
        report.new_f2,
        report.checkins,
        report.f1,
        report.new_f1,
        report.f2,
        report.new_f2,
        report.checkins
    )
}

impl Services {
    /// Traces a case now: its F1s and F2s, recording who is new (audited).
    pub async fn trace_case(&self, caller: &Caller, id: CaseId) -> Result<TraceReport> {
        self.trace_case_to(caller, id, TraceDepth::F2).await
    }

    /// Traces a case now to `depth`, recording who is new (audited).
    pub async fn trace_case_to(&self, caller: &Caller, id: CaseId, depth: TraceDepth) -> Result<TraceReport> {
        let row = self.store.case(id).await?.ok_or_else(|| ServiceError::NotFound("case".into()))?;
        self.authorize_unit(caller, Permission::ManageCases, &row.case.unit_path)?;
        if row.case.status == CaseStatus::Discarded {
            return Err(Invalid::new("case", "discarded", "this case was discarded; there is nothing to trace").into());
        }
        let audit = |detail: &str| audit_entry(caller, "case.trace", "case", &id.to_string(), detail);
        self.run_trace(&row, depth, &audit).await
    }

    /// Traces the cases confirmed since the last round (the notifier's loop calls this);
    /// returns how many events it handled. A case that cannot be traced is logged and left
    /// for tracing on demand.
    pub async fn trace_pending(&self) -> Result<usize> {
        let cursor = self.store.event_cursor(TRACER).await?;
        let events = self.store.events_after(cursor, &["case.confirmed"], TRACE_ROUND).await?;
        for event in &events {
            if let Err(e) = self.trace_confirmed(event).await {
                ::tracing::warn!(error = %e, case = %event.subject, "automatic tracing failed; trace the case on demand");
            }
            self.store.set_event_cursor(TRACER, event.seq).await?;
        }
        Ok(events.len())
    }

    async fn trace_confirmed(&self, event: &Event) -> Result<()> {
        let Ok(id) = event.subject.parse::<Uuid>() else { return Ok(()) };
        let Some(row) = self.store.case(CaseId(id)).await? else { return Ok(()) };
        // A case from long ago (a store that had no tracing yet) has nobody left to warn.
        if row.case.status == CaseStatus::Discarded || row.case.confirmed_at + self.config.tracing.quarantine < now() {
            return Ok(());
        }
        let audit = |detail: &str| NewAuditEntry {
            at: now(),
            actor: TRACER.into(),
            actor_kind: "system".into(),
            action: "case.trace".into(),
            entity: "case".into(),
            entity_id: id.to_string(),
            detail: detail.into(),
            client: "outbox".into(),
        };
        self.run_trace(&row, TraceDepth::F2, &audit).await.map(|_| ())
    }

    /// The engine: F1 over the infectious window, F2 from each F1's exposure until now.
    /// The new F1s and the new F2s are recorded in a transaction each, each audited: should
    /// the F2 search fail, the F1s stay recorded and tracing again adds the F2s.
    async fn run_trace(
        &self,
        row: &CaseRow,
        depth: TraceDepth,
        audit: &(dyn Fn(&str) -> NewAuditEntry + Sync),
    ) -> Result<TraceReport> {
        let rules = self.config.tracing;
        let case = &row.case;
        let window = rules.infectious_window(case.onset_date, case.sample_date, case.confirmed_at);
        let at_now = now();
        // The case checks in as a person, and perhaps by phone alone.
        let mut case_keys = vec![Visitor::Person(case.person).key()];
        if let Some(phone) = self.store.person(case.person).await?.and_then(|r| r.person.phone) {
            case_keys.push(Visitor::Phone(phone).key());
        }
        let existing = self.store.case_contacts(case.id, ALL_CONTACTS).await?;
        // Where a trace's time goes, for the debug log.
        let started = std::time::Instant::now();

        // F1: met at a venue while the case was infectious, or living with the case.
        let case_checkins = self.store.checkins_of(&case_keys, window.from - LONGEST_STAY).await?;
        let rows = self.f1_copresence(&case_keys, &case_checkins, &window, rules.hub_cap).await?;
        let mut f1 = BTreeMap::new();
        for r in rows.iter().filter(|r| !case_keys.contains(&r.visitor)) {
            add(&mut f1, r.visitor.clone(), Candidate::met_at(r, 1, None));
        }
        for m in self.store.household_members(&[case.person]).await? {
            add(
                &mut f1,
                Visitor::Person(m.person).key(),
                Candidate::lives_with(&m, 1, None, window.from, window.until),
            );
        }
        let visits = case_visits(case_checkins, &window, &rows);
        let f1_took = started.elapsed();

        let known: HashSet<&str> = existing.iter().map(|c| c.visitor.as_str()).collect();
        let new_contacts = |found: BTreeMap<String, Candidate>| -> Vec<NewContact> {
            found
                .into_iter()
                .filter(|(visitor, _)| !known.contains(visitor.as_str()))
                .map(|(visitor, c)| c.into_new(visitor, case.id, &rules, at_now))
                .collect()
        };
        let found_f1 = f1.len();
        let seeds = (depth == TraceDepth::F2).then(|| F2Seeds::of(&f1, &existing));
        let new_f1 = new_contacts(f1);
        let f1_detail = format!("{found_f1} F1 found; {} new", new_f1.len());
        let record_f1 =
            async { Ok::<_, ServiceError>(self.store.insert_contacts(new_f1, vec![audit(&f1_detail)]).await?) };
        // The F1s are recorded while their own contacts are searched: the store's writer
        // and its readers work at once. What the F2 search finds is recorded after it.
        let (mut added, (f2, unlisted_f2, f2_truncated)) = match &seeds {
            None => (record_f1.await?, F2Found::default()),
            Some(seeds) => tokio::try_join!(record_f1, self.find_f2(&case_keys, seeds, &window, at_now))?,
        };
        let found_took = started.elapsed();
        if seeds.is_some() {
            let found_f2 = f2.len();
            let new_f2 = new_contacts(f2);
            let f2_detail = format!("{found_f2} F2 found; {} new", new_f2.len());
            added.extend(self.store.insert_contacts(new_f2, vec![audit(&f2_detail)]).await?);
        }
        ::tracing::debug!(
            case = %case.id,
            find_f1_ms = f1_took.as_millis() as u64,
            record_f1_find_f2_ms = (found_took - f1_took).as_millis() as u64,
            record_f2_ms = (started.elapsed() - found_took).as_millis() as u64,
            recorded = added.len(),
            "traced"
        );
        if !added.is_empty() {
            self.wake_notifier();
        }
        let of = |contacts: &[Contact], generation: u8| contacts.iter().filter(|c| c.generation == generation).count();
        let (new_f1, new_f2) = (of(&added, 1) as u64, of(&added, 2) as u64);
        let mut report = TraceReport {
            case: case.id,
            window,
            checkins: visits.len() as u64,
            f1: of(&existing, 1) as u64 + new_f1,
            f2: of(&existing, 2) as u64 + new_f2,
            new_f1,
            new_f2,
            unlisted_f1: unlisted(&rows),
            venues: visits,
            unlisted_f2,
            f2_truncated,
            summary: String::new(),
        };
        report.summary = summary(&report);
        Ok(report)
    }

    /// F2: met an F1 at a venue since the F1's exposure, or lives with one. The case and
    /// every F1 (found now or before) are never listed again as F2. Returns them with the
    /// check-ins counted beyond the caps and whether the search stopped at its limit.
    async fn find_f2(
        &self,
        case_keys: &[String],
        seeds: &F2Seeds,
        window: &InfectiousWindow,
        at_now: OffsetDateTime,
    ) -> Result<F2Found> {
        let rules = self.config.tracing;
        let F2Seeds { f1_from, f1_people } = seeds;
        let not_f2: HashSet<&str> =
            case_keys.iter().map(String::as_str).chain(f1_from.keys().map(String::as_str)).collect();
        // The closest F1s first: when the search stops at its limit, theirs are the F2s listed.
        let mut ordered: Vec<(&str, OffsetDateTime, Closeness)> = f1_from
            .iter()
            .filter(|(_, (from, _))| *from < at_now)
            .map(|(k, (from, c))| (k.as_str(), *from, *c))
            .collect();
        ordered.sort_by(|a, b| a.2.cmp(&b.2).then(a.0.cmp(b.0)));
        let f2_sources: Vec<Presence> = ordered
            .iter()
            .map(|(k, from, _)| Presence { visitor: (*k).to_owned(), from: *from, until: at_now })
            .collect();
        let mut f2 = BTreeMap::new();
        let (mut unlisted_f2, mut f2_truncated) = (0, false);
        let (mut next, mut size, mut stays) = (0, FIRST_SOURCES, 0);
        while next < f2_sources.len() {
            if f2.len() >= MAX_F2 || stays >= F2_STAYS {
                f2_truncated = true;
                break;
            }
            let chunk = &f2_sources[next..(next + size).min(f2_sources.len())];
            (next, size) = (next + chunk.len(), (size * 2).min(SOURCES_PER_QUERY));
            let rows = self.copresence_in_halves(chunk, rules.f2_cap).await?;
            stays += visit_counts(&rows).values().map(|(met, _)| met).sum::<u64>();
            unlisted_f2 += unlisted(&rows);
            for r in rows.iter().filter(|r| !not_f2.contains(r.visitor.as_str())) {
                add(&mut f2, r.visitor.clone(), Candidate::met_at(r, 2, Some(r.source.clone())));
            }
        }
        for m in self.store.household_members(f1_people).await? {
            let (visitor, via) = (Visitor::Person(m.person).key(), Visitor::Person(m.of).key());
            if not_f2.contains(visitor.as_str()) {
                continue;
            }
            let from = f1_from.get(via.as_str()).map_or(window.from, |(from, _)| *from);
            add(&mut f2, visitor, Candidate::lives_with(&m, 2, Some(via), from, at_now));
        }

        Ok((f2, unlisted_f2, f2_truncated))
    }

    /// Who met the case at venues in its window. When the case's visits leave room, the
    /// window is asked in two parts at once, on two connections, cut between two visits so
    /// that each visit falls whole in one part: each part then finds what one question
    /// would for its visits, and the rows are put back in that question's order (by source,
    /// then by stay).
    async fn f1_copresence(
        &self,
        case_keys: &[String],
        checkins: &[Checkin],
        window: &InfectiousWindow,
        cap: u32,
    ) -> Result<Vec<CoPresence>> {
        let sources = |from, until| -> Vec<Presence> {
            case_keys.iter().map(|k| Presence { visitor: k.clone(), from, until }).collect()
        };
        let Some(cut) = cut_between_visits(checkins, window) else {
            return Ok(self.store.copresence(&sources(window.from, window.until), cap).await?);
        };
        let mut rows = self.copresence_at_once(&sources(window.from, cut), &sources(cut, window.until), cap).await?;
        rows.sort_by_key(|r| case_keys.iter().position(|k| *k == r.source));
        Ok(rows)
    }

    /// The store's co-presence of many sources, asked in two halves at once, so a step of
    /// the F2 search takes both cores. What a source met depends on that source alone, so
    /// the halves' rows, joined in order, are the rows of one question.
    async fn copresence_in_halves(&self, sources: &[Presence], cap: u32) -> Result<Vec<CoPresence>> {
        if sources.len() < 2 {
            return Ok(self.store.copresence(sources, cap).await?);
        }
        let (first, second) = sources.split_at(sources.len() / 2);
        self.copresence_at_once(first, second, cap).await
    }

    /// Two co-presence questions at once, each on a store connection of its own: the rows
    /// of the first, then those of the second.
    async fn copresence_at_once(&self, first: &[Presence], second: &[Presence], cap: u32) -> Result<Vec<CoPresence>> {
        let (mut rows, more) = tokio::try_join!(self.store.copresence(first, cap), self.store.copresence(second, cap))?;
        rows.extend(more);
        Ok(rows)
    }

    /// A case's contacts and their counts (audited).
    pub async fn contacts(&self, caller: &Caller, id: CaseId) -> Result<CaseContacts> {
        let row = self.store.case(id).await?.ok_or_else(|| ServiceError::NotFound("case".into()))?;
        self.authorize_unit(caller, Permission::ManageCases, &row.case.unit_path)?;
        let counts = self.store.count_case_contacts(id).await?;
        let contacts = self.store.case_contacts(id, LIST_LIMIT).await?;
        let total = |generation| counts.iter().filter(|c| c.generation == generation).map(|c| c.contacts).sum();
        self.audit(caller, "contact.list", "case", &id.to_string(), &format!("{} contacts", contacts.len())).await?;
        Ok(CaseContacts { case: id, f1: total(1), f2: total(2), counts, contacts })
    }

    /// Adds a contact the case named (audited); `Conflict` when they are a contact already.
    pub async fn name_contact(&self, caller: &Caller, id: CaseId, named: &NamedContact) -> Result<Contact> {
        let row = self.store.case(id).await?.ok_or_else(|| ServiceError::NotFound("case".into()))?;
        self.authorize_unit(caller, Permission::ManageCases, &row.case.unit_path)?;
        let note = outbreak_domain::error::text_field("note", &named.note, 1000, false)?;
        let at = now();
        if named.exposed_at.is_some_and(|exposed| exposed > at + CLOCK_SKEW) {
            return Err(Invalid::new("exposed_at", "in_future", "exposed_at is in the future").into());
        }
        let (visitor, given_name) = self.identify(&named.visitor).await?;
        let (person, name, phone, unit_path) = match &visitor {
            Visitor::Person(person) => {
                if *person == row.case.person {
                    return Err(Invalid::new("visitor", "is_the_case", "this is the case's own person").into());
                }
                let record =
                    self.store.person(*person).await?.ok_or_else(|| ServiceError::NotFound("person".into()))?;
                (Some(*person), record.person.full_name.clone(), record.person.phone.clone(), record.address_path)
            }
            // Known only by phone: the case's tracers follow them up.
            Visitor::Phone(phone) => (None, given_name, Some(phone.clone()), row.case.unit_path.clone()),
        };
        let rules = self.config.tracing;
        let window = rules.infectious_window(row.case.onset_date, row.case.sample_date, row.case.confirmed_at);
        let exposure = named.exposed_at.unwrap_or(window.until);
        let key = visitor.key();
        let contact = NewContact {
            id: ContactId(Uuid::now_v7()),
            case: id,
            generation: 1,
            via_visitor: None,
            person,
            visitor: key.clone(),
            name,
            phone,
            evidence: Evidence::Named { by: caller.principal.actor(), note },
            exposure_at: exposure,
            unit_path,
            quarantine_until: rules.quarantine_until(exposure),
            test_days: rules.test_days(exposure),
            created_at: at,
        };
        let audit = audit_entry(caller, "contact.name", "case", &id.to_string(), &key);
        match self.store.insert_contacts(vec![contact], vec![audit]).await?.pop() {
            Some(added) => {
                self.wake_notifier();
                Ok(added)
            }
            None => {
                let existing = self.store.case_contacts(id, ALL_CONTACTS).await?;
                Err(ServiceError::Conflict {
                    field: "visitor".into(),
                    message: "this person is already a contact of the case".into(),
                    existing: existing.iter().find(|c| c.visitor == key).map(|c| c.id.to_string()),
                })
            }
        }
    }

    /// The tracer's queue: contacts living (or met, when their home is unknown) in the
    /// caller's jurisdiction, in `status` or else every open status, the earliest quarantine
    /// end first (audited).
    pub async fn contact_queue(&self, caller: &Caller, status: Option<&str>) -> Result<Vec<Contact>> {
        let scope = self.authorize(caller, Permission::ManageCases)?;
        let statuses = match status.map(str::trim).filter(|s| !s.is_empty()) {
            Some(status) => vec![ContactStatus::parse("status", status)?],
            None => ContactStatus::ALL.iter().copied().filter(|s| s.is_open()).collect(),
        };
        let filter = ContactFilter { scope: scope.paths, statuses, person: None, limit: QUEUE_LIMIT };
        let queue = self.store.contact_queue(&filter).await?;
        self.audit(caller, "contact.queue", "contact", "", &format!("{} contacts", queue.len())).await?;
        Ok(queue)
    }

    /// What a signed-in citizen's own page tells them: for each person registered with their
    /// phone, the follow-ups still open (as a case's contact where that person lives, or as a
    /// visitor of a venue declared exposed), the earliest quarantine end first. Only their
    /// own side of it: when and where they were exposed, never who the case is or when the
    /// case was there.
    pub async fn my_contacts(&self, caller: &Caller) -> Result<Vec<ContactNotice>> {
        let Principal::Citizen { phone } = &caller.principal else {
            return Err(ServiceError::Forbidden("this page is for citizens".into()));
        };
        let open: Vec<ContactStatus> = ContactStatus::ALL.iter().copied().filter(|s| s.is_open()).collect();
        let mut notices = Vec::new();
        for record in self.store.people_by_phone(phone).await? {
            let filter = ContactFilter {
                scope: vec![record.address_path.clone()],
                statuses: open.clone(),
                person: Some(record.id()),
                limit: MY_CONTACTS,
            };
            let name = Some(record.person.full_name.as_str());
            notices.extend(self.store.contact_queue(&filter).await?.into_iter().map(|c| ContactNotice::of(name, c)));
            let exposures =
                self.store.visitor_exposure_contacts(&Visitor::Person(record.id()).key(), MY_CONTACTS).await?;
            notices.extend(
                exposures.into_iter().filter(|c| c.status.is_open()).map(|c| ContactNotice::of_exposure(name, c)),
            );
        }
        // Check-ins by phone without an account name the phone, and so do the contacts and
        // exposures they led to.
        let key = Visitor::Phone(phone.clone()).key();
        let contacts = self.store.phone_contacts(&key, MY_CONTACTS).await?;
        notices.extend(contacts.into_iter().filter(|c| c.status.is_open()).map(|c| ContactNotice::of(None, c)));
        let exposures = self.store.visitor_exposure_contacts(&key, MY_CONTACTS).await?;
        notices
            .extend(exposures.into_iter().filter(|c| c.status.is_open()).map(|c| ContactNotice::of_exposure(None, c)));
        notices.sort_by_key(|n| n.quarantine_until);
        Ok(notices)
    }

    /// Moves a contact on in its follow-up, with a note (audited). The tracers where the
    /// contact lives follow them up.
    pub async fn update_contact(&self, caller: &Caller, id: ContactId, status: &str, note: &str) -> Result<Contact> {
        let status = ContactStatus::parse("status", status)?;
        let note = outbreak_domain::error::text_field("note", note, 1000, false)?;
        let contact = self.store.contact(id).await?.ok_or_else(|| ServiceError::NotFound("contact".into()))?;
        self.authorize_unit(caller, Permission::ManageCases, &contact.unit_path)?;
        let updated = self.store.update_contact(id, status, &note, now()).await?;
        self.audit(caller, "contact.status", "contact", &id.to_string(), status.as_str()).await?;
        Ok(updated)
    }

    /// Tells a new contact by SMS what to do (the notifier calls this for each contact a
    /// `contacts.identified` event names).
    pub(crate) async fn notify_contact(&self, id: ContactId) -> Result<()> {
        let Some(contact) = self.store.contact(id).await? else { return Ok(()) };
        let Some(phone) = &contact.phone else { return Ok(()) };
        if contact.status == ContactStatus::Released {
            return Ok(());
        }
        let (exposed, until) = (day_text(contact.exposure_at), day_text(contact.quarantine_until));
        let link = format!("{}/me", self.config.public_url.trim_end_matches('/'));
        let text = if contact.generation == 1 {
            format!(
                "Outbreak: ban co the da tiep xuc gan voi ca benh ngay {exposed}; hay tu cach ly tai nha den het {until}, theo doi suc khoe va lien he tram y te xa/phuong. / You may have been in close contact with a case on {exposed}: please self-isolate at home until {until}, watch your health and call your health station. {link}"
            )
        } else {
            format!(
                "Outbreak: ban co the da tiep xuc voi nguoi tiep xuc gan (F1) cua ca benh ngay {exposed}; hay han che di lai, theo doi suc khoe den het {until} va lien he tram y te neu co trieu chung. / You may have been in contact with a close contact of a case on {exposed}: limit your movements, watch your health until {until} and call your health station if you have symptoms. {link}"
            )
        };
        self.sms.send(phone, &text).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> InfectiousWindow {
        let from = time::macros::datetime!(2021-07-01 00:00 UTC);
        InfectiousWindow { from, until: from + time::Duration::days(3) }
    }

    /// Check-ins from `from` to `to` minutes into the window.
    fn visits(stays: &[(i64, i64)]) -> Vec<Checkin> {
        let start = window().from;
        stays
            .iter()
            .enumerate()
            .map(|(n, &(from, to))| Checkin {
                id: n as i64,
                venue: VenueId(Uuid::nil()),
                venue_code: String::new(),
                venue_name: String::new(),
                visitor: String::new(),
                person: None,
                phone: None,
                name: String::new(),
                at: start + time::Duration::minutes(from),
                until: start + time::Duration::minutes(to),
                source: String::new(),
            })
            .collect()
    }

    fn cut(stays: &[(i64, i64)]) -> Option<i64> {
        cut_between_visits(&visits(stays), &window()).map(|at| (at - window().from).whole_minutes())
    }

    #[test]
    fn the_window_is_cut_in_the_gap_nearest_the_middle_visit() {
        assert_eq!(cut(&[]), None);
        assert_eq!(cut(&[(0, 60)]), None, "one visit is one question");
        assert_eq!(cut(&[(300, 330), (0, 60), (180, 240)]), Some(180));
        assert_eq!(
            cut(&[(0, 60), (60, 90), (120, 150), (600, 660)]),
            Some(120),
            "a visit starting as another ends is no cut"
        );
    }

    #[test]
    fn no_visit_is_cut_in_two_or_lost() {
        assert_eq!(cut(&[(0, 200), (60, 90), (120, 150)]), None, "the first visit spans the others");
        assert_eq!(cut(&[(0, 60), (120, 120), (120, 180)]), None, "a stay of no length at the only gap");
        // Before the window and after it count only where they are inside.
        assert_eq!(cut(&[(-300, 10), (30, 40)]), Some(30));
    }
}
