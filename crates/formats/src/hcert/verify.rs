//! Signature verification of a COSE_Sign1 certificate: ES256 or PS256 over the
//! Sig_structure, and the key identifier checked against the signer's certificate.

use rsa::signature::Verifier;
use sha2::Sha256;

use super::cose::{Algorithm, CoseSign1};
use super::keys::{PublicKey, SignerCertificate};

/// Why a signature does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Neither header names an algorithm.
    #[error("no signature algorithm in the COSE headers")]
    MissingAlgorithm,
    /// An algorithm HCERT does not allow.
    #[error("unsupported signature algorithm {0} (only ES256 and PS256)")]
    UnsupportedAlgorithm(i64),
    /// The algorithm does not fit the key (ES256 with an RSA key, or the reverse).
    #[error("algorithm {algorithm:?} does not fit the signer's {key} key")]
    KeyMismatch {
        /// The algorithm in the header.
        algorithm: Algorithm,
        /// The kind of key.
        key: &'static str,
    },
    /// Neither header carries a key identifier, so the signer cannot be confirmed.
    #[error("no key identifier")]
    MissingKid,
    /// The key identifier is not the signer certificate's.
    #[error("key identifier {found:02x?} is not the signer's {expected:02x?}")]
    KidMismatch {
        /// The signer certificate's key identifier.
        expected: Vec<u8>,
        /// The certificate's key identifier.
        found: Vec<u8>,
    },
    /// The signature has the wrong shape (an ES256 signature is 64 bytes, `r || s`).
    #[error("malformed signature")]
    MalformedSignature,
    /// The signature does not match the content and key.
    #[error("signature does not verify")]
    BadSignature,
}

/// Verifies a certificate against its signer's X.509 certificate: the key identifier
/// (protected, else unprotected) must be the signer certificate's, and the signature must
/// verify with its key.
pub fn verify_with_certificate(cose: &CoseSign1, signer: &SignerCertificate) -> Result<(), VerifyError> {
    let kid = cose.kid().ok_or(VerifyError::MissingKid)?;
    if kid != signer.kid {
        return Err(VerifyError::KidMismatch { expected: signer.kid.to_vec(), found: kid.to_vec() });
    }
    verify_with_key(cose, &signer.public_key)
}

/// Verifies the signature with a public key (the caller has chosen the key, for example
/// by `kid` from a trust list).
pub fn verify_with_key(cose: &CoseSign1, key: &PublicKey) -> Result<(), VerifyError> {
    let id = cose.alg().ok_or(VerifyError::MissingAlgorithm)?;
    let algorithm = Algorithm::from_id(id).ok_or(VerifyError::UnsupportedAlgorithm(id))?;
    let signed = cose.signed_bytes();
    match (algorithm, key) {
        (Algorithm::Es256, PublicKey::P256(key)) => {
            if cose.signature.len() != 64 {
                return Err(VerifyError::MalformedSignature);
            }
            let point = key.to_encoded_point(false);
            ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, point.as_bytes())
                .verify(&signed, &cose.signature)
                .map_err(|_| VerifyError::BadSignature)
        }
        (Algorithm::Ps256, PublicKey::Rsa(key)) => {
            let signature = rsa::pss::Signature::try_from(cose.signature.as_slice())
                .map_err(|_| VerifyError::MalformedSignature)?;
            // `new` fixes the salt length to the digest's, 32 bytes, as RFC 8230 requires.
            rsa::pss::VerifyingKey::<Sha256>::new(key.clone())
                .verify(&signed, &signature)
                .map_err(|_| VerifyError::BadSignature)
        }
        (algorithm, PublicKey::P256(_)) => Err(VerifyError::KeyMismatch { algorithm, key: "EC" }),
        (algorithm, PublicKey::Rsa(_)) => Err(VerifyError::KeyMismatch { algorithm, key: "RSA" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hcert::cose::Header;

    fn signed() -> (CoseSign1, PublicKey) {
        let key = p256::ecdsa::SigningKey::from_slice(&[5; 32]).unwrap();
        let cose = CoseSign1::sign_es256(b"12345678", b"claims".to_vec(), &key);
        (cose, PublicKey::P256(*key.verifying_key()))
    }

    #[test]
    fn verifies_es256() {
        let (cose, key) = signed();
        assert_eq!(verify_with_key(&cose, &key), Ok(()));
    }

    #[test]
    fn verifies_ps256_with_a_32_byte_salt() {
        use rsa::signature::{RandomizedSigner, SignatureEncoding};
        let mut rng = rand::rngs::OsRng;
        let private = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
        let mut cose = CoseSign1 {
            protected_bytes: vec![0xa1, 0x01, 0x38, 0x24], // {1: -37}
            protected: Header { alg: Some(-37), kid: None },
            unprotected: Header::default(),
            payload: b"claims".to_vec(),
            signature: Vec::new(),
        };
        // `SigningKey::new` uses a salt as long as the digest, 32 bytes.
        let signer = rsa::pss::SigningKey::<Sha256>::new(private.clone());
        cose.signature = signer.sign_with_rng(&mut rng, &cose.signed_bytes()).to_vec();
        let key = PublicKey::Rsa(private.to_public_key());
        assert_eq!(verify_with_key(&cose, &key), Ok(()));
        let long_salt = rsa::pss::SigningKey::<Sha256>::new_with_salt_len(private, 64);
        cose.signature = long_salt.sign_with_rng(&mut rng, &cose.signed_bytes()).to_vec();
        assert_eq!(verify_with_key(&cose, &key), Err(VerifyError::BadSignature));
        cose.protected.alg = Some(-7);
        assert!(matches!(verify_with_key(&cose, &key), Err(VerifyError::KeyMismatch { .. })));
    }

    #[test]
    fn rejects_tampering() {
        let (cose, key) = signed();
        let mut payload = cose.clone();
        payload.payload.push(0);
        assert_eq!(verify_with_key(&payload, &key), Err(VerifyError::BadSignature));
        let mut header = cose.clone();
        header.protected_bytes.push(0);
        assert_eq!(verify_with_key(&header, &key), Err(VerifyError::BadSignature));
        let mut short = cose.clone();
        short.signature.pop();
        assert_eq!(verify_with_key(&short, &key), Err(VerifyError::MalformedSignature));
        let mut alg = cose.clone();
        alg.protected.alg = Some(-8);
        assert_eq!(verify_with_key(&alg, &key), Err(VerifyError::UnsupportedAlgorithm(-8)));
        alg.protected.alg = Some(-37);
        assert!(matches!(verify_with_key(&alg, &key), Err(VerifyError::KeyMismatch { .. })));
        let other = p256::ecdsa::SigningKey::from_slice(&[6; 32]).unwrap();
        assert_eq!(verify_with_key(&cose, &PublicKey::P256(*other.verifying_key())), Err(VerifyError::BadSignature));
    }
}
