//! Restrictions in PostgreSQL.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use outbreak_domain::UnitCode;
use outbreak_domain::tracing::RestrictionId;
use time::OffsetDateTime;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{PostgresStore, commit, insert_audit, push_scope, refs};
use crate::records::NewAuditEntry;
use crate::zoning::*;
use crate::{Result, StoreError};

fn restriction_row(r: &Row) -> Result<Restriction> {
    let unit: String = r.try_get(1)?;
    Ok(Restriction {
        id: RestrictionId(r.try_get(0)?),
        unit: UnitCode::parse("unit", &unit).map_err(|e| StoreError::Backend(e.message))?,
        unit_name: r.try_get(2)?,
        unit_path: r.try_get(3)?,
        window_from: r.try_get(4)?,
        window_until: r.try_get(5)?,
        reason: r.try_get(6)?,
        declared_by: r.try_get(7)?,
        created_at: r.try_get(8)?,
        lifted_at: r.try_get(9)?,
    })
}

async fn select_restriction(c: &impl GenericClient, id: RestrictionId) -> Result<Option<Restriction>> {
    let statement = c
        .prepare_cached(&format!(
            "SELECT {RESTRICTION_COLUMNS} FROM restrictions r JOIN units u ON u.code = r.unit_code WHERE r.id = $1"
        ))
        .await?;
    c.query_opt(&statement, &[&id.0]).await?.as_ref().map(restriction_row).transpose()
}

#[async_trait]
impl ZoningStore for PostgresStore {
    async fn insert_restriction(&self, restriction: NewRestriction, audit: Vec<NewAuditEntry>) -> Result<Restriction> {
        let mut client = self.pool.get().await?;
        let txn = client.transaction().await?;
        let result = async {
            // Declarations are rare: one at a time, so two overlapping ones cannot both pass
            // the check below.
            txn.execute("SELECT pg_advisory_xact_lock(hashtext('restrictions'))", &[]).await?;
            let path: String = txn
                .query_opt("SELECT path FROM units WHERE code = $1", &[&restriction.unit.as_str()])
                .await?
                .ok_or(StoreError::NotFound("unit"))?
                .try_get(0)?;
            let overlapping = txn
                .query_opt(
                    "SELECT id FROM restrictions
                     WHERE window_from < $3 AND window_until > $2
                       AND (left($1, length(unit_path)) = unit_path OR left(unit_path, length($1)) = $1)
                     ORDER BY created_at LIMIT 1",
                    &[&path, &restriction.window_from, &restriction.window_until],
                )
                .await?;
            if let Some(row) = overlapping {
                let existing: uuid::Uuid = row.try_get(0)?;
                return Err(StoreError::Conflict { field: "unit", existing: Some(existing.to_string()) });
            }
            txn.execute(
                "INSERT INTO restrictions (id, unit_code, unit_path, window_from, window_until, reason, declared_by, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &restriction.id.0,
                    &restriction.unit.as_str(),
                    &path,
                    &restriction.window_from,
                    &restriction.window_until,
                    &restriction.reason,
                    &restriction.declared_by,
                    &restriction.created_at,
                ],
            )
            .await?;
            for entry in &audit {
                insert_audit(&txn, entry).await?;
            }
            select_restriction(&txn, restriction.id).await?.ok_or(StoreError::NotFound("restriction"))
        }
        .await;
        commit(txn, result).await
    }

    async fn restriction(&self, id: RestrictionId) -> Result<Option<Restriction>> {
        let client = self.pool.get().await?;
        select_restriction(&client, id).await
    }

    async fn restrictions(&self, scope: &[String], limit: u32) -> Result<Vec<Restriction>> {
        let client = self.pool.get().await?;
        let mut values: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let mut sql =
            format!("SELECT {RESTRICTION_COLUMNS} FROM restrictions r JOIN units u ON u.code = r.unit_code WHERE (");
        push_scope(&mut sql, &mut values, "r.unit_path", scope);
        sql.push_str(&format!(") ORDER BY r.created_at DESC, r.id DESC LIMIT {limit}"));
        client.query(&sql, &refs(&values)).await?.iter().map(restriction_row).collect()
    }

    async fn lift_restriction(
        &self,
        id: RestrictionId,
        at: OffsetDateTime,
        audit: Vec<NewAuditEntry>,
    ) -> Result<Restriction> {
        let mut client = self.pool.get().await?;
        let txn = client.transaction().await?;
        let result = async {
            txn.execute("SELECT 1 FROM restrictions WHERE id = $1 FOR UPDATE", &[&id.0]).await?;
            let current = select_restriction(&txn, id).await?.ok_or(StoreError::NotFound("restriction"))?;
            if current.lifted_at.is_some() || current.window_until <= at {
                return Err(already_over());
            }
            // As in SQLite: a restriction lifted before it starts keeps a window of an instant.
            let until = at.max(current.window_from + time::Duration::MICROSECOND);
            txn.execute(
                "UPDATE restrictions SET window_until = $2, lifted_at = $3 WHERE id = $1",
                &[&id.0, &until, &at],
            )
            .await?;
            for entry in &audit {
                insert_audit(&txn, entry).await?;
            }
            select_restriction(&txn, id).await?.ok_or(StoreError::NotFound("restriction"))
        }
        .await;
        commit(txn, result).await
    }
}
