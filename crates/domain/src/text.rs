//! Vietnamese text: stored in Unicode NFC, compared and searched with diacritics folded, so
//! that `nguyen van a` finds `Nguyễn Văn A` whichever way the keyboard composed it.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The canonical stored form of a text.
pub fn nfc(text: &str) -> String {
    text.nfc().collect()
}

/// The search key of a text: lower case, no diacritics, `đ` as `d`, single spaces.
pub fn fold(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        if c.is_whitespace() {
            pending_space = !folded.is_empty();
            continue;
        }
        if pending_space {
            folded.push(' ');
            pending_space = false;
        }
        match c {
            'đ' | 'Đ' => folded.push('d'),
            _ => folded.extend(c.to_lowercase()),
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
    }

    #[test]
    fn nfc_composes() {
        assert_eq!(nfc("Nguye\u{302}\u{303}n"), "Nguyễn");
    }
}
