//! Registrations, sessions, invitations, doses and coverage in SQLite.

use async_trait::async_trait;
use outbreak_domain::person::BirthDate;
use outbreak_domain::vaccination::{
    AdverseEventId, AdverseStatus, DoseId, InvitationId, InvitationStatus, OrganisationId, OrganisationKind,
    OrganisationStatus, PriorityGroup, RegistrationId, Severity, SiteId, VaccinationSessionId,
};
use outbreak_domain::{PersonId, UnitCode};
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::rows::{from_micros, micros, parse_uuid};
use super::{SqliteStore, UnitPaths, insert_audit, insert_events, push_scope, unique_violation, unit_path};
use crate::records::NewAuditEntry;
use crate::testing::columns::{day, word};
use crate::testing::rollup_paths;
use crate::vaccination::*;
use crate::{Result, StoreError};

const ORGANISATION_COLUMNS: &str = "id, name, kind, unit_code, unit_path, address, contact_phone, manager, status, \
     applied_at, decided_by, decided_at, decision_note";
const SESSION_COLUMNS: &str =
    "s.id, s.site_id, t.name, s.unit_path, s.day, s.product, s.lot, s.slots, s.created_by, s.created_at";
const INVITATION_COLUMNS: &str =
    "id, session_id, person_id, slot, dose_number, status, offered_at, expires_at, answered_at";
const DOSE_COLUMNS: &str = "d.id, d.person_id, d.product, d.lot, d.dose_number, d.given_at, d.site_id, t.name, \
     d.session_id, d.vaccinator, d.home_path, d.site_path, d.voided, d.recorded_at";
const ADVERSE_COLUMNS: &str = "id, dose_id, person_id, severity, description, onset_at, status, note, reported_by, \
     unit_path, reported_at";

fn is_foreign_key(error: &rusqlite::Error) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(e, _) if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
}

fn uuid_of(text: &str) -> Result<Uuid> {
    parse_uuid(text)
}

fn unit_of(text: &str) -> Result<UnitCode> {
    UnitCode::parse("stored", text).map_err(|_| StoreError::Backend(format!("stored unit {text:?} does not parse")))
}

fn organisation_row(r: &Row) -> rusqlite::Result<Result<Organisation>> {
    let (id, name, kind, unit, unit_path, address, phone): (String, String, String, String, String, String, String) =
        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?);
    let (manager, status, applied_at, decided_by, decided_at, note): (
        Option<String>,
        String,
        i64,
        Option<String>,
        Option<i64>,
        String,
    ) = (r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?, r.get(11)?, r.get(12)?);
    Ok((|| {
        Ok(Organisation {
            id: OrganisationId(uuid_of(&id)?),
            name,
            kind: word(OrganisationKind::parse, &kind)?,
            unit: unit_of(&unit)?,
            unit_path,
            address,
            contact_phone: phone,
            manager: manager.as_deref().map(uuid_of).transpose()?,
            status: word(OrganisationStatus::parse, &status)?,
            applied_at: from_micros(applied_at),
            decided_by,
            decided_at: decided_at.map(from_micros),
            decision_note: note,
        })
    })())
}

fn session_row(r: &Row) -> rusqlite::Result<Result<VaccinationSession>> {
    let (id, site, site_name, unit_path, d, product, lot, slots, created_by, created_at): (
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        i64,
    ) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?);
    Ok((|| {
        Ok(VaccinationSession {
            id: VaccinationSessionId(uuid_of(&id)?),
            site: SiteId(uuid_of(&site)?),
            site_name,
            unit_path,
            date: day(&d)?,
            product,
            lot,
            slots: slots_of(&slots)?,
            created_by,
            created_at: from_micros(created_at),
        })
    })())
}

fn invitation_row(r: &Row) -> rusqlite::Result<Result<Invitation>> {
    let (id, session, person, slot, dose_number, status): (String, String, String, i64, i64, String) =
        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?);
    let (offered_at, expires_at, answered_at): (i64, i64, Option<i64>) = (r.get(6)?, r.get(7)?, r.get(8)?);
    Ok((|| {
        Ok(Invitation {
            id: InvitationId(uuid_of(&id)?),
            session: VaccinationSessionId(uuid_of(&session)?),
            person: PersonId(uuid_of(&person)?),
            slot: slot as usize,
            dose_number: dose_number as u8,
            status: word(InvitationStatus::parse, &status)?,
            offered_at: from_micros(offered_at),
            expires_at: from_micros(expires_at),
            answered_at: answered_at.map(from_micros),
        })
    })())
}

fn dose_row(r: &Row) -> rusqlite::Result<Result<Dose>> {
    let (id, person, product, lot, dose_number, given_at, site): (String, String, String, String, i64, i64, String) =
        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?);
    let (site_name, session, vaccinator, home_path, site_path, voided, recorded_at): (
        String,
        Option<String>,
        String,
        String,
        String,
        bool,
        i64,
    ) = (r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?, r.get(11)?, r.get(12)?, r.get(13)?);
    Ok((|| {
        Ok(Dose {
            id: DoseId(uuid_of(&id)?),
            person: PersonId(uuid_of(&person)?),
            product,
            lot,
            dose_number: dose_number as u8,
            given_at: from_micros(given_at),
            site: SiteId(uuid_of(&site)?),
            site_name,
            session: session.as_deref().map(uuid_of).transpose()?.map(VaccinationSessionId),
            vaccinator,
            home_path,
            site_path,
            voided,
            recorded_at: from_micros(recorded_at),
        })
    })())
}

