//! Validation of a health certificate against the JSON schema of its version (`ver`).
//!
//! The eHealth Network's combined schemas for versions 1.0.0 to 1.3.3 are embedded (from
//! `ehn-dcc-development/ehn-dcc-schema`, Apache-2.0). They use a small part of JSON Schema
//! 2020-12, which is implemented here rather than pulling in a general validator and its
//! dependency tree: `type`, `enum`, `const`, `required`, `properties`,
//! `additionalProperties`, `items`, `minItems`/`maxItems`, `minLength`/`maxLength`,
//! `minimum`/`maximum` (and the exclusive forms), `pattern`, `format` (`date`,
//! `date-time`), local `$ref`, `allOf`/`anyOf`/`oneOf`/`not`. Other keywords are
//! annotations (`title`, `description`, `valueset-uri`, ...) and are ignored. Formats are
//! asserted: a `date` must be a calendar date, not a date-time.
//!
//! One rule is added to every version: a certificate holds exactly one kind of statement,
//! vaccination (`v`), test (`t`) or recovery (`r`). The eHealth Network's specifications
//! always said so; the schemas encode it (with `oneOf`) only from 1.3.0.

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use serde_json::Value;

/// The embedded schemas by version.
const SCHEMAS: [(&str, &str); 9] = [
    ("1.0.0", include_str!("schema/1.0.0/DGC.combined-schema.json")),
    ("1.0.1", include_str!("schema/1.0.1/DGC.combined-schema.json")),
    ("1.1.0", include_str!("schema/1.1.0/DGC.combined-schema.json")),
    ("1.2.0", include_str!("schema/1.2.0/DGC.combined-schema.json")),
    ("1.2.1", include_str!("schema/1.2.1/DCC.combined-schema.json")),
    ("1.3.0", include_str!("schema/1.3.0/DCC.combined-schema.json")),
    ("1.3.1", include_str!("schema/1.3.1/DCC.combined-schema.json")),
    ("1.3.2", include_str!("schema/1.3.2/DCC.combined-schema.json")),
    ("1.3.3", include_str!("schema/1.3.3/DCC.combined-schema.json")),
];

/// Deepest nesting of subschemas followed, a guard against `$ref` cycles.
const MAX_DEPTH: usize = 64;

/// The schemas, parsed and with their patterns compiled, on first use.
static COMPILED: LazyLock<Vec<(&'static str, Result<Schema, String>)>> =
    LazyLock::new(|| SCHEMAS.iter().map(|(version, text)| (*version, Schema::compile(text))).collect());

/// The schema versions known.
pub fn versions() -> impl Iterator<Item = &'static str> {
    SCHEMAS.iter().map(|(version, _)| *version)
}

/// One way in which a certificate breaks its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Where, as a JSON pointer into the certificate (`""` for the whole of it).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() { "/" } else { &self.path };
        write!(f, "{path}: {}", self.message)
    }
}

/// Why a certificate is not valid against its schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// The certificate has no `ver` text.
    #[error("the certificate has no schema version (ver)")]
    MissingVersion,
    /// No schema of that version is known.
    #[error("unknown schema version {0:?}")]
    UnknownVersion(String),
    /// An embedded schema could not be loaded (a build defect; the tests rule it out).
    #[error("embedded schema {version} is unusable: {reason}")]
    BrokenSchema {
        /// The schema's version.
        version: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The certificate breaks the schema.
    #[error("certificate does not match schema {version}: {}", list(.violations))]
    Invalid {
        /// The schema's version.
        version: String,
        /// Every violation found.
        violations: Vec<Violation>,
    },
}

fn list(violations: &[Violation]) -> String {
    violations.iter().map(Violation::to_string).collect::<Vec<_>>().join("; ")
}

/// Validates a certificate against the schema of the version it names in `ver`.
pub fn validate(hcert: &Value) -> Result<(), SchemaError> {
    let version = hcert.get("ver").and_then(Value::as_str).ok_or(SchemaError::MissingVersion)?;
    validate_version(hcert, version)
}

/// Validates a certificate against the schema of a given version, and the rule that it
/// holds exactly one kind of statement.
pub fn validate_version(hcert: &Value, version: &str) -> Result<(), SchemaError> {
    let (_, schema) = COMPILED
        .iter()
        .find(|(known, _)| *known == version)
        .ok_or_else(|| SchemaError::UnknownVersion(version.to_owned()))?;
    let schema = schema
        .as_ref()
        .map_err(|reason| SchemaError::BrokenSchema { version: version.to_owned(), reason: reason.clone() })?;
    let mut violations = Vec::new();
    schema.check(&schema.root, hcert, &mut String::new(), 0, &mut violations);
    if let Some(object) = hcert.as_object() {
        let kinds: Vec<&str> =
            ["v", "t", "r"].into_iter().filter(|kind| object.get(*kind).is_some_and(|v| !v.is_null())).collect();
        if kinds.len() != 1 {
            let message =
                format!("holds {} kinds of statement ({}), not exactly one of v, t, r", kinds.len(), kinds.join(", "));
            violations.push(Violation { path: String::new(), message });
        }
    }
    if violations.is_empty() { Ok(()) } else { Err(SchemaError::Invalid { version: version.to_owned(), violations }) }
}

