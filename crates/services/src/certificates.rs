//! EU Digital COVID Certificates: issuing a vaccination certificate from plain facts or
//! for a recorded dose (the same certificate again on every download, a new one once the
//! dose is corrected), the signers' keys (created on first use, rotated, retired), the
//! public trust list, and verifying any `HC1:` text against it with a reason for every
//! refusal.
//!
//! The codec is `outbreak_formats::hcert`; this module adds what needs the store: which
//! keys sign and verify, which identifiers were issued or revoked, and who asked.
//! Verification reads keys and revocations from an in-memory copy refreshed every few
//! seconds, so a verifier answers thousands of scans a second without touching the store.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use outbreak_domain::vaccination::DoseId;
use outbreak_domain::{Invalid, PersonId, local_date, now};
use outbreak_formats::hcert::{self, PublicKey, SignerCertificate, SignerName, Validity};
use outbreak_store::{CertificateSigner, IssuedCertificate};
use serde::Serialize;
use time::{Date, Duration, OffsetDateTime};
use utoipa::ToSchema;

use crate::{Caller, Result, ServiceError, Services, audit_entry};

/// The issuing country, in certificates and identifiers.
pub const COUNTRY: &str = "VN";
/// The certificate issuer (`is`), in Vietnamese and English as the certificate travels.
pub const ISSUER: &str = "Bộ Y tế Việt Nam / Ministry of Health of Viet Nam";
/// SNOMED CT code of COVID-19, the disease targeted (`tg`).
pub const DISEASE_COVID_19: &str = "840539006";
/// The schema version certificates are issued in.
const SCHEMA_VERSION: &str = "1.3.0";
/// How long a certificate's signature is valid.
const CERTIFICATE_LIFETIME: Duration = Duration::days(365);
/// A dose's certificate is issued anew, rather than downloaded again, once it has less
/// than this left to live: nobody should travel with a certificate about to expire.
const REISSUE_BEFORE_EXPIRY: Duration = Duration::days(30);
/// How long a signer's X.509 certificate is valid: a signer signs for one certificate
/// lifetime and must still be valid when the last certificate it signed expires.
const SIGNER_LIFETIME: Duration = Duration::days(2 * 365);
/// How long the verifier's copy of keys and revocations is kept; a key retired or a
/// certificate revoked on another server is refused within this time (at once here).
pub(crate) const TRUST_REFRESH: std::time::Duration = std::time::Duration::from_secs(10);

/// What a vaccination certificate states, as the vaccination records know it. The codes
/// are the EU value sets' (`vaccine-prophylaxis`, `vaccine-medicinal-product`,
/// `vaccine-mah-manf`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaccinationFacts {
    /// The holder, for access checks and the record of issued certificates.
    pub person: PersonId,
    /// Family name as written (`Nguyễn`); transliterated to `fnt` when issuing.
    pub family_name: String,
    /// Given names as written (`Văn An`).
    pub given_name: String,
    /// Date of birth, `YYYY-MM-DD` (or `YYYY-MM`, `YYYY` when only that is known).
    pub date_of_birth: String,
    /// Vaccine or prophylaxis (`vp`), e.g. `1119349007` for an mRNA vaccine.
    pub vaccine: String,
    /// Medicinal product (`mp`), e.g. `EU/1/20/1528` for Comirnaty.
    pub product: String,
    /// Marketing authorisation holder or manufacturer (`ma`), e.g. `ORG-100030215`.
    pub manufacturer: String,
    /// This dose's number in the series (`dn`).
    pub dose_number: u32,
    /// The doses in the series (`sd`).
    pub total_doses: u32,
    /// When the dose was given (`dt`).
    pub date: Date,
}

/// A certificate just issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct IssuedHc1 {
    /// The text the QR code holds, `HC1:…`.
    pub hc1: String,
    /// The unique certificate identifier.
    pub uvci: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// A dose's certificate, with the facts it states, for its printable page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoseCertificate {
    pub issued: IssuedHc1,
    pub facts: VaccinationFacts,
}

