//! Whether a certificate is valid at a given instant.
//!
//! The instants must be in order: signer certificate's notBefore ≤ issued at (`iat`) ≤ now
//! ≤ expires at (`exp`) ≤ signer certificate's notAfter. HCERT requires the signature's
//! lifetime to lie inside the signer's; an instant that is not known (no `iat`, no signer
//! certificate) drops out of the chain. The clock is a parameter, never read here.

use super::cwt::CwtClaims;
use super::keys::Validity;

/// Why a certificate is not valid at the instant checked. Times are seconds since the
/// Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ExpiryError {
    /// Signed before the signer's certificate became valid.
    #[error("issued at {issued_at}, before the signer's certificate is valid ({not_before})")]
    IssuedBeforeSigner {
        /// The `iat` claim.
        issued_at: i64,
        /// The signer certificate's notBefore.
        not_before: i64,
    },
    /// Signed after the instant checked.
    #[error("issued at {issued_at}, after the time of checking ({now})")]
    IssuedInFuture {
        /// The `iat` claim.
        issued_at: i64,
        /// The instant checked.
        now: i64,
    },
    /// Expired before the instant checked.
    #[error("expired at {expires_at}, before the time of checking ({now})")]
    Expired {
        /// The `exp` claim.
        expires_at: i64,
        /// The instant checked.
        now: i64,
    },
    /// Expires after the signer's certificate does.
    #[error("expires at {expires_at}, after the signer's certificate ({not_after})")]
    OutlivesSigner {
        /// The `exp` claim.
        expires_at: i64,
        /// The signer certificate's notAfter.
        not_after: i64,
    },
    /// With no `iat`: the signer's certificate is not yet valid at the instant checked.
    #[error("the signer's certificate is valid from {not_before}, after the time of checking ({now})")]
    SignerNotYetValid {
        /// The signer certificate's notBefore.
        not_before: i64,
        /// The instant checked.
        now: i64,
    },
    /// With no `exp`: the signer's certificate has expired at the instant checked.
    #[error("the signer's certificate expired at {not_after}, before the time of checking ({now})")]
    SignerExpired {
        /// The signer certificate's notAfter.
        not_after: i64,
        /// The instant checked.
        now: i64,
    },
}

/// Checks that `now` (seconds since the Unix epoch) lies in the certificate's validity,
/// and that validity in its signer's.
pub fn check_expiry(claims: &CwtClaims, signer: Option<&Validity>, now: i64) -> Result<(), ExpiryError> {
    if let Some(signer) = signer {
        match claims.issued_at {
            Some(issued_at) if issued_at < signer.not_before => {
                return Err(ExpiryError::IssuedBeforeSigner { issued_at, not_before: signer.not_before });
            }
            None if now < signer.not_before => {
                return Err(ExpiryError::SignerNotYetValid { not_before: signer.not_before, now });
            }
            _ => {}
        }
    }
    if let Some(issued_at) = claims.issued_at
        && now < issued_at
    {
        return Err(ExpiryError::IssuedInFuture { issued_at, now });
    }
    if let Some(expires_at) = claims.expires_at
        && expires_at < now
    {
        return Err(ExpiryError::Expired { expires_at, now });
    }
    if let Some(signer) = signer {
        match claims.expires_at {
            Some(expires_at) if signer.not_after < expires_at => {
                return Err(ExpiryError::OutlivesSigner { expires_at, not_after: signer.not_after });
            }
            None if signer.not_after < now => {
                return Err(ExpiryError::SignerExpired { not_after: signer.not_after, now });
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(issued_at: Option<i64>, expires_at: Option<i64>) -> CwtClaims {
        CwtClaims { issuer: None, issued_at, expires_at, hcert: serde_json::Value::Null }
    }

    const SIGNER: Validity = Validity { not_before: 100, not_after: 1000 };

    #[test]
    fn accepts_the_ordered_chain_with_bounds_included() {
        let c = claims(Some(200), Some(900));
        for now in [200, 500, 900] {
            assert_eq!(check_expiry(&c, Some(&SIGNER), now), Ok(()));
        }
        assert_eq!(check_expiry(&claims(Some(100), Some(1000)), Some(&SIGNER), 100), Ok(()));
        assert_eq!(check_expiry(&claims(None, None), None, 5), Ok(()));
    }

    #[test]
    fn names_the_broken_link() {
        let c = claims(Some(200), Some(900));
        assert_eq!(check_expiry(&c, Some(&SIGNER), 199), Err(ExpiryError::IssuedInFuture { issued_at: 200, now: 199 }));
        assert_eq!(check_expiry(&c, None, 901), Err(ExpiryError::Expired { expires_at: 900, now: 901 }));
        assert_eq!(
            check_expiry(&claims(Some(50), Some(900)), Some(&SIGNER), 500),
            Err(ExpiryError::IssuedBeforeSigner { issued_at: 50, not_before: 100 })
        );
        assert_eq!(
            check_expiry(&claims(Some(200), Some(1001)), Some(&SIGNER), 500),
            Err(ExpiryError::OutlivesSigner { expires_at: 1001, not_after: 1000 })
        );
        assert_eq!(
            check_expiry(&claims(None, None), Some(&SIGNER), 99),
            Err(ExpiryError::SignerNotYetValid { not_before: 100, now: 99 })
        );
        assert_eq!(
            check_expiry(&claims(None, None), Some(&SIGNER), 1001),
            Err(ExpiryError::SignerExpired { not_after: 1000, now: 1001 })
        );
    }
}
