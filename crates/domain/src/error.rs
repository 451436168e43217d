//! The validation error: which field was wrong, a stable code for programs, and a message
//! that tells a person what to do about it.

use serde::Serialize;

/// One problem with one field of an input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    /// The input field at fault, as named in the API (`cccd`, `address.unit`, …).
    pub field: String,
    /// A stable machine-readable code (`invalid_format`, `too_long`, `contradiction`, …).
    pub code: &'static str,
    /// A sentence for the person who typed it.
    pub message: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Invalid { field: field.into(), code, message: message.into() }
    }
}

/// Every problem found in one input, so a form can mark all its bad fields at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationErrors(pub Vec<Invalid>);

impl ValidationErrors {
    pub fn push(&mut self, invalid: Invalid) {
        self.0.push(invalid);
    }

    /// Keeps the value when it parsed, records the problem when it did not.
    pub fn check<T>(&mut self, result: Result<T, Invalid>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(invalid) => {
                self.0.push(invalid);
                None
            }
        }
    }

    /// The first problem, or `Ok` when there were none.
    pub fn into_result(self) -> Result<(), Invalid> {
        match self.0.into_iter().next() {
            Some(first) => Err(first),
            None => Ok(()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Checks a free-text field: trimmed, NFC, within `max` characters, no control characters.
pub fn text_field(field: &str, value: &str, max: usize, required: bool) -> Result<String, Invalid> {
    let value = crate::text::nfc(value.trim());
    if value.is_empty() && required {
        return Err(Invalid::new(field, "required", format!("{field} is required")));
    }
    if value.chars().count() > max {
        return Err(Invalid::new(field, "too_long", format!("{field} must be at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(Invalid::new(field, "invalid_characters", format!("{field} must not contain control characters")));
    }
    Ok(value)
}
