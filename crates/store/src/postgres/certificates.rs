//! Certificate signers and issued certificates in PostgreSQL.

use async_trait::async_trait;
use outbreak_domain::PersonId;
use time::OffsetDateTime;
use tokio_postgres::Row;

use super::{PostgresStore, commit, insert_audit, is_foreign_key_violation, unique_violation};
use crate::certificates::*;
use crate::records::NewAuditEntry;
use crate::{Result, StoreError};

const ISSUED_COLUMNS: &str = "uvci, person_id, kid, issued_at, expires_at, revoked_at, revocation_reason, subject, hc1";

fn issued(r: &Row) -> Result<IssuedCertificate> {
    Ok(IssuedCertificate {
        uvci: r.try_get(0)?,
        person: PersonId(r.try_get(1)?),
        kid: r.try_get(2)?,
        issued_at: r.try_get(3)?,
        expires_at: r.try_get(4)?,
        revoked_at: r.try_get(5)?,
        revocation_reason: r.try_get(6)?,
        subject: r.try_get(7)?,
        hc1: r.try_get(8)?,
    })
}

#[async_trait]
impl CertificateStore for PostgresStore {
    async fn insert_certificate_signer(&self, signer: &CertificateSigner) -> Result<()> {
        let client = self.pool.get().await?;
        client
            .execute(
                "INSERT INTO certificate_signers (kid, private_key, certificate, created_at, retired_at)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&signer.kid, &signer.private_key, &signer.certificate, &signer.created_at, &signer.retired_at],
            )
            .await
            .map_err(|e| match unique_violation(&e) {
                Some(_) => StoreError::Conflict { field: "kid", existing: Some(signer.kid.clone()) },
                None => e.into(),
            })?;
        Ok(())
    }

    async fn certificate_signers(&self) -> Result<Vec<CertificateSigner>> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT kid, private_key, certificate, created_at, retired_at FROM certificate_signers
                 ORDER BY created_at DESC, kid COLLATE \"C\" DESC",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(CertificateSigner {
                    kid: r.try_get(0)?,
                    private_key: r.try_get(1)?,
                    certificate: r.try_get(2)?,
                    created_at: r.try_get(3)?,
                    retired_at: r.try_get(4)?,
                })
            })
            .collect()
    }

    async fn retire_certificate_signer(&self, kid: &str, at: OffsetDateTime) -> Result<()> {
        let client = self.pool.get().await?;
        match client
            .execute(
                "UPDATE certificate_signers SET retired_at = coalesce(retired_at, $2) WHERE kid = $1",
                &[&kid, &at],
            )
            .await?
        {
            0 => Err(StoreError::NotFound("kid")),
            _ => Ok(()),
        }
    }

    async fn insert_issued_certificate(&self, c: &IssuedCertificate, audit: &NewAuditEntry) -> Result<()> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let result = async {
            tx.execute(
                &format!(
                    "INSERT INTO issued_certificates ({ISSUED_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                ),
                &[
                    &c.uvci,
                    &c.person.0,
                    &c.kid,
                    &c.issued_at,
                    &c.expires_at,
                    &c.revoked_at,
                    &c.revocation_reason,
                    &c.subject,
                    &c.hc1,
                ],
            )
            .await
            .map_err(|e| {
                if unique_violation(&e).is_some() {
                    StoreError::Conflict { field: "uvci", existing: Some(c.uvci.clone()) }
                } else if is_foreign_key_violation(&e) {
                    let constraint = e.as_db_error().and_then(|db| db.constraint()).unwrap_or_default();
                    StoreError::NotFound(if constraint.contains("kid") { "kid" } else { "person" })
                } else {
                    e.into()
                }
            })?;
            insert_audit(&tx, audit).await
        }
        .await;
        commit(tx, result).await
    }

    async fn issued_certificate(&self, uvci: &str) -> Result<Option<IssuedCertificate>> {
        let client = self.pool.get().await?;
        let statement =
            client.prepare_cached(&format!("SELECT {ISSUED_COLUMNS} FROM issued_certificates WHERE uvci = $1")).await?;
        client.query_opt(&statement, &[&uvci]).await?.as_ref().map(issued).transpose()
    }

    async fn issued_certificates_of(&self, person: PersonId) -> Result<Vec<IssuedCertificate>> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {ISSUED_COLUMNS} FROM issued_certificates WHERE person_id = $1
                     ORDER BY issued_at DESC, uvci COLLATE \"C\" DESC"
                ),
                &[&person.0],
            )
            .await?;
        rows.iter().map(issued).collect()
    }

    async fn issued_certificates_for(&self, subject: &str) -> Result<Vec<IssuedCertificate>> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {ISSUED_COLUMNS} FROM issued_certificates WHERE subject = $1
                     ORDER BY issued_at DESC, uvci COLLATE \"C\" DESC"
                ),
                &[&subject],
            )
            .await?;
        rows.iter().map(issued).collect()
    }

    async fn revoke_certificate(
        &self,
        uvci: &str,
        at: OffsetDateTime,
        reason: &str,
        audit: &NewAuditEntry,
    ) -> Result<()> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let result = async {
            let changed = tx
                .execute(
                    "UPDATE issued_certificates SET revoked_at = coalesce(revoked_at, $2),
                         revocation_reason = CASE WHEN revoked_at IS NULL THEN $3 ELSE revocation_reason END
                     WHERE uvci = $1",
                    &[&uvci, &at, &reason],
                )
                .await?;
            if changed == 0 {
                return Err(StoreError::NotFound("uvci"));
            }
            insert_audit(&tx, audit).await
        }
        .await;
        commit(tx, result).await
    }

    async fn revoked_certificates(&self) -> Result<Vec<(String, String)>> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT uvci, coalesce(revocation_reason, '') FROM issued_certificates
                 WHERE revoked_at IS NOT NULL ORDER BY uvci COLLATE \"C\"",
                &[],
            )
            .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }
}
