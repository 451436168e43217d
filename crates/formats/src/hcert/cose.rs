//! COSE_Sign1 (RFC 9052): the signed envelope around a certificate's claims.
//!
//! A certificate is `[protected, unprotected, payload, signature]`, optionally under CBOR
//! tag 18 (and, from some issuers, the CWT tag 61 around that). The protected header is
//! kept as the exact bytes received, because the signature covers those bytes and not any
//! re-encoding of them.

use ciborium::Value;
use p256::ecdsa::signature::Signer;

/// CBOR tag of a COSE_Sign1 structure.
const TAG_COSE_SIGN1: u64 = 18;
/// CBOR tag of a CBOR Web Token (RFC 8392), which some issuers put around the COSE tag.
const TAG_CWT: u64 = 61;
/// Header label of the signature algorithm.
const LABEL_ALG: i128 = 1;
/// Header label of the key identifier.
const LABEL_KID: i128 = 4;

/// A signature algorithm that HCERT allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// ECDSA over P-256 with SHA-256, the signature being `r || s` (64 bytes). COSE id -7.
    Es256,
    /// RSASSA-PSS with SHA-256, MGF1 with SHA-256 and a 32-byte salt. COSE id -37.
    Ps256,
}

impl Algorithm {
    /// The algorithm with a COSE identifier, if HCERT allows it.
    pub fn from_id(id: i64) -> Option<Self> {
        match id {
            -7 => Some(Self::Es256),
            -37 => Some(Self::Ps256),
            _ => None,
        }
    }

    /// The COSE identifier of the algorithm.
    pub fn id(self) -> i64 {
        match self {
            Self::Es256 => -7,
            Self::Ps256 => -37,
        }
    }
}

/// Why bytes are not a COSE_Sign1 structure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoseError {
    /// The bytes are not well-formed CBOR.
    #[error("not valid CBOR: {0}")]
    Cbor(String),
    /// Bytes follow the COSE structure.
    #[error("{0} bytes after the end of the COSE structure")]
    TrailingBytes(usize),
    /// A CBOR tag other than 18 (COSE_Sign1) or 61 (CWT) wraps the structure.
    #[error("unexpected CBOR tag {0} (expected 18, COSE_Sign1)")]
    UnexpectedTag(u64),
    /// The structure is not an array of four items.
    #[error("not a COSE_Sign1 structure (an array of four items)")]
    NotSign1,
    /// An item of the structure has the wrong type.
    #[error("invalid COSE_Sign1 structure: {0}")]
    InvalidItem(&'static str),
    /// A header is not a map or holds a parameter of the wrong type.
    #[error("invalid COSE header: {0}")]
    InvalidHeader(&'static str),
    /// The payload is `nil`: it travels apart from the signature, which HCERT does not allow.
    #[error("the payload is detached")]
    DetachedPayload,
}

/// The header parameters that HCERT uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// The COSE algorithm identifier (label 1).
    pub alg: Option<i64>,
    /// The key identifier (label 4): for HCERT, the first 8 bytes of the SHA-256 of the
    /// signer's certificate.
    pub kid: Option<Vec<u8>>,
}

impl Header {
    fn from_map(value: &Value) -> Result<Self, CoseError> {
        let entries = value.as_map().ok_or(CoseError::InvalidHeader("a header must be a map"))?;
        let mut header = Self::default();
        for (label, parameter) in entries {
            let Some(label) = label.as_integer().map(i128::from) else {
                continue; // text labels are private parameters that HCERT does not use
            };
            if label == LABEL_ALG {
                let id = parameter
                    .as_integer()
                    .and_then(|id| i64::try_from(id).ok())
                    .ok_or(CoseError::InvalidHeader("alg must be an integer"))?;
                header.alg = Some(id);
            } else if label == LABEL_KID {
                let kid = parameter.as_bytes().ok_or(CoseError::InvalidHeader("kid must be a byte string"))?;
                header.kid = Some(kid.clone());
            }
        }
        Ok(header)
    }

    fn write(&self, out: &mut Vec<u8>) {
        let count = usize::from(self.alg.is_some()) + usize::from(self.kid.is_some());
        write_head(out, MAJOR_MAP, count as u64);
        if let Some(alg) = self.alg {
            write_int(out, LABEL_ALG as i64);
            write_int(out, alg);
        }
        if let Some(kid) = &self.kid {
            write_int(out, LABEL_KID as i64);
            write_bytes(out, kid);
        }
    }
}

/// A decoded COSE_Sign1 structure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoseSign1 {
    /// The protected header exactly as received: the signature covers these bytes.
    pub protected_bytes: Vec<u8>,
    /// The protected header, decoded.
    pub protected: Header,
    /// The unprotected header.
    pub unprotected: Header,
    /// The payload: the CBOR of the CWT claims.
    pub payload: Vec<u8>,
    /// The signature.
    pub signature: Vec<u8>,
}

