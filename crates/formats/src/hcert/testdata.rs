//! The eHealth Network's HCERT test cases (`dgc-testdata`): run the steps a case has
//! expectations for and compare.
//!
//! A case is one JSON file with the certificate at several stages (`PREFIX`, `BASE45`,
//! `COMPRESSED`, `COSE`, `CBOR`, `JSON`), a context (`TESTCTX`: signer certificate,
//! validation clock) and `EXPECTEDRESULTS`, a boolean per step. Each step starts from its
//! own stage when the case gives it, and otherwise from the stage the previous steps
//! produce out of `PREFIX`; where the case gives the stage a step should produce, the
//! output must equal it. This module only interprets a case already read; reading files is
//! the caller's business.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;

use super::{
    Decoded, SignerCertificate, base45, check_expiry, cwt, decode_cose, prefix, schema, verify_with_certificate, zlib,
};

/// A step of the test procedure, named after its key in `EXPECTEDRESULTS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// `PREFIX` has the `HC1:` prefix, and without it equals `BASE45`.
    Unprefix,
    /// `BASE45` decodes, to `COMPRESSED` when given.
    Base45Decode,
    /// `COMPRESSED` inflates, to `COSE` when given.
    Compression,
    /// `COSE` decodes to claims whose health certificate equals `CBOR` and `JSON` when given.
    Decode,
    /// `COSE` verifies with `TESTCTX.CERTIFICATE`, `kid` included.
    Verify,
    /// The certificate is valid at `TESTCTX.VALIDATIONCLOCK`.
    ExpirationCheck,
    /// The health certificate matches the schema of its `ver`.
    SchemaValidation,
}

impl Step {
    /// Every step, in the order of the procedure.
    pub const ALL: [Self; 7] = [
        Self::Unprefix,
        Self::Base45Decode,
        Self::Compression,
        Self::Decode,
        Self::Verify,
        Self::ExpirationCheck,
        Self::SchemaValidation,
    ];

    /// The step's key in `EXPECTEDRESULTS`.
    pub fn key(self) -> &'static str {
        match self {
            Self::Unprefix => "EXPECTEDUNPREFIX",
            Self::Base45Decode => "EXPECTEDB45DECODE",
            Self::Compression => "EXPECTEDCOMPRESSION",
            Self::Decode => "EXPECTEDDECODE",
            Self::Verify => "EXPECTEDVERIFY",
            Self::ExpirationCheck => "EXPECTEDEXPIRATIONCHECK",
            Self::SchemaValidation => "EXPECTEDSCHEMAVALIDATION",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.key())
    }
}

/// Keys that some files misspell, with the step they stand for. `EXPTECTEDEXPIRED` (the
/// Bulgarian cases) is `EXPECTEDEXPIRATIONCHECK` misspelt, with the same meaning: the cases
/// are valid certificates whose expiry lies after their validation clock.
const MISSPELT_KEYS: [(&str, Step); 1] = [("EXPTECTEDEXPIRED", Step::ExpirationCheck)];

/// The result of one step of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepOutcome {
    /// The step.
    pub step: Step,
    /// Whether the case expects the step to succeed.
    pub expected: bool,
    /// Whether it succeeded.
    pub got: bool,
    /// Why it failed, when it did.
    pub detail: Option<String>,
}

impl StepOutcome {
    /// Whether the outcome is the expected one.
    pub fn matches(&self) -> bool {
        self.expected == self.got
    }
}

/// Reads a case file's text (some files start with a byte-order mark).
pub fn parse_case(text: &str) -> Result<Value, serde_json::Error> {
    serde_json::from_str(text.trim_start_matches('\u{feff}'))
}

/// The expectations of a case, one per step at most, in the order of the procedure.
pub fn expectations(case: &Value) -> Vec<(Step, bool)> {
    let Some(expected) = case.get("EXPECTEDRESULTS").and_then(Value::as_object) else {
        return Vec::new();
    };
    Step::ALL
        .iter()
        .filter_map(|&step| {
            if let Some(value) = expected.get(step.key()).and_then(Value::as_bool) {
                return Some((step, value));
            }
            MISSPELT_KEYS.iter().find_map(|&(key, meant)| {
                let value = expected.get(key).and_then(Value::as_bool)?;
                (meant == step).then_some((step, value))
            })
        })
        .collect()
}

/// Runs every step the case has an expectation for.
pub fn check_case(case: &Value) -> Vec<StepOutcome> {
    expectations(case)
        .into_iter()
        .map(|(step, expected)| {
            let result = run_step(case, step);
            StepOutcome { step, expected, got: result.is_ok(), detail: result.err() }
        })
        .collect()
}

