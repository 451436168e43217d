//! Signers' keys: public keys from X.509 certificates or SubjectPublicKeyInfo, key
//! identifiers, and trust-list entries.
//!
//! HCERT names a signer by its `kid`, the first 8 bytes of the SHA-256 of the signer's
//! DER certificate (the "document signer certificate"). A verifier keeps a trust list from
//! `kid` to public key; [`TrustListEntry`] is one line of such a list.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};

use super::der::{self, DerError, TAG_BIT_STRING, TAG_OID, TAG_SEQUENCE};

/// Length of an HCERT key identifier.
pub const KID_LEN: usize = 8;

/// OID 1.2.840.10045.2.1, id-ecPublicKey.
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// OID 1.2.840.10045.3.1.7, the P-256 curve (prime256v1, secp256r1).
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// OID 1.2.840.113549.1.1.1, rsaEncryption.
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// OID 1.2.840.113549.1.1.10, id-RSASSA-PSS (an RSA key restricted to PSS).
const OID_RSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
/// The DER of a P-256 SubjectPublicKeyInfo up to the uncompressed point that ends it.
const P256_SPKI_PREFIX: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
    0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// Why a certificate or key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The DER structure is malformed.
    #[error("malformed certificate or key: {0}")]
    Der(#[from] DerError),
    /// Bytes follow the certificate or key.
    #[error("bytes after the end of the certificate or key")]
    TrailingBytes,
    /// A key of another algorithm than EC or RSA.
    #[error("unsupported public key algorithm (only EC P-256 and RSA)")]
    UnsupportedAlgorithm,
    /// An EC key on another curve than P-256.
    #[error("unsupported elliptic curve (only P-256)")]
    UnsupportedCurve,
    /// The key material itself is invalid (not a curve point, malformed RSA key).
    #[error("invalid public key: {0}")]
    InvalidKey(String),
}

/// A signer's public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// An EC key on P-256, for ES256.
    P256(p256::ecdsa::VerifyingKey),
    /// An RSA key, for PS256.
    Rsa(rsa::RsaPublicKey),
}

impl PublicKey {
    /// Reads a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(spki: &[u8]) -> Result<Self, KeyError> {
        let (item, rest) = der::expect(spki, TAG_SEQUENCE)?;
        if !rest.is_empty() {
            return Err(KeyError::TrailingBytes);
        }
        let (algorithm, rest) = der::expect(item.content, TAG_SEQUENCE)?;
        let (bits, _) = der::expect(rest, TAG_BIT_STRING)?;
        // The first content byte of a BIT STRING counts unused bits; a key has none.
        let key = match bits.content {
            [0, key @ ..] => key,
            _ => return Err(KeyError::InvalidKey("key bits are not whole bytes".into())),
        };
        let (oid, parameters) = der::expect(algorithm.content, TAG_OID)?;
        match oid.content {
            OID_EC_PUBLIC_KEY => {
                let (curve, _) = der::expect(parameters, TAG_OID)?;
                if curve.content != OID_P256 {
                    return Err(KeyError::UnsupportedCurve);
                }
                p256::ecdsa::VerifyingKey::from_sec1_bytes(key)
                    .map(Self::P256)
                    .map_err(|error| KeyError::InvalidKey(error.to_string()))
            }
            OID_RSA | OID_RSA_PSS => {
                use rsa::pkcs1::DecodeRsaPublicKey;
                rsa::RsaPublicKey::from_pkcs1_der(key)
                    .map(Self::Rsa)
                    .map_err(|error| KeyError::InvalidKey(error.to_string()))
            }
            _ => Err(KeyError::UnsupportedAlgorithm),
        }
    }
}

/// When a signer's certificate is valid, in seconds since the Unix epoch (both ends
/// included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// The certificate's notBefore.
    pub not_before: i64,
    /// The certificate's notAfter.
    pub not_after: i64,
}

/// What a verifier needs from a signer's X.509 certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerCertificate {
    /// The key identifier that certificates signed with this key carry.
    pub kid: [u8; KID_LEN],
    /// The certificate's validity period.
    pub validity: Validity,
    /// The certificate's public key.
    pub public_key: PublicKey,
}

impl SignerCertificate {
    /// Reads a DER X.509 certificate. Only the parts a verifier needs are read; the
    /// certificate's own signature and extensions are not checked here.
    pub fn from_der(certificate: &[u8]) -> Result<Self, KeyError> {
        let (validity, spki) = read_certificate(certificate)?;
        Ok(Self { kid: kid_from_certificate(certificate), validity, public_key: PublicKey::from_spki_der(spki)? })
    }
}