/// How a dose is named as a certificate's subject.
fn dose_subject(dose: DoseId) -> String {
    format!("dose:{dose}")
}

/// One signer in the trust list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TrustListKey {
    /// The key identifier, standard Base64 of 8 bytes.
    pub kid: String,
    /// `ES256`.
    pub algorithm: String,
    /// The DER SubjectPublicKeyInfo, standard Base64.
    pub public_key: String,
    /// The document signer certificate, DER in standard Base64.
    pub certificate: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
}

/// The keys whose signatures this server vouches for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TrustList {
    /// The issuing country.
    pub country: String,
    /// Unretired signers, newest first.
    pub keys: Vec<TrustListKey>,
}

/// One check a certificate failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Refusal {
    /// What failed, for programs and translations: `no_kid`, `unknown_key`, `retired_key`,
    /// `bad_signature`, `not_valid_now` or `revoked`.
    pub code: String,
    /// Why, in a sentence (English).
    pub reason: String,
}

impl Refusal {
    fn new(code: &str, reason: impl Into<String>) -> Refusal {
        Refusal { code: code.into(), reason: reason.into() }
    }
}

/// What a verifier concluded about a certificate.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Verification {
    /// Whether every check passed.
    pub valid: bool,
    /// Why it is not valid, one per failed check; empty when valid.
    pub reasons: Vec<Refusal>,
    /// The signer's key identifier, standard Base64, when the certificate names one.
    pub kid: Option<String>,
    /// The issuing country (`iss`).
    pub issuer: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub issued_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// The health certificate as JSON (`ver`, `nam`, `dob`, `v`/`t`/`r`).
    #[schema(value_type = Object)]
    pub content: serde_json::Value,
}

impl Verification {
    /// The certificate identifier of its first statement.
    pub fn uvci(&self) -> Option<&str> {
        ["v", "t", "r"].iter().find_map(|kind| self.content.get(kind)?.get(0)?.get("ci")?.as_str())
    }
}

/// A signer as the verifier keeps it.
#[derive(Debug)]
pub(crate) struct TrustedKey {
    public_key: PublicKey,
    validity: Validity,
    retired: bool,
}

/// The verifier's in-memory copy of keys and revocations.
#[derive(Debug, Default)]
pub(crate) struct Trust {
    keys: HashMap<Vec<u8>, TrustedKey>,
    revoked: HashMap<String, String>,
}

fn internal(error: impl std::fmt::Display) -> ServiceError {
    ServiceError::Internal(error.to_string())
}

fn instant(seconds: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(seconds).ok()
}

/// The health certificate JSON of a vaccination, with its identifier.
pub fn vaccination_hcert(facts: &VaccinationFacts, uvci: &str) -> serde_json::Value {
    serde_json::json!({
        "ver": SCHEMA_VERSION,
        "nam": hcert::names::dcc_name(&facts.family_name, &facts.given_name),
        "dob": facts.date_of_birth.trim(),
        "v": [{
            "tg": DISEASE_COVID_19,
            "vp": facts.vaccine.trim(),
            "mp": facts.product.trim(),
            "ma": facts.manufacturer.trim(),
            "dn": facts.dose_number,
            "sd": facts.total_doses,
            "dt": facts.date.to_string(),
            "co": COUNTRY,
            "is": ISSUER,
            "ci": uvci,
        }],
    })
}

/// A fresh identifier: `URN:UVCI:01:VN:BYT/<26 random Base32 characters>#<check>` (BYT,
/// Bộ Y tế, the issuing entity; 128 random bits make a collision beyond reach).
fn new_uvci() -> Result<String> {
    let random: [u8; 16] = rand::random();
    hcert::uvci::build(COUNTRY, &format!("BYT/{}", base32(&random))).map_err(internal)
}

/// RFC 4648 Base32 without padding: upper-case letters and digits only, as UVCIs allow.
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0_u32, 0);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

