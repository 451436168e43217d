//! Signing in and knowing who is calling.
//!
//! Staff sign in with a username and an argon2 password; citizens with their phone and a
//! one-time code sent by SMS. Either way they get a random session token (a cookie) of which
//! only the SHA-256 is stored. Systems send an API token, also stored hashed.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use outbreak_domain::{Invalid, Phone, Principal, now};
use outbreak_store::{Account, OtpChallenge, Session, SessionOwner};
use rand::Rng;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::{Caller, Result, ServiceError, Services};

/// How long a one-time code stays valid.
const OTP_LIFETIME: Duration = Duration::minutes(5);
/// Wrong guesses allowed per code: a million codes, five tries.
const OTP_MAX_ATTEMPTS: u32 = 5;
/// Codes sent to one phone: at most 3 in 15 minutes and 10 a day.
const OTP_PER_PHONE: [(Duration, u64); 2] = [(Duration::minutes(15), 3), (Duration::DAY, 10)];
/// Codes requested from one network address in an hour (a shared NAT may hold a village).
const OTP_PER_CLIENT_HOUR: u64 = 30;

/// A new session: the token goes into the cookie and is never stored.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub token: String,
    pub expires_at: OffsetDateTime,
    pub principal: Principal,
}

/// Random bytes in URL-safe base64, for tokens and ids that must not be guessed.
pub fn random_token(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::thread_rng().fill(buffer.as_mut_slice());
    URL_SAFE_NO_PAD.encode(buffer)
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

/// An argon2id hash of a new password; refuses passwords under 10 characters.
pub fn hash_password(password: &str) -> Result<String> {
    if password.chars().count() < 10 {
        return Err(Invalid::new("password", "too_short", "password must be at least 10 characters").into());
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Internal(format!("argon2: {e}")))
}

/// A hash to verify against when the username is unknown, made once per process.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not anyone's password").unwrap_or_default())
}

fn otp_hash(phone: &Phone, code: &str) -> Vec<u8> {
    sha256(format!("otp:{}:{code}", phone.as_str()).as_bytes())
}

fn staff_principal(account: &Account) -> Principal {
    Principal::Staff { account_id: account.id, username: account.username.clone(), grants: account.grants.clone() }
}

fn wrong_credentials() -> ServiceError {
    ServiceError::Unauthenticated("wrong username or password".into())
}

impl Services {
    pub async fn staff_sign_in(&self, username: &str, password: &str) -> Result<SignedIn> {
        let account = self.store.account_by_username(username.trim()).await?;
        let hash = account.as_ref().and_then(|a| a.password_hash.clone());
        // Verify even for unknown names, so timing does not reveal which names exist.
        let verified = tokio::task::spawn_blocking({
            let password = password.to_owned();
            move || {
                let stored = hash.as_deref().unwrap_or_else(|| dummy_hash());
                PasswordHash::new(stored)
                    .is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
                    && hash.is_some()
            }
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let account = match account {
            Some(account) if verified => account,
            _ => return Err(wrong_credentials()),
        };
        if account.disabled {
            return Err(ServiceError::Unauthenticated("this account is disabled".into()));
        }
        self.start_session(
            SessionOwner::Staff(account.id),
            staff_principal(&account),
            Duration::hours(self.config.staff_session_hours),
        )
        .await
    }

    /// Sends a one-time code to the phone, within the rate limits.
    pub async fn request_otp(&self, phone: &str, client: &str) -> Result<Phone> {
        let phone = Phone::parse("phone", phone)?;
        self.send_code(&phone, client, "ma dang nhap cua ban", "Your sign-in code").await?;
        Ok(phone)
    }

    /// Sends a fresh one-time code to a phone, within the per-phone and per-client limits;
    /// `purpose_vi` and `purpose_en` say in the SMS what the code is for.
    pub(crate) async fn send_code(
        &self,
        phone: &Phone,
        client: &str,
        purpose_vi: &str,
        purpose_en: &str,
    ) -> Result<()> {
        let at = now();
        for (window, limit) in OTP_PER_PHONE {
            let (by_phone, _) = self.store.count_otp_sends(phone, client, at - window).await?;
            if by_phone >= limit {
                return Err(ServiceError::RateLimited {
                    message: format!(
                        "too many codes were sent to this phone; try again in {} minutes",
                        window.whole_minutes()
                    ),
                    retry_after_secs: window.whole_seconds() as u64,
                });
            }
        }
        let (_, by_client) = self.store.count_otp_sends(phone, client, at - Duration::HOUR).await?;
        if by_client >= OTP_PER_CLIENT_HOUR {
            return Err(ServiceError::RateLimited {
                message: "too many codes were requested from this network; try again in an hour".into(),
                retry_after_secs: 3600,
            });
        }
        let code = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000));
        self.store
            .put_otp(&OtpChallenge {
                phone: phone.clone(),
                code_hash: otp_hash(phone, &code),
                expires_at: at + OTP_LIFETIME,
                attempts: 0,
            })
            .await?;
        self.store.record_otp_send(phone, client, at).await?;
        self.sms
            .send(phone, &format!("Outbreak: {purpose_vi} la {code}. Het han sau 5 phut. / {purpose_en}: {code}."))
            .await
    }

