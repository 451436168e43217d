//! CBOR Web Token claims (RFC 8392) of a certificate, and the CBOR ↔ JSON mapping of the
//! health certificate inside them.
//!
//! HCERT uses four claims: `iss` (1, the issuing country), `exp` (4), `iat` (6) and `hcert`
//! (-260), a map whose key 1 holds the EU health certificate. The certificate is defined
//! as JSON (and validated against a JSON schema) but travels as CBOR, so it is converted.
//!
//! Claims are read by a small CBOR reader of their own, straight into JSON: a verifier
//! reads thousands a second, and building ciborium's value tree first and converting it
//! cost a tenth of a verification. Writing goes through ciborium ([`CwtClaims::to_value`]).

use ciborium::Value;
use serde_json::Value as Json;

/// Claim key of the issuer.
const CLAIM_ISS: i128 = 1;
/// Claim key of the expiry time.
const CLAIM_EXP: i128 = 4;
/// Claim key of the issue time.
const CLAIM_IAT: i128 = 6;
/// Claim key of the health certificate container.
const CLAIM_HCERT: i128 = -260;
/// Key of the EU health certificate inside the `hcert` claim.
const HCERT_EU_DCC_V1: i128 = 1;

/// Why a payload does not hold HCERT claims.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CwtError {
    /// The payload is not well-formed CBOR.
    #[error("claims are not valid CBOR: {0}")]
    Cbor(String),
    /// The payload is not a CBOR map.
    #[error("the claims are not a CBOR map")]
    NotAMap,
    /// A claim has the wrong type.
    #[error("invalid {claim} claim: {reason}")]
    InvalidClaim {
        /// The claim's name.
        claim: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// There is no `hcert` claim, or it holds no EU health certificate (key 1).
    #[error("no health certificate (claim -260, key 1)")]
    MissingHcert,
    /// The health certificate holds something JSON cannot express.
    #[error("health certificate is not JSON-like: {0}")]
    NotJson(&'static str),
}

/// The claims of an HCERT.
#[derive(Debug, Clone, PartialEq)]
pub struct CwtClaims {
    /// The issuing country (ISO 3166-1 alpha-2), when given.
    pub issuer: Option<String>,
    /// When the certificate was signed, in seconds since the Unix epoch (CWT NumericDate).
    pub issued_at: Option<i64>,
    /// When the signature stops being valid, in seconds since the Unix epoch.
    pub expires_at: Option<i64>,
    /// The EU health certificate, as the JSON its schema describes.
    pub hcert: serde_json::Value,
}

impl CwtClaims {
    /// Decodes the claims from a COSE payload (bytes after the claims' map are ignored).
    pub fn from_slice(payload: &[u8]) -> Result<Self, CwtError> {
        let mut reader = Reader { rest: payload };
        let Head::Map(mut claims) = reader.head()? else {
            return Err(CwtError::NotAMap);
        };
        let mut result = Self { issuer: None, issued_at: None, expires_at: None, hcert: Json::Null };
        let mut found_hcert = false;
        while reader.more(&mut claims)? {
            let key = match reader.head()? {
                Head::Unsigned(n) => i128::from(n),
                Head::Negative(n) => -1 - i128::from(n),
                // Text keys are private claims; other keys are no claims at all.
                other => {
                    reader.skip_rest(other, 0)?;
                    reader.skip(0)?;
                    continue;
                }
            };
            match key {
                CLAIM_ISS => match reader.head()? {
                    Head::Text(length) => result.issuer = Some(reader.text(length)?),
                    _ => return Err(CwtError::InvalidClaim { claim: "iss", reason: "must be a text string" }),
                },
                CLAIM_EXP => result.expires_at = Some(numeric_date(reader.head()?, "exp")?),
                CLAIM_IAT => result.issued_at = Some(numeric_date(reader.head()?, "iat")?),
                CLAIM_HCERT => {
                    let Head::Map(mut certificates) = reader.head()? else {
                        return Err(CwtError::InvalidClaim { claim: "hcert", reason: "must be a map" });
                    };
                    let mut certificate = None;
                    while reader.more(&mut certificates)? {
                        let head = reader.head()?;
                        if certificate.is_none()
                            && matches!(head, Head::Unsigned(n) if i128::from(n) == HCERT_EU_DCC_V1)
                        {
                            certificate = Some(reader.json(1)?);
                        } else {
                            reader.skip_rest(head, 1)?;
                            reader.skip(1)?;
                        }
                    }
                    result.hcert = certificate.ok_or(CwtError::MissingHcert)?;
                    found_hcert = true;
                }
                _ => reader.skip(0)?,
            }
        }
        if found_hcert { Ok(result) } else { Err(CwtError::MissingHcert) }
    }

    /// The CBOR value of the claims, for signing.
    pub fn to_value(&self) -> Value {
        let mut claims = Vec::with_capacity(4);
        if let Some(issuer) = &self.issuer {
            claims.push((Value::from(CLAIM_ISS as i64), Value::from(issuer.as_str())));
        }
        if let Some(exp) = self.expires_at {
            claims.push((Value::from(CLAIM_EXP as i64), Value::from(exp)));
        }
        if let Some(iat) = self.issued_at {
            claims.push((Value::from(CLAIM_IAT as i64), Value::from(iat)));
        }
        let container = Value::Map(vec![(Value::from(HCERT_EU_DCC_V1 as i64), json_to_cbor(&self.hcert))]);
        claims.push((Value::from(CLAIM_HCERT as i64), container));
        Value::Map(claims)
    }
}

/// A NumericDate: an integer or a floating-point number of seconds (the fraction dropped).
fn numeric_date(head: Head, claim: &'static str) -> Result<i64, CwtError> {
    let invalid = CwtError::InvalidClaim { claim, reason: "must be a number of seconds" };
    match head {
        Head::Unsigned(seconds) => i64::try_from(seconds).map_err(|_| invalid),
        Head::Negative(n) => i64::try_from(n).map(|n| -1 - n).map_err(|_| invalid),
        // `as` saturates; the range check refuses NaN and values beyond i64.
        Head::Float(seconds) if seconds.is_finite() && seconds.abs() < 9.2e18 => Ok(seconds.floor() as i64),
        _ => Err(invalid),
    }
}

/// Reads one CBOR item — a health certificate without its claims around it — as JSON.
pub fn json_from_cbor(bytes: &[u8]) -> Result<Json, CwtError> {
    Reader { rest: bytes }.json(0)
}

/// Deepest nesting read; a health certificate is four levels deep.
const MAX_DEPTH: usize = 64;

/// The head of a CBOR item (RFC 8949 §3): its major type and argument. A length is
/// `None` for an indefinite-length item, which ends at [`Head::Break`].
#[derive(Debug, Clone, Copy)]
enum Head {
    Unsigned(u64),
    /// The value is -1 - n.
    Negative(u64),
    Bytes(Option<u64>),
    Text(Option<u64>),
    Array(Option<u64>),
    Map(Option<u64>),
    Tag,
    Simple(u8),
    Float(f64),
    Break,
}

fn malformed(what: &str) -> CwtError {
    CwtError::Cbor(what.to_owned())
}

/// A CBOR reader over the bytes left to read.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, count: u64) -> Result<&'a [u8], CwtError> {
        let count = usize::try_from(count).map_err(|_| malformed("length beyond the input"))?;
        let (taken, rest) = self.rest.split_at_checked(count).ok_or_else(|| malformed("unexpected end of input"))?;
        self.rest = rest;
        Ok(taken)
    }

    fn number<const N: usize>(&mut self) -> Result<[u8; N], CwtError> {
        self.take(N as u64)?.try_into().map_err(|_| malformed("unexpected end of input"))
    }

    fn head(&mut self) -> Result<Head, CwtError> {
        let [initial] = self.number::<1>()?;
        let (major, info) = (initial >> 5, initial & 0x1f);
        if major == 7 {
            return Ok(match info {
                0..=23 => Head::Simple(info),
                24 => Head::Simple(self.number::<1>()?[0]),
                25 => Head::Float(half(u16::from_be_bytes(self.number()?))),
                26 => Head::Float(f64::from(f32::from_be_bytes(self.number()?))),
                27 => Head::Float(f64::from_be_bytes(self.number()?)),
                31 => Head::Break,
                _ => return Err(malformed("reserved simple value")),
            });
        }
        let argument = match info {
            0..=23 => Some(u64::from(info)),
            24 => Some(u64::from(self.number::<1>()?[0])),
            25 => Some(u64::from(u16::from_be_bytes(self.number()?))),
            26 => Some(u64::from(u32::from_be_bytes(self.number()?))),
            27 => Some(u64::from_be_bytes(self.number()?)),
            31 => None,
            _ => return Err(malformed("reserved additional information")),
        };
        let definite =
            |argument: Option<u64>| argument.ok_or_else(|| malformed("indefinite length on a number or tag"));
        Ok(match major {
            0 => Head::Unsigned(definite(argument)?),
            1 => Head::Negative(definite(argument)?),
            2 => Head::Bytes(argument),
            3 => Head::Text(argument),
            4 => Head::Array(argument),
            5 => Head::Map(argument),
            _ => {
                definite(argument)?;
                Head::Tag
            }
        })
    }

    /// Whether another element (or map entry) follows: counted off `remaining` for a
    /// definite length, or up to the break that ends an indefinite one.
    fn more(&mut self, remaining: &mut Option<u64>) -> Result<bool, CwtError> {
        match remaining {
            Some(0) => Ok(false),
            Some(n) => {
                *n -= 1;
                Ok(true)
            }
            None if self.rest.first() == Some(&0xff) => {
                self.rest = self.rest.get(1..).unwrap_or_default();
                Ok(false)
            }
            None => Ok(true),
        }
    }

    /// The content of a byte or text string, chunk by chunk when of indefinite length.
    fn string(&mut self, length: Option<u64>, text: bool) -> Result<Vec<u8>, CwtError> {
        let Some(length) = length else {
            let mut joined = Vec::new();
            loop {
                match self.head()? {
                    Head::Break => return Ok(joined),
                    Head::Text(Some(length)) if text => joined.extend_from_slice(self.take(length)?),
                    Head::Bytes(Some(length)) if !text => joined.extend_from_slice(self.take(length)?),
                    _ => return Err(malformed("a chunk of an indefinite string is not a definite string of its kind")),
                }
            }
        };
        Ok(self.take(length)?.to_vec())
    }

    fn text(&mut self, length: Option<u64>) -> Result<String, CwtError> {
        String::from_utf8(self.string(length, true)?).map_err(|_| malformed("text is not UTF-8"))
    }

    /// Reads one item as JSON: tags are looked through (a date under tag 0 or 1004 is
    /// still its text) and map keys must be text.
    fn json(&mut self, depth: usize) -> Result<Json, CwtError> {
        if depth > MAX_DEPTH {
            return Err(malformed("nested too deeply"));
        }
        Ok(match self.head()? {
            Head::Unsigned(n) => Json::from(n),
            Head::Negative(n) => {
                Json::from(i64::try_from(n).map(|n| -1 - n).map_err(|_| CwtError::NotJson("integer out of range"))?)
            }
            Head::Text(length) => Json::String(self.text(length)?),
            Head::Float(float) => {
                serde_json::Number::from_f64(float).map(Json::Number).ok_or(CwtError::NotJson("non-finite number"))?
            }
            Head::Simple(20) => Json::Bool(false),
            Head::Simple(21) => Json::Bool(true),
            Head::Simple(22) => Json::Null,
            Head::Tag => self.json(depth + 1)?,
            Head::Array(mut remaining) => {
                let mut items = Vec::new();
                while self.more(&mut remaining)? {
                    items.push(self.json(depth + 1)?);
                }
                Json::Array(items)
            }
            Head::Map(mut remaining) => {
                let mut object = serde_json::Map::new();
                while self.more(&mut remaining)? {
                    let Head::Text(length) = self.head()? else {
                        return Err(CwtError::NotJson("map key is not text"));
                    };
                    let key = self.text(length)?;
                    object.insert(key, self.json(depth + 1)?);
                }
                Json::Object(object)
            }
            Head::Bytes(_) => return Err(CwtError::NotJson("byte string")),
            Head::Simple(_) => return Err(CwtError::NotJson("unsupported CBOR item")),
            Head::Break => return Err(malformed("unexpected break")),
        })
    }

    /// Skips one item.
    fn skip(&mut self, depth: usize) -> Result<(), CwtError> {
        let head = self.head()?;
        self.skip_rest(head, depth)
    }

    /// Skips what follows an item's head.
    fn skip_rest(&mut self, head: Head, depth: usize) -> Result<(), CwtError> {
        if depth > MAX_DEPTH {
            return Err(malformed("nested too deeply"));
        }
        match head {
            Head::Bytes(length) => drop(self.string(length, false)?),
            Head::Text(length) => drop(self.text(length)?),
            Head::Tag => self.skip(depth + 1)?,
            Head::Array(mut remaining) => {
                while self.more(&mut remaining)? {
                    self.skip(depth + 1)?;
                }
            }
            Head::Map(mut remaining) => {
                while self.more(&mut remaining)? {
                    self.skip(depth + 1)?;
                    self.skip(depth + 1)?;
                }
            }
            Head::Break => return Err(malformed("unexpected break")),
            Head::Unsigned(_) | Head::Negative(_) | Head::Simple(_) | Head::Float(_) => {}
        }
        Ok(())
    }
}

