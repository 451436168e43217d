//! The simulation's side of the platform: everything the simulated people do is written
//! through the same paths real clients use, with simulated times.
//!
//! - People, households and venues: the demo generator's bulk path.
//! - Check-ins: the store's batch path that the check-in writer commits through, each one
//!   first checked as the check-in service checks a gate's batch (not in the future, not
//!   older than retention).
//! - Sampling: one session per commune and day; specimens carry their simulated collection
//!   time (the testing service would stamp the wall clock, which would put every sample
//!   on today and so every infectious window on the last two days).
//! - Results: the testing service's `record_results`, as a lab uploads them — positives
//!   become cases by the platform's own rules, with a `case.confirmed` event.
//! - Tracing and notification: the notifier's own rounds (`trace_pending`, then
//!   `notify_pending`) until the outbox is drained, exactly what the notifier loop runs.

use std::collections::HashMap;
use std::time::Instant;

use outbreak_domain::testing::{Barcode, BarcodeKind, CaseId, NewResult, SessionId, SpecimenId, TestType};
use outbreak_domain::tracing::LONGEST_STAY;
use outbreak_domain::venue::{REPEAT_WINDOW, Visitor, check_time};
use outbreak_domain::{PersonId, Unit};
use outbreak_services::{Caller, Services};
use outbreak_store::{CONTACTS_IDENTIFIED, Contact, IdentifiedContacts, NewCheckin, NewSpecimen, SamplingSession};
use rand::Rng;
use time::{Date, Duration, OffsetDateTime};

use super::mixing::{Visit, World};
use crate::DemoError;

/// Check-ins per store transaction, as the check-in writer gathers them.
const CHECKINS_PER_COMMIT: usize = 20_000;
/// The notifier's outbox consumer (see `outbreak_services::notify`).
const NOTIFIER: &str = "sms";
/// Contacts of one case read back, at most.
const CONTACTS_PER_CASE: u32 = 1_000_000;

/// A specimen to take: who, and whether the lab will find the virus in it.
pub(crate) struct Sample {
    pub person: u32,
    pub positive: bool,
}

/// A case the platform confirmed, with the wall-clock instant its result was recorded.
pub(crate) struct Confirmed {
    pub case: CaseId,
    pub person: PersonId,
    pub at: Instant,
}

/// The simulated calendar and the writes that go with it.
pub(crate) struct Platform<'a> {
    pub services: &'a Services,
    caller: Caller,
    /// The local date of simulated day 0.
    pub start: Date,
    communes: Vec<Unit>,
    next_label: u64,
    /// Wall-clock instants at which each contact's SMS went out.
    pub notified: HashMap<uuid::Uuid, Instant>,
}