/// Runs one step of a case; the error says why it failed.
pub fn run_step(case: &Value, step: Step) -> Result<(), String> {
    let case = Case(case);
    match step {
        Step::Unprefix => {
            let stripped = prefix::strip(case.text("PREFIX")?).map_err(|e| e.to_string())?;
            match case.optional_text("BASE45") {
                Some(base45) if base45 != stripped => Err("differs from BASE45".into()),
                _ => Ok(()),
            }
        }
        Step::Base45Decode => {
            let compressed = base45::decode(&case.base45()?).map_err(|e| e.to_string())?;
            same_bytes(&compressed, case.optional_hex("COMPRESSED")?, "COMPRESSED")
        }
        Step::Compression => {
            let cose = zlib::inflate(&case.compressed()?).map_err(|e| e.to_string())?;
            same_bytes(&cose, case.optional_hex("COSE")?, "COSE")
        }
        Step::Decode => {
            let decoded = case.decoded()?;
            if let Some(cbor) = case.optional_hex("CBOR")? {
                let expected = hcert_from_cbor(&cbor).map_err(|e| format!("CBOR field: {e}"))?;
                if !same_json(&decoded.claims.hcert, &expected) {
                    return Err("health certificate differs from CBOR".into());
                }
            }
            match case.0.get("JSON") {
                Some(json) if !same_json(&decoded.claims.hcert, json) => {
                    Err("health certificate differs from JSON".into())
                }
                _ => Ok(()),
            }
        }
        Step::Verify => {
            let cose = super::CoseSign1::from_slice(&case.cose()?).map_err(|e| format!("cose: {e}"))?;
            let signer = case.signer()?.ok_or("no TESTCTX.CERTIFICATE")?;
            verify_with_certificate(&cose, &signer).map_err(|e| e.to_string())
        }
        Step::ExpirationCheck => {
            let decoded = case.decoded()?;
            let signer = case.signer()?;
            let now = case.clock()?;
            check_expiry(&decoded.claims, signer.as_ref().map(|s| &s.validity), now).map_err(|e| e.to_string())
        }
        Step::SchemaValidation => {
            let hcert = match (case.0.get("JSON"), case.optional_hex("CBOR")?) {
                (Some(json), _) => json.clone(),
                (None, Some(cbor)) => hcert_from_cbor(&cbor).map_err(|e| format!("CBOR field: {e}"))?,
                (None, None) => case.decoded()?.claims.hcert,
            };
            schema::validate(&hcert).map_err(|e| e.to_string())
        }
    }
}

/// A test case, with each stage taken from the case or derived from the stage before.
struct Case<'a>(&'a Value);

impl Case<'_> {
    fn optional_text(&self, field: &str) -> Option<&str> {
        self.0.get(field).and_then(Value::as_str)
    }

    fn text(&self, field: &str) -> Result<&str, String> {
        self.optional_text(field).ok_or_else(|| format!("no {field}"))
    }

    fn optional_hex(&self, field: &str) -> Result<Option<Vec<u8>>, String> {
        self.optional_text(field).map(|text| hex(text).map_err(|e| format!("{field} field: {e}"))).transpose()
    }

    fn base45(&self) -> Result<String, String> {
        match self.optional_text("BASE45") {
            Some(base45) => Ok(base45.to_owned()),
            None => prefix::strip(self.text("PREFIX")?).map(str::to_owned).map_err(|e| format!("prefix: {e}")),
        }
    }

    fn compressed(&self) -> Result<Vec<u8>, String> {
        match self.optional_hex("COMPRESSED")? {
            Some(compressed) => Ok(compressed),
            None => base45::decode(&self.base45()?).map_err(|e| format!("base45: {e}")),
        }
    }

    fn cose(&self) -> Result<Vec<u8>, String> {
        match self.optional_hex("COSE")? {
            Some(cose) => Ok(cose),
            None => zlib::inflate(&self.compressed()?).map_err(|e| format!("zlib: {e}")),
        }
    }

    fn decoded(&self) -> Result<Decoded, String> {
        decode_cose(&self.cose()?).map_err(|e| format!("decode: {e}"))
    }

    fn context(&self, field: &str) -> Option<&str> {
        self.0.get("TESTCTX").and_then(|context| context.get(field)).and_then(Value::as_str)
    }

    fn signer(&self) -> Result<Option<SignerCertificate>, String> {
        let Some(text) = self.context("CERTIFICATE") else {
            return Ok(None);
        };
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let der = BASE64.decode(compact).map_err(|e| format!("TESTCTX.CERTIFICATE: {e}"))?;
        SignerCertificate::from_der(&der).map(Some).map_err(|e| format!("TESTCTX.CERTIFICATE: {e}"))
    }

    /// The validation clock in seconds since the Unix epoch.
    fn clock(&self) -> Result<i64, String> {
        let text = self
            .context("VALIDATIONCLOCK")
            .or_else(|| self.context("validationClockInstant"))
            .ok_or("no TESTCTX.VALIDATIONCLOCK")?;
        parse_clock(text).ok_or_else(|| format!("TESTCTX.VALIDATIONCLOCK {text:?} is not a date-time"))
    }
}