/// A parsed schema with its patterns compiled.
struct Schema {
    root: Value,
    patterns: HashMap<String, regex_lite::Regex>,
}

impl Schema {
    fn compile(text: &str) -> Result<Self, String> {
        let root: Value = serde_json::from_str(text).map_err(|error| error.to_string())?;
        let mut patterns = HashMap::new();
        collect_patterns(&root, &mut patterns)?;
        Ok(Self { root, patterns })
    }

    /// Checks `instance` (at JSON pointer `path`) against `schema`, adding what is wrong.
    fn check(&self, schema: &Value, instance: &Value, path: &mut String, depth: usize, out: &mut Vec<Violation>) {
        let mut fail = |message: String| out.push(Violation { path: path.clone(), message });
        let schema = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => return fail("nothing is allowed here".into()),
            Value::Object(schema) => schema,
            _ => return fail("the schema is not an object".into()),
        };
        if depth > MAX_DEPTH {
            return fail("schema nesting too deep".into());
        }
        for (keyword, argument) in schema {
            match keyword.as_str() {
                "$ref" => match argument.as_str().and_then(|r| r.strip_prefix('#')) {
                    Some(pointer) => match self.root.pointer(pointer) {
                        Some(target) => self.check(target, instance, path, depth + 1, out),
                        None => out.push(violation(path, format!("unresolvable $ref {argument}"))),
                    },
                    None => out.push(violation(path, format!("unsupported $ref {argument}"))),
                },
                "type" => {
                    let allowed: Vec<&str> = match argument {
                        Value::String(one) => vec![one.as_str()],
                        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                        _ => Vec::new(),
                    };
                    if !allowed.iter().any(|name| has_type(instance, name)) {
                        out.push(violation(path, format!("expected {}", allowed.join(" or "))));
                    }
                }
                "enum" => {
                    let options = argument.as_array().map(Vec::as_slice).unwrap_or_default();
                    if !options.contains(instance) {
                        out.push(violation(path, format!("{instance} is not one of {argument}")));
                    }
                }
                "const" if argument != instance => {
                    out.push(violation(path, format!("{instance} is not {argument}")));
                }
                "required" => {
                    if let Some(object) = instance.as_object() {
                        for name in argument.as_array().into_iter().flatten().filter_map(Value::as_str) {
                            if !object.contains_key(name) {
                                out.push(violation(path, format!("missing required property {name:?}")));
                            }
                        }
                    }
                }
                "properties" => {
                    if let (Some(object), Some(properties)) = (instance.as_object(), argument.as_object()) {
                        for (name, value) in object {
                            if let Some(subschema) = properties.get(name) {
                                self.check_child(subschema, value, path, name, depth, out);
                            }
                        }
                    }
                }
                "additionalProperties" => {
                    if let Some(object) = instance.as_object() {
                        let declared = schema.get("properties").and_then(Value::as_object);
                        for (name, value) in object {
                            if !declared.is_some_and(|declared| declared.contains_key(name)) {
                                self.check_child(argument, value, path, name, depth, out);
                            }
                        }
                    }
                }
                "items" => {
                    if let Some(items) = instance.as_array() {
                        for (index, item) in items.iter().enumerate() {
                            self.check_child(argument, item, path, &index.to_string(), depth, out);
                        }
                    }
                }
                "minItems" | "maxItems" => {
                    if let (Some(items), Some(bound)) = (instance.as_array(), argument.as_u64()) {
                        let count = items.len() as u64;
                        if keyword == "minItems" && count < bound {
                            out.push(violation(path, format!("{count} items, fewer than {bound}")));
                        } else if keyword == "maxItems" && count > bound {
                            out.push(violation(path, format!("{count} items, more than {bound}")));
                        }
                    }
                }
                "minLength" | "maxLength" => {
                    if let (Some(text), Some(bound)) = (instance.as_str(), argument.as_u64()) {
                        // JSON Schema counts characters (code points), not bytes.
                        let length = text.chars().count() as u64;
                        if keyword == "minLength" && length < bound {
                            out.push(violation(path, format!("{length} characters, fewer than {bound}")));
                        } else if keyword == "maxLength" && length > bound {
                            out.push(violation(path, format!("{length} characters, more than {bound}")));
                        }
                    }
                }
                "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" => {
                    if let (Some(number), Some(bound)) = (instance.as_f64(), argument.as_f64()) {
                        let within = match keyword.as_str() {
                            "minimum" => number >= bound,
                            "maximum" => number <= bound,
                            "exclusiveMinimum" => number > bound,
                            _ => number < bound,
                        };
                        if !within {
                            out.push(violation(path, format!("{number} breaks {keyword} {bound}")));
                        }
                    }
                }
                "pattern" => {
                    if let (Some(text), Some(pattern)) = (instance.as_str(), argument.as_str()) {
                        // Patterns are unanchored (ECMA-262 semantics): a match anywhere counts.
                        if !self.patterns.get(pattern).is_some_and(|regex| regex.is_match(text)) {
                            out.push(violation(path, format!("{text:?} does not match {pattern:?}")));
                        }
                    }
                }
                "format" => {
                    if let (Some(text), Some(format)) = (instance.as_str(), argument.as_str()) {
                        let valid = match format {
                            "date" => is_full_date(text),
                            "date-time" => is_date_time(text),
                            _ => true, // other formats are annotations here
                        };
                        if !valid {
                            out.push(violation(path, format!("{text:?} is not a valid {format}")));
                        }
                    }
                }
                "allOf" | "anyOf" | "oneOf" => {
                    let branches = argument.as_array().map(Vec::as_slice).unwrap_or_default();
                    let mut passing = 0;
                    let mut branch_violations = Vec::new();
                    for branch in branches {
                        let mut own = Vec::new();
                        self.check(branch, instance, path, depth + 1, &mut own);
                        if own.is_empty() {
                            passing += 1;
                        }
                        branch_violations.extend(own);
                    }
                    match keyword.as_str() {
                        "allOf" => out.extend(branch_violations),
                        "anyOf" if passing == 0 => {
                            out.push(violation(path, format!("matches none of anyOf ({})", list(&branch_violations))))
                        }
                        "oneOf" if passing != 1 => {
                            out.push(violation(path, format!("matches {passing} of oneOf's branches, not exactly one")))
                        }
                        _ => {}
                    }
                }
                "not" => {
                    let mut own = Vec::new();
                    self.check(argument, instance, path, depth + 1, &mut own);
                    if own.is_empty() {
                        out.push(violation(path, "matches a schema it must not match".into()));
                    }
                }
                _ => {} // annotations
            }
        }
    }

    /// Checks a member or item, extending the JSON pointer for the violations found.
    fn check_child(
        &self,
        schema: &Value,
        instance: &Value,
        path: &mut String,
        segment: &str,
        depth: usize,
        out: &mut Vec<Violation>,
    ) {
        let length = path.len();
        path.push('/');
        path.push_str(&segment.replace('~', "~0").replace('/', "~1"));
        self.check(schema, instance, path, depth + 1, out);
        path.truncate(length);
    }
}

