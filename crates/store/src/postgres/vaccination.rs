//! Registrations, sessions, invitations, doses and coverage in PostgreSQL.
//!
//! The same decisions as the SQLite store, through the shared functions of
//! `crate::vaccination`. Where SQLite's single writer serialises everything, rows are locked
//! here instead: the session while its slots are filled, the person while a dose is added.

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Transaction};
use outbreak_domain::person::BirthDate;
use outbreak_domain::vaccination::{
    AdverseEventId, AdverseStatus, DoseId, InvitationId, InvitationStatus, OrganisationId, OrganisationKind,
    OrganisationStatus, PriorityGroup, RegistrationId, Severity, SiteId, VaccinationSessionId,
};
use outbreak_domain::{PersonId, UnitCode};
use time::{Date, OffsetDateTime};
use tokio_postgres::Row;
use tokio_postgres::types::{Json, ToSql};
use uuid::Uuid;

use super::testing::lock_outbox;
use super::{
    PostgresStore, commit, insert_audit, is_foreign_key_violation, push_scope, refs, unique_violation, unit_path,
};
use crate::records::NewAuditEntry;
use crate::testing::columns::word;
use crate::testing::plan::NewEvent;
use crate::testing::rollup_paths;
use crate::vaccination::*;
use crate::{Result, StoreError};

const ORGANISATION_COLUMNS: &str = "id, name, kind, unit_code, unit_path, address, contact_phone, manager, status, \
     applied_at, decided_by, decided_at, decision_note";
const SESSION_COLUMNS: &str =
    "s.id, s.site_id, t.name, s.unit_path, s.day, s.product, s.lot, s.slots::text, s.created_by, s.created_at";
const INVITATION_COLUMNS: &str =
    "id, session_id, person_id, slot, dose_number, status, offered_at, expires_at, answered_at";
const DOSE_COLUMNS: &str = "d.id, d.person_id, d.product, d.lot, d.dose_number, d.given_at, d.site_id, t.name, \
     d.session_id, d.vaccinator, d.home_path, d.site_path, d.voided, d.recorded_at";
const ADVERSE_COLUMNS: &str = "id, dose_id, person_id, severity, description, onset_at, status, note, reported_by, \
     unit_path, reported_at";

fn unit_of(text: &str) -> Result<UnitCode> {
    UnitCode::parse("stored", text).map_err(|_| StoreError::Backend(format!("stored unit {text:?} does not parse")))
}

fn organisation_row(r: &Row) -> Result<Organisation> {
    Ok(Organisation {
        id: OrganisationId(r.try_get(0)?),
        name: r.try_get(1)?,
        kind: word(OrganisationKind::parse, r.try_get(2)?)?,
        unit: unit_of(r.try_get(3)?)?,
        unit_path: r.try_get(4)?,
        address: r.try_get(5)?,
        contact_phone: r.try_get(6)?,
        manager: r.try_get(7)?,
        status: word(OrganisationStatus::parse, r.try_get(8)?)?,
        applied_at: r.try_get(9)?,
        decided_by: r.try_get(10)?,
        decided_at: r.try_get(11)?,
        decision_note: r.try_get(12)?,
    })
}

fn session_row(r: &Row) -> Result<VaccinationSession> {
    Ok(VaccinationSession {
        id: VaccinationSessionId(r.try_get(0)?),
        site: SiteId(r.try_get(1)?),
        site_name: r.try_get(2)?,
        unit_path: r.try_get(3)?,
        date: r.try_get(4)?,
        product: r.try_get(5)?,
        lot: r.try_get(6)?,
        slots: slots_of(r.try_get(7)?)?,
        created_by: r.try_get(8)?,
        created_at: r.try_get(9)?,
    })
}

fn invitation_row(r: &Row) -> Result<Invitation> {
    Ok(Invitation {
        id: InvitationId(r.try_get(0)?),
        session: VaccinationSessionId(r.try_get(1)?),
        person: PersonId(r.try_get(2)?),
        slot: r.try_get::<_, i32>(3)? as usize,
        dose_number: r.try_get::<_, i16>(4)? as u8,
        status: word(InvitationStatus::parse, r.try_get(5)?)?,
        offered_at: r.try_get(6)?,
        expires_at: r.try_get(7)?,
        answered_at: r.try_get(8)?,
    })
}

fn dose_row(r: &Row) -> Result<Dose> {
    Ok(Dose {
        id: DoseId(r.try_get(0)?),
        person: PersonId(r.try_get(1)?),
        product: r.try_get(2)?,
        lot: r.try_get(3)?,
        dose_number: r.try_get::<_, i16>(4)? as u8,
        given_at: r.try_get(5)?,
        site: SiteId(r.try_get(6)?),
        site_name: r.try_get(7)?,
        session: r.try_get::<_, Option<Uuid>>(8)?.map(VaccinationSessionId),
        vaccinator: r.try_get(9)?,
        home_path: r.try_get(10)?,
        site_path: r.try_get(11)?,
        voided: r.try_get(12)?,
        recorded_at: r.try_get(13)?,
    })
}