/// Reads an ISO 8601 date-time: RFC 3339, or with an offset without colon (`+0000`), or
/// without offset (then UTC), as the files have all three.
fn parse_clock(text: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    let parse = |text: &str| time::OffsetDateTime::parse(text, &Rfc3339).ok();
    let without_colon = text
        .len()
        .checked_sub(5)
        .and_then(|split| Some((text.get(..split)?, text.get(split..)?)))
        .filter(|(_, offset)| {
            let offset = offset.as_bytes();
            matches!(offset.first(), Some(b'+' | b'-')) && offset.iter().skip(1).all(u8::is_ascii_digit)
        })
        .and_then(|(time, offset)| Some(format!("{time}{}:{}", offset.get(..3)?, offset.get(3..)?)));
    parse(text)
        .or_else(|| parse(&without_colon?))
        .or_else(|| parse(&format!("{text}Z")))
        .map(time::OffsetDateTime::unix_timestamp)
}

/// The `CBOR` field holds either the health certificate or the whole CWT.
fn hcert_from_cbor(bytes: &[u8]) -> Result<Value, String> {
    match cwt::CwtClaims::from_slice(bytes) {
        Ok(claims) => Ok(claims.hcert),
        // No claims around a certificate: the certificate itself.
        Err(cwt::CwtError::MissingHcert | cwt::CwtError::NotAMap) => {
            cwt::json_from_cbor(bytes).map_err(|e| e.to_string())
        }
        Err(e) => Err(e.to_string()),
    }
}

fn same_bytes(got: &[u8], expected: Option<Vec<u8>>, field: &str) -> Result<(), String> {
    match expected {
        Some(expected) if expected != got => Err(format!("differs from {field}")),
        _ => Ok(()),
    }
}

/// JSON equality where numbers compare by value (`1` equals `1.0`).
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(key, x)| y.get(key).is_some_and(|y| same_json(x, y)))
        }
        _ => a == b,
    }
}

fn hex(text: &str) -> Result<Vec<u8>, String> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return Err("odd number of hex digits".into());
    }
    digits
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| "not hex".to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_files_with_a_byte_order_mark() {
        assert_eq!(parse_case("\u{feff}{\"PREFIX\": \"HC1:\"}").unwrap(), json!({"PREFIX": "HC1:"}));
    }

    #[test]
    fn reads_expectations_including_misspelt_keys() {
        let case = json!({"EXPECTEDRESULTS": {
            "EXPECTEDVERIFY": true, "EXPTECTEDEXPIRED": true, "EXPECTEDKEYUSAGE": false
        }});
        assert_eq!(expectations(&case), [(Step::Verify, true), (Step::ExpirationCheck, true)]);
        let both = json!({"EXPECTEDRESULTS": {"EXPECTEDEXPIRATIONCHECK": false, "EXPTECTEDEXPIRED": true}});
        assert_eq!(expectations(&both), [(Step::ExpirationCheck, false)]);
        assert!(expectations(&json!({})).is_empty());
    }

    #[test]
    fn checks_the_stages_a_case_gives() {
        let case = json!({
            "PREFIX": "HC1:BB8",
            "BASE45": "BB8",
            "COMPRESSED": "4142",
            "EXPECTEDRESULTS": {"EXPECTEDUNPREFIX": true, "EXPECTEDB45DECODE": true, "EXPECTEDCOMPRESSION": false}
        });
        let outcomes = check_case(&case);
        assert_eq!(outcomes.len(), 3);
        assert!(outcomes.iter().all(StepOutcome::matches), "{outcomes:?}");
        let wrong = json!({"PREFIX": "HC1:BB8", "BASE45": "BB9", "EXPECTEDRESULTS": {"EXPECTEDUNPREFIX": true}});
        assert_eq!(check_case(&wrong)[0].detail.as_deref(), Some("differs from BASE45"));
    }

    #[test]
    fn reads_the_clock_formats_of_the_files() {
        assert_eq!(parse_clock("2021-05-03T18:00:00Z"), Some(1_620_064_800));
        assert_eq!(parse_clock("2021-05-03T20:00:00+02:00"), Some(1_620_064_800));
        assert_eq!(parse_clock("2021-05-03T18:00:00+0000"), Some(1_620_064_800));
        assert_eq!(parse_clock("2021-05-03T18:00:00"), Some(1_620_064_800));
        assert_eq!(parse_clock("2021-05-03T18:00:00.9906293Z"), Some(1_620_064_800));
        assert_eq!(parse_clock("yesterday"), None);
    }

    #[test]
    fn compares_json_numbers_by_value() {
        assert!(same_json(&json!({"a": [1, "x"]}), &json!({"a": [1.0, "x"]})));
        assert!(!same_json(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert_eq!(hex("00ff").unwrap(), [0, 255]);
        assert!(hex("0").is_err() && hex("zz").is_err());
    }
}
