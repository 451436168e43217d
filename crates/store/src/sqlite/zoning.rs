//! Restrictions in SQLite.

use async_trait::async_trait;
use outbreak_domain::UnitCode;
use outbreak_domain::tracing::RestrictionId;
use rusqlite::{OptionalExtension, Row, params, params_from_iter};
use time::OffsetDateTime;

use super::rows::{from_micros, micros, parse_uuid};
use super::{SqliteStore, insert_audit, push_scope};
use crate::records::NewAuditEntry;
use crate::zoning::*;
use crate::{Result, StoreError};

fn restriction_row(r: &Row) -> rusqlite::Result<Result<Restriction>> {
    let (id, unit, unit_name, unit_path): (String, String, String, String) =
        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
    let (from, until, reason, declared_by, created_at, lifted_at): (i64, i64, String, String, i64, Option<i64>) =
        (r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?);
    Ok((|| {
        Ok(Restriction {
            id: RestrictionId(parse_uuid(&id)?),
            unit: UnitCode::parse("unit", &unit).map_err(|e| StoreError::Backend(e.message))?,
            unit_name,
            unit_path,
            window_from: from_micros(from),
            window_until: from_micros(until),
            reason,
            declared_by,
            created_at: from_micros(created_at),
            lifted_at: lifted_at.map(from_micros),
        })
    })())
}

fn select_restriction(c: &rusqlite::Connection, id: RestrictionId) -> Result<Option<Restriction>> {
    c.prepare_cached(&format!(
        "SELECT {RESTRICTION_COLUMNS} FROM restrictions r JOIN units u ON u.code = r.unit_code WHERE r.id = ?1"
    ))?
    .query_row([id.to_string()], restriction_row)
    .optional()?
    .transpose()
}

#[async_trait]
impl ZoningStore for SqliteStore {
    async fn insert_restriction(&self, restriction: NewRestriction, audit: Vec<NewAuditEntry>) -> Result<Restriction> {
        self.write(move |tx| {
            let path: String = tx
                .prepare_cached("SELECT path FROM units WHERE code = ?1")?
                .query_row([restriction.unit.as_str()], |r| r.get(0))
                .optional()?
                .ok_or(StoreError::NotFound("unit"))?;
            let overlapping: Option<String> = tx
                .prepare_cached(
                    "SELECT id FROM restrictions
                     WHERE window_from < ?3 AND window_until > ?2
                       AND (substr(?1, 1, length(unit_path)) = unit_path OR substr(unit_path, 1, length(?1)) = ?1)
                     ORDER BY created_at LIMIT 1",
                )?
                .query_row(
                    params![path, micros(restriction.window_from), micros(restriction.window_until)],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(existing) = overlapping {
                return Err(StoreError::Conflict { field: "unit", existing: Some(existing) });
            }
            tx.prepare_cached(
                "INSERT INTO restrictions (id, unit_code, unit_path, window_from, window_until, reason, declared_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                restriction.id.to_string(),
                restriction.unit.as_str(),
                path,
                micros(restriction.window_from),
                micros(restriction.window_until),
                restriction.reason,
                restriction.declared_by,
                micros(restriction.created_at),
            ])?;
            for entry in &audit {
                insert_audit(tx, entry)?;
            }
            select_restriction(tx, restriction.id)?.ok_or(StoreError::NotFound("restriction"))
        })
        .await
    }

    async fn restriction(&self, id: RestrictionId) -> Result<Option<Restriction>> {
        self.read(move |c| select_restriction(c, id)).await
    }

    async fn restrictions(&self, scope: &[String], limit: u32) -> Result<Vec<Restriction>> {
        let scope = scope.to_vec();
        self.read(move |c| {
            let mut sql = format!(
                "SELECT {RESTRICTION_COLUMNS} FROM restrictions r JOIN units u ON u.code = r.unit_code WHERE ("
            );
            let mut values = Vec::new();
            push_scope(&mut sql, &mut values, "r.unit_path", &scope);
            sql.push_str(&format!(") ORDER BY r.created_at DESC, r.id DESC LIMIT {limit}"));
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(values.iter()), restriction_row)?;
            rows.map(|r| r?).collect()
        })
        .await
    }

    async fn lift_restriction(
        &self,
        id: RestrictionId,
        at: OffsetDateTime,
        audit: Vec<NewAuditEntry>,
    ) -> Result<Restriction> {
        self.write(move |tx| {
            let current = select_restriction(tx, id)?.ok_or(StoreError::NotFound("restriction"))?;
            if current.lifted_at.is_some() || current.window_until <= at {
                return Err(already_over());
            }
            // A restriction lifted before it starts keeps a window of an instant, so the
            // window still ends after it starts.
            let until = at.max(current.window_from + time::Duration::MICROSECOND);
            tx.prepare_cached("UPDATE restrictions SET window_until = ?2, lifted_at = ?3 WHERE id = ?1")?
                .execute(params![id.to_string(), micros(until), micros(at)])?;
            for entry in &audit {
                insert_audit(tx, entry)?;
            }
            select_restriction(tx, id)?.ok_or(StoreError::NotFound("restriction"))
        })
        .await
    }
}