fn adverse_row(r: &Row) -> Result<AdverseEvent> {
    Ok(AdverseEvent {
        id: AdverseEventId(r.try_get(0)?),
        dose: DoseId(r.try_get(1)?),
        person: PersonId(r.try_get(2)?),
        severity: word(Severity::parse, r.try_get(3)?)?,
        description: r.try_get(4)?,
        onset_at: r.try_get(5)?,
        status: word(AdverseStatus::parse, r.try_get(6)?)?,
        note: r.try_get(7)?,
        reported_by: r.try_get(8)?,
        unit_path: r.try_get(9)?,
        reported_at: r.try_get(10)?,
    })
}

async fn person_doses(c: &impl GenericClient, person: PersonId) -> Result<Vec<Dose>> {
    let statement = c
        .prepare_cached(&format!(
            "SELECT {DOSE_COLUMNS} FROM doses d JOIN vaccination_sites t ON t.id = d.site_id
             WHERE d.person_id = $1 ORDER BY d.given_at, d.recorded_at"
        ))
        .await?;
    c.query(&statement, &[&person.0]).await?.iter().map(dose_row).collect()
}

async fn lot(c: &impl GenericClient, number: &str) -> Result<Option<Lot>> {
    let statement =
        c.prepare_cached("SELECT lot, product, expires_on, unit_code FROM vaccine_lots WHERE lot = $1").await?;
    c.query_opt(&statement, &[&number])
        .await?
        .map(|r| {
            Ok(Lot {
                lot: r.try_get(0)?,
                product: r.try_get(1)?,
                expires_on: r.try_get(2)?,
                unit: unit_of(r.try_get(3)?)?,
            })
        })
        .transpose()
}

async fn session(c: &impl GenericClient, id: VaccinationSessionId) -> Result<Option<VaccinationSession>> {
    let statement = c
        .prepare_cached(&format!(
            "SELECT {SESSION_COLUMNS} FROM vaccination_sessions s JOIN vaccination_sites t ON t.id = s.site_id
             WHERE s.id = $1"
        ))
        .await?;
    c.query_opt(&statement, &[&id.0]).await?.as_ref().map(session_row).transpose()
}

async fn insert_events(tx: &Transaction<'_>, events: &[NewEvent]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    lock_outbox(tx).await?;
    let statement = tx
        .prepare_cached("INSERT INTO events (kind, subject, unit_path, payload, at) VALUES ($1, $2, $3, $4, $5)")
        .await?;
    for e in events {
        tx.execute(&statement, &[&e.kind, &e.subject, &e.unit_path, &Json(&*e.payload), &e.at]).await?;
    }
    Ok(())
}

fn stored_birth(text: &str) -> Result<BirthDate> {
    BirthDate::parse("stored", text, Date::MAX)
        .map_err(|_| StoreError::Backend(format!("stored birth date {text:?} does not parse")))
}

/// Recounts a person in coverage from their doses: takes out what their stored status
/// counted, puts in the new one.
async fn recount(tx: &Transaction<'_>, person: PersonId, doses: &[Dose]) -> Result<()> {
    let before = tx
        .query_opt(
            "SELECT home_path, age_band, priority_group, comorbid, doses, complete FROM vaccination_status
             WHERE person_id = $1",
            &[&person.0],
        )
        .await?
        .map(|r| -> Result<PersonStatus> {
            Ok(PersonStatus {
                home_path: r.try_get(0)?,
                age_band: r.try_get(1)?,
                priority_group: r.try_get(2)?,
                comorbid: r.try_get(3)?,
                doses: r.try_get(4)?,
                full: r.try_get(5)?,
            })
        })
        .transpose()?;
    let row = tx
        .query_opt("SELECT date_of_birth, address_path FROM people WHERE id = $1", &[&person.0])
        .await?
        .ok_or(StoreError::NotFound("person"))?;
    let (birth, home_path): (String, String) = (row.try_get(0)?, row.try_get(1)?);
    let registration: Option<(String, String)> = tx
        .query_opt("SELECT priority_group, comorbidities FROM registrations WHERE person_id = $1", &[&person.0])
        .await?
        .map(|r| -> Result<(String, String)> { Ok((r.try_get(0)?, r.try_get(1)?)) })
        .transpose()?;
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
    let upsert = tx
        .prepare_cached(
            "INSERT INTO coverage_totals (unit_path, dimension, bucket, at_least_one, full_series)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (unit_path, dimension, bucket) DO UPDATE SET
               at_least_one = coverage_totals.at_least_one + excluded.at_least_one,
               full_series = coverage_totals.full_series + excluded.full_series",
        )
        .await?;
    // A fixed order, so concurrent recounts lock the shared rows alike.
    let mut delta: Vec<_> = delta.into_iter().filter(|(_, c)| *c != Coverage::default()).collect();
    delta.sort_by(|a, b| a.0.cmp(&b.0));
    for ((path, dimension, bucket), c) in delta {
        tx.execute(&upsert, &[&path, &dimension, &bucket, &c.at_least_one, &c.full_series]).await?;
    }
    if after.doses == 0 {
        tx.execute("DELETE FROM vaccination_status WHERE person_id = $1", &[&person.0]).await?;
    } else {
        tx.execute(
            "INSERT INTO vaccination_status (person_id, home_path, age_band, priority_group, comorbid, doses, complete)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (person_id) DO UPDATE SET doses = excluded.doses, complete = excluded.complete",
            &[
                &person.0,
                &after.home_path,
                &after.age_band,
                &after.priority_group,
                &after.comorbid,
                &after.doses,
                &after.full,
            ],
        )
        .await?;
    }
    Ok(())
}