fn violation(path: &str, message: String) -> Violation {
    Violation { path: path.to_owned(), message }
}

/// Compiles every `pattern` of a schema.
fn collect_patterns(schema: &Value, patterns: &mut HashMap<String, regex_lite::Regex>) -> Result<(), String> {
    match schema {
        Value::Object(object) => {
            for (keyword, argument) in object {
                if let ("pattern", Value::String(pattern)) = (keyword.as_str(), argument) {
                    let regex =
                        regex_lite::Regex::new(pattern).map_err(|error| format!("pattern {pattern:?}: {error}"))?;
                    patterns.insert(pattern.clone(), regex);
                } else {
                    collect_patterns(argument, patterns)?;
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                collect_patterns(item, patterns)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Whether a value has a JSON Schema type. An integer is any number without a fraction.
fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => false,
    }
}

/// RFC 3339 `full-date`: `YYYY-MM-DD`, a real calendar day.
fn is_full_date(text: &str) -> bool {
    let shape = text.len() == 10
        && text.bytes().enumerate().all(|(index, byte)| match index {
            4 | 7 => byte == b'-',
            _ => byte.is_ascii_digit(),
        });
    let part = |range: std::ops::Range<usize>| text.get(range).and_then(|part| part.parse::<u32>().ok());
    let (Some(year), Some(month), Some(day)) = (part(0..4), part(5..7), part(8..10)) else {
        return false;
    };
    let Ok(month) = time::Month::try_from(u8::try_from(month).unwrap_or(0)) else {
        return false;
    };
    let (Ok(year), Ok(day)) = (i32::try_from(year), u8::try_from(day)) else {
        return false;
    };
    shape && time::Date::from_calendar_date(year, month, day).is_ok()
}

/// RFC 3339 `date-time`: a full date, `T`, a time and an offset (`Z` or `±HH:MM`).
fn is_date_time(text: &str) -> bool {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vaccination(ver: &str) -> Value {
        json!({
            "ver": ver,
            "nam": {"fn": "Nguyễn", "fnt": "NGUYEN", "gn": "Văn An", "gnt": "VAN<AN"},
            "dob": "1990-01-31",
            "v": [{
                "tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528",
                "ma": "ORG-100030215", "dn": 2, "sd": 2, "dt": "2021-09-01",
                "co": "VN", "is": "Bộ Y tế", "ci": "URN:UVCI:01:VN:ABC123#X"
            }]
        })
    }

    #[test]
    fn every_embedded_schema_loads_and_uses_only_supported_keywords() {
        const SUPPORTED: &[&str] = &[
            "$ref",
            "type",
            "enum",
            "const",
            "required",
            "properties",
            "additionalProperties",
            "items",
            "minItems",
            "maxItems",
            "minLength",
            "maxLength",
            "minimum",
            "maximum",
            "exclusiveMinimum",
            "exclusiveMaximum",
            "pattern",
            "format",
            "allOf",
            "anyOf",
            "oneOf",
            "not",
            "$schema",
            "$id",
            "$defs",
            "$comment",
            "title",
            "description",
            "examples",
            "valueset-uri",
        ];
        fn keywords(schema: &Value, found: &mut Vec<String>) {
            if let Some(object) = schema.as_object() {
                for (keyword, argument) in object {
                    found.push(keyword.clone());
                    match keyword.as_str() {
                        "properties" | "$defs" => {
                            argument.as_object().into_iter().flatten().for_each(|(_, sub)| keywords(sub, found))
                        }
                        "allOf" | "anyOf" | "oneOf" => {
                            argument.as_array().into_iter().flatten().for_each(|sub| keywords(sub, found))
                        }
                        "items" | "not" | "additionalProperties" => keywords(argument, found),
                        _ => {}
                    }
                }
            }
        }
        for (version, schema) in COMPILED.iter() {
            let schema = schema.as_ref().unwrap();
            let mut found = Vec::new();
            keywords(&schema.root, &mut found);
            for keyword in found {
                assert!(SUPPORTED.contains(&keyword.as_str()), "{version}: {keyword}");
            }
        }
        assert_eq!(versions().count(), 9);
    }

    #[test]
    fn accepts_a_valid_certificate_in_every_version() {
        for version in versions() {
            assert_eq!(validate(&vaccination(version)), Ok(()), "{version}");
        }
    }

    #[test]
    fn reports_violations_with_their_path() {
        let mut hcert = vaccination("1.3.0");
        hcert["nam"]["fnt"] = json!("nguyen");
        hcert["v"][0]["dt"] = json!("2021-02-30");
        hcert["v"][0]["dn"] = json!("2");
        let Err(SchemaError::Invalid { violations, .. }) = validate(&hcert) else {
            panic!("expected violations");
        };
        let paths: Vec<&str> = violations.iter().map(|v| v.path.as_str()).collect();
        assert!(paths.contains(&"/nam/fnt"), "{violations:?}");
        assert!(paths.contains(&"/v/0/dt"), "{violations:?}");
        assert!(paths.contains(&"/v/0/dn"), "{violations:?}");
    }

    #[test]
    fn exactly_one_kind_of_statement() {
        let mut hcert = vaccination("1.3.0");
        hcert["r"] = json!([{"tg": "840539006", "fr": "2021-02-20", "co": "VN", "is": "x",
            "df": "2021-04-04", "du": "2021-10-04", "ci": "URN:UVCI:01:VN:1"}]);
        assert!(validate(&hcert).is_err());
        // Schema 1.2.1 alone allows both groups; the added rule does not.
        hcert["ver"] = json!("1.2.1");
        let Err(SchemaError::Invalid { violations, .. }) = validate(&hcert) else {
            panic!("expected a violation");
        };
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0].message.contains("2 kinds"), "{violations:?}");
        hcert.as_object_mut().unwrap().remove("r");
        assert_eq!(validate(&hcert), Ok(()));
    }

    #[test]
    fn refuses_unknown_or_missing_versions() {
        assert_eq!(validate(&json!({})), Err(SchemaError::MissingVersion));
        assert_eq!(validate(&vaccination("9.9.9")), Err(SchemaError::UnknownVersion("9.9.9".into())));
    }

    #[test]
    fn checks_formats() {
        assert!(is_full_date("2024-02-29"));
        assert!(!is_full_date("2023-02-29"));
        assert!(!is_full_date("2023-2-28"));
        assert!(!is_full_date("+023-02-28"));
        assert!(is_date_time("2021-05-03T10:00:00Z"));
        assert!(is_date_time("2021-05-03T10:00:00.123+02:00"));
        assert!(!is_date_time("2021-05-03T10:00:00"));
        assert!(!is_date_time("2021-05-03"));
    }
}