impl CoseSign1 {
    /// Decodes a COSE_Sign1 structure, tagged or not.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CoseError> {
        let mut rest = bytes;
        let value: Value = ciborium::from_reader(&mut rest).map_err(|error| CoseError::Cbor(error.to_string()))?;
        if !rest.is_empty() {
            return Err(CoseError::TrailingBytes(rest.len()));
        }
        // Taken apart by value: the payload and signature move out rather than being copied.
        let mut value = value;
        while let Value::Tag(tag, inner) = value {
            if tag != TAG_COSE_SIGN1 && tag != TAG_CWT {
                return Err(CoseError::UnexpectedTag(tag));
            }
            value = *inner;
        }
        let Value::Array(items) = value else {
            return Err(CoseError::NotSign1);
        };
        let Ok([protected, unprotected, payload, signature]) = <[Value; 4]>::try_from(items) else {
            return Err(CoseError::NotSign1);
        };
        let Value::Bytes(protected_bytes) = protected else {
            return Err(CoseError::InvalidItem("the protected header must be a byte string"));
        };
        let protected = if protected_bytes.is_empty() {
            Header::default()
        } else {
            let map: Value = ciborium::from_reader(protected_bytes.as_slice())
                .map_err(|error| CoseError::Cbor(error.to_string()))?;
            Header::from_map(&map)?
        };
        let payload = match payload {
            Value::Bytes(bytes) => bytes,
            Value::Null => return Err(CoseError::DetachedPayload),
            _ => return Err(CoseError::InvalidItem("the payload must be a byte string")),
        };
        let Value::Bytes(signature) = signature else {
            return Err(CoseError::InvalidItem("the signature must be a byte string"));
        };
        let unprotected = Header::from_map(&unprotected)?;
        Ok(Self { protected_bytes, protected, unprotected, payload, signature })
    }

    /// Signs a payload with ES256 under the protected header `{1: -7, 4: kid}`.
    pub fn sign_es256(kid: &[u8], payload: Vec<u8>, key: &p256::ecdsa::SigningKey) -> Self {
        let protected = Header { alg: Some(Algorithm::Es256.id()), kid: Some(kid.to_vec()) };
        let mut protected_bytes = Vec::new();
        protected.write(&mut protected_bytes);
        let mut cose =
            Self { protected_bytes, protected, unprotected: Header::default(), payload, signature: Vec::new() };
        let signature: p256::ecdsa::Signature = key.sign(&cose.signed_bytes());
        cose.signature = signature.to_bytes().to_vec();
        cose
    }

    /// Encodes the structure under tag 18.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.payload.len() + self.signature.len() + 64);
        write_head(&mut out, MAJOR_TAG, TAG_COSE_SIGN1);
        write_head(&mut out, MAJOR_ARRAY, 4);
        write_bytes(&mut out, &self.protected_bytes);
        self.unprotected.write(&mut out);
        write_bytes(&mut out, &self.payload);
        write_bytes(&mut out, &self.signature);
        out
    }

    /// The signature algorithm's COSE identifier: the protected one if present, else the
    /// unprotected one. Some issuers put it in the unprotected header; taking it from there
    /// is safe because the verifier's key fixes which algorithm can succeed.
    pub fn alg(&self) -> Option<i64> {
        self.protected.alg.or(self.unprotected.alg)
    }

    /// The key identifier: the protected one if present, else the unprotected one (HCERT
    /// allows both places).
    pub fn kid(&self) -> Option<&[u8]> {
        self.protected.kid.as_deref().or(self.unprotected.kid.as_deref())
    }

    /// The bytes that the signature covers: the CBOR of the Sig_structure
    /// `["Signature1", protected, external_aad = h'', payload]`.
    pub fn signed_bytes(&self) -> Vec<u8> {
        const CONTEXT: &str = "Signature1";
        let mut out = Vec::with_capacity(self.protected_bytes.len() + self.payload.len() + 32);
        write_head(&mut out, MAJOR_ARRAY, 4);
        write_head(&mut out, MAJOR_TEXT, CONTEXT.len() as u64);
        out.extend_from_slice(CONTEXT.as_bytes());
        write_bytes(&mut out, &self.protected_bytes);
        write_bytes(&mut out, &[]);
        write_bytes(&mut out, &self.payload);
        out
    }
}

const MAJOR_UNSIGNED: u8 = 0;
const MAJOR_NEGATIVE: u8 = 1;
const MAJOR_BYTES: u8 = 2;
const MAJOR_TEXT: u8 = 3;
const MAJOR_ARRAY: u8 = 4;
const MAJOR_MAP: u8 = 5;
const MAJOR_TAG: u8 = 6;

