//! Unique certificate identifiers (UVCI) as the eHealth Network's guidelines define them:
//! `URN:UVCI:01:VN:<issuing entity>/<opaque id>#<check character>`.
//!
//! The check character is Luhn mod N over the whole identifier before `#`, with the
//! 38-character set `A`–`Z`, `0`–`9`, `/`, `:` (the eu-dcc-schema reference
//! implementation). It lets a person reading an identifier aloud or typing it find a
//! mistake before anything is looked up.

/// The prefix of every version-01 identifier.
pub const PREFIX: &str = "URN:UVCI:01:";
/// The characters that the check covers, in code-point order.
const CODE_POINTS: &[u8; 38] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/:";
/// The longest `ci` the DCC schema accepts.
pub const MAX_LEN: usize = 80;

/// Why a text is not a well-formed identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UvciError {
    /// The text does not start with `URN:UVCI:01:` and a two-letter country.
    #[error("a certificate identifier starts with URN:UVCI:01: and a country code")]
    Prefix,
    /// A character outside `A`–`Z`, `0`–`9`, `/`, `:`, `#`.
    #[error("invalid character {0:?} in the certificate identifier")]
    Character(char),
    /// Longer than the DCC schema allows.
    #[error("the certificate identifier is longer than {MAX_LEN} characters")]
    TooLong,
    /// No `#` and check character at the end.
    #[error("the certificate identifier has no check character")]
    MissingCheck,
    /// The check character does not match.
    #[error("the certificate identifier's check character is wrong (mistyped?)")]
    BadCheck,
}

fn code_point(byte: u8) -> Option<usize> {
    CODE_POINTS.iter().position(|&c| c == byte)
}

/// The Luhn mod N sum of `text`, with the rightmost character weighted by `factor`.
fn luhn_mod_n(text: &[u8], mut factor: usize) -> Result<usize, UvciError> {
    let n = CODE_POINTS.len();
    let mut total = 0;
    for &byte in text.iter().rev() {
        let addend = factor * code_point(byte).ok_or(UvciError::Character(char::from(byte)))?;
        factor = if factor == 2 { 1 } else { 2 };
        total += addend / n + addend % n;
    }
    Ok(total % n)
}

/// The check character of an identifier (everything before `#`).
pub fn check_character(body: &str) -> Result<char, UvciError> {
    let n = CODE_POINTS.len();
    let remainder = luhn_mod_n(body.as_bytes(), 2)?;
    Ok(char::from(CODE_POINTS[(n - remainder) % n]))
}

/// Builds an identifier from a country (`VN`) and an opaque part (`MOH/ABC123`), adding the
/// check character.
pub fn build(country: &str, opaque: &str) -> Result<String, UvciError> {
    let body = format!("{PREFIX}{country}:{opaque}");
    let check = check_character(&body)?;
    let uvci = format!("{body}#{check}");
    validate(&uvci)?;
    Ok(uvci)
}

/// Checks an identifier's form and check character.
pub fn validate(uvci: &str) -> Result<(), UvciError> {
    if uvci.len() > MAX_LEN {
        return Err(UvciError::TooLong);
    }
    let rest = uvci.strip_prefix(PREFIX).ok_or(UvciError::Prefix)?;
    let country = rest.get(..3).ok_or(UvciError::Prefix)?;
    if !country.as_bytes()[..2].iter().all(u8::is_ascii_uppercase) || !country.ends_with(':') {
        return Err(UvciError::Prefix);
    }
    let (body, check) = uvci.rsplit_once('#').ok_or(UvciError::MissingCheck)?;
    if let Some(bad) = uvci.chars().find(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || "/:#".contains(*c))) {
        return Err(UvciError::Character(bad));
    }
    let [check] = check.as_bytes() else {
        return Err(UvciError::MissingCheck);
    };
    let mut whole = body.as_bytes().to_vec();
    whole.push(*check);
    if luhn_mod_n(&whole, 1)? != 0 {
        return Err(UvciError::BadCheck);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_implementation() {
        // What eu-dcc-schema's examples/Luhn-Mod-N/luhn_mod_n.py computes (its docstring
        // says `S` for the first, which its own code does not give).
        assert_eq!(check_character("URN:UVCI:01:NL:MY/INPUT/STRING"), Ok('H'));
        assert_eq!(check_character("URN:UVCI:01:NL:187/37512422923"), Ok('Z'));
        assert_eq!(validate("URN:UVCI:01:NL:187/37512422923#Z"), Ok(()));
    }

    #[test]
    fn builds_and_finds_mistakes() {
        let uvci = build("VN", "MOH/ABCDEF234567").unwrap();
        assert!(uvci.starts_with("URN:UVCI:01:VN:MOH/ABCDEF234567#"));
        assert_eq!(validate(&uvci), Ok(()));
        let typo = uvci.replace("ABCDEF", "ABCDFE");
        assert_eq!(validate(&typo), Err(UvciError::BadCheck));
        assert_eq!(validate("URN:UVCI:01:VN:MOH/ABC"), Err(UvciError::MissingCheck));
        assert_eq!(validate("UVCI:01:VN:X#A"), Err(UvciError::Prefix));
        assert_eq!(validate("URN:UVCI:01:VN:abc#A"), Err(UvciError::Character('a')));
        assert_eq!(build("VN", &"A".repeat(80)), Err(UvciError::TooLong));
    }
}