    /// Checks a one-time code sent to the phone and uses it up; wrong, expired and
    /// exhausted codes all get the same answer.
    pub(crate) async fn check_code(&self, phone: &Phone, code: &str) -> Result<()> {
        let wrong = || ServiceError::Unauthenticated("the code is wrong or has expired; ask for a new one".into());
        let Some(challenge) = self.store.take_otp_attempt(phone).await? else { return Err(wrong()) };
        if challenge.attempts > OTP_MAX_ATTEMPTS || challenge.expires_at < now() {
            self.store.delete_otp(phone).await?;
            return Err(wrong());
        }
        if challenge.code_hash != otp_hash(phone, code.trim()) {
            return Err(wrong());
        }
        self.store.delete_otp(phone).await?;
        Ok(())
    }

    /// Checks a one-time code and signs the citizen in.
    pub async fn verify_otp(&self, phone: &str, code: &str) -> Result<SignedIn> {
        let phone = Phone::parse("phone", phone)?;
        self.check_code(&phone, code).await?;
        let principal = Principal::Citizen { phone: phone.clone() };
        self.start_session(SessionOwner::Citizen(phone), principal, Duration::days(self.config.citizen_session_days))
            .await
    }

    async fn start_session(&self, owner: SessionOwner, principal: Principal, lifetime: Duration) -> Result<SignedIn> {
        let token = random_token(32);
        let created_at = now();
        let expires_at = created_at + lifetime;
        self.store.insert_session(&Session { hash: sha256(token.as_bytes()), owner, created_at, expires_at }).await?;
        Ok(SignedIn { token, expires_at, principal })
    }

    /// The caller behind a session cookie; `None` when the session is unknown or expired.
    pub async fn session_caller(&self, token: &str, client: &str) -> Result<Option<Caller>> {
        let Some(session) = self.store.session(&sha256(token.as_bytes())).await? else { return Ok(None) };
        if session.expires_at < now() {
            self.store.delete_session(&session.hash).await?;
            return Ok(None);
        }
        let principal = match session.owner {
            SessionOwner::Citizen(phone) => Principal::Citizen { phone },
            SessionOwner::Staff(id) => match self.store.account(id).await? {
                Some(account) if !account.disabled => staff_principal(&account),
                _ => return Ok(None),
            },
        };
        Ok(Some(Caller { principal, client: client.to_owned(), is_system: false }))
    }

    /// The system behind an API token; `Unauthenticated` for an unknown or revoked one.
    ///
    /// A token checked in the last few seconds is taken from the cache; revoking a token or
    /// disabling an account takes effect on every server within that time.
    pub async fn token_caller(&self, token: &str, client: &str) -> Result<Caller> {
        let hash = sha256(token.as_bytes());
        if let Some(caller) = self.tokens.get(&hash) {
            return Ok(Caller { client: client.to_owned(), ..caller });
        }
        let invalid = || ServiceError::Unauthenticated("the API token is unknown or revoked".into());
        let token = self.store.api_token_by_hash(&hash).await?.ok_or_else(invalid)?;
        if token.revoked_at.is_some() {
            return Err(invalid());
        }
        match self.store.account(token.account_id).await? {
            Some(account) if !account.disabled => {
                let caller =
                    Caller { principal: staff_principal(&account), client: client.to_owned(), is_system: true };
                self.tokens.put(hash, caller.clone());
                Ok(caller)
            }
            _ => Err(invalid()),
        }
    }

    /// Forgets cached API tokens, after a revocation or an account change here.
    pub(crate) fn forget_tokens(&self) {
        self.tokens.clear();
    }

    pub async fn sign_out(&self, token: &str) -> Result<()> {
        Ok(self.store.delete_session(&sha256(token.as_bytes())).await?)
    }
}
