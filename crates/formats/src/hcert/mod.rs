//! The EU Digital COVID Certificate encoding (HCERT): issue, decode, verify, check expiry
//! and validate certificates like `HC1:NCFOXN%TS3DH...`.
//!
//! A certificate is layered, and each layer has its own module and error type:
//!
//! | step | module | error |
//! |---|---|---|
//! | `HC1:` context identifier | [`prefix`] | [`PrefixError`] |
//! | Base45 text (RFC 9285) | [`base45`] | [`Base45Error`] |
//! | zlib compression | [`zlib`] | [`InflateError`] |
//! | COSE_Sign1 envelope | [`cose`] | [`CoseError`] |
//! | CWT claims, the health certificate as JSON | [`cwt`] | [`CwtError`] |
//! | ES256/PS256 signature and `kid` | [`verify`], keys in [`keys`] | [`VerifyError`] |
//! | validity at an instant | [`expiry`] | [`ExpiryError`] |
//! | JSON schema of the certificate's version | [`schema`] | [`SchemaError`] |
//! | unique certificate identifier (UVCI) | [`uvci`] | [`UvciError`] |
//!
//! [`decode`] runs the decoding steps; verification, expiry and schema checks are separate
//! calls because each needs something the text does not carry (a key, a clock). [`issue()`]
//! goes the other way, with [`names`] (ICAO transliteration) and [`signer`] (the
//! signer's X.509 certificate). [`testdata`] runs the eHealth Network's test cases. Everything is
//! pure: no file, network or clock is touched.

pub mod base45;
pub mod cose;
pub mod cwt;
mod der;
pub mod expiry;
pub mod issue;
pub mod keys;
pub mod names;
pub mod prefix;
pub mod schema;
pub mod signer;
pub mod testdata;
pub mod uvci;
pub mod verify;
pub mod zlib;

pub use base45::Base45Error;
pub use cose::{Algorithm, CoseError, CoseSign1};
pub use cwt::{CwtClaims, CwtError};
pub use der::DerError;
pub use expiry::{ExpiryError, check_expiry};
pub use issue::{IssueError, IssueRequest, issue};
pub use keys::{KeyError, PublicKey, SignerCertificate, TrustListEntry, Validity};
pub use prefix::PrefixError;
pub use schema::SchemaError;
pub use signer::{SignerError, SignerName, self_signed_certificate};
pub use uvci::UvciError;
pub use verify::{VerifyError, verify_with_certificate, verify_with_key};
pub use zlib::InflateError;

/// A decoded (not yet verified) certificate.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The signed envelope, needed to verify the signature.
    pub cose: CoseSign1,
    /// The claims, including the health certificate.
    pub claims: CwtClaims,
}

/// Why a text is not a decodable certificate: the first step that failed.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// No `HC1:` prefix.
    #[error(transparent)]
    Prefix(#[from] PrefixError),
    /// Invalid Base45.
    #[error(transparent)]
    Base45(#[from] Base45Error),
    /// Invalid or oversized zlib stream.
    #[error(transparent)]
    Inflate(#[from] InflateError),
    /// Not a COSE_Sign1 structure.
    #[error(transparent)]
    Cose(#[from] CoseError),
    /// Not HCERT claims.
    #[error(transparent)]
    Cwt(#[from] CwtError),
}

/// Decodes an `HC1:` text, without verifying it.
pub fn decode(text: &str) -> Result<Decoded, DecodeError> {
    let compressed = base45::decode(prefix::strip(text)?)?;
    decode_cose(&zlib::inflate(&compressed)?)
}

/// Decodes a COSE_Sign1 structure and its claims, without verifying them.
pub fn decode_cose(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let cose = CoseSign1::from_slice(bytes)?;
    let claims = CwtClaims::from_slice(&cose.payload)?;
    Ok(Decoded { cose, claims })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_step_reports_its_own_error() {
        assert!(matches!(decode("NCF"), Err(DecodeError::Prefix(_))));
        assert!(matches!(decode("HC1:nc"), Err(DecodeError::Base45(_))));
        assert!(matches!(decode("HC1:NCF"), Err(DecodeError::Inflate(_))));
        let not_cose = base45::encode(&zlib::compress(b"\x01").unwrap());
        assert!(matches!(decode(&prefix::add(&not_cose)), Err(DecodeError::Cose(_))));
        let key = p256::ecdsa::SigningKey::from_slice(&[2; 32]).unwrap();
        let no_claims = CoseSign1::sign_es256(b"k", vec![0xa0], &key).to_vec();
        let text = prefix::add(&base45::encode(&zlib::compress(&no_claims).unwrap()));
        assert!(matches!(decode(&text), Err(DecodeError::Cwt(CwtError::MissingHcert))));
    }
}
