//! Document signer certificates (DSC): the X.509 certificate that names a signing key.
//!
//! HCERT identifies a signer by the `kid` derived from its DSC, and verifiers read the
//! DSC's validity to bound the certificates it signed. Outbreak's signers are self-signed
//! (a country's CSCA can re-issue them later; the `kid` then changes with the DER). Only
//! the fields a verifier reads are written: version 3, serial, `ecdsa-with-SHA256`, issuer
//! and subject, validity, the P-256 key; no extensions.

use p256::ecdsa::signature::Signer;

use super::keys::{self, KID_LEN, Validity};

/// OID 1.2.840.10045.4.3.2, ecdsa-with-SHA256.
const OID_ECDSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
/// OIDs of the name attributes used: countryName, organizationName, commonName.
const OID_COUNTRY: &[u8] = &[0x55, 0x04, 0x06];
const OID_ORGANIZATION: &[u8] = &[0x55, 0x04, 0x0a];
const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

/// Who a signer certificate names.
#[derive(Debug, Clone, Copy)]
pub struct SignerName<'a> {
    /// ISO 3166-1 alpha-2 country (`VN`).
    pub country: &'a str,
    /// The organisation (`Ministry of Health of Viet Nam`).
    pub organization: &'a str,
    /// The signer's own name (`Outbreak DSC 2026-11-29`).
    pub common_name: &'a str,
}

/// Why a signer certificate could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignerError {
    /// The validity ends before it begins, or lies outside what X.509 times can say.
    #[error("invalid validity period")]
    Validity,
}

/// Makes a self-signed DER certificate for `key`, valid over `validity` (seconds since
/// the Unix epoch), with a `serial` of up to 20 bytes.
pub fn self_signed_certificate(
    key: &p256::ecdsa::SigningKey,
    name: &SignerName<'_>,
    validity: Validity,
    serial: &[u8],
) -> Result<Vec<u8>, SignerError> {
    if validity.not_after < validity.not_before {
        return Err(SignerError::Validity);
    }
    let algorithm = tlv(0x30, &tlv(0x06, OID_ECDSA_SHA256));
    let name = encode_name(name);
    let times = [time(validity.not_before)?, time(validity.not_after)?].concat();
    let tbs = tlv(
        0x30,
        &[
            tlv(0xa0, &tlv(0x02, &[2])), // version 3
            tlv(0x02, &positive_integer(serial)),
            algorithm.clone(),
            name.clone(),
            tlv(0x30, &times),
            name,
            keys::p256_spki_der(key.verifying_key()),
        ]
        .concat(),
    );
    let signature: p256::ecdsa::Signature = key.sign(&tbs);
    let bits = [&[0][..], signature.to_der().as_bytes()].concat();
    Ok(tlv(0x30, &[tbs, algorithm, tlv(0x03, &bits)].concat()))
}

/// The `kid` of a signer certificate (see [`keys::kid_from_certificate`]).
pub fn kid(certificate_der: &[u8]) -> [u8; KID_LEN] {
    keys::kid_from_certificate(certificate_der)
}

fn encode_name(name: &SignerName<'_>) -> Vec<u8> {
    let attribute = |oid: &[u8], tag: u8, value: &str| {
        tlv(0x31, &tlv(0x30, &[tlv(0x06, oid), tlv(tag, value.as_bytes())].concat()))
    };
    // countryName is a PrintableString; the others UTF8String (Vietnamese names allowed).
    tlv(
        0x30,
        &[
            attribute(OID_COUNTRY, 0x13, name.country),
            attribute(OID_ORGANIZATION, 0x0c, name.organization),
            attribute(OID_COMMON_NAME, 0x0c, name.common_name),
        ]
        .concat(),
    )
}

/// An X.509 Time: UTCTime for 1950–2049, GeneralizedTime otherwise (RFC 5280).
fn time(seconds: i64) -> Result<Vec<u8>, SignerError> {
    let at = time::OffsetDateTime::from_unix_timestamp(seconds).map_err(|_| SignerError::Validity)?;
    let (year, month, day) = (at.year(), u8::from(at.month()), at.day());
    let clock = format!("{month:02}{day:02}{:02}{:02}{:02}Z", at.hour(), at.minute(), at.second());
    Ok(match year {
        1950..=2049 => tlv(0x17, format!("{:02}{clock}", year % 100).as_bytes()),
        0..=9999 => tlv(0x18, format!("{year:04}{clock}").as_bytes()),
        _ => return Err(SignerError::Validity),
    })
}

/// The content of a DER INTEGER holding `bytes` as an unsigned number.
fn positive_integer(bytes: &[u8]) -> Vec<u8> {
    let trimmed = match bytes.iter().position(|&b| b != 0) {
        Some(start) => &bytes[start..],
        None => &[0][..],
    };
    // A leading 1 bit would read as negative.
    if trimmed[0] & 0x80 != 0 { [&[0][..], trimmed].concat() } else { trimmed.to_vec() }
}

/// One DER item: tag, definite length, content.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hcert::keys::{PublicKey, SignerCertificate};

    #[test]
    fn the_verifier_reads_back_what_was_written() {
        let key = p256::ecdsa::SigningKey::from_slice(&[4; 32]).unwrap();
        let name = SignerName { country: "VN", organization: "Bộ Y tế", common_name: "Outbreak DSC test" };
        // 2026-01-01 to 2060-01-01: both kinds of time.
        let validity = Validity { not_before: 1_767_225_600, not_after: 2_840_140_800 };
        let der = self_signed_certificate(&key, &name, validity, &[0x80, 1, 2]).unwrap();
        let signer = SignerCertificate::from_der(&der).unwrap();
        assert_eq!(signer.validity, validity);
        assert_eq!(signer.public_key, PublicKey::P256(*key.verifying_key()));
        assert_eq!(signer.kid, kid(&der));
        let reversed = Validity { not_before: 10, not_after: 5 };
        assert_eq!(self_signed_certificate(&key, &name, reversed, &[1]), Err(SignerError::Validity));
    }

    #[test]
    fn long_items_use_long_lengths() {
        assert_eq!(tlv(4, &[0; 200])[..3], [4, 0x81, 200]);
        assert_eq!(tlv(4, &[0; 300])[..4], [4, 0x82, 1, 44]);
        assert_eq!(positive_integer(&[0, 0, 5]), [5]);
        assert_eq!(positive_integer(&[0xff]), [0, 0xff]);
    }
}
