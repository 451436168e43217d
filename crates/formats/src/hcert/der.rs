//! A minimal DER reader: just enough of X.509 to find a signer's public key and validity.
//!
//! Verifying a certificate needs only two things from its signer's X.509 certificate, the
//! SubjectPublicKeyInfo and the validity period, so a short walk over the TLV structure
//! replaces a full X.509 library (and tolerates the odd certificates some issuers made).

/// Why bytes are not the DER that was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DerError {
    /// The input ends inside an item.
    #[error("DER item is truncated")]
    Truncated,
    /// A length in a form DER does not allow (indefinite) or too large to be real.
    #[error("invalid DER length")]
    InvalidLength,
    /// An item with another tag than the structure requires.
    #[error("unexpected DER tag 0x{found:02x} (expected 0x{expected:02x})")]
    UnexpectedTag {
        /// The tag the structure requires.
        expected: u8,
        /// The tag found.
        found: u8,
    },
    /// A date that cannot be read.
    #[error("invalid DER time")]
    InvalidTime,
}

pub(crate) const TAG_BIT_STRING: u8 = 0x03;
pub(crate) const TAG_OID: u8 = 0x06;
pub(crate) const TAG_SEQUENCE: u8 = 0x30;
const TAG_UTC_TIME: u8 = 0x17;
const TAG_GENERALIZED_TIME: u8 = 0x18;

/// One DER item.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Item<'a> {
    /// The identifier octet (only low tag numbers occur in what is read here).
    pub tag: u8,
    /// The content octets.
    pub content: &'a [u8],
    /// The whole item: identifier, length and content.
    pub raw: &'a [u8],
}

/// Reads the first item of `input`, returning it and what follows it.
pub(crate) fn read(input: &[u8]) -> Result<(Item<'_>, &[u8]), DerError> {
    let [tag, first_length, ..] = *input else {
        return Err(DerError::Truncated);
    };
    let (length, header_len) = if first_length < 0x80 {
        (usize::from(first_length), 2)
    } else {
        let count = usize::from(first_length & 0x7f);
        if count == 0 || count > 4 {
            return Err(DerError::InvalidLength);
        }
        let bytes = input.get(2..2 + count).ok_or(DerError::Truncated)?;
        let length = bytes.iter().fold(0_usize, |length, &byte| (length << 8) | usize::from(byte));
        (length, 2 + count)
    };
    let end = header_len.checked_add(length).ok_or(DerError::InvalidLength)?;
    let raw = input.get(..end).ok_or(DerError::Truncated)?;
    let content = raw.get(header_len..).ok_or(DerError::Truncated)?;
    let rest = input.get(end..).ok_or(DerError::Truncated)?;
    Ok((Item { tag, content, raw }, rest))
}

/// Reads the first item of `input`, which must carry `tag`.
pub(crate) fn expect(input: &[u8], tag: u8) -> Result<(Item<'_>, &[u8]), DerError> {
    let (item, rest) = read(input)?;
    if item.tag == tag { Ok((item, rest)) } else { Err(DerError::UnexpectedTag { expected: tag, found: item.tag }) }
}

/// Reads an X.509 Time (UTCTime or GeneralizedTime, in UTC) as seconds since the Unix epoch.
pub(crate) fn read_time(input: &[u8]) -> Result<(i64, &[u8]), DerError> {
    let (item, rest) = read(input)?;
    let text = std::str::from_utf8(item.content).map_err(|_| DerError::InvalidTime)?;
    let text = text.strip_suffix('Z').ok_or(DerError::InvalidTime)?;
    let (year, digits) = match item.tag {
        TAG_UTC_TIME => {
            // RFC 5280: two-digit years 50..99 are 19xx, 00..49 are 20xx.
            let year = number(text.get(..2))?;
            (if year >= 50 { 1900 + year } else { 2000 + year }, text.get(2..))
        }
        TAG_GENERALIZED_TIME => {
            // Fractions of a second are allowed and ignored.
            let text = text.split_once('.').map_or(text, |(whole, _)| whole);
            (number(text.get(..4))?, text.get(4..))
        }
        found => {
            return Err(DerError::UnexpectedTag { expected: TAG_UTC_TIME, found });
        }
    };
    let digits = digits.filter(|digits| digits.len() == 10).ok_or(DerError::InvalidTime)?;
    let part = |range: std::ops::Range<usize>| number(digits.get(range));
    let month = time::Month::try_from(u8::try_from(part(0..2)?).map_err(|_| DerError::InvalidTime)?)
        .map_err(|_| DerError::InvalidTime)?;
    let small = |value: i32| u8::try_from(value).map_err(|_| DerError::InvalidTime);
    let date = time::Date::from_calendar_date(year, month, small(part(2..4)?)?).map_err(|_| DerError::InvalidTime)?;
    let clock = time::Time::from_hms(small(part(4..6)?)?, small(part(6..8)?)?, small(part(8..10)?)?)
        .map_err(|_| DerError::InvalidTime)?;
    Ok((time::PrimitiveDateTime::new(date, clock).assume_utc().unix_timestamp(), rest))
}

/// Parses ASCII digits.
fn number(text: Option<&str>) -> Result<i32, DerError> {
    text.filter(|text| !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()))
        .and_then(|text| text.parse().ok())
        .ok_or(DerError::InvalidTime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_short_and_long_lengths() {
        let (item, rest) = read(&[0x04, 0x02, 0xaa, 0xbb, 0xcc]).unwrap();
        assert_eq!((item.tag, item.content, rest), (0x04, &[0xaa, 0xbb][..], &[0xcc][..]));
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend_from_slice(&[1; 0x80]);
        let (item, rest) = read(&long).unwrap();
        assert_eq!((item.content.len(), item.raw.len(), rest.len()), (0x80, 0x83, 0));
        assert_eq!(read(&[0x04, 0x03, 1]).unwrap_err(), DerError::Truncated);
        assert_eq!(read(&[0x04, 0x80]).unwrap_err(), DerError::InvalidLength);
        assert!(matches!(expect(&[0x05, 0x00], TAG_SEQUENCE), Err(DerError::UnexpectedTag { .. })));
    }

    #[test]
    fn reads_times() {
        let utc = b"\x17\x0d210503180000Z";
        assert_eq!(read_time(utc).unwrap().0, 1_620_064_800);
        let old = b"\x17\x0d700101000000Z";
        assert_eq!(read_time(old).unwrap().0, 0);
        let generalized = b"\x18\x0f20510101000000Z";
        assert_eq!(read_time(generalized).unwrap().0, 2_556_144_000);
        let fraction = b"\x18\x1320510101000000.123Z";
        assert_eq!(read_time(fraction).unwrap().0, 2_556_144_000);
        assert_eq!(read_time(b"\x17\x0d211303180000Z").unwrap_err(), DerError::InvalidTime);
        assert_eq!(read_time(b"\x17\x0b2105031800Z").unwrap_err(), DerError::InvalidTime);
    }
}
