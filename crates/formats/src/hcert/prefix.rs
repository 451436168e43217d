//! The context identifier in front of a certificate's text: `HC1:`.
//!
//! A QR code holding an EU Digital COVID Certificate reads `HC1:` followed by Base45. The
//! digit after `HC` is the version of the encoding; only version 1 exists, so any other
//! context identifier is refused rather than guessed at.

/// The context identifier of the HCERT encoding version 1, with its colon.
pub const PREFIX: &str = "HC1:";

/// Why a text is not an `HC1:` certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    /// The text starts with `HC<n>:` for a version other than 1.
    #[error("unsupported certificate version {0:?} (only HC1: is known)")]
    UnsupportedVersion(String),
    /// The text has no context identifier at all (for example bare Base45) or a foreign one.
    #[error("missing the HC1: context identifier")]
    Missing,
}

/// Returns the Base45 text after the `HC1:` prefix.
pub fn strip(text: &str) -> Result<&str, PrefixError> {
    if let Some(rest) = text.strip_prefix(PREFIX) {
        return Ok(rest);
    }
    // Recognise `HC<digits>:` so that a newer encoding gets a precise error.
    if let Some(after_hc) = text.strip_prefix("HC") {
        let digits = after_hc.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && after_hc.as_bytes().get(digits) == Some(&b':') {
            return Err(PrefixError::UnsupportedVersion(text[..2 + digits + 1].to_owned()));
        }
    }
    Err(PrefixError::Missing)
}

/// Puts the `HC1:` prefix in front of Base45 text.
pub fn add(base45: &str) -> String {
    format!("{PREFIX}{base45}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_hc1() {
        assert_eq!(strip("HC1:NCF"), Ok("NCF"));
        assert_eq!(add("NCF"), "HC1:NCF");
    }

    #[test]
    fn refuses_other_versions_and_foreign_prefixes() {
        assert_eq!(strip("HC2:NCF"), Err(PrefixError::UnsupportedVersion("HC2:".into())));
        assert_eq!(strip("HC12:X"), Err(PrefixError::UnsupportedVersion("HC12:".into())));
        assert_eq!(strip("HL0:NCF"), Err(PrefixError::Missing));
        assert_eq!(strip("NCF"), Err(PrefixError::Missing));
        assert_eq!(strip("HC:"), Err(PrefixError::Missing));
        assert_eq!(strip("hc1:NCF"), Err(PrefixError::Missing));
    }
}
