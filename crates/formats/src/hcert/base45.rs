//! Base45 (RFC 9285): bytes as text in the QR alphanumeric alphabet.
//!
//! Every two bytes become three characters and a last odd byte becomes two, so the text
//! fits the QR code's compact alphanumeric mode. Decoding is strict: a character outside
//! the alphabet, a dangling single character or a group whose value overflows is an error.

/// The 45 characters, in value order.
const ALPHABET: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/// Each byte's value in the alphabet, or `NOT_BASE45`: a verifier decodes thousands of
/// certificates a second, so a character is looked up, not searched for.
const VALUES: [u8; 256] = {
    let mut values = [NOT_BASE45; 256];
    let mut value = 0;
    while value < ALPHABET.len() {
        values[ALPHABET[value] as usize] = value as u8;
        value += 1;
    }
    values
};
const NOT_BASE45: u8 = u8::MAX;

/// Why a text is not valid Base45.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Base45Error {
    /// A character outside the Base45 alphabet (lower-case letters included).
    #[error("invalid Base45 character {character:?} at position {position}")]
    InvalidCharacter {
        /// The offending character.
        character: char,
        /// Its position in characters from the start of the text.
        position: usize,
    },
    /// The length leaves one character over, which encodes nothing.
    #[error("invalid Base45 length {0}: a single trailing character encodes nothing")]
    InvalidLength(usize),
    /// A group of characters whose value does not fit the bytes it stands for.
    #[error("Base45 group at position {0} is out of range")]
    OutOfRange(usize),
}

/// Encodes bytes as Base45 text.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(2) * 3);
    let mut push = |value: usize| out.push(char::from(ALPHABET[value % 45]));
    for pair in bytes.chunks(2) {
        match *pair {
            [a, b] => {
                let n = usize::from(a) * 256 + usize::from(b);
                push(n);
                push(n / 45);
                push(n / (45 * 45));
            }
            [a] => {
                let n = usize::from(a);
                push(n);
                push(n / 45);
            }
            _ => {}
        }
    }
    out
}

/// Decodes Base45 text into bytes.
pub fn decode(text: &str) -> Result<Vec<u8>, Base45Error> {
    let bytes = text.as_bytes();
    // Bytes of characters beyond ASCII are all outside the alphabet, so the first byte
    // refused starts a character.
    if let Some(index) = bytes.iter().position(|&byte| VALUES[usize::from(byte)] == NOT_BASE45) {
        let (before, after) = text.split_at_checked(index).unwrap_or((text, ""));
        let character = after.chars().next().unwrap_or(char::REPLACEMENT_CHARACTER);
        return Err(Base45Error::InvalidCharacter { character, position: before.chars().count() });
    }
    if bytes.len() % 3 == 1 {
        return Err(Base45Error::InvalidLength(bytes.len()));
    }
    let value = |byte: u8| usize::from(VALUES[usize::from(byte)]);
    let mut out = Vec::with_capacity(bytes.len() / 3 * 2 + 1);
    for (index, group) in bytes.chunks(3).enumerate() {
        let position = index * 3;
        match *group {
            [c, d, e] => {
                let n = value(c) + value(d) * 45 + value(e) * 45 * 45;
                let pair = u16::try_from(n).map_err(|_| Base45Error::OutOfRange(position))?;
                out.extend_from_slice(&pair.to_be_bytes());
            }
            [c, d] => {
                let n = value(c) + value(d) * 45;
                out.push(u8::try_from(n).map_err(|_| Base45Error::OutOfRange(position))?);
            }
            _ => return Err(Base45Error::InvalidLength(bytes.len())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The examples of RFC 9285 section 4.
    #[test]
    fn rfc_9285_examples() {
        assert_eq!(encode(b"AB"), "BB8");
        assert_eq!(encode(b"Hello!!"), "%69 VD92EX0");
        assert_eq!(encode(b"base-45"), "UJCLQE7W581");
        assert_eq!(encode(b"ietf!"), "QED8WEX0");
        assert_eq!(decode("QED8WEX0").unwrap(), b"ietf!");
        assert_eq!(decode("%69 VD92EX0").unwrap(), b"Hello!!");
    }

    #[test]
    fn round_trips_every_byte() {
        let bytes: Vec<u8> = (0..=255).chain((0..=255).rev()).collect();
        assert_eq!(decode(&encode(&bytes)).unwrap(), bytes);
        assert_eq!(decode("").unwrap(), b"");
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(decode("GGW"), Err(Base45Error::OutOfRange(0)), "RFC 9285 section 6: GGW is 65536");
        assert_eq!(decode("ZZ"), Err(Base45Error::OutOfRange(0)));
        assert_eq!(decode("BB8A"), Err(Base45Error::InvalidLength(4)));
        assert_eq!(decode("bb8"), Err(Base45Error::InvalidCharacter { character: 'b', position: 0 }));
        assert!(matches!(decode("BBé"), Err(Base45Error::InvalidCharacter { position: 2, .. })));
    }
}
