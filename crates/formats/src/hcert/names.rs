//! Names in a certificate's `nam`: as written (`fn`, `gn`) and transliterated to the ICAO
//! 9303 machine-readable form (`fnt`, `gnt`: `A`–`Z` and `<`), which border systems
//! compare with passports.
//!
//! Vietnamese needs only the Latin rules: diacritics are dropped (`Nguyễn` → `NGUYEN`), `Đ`
//! becomes `D`, and spaces and hyphens between names become `<`.

use outbreak_domain::text::{fold, nfc};

/// The longest transliterated name the DCC schema accepts.
const MAX_LEN: usize = 80;

/// A name transliterated for the machine-readable zone: `Nguyễn Văn` → `NGUYEN<VAN`.
pub fn icao_transliterate(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in fold(name).chars() {
        match c {
            'a'..='z' => out.push(c.to_ascii_uppercase()),
            ' ' | '-' if !out.is_empty() && !out.ends_with('<') => out.push('<'),
            // ICAO 9303 drops apostrophes and other marks rather than replacing them.
            _ => {}
        }
    }
    while out.ends_with('<') {
        out.pop();
    }
    out.truncate(MAX_LEN);
    out
}

/// The `nam` object of a certificate from a family name and given names.
pub fn dcc_name(family: &str, given: &str) -> serde_json::Value {
    let mut name = serde_json::Map::new();
    let family = nfc(family.trim());
    let given = nfc(given.trim());
    if !family.is_empty() {
        name.insert("fn".into(), family.clone().into());
    }
    name.insert("fnt".into(), icao_transliterate(&family).into());
    if !given.is_empty() {
        name.insert("gn".into(), given.clone().into());
        name.insert("gnt".into(), icao_transliterate(&given).into());
    }
    serde_json::Value::Object(name)
}

/// A Vietnamese full name split into family name (the first word) and given names (the
/// rest): `Nguyễn Văn An` → (`Nguyễn`, `Văn An`).
pub fn split_vietnamese_name(full: &str) -> (String, String) {
    let full = nfc(full.trim());
    match full.split_once(char::is_whitespace) {
        Some((family, given)) => (family.to_owned(), given.trim().to_owned()),
        None => (full, String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transliterates_vietnamese() {
        assert_eq!(icao_transliterate("Nguyễn"), "NGUYEN");
        assert_eq!(icao_transliterate("Đặng Thị  Ngọc-Ánh"), "DANG<THI<NGOC<ANH");
        assert_eq!(icao_transliterate("Trần Văn Ơn "), "TRAN<VAN<ON");
        assert_eq!(icao_transliterate("O'Brien"), "OBRIEN");
    }

    #[test]
    fn builds_the_name_object() {
        let (family, given) = split_vietnamese_name("  Nguyễn Văn An ");
        assert_eq!((family.as_str(), given.as_str()), ("Nguyễn", "Văn An"));
        assert_eq!(
            dcc_name(&family, &given),
            serde_json::json!({"fn": "Nguyễn", "fnt": "NGUYEN", "gn": "Văn An", "gnt": "VAN<AN"})
        );
        assert_eq!(dcc_name("Lê", ""), serde_json::json!({"fn": "Lê", "fnt": "LE"}));
    }
}