impl Services {
    /// Creates a new document signer; it signs every certificate issued from now on, and
    /// older signers keep verifying until retired. Returns its `kid`.
    pub async fn rotate_certificate_key(&self) -> Result<String> {
        let key = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
        let created_at = now();
        let validity = Validity {
            not_before: created_at.unix_timestamp(),
            not_after: (created_at + SIGNER_LIFETIME).unix_timestamp(),
        };
        let common_name = format!("Outbreak DSC {}", created_at.unix_timestamp());
        let name =
            SignerName { country: COUNTRY, organization: "Ministry of Health of Viet Nam", common_name: &common_name };
        let serial: [u8; 16] = rand::random();
        let certificate = hcert::self_signed_certificate(&key, &name, validity, &serial).map_err(internal)?;
        let kid = BASE64.encode(hcert::signer::kid(&certificate));
        let signer = CertificateSigner {
            kid: kid.clone(),
            private_key: key.to_bytes().to_vec(),
            certificate,
            created_at,
            retired_at: None,
        };
        self.store.insert_certificate_signer(&signer).await?;
        self.trust.clear();
        Ok(kid)
    }

    /// Retires a signer: certificates it signed stop verifying, here at once.
    pub async fn retire_certificate_key(&self, kid: &str) -> Result<()> {
        self.store.retire_certificate_signer(kid, now()).await?;
        self.trust.clear();
        Ok(())
    }

    /// The signer that signs now: the newest unretired one still valid for a whole
    /// certificate lifetime, created when there is none.
    async fn current_signer(&self) -> Result<(CertificateSigner, p256::ecdsa::SigningKey)> {
        let usable = |signers: Vec<CertificateSigner>| {
            let horizon = (now() + CERTIFICATE_LIFETIME).unix_timestamp();
            signers.into_iter().find(|s| {
                s.retired_at.is_none()
                    && SignerCertificate::from_der(&s.certificate).is_ok_and(|c| c.validity.not_after >= horizon)
            })
        };
        let signer = match usable(self.store.certificate_signers().await?) {
            Some(signer) => signer,
            None => {
                self.rotate_certificate_key().await?;
                usable(self.store.certificate_signers().await?)
                    .ok_or_else(|| internal("no usable certificate signer after rotation"))?
            }
        };
        let key = p256::ecdsa::SigningKey::from_slice(&signer.private_key).map_err(internal)?;
        Ok((signer, key))
    }

    /// Issues a vaccination certificate. The caller must be able to open the holder's
    /// record (the holder themselves, or staff whose jurisdiction covers them); the facts
    /// are checked against the DCC schema before anything is signed or recorded.
    pub async fn issue_vaccination_certificate(&self, caller: &Caller, facts: &VaccinationFacts) -> Result<IssuedHc1> {
        self.person(caller, facts.person).await?;
        self.sign_vaccination(caller, facts, None).await
    }

