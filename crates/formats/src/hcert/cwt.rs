//! CBOR Web Token claims (RFC 8392) of a certificate, and the CBOR ↔ JSON mapping of the
//! health certificate inside them.
//!
//! HCERT uses four claims: `iss` (1, the issuing country), `exp` (4), `iat` (6) and `hcert`
//! (-260), a map whose key 1 holds the EU health certificate. The certificate is defined
//! as JSON (and validated against a JSON schema) but travels as CBOR, so it is converted.

use ciborium::Value;

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
    /// Decodes the claims from a COSE payload.
    pub fn from_slice(payload: &[u8]) -> Result<Self, CwtError> {
        let value: Value = ciborium::from_reader(payload).map_err(|error| CwtError::Cbor(error.to_string()))?;
        Self::from_value(&value)
    }

    /// Reads the claims from decoded CBOR.
    pub fn from_value(value: &Value) -> Result<Self, CwtError> {
        let claims = value.as_map().ok_or(CwtError::NotAMap)?;
        let mut result = Self { issuer: None, issued_at: None, expires_at: None, hcert: serde_json::Value::Null };
        let mut found_hcert = false;
        for (key, claim) in claims {
            let Some(key) = key.as_integer().map(i128::from) else {
                continue; // text keys are private claims
            };
            match key {
                CLAIM_ISS => {
                    let issuer = claim
                        .as_text()
                        .ok_or(CwtError::InvalidClaim { claim: "iss", reason: "must be a text string" })?;
                    result.issuer = Some(issuer.to_owned());
                }
                CLAIM_EXP => result.expires_at = Some(numeric_date(claim, "exp")?),
                CLAIM_IAT => result.issued_at = Some(numeric_date(claim, "iat")?),
                CLAIM_HCERT => {
                    let container =
                        claim.as_map().ok_or(CwtError::InvalidClaim { claim: "hcert", reason: "must be a map" })?;
                    let certificate = container
                        .iter()
                        .find(|(key, _)| key.as_integer().map(i128::from) == Some(HCERT_EU_DCC_V1))
                        .map(|(_, certificate)| certificate)
                        .ok_or(CwtError::MissingHcert)?;
                    result.hcert = cbor_to_json(certificate)?;
                    found_hcert = true;
                }
                _ => {}
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
fn numeric_date(value: &Value, claim: &'static str) -> Result<i64, CwtError> {
    let reason = "must be a number of seconds";
    match value {
        Value::Integer(seconds) => i64::try_from(*seconds).map_err(|_| CwtError::InvalidClaim { claim, reason }),
        // `as` saturates; the range check refuses NaN and values beyond i64.
        Value::Float(seconds) if seconds.is_finite() && seconds.abs() < 9.2e18 => Ok(seconds.floor() as i64),
        _ => Err(CwtError::InvalidClaim { claim, reason }),
    }
}

/// Converts the CBOR of a health certificate into JSON. Tags are looked through (a date
/// under tag 0 or 1004 is still its text) and map keys must be text.
pub fn cbor_to_json(value: &Value) -> Result<serde_json::Value, CwtError> {
    use serde_json::Value as Json;
    Ok(match value {
        Value::Null => Json::Null,
        Value::Bool(flag) => Json::Bool(*flag),
        Value::Text(text) => Json::String(text.clone()),
        Value::Integer(integer) => {
            let integer = i128::from(*integer);
            if let Ok(signed) = i64::try_from(integer) {
                Json::from(signed)
            } else {
                Json::from(u64::try_from(integer).map_err(|_| CwtError::NotJson("integer out of range"))?)
            }
        }
        Value::Float(float) => {
            serde_json::Number::from_f64(*float).map(Json::Number).ok_or(CwtError::NotJson("non-finite number"))?
        }
        Value::Tag(_, inner) => cbor_to_json(inner)?,
        Value::Array(items) => Json::Array(items.iter().map(cbor_to_json).collect::<Result<_, _>>()?),
        Value::Map(entries) => {
            let mut object = serde_json::Map::with_capacity(entries.len());
            for (key, item) in entries {
                let key = key.as_text().ok_or(CwtError::NotJson("map key is not text"))?;
                object.insert(key.to_owned(), cbor_to_json(item)?);
            }
            Json::Object(object)
        }
        Value::Bytes(_) => return Err(CwtError::NotJson("byte string")),
        _ => return Err(CwtError::NotJson("unsupported CBOR item")),
    })
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
                Value::from(-260),
                Value::Map(vec![(
                    Value::from(1),
                    Value::Map(vec![(Value::from("sc"), Value::Tag(0, Box::new(Value::from("2021-05-03T10:00:00Z"))))]),
                )]),
            ),
        ]);
        let claims = CwtClaims::from_value(&value).unwrap();
        assert_eq!(claims.issued_at, Some(1_620_000_000));
        assert_eq!(claims.expires_at, None);
        assert_eq!(claims.hcert, json!({"sc": "2021-05-03T10:00:00Z"}));
    }

    #[test]
    fn rejects_bad_claims() {
        assert_eq!(CwtClaims::from_value(&Value::Array(vec![])), Err(CwtError::NotAMap));
        assert_eq!(CwtClaims::from_value(&Value::Map(vec![])), Err(CwtError::MissingHcert));
        let text_exp = Value::Map(vec![(Value::from(4), Value::from("soon"))]);
        assert!(matches!(CwtClaims::from_value(&text_exp), Err(CwtError::InvalidClaim { claim: "exp", .. })));
        let no_eu_dcc = Value::Map(vec![(Value::from(-260), Value::Map(vec![(Value::from(2), Value::Null)]))]);
        assert_eq!(CwtClaims::from_value(&no_eu_dcc), Err(CwtError::MissingHcert));
        let int_keys = Value::Map(vec![(Value::from(1), Value::from(2))]);
        assert_eq!(cbor_to_json(&int_keys), Err(CwtError::NotJson("map key is not text")));
        assert!(CwtClaims::from_slice(&[0xbf]).is_err());
    }
}
