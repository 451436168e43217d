//! The certificates part of the contract: the document signers that sign EU Digital COVID
//! Certificates (an ECDSA P-256 key and its X.509 certificate, named by `kid`), and every
//! certificate issued, by its unique identifier (UVCI), so that it can be looked up and
//! revoked.
//!
//! Signers rotate like personal-QR keys: the newest unretired signer signs, older ones keep
//! verifying until retired. Nothing here refers to doses: a certificate names its holder,
//! its signer, and what it certifies as an opaque subject chosen by the issuer.

use async_trait::async_trait;
use outbreak_domain::PersonId;
use time::OffsetDateTime;

use crate::{NewAuditEntry, Result};

/// A document signer: the key that signs certificates and the certificate that names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateSigner {
    /// The HCERT key identifier (first 8 bytes of the SHA-256 of `certificate`), in
    /// standard Base64 as trust lists write it.
    pub kid: String,
    /// The P-256 private scalar, 32 bytes.
    pub private_key: Vec<u8>,
    /// The document signer certificate, DER.
    pub certificate: Vec<u8>,
    pub created_at: OffsetDateTime,
    /// From this instant the signer neither signs nor verifies.
    pub retired_at: Option<OffsetDateTime>,
}

/// A certificate that was issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCertificate {
    /// The unique certificate identifier (`URN:UVCI:01:VN:…#C`).
    pub uvci: String,
    /// Whom it was issued to.
    pub person: PersonId,
    /// The signer's `kid`.
    pub kid: String,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    /// Why it was revoked, for the verifier's answer.
    pub revocation_reason: Option<String>,
    /// What it certifies, as the issuer names it (`dose:<id>`), so that the holder gets
    /// the same certificate again and a corrected record can revoke it.
    pub subject: Option<String>,
    /// The certificate's text as issued (`HC1:…`); empty for certificates issued before
    /// the text was kept.
    pub hc1: String,
}

#[async_trait]
pub trait CertificateStore {
    /// Adds a signer; `Conflict("kid")` when its key identifier is taken.
    async fn insert_certificate_signer(&self, signer: &CertificateSigner) -> Result<()>;
    /// Every signer, newest first, retired ones included.
    async fn certificate_signers(&self) -> Result<Vec<CertificateSigner>>;
    /// Retires a signer (a second retirement keeps the first instant); `NotFound("kid")`.
    async fn retire_certificate_signer(&self, kid: &str, at: OffsetDateTime) -> Result<()>;
    /// Records an issued certificate with its audit entry, in one transaction;
    /// `Conflict("uvci")` when the identifier was issued before, `NotFound("kid")` for an
    /// unknown signer, `NotFound("person")` for an unknown holder.
    async fn insert_issued_certificate(&self, certificate: &IssuedCertificate, audit: &NewAuditEntry) -> Result<()>;
    async fn issued_certificate(&self, uvci: &str) -> Result<Option<IssuedCertificate>>;
    /// The certificates issued to a person, newest first.
    async fn issued_certificates_of(&self, person: PersonId) -> Result<Vec<IssuedCertificate>>;
    /// The certificates issued for a subject (`dose:<id>`), newest first.
    async fn issued_certificates_for(&self, subject: &str) -> Result<Vec<IssuedCertificate>>;
    /// Revokes a certificate with its audit entry; a second revocation keeps the first
    /// instant and reason. `NotFound("uvci")` when no such certificate was issued.
    async fn revoke_certificate(
        &self,
        uvci: &str,
        at: OffsetDateTime,
        reason: &str,
        audit: &NewAuditEntry,
    ) -> Result<()>;
    /// The identifiers and reasons of every revoked certificate: a verifier keeps them in
    /// memory (revocations are few next to certificates).
    async fn revoked_certificates(&self) -> Result<Vec<(String, String)>>;
}