/// Moves doses-per-day for one dose (`sign` ±1).
async fn count_dose(tx: &Transaction<'_>, dose: &Dose, sign: i64) -> Result<()> {
    let day = outbreak_domain::local_date(dose.given_at);
    let upsert = tx
        .prepare_cached(
            "INSERT INTO dose_totals (unit_path, day, product, doses) VALUES ($1, $2, $3, $4)
             ON CONFLICT (unit_path, day, product) DO UPDATE SET doses = dose_totals.doses + excluded.doses",
        )
        .await?;
    for path in rollup_paths(&dose.home_path) {
        tx.execute(&upsert, &[&path, &day, &dose.product, &sign]).await?;
    }
    Ok(())
}

/// Finds the person a registration names, or stores them: by id (a person already known),
/// by CCCD, else by phone, folded name and date of birth together. Returns the id and whether they were already known.
async fn match_or_insert(tx: &Transaction<'_>, r: &NewRegistration) -> Result<(PersonId, bool)> {
    if tx.query_opt("SELECT 1 FROM people WHERE id = $1", &[&r.person.id.0]).await?.is_some() {
        return Ok((r.person.id, true));
    }
    if let Some(cccd) = &r.person.cccd {
        if let Some(row) = tx.query_opt("SELECT id FROM people WHERE cccd = $1", &[&cccd.as_str()]).await? {
            return Ok((PersonId(row.try_get(0)?), true));
        }
    } else if let Some((phone, name, birth)) = match_key(&r.person) {
        let row = tx
            .query_opt(
                "SELECT id FROM people WHERE phone = $1 AND name_folded = $2 AND date_of_birth = $3
                 ORDER BY created_at LIMIT 1",
                &[&phone, &name, &birth],
            )
            .await?;
        if let Some(row) = row {
            return Ok((PersonId(row.try_get(0)?), true));
        }
    }
    super::put_person(tx, &r.person, false).await?;
    Ok((r.person.id, false))
}