/// Writes a CBOR item head in its shortest form. The few fixed structures of COSE are
/// written by hand so that they cannot fail and their bytes are exactly as specified.
fn write_head(out: &mut Vec<u8>, major: u8, argument: u64) {
    let major = major << 5;
    match argument {
        0..=23 => out.push(major | argument as u8),
        24..=0xff => out.extend_from_slice(&[major | 24, argument as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend_from_slice(&(argument as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(major | 26);
            out.extend_from_slice(&(argument as u32).to_be_bytes());
        }
        _ => {
            out.push(major | 27);
            out.extend_from_slice(&argument.to_be_bytes());
        }
    }
}

fn write_int(out: &mut Vec<u8>, value: i64) {
    if value >= 0 {
        write_head(out, MAJOR_UNSIGNED, value.unsigned_abs());
    } else {
        write_head(out, MAJOR_NEGATIVE, (-1 - value).unsigned_abs());
    }
}

fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_head(out, MAJOR_BYTES, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cbor(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(value, &mut out).unwrap();
        out
    }

    #[test]
    fn hand_written_cbor_matches_ciborium() {
        for n in [0_i64, 23, 24, 255, 256, 65535, 65536, 1 << 40, -1, -24, -25, -37, -260] {
            let mut out = Vec::new();
            write_int(&mut out, n);
            assert_eq!(out, cbor(&Value::from(n)), "{n}");
        }
        for len in [0, 23, 24, 300, 70000] {
            let bytes = vec![1_u8; len];
            let mut out = Vec::new();
            write_bytes(&mut out, &bytes);
            assert_eq!(out, cbor(&Value::Bytes(bytes)));
        }
    }

    #[test]
    fn encodes_and_decodes_tagged_and_untagged() {
        let key = p256::ecdsa::SigningKey::from_slice(&[7; 32]).unwrap();
        let cose = CoseSign1::sign_es256(b"kid-8byt", b"payload".to_vec(), &key);
        assert_eq!(
            cose.protected_bytes,
            [0xa2, 0x01, 0x26, 0x04, 0x48, b'k', b'i', b'd', b'-', b'8', b'b', b'y', b't']
        );
        let bytes = cose.to_vec();
        assert_eq!(bytes[0], 0xd2);
        assert_eq!(CoseSign1::from_slice(&bytes).unwrap(), cose);
        assert_eq!(CoseSign1::from_slice(&bytes[1..]).unwrap(), cose, "tag 18 is optional");
        let mut cwt_tagged = vec![0xd8, 0x3d];
        cwt_tagged.extend_from_slice(&bytes);
        assert_eq!(CoseSign1::from_slice(&cwt_tagged).unwrap(), cose);
        assert_eq!(cose.kid(), Some(&b"kid-8byt"[..]));
        assert_eq!(cose.protected.alg, Some(-7));
    }

    #[test]
    fn kid_falls_back_to_the_unprotected_header() {
        let mut cose = CoseSign1::sign_es256(b"k", Vec::new(), &p256::ecdsa::SigningKey::from_slice(&[9; 32]).unwrap());
        cose.unprotected.kid = Some(b"u".to_vec());
        assert_eq!(cose.kid(), Some(&b"k"[..]));
        cose.protected.kid = None;
        assert_eq!(cose.kid(), Some(&b"u"[..]));
        let round_tripped = CoseSign1::from_slice(&cose.to_vec()).unwrap();
        assert_eq!(round_tripped.unprotected.kid.as_deref(), Some(&b"u"[..]));
    }

    #[test]
    fn rejects_malformed_structures() {
        let array = |items: Vec<Value>| cbor(&Value::Array(items));
        let bytes = |b: &[u8]| Value::Bytes(b.to_vec());
        let empty_map = Value::Map(Vec::new());
        assert!(matches!(CoseSign1::from_slice(&[0xff]), Err(CoseError::Cbor(_))));
        assert_eq!(CoseSign1::from_slice(&array(vec![])), Err(CoseError::NotSign1));
        assert_eq!(
            CoseSign1::from_slice(&cbor(&Value::Tag(98, Box::new(Value::Array(vec![]))))),
            Err(CoseError::UnexpectedTag(98))
        );
        let null_payload = array(vec![bytes(b""), empty_map.clone(), Value::Null, bytes(b"s")]);
        assert_eq!(CoseSign1::from_slice(&null_payload), Err(CoseError::DetachedPayload));
        let text_kid =
            array(vec![bytes(b""), Value::Map(vec![(Value::from(4), Value::from("kid"))]), bytes(b"p"), bytes(b"s")]);
        assert!(matches!(CoseSign1::from_slice(&text_kid), Err(CoseError::InvalidHeader(_))));
        let mut trailing = array(vec![bytes(b""), empty_map, bytes(b"p"), bytes(b"s")]);
        assert!(CoseSign1::from_slice(&trailing).is_ok());
        trailing.push(0);
        assert_eq!(CoseSign1::from_slice(&trailing), Err(CoseError::TrailingBytes(1)));
    }
}