/// Finds the validity and the raw SubjectPublicKeyInfo of a DER X.509 certificate.
fn read_certificate(certificate: &[u8]) -> Result<(Validity, &[u8]), KeyError> {
    let (outer, rest) = der::expect(certificate, TAG_SEQUENCE)?;
    if !rest.is_empty() {
        return Err(KeyError::TrailingBytes);
    }
    let (tbs, _) = der::expect(outer.content, TAG_SEQUENCE)?;
    // TBSCertificate: [0] version (optional), serialNumber, signature, issuer, validity,
    // subject, subjectPublicKeyInfo, ...
    const EXPLICIT_VERSION: u8 = 0xa0;
    let (first, mut fields) = der::read(tbs.content)?;
    if first.tag == EXPLICIT_VERSION {
        (_, fields) = der::read(fields)?; // serialNumber
    }
    let (_, fields) = der::expect(fields, TAG_SEQUENCE)?; // signature algorithm
    let (_, fields) = der::expect(fields, TAG_SEQUENCE)?; // issuer
    let (validity, fields) = der::expect(fields, TAG_SEQUENCE)?;
    let (_, fields) = der::expect(fields, TAG_SEQUENCE)?; // subject
    let (spki, _) = der::expect(fields, TAG_SEQUENCE)?;
    let (not_before, times) = der::read_time(validity.content)?;
    let (not_after, _) = der::read_time(times)?;
    Ok((Validity { not_before, not_after }, spki.raw))
}

/// The HCERT key identifier of a signer certificate: the first 8 bytes of the SHA-256 of
/// its DER.
pub fn kid_from_certificate(certificate_der: &[u8]) -> [u8; KID_LEN] {
    first_bytes_of_sha256(certificate_der)
}

/// A key identifier for a key that has no certificate: the first 8 bytes of the SHA-256 of
/// its DER SubjectPublicKeyInfo. HCERT itself always derives the `kid` from a certificate;
/// this is Outbreak's rule for keys that only ever appear in its own trust list.
pub fn kid_from_spki(spki_der: &[u8]) -> [u8; KID_LEN] {
    first_bytes_of_sha256(spki_der)
}

fn first_bytes_of_sha256(bytes: &[u8]) -> [u8; KID_LEN] {
    let digest = Sha256::digest(bytes);
    let mut kid = [0; KID_LEN];
    kid.copy_from_slice(&digest[..KID_LEN]);
    kid
}

/// The DER SubjectPublicKeyInfo of a P-256 key.
pub fn p256_spki_der(key: &p256::ecdsa::VerifyingKey) -> Vec<u8> {
    let point = key.to_encoded_point(false);
    [P256_SPKI_PREFIX, point.as_bytes()].concat()
}

/// One entry of a trust list: a key identifier and the public key it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustListEntry {
    /// The key identifier, standard Base64.
    pub kid: String,
    /// The DER SubjectPublicKeyInfo, standard Base64.
    pub public_key: String,
}

impl TrustListEntry {
    /// The entry of an ES256 key without certificate (its `kid` from [`kid_from_spki`]).
    pub fn for_key(key: &p256::ecdsa::VerifyingKey) -> Self {
        let spki = p256_spki_der(key);
        Self { kid: BASE64.encode(kid_from_spki(&spki)), public_key: BASE64.encode(&spki) }
    }

    /// The entry of a signer certificate (its `kid` from [`kid_from_certificate`]).
    pub fn for_certificate(certificate_der: &[u8]) -> Result<Self, KeyError> {
        let (_, spki) = read_certificate(certificate_der)?;
        PublicKey::from_spki_der(spki)?; // refuse a key that could not verify anything
        Ok(Self { kid: BASE64.encode(kid_from_certificate(certificate_der)), public_key: BASE64.encode(spki) })
    }

    /// Reads the entry back: the key identifier and the key.
    pub fn decode(&self) -> Result<(Vec<u8>, PublicKey), KeyError> {
        let invalid = |what: &str| KeyError::InvalidKey(format!("{what} is not Base64"));
        let kid = BASE64.decode(&self.kid).map_err(|_| invalid("kid"))?;
        let spki = BASE64.decode(&self.public_key).map_err(|_| invalid("public key"))?;
        Ok((kid, PublicKey::from_spki_der(&spki)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spki_of_a_p256_key_round_trips() {
        let key = p256::ecdsa::SigningKey::from_slice(&[3; 32]).unwrap();
        let verifying = *key.verifying_key();
        let spki = p256_spki_der(&verifying);
        assert_eq!(spki.len(), 91);
        assert_eq!(PublicKey::from_spki_der(&spki).unwrap(), PublicKey::P256(verifying));
        let entry = TrustListEntry::for_key(&verifying);
        let (kid, decoded) = entry.decode().unwrap();
        assert_eq!(kid, kid_from_spki(&spki));
        assert_eq!(decoded, PublicKey::P256(verifying));
    }

    #[test]
    fn refuses_other_keys() {
        let key = p256::ecdsa::SigningKey::from_slice(&[3; 32]).unwrap();
        let mut spki = p256_spki_der(key.verifying_key());
        spki[22] = 0x08; // P-256 → another curve OID
        assert_eq!(PublicKey::from_spki_der(&spki), Err(KeyError::UnsupportedCurve));
        let mut spki = p256_spki_der(key.verifying_key());
        spki[12] = 0x09; // id-ecPublicKey → another algorithm
        assert_eq!(PublicKey::from_spki_der(&spki), Err(KeyError::UnsupportedAlgorithm));
        let mut spki = p256_spki_der(key.verifying_key());
        spki[30] ^= 0xff; // no longer a point on the curve
        assert!(matches!(PublicKey::from_spki_der(&spki), Err(KeyError::InvalidKey(_))));
        assert!(PublicKey::from_spki_der(&[0x30, 0x00]).is_err());
    }
}