    /// The certificate of a recorded dose, for whoever may open the holder's record: the
    /// one issued before while it is unrevoked, signed by a trusted key, not close to
    /// expiry and still true to the records, else a new one. A voided dose has none.
    pub async fn dose_certificate(&self, caller: &Caller, dose: DoseId) -> Result<DoseCertificate> {
        let not_found = || ServiceError::NotFound("dose".into());
        let dose = self.store.dose(dose).await?.ok_or_else(not_found)?;
        let record = self.person(caller, dose.person).await?;
        if dose.voided {
            return Err(Invalid::new("dose", "voided", "this dose was voided, so it has no certificate").into());
        }
        let product = outbreak_domain::vaccination::product("product", &dose.product)?;
        let (family_name, given_name) = hcert::names::split_vietnamese_name(&record.person.full_name);
        let facts = VaccinationFacts {
            person: dose.person,
            family_name,
            given_name,
            date_of_birth: record.person.date_of_birth.to_string(),
            vaccine: product.eu_prophylaxis.into(),
            product: product.eu_product.into(),
            manufacturer: product.eu_manufacturer.into(),
            dose_number: dose.dose_number.into(),
            // A booster counts beyond the primary series (3/3), as the EU rules say.
            total_doses: dose.dose_number.max(product.primary_doses).into(),
            date: local_date(dose.given_at),
        };
        let subject = dose_subject(dose.id);
        let trust = self.trust().await?;
        let horizon = now() + REISSUE_BEFORE_EXPIRY;
        // Reused only while it still says what the records say: a person's name or birth
        // date corrected since then gets a new certificate.
        let reusable = self.store.issued_certificates_for(&subject).await?.into_iter().find(|c| {
            let trusted = BASE64.decode(&c.kid).ok().and_then(|kid| trust.keys.get(&kid)).is_some_and(|k| !k.retired);
            let current = hcert::decode(&c.hc1).is_ok_and(|d| d.claims.hcert == vaccination_hcert(&facts, &c.uvci));
            c.revoked_at.is_none() && c.expires_at > horizon && trusted && current
        });
        let issued = match reusable {
            Some(c) => IssuedHc1 { hc1: c.hc1, uvci: c.uvci, expires_at: c.expires_at },
            None => self.sign_vaccination(caller, &facts, Some(subject)).await?,
        };
        Ok(DoseCertificate { issued, facts })
    }

    /// Revokes what was certified about a dose that has just been corrected or voided: its
    /// next download states the corrected facts under a new identifier.
    pub(crate) async fn revoke_dose_certificates(&self, caller: &Caller, dose: DoseId) -> Result<()> {
        for certificate in self.store.issued_certificates_for(&dose_subject(dose)).await? {
            if certificate.revoked_at.is_none() {
                let audit = audit_entry(
                    caller,
                    "certificate.revoke",
                    "person",
                    &certificate.person.to_string(),
                    &certificate.uvci,
                );
                self.store
                    .revoke_certificate(&certificate.uvci, now(), "the dose record was corrected", &audit)
                    .await?;
                self.trust.clear();
            }
        }
        Ok(())
    }

    /// Checks, signs and records a vaccination certificate; the caller's access to the
    /// holder is already checked.
    async fn sign_vaccination(
        &self,
        caller: &Caller,
        facts: &VaccinationFacts,
        subject: Option<String>,
    ) -> Result<IssuedHc1> {
        if facts.dose_number == 0 || facts.total_doses == 0 {
            return Err(Invalid::new("dose_number", "invalid_dose", "dose numbers start at 1").into());
        }
        if hcert::names::icao_transliterate(&facts.family_name).is_empty()
            && hcert::names::icao_transliterate(&facts.given_name).is_empty()
        {
            return Err(Invalid::new("family_name", "required", "the holder's name is needed").into());
        }
        let uvci = new_uvci()?;
        let content = vaccination_hcert(facts, &uvci);
        hcert::schema::validate(&content).map_err(|error| {
            Invalid::new("certificate", "schema", format!("the certificate would not be valid: {error}"))
        })?;
        let (signer, key) = self.current_signer().await?;
        let kid = BASE64.decode(&signer.kid).map_err(internal)?;
        let issued_at = now();
        let expires_at = issued_at + CERTIFICATE_LIFETIME;
        let request = hcert::IssueRequest {
            hcert: &content,
            issuer: COUNTRY,
            issued_at: issued_at.unix_timestamp(),
            expires_at: expires_at.unix_timestamp(),
            kid: &kid,
        };
        let hc1 = hcert::issue(&request, &key).map_err(internal)?;
        let record = IssuedCertificate {
            uvci: uvci.clone(),
            person: facts.person,
            kid: signer.kid.clone(),
            issued_at,
            expires_at,
            revoked_at: None,
            revocation_reason: None,
            subject,
            hc1: hc1.clone(),
        };
        let audit = audit_entry(caller, "certificate.issue", "person", &facts.person.to_string(), &uvci);
        self.store.insert_issued_certificate(&record, &audit).await?;
        Ok(IssuedHc1 { hc1, uvci, expires_at })
    }

