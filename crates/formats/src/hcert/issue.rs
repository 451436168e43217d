//! Issuing a certificate: health-certificate JSON in, `HC1:` text out.
//!
//! The JSON becomes the `hcert` claim of a CWT, which is signed as a COSE_Sign1 with ES256
//! under the protected header `{1: -7, 4: kid}`, compressed with zlib, encoded in Base45
//! and prefixed with `HC1:`. The text is what goes into the QR code. Validating the JSON
//! against its schema is the caller's choice ([`super::schema::validate`]).

use super::cose::CoseSign1;
use super::cwt::CwtClaims;
use super::{base45, prefix, zlib};

/// What to put in a certificate.
#[derive(Debug, Clone, Copy)]
pub struct IssueRequest<'a> {
    /// The EU health certificate, as JSON (`ver`, `nam`, `dob` and one of `v`, `t`, `r`).
    pub hcert: &'a serde_json::Value,
    /// The issuing country, ISO 3166-1 alpha-2.
    pub issuer: &'a str,
    /// When the certificate is signed, in seconds since the Unix epoch.
    pub issued_at: i64,
    /// When the signature stops being valid, in seconds since the Unix epoch.
    pub expires_at: i64,
    /// The signer's key identifier (see [`super::keys::kid_from_certificate`]).
    pub kid: &'a [u8],
}

/// Why a certificate could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The expiry is not after the issue time.
    #[error("expiry {expires_at} is not after the issue time {issued_at}")]
    ExpiresBeforeIssued {
        /// The requested issue time.
        issued_at: i64,
        /// The requested expiry.
        expires_at: i64,
    },
    /// The claims could not be encoded as CBOR.
    #[error("could not encode the claims as CBOR: {0}")]
    Cbor(String),
    /// Compression failed.
    #[error("could not compress the certificate: {0}")]
    Compress(#[source] std::io::Error),
}

/// Signs a health certificate with an ES256 key and returns its `HC1:` text.
pub fn issue(request: &IssueRequest<'_>, key: &p256::ecdsa::SigningKey) -> Result<String, IssueError> {
    if request.expires_at <= request.issued_at {
        return Err(IssueError::ExpiresBeforeIssued { issued_at: request.issued_at, expires_at: request.expires_at });
    }
    let claims = CwtClaims {
        issuer: Some(request.issuer.to_owned()),
        issued_at: Some(request.issued_at),
        expires_at: Some(request.expires_at),
        hcert: request.hcert.clone(),
    };
    let mut payload = Vec::new();
    ciborium::into_writer(&claims.to_value(), &mut payload).map_err(|error| IssueError::Cbor(error.to_string()))?;
    let cose = CoseSign1::sign_es256(request.kid, payload, key);
    let compressed = zlib::compress(&cose.to_vec()).map_err(IssueError::Compress)?;
    Ok(prefix::add(&base45::encode(&compressed)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_an_expiry_before_the_issue_time() {
        let key = p256::ecdsa::SigningKey::from_slice(&[1; 32]).unwrap();
        let hcert = serde_json::json!({});
        let request = IssueRequest { hcert: &hcert, issuer: "VN", issued_at: 10, expires_at: 10, kid: b"k" };
        assert!(matches!(issue(&request, &key), Err(IssueError::ExpiresBeforeIssued { .. })));
    }
}