fn adverse_row(r: &Row) -> rusqlite::Result<Result<AdverseEvent>> {
    let (id, dose, person, severity, description, onset_at): (String, String, String, String, String, i64) =
        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?);
    let (status, note, reported_by, unit_path, reported_at): (String, String, String, String, i64) =
        (r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?);
    Ok((|| {
        Ok(AdverseEvent {
            id: AdverseEventId(uuid_of(&id)?),
            dose: DoseId(uuid_of(&dose)?),
            person: PersonId(uuid_of(&person)?),
            severity: word(Severity::parse, &severity)?,
            description,
            onset_at: from_micros(onset_at),
            status: word(AdverseStatus::parse, &status)?,
            note,
            reported_by,
            unit_path,
            reported_at: from_micros(reported_at),
        })
    })())
}

fn person_doses(c: &Connection, person: PersonId) -> Result<Vec<Dose>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {DOSE_COLUMNS} FROM doses d JOIN vaccination_sites t ON t.id = d.site_id
         WHERE d.person_id = ?1 ORDER BY d.given_at, d.recorded_at"
    ))?;
    let rows = stmt.query_map([person.to_string()], dose_row)?;
    rows.map(|r| r?).collect()
}

fn lot(c: &Connection, number: &str) -> Result<Option<Lot>> {
    let row = c
        .prepare_cached("SELECT lot, product, expires_on, unit_code FROM vaccine_lots WHERE lot = ?1")?
        .query_row([number], |r| {
            Ok((r.get::<_, String>(0)?, r.get(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
        })
        .optional()?;
    row.map(|(lot, product, expires, unit)| Ok(Lot { lot, product, expires_on: day(&expires)?, unit: unit_of(&unit)? }))
        .transpose()
}

/// Recounts a person in coverage from their valid doses: takes out what their stored
/// status counted, puts in the new one.
fn recount(tx: &Connection, person: PersonId, doses: &[Dose]) -> Result<()> {
    let id = person.to_string();
    let before = tx
        .prepare_cached(
            "SELECT home_path, age_band, priority_group, comorbid, doses, complete FROM vaccination_status
             WHERE person_id = ?1",
        )?
        .query_row([&id], |r| {
            Ok(PersonStatus {
                home_path: r.get(0)?,
                age_band: r.get(1)?,
                priority_group: r.get(2)?,
                comorbid: r.get(3)?,
                doses: r.get(4)?,
                full: r.get(5)?,
            })
        })
        .optional()?;
    let (birth, home_path): (String, String) = tx
        .prepare_cached("SELECT date_of_birth, address_path FROM people WHERE id = ?1")?
        .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or(StoreError::NotFound("person"))?;
    let registration: Option<(String, String)> = tx
        .prepare_cached("SELECT priority_group, comorbidities FROM registrations WHERE person_id = ?1")?
        .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let birth = stored_birth(&birth)?;
    let valid: Vec<Dose> = doses.iter().filter(|d| !d.voided).cloned().collect();
    let (group, comorbid) = group_of(registration.as_ref());
    let after = match &before {
        // Keep the buckets a counted person was put in; only what they have changes.
        Some(b) if !valid.is_empty() => {
            let fresh = PersonStatus::of(&valid, birth, group, comorbid, &home_path);
            PersonStatus { doses: fresh.doses, full: fresh.full, ..b.clone() }
        }
        _ => PersonStatus::of(&valid, birth, group, comorbid, &home_path),
    };
    let mut delta = CoverageDelta::new();
    if let Some(b) = &before {
        b.count(&mut delta, -1);
    }
    after.count(&mut delta, 1);
    let mut upsert = tx.prepare_cached(
        "INSERT INTO coverage_totals (unit_path, dimension, bucket, at_least_one, full_series) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (unit_path, dimension, bucket) DO UPDATE SET
           at_least_one = at_least_one + excluded.at_least_one, full_series = full_series + excluded.full_series",
    )?;
    for ((path, dimension, bucket), c) in delta {
        if c != Coverage::default() {
            upsert.execute(params![path, dimension, bucket, c.at_least_one, c.full_series])?;
        }
    }
    if after.doses == 0 {
        tx.prepare_cached("DELETE FROM vaccination_status WHERE person_id = ?1")?.execute([&id])?;
    } else {
        tx.prepare_cached(
            "INSERT INTO vaccination_status (person_id, home_path, age_band, priority_group, comorbid, doses, complete)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (person_id) DO UPDATE SET doses = excluded.doses, complete = excluded.complete",
        )?
        .execute(params![
            id,
            after.home_path,
            after.age_band,
            after.priority_group,
            after.comorbid,
            after.doses,
            after.full
        ])?;
    }
    Ok(())
}

fn stored_birth(text: &str) -> Result<BirthDate> {
    BirthDate::parse("stored", text, Date::MAX)
        .map_err(|_| StoreError::Backend(format!("stored birth date {text:?} does not parse")))
}

/// Moves doses-per-day for one dose (`sign` ±1).
fn count_dose(tx: &Connection, dose: &Dose, sign: i64) -> Result<()> {
    let day = outbreak_domain::local_date(dose.given_at).to_string();
    let mut upsert = tx.prepare_cached(
        "INSERT INTO dose_totals (unit_path, day, product, doses) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (unit_path, day, product) DO UPDATE SET doses = doses + excluded.doses",
    )?;
    for path in rollup_paths(&dose.home_path) {
        upsert.execute(params![path, day, dose.product, sign])?;
    }
    Ok(())
}

/// Finds the person a registration names, or stores them: by id (a person already known),
/// by CCCD, else by phone, folded name and date of birth together. Returns the id and whether they were already known.
fn match_or_insert(tx: &Connection, paths: &mut UnitPaths, r: &NewRegistration) -> Result<(PersonId, bool)> {
    let id = r.person.id.to_string();
    if tx.prepare_cached("SELECT 1 FROM people WHERE id = ?1")?.query_row([&id], |_| Ok(())).optional()?.is_some() {
        return Ok((r.person.id, true));
    }
    if let Some(cccd) = &r.person.cccd {
        let known: Option<String> = tx
            .prepare_cached("SELECT id FROM people WHERE cccd = ?1")?
            .query_row([cccd.as_str()], |row| row.get(0))
            .optional()?;
        if let Some(id) = known {
            return Ok((PersonId(uuid_of(&id)?), true));
        }
    } else if let Some((phone, name, birth)) = match_key(&r.person) {
        // `+name_folded` keeps SQLite on `people_phone`: a phone is shared by a household at
        // most, a common name by thousands.
        let known: Option<String> = tx
            .prepare_cached(
                "SELECT id FROM people WHERE phone = ?1 AND +name_folded = ?2 AND date_of_birth = ?3
                 ORDER BY created_at LIMIT 1",
            )?
            .query_row(params![phone, name, birth], |row| row.get(0))
            .optional()?;
        if let Some(id) = known {
            return Ok((PersonId(uuid_of(&id)?), true));
        }
    }
    super::put_person(tx, paths, &r.person, false)?;
    Ok((r.person.id, false))
}

/// What one registration transaction has read of the reference tables.
#[derive(Default)]
struct ReferenceReads {
    units: UnitPaths,
    groups: std::collections::HashMap<String, bool>,
}

impl ReferenceReads {
    fn group(&mut self, tx: &Connection, code: &str) -> Result<bool> {
        if let Some(known) = self.groups.get(code) {
            return Ok(*known);
        }
        let known = tx
            .prepare_cached("SELECT 1 FROM priority_groups WHERE code = ?1")?
            .query_row([code], |_| Ok(()))
            .optional()?
            .is_some();
        self.groups.insert(code.to_owned(), known);
        Ok(known)
    }
}

fn register_one(tx: &Connection, reads: &mut ReferenceReads, r: &NewRegistration) -> Result<RegistrationOutcome> {
    let refuse = |field: &str, code: &str, message: String| {
        Ok(RegistrationOutcome::Refused { field: field.into(), code: code.into(), message })
    };
    if !reads.group(tx, &r.priority_group)? {
        return refuse("priority_group", "unknown_group", format!("{:?} is not a priority group", r.priority_group));
    }
    let Ok(preferred_path) = reads.units.path(tx, &r.preferred_unit, "preferred_unit") else {
        return refuse("preferred_unit", "unknown_unit", format!("{} is not a known unit", r.preferred_unit));
    };
    // A refused person (an unknown address unit, an identifier taken) leaves nothing behind
    // while the rows around it are stored: `match_or_insert` writes with one statement, and
    // SQLite backs out a failed statement alone, so no savepoint is needed per row.
    let matched = match match_or_insert(tx, &mut reads.units, r) {
        Ok(m) => m,
        Err(StoreError::NotFound(field)) => {
            return refuse(field, "unknown_unit", format!("{field} is not a known unit"));
        }
        Err(StoreError::Conflict { field, .. }) => {
            return refuse(field, "conflict", format!("{field} belongs to another person already registered"));
        }
        Err(e) => return Err(e),
    };
    let (person, known) = matched;
    // Only someone already known can have registered before.
    let existing: Option<String> = if known {
        tx.prepare_cached("SELECT id FROM registrations WHERE person_id = ?1")?
            .query_row([person.to_string()], |row| row.get(0))
            .optional()?
    } else {
        None
    };
    if let Some(id) = existing {
        return Ok(RegistrationOutcome::AlreadyRegistered { registration: RegistrationId(uuid_of(&id)?), person });
    }
    tx.prepare_cached(
        "INSERT INTO registrations (id, person_id, organisation, priority_group, comorbidities, preferred_unit,
           preferred_path, registered_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        r.id.to_string(),
        person.to_string(),
        r.organisation.map(|o| o.to_string()),
        r.priority_group,
        r.comorbidities,
        r.preferred_unit.as_str(),
        preferred_path,
        micros(r.registered_at),
    ])?;
    Ok(RegistrationOutcome::Registered { registration: r.id, person, matched: known })
}

#[async_trait]
impl VaccinationStore for SqliteStore {
    async fn put_priority_groups(&self, groups: &[PriorityGroup]) -> Result<()> {
        let groups = groups.to_vec();
        self.write(move |tx| {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO priority_groups (code, rank, name, name_en) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (code) DO UPDATE SET rank = excluded.rank, name = excluded.name, name_en = excluded.name_en",
            )?;
            for g in &groups {
                upsert.execute(params![g.code, g.rank, g.name, g.name_en])?;
            }
            Ok(())
        })
        .await
    }

    async fn priority_groups(&self) -> Result<Vec<PriorityGroup>> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT code, rank, name, name_en FROM priority_groups ORDER BY rank, code")?;
            let rows = stmt.query_map([], |r| {
                Ok(PriorityGroup { code: r.get(0)?, rank: r.get(1)?, name: r.get(2)?, name_en: r.get(3)? })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn insert_organisation(&self, o: &Organisation) -> Result<()> {
        let o = o.clone();
        self.write(move |tx| {
            let path = unit_path(tx, &o.unit, "unit")?;
            tx.prepare_cached(&format!(
                "INSERT INTO organisations ({ORGANISATION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
            ))?
            .execute(params![
                o.id.to_string(),
                o.name,
                o.kind.as_str(),
                o.unit.as_str(),
                path,
                o.address,
                o.contact_phone,
                o.manager.map(|m| m.to_string()),
                o.status.as_str(),
                micros(o.applied_at),
                o.decided_by,
                o.decided_at.map(micros),
                o.decision_note,
            ])?;
            Ok(())
        })
        .await
    }

    async fn organisation(&self, id: OrganisationId) -> Result<Option<Organisation>> {
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {ORGANISATION_COLUMNS} FROM organisations WHERE id = ?1"))?
                .query_row([id.to_string()], organisation_row)
                .optional()?
                .transpose()
        })
        .await
    }

    async fn organisations(
        &self,
        scope: &[String],
        status: Option<OrganisationStatus>,
        limit: u32,
    ) -> Result<Vec<Organisation>> {
        let scope = scope.to_vec();
        self.read(move |c| {
            let mut sql = format!("SELECT {ORGANISATION_COLUMNS} FROM organisations WHERE (");
            let mut values = Vec::new();
            push_scope(&mut sql, &mut values, "unit_path", &scope);
            sql.push(')');
            if let Some(status) = status {
                values.push(status.as_str().to_owned());
                sql.push_str(&format!(" AND status = ?{}", values.len()));
            }
            sql.push_str(&format!(" ORDER BY applied_at, id LIMIT {limit}"));
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(values), organisation_row)?;
            rows.map(|r| r?).collect()
        })
        .await
    }

    async fn decide_organisation(
        &self,
        id: OrganisationId,
        status: OrganisationStatus,
        manager: Option<Uuid>,
        by: &str,
        note: &str,
        at: OffsetDateTime,
    ) -> Result<Organisation> {
        let (by, note) = (by.to_owned(), note.to_owned());
        self.write(move |tx| {
            let current: String = tx
                .prepare_cached("SELECT status FROM organisations WHERE id = ?1")?
                .query_row([id.to_string()], |r| r.get(0))
                .optional()?
                .ok_or(StoreError::NotFound("organisation"))?;
            if current != OrganisationStatus::Pending.as_str() {
                return Err(StoreError::Refused {
                    field: "status",
                    code: "already_decided",
                    message: format!("this application was already {current}"),
                });
            }
            tx.prepare_cached(
                "UPDATE organisations SET status = ?2, manager = ?3, decided_by = ?4, decided_at = ?5, decision_note = ?6
                 WHERE id = ?1",
            )?
            .execute(params![id.to_string(), status.as_str(), manager.map(|m| m.to_string()), by, micros(at), note])
            .map_err(|e| if is_foreign_key(&e) { StoreError::NotFound("manager") } else { e.into() })?;
            tx.prepare_cached(&format!("SELECT {ORGANISATION_COLUMNS} FROM organisations WHERE id = ?1"))?
                .query_row([id.to_string()], organisation_row)?
        })
        .await
    }

    async fn managed_organisations(&self, account: Uuid) -> Result<Vec<Organisation>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {ORGANISATION_COLUMNS} FROM organisations WHERE manager = ?1 ORDER BY name, id"
            ))?;
            let rows = stmt.query_map([account.to_string()], organisation_row)?;
            rows.map(|r| r?).collect()
        })
        .await
    }

    async fn register(
        &self,
        registrations: Vec<NewRegistration>,
        audit: Vec<NewAuditEntry>,
    ) -> Result<Vec<RegistrationOutcome>> {
        self.write(move |tx| {
            let mut reads = ReferenceReads::default();
            let outcomes = registrations.iter().map(|r| register_one(tx, &mut reads, r)).collect::<Result<Vec<_>>>()?;
            for entry in &audit {
                insert_audit(tx, entry)?;
            }
            Ok(outcomes)
        })
        .await
    }

    async fn registration_of(&self, person: PersonId) -> Result<Option<Registration>> {
        self.read(move |c| {
            let row = c
                .prepare_cached(
                    "SELECT id, organisation, priority_group, comorbidities, preferred_unit, preferred_path, registered_at
                     FROM registrations WHERE person_id = ?1",
                )?
                .query_row([person.to_string()], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, i64>(6)?,
                    ))
                })
                .optional()?;
            row.map(|(id, org, group, comorbidities, unit, path, at)| {
                Ok(Registration {
                    id: RegistrationId(uuid_of(&id)?),
                    person,
                    organisation: org.as_deref().map(uuid_of).transpose()?.map(OrganisationId),
                    priority_group: group,
                    comorbidities,
                    preferred_unit: unit_of(&unit)?,
                    preferred_path: path,
                    registered_at: from_micros(at),
                })
            })
            .transpose()
        })
        .await
    }

    async fn count_registrations(&self, organisation: Option<OrganisationId>) -> Result<u64> {
        self.read(move |c| {
            let n: i64 = match organisation {
                Some(o) => c
                    .prepare_cached("SELECT count(*) FROM registrations WHERE organisation = ?1")?
                    .query_row([o.to_string()], |r| r.get(0))?,
                None => c.prepare_cached("SELECT count(*) FROM registrations")?.query_row([], |r| r.get(0))?,
            };
            Ok(n as u64)
        })
        .await
    }

    async fn insert_lot(&self, l: &Lot) -> Result<()> {
        let l = l.clone();
        self.write(move |tx| {
            unit_path(tx, &l.unit, "unit")?;
            tx.prepare_cached(
                "INSERT INTO vaccine_lots (lot, product, expires_on, unit_code) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![l.lot, l.product, l.expires_on.to_string(), l.unit.as_str()])
            .map_err(|e| match unique_violation(&e) {
                Some(_) => StoreError::Conflict { field: "lot", existing: Some(l.lot.clone()) },
                None => e.into(),
            })?;
            Ok(())
        })
        .await
    }

    async fn lot(&self, number: &str) -> Result<Option<Lot>> {
        let number = number.to_owned();
        self.read(move |c| lot(c, &number)).await
    }

    async fn insert_site(&self, s: &Site) -> Result<()> {
        let s = s.clone();
        self.write(move |tx| {
            let path = unit_path(tx, &s.unit, "unit")?;
            tx.prepare_cached(
                "INSERT INTO vaccination_sites (id, name, unit_code, unit_path, address, created_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![s.id.to_string(), s.name, s.unit.as_str(), path, s.address, s.created_by])?;
            Ok(())
        })
        .await
    }

    async fn site(&self, id: SiteId) -> Result<Option<Site>> {
        Ok(self.sites_where("id = ?1", vec![id.to_string()], 1).await?.into_iter().next())
    }

    async fn sites(&self, scope: &[String], limit: u32) -> Result<Vec<Site>> {
        let mut sql = String::from("(");
        let mut values = Vec::new();
        push_scope(&mut sql, &mut values, "unit_path", scope);
        sql.push(')');
        self.sites_where(&sql, values, limit).await
    }

    async fn insert_vaccination_session(&self, s: &VaccinationSession) -> Result<()> {
        let s = s.clone();
        self.write(move |tx| {
            let site_path: String = tx
                .prepare_cached("SELECT unit_path FROM vaccination_sites WHERE id = ?1")?
                .query_row([s.site.to_string()], |r| r.get(0))
                .optional()?
                .ok_or(StoreError::NotFound("site"))?;
            let at = s.date.with_hms(12, 0, 0).map(|d| d.assume_offset(outbreak_domain::VIETNAM)).unwrap_or(s.created_at);
            check_lot(&s.product, &s.lot, lot(tx, &s.lot)?.as_ref(), at)?;
            tx.prepare_cached(
                "INSERT INTO vaccination_sessions (id, site_id, unit_path, day, product, lot, slots, created_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                s.id.to_string(),
                s.site.to_string(),
                site_path,
                s.date.to_string(),
                s.product,
                s.lot,
                slots_json(&s.slots)?,
                s.created_by,
                micros(s.created_at),
            ])?;
            Ok(())
        })
        .await
    }

    async fn vaccination_session(&self, id: VaccinationSessionId) -> Result<Option<VaccinationSession>> {
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM vaccination_sessions s JOIN vaccination_sites t ON t.id = s.site_id
                 WHERE s.id = ?1"
            ))?
            .query_row([id.to_string()], session_row)
            .optional()?
            .transpose()
        })
        .await
    }

    async fn vaccination_sessions(&self, scope: &[String], limit: u32) -> Result<Vec<VaccinationSession>> {
        let scope = scope.to_vec();
        self.read(move |c| {
            let mut sql = format!(
                "SELECT {SESSION_COLUMNS} FROM vaccination_sessions s JOIN vaccination_sites t ON t.id = s.site_id WHERE ("
            );
            let mut values = Vec::new();
            push_scope(&mut sql, &mut values, "s.unit_path", &scope);
            sql.push_str(&format!(") ORDER BY s.day DESC, s.created_at DESC LIMIT {limit}"));
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(values), session_row)?;
            rows.map(|r| r?).collect()
        })
        .await
    }

    async fn allocation_candidates(
        &self,
        session: VaccinationSessionId,
        scope: &[String],
        offset: u32,
        limit: u32,
    ) -> Result<Vec<Candidate>> {
        let scope = scope.to_vec();
        self.read(move |c| {
            let mut sql = String::from(
                "SELECT r.id, p.id, p.full_name, p.phone, p.date_of_birth, g.rank, r.registered_at
                 FROM registrations r JOIN people p ON p.id = r.person_id
                   JOIN priority_groups g ON g.code = r.priority_group
                   LEFT JOIN vaccination_status v ON v.person_id = r.person_id
                 WHERE (",
            );
            let mut values = Vec::new();
            push_scope(&mut sql, &mut values, "r.preferred_path", &scope);
            values.push(session.to_string());
            sql.push_str(&format!(
                ") AND coalesce(v.complete, 0) = 0
                   AND NOT EXISTS (SELECT 1 FROM invitations i WHERE i.person_id = r.person_id
                                   AND (i.status IN ('offered', 'confirmed') OR i.session_id = ?{}))
                 ORDER BY g.rank, substr(p.date_of_birth, 1, 4), p.date_of_birth, r.registered_at, r.id
                 LIMIT {limit} OFFSET {offset}",
                values.len()
            ));
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(values), |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i32>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })?;
            let rows = rows.collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter()
                .map(|(reg, person, full_name, phone, birth, rank, at)| {
                    let person = PersonId(uuid_of(&person)?);
                    let doses = person_doses(c, person)?.into_iter().filter(|d| !d.voided).collect();
                    Ok(Candidate {
                        registration: RegistrationId(uuid_of(&reg)?),
                        person,
                        full_name,
                        phone,
                        date_of_birth: stored_birth(&birth)?,
                        group_rank: rank,
                        registered_at: from_micros(at),
                        doses,
                    })
                })
                .collect()
        })
        .await
    }

    async fn invite(&self, invitations: Vec<NewInvitation>, audit: Vec<NewAuditEntry>) -> Result<Vec<Invitation>> {
        self.write(move |tx| {
            let mut stored = Vec::new();
            let mut events = Vec::new();
            for n in &invitations {
                let session = tx
                    .prepare_cached(&format!(
                        "SELECT {SESSION_COLUMNS} FROM vaccination_sessions s JOIN vaccination_sites t ON t.id = s.site_id
                         WHERE s.id = ?1"
                    ))?
                    .query_row([n.session.to_string()], session_row)
                    .optional()?
                    .transpose()?
                    .ok_or(StoreError::NotFound("session"))?;
                let Some(slot) = session.slots.get(n.slot) else { return Err(StoreError::NotFound("slot")) };
                let taken: i64 = tx
                    .prepare_cached(
                        "SELECT count(*) FROM invitations WHERE session_id = ?1 AND slot = ?2
                         AND status IN ('offered', 'confirmed', 'attended')",
                    )?
                    .query_row(params![n.session.to_string(), n.slot as i64], |r| r.get(0))?;
                if taken >= slot.capacity {
                    continue;
                }
                let row = tx
                    .prepare_cached(&format!(
                        "INSERT INTO invitations ({INVITATION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, 'offered', ?6, ?7, NULL)
                         ON CONFLICT DO NOTHING RETURNING {INVITATION_COLUMNS}"
                    ))?
                    .query_row(
                        params![
                            n.id.to_string(),
                            n.session.to_string(),
                            n.person.to_string(),
                            n.slot as i64,
                            n.dose_number,
                            micros(n.offered_at),
                            micros(n.expires_at)
                        ],
                        invitation_row,
                    )
                    .optional()?;
                if let Some(invitation) = row {
                    let invitation = invitation?;
                    let home: String = tx
                        .prepare_cached("SELECT address_path FROM people WHERE id = ?1")?
                        .query_row([n.person.to_string()], |r| r.get(0))?;
                    events.push(invitation_event(&invitation, &session, &home));
                    stored.push(invitation);
                }
            }
            insert_events(tx, &events)?;
            for entry in &audit {
                insert_audit(tx, entry)?;
            }
            Ok(stored)
        })
        .await
    }

    async fn invitation(&self, id: InvitationId) -> Result<Option<Invitation>> {
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE id = ?1"))?
                .query_row([id.to_string()], invitation_row)
                .optional()?
                .transpose()
        })
        .await
    }

    async fn answer_invitation(
        &self,
        id: InvitationId,
        status: InvitationStatus,
        at: OffsetDateTime,
    ) -> Result<Invitation> {
        self.write(move |tx| {
            let row = tx
                .prepare_cached(&format!(
                    "UPDATE invitations SET status = ?2, answered_at = ?3
                     WHERE id = ?1 AND status = 'offered' AND expires_at > ?3 RETURNING {INVITATION_COLUMNS}"
                ))?
                .query_row(params![id.to_string(), status.as_str(), micros(at)], invitation_row)
                .optional()?;
            match row {
                Some(invitation) => invitation,
                None => {
                    let current: Option<String> = tx
                        .prepare_cached("SELECT status FROM invitations WHERE id = ?1")?
                        .query_row([id.to_string()], |r| r.get(0))
                        .optional()?;
                    match current {
                        None => Err(StoreError::NotFound("invitation")),
                        Some(s) => Err(StoreError::Refused {
                            field: "invitation",
                            code: "not_offered",
                            message: format!(
                                "this invitation can no longer be answered (it is {})",
                                if s == "offered" { "expired" } else { &s }
                            ),
                        }),
                    }
                }
            }
        })
        .await
    }

    async fn expire_invitations(&self, at: OffsetDateTime) -> Result<Vec<VaccinationSessionId>> {
        self.write(move |tx| {
            let mut stmt = tx.prepare_cached(
                "UPDATE invitations SET status = 'expired', answered_at = ?1
                 WHERE status = 'offered' AND expires_at <= ?1 RETURNING session_id",
            )?;
            let rows = stmt.query_map([micros(at)], |r| r.get::<_, String>(0))?;
            let mut sessions = rows.map(|r| Ok(VaccinationSessionId(uuid_of(&r?)?))).collect::<Result<Vec<_>>>()?;
            sessions.sort();
            sessions.dedup();
            Ok(sessions)
        })
        .await
    }

    async fn session_invitations(&self, session: VaccinationSessionId) -> Result<Vec<Invitation>> {
        self.invitations_where("session_id = ?1 ORDER BY slot, offered_at, id", session.to_string()).await
    }

    async fn person_invitations(&self, person: PersonId) -> Result<Vec<Invitation>> {
        self.invitations_where("person_id = ?1 ORDER BY offered_at DESC, id", person.to_string()).await
    }

    async fn record_dose(&self, n: NewDose, audit: Vec<NewAuditEntry>) -> Result<Dose> {
        self.write(move |tx| {
            let home_path: String = tx
                .prepare_cached("SELECT address_path FROM people WHERE id = ?1")?
                .query_row([n.person.to_string()], |r| r.get(0))
                .optional()?
                .ok_or(StoreError::NotFound("person"))?;
            let site_path: String = tx
                .prepare_cached("SELECT unit_path FROM vaccination_sites WHERE id = ?1")?
                .query_row([n.site.to_string()], |r| r.get(0))
                .optional()?
                .ok_or(StoreError::NotFound("site"))?;
            let history: Vec<Dose> = person_doses(tx, n.person)?.into_iter().filter(|d| !d.voided).collect();
            check_new_dose(&history, &n, lot(tx, &n.lot)?.as_ref())?;
            tx.prepare_cached(
                "INSERT INTO doses (id, person_id, product, lot, dose_number, given_at, site_id, session_id, vaccinator,
                   home_path, site_path, screening, voided, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 0, ?13)",
            )?
            .execute(params![
                n.id.to_string(),
                n.person.to_string(),
                n.product,
                n.lot,
                n.dose_number,
                micros(n.given_at),
                n.site.to_string(),
                n.session.map(|s| s.to_string()),
                n.vaccinator,
                home_path,
                site_path,
                screening_json(&n.screening),
                micros(outbreak_domain::now()),
            ])?;
            let doses = person_doses(tx, n.person)?;
            let dose = doses.iter().find(|d| d.id == n.id).cloned().ok_or(StoreError::NotFound("dose"))?;
            recount(tx, n.person, &doses)?;
            count_dose(tx, &dose, 1)?;
            if let Some(session) = n.session {
                tx.prepare_cached(
                    "UPDATE invitations SET status = 'attended' WHERE session_id = ?1 AND person_id = ?2
                     AND status IN ('offered', 'confirmed')",
                )?
                .execute(params![session.to_string(), n.person.to_string()])?;
            }
            insert_events(tx, &[dose_event(&dose, false)])?;
            for entry in &audit {
                insert_audit(tx, entry)?;
            }
            Ok(dose)
        })
        .await
    }

    async fn correct_dose(&self, id: DoseId, c: DoseCorrection, audit: Vec<NewAuditEntry>) -> Result<Dose> {
        self.write(move |tx| {
            let person: String = tx
                .prepare_cached("SELECT person_id FROM doses WHERE id = ?1")?
                .query_row([id.to_string()], |r| r.get(0))
                .optional()?
                .ok_or(StoreError::NotFound("dose"))?;
            let person = PersonId(uuid_of(&person)?);
            let before = person_doses(tx, person)?;
            let (after, corrected) = apply_correction(before.clone(), id, &c)?;
            if c.product.is_some() || c.lot.is_some() || c.given_at.is_some() {
                check_lot(&corrected.product, &corrected.lot, lot(tx, &corrected.lot)?.as_ref(), corrected.given_at)?;
            }
            let old = before.iter().find(|d| d.id == id).ok_or(StoreError::NotFound("dose"))?;
            tx.prepare_cached(
                "INSERT INTO dose_revisions (dose_id, product, lot, dose_number, given_at, voided, reason, by_actor, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                id.to_string(),
                old.product,
                old.lot,
                old.dose_number,
                micros(old.given_at),
                old.voided,
                c.reason,
                c.by,
                micros(c.at)
            ])?;
            let mut update = tx.prepare_cached(
                "UPDATE doses SET product = ?2, lot = ?3, dose_number = ?4, given_at = ?5, voided = ?6 WHERE id = ?1",
            )?;
            for d in &after {
                update.execute(params![
                    d.id.to_string(),
                    d.product,
                    d.lot,
                    d.dose_number,
                    micros(d.given_at),
                    d.voided
                ])?;
            }
            if !old.voided {
                count_dose(tx, old, -1)?;
            }
            if !corrected.voided {
                count_dose(tx, &corrected, 1)?;
            }
            recount(tx, person, &after)?;
            let mut event = dose_event(&corrected, true);
            event.at = c.at;
            insert_events(tx, &[event])?;
            for entry in &audit {
                insert_audit(tx, entry)?;
            }
            Ok(corrected)
        })
        .await
    }

    async fn dose(&self, id: DoseId) -> Result<Option<Dose>> {
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {DOSE_COLUMNS} FROM doses d JOIN vaccination_sites t ON t.id = d.site_id WHERE d.id = ?1"
            ))?
            .query_row([id.to_string()], dose_row)
            .optional()?
            .transpose()
        })
        .await
    }

    async fn person_doses(&self, person: PersonId) -> Result<Vec<Dose>> {
        self.read(move |c| person_doses(c, person)).await
    }

    async fn dose_history(&self, id: DoseId) -> Result<Vec<DoseRevision>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT product, lot, dose_number, given_at, voided, reason, by_actor, at FROM dose_revisions
                 WHERE dose_id = ?1 ORDER BY at, rowid",
            )?;
            let rows = stmt.query_map([id.to_string()], |r| {
                Ok(DoseRevision {
                    product: r.get(0)?,
                    lot: r.get(1)?,
                    dose_number: r.get::<_, i64>(2)? as u8,
                    given_at: from_micros(r.get(3)?),
                    voided: r.get(4)?,
                    reason: r.get(5)?,
                    by: r.get(6)?,
                    at: from_micros(r.get(7)?),
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn insert_adverse_event(&self, e: &AdverseEvent) -> Result<()> {
        let e = e.clone();
        self.write(move |tx| {
            tx.prepare_cached("SELECT 1 FROM doses WHERE id = ?1")?
                .query_row([e.dose.to_string()], |_| Ok(()))
                .optional()?
                .ok_or(StoreError::NotFound("dose"))?;
            tx.prepare_cached(&format!(
                "INSERT INTO adverse_events ({ADVERSE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
            ))?
            .execute(params![
                e.id.to_string(),
                e.dose.to_string(),
                e.person.to_string(),
                e.severity.as_str(),
                e.description,
                micros(e.onset_at),
                e.status.as_str(),
                e.note,
                e.reported_by,
                e.unit_path,
                micros(e.reported_at),
            ])?;
            Ok(())
        })
        .await
    }

    async fn adverse_events(&self, scope: &[String], limit: u32) -> Result<Vec<AdverseEvent>> {
        let scope = scope.to_vec();
        self.read(move |c| {
            let mut sql = format!("SELECT {ADVERSE_COLUMNS} FROM adverse_events WHERE (");
            let mut values = Vec::new();
            push_scope(&mut sql, &mut values, "unit_path", &scope);
            sql.push_str(&format!(") ORDER BY reported_at DESC, id LIMIT {limit}"));
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(values), adverse_row)?;
            rows.map(|r| r?).collect()
        })
        .await
    }

    async fn update_adverse_event(&self, id: AdverseEventId, status: AdverseStatus, note: &str) -> Result<()> {
        let note = note.to_owned();
        self.write(move |tx| {
            let n = tx
                .prepare_cached("UPDATE adverse_events SET status = ?2, note = ?3 WHERE id = ?1")?
                .execute(params![id.to_string(), status.as_str(), note])?;
            if n == 0 { Err(StoreError::NotFound("adverse_event")) } else { Ok(()) }
        })
        .await
    }

    async fn coverage(&self, unit_path: &str) -> Result<Vec<CoverageRow>> {
        let path = unit_path.to_owned();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT dimension, bucket, at_least_one, full_series FROM coverage_totals WHERE unit_path = ?1
                 ORDER BY dimension, bucket",
            )?;
            let rows = stmt.query_map([path], |r| {
                Ok(CoverageRow {
                    dimension: r.get(0)?,
                    bucket: r.get(1)?,
                    coverage: Coverage { at_least_one: r.get(2)?, full_series: r.get(3)? },
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn coverage_of(&self, unit_paths: &[String]) -> Result<Vec<(String, Coverage)>> {
        let paths = unit_paths.to_vec();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT at_least_one, full_series FROM coverage_totals
                 WHERE unit_path = ?1 AND dimension = 'all' AND bucket = 'all'",
            )?;
            paths
                .into_iter()
                .map(|p| {
                    let c = stmt
                        .query_row([&p], |r| Ok(Coverage { at_least_one: r.get(0)?, full_series: r.get(1)? }))
                        .optional()?
                        .unwrap_or_default();
                    Ok((p, c))
                })
                .collect()
        })
        .await
    }

    async fn doses_per_day(&self, unit_path: &str, from: Date, to: Date) -> Result<Vec<DailyDoses>> {
        let path = unit_path.to_owned();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT day, product, doses FROM dose_totals WHERE unit_path = ?1 AND day >= ?2 AND day <= ?3
                 AND doses <> 0 ORDER BY day, product",
            )?;
            let rows = stmt.query_map(params![path, from.to_string(), to.to_string()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
            })?;
            let rows = rows.collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter().map(|(d, product, doses)| Ok(DailyDoses { day: day(&d)?, product, doses })).collect()
        })
        .await
    }
}

impl SqliteStore {
    async fn sites_where(&self, condition: &str, values: Vec<String>, limit: u32) -> Result<Vec<Site>> {
        let sql = format!(
            "SELECT id, name, unit_code, unit_path, address, created_by FROM vaccination_sites WHERE {condition}
             ORDER BY name, id LIMIT {limit}"
        );
        self.read(move |c| {
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(values), |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })?;
            let rows = rows.collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter()
                .map(|(id, name, unit, unit_path, address, created_by)| {
                    Ok(Site { id: SiteId(uuid_of(&id)?), name, unit: unit_of(&unit)?, unit_path, address, created_by })
                })
                .collect()
        })
        .await
    }

    async fn invitations_where(&self, condition: &'static str, value: String) -> Result<Vec<Invitation>> {
        self.read(move |c| {
            let mut stmt =
                c.prepare_cached(&format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE {condition}"))?;
            let rows = stmt.query_map([value], invitation_row)?;
            rows.map(|r| r?).collect()
        })
        .await
    }
}