async fn register_one(tx: &Transaction<'_>, r: &NewRegistration) -> Result<RegistrationOutcome> {
    let refuse = |field: &str, code: &str, message: String| {
        Ok(RegistrationOutcome::Refused { field: field.into(), code: code.into(), message })
    };
    if tx.query_opt("SELECT 1 FROM priority_groups WHERE code = $1", &[&r.priority_group]).await?.is_none() {
        return refuse("priority_group", "unknown_group", format!("{:?} is not a priority group", r.priority_group));
    }
    let Ok(preferred_path) = unit_path(tx, &r.preferred_unit, "preferred_unit").await else {
        return refuse("preferred_unit", "unknown_unit", format!("{} is not a known unit", r.preferred_unit));
    };
    // A savepoint per row: a refused person (an unknown address unit) leaves nothing behind
    // while the rows around it are stored.
    tx.batch_execute("SAVEPOINT registration").await?;
    let (person, known) = match match_or_insert(tx, r).await {
        Ok(m) => m,
        Err(e) => {
            tx.batch_execute("ROLLBACK TO SAVEPOINT registration; RELEASE SAVEPOINT registration").await?;
            return match e {
                StoreError::NotFound(field) => refuse(field, "unknown_unit", format!("{field} is not a known unit")),
                StoreError::Conflict { field, .. } => {
                    refuse(field, "conflict", format!("{field} belongs to another person already registered"))
                }
                e => Err(e),
            };
        }
    };
    tx.batch_execute("RELEASE SAVEPOINT registration").await?;
    if let Some(row) = tx.query_opt("SELECT id FROM registrations WHERE person_id = $1", &[&person.0]).await? {
        return Ok(RegistrationOutcome::AlreadyRegistered { registration: RegistrationId(row.try_get(0)?), person });
    }
    let statement = tx
        .prepare_cached(
            "INSERT INTO registrations (id, person_id, organisation, priority_group, comorbidities, preferred_unit,
               preferred_path, registered_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .await?;
    tx.execute(
        &statement,
        &[
            &r.id.0,
            &person.0,
            &r.organisation.map(|o| o.0),
            &r.priority_group,
            &r.comorbidities,
            &r.preferred_unit.as_str(),
            &preferred_path,
            &r.registered_at,
        ],
    )
    .await?;
    Ok(RegistrationOutcome::Registered { registration: r.id, person, matched: known })
}

fn noon_in_vietnam(day: Date, fallback: OffsetDateTime) -> OffsetDateTime {
    day.with_hms(12, 0, 0).map(|d| d.assume_offset(outbreak_domain::VIETNAM)).unwrap_or(fallback)
}

#[async_trait]
impl VaccinationStore for PostgresStore {
    async fn put_priority_groups(&self, groups: &[PriorityGroup]) -> Result<()> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let result = async {
            for g in groups {
                tx.execute(
                    "INSERT INTO priority_groups (code, rank, name, name_en) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (code) DO UPDATE SET rank = excluded.rank, name = excluded.name,
                       name_en = excluded.name_en",
                    &[&g.code, &g.rank, &g.name, &g.name_en],
                )
                .await?;
            }
            Ok(())
        }
        .await;
        commit(tx, result).await
    }

    async fn priority_groups(&self) -> Result<Vec<PriorityGroup>> {
        let client = self.pool.get().await?;
        client
            .query("SELECT code, rank, name, name_en FROM priority_groups ORDER BY rank, code", &[])
            .await?
            .iter()
            .map(|r| {
                Ok(PriorityGroup {
                    code: r.try_get(0)?,
                    rank: r.try_get(1)?,
                    name: r.try_get(2)?,
                    name_en: r.try_get(3)?,
                })
            })
            .collect()
    }

    async fn insert_organisation(&self, o: &Organisation) -> Result<()> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let result = async {
            let path = unit_path(&tx, &o.unit, "unit").await?;
            tx.execute(
                &format!(
                    "INSERT INTO organisations ({ORGANISATION_COLUMNS})
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                ),
                &[
                    &o.id.0,
                    &o.name,
                    &o.kind.as_str(),
                    &o.unit.as_str(),
                    &path,
                    &o.address,
                    &o.contact_phone,
                    &o.manager,
                    &o.status.as_str(),
                    &o.applied_at,
                    &o.decided_by,
                    &o.decided_at,
                    &o.decision_note,
                ],
            )
            .await?;
            Ok(())
        }
        .await;
        commit(tx, result).await
    }

    async fn organisation(&self, id: OrganisationId) -> Result<Option<Organisation>> {
        let client = self.pool.get().await?;
        client
            .query_opt(&format!("SELECT {ORGANISATION_COLUMNS} FROM organisations WHERE id = $1"), &[&id.0])
            .await?
            .as_ref()
            .map(organisation_row)
            .transpose()
    }

    async fn organisations(
        &self,
        scope: &[String],
        status: Option<OrganisationStatus>,
        limit: u32,
    ) -> Result<Vec<Organisation>> {
        let mut sql = format!("SELECT {ORGANISATION_COLUMNS} FROM organisations WHERE (");
        let mut values: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        push_scope(&mut sql, &mut values, "unit_path", scope);
        sql.push(')');
        if let Some(status) = status {
            values.push(Box::new(status.as_str()));
            sql.push_str(&format!(" AND status = ${}", values.len()));
        }
        sql.push_str(&format!(" ORDER BY applied_at, id LIMIT {limit}"));
        let client = self.pool.get().await?;
        client.query(&sql, &refs(&values)).await?.iter().map(organisation_row).collect()
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
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let result = async {
            let current: String = tx
                .query_opt("SELECT status FROM organisations WHERE id = $1 FOR UPDATE", &[&id.0])
                .await?
                .ok_or(StoreError::NotFound("organisation"))?
                .try_get(0)?;
            if current != OrganisationStatus::Pending.as_str() {
                return Err(StoreError::Refused {
                    field: "status",
                    code: "already_decided",
                    message: format!("this application was already {current}"),
                });
            }
            tx.execute(
                "UPDATE organisations SET status = $2, manager = $3, decided_by = $4, decided_at = $5,
                   decision_note = $6 WHERE id = $1",
                &[&id.0, &status.as_str(), &manager, &by, &at, &note],
            )
            .await
            .map_err(|e| if is_foreign_key_violation(&e) { StoreError::NotFound("manager") } else { e.into() })?;
            let row = tx
                .query_one(&format!("SELECT {ORGANISATION_COLUMNS} FROM organisations WHERE id = $1"), &[&id.0])
                .await?;
            organisation_row(&row)
        }
        .await;
        commit(tx, result).await
    }

    async fn managed_organisations(&self, account: Uuid) -> Result<Vec<Organisation>> {
        let client = self.pool.get().await?;
        client
            .query(
                &format!("SELECT {ORGANISATION_COLUMNS} FROM organisations WHERE manager = $1 ORDER BY name, id"),
                &[&account],
            )
            .await?
            .iter()
            .map(organisation_row)
            .collect()
    }

    async fn register(
        &self,
        registrations: Vec<NewRegistration>,
        audit: Vec<NewAuditEntry>,
    ) -> Result<Vec<RegistrationOutcome>> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let result = async {
            let mut outcomes = Vec::with_capacity(registrations.len());
            for r in &registrations {
                outcomes.push(register_one(&tx, r).await?);
            }
            for entry in &audit {
                insert_audit(&tx, entry).await?;
            }
            Ok(outcomes)
        }
        .await;
        commit(tx, result).await
    }

    async fn registration_of(&self, person: PersonId) -> Result<Option<Registration>> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT id, organisation, priority_group, comorbidities, preferred_unit, preferred_path, registered_at
                 FROM registrations WHERE person_id = $1",
                &[&person.0],
            )
            .await?;
        row.map(|r| {
            Ok(Registration {
                id: RegistrationId(r.try_get(0)?),
                person,
                organisation: r.try_get::<_, Option<Uuid>>(1)?.map(OrganisationId),
                priority_group: r.try_get(2)?,
                comorbidities: r.try_get(3)?,
                preferred_unit: unit_of(r.try_get(4)?)?,
                preferred_path: r.try_get(5)?,
                registered_at: r.try_get(6)?,
            })
        })
        .transpose()
    }

    async fn count_registrations(&self, organisation: Option<OrganisationId>) -> Result<u64> {
        let client = self.pool.get().await?;
        let n: i64 = match organisation {
            Some(o) => client.query_one("SELECT count(*) FROM registrations WHERE organisation = $1", &[&o.0]).await?,
            None => client.query_one("SELECT count(*) FROM registrations", &[]).await?,
        }
        .try_get(0)?;
        Ok(n as u64)
    }

    async fn insert_lot(&self, l: &Lot) -> Result<()> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let result = async {
            unit_path(&tx, &l.unit, "unit").await?;
            tx.execute(
                "INSERT INTO vaccine_lots (lot, product, expires_on, unit_code) VALUES ($1, $2, $3, $4)",
                &[&l.lot, &l.product, &l.expires_on, &l.unit.as_str()],
            )
            .await
            .map_err(|e| match unique_violation(&e) {
                Some(_) => StoreError::Conflict { field: "lot", existing: Some(l.lot.clone()) },
                None => e.into(),
            })?;
            Ok(())
        }
        .await;
        commit(tx, result).await
    }

    async fn lot(&self, number: &str) -> Result<Option<Lot>> {
        let client = self.pool.get().await?;
        lot(&client, number).await
    }

    async fn insert_site(&self, s: &Site) -> Result<()> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let result = async {
            let path = unit_path(&tx, &s.unit, "unit").await?;
            tx.execute(
                "INSERT INTO vaccination_sites (id, name, unit_code, unit_path, address, created_by)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[&s.id.0, &s.name, &s.unit.as_str(), &path, &s.address, &s.created_by],
            )
            .await?;
            Ok(())
        }
        .await;
        commit(tx, result).await
    }

    async fn site(&self, id: SiteId) -> Result<Option<Site>> {
        let values: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(id.0)];
        Ok(self.sites_where("id = $1", values, 1).await?.into_iter().next())
    }

    async fn sites(&self, scope: &[String], limit: u32) -> Result<Vec<Site>> {
        let mut sql = String::from("(");
        let mut values: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        push_scope(&mut sql, &mut values, "unit_path", scope);
        sql.push(')');
        self.sites_where(&sql, values, limit).await
    }

    async fn insert_vaccination_session(&self, s: &VaccinationSession) -> Result<()> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let result = async {
            let site_path: String = tx
                .query_opt("SELECT unit_path FROM vaccination_sites WHERE id = $1", &[&s.site.0])
                .await?
                .ok_or(StoreError::NotFound("site"))?
                .try_get(0)?;
            check_lot(&s.product, &s.lot, lot(&tx, &s.lot).await?.as_ref(), noon_in_vietnam(s.date, s.created_at))?;
            let slots: serde_json::Value = serde_json::from_str(&slots_json(&s.slots)?)
                .map_err(|e| StoreError::Backend(format!("slots do not serialise: {e}")))?;
            tx.execute(
                "INSERT INTO vaccination_sessions (id, site_id, unit_path, day, product, lot, slots, created_by, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[&s.id.0, &s.site.0, &site_path, &s.date, &s.product, &s.lot, &slots, &s.created_by, &s.created_at],
            )
            .await?;
            Ok(())
        }
        .await;
        commit(tx, result).await
    }

    async fn vaccination_session(&self, id: VaccinationSessionId) -> Result<Option<VaccinationSession>> {
        let client = self.pool.get().await?;
        session(&client, id).await
    }

    async fn vaccination_sessions(&self, scope: &[String], limit: u32) -> Result<Vec<VaccinationSession>> {
        let mut sql = format!(
            "SELECT {SESSION_COLUMNS} FROM vaccination_sessions s JOIN vaccination_sites t ON t.id = s.site_id WHERE ("
        );
        let mut values: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        push_scope(&mut sql, &mut values, "s.unit_path", scope);
        sql.push_str(&format!(") ORDER BY s.day DESC, s.created_at DESC LIMIT {limit}"));
        let client = self.pool.get().await?;
        client.query(&sql, &refs(&values)).await?.iter().map(session_row).collect()
    }

    async fn allocation_candidates(
        &self,
        session: VaccinationSessionId,
        scope: &[String],
        offset: u32,
        limit: u32,
    ) -> Result<Vec<Candidate>> {
        let mut sql = String::from(
            "SELECT r.id, p.id, p.full_name, p.phone, p.date_of_birth, g.rank, r.registered_at
             FROM registrations r JOIN people p ON p.id = r.person_id
               JOIN priority_groups g ON g.code = r.priority_group
               LEFT JOIN vaccination_status v ON v.person_id = r.person_id
             WHERE (",
        );
        let mut values: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        push_scope(&mut sql, &mut values, "r.preferred_path", scope);
        values.push(Box::new(session.0));
        sql.push_str(&format!(
            ") AND NOT coalesce(v.complete, FALSE)
               AND NOT EXISTS (SELECT 1 FROM invitations i WHERE i.person_id = r.person_id
                               AND (i.status IN ('offered', 'confirmed') OR i.session_id = ${}))
             ORDER BY g.rank, substr(p.date_of_birth, 1, 4), p.date_of_birth, r.registered_at, r.id
             LIMIT {limit} OFFSET {offset}",
            values.len()
        ));
        let client = self.pool.get().await?;
        let rows = client.query(&sql, &refs(&values)).await?;
        let mut candidates = Vec::with_capacity(rows.len());
        for r in rows {
            let person = PersonId(r.try_get(1)?);
            let doses = person_doses(&client, person).await?.into_iter().filter(|d| !d.voided).collect();
            candidates.push(Candidate {
                registration: RegistrationId(r.try_get(0)?),
                person,
                full_name: r.try_get(2)?,
                phone: r.try_get(3)?,
                date_of_birth: stored_birth(r.try_get(4)?)?,
                group_rank: r.try_get(5)?,
                registered_at: r.try_get(6)?,
                doses,
            });
        }
        Ok(candidates)
    }

    async fn invite(&self, invitations: Vec<NewInvitation>, audit: Vec<NewAuditEntry>) -> Result<Vec<Invitation>> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let result = async {
            let mut sessions: Vec<Uuid> = invitations.iter().map(|n| n.session.0).collect();
            sessions.sort();
            sessions.dedup();
            // Slots are counted under the sessions' row locks, so two allocators never
            // overfill one.
            tx.execute("SELECT 1 FROM vaccination_sessions WHERE id = ANY($1) ORDER BY id FOR UPDATE", &[&sessions])
                .await?;
            let mut stored = Vec::new();
            let mut events = Vec::new();
            for n in &invitations {
                let s = session(&tx, n.session).await?.ok_or(StoreError::NotFound("session"))?;
                let Some(slot) = s.slots.get(n.slot) else { return Err(StoreError::NotFound("slot")) };
                let taken: i64 = tx
                    .query_one(
                        "SELECT count(*) FROM invitations WHERE session_id = $1 AND slot = $2
                         AND status IN ('offered', 'confirmed', 'attended')",
                        &[&n.session.0, &(n.slot as i32)],
                    )
                    .await?
                    .try_get(0)?;
                if taken >= slot.capacity {
                    continue;
                }
                let row = tx
                    .query_opt(
                        &format!(
                            "INSERT INTO invitations ({INVITATION_COLUMNS})
                             VALUES ($1, $2, $3, $4, $5, 'offered', $6, $7, NULL)
                             ON CONFLICT DO NOTHING RETURNING {INVITATION_COLUMNS}"
                        ),
                        &[
                            &n.id.0,
                            &n.session.0,
                            &n.person.0,
                            &(n.slot as i32),
                            &i16::from(n.dose_number),
                            &n.offered_at,
                            &n.expires_at,
                        ],
                    )
                    .await?;
                if let Some(row) = row {
                    let invitation = invitation_row(&row)?;
                    let home: String = tx
                        .query_one("SELECT address_path FROM people WHERE id = $1", &[&n.person.0])
                        .await?
                        .try_get(0)?;
                    events.push(invitation_event(&invitation, &s, &home));
                    stored.push(invitation);
                }
            }
            insert_events(&tx, &events).await?;
            for entry in &audit {
                insert_audit(&tx, entry).await?;
            }
            Ok(stored)
        }
        .await;
        commit(tx, result).await
    }

    async fn invitation(&self, id: InvitationId) -> Result<Option<Invitation>> {
        let client = self.pool.get().await?;
        client
            .query_opt(&format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE id = $1"), &[&id.0])
            .await?
            .as_ref()
            .map(invitation_row)
            .transpose()
    }

    async fn answer_invitation(
        &self,
        id: InvitationId,
        status: InvitationStatus,
        at: OffsetDateTime,
    ) -> Result<Invitation> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                &format!(
                    "UPDATE invitations SET status = $2, answered_at = $3
                     WHERE id = $1 AND status = 'offered' AND expires_at > $3 RETURNING {INVITATION_COLUMNS}"
                ),
                &[&id.0, &status.as_str(), &at],
            )
            .await?;
        if let Some(row) = row {
            return invitation_row(&row);
        }
        let current: Option<String> =
            client.query_opt("SELECT status FROM invitations WHERE id = $1", &[&id.0]).await?.map(|r| r.get(0));
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

    async fn expire_invitations(&self, at: OffsetDateTime) -> Result<Vec<VaccinationSessionId>> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "UPDATE invitations SET status = 'expired', answered_at = $1
                 WHERE status = 'offered' AND expires_at <= $1 RETURNING session_id",
                &[&at],
            )
            .await?;
        let mut sessions = rows.iter().map(|r| Ok(VaccinationSessionId(r.try_get(0)?))).collect::<Result<Vec<_>>>()?;
        sessions.sort();
        sessions.dedup();
        Ok(sessions)
    }

    async fn session_invitations(&self, session: VaccinationSessionId) -> Result<Vec<Invitation>> {
        self.invitations_where("session_id = $1 ORDER BY slot, offered_at, id", session.0).await
    }

    async fn person_invitations(&self, person: PersonId) -> Result<Vec<Invitation>> {
        self.invitations_where("person_id = $1 ORDER BY offered_at DESC, id", person.0).await
    }

    async fn record_dose(&self, n: NewDose, audit: Vec<NewAuditEntry>) -> Result<Dose> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let result = async {
            // The person's row lock serialises doses for one person.
            let home_path: String = tx
                .query_opt("SELECT address_path FROM people WHERE id = $1 FOR UPDATE", &[&n.person.0])
                .await?
                .ok_or(StoreError::NotFound("person"))?
                .try_get(0)?;
            let site_path: String = tx
                .query_opt("SELECT unit_path FROM vaccination_sites WHERE id = $1", &[&n.site.0])
                .await?
                .ok_or(StoreError::NotFound("site"))?
                .try_get(0)?;
            let history: Vec<Dose> = person_doses(&tx, n.person).await?.into_iter().filter(|d| !d.voided).collect();
            check_new_dose(&history, &n, lot(&tx, &n.lot).await?.as_ref())?;
            let screening: serde_json::Value = serde_json::from_str(&screening_json(&n.screening))
                .map_err(|e| StoreError::Backend(format!("screening does not serialise: {e}")))?;
            tx.execute(
                "INSERT INTO doses (id, person_id, product, lot, dose_number, given_at, site_id, session_id, vaccinator,
                   home_path, site_path, screening, voided, recorded_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, FALSE, $13)",
                &[
                    &n.id.0,
                    &n.person.0,
                    &n.product,
                    &n.lot,
                    &i16::from(n.dose_number),
                    &n.given_at,
                    &n.site.0,
                    &n.session.map(|s| s.0),
                    &n.vaccinator,
                    &home_path,
                    &site_path,
                    &screening,
                    &outbreak_domain::now(),
                ],
            )
            .await?;
            let doses = person_doses(&tx, n.person).await?;
            let dose = doses.iter().find(|d| d.id == n.id).cloned().ok_or(StoreError::NotFound("dose"))?;
            recount(&tx, n.person, &doses).await?;
            count_dose(&tx, &dose, 1).await?;
            if let Some(session) = n.session {
                tx.execute(
                    "UPDATE invitations SET status = 'attended' WHERE session_id = $1 AND person_id = $2
                     AND status IN ('offered', 'confirmed')",
                    &[&session.0, &n.person.0],
                )
                .await?;
            }
            insert_events(&tx, &[dose_event(&dose, false)]).await?;
            for entry in &audit {
                insert_audit(&tx, entry).await?;
            }
            Ok(dose)
        }
        .await;
        commit(tx, result).await
    }

    async fn correct_dose(&self, id: DoseId, c: DoseCorrection, audit: Vec<NewAuditEntry>) -> Result<Dose> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let result = async {
            let person: Uuid = tx
                .query_opt("SELECT person_id FROM doses WHERE id = $1", &[&id.0])
                .await?
                .ok_or(StoreError::NotFound("dose"))?
                .try_get(0)?;
            let person = PersonId(person);
            tx.execute("SELECT 1 FROM people WHERE id = $1 FOR UPDATE", &[&person.0]).await?;
            let before = person_doses(&tx, person).await?;
            let (after, corrected) = apply_correction(before.clone(), id, &c)?;
            if c.product.is_some() || c.lot.is_some() || c.given_at.is_some() {
                check_lot(&corrected.product, &corrected.lot, lot(&tx, &corrected.lot).await?.as_ref(), corrected.given_at)?;
            }
            let old = before.iter().find(|d| d.id == id).ok_or(StoreError::NotFound("dose"))?;
            tx.execute(
                "INSERT INTO dose_revisions (dose_id, product, lot, dose_number, given_at, voided, reason, by_actor, at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &id.0,
                    &old.product,
                    &old.lot,
                    &i16::from(old.dose_number),
                    &old.given_at,
                    &old.voided,
                    &c.reason,
                    &c.by,
                    &c.at,
                ],
            )
            .await?;
            let update = tx
                .prepare_cached(
                    "UPDATE doses SET product = $2, lot = $3, dose_number = $4, given_at = $5, voided = $6 WHERE id = $1",
                )
                .await?;
            for d in &after {
                tx.execute(&update, &[&d.id.0, &d.product, &d.lot, &i16::from(d.dose_number), &d.given_at, &d.voided])
                    .await?;
            }
            if !old.voided {
                count_dose(&tx, old, -1).await?;
            }
            if !corrected.voided {
                count_dose(&tx, &corrected, 1).await?;
            }
            recount(&tx, person, &after).await?;
            let mut event = dose_event(&corrected, true);
            event.at = c.at;
            insert_events(&tx, &[event]).await?;
            for entry in &audit {
                insert_audit(&tx, entry).await?;
            }
            Ok(corrected)
        }
        .await;
        commit(tx, result).await
    }

    async fn dose(&self, id: DoseId) -> Result<Option<Dose>> {
        let client = self.pool.get().await?;
        client
            .query_opt(
                &format!(
                    "SELECT {DOSE_COLUMNS} FROM doses d JOIN vaccination_sites t ON t.id = d.site_id WHERE d.id = $1"
                ),
                &[&id.0],
            )
            .await?
            .as_ref()
            .map(dose_row)
            .transpose()
    }

    async fn person_doses(&self, person: PersonId) -> Result<Vec<Dose>> {
        let client = self.pool.get().await?;
        person_doses(&client, person).await
    }

    async fn dose_history(&self, id: DoseId) -> Result<Vec<DoseRevision>> {
        let client = self.pool.get().await?;
        client
            .query(
                "SELECT product, lot, dose_number, given_at, voided, reason, by_actor, at FROM dose_revisions
                 WHERE dose_id = $1 ORDER BY at",
                &[&id.0],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(DoseRevision {
                    product: r.try_get(0)?,
                    lot: r.try_get(1)?,
                    dose_number: r.try_get::<_, i16>(2)? as u8,
                    given_at: r.try_get(3)?,
                    voided: r.try_get(4)?,
                    reason: r.try_get(5)?,
                    by: r.try_get(6)?,
                    at: r.try_get(7)?,
                })
            })
            .collect()
    }

    async fn insert_adverse_event(&self, e: &AdverseEvent) -> Result<()> {
        let client = self.pool.get().await?;
        if client.query_opt("SELECT 1 FROM doses WHERE id = $1", &[&e.dose.0]).await?.is_none() {
            return Err(StoreError::NotFound("dose"));
        }
        client
            .execute(
                &format!(
                    "INSERT INTO adverse_events ({ADVERSE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                ),
                &[
                    &e.id.0,
                    &e.dose.0,
                    &e.person.0,
                    &e.severity.as_str(),
                    &e.description,
                    &e.onset_at,
                    &e.status.as_str(),
                    &e.note,
                    &e.reported_by,
                    &e.unit_path,
                    &e.reported_at,
                ],
            )
            .await?;
        Ok(())
    }

    async fn adverse_events(&self, scope: &[String], limit: u32) -> Result<Vec<AdverseEvent>> {
        let mut sql = format!("SELECT {ADVERSE_COLUMNS} FROM adverse_events WHERE (");
        let mut values: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        push_scope(&mut sql, &mut values, "unit_path", scope);
        sql.push_str(&format!(") ORDER BY reported_at DESC, id LIMIT {limit}"));
        let client = self.pool.get().await?;
        client.query(&sql, &refs(&values)).await?.iter().map(adverse_row).collect()
    }

    async fn update_adverse_event(&self, id: AdverseEventId, status: AdverseStatus, note: &str) -> Result<()> {
        let client = self.pool.get().await?;
        let n = client
            .execute(
                "UPDATE adverse_events SET status = $2, note = $3 WHERE id = $1",
                &[&id.0, &status.as_str(), &note],
            )
            .await?;
        if n == 0 { Err(StoreError::NotFound("adverse_event")) } else { Ok(()) }
    }

    async fn coverage(&self, unit_path: &str) -> Result<Vec<CoverageRow>> {
        let client = self.pool.get().await?;
        client
            .query(
                "SELECT dimension, bucket, at_least_one, full_series FROM coverage_totals WHERE unit_path = $1
                 ORDER BY dimension, bucket",
                &[&unit_path],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(CoverageRow {
                    dimension: r.try_get(0)?,
                    bucket: r.try_get(1)?,
                    coverage: Coverage { at_least_one: r.try_get(2)?, full_series: r.try_get(3)? },
                })
            })
            .collect()
    }

    async fn coverage_of(&self, unit_paths: &[String]) -> Result<Vec<(String, Coverage)>> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT unit_path, at_least_one, full_series FROM coverage_totals
                 WHERE unit_path = ANY($1) AND dimension = 'all' AND bucket = 'all'",
                &[&unit_paths],
            )
            .await?;
        let mut found = std::collections::HashMap::new();
        for r in rows {
            found.insert(
                r.try_get::<_, String>(0)?,
                Coverage { at_least_one: r.try_get(1)?, full_series: r.try_get(2)? },
            );
        }
        Ok(unit_paths.iter().map(|p| (p.clone(), found.get(p).copied().unwrap_or_default())).collect())
    }

    async fn doses_per_day(&self, unit_path: &str, from: Date, to: Date) -> Result<Vec<DailyDoses>> {
        let client = self.pool.get().await?;
        client
            .query(
                "SELECT day, product, doses FROM dose_totals WHERE unit_path = $1 AND day >= $2 AND day <= $3
                 AND doses <> 0 ORDER BY day, product",
                &[&unit_path, &from, &to],
            )
            .await?
            .iter()
            .map(|r| Ok(DailyDoses { day: r.try_get(0)?, product: r.try_get(1)?, doses: r.try_get(2)? }))
            .collect()
    }
}

impl PostgresStore {
    async fn sites_where(
        &self,
        condition: &str,
        values: Vec<Box<dyn ToSql + Sync + Send>>,
        limit: u32,
    ) -> Result<Vec<Site>> {
        let sql = format!(
            "SELECT id, name, unit_code, unit_path, address, created_by FROM vaccination_sites WHERE {condition}
             ORDER BY name, id LIMIT {limit}"
        );
        let client = self.pool.get().await?;
        client
            .query(&sql, &refs(&values))
            .await?
            .iter()
            .map(|r| {
                Ok(Site {
                    id: SiteId(r.try_get(0)?),
                    name: r.try_get(1)?,
                    unit: unit_of(r.try_get(2)?)?,
                    unit_path: r.try_get(3)?,
                    address: r.try_get(4)?,
                    created_by: r.try_get(5)?,
                })
            })
            .collect()
    }

    async fn invitations_where(&self, condition: &'static str, value: Uuid) -> Result<Vec<Invitation>> {
        let client = self.pool.get().await?;
        client
            .query(&format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE {condition}"), &[&value])
            .await?
            .iter()
            .map(invitation_row)
            .collect()
    }
}
