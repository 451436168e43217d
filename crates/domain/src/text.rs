//! Vietnamese text: stored in Unicode NFC, compared and searched with diacritics folded, so
//! that `nguyen van a` finds `Nguyễn Văn A` whichever way the keyboard composed it.

use unicode_normalization::char::{decompose_canonical, is_combining_mark};
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

/// The canonical stored form of a text. Most names arrive already composed (every keyboard
/// and spreadsheet in use composes them), so those are copied without recomposing.
pub fn nfc(text: &str) -> String {
    match is_nfc_quick(text.chars()) {
        IsNormalized::Yes => text.to_owned(),
        IsNormalized::No | IsNormalized::Maybe => text.nfc().collect(),
    }
}

/// The search key of a text: lower case, no diacritics, `đ` as `d`, single spaces.
///
/// Each character is decomposed on its own: the marks it sheds are dropped, so their
/// canonical order — what a full NFD pass would spend its time on — never matters.
pub fn fold(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    let mut pending_space = false;
    let mut keep = |c: char| {
        if is_combining_mark(c) {
            return;
        }
        if c.is_whitespace() {
            pending_space = !folded.is_empty();
            return;
        }
        if pending_space {
            folded.push(' ');
            pending_space = false;
        }
        match c {
            'đ' | 'Đ' => folded.push('d'),
            _ if c.is_ascii() => folded.push(c.to_ascii_lowercase()),
            _ => folded.extend(c.to_lowercase()),
        }
    };
    for c in text.chars() {
        if c.is_ascii() {
            keep(c);
        } else {
            decompose_canonical(c, &mut keep);
        }
    }
    folded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_vietnamese_names() {
        assert_eq!(fold("Nguyễn Văn A"), "nguyen van a");
        assert_eq!(fold("  ĐẶNG   thị  Hoà "), "dang thi hoa");
        // Decomposed input folds the same as precomposed input.
        assert_eq!(fold("Nguye\u{302}\u{303}n"), "nguyen");
        assert_eq!(fold("ƯỚT Ở ĐÂY"), "uot o day");
        assert_eq!(fold("\t"), "");
    }

    #[test]
    fn nfc_composes() {
        assert_eq!(nfc("Nguye\u{302}\u{303}n"), "Nguyễn");
        assert_eq!(nfc("Nguyễn Văn A"), "Nguyễn Văn A");
    }
}