impl<'a> Platform<'a> {
    pub(crate) fn new(services: &'a Services, caller: Caller, start: Date, communes: Vec<Unit>) -> Platform<'a> {
        Platform { services, caller, start, communes, next_label: 0, notified: HashMap::new() }
    }

    /// Midnight (in Vietnam) at the start of simulated `day`, as an instant.
    pub(crate) fn midnight(&self, day: u32) -> OffsetDateTime {
        (self.start + Duration::days(i64::from(day)))
            .midnight()
            .assume_offset(outbreak_domain::VIETNAM)
            .to_offset(time::UtcOffset::UTC)
    }

    /// The simulated day of an instant (in Vietnam); negative before day 0.
    pub(crate) fn day_of(&self, at: OffsetDateTime) -> i64 {
        (outbreak_domain::local_date(at) - self.start).whole_days()
    }

    /// Records the visits whose visitor scanned the poster; returns how many were stored.
    pub(crate) async fn check_in(
        &self,
        world: &World,
        rng: &mut impl Rng,
        day: u32,
        visits: &[Visit],
    ) -> Result<u64, DemoError> {
        let midnight = self.midnight(day);
        let now = outbreak_domain::now();
        let retention = self.services.config.retention;
        let mut batch = Vec::with_capacity(CHECKINS_PER_COMMIT);
        let mut stored = 0;
        for visit in visits {
            let resident = &world.residents[visit.person as usize];
            if !rng.gen_bool(resident.scans) {
                continue;
            }
            let at = midnight + Duration::minutes(i64::from(visit.at));
            // The service refuses what a gate could not have seen; so does the simulation.
            check_time("at", at, now, retention).map_err(|e| DemoError::Simulation(e.message))?;
            let until = (midnight + Duration::minutes(i64::from(visit.until))).min(at + LONGEST_STAY);
            batch.push(NewCheckin {
                venue: world.places[visit.venue as usize].id,
                visitor: Visitor::Person(resident.id).key(),
                name: resident.name.clone(),
                at,
                until,
                source: "poster".into(),
                client_key: None,
            });
            if batch.len() == CHECKINS_PER_COMMIT {
                stored += self.commit(std::mem::take(&mut batch)).await?;
            }
        }
        stored += self.commit(batch).await?;
        Ok(stored)
    }

    async fn commit(&self, batch: Vec<NewCheckin>) -> Result<u64, DemoError> {
        if batch.is_empty() {
            return Ok(0);
        }
        let outcomes = self.services.store.record_checkins(batch, REPEAT_WINDOW, Vec::new()).await?;
        Ok(outcomes.iter().filter(|o| matches!(o, outbreak_store::CheckinOutcome::Stored(_))).count() as u64)
    }

    /// Samples these people on `day` at their commune's session, and records the lab's
    /// results the same evening through the testing service; returns the cases confirmed.
    pub(crate) async fn test(
        &mut self,
        world: &World,
        rng: &mut impl Rng,
        day: u32,
        samples: &[Sample],
    ) -> Result<Vec<Confirmed>, DemoError> {
        if samples.is_empty() {
            return Ok(Vec::new());
        }
        let midnight = self.midnight(day);
        let date = self.start + Duration::days(i64::from(day));
        let mut sessions = Vec::with_capacity(self.communes.len());
        for commune in &self.communes {
            let session = SamplingSession {
                id: SessionId(uuid::Uuid::from_u64_pair(rng.r#gen(), rng.r#gen())),
                site: format!("Trạm y tế {}", commune.name),
                unit: commune.code.clone(),
                unit_path: commune.path.clone(),
                date,
                team: "Tổ lấy mẫu".into(),
                test_type: TestType::RtPcr,
                pool_size: None,
                created_by: "simulate".into(),
                created_at: midnight,
                closed_at: None,
            };
            self.services.store.insert_sampling_session(&session).await?;
            sessions.push(session.id);
        }
        let mut specimens = Vec::with_capacity(samples.len());
        let mut results = Vec::with_capacity(samples.len());
        for sample in samples {
            let resident = &world.residents[sample.person as usize];
            self.next_label += 1;
            let barcode = Barcode::new(BarcodeKind::Specimen, self.next_label);
            // Morning at the health station, results by the evening.
            let collected_at = midnight + Duration::minutes(rng.gen_range(7 * 60..11 * 60));
            let resulted_at = collected_at + Duration::minutes(rng.gen_range(4 * 60..10 * 60));
            results.push(NewResult {
                barcode: barcode.to_string(),
                result: if sample.positive { "positive" } else { "negative" }.into(),
                ct: sample.positive.then(|| rng.gen_range(18.0..34.0)),
                resulted_at: Some(resulted_at),
            });
            specimens.push(NewSpecimen {
                id: SpecimenId(uuid::Uuid::from_u64_pair(rng.r#gen(), rng.r#gen())),
                barcode,
                session: sessions[resident.commune as usize],
                person: resident.id,
                collected_at,
                new_pool: None,
            });
        }
        let taken = self.services.store.take_specimens(specimens, Vec::new()).await?;
        let person_of: HashMap<String, PersonId> = taken.iter().map(|s| (s.barcode.to_string(), s.person)).collect();
        let items = self.services.record_results(&self.caller, &results).await?;
        let at = Instant::now();
        let mut confirmed = Vec::new();
        for item in items {
            if item.status == "refused" {
                return Err(DemoError::Simulation(format!(
                    "the lab's result for {} was refused: {}",
                    item.barcode,
                    item.message.unwrap_or_default()
                )));
            }
            for case in item.cases {
                let Some(&person) = person_of.get(&item.barcode) else { continue };
                confirmed.push(Confirmed { case, person, at });
            }
        }
        Ok(confirmed)
    }

    /// Runs the notifier's rounds until the outbox is drained: cases confirmed since the
    /// last round are traced, then their contacts are told. Notes when each contact's
    /// message went out (at the end of the round that sent it).
    pub(crate) async fn trace_and_notify(&mut self) -> Result<(), DemoError> {
        let services = self.services;
        let store = &services.store;
        let mut tracing = true;
        loop {
            // Only a confirmed case gives tracing work, and none is confirmed while the
            // notifier runs: once tracing finds nothing, asking again would only read the
            // outbox past every contact's event in search of the next case.
            let traced = if tracing { services.trace_pending().await? } else { 0 };
            tracing = traced > 0;
            let before = store.event_cursor(NOTIFIER).await?;
            let sent = services.notify_pending().await?;
            let done = Instant::now();
            if sent > 0 {
                let after = store.event_cursor(NOTIFIER).await?;
                let limit = u32::try_from(sent).unwrap_or(u32::MAX);
                for event in store.events_after(before, &[CONTACTS_IDENTIFIED], limit).await? {
                    if event.seq > after {
                        break;
                    }
                    for contact in IdentifiedContacts::of(&event).map(|named| named.contacts).unwrap_or_default() {
                        self.notified.entry(contact.0).or_insert(done);
                    }
                }
            }
            if traced == 0 && sent == 0 {
                return Ok(());
            }
        }
    }

    /// The contacts tracing listed for a case.
    pub(crate) async fn contacts(&self, case: CaseId) -> Result<Vec<Contact>, DemoError> {
        Ok(self.services.store.case_contacts(case, CONTACTS_PER_CASE).await?)
    }
}