/// An IEEE 754 half-precision float (RFC 8949 Appendix D).
fn half(bits: u16) -> f64 {
    let exponent = i32::from((bits >> 10) & 0x1f);
    let mantissa = f64::from(bits & 0x3ff);
    let magnitude = match exponent {
        0 => mantissa * 2_f64.powi(-24),
        31 if mantissa == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => (mantissa + 1024.0) * 2_f64.powi(exponent - 25),
    };
    if bits & 0x8000 != 0 { -magnitude } else { magnitude }
}

/// Converts JSON into CBOR: whole numbers become integers, others floats.
pub fn json_to_cbor(value: &serde_json::Value) -> Value {
    use serde_json::Value as Json;
    match value {
        Json::Null => Value::Null,
        Json::Bool(flag) => Value::Bool(*flag),
        Json::String(text) => Value::Text(text.clone()),
        Json::Number(number) => {
            if let Some(signed) = number.as_i64() {
                Value::from(signed)
            } else if let Some(unsigned) = number.as_u64() {
                Value::from(unsigned)
            } else {
                Value::Float(number.as_f64().unwrap_or(f64::NAN))
            }
        }
        Json::Array(items) => Value::Array(items.iter().map(json_to_cbor).collect()),
        Json::Object(object) => {
            Value::Map(object.iter().map(|(key, item)| (Value::Text(key.clone()), json_to_cbor(item))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cbor(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(value, &mut out).unwrap();
        out
    }

    #[test]
    fn round_trips_claims() {
        let claims = CwtClaims {
            issuer: Some("VN".into()),
            issued_at: Some(1_620_000_000),
            expires_at: Some(1_650_000_000),
            hcert: json!({"ver": "1.3.0", "v": [{"dn": 2, "x": 1.5, "neg": -3}], "n": null, "b": true}),
        };
        assert_eq!(CwtClaims::from_slice(&cbor(&claims.to_value())).unwrap(), claims);
    }

    #[test]
    fn reads_float_dates_and_tagged_strings() {
        let value = Value::Map(vec![
            (Value::from(6), Value::Float(1_620_000_000.75)),
            (
                Value::from("private"),
                Value::Array(vec![Value::Bytes(vec![1, 2]), Value::Tag(7, Box::new(Value::Null))]),
            ),
            (
                Value::from(-260),
                Value::Map(vec![(
                    Value::from(1),
                    Value::Map(vec![(Value::from("sc"), Value::Tag(0, Box::new(Value::from("2021-05-03T10:00:00Z"))))]),
                )]),
            ),
        ]);
        let claims = CwtClaims::from_slice(&cbor(&value)).unwrap();
        assert_eq!(claims.issued_at, Some(1_620_000_000));
        assert_eq!(claims.expires_at, None);
        assert_eq!(claims.hcert, json!({"sc": "2021-05-03T10:00:00Z"}));
    }

    #[test]
    fn reads_every_json_like_item_as_ciborium_writes_it() {
        let value = Value::Map(vec![
            (Value::from("small"), Value::from(23)),
            (Value::from("large"), Value::from(u64::MAX)),
            (Value::from("negative"), Value::from(-1_000_000_i64)),
            (Value::from("lowest"), Value::from(i64::MIN)),
            (Value::from("float"), Value::Float(-2.5)),
            (Value::from("list"), Value::Array(vec![Value::Bool(true), Value::Bool(false), Value::Null])),
            (Value::from("name"), Value::from("Nguyễn Văn An")),
        ]);
        assert_eq!(
            json_from_cbor(&cbor(&value)).unwrap(),
            json!({"small": 23, "large": u64::MAX, "negative": -1_000_000, "lowest": i64::MIN, "float": -2.5,
                   "list": [true, false, null], "name": "Nguyễn Văn An"})
        );
    }

    #[test]
    fn reads_indefinite_lengths_and_half_floats() {
        // {_ "a": [_ 1, 2], "b": (_ "x", "y"), "c": 1.5 as a half float}
        let bytes = [
            0xbf, 0x61, b'a', 0x9f, 0x01, 0x02, 0xff, 0x61, b'b', 0x7f, 0x61, b'x', 0x61, b'y', 0xff, 0x61, b'c', 0xf9,
            0x3e, 0x00, 0xff,
        ];
        assert_eq!(json_from_cbor(&bytes).unwrap(), json!({"a": [1, 2], "b": "xy", "c": 1.5}));
        assert_eq!(half(0x7bff), 65504.0);
        assert_eq!(half(0x0001), 2_f64.powi(-24));
        assert_eq!(half(0xc400), -4.0);
        assert!(half(0x7e00).is_nan());
    }

    #[test]
    fn rejects_bad_claims() {
        assert_eq!(CwtClaims::from_slice(&cbor(&Value::Array(vec![]))), Err(CwtError::NotAMap));
        assert_eq!(CwtClaims::from_slice(&cbor(&Value::Map(vec![]))), Err(CwtError::MissingHcert));
        let text_exp = Value::Map(vec![(Value::from(4), Value::from("soon"))]);
        assert!(matches!(CwtClaims::from_slice(&cbor(&text_exp)), Err(CwtError::InvalidClaim { claim: "exp", .. })));
        let no_eu_dcc = Value::Map(vec![(Value::from(-260), Value::Map(vec![(Value::from(2), Value::Null)]))]);
        assert_eq!(CwtClaims::from_slice(&cbor(&no_eu_dcc)), Err(CwtError::MissingHcert));
        let int_keys = Value::Map(vec![(Value::from(1), Value::from(2))]);
        assert_eq!(json_from_cbor(&cbor(&int_keys)), Err(CwtError::NotJson("map key is not text")));
        assert_eq!(json_from_cbor(&cbor(&Value::Bytes(vec![1]))), Err(CwtError::NotJson("byte string")));
        assert_eq!(json_from_cbor(&cbor(&Value::Float(f64::NAN))), Err(CwtError::NotJson("non-finite number")));
        assert!(CwtClaims::from_slice(&[0xbf]).is_err(), "an indefinite map that never ends");
        assert!(json_from_cbor(&[0x62, 0xff, 0xfe]).is_err(), "text that is not UTF-8");
        assert!(json_from_cbor(&[0x1c]).is_err(), "reserved additional information");
        assert!(
            json_from_cbor(&[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err(),
            "a length beyond the input"
        );
        assert!(json_from_cbor(&[0x81; 200]).is_err(), "nested too deeply");
    }
}
