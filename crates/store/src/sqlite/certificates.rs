//! Certificate signers and issued certificates in SQLite.

use async_trait::async_trait;
use outbreak_domain::PersonId;
use rusqlite::{ErrorCode, OptionalExtension, Row, params};
use time::OffsetDateTime;

use super::rows::{from_micros, micros};
use super::{SqliteStore, insert_audit, unique_violation};
use crate::certificates::*;
use crate::records::NewAuditEntry;
use crate::{Result, StoreError};

const ISSUED_COLUMNS: &str = "uvci, person_id, kid, issued_at, expires_at, revoked_at, revocation_reason, subject, hc1";

fn issued(r: &Row<'_>) -> rusqlite::Result<IssuedCertificate> {
    let person: String = r.get(1)?;
    let person = uuid::Uuid::parse_str(&person)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(e)))?;
    Ok(IssuedCertificate {
        uvci: r.get(0)?,
        person: PersonId(person),
        kid: r.get(2)?,
        issued_at: from_micros(r.get(3)?),
        expires_at: from_micros(r.get(4)?),
        revoked_at: r.get::<_, Option<i64>>(5)?.map(from_micros),
        revocation_reason: r.get(6)?,
        subject: r.get(7)?,
        hc1: r.get(8)?,
    })
}

#[async_trait]
impl CertificateStore for SqliteStore {
    async fn insert_certificate_signer(&self, signer: &CertificateSigner) -> Result<()> {
        let signer = signer.clone();
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO certificate_signers (kid, private_key, certificate, created_at, retired_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    signer.kid,
                    signer.private_key,
                    signer.certificate,
                    micros(signer.created_at),
                    signer.retired_at.map(micros)
                ],
            )
            .map_err(|e| match unique_violation(&e) {
                Some(_) => StoreError::Conflict { field: "kid", existing: Some(signer.kid.clone()) },
                None => e.into(),
            })?;
            Ok(())
        })
        .await
    }

    async fn certificate_signers(&self) -> Result<Vec<CertificateSigner>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT kid, private_key, certificate, created_at, retired_at FROM certificate_signers
                 ORDER BY created_at DESC, kid DESC",
            )?;
            let signers = stmt
                .query_map([], |r| {
                    Ok(CertificateSigner {
                        kid: r.get(0)?,
                        private_key: r.get(1)?,
                        certificate: r.get(2)?,
                        created_at: from_micros(r.get(3)?),
                        retired_at: r.get::<_, Option<i64>>(4)?.map(from_micros),
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(signers)
        })
        .await
    }

    async fn retire_certificate_signer(&self, kid: &str, at: OffsetDateTime) -> Result<()> {
        let kid = kid.to_owned();
        self.write(move |tx| {
            match tx.execute(
                "UPDATE certificate_signers SET retired_at = coalesce(retired_at, ?2) WHERE kid = ?1",
                params![kid, micros(at)],
            )? {
                0 => Err(StoreError::NotFound("kid")),
                _ => Ok(()),
            }
        })
        .await
    }

    async fn insert_issued_certificate(&self, certificate: &IssuedCertificate, audit: &NewAuditEntry) -> Result<()> {
        let (c, audit) = (certificate.clone(), audit.clone());
        self.write(move |tx| {
            // Named apart, because SQLite reports a foreign-key failure without saying which.
            let known = |sql: &str, value: &str| -> Result<bool> {
                Ok(tx.prepare_cached(sql)?.query_row([value], |_| Ok(())).optional()?.is_some())
            };
            if !known("SELECT 1 FROM certificate_signers WHERE kid = ?1", &c.kid)? {
                return Err(StoreError::NotFound("kid"));
            }
            if !known("SELECT 1 FROM people WHERE id = ?1", &c.person.0.to_string())? {
                return Err(StoreError::NotFound("person"));
            }
            tx.prepare_cached(&format!(
                "INSERT INTO issued_certificates ({ISSUED_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ))?
            .execute(params![
                c.uvci,
                c.person.0.to_string(),
                c.kid,
                micros(c.issued_at),
                micros(c.expires_at),
                c.revoked_at.map(micros),
                c.revocation_reason,
                c.subject,
                c.hc1
            ])
            .map_err(|e| match e.sqlite_error_code() {
                Some(ErrorCode::ConstraintViolation) => {
                    StoreError::Conflict { field: "uvci", existing: Some(c.uvci.clone()) }
                }
                _ => e.into(),
            })?;
            insert_audit(tx, &audit)
        })
        .await
    }

    async fn issued_certificate(&self, uvci: &str) -> Result<Option<IssuedCertificate>> {
        let uvci = uvci.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {ISSUED_COLUMNS} FROM issued_certificates WHERE uvci = ?1"))?
                .query_row([uvci], issued)
                .optional()
                .map_err(Into::into)
        })
        .await
    }

    async fn issued_certificates_of(&self, person: PersonId) -> Result<Vec<IssuedCertificate>> {
        self.read(move |c| {
            let rows = c
                .prepare_cached(&format!(
                    "SELECT {ISSUED_COLUMNS} FROM issued_certificates WHERE person_id = ?1
                     ORDER BY issued_at DESC, uvci DESC"
                ))?
                .query_map([person.0.to_string()], issued)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await
    }

    async fn issued_certificates_for(&self, subject: &str) -> Result<Vec<IssuedCertificate>> {
        let subject = subject.to_owned();
        self.read(move |c| {
            let rows = c
                .prepare_cached(&format!(
                    "SELECT {ISSUED_COLUMNS} FROM issued_certificates WHERE subject = ?1
                     ORDER BY issued_at DESC, uvci DESC"
                ))?
                .query_map([subject], issued)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await
    }

    async fn revoke_certificate(
        &self,
        uvci: &str,
        at: OffsetDateTime,
        reason: &str,
        audit: &NewAuditEntry,
    ) -> Result<()> {
        let (uvci, reason, audit) = (uvci.to_owned(), reason.to_owned(), audit.clone());
        self.write(move |tx| {
            let changed = tx.execute(
                "UPDATE issued_certificates SET revoked_at = coalesce(revoked_at, ?2),
                     revocation_reason = CASE WHEN revoked_at IS NULL THEN ?3 ELSE revocation_reason END
                 WHERE uvci = ?1",
                params![uvci, micros(at), reason],
            )?;
            if changed == 0 {
                return Err(StoreError::NotFound("uvci"));
            }
            insert_audit(tx, &audit)
        })
        .await
    }

    async fn revoked_certificates(&self) -> Result<Vec<(String, String)>> {
        self.read(move |c| {
            let rows = c
                .prepare_cached(
                    "SELECT uvci, coalesce(revocation_reason, '') FROM issued_certificates
                     WHERE revoked_at IS NOT NULL ORDER BY uvci",
                )?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await
    }
}
