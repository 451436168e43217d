//! Personal QR tokens: a QR stands for a person without carrying anything about them.
//!
//! A token is `<kid>.<id>.<mac>`: a random id that the store maps to the person, and an
//! HMAC-SHA256 over both with the key `kid` names, so a forged or altered token is refused
//! before the store is asked. Keys rotate (new tokens use the newest key, older keys keep
//! verifying until retired); revoking a person's tokens makes every printed card void.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use outbreak_domain::{PersonId, now};
use outbreak_store::{PersonRecord, QrToken, SigningKey};
use sha2::Sha256;

use crate::auth::random_token;
use crate::{Caller, Result, ServiceError, Services};

const PURPOSE: &str = "personal-qr";
/// Bytes of HMAC kept in a token: 128 bits are beyond guessing and keep the QR small.
const MAC_BYTES: usize = 16;

/// The HMAC state over a token's key id and id, ready to finalize or verify.
fn keyed(secret: &[u8], kid: &str, id: &str) -> Result<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|e| ServiceError::Internal(e.to_string()))?;
    mac.update(format!("pqr1.{kid}.{id}").as_bytes());
    Ok(mac)
}

fn token(key: &SigningKey, id: &str) -> Result<String> {
    let tag = keyed(&key.secret, &key.kid, id)?.finalize().into_bytes();
    Ok(format!("{}.{id}.{}", key.kid, URL_SAFE_NO_PAD.encode(&tag[..MAC_BYTES])))
}

fn invalid() -> ServiceError {
    ServiceError::NotFound("personal QR (it is not valid, or it was revoked)".into())
}

impl Services {
    /// Creates a new signing key for personal QRs; it signs every token issued from now on.
    pub async fn rotate_qr_key(&self) -> Result<String> {
        let kid = format!("k{}", now().unix_timestamp());
        let key = SigningKey {
            kid: kid.clone(),
            purpose: PURPOSE.into(),
            secret: random_token(32).into_bytes(),
            created_at: now(),
            retired_at: None,
        };
        self.store.insert_signing_key(&key).await?;
        Ok(kid)
    }

    /// Stops a key from verifying: every token it signed stops working.
    pub async fn retire_qr_key(&self, kid: &str) -> Result<()> {
        Ok(self.store.retire_signing_key(kid, now()).await?)
    }

    async fn current_key(&self) -> Result<SigningKey> {
        if let Some(key) = self.store.signing_keys(PURPOSE).await?.into_iter().find(|k| k.retired_at.is_none()) {
            return Ok(key);
        }
        self.rotate_qr_key().await?;
        self.store
            .signing_keys(PURPOSE)
            .await?
            .into_iter()
            .find(|k| k.retired_at.is_none())
            .ok_or_else(|| ServiceError::Internal("no personal-QR signing key".into()))
    }

    /// The person's current token, issuing one when they have none.
    pub async fn personal_qr_token(&self, person: PersonId) -> Result<String> {
        let keys = self.store.signing_keys(PURPOSE).await?;
        if let Some(active) = self.store.active_qr_token(person).await?
            && let Some(key) = keys.iter().find(|k| k.kid == active.kid && k.retired_at.is_none())
        {
            return token(key, &active.id);
        }
        self.issue_qr_token(person).await
    }

    async fn issue_qr_token(&self, person: PersonId) -> Result<String> {
        let key = self.current_key().await?;
        let id = random_token(12);
        self.store
            .insert_qr_token(&QrToken {
                id: id.clone(),
                person,
                kid: key.kid.clone(),
                issued_at: now(),
                revoked_at: None,
            })
            .await?;
        token(&key, &id)
    }

    /// The URL a personal QR holds.
    pub fn personal_qr_url(&self, token: &str) -> String {
        format!("{}/q/{token}", self.config.public_url.trim_end_matches('/'))
    }

    /// Revokes every token of a person and issues a new one (a lost or copied card).
    pub async fn reissue_personal_qr(&self, caller: &Caller, person: PersonId) -> Result<String> {
        self.person(caller, person).await?;
        self.store.revoke_qr_tokens(person, now()).await?;
        self.audit(caller, "person.qr_revoke", "person", &person.to_string(), "").await?;
        self.issue_qr_token(person).await
    }

    /// The person a scanned token stands for, if the caller may open them (audited).
    pub async fn resolve_personal_qr(&self, caller: &Caller, token: &str) -> Result<PersonRecord> {
        let person = self.verify_personal_qr(token).await?;
        self.person(caller, person).await
    }

    /// The person a token stands for, when it is genuine and not revoked. Reveals nothing
    /// to anyone: callers use it to act for the person (a check-in), not to show them.
    pub(crate) async fn verify_personal_qr(&self, token: &str) -> Result<PersonId> {
        // Gate systems may send the whole scanned URL rather than the token in it.
        let token = token.trim().rsplit("/q/").next().unwrap_or_default();
        let mut parts = token.splitn(3, '.');
        let (Some(kid), Some(id), Some(tag)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(invalid());
        };
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
        if tag.len() != MAC_BYTES {
            return Err(invalid());
        }
        let keys = self.store.signing_keys(PURPOSE).await?;
        let key = keys.iter().find(|k| k.kid == kid && k.retired_at.is_none()).ok_or_else(invalid)?;
        // Constant-time comparison of the truncated tag.
        keyed(&key.secret, kid, id)?.verify_truncated_left(&tag).map_err(|_| invalid())?;
        let stored = self.store.qr_token(id).await?.ok_or_else(invalid)?;
        if stored.revoked_at.is_some() || stored.kid != kid {
            return Err(invalid());
        }
        Ok(stored.person)
    }
}