    /// Revokes an issued certificate (staff who may change the holder's record).
    pub async fn revoke_certificate(&self, caller: &Caller, uvci: &str, reason: &str) -> Result<()> {
        let issued =
            self.store.issued_certificate(uvci).await?.ok_or_else(|| ServiceError::NotFound("certificate".into()))?;
        let record = self.person(caller, issued.person).await?;
        self.authorize_unit(caller, outbreak_domain::Permission::WritePeople, &record.address_path)?;
        let audit = audit_entry(caller, "certificate.revoke", "person", &issued.person.to_string(), uvci);
        self.store.revoke_certificate(uvci, now(), reason, &audit).await?;
        self.trust.clear();
        Ok(())
    }

    /// The public keys of every unretired signer, for verifiers to fetch.
    pub async fn trust_list(&self) -> Result<TrustList> {
        let mut keys = Vec::new();
        for signer in self.store.certificate_signers().await? {
            if signer.retired_at.is_some() {
                continue;
            }
            let entry = hcert::TrustListEntry::for_certificate(&signer.certificate).map_err(internal)?;
            let parsed = SignerCertificate::from_der(&signer.certificate).map_err(internal)?;
            keys.push(TrustListKey {
                kid: entry.kid,
                algorithm: "ES256".into(),
                public_key: entry.public_key,
                certificate: BASE64.encode(&signer.certificate),
                not_before: instant(parsed.validity.not_before).unwrap_or(signer.created_at),
                not_after: instant(parsed.validity.not_after).unwrap_or(signer.created_at),
            });
        }
        Ok(TrustList { country: COUNTRY.into(), keys })
    }

    /// The verifier's copy of keys and revocations, refreshed from the store when older
    /// than [`TRUST_REFRESH`].
    async fn trust(&self) -> Result<Arc<Trust>> {
        if let Some(trust) = self.trust.get(&()) {
            return Ok(trust);
        }
        let mut trust = Trust::default();
        for signer in self.store.certificate_signers().await? {
            let parsed = SignerCertificate::from_der(&signer.certificate).map_err(internal)?;
            trust.keys.insert(
                parsed.kid.to_vec(),
                TrustedKey {
                    public_key: parsed.public_key,
                    validity: parsed.validity,
                    retired: signer.retired_at.is_some(),
                },
            );
        }
        trust.revoked = self.store.revoked_certificates().await?.into_iter().collect();
        let trust = Arc::new(trust);
        self.trust.put((), trust.clone());
        Ok(trust)
    }

    /// Verifies an `HC1:` text against this server's signers at the present instant.
    /// Text that is not a certificate at all is `Invalid` (field `hc1`); a certificate
    /// that decodes but fails a check is a `Verification` that says why.
    pub async fn verify_certificate(&self, text: &str) -> Result<Verification> {
        let trust = self.trust().await?;
        verify_with_trust(&trust, text, now().unix_timestamp())
    }
}

/// The checks of [`Services::verify_certificate`], on a given copy of the trust and clock.
pub(crate) fn verify_with_trust(trust: &Trust, text: &str, now: i64) -> Result<Verification> {
    let mut decoded = hcert::decode(text.trim()).map_err(|error| {
        Invalid::new("hc1", "malformed_certificate", format!("this is not a readable HC1 certificate: {error}"))
    })?;
    let claims = &mut decoded.claims;
    let mut verification = Verification {
        valid: false,
        reasons: Vec::new(),
        kid: decoded.cose.kid().map(|kid| BASE64.encode(kid)),
        issuer: claims.issuer.take(),
        issued_at: claims.issued_at.and_then(instant),
        expires_at: claims.expires_at.and_then(instant),
        content: std::mem::take(&mut claims.hcert),
    };
    let claims = &decoded.claims;
    let reasons = &mut verification.reasons;
    let key = match decoded.cose.kid() {
        None => {
            reasons.push(Refusal::new("no_kid", "the certificate names no signing key (kid)"));
            None
        }
        Some(kid) => match trust.keys.get(kid) {
            None => {
                reasons.push(Refusal::new("unknown_key", "the signing key is not in this server's trust list"));
                None
            }
            Some(key) if key.retired => {
                reasons.push(Refusal::new("retired_key", "the signing key was retired and is no longer trusted"));
                None
            }
            Some(key) => Some(key),
        },
    };
    if let Some(key) = key {
        match hcert::verify_with_key(&decoded.cose, &key.public_key) {
            // A genuine signature by one of this server's keys covers content that was
            // checked against the schema before signing, so the schema is not run again.
            Ok(()) => {}
            Err(error) => reasons.push(Refusal::new(
                "bad_signature",
                format!("the certificate was altered or signed by another key: {error}"),
            )),
        }
        if let Err(error) = hcert::check_expiry(claims, Some(&key.validity), now) {
            reasons.push(Refusal::new("not_valid_now", format!("not valid at this time: {error}")));
        }
    }
    if let Some(reason) = verification.uvci().and_then(|uvci| trust.revoked.get(uvci)) {
        verification.reasons.push(Refusal::new("revoked", format!("the certificate was revoked: {reason}")));
    }
    verification.valid = verification.reasons.is_empty();
    Ok(verification)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_is_rfc_4648() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(&[0; 16]).len(), 26);
    }

    #[test]
    fn identifiers_are_well_formed_and_fit_the_schema() {
        let uvci = new_uvci().unwrap();
        assert!(uvci.starts_with("URN:UVCI:01:VN:BYT/"), "{uvci}");
        assert_eq!(hcert::uvci::validate(&uvci), Ok(()));
        let facts = VaccinationFacts {
            person: PersonId::new(),
            family_name: "Nguyễn".into(),
            given_name: "Văn An".into(),
            date_of_birth: "1987-03-21".into(),
            vaccine: "1119349007".into(),
            product: "EU/1/20/1528".into(),
            manufacturer: "ORG-100030215".into(),
            dose_number: 2,
            total_doses: 2,
            date: time::macros::date!(2021 - 09 - 15),
        };
        let content = vaccination_hcert(&facts, &uvci);
        assert_eq!(hcert::schema::validate(&content), Ok(()));
        assert_eq!(content["nam"]["fnt"], "NGUYEN");
    }

    fn facts(person: PersonId) -> VaccinationFacts {
        VaccinationFacts {
            person,
            family_name: "Nguyễn".into(),
            given_name: "Văn An".into(),
            date_of_birth: "1987-03-21".into(),
            vaccine: "1119349007".into(),
            product: "EU/1/20/1528".into(),
            manufacturer: "ORG-100030215".into(),
            dose_number: 2,
            total_doses: 2,
            date: time::macros::date!(2021 - 09 - 15),
        }
    }

    /// A SQLite store with the national units and one person, and an admin over the country.
    async fn services_with_person() -> (Services, Caller, PersonId) {
        use outbreak_domain::{Grant, NewPerson, Principal, Role, UnitCode};
        let dir = std::env::temp_dir().join(format!("outbreak-certs-{}", uuid::Uuid::new_v4().simple()));
        let store = outbreak_store::open(dir.join("store.sqlite").to_str().unwrap()).await.unwrap();
        store.seed_units(&outbreak_domain::unit::national_units()).await.unwrap();
        let person = NewPerson {
            full_name: "Nguyễn Văn An".into(),
            date_of_birth: "1987-03-21".into(),
            sex: "male".into(),
            address_unit: "00070".into(),
            ..NewPerson::default()
        }
        .validate(now().date())
        .unwrap()
        .into_person(PersonId::new(), now());
        store.insert_person(&person).await.unwrap();
        let sms = Arc::new(crate::sms::LogGateway::new(dir.join("sms.log")));
        let services = Services::new(store, sms, crate::Config::new("http://test", dir.join("sms.log")));
        let grant = Grant { role: Role::Admin, unit: UnitCode::parse("unit", "VN").unwrap(), unit_path: "/VN/".into() };
        let principal =
            Principal::Staff { account_id: uuid::Uuid::new_v4(), username: "admin".into(), grants: vec![grant] };
        (services, Caller { principal, client: "127.0.0.1".into(), is_system: false }, person.id)
    }

    #[tokio::test]
    async fn issues_verifies_and_refuses_with_reasons() {
        let (services, caller, person) = services_with_person().await;
        let issued = services.issue_vaccination_certificate(&caller, &facts(person)).await.unwrap();
        assert!(issued.hc1.starts_with("HC1:"));
        let verdict = services.verify_certificate(&issued.hc1).await.unwrap();
        assert!(verdict.valid, "{:?}", verdict.reasons);
        assert_eq!(verdict.uvci(), Some(issued.uvci.as_str()));
        assert_eq!(verdict.content["nam"]["gnt"], "VAN<AN");
        let trust = services.trust_list().await.unwrap();
        assert_eq!(trust.keys.len(), 1);
        assert_eq!(verdict.kid.as_deref(), Some(trust.keys[0].kid.as_str()));

        // The same content signed by a key this server does not know.
        let decoded = hcert::decode(&issued.hc1).unwrap();
        let stranger = p256::ecdsa::SigningKey::from_slice(&[9; 32]).unwrap();
        let request = hcert::IssueRequest {
            hcert: &decoded.claims.hcert,
            issuer: COUNTRY,
            issued_at: decoded.claims.issued_at.unwrap(),
            expires_at: decoded.claims.expires_at.unwrap(),
            kid: decoded.cose.kid().unwrap(),
        };
        let forged = services.verify_certificate(&hcert::issue(&request, &stranger).unwrap()).await.unwrap();
        assert!(!forged.valid);
        assert_eq!(forged.reasons[0].code, "bad_signature", "{:?}", forged.reasons);

        assert!(matches!(services.verify_certificate("HC1:not base45").await, Err(ServiceError::Invalid(_))));

        services.revoke_certificate(&caller, &issued.uvci, "issued in error").await.unwrap();
        let revoked = services.verify_certificate(&issued.hc1).await.unwrap();
        assert_eq!(revoked.reasons, [Refusal::new("revoked", "the certificate was revoked: issued in error")]);

        // A new signer signs from now on; retiring the old one refuses what it signed.
        let old = trust.keys[0].kid.clone();
        services.rotate_certificate_key().await.unwrap();
        let fresh = services.issue_vaccination_certificate(&caller, &facts(person)).await.unwrap();
        assert!(services.verify_certificate(&fresh.hc1).await.unwrap().valid);
        assert_eq!(services.trust_list().await.unwrap().keys.len(), 2);
        services.retire_certificate_key(&old).await.unwrap();
        let retired = services.verify_certificate(&issued.hc1).await.unwrap();
        assert!(retired.reasons.iter().any(|r| r.code == "retired_key"), "{:?}", retired.reasons);
        assert!(services.verify_certificate(&fresh.hc1).await.unwrap().valid);
        assert_eq!(services.trust_list().await.unwrap().keys.len(), 1);
    }

    #[tokio::test]
    async fn refuses_facts_the_schema_refuses() {
        let (services, caller, person) = services_with_person().await;
        let bad = VaccinationFacts { date_of_birth: "21/03/1987".into(), ..facts(person) };
        let error = services.issue_vaccination_certificate(&caller, &bad).await.unwrap_err();
        assert!(matches!(&error, ServiceError::Invalid(invalid) if invalid.field == "certificate"), "{error:?}");
        assert!(services.store.issued_certificates_of(person).await.unwrap().is_empty());
    }
}
