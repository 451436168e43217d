//! Code 128 barcodes as SVG, for sample tube labels: subset B (printable ASCII), which every
//! laboratory scanner reads. Only the bars are drawn; the label page prints the text itself.

use std::fmt::Write as _;

/// Why a barcode could not be drawn.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BarcodeError {
    #[error("A barcode needs at least one character.")]
    Empty,
    #[error("{character:?} (position {position}) cannot go in a Code 128 barcode; only printable ASCII can.")]
    Unsupported { character: char, position: usize },
    #[error("The module width and height must be positive numbers (got {module_width} and {height}).")]
    BadSize { module_width: f64, height: f64 },
}

impl BarcodeError {
    /// A stable identifier for the kind of error.
    pub fn code(&self) -> &'static str {
        match self {
            BarcodeError::Empty => "empty",
            BarcodeError::Unsupported { .. } => "unsupported_character",
            BarcodeError::BadSize { .. } => "bad_size",
        }
    }
}

/// Widths of bar, space, bar, space, bar, space for each symbol value 0..=105, and the stop
/// pattern (106) with its final 2-module bar (ISO/IEC 15417, table 1).
const PATTERNS: [&str; 107] = [
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212", "221213", // 0
    "221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221", "223211", "221132", // 10
    "221231", "213212", "223112", "312131", "311222", "321122", "321221", "312212", "322112", "322211", // 20
    "212123", "212321", "232121", "111323", "131123", "131321", "112313", "132113", "132311", "211313", // 30
    "231113", "231311", "112133", "112331", "132131", "113123", "113321", "133121", "313121", "211331", // 40
    "231131", "213113", "213311", "213131", "311123", "311321", "331121", "312113", "312311", "332111", // 50
    "314111", "221411", "431111", "111224", "111422", "121124", "121421", "141122", "141221", "112214", // 60
    "112412", "122114", "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111", // 70
    "111242", "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141", // 80
    "214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311", "113141", // 90
    "114131", "311141", "411131", "211412", "211214", "211232", "2331112", // 100
];

/// The symbol value that starts a subset B barcode.
const START_B: usize = 104;
/// The symbol value of the stop pattern.
const STOP: usize = 106;
/// Blank modules on each side, so that a scanner finds where the barcode begins.
const QUIET_ZONE: usize = 10;

/// The symbol values of `text` in subset B: start, one per character, checksum, stop.
fn code128b_symbols(text: &str) -> Result<Vec<usize>, BarcodeError> {
    if text.is_empty() {
        return Err(BarcodeError::Empty);
    }
    let mut symbols = Vec::with_capacity(text.len() + 3);
    symbols.push(START_B);
    for (position, character) in text.chars().enumerate() {
        if !(' '..='~').contains(&character) {
            return Err(BarcodeError::Unsupported { character, position: position + 1 });
        }
        symbols.push(character as usize - 32);
    }
    // Weighted sum mod 103: the start counts once, then each character by its position.
    let checksum = symbols.iter().enumerate().map(|(weight, &value)| weight.max(1) * value).sum::<usize>() % 103;
    symbols.push(checksum);
    symbols.push(STOP);
    Ok(symbols)
}

/// An SVG of `text` in Code 128 subset B: bars as black rectangles on white, quiet zones of
/// ten modules on both sides, `module_width` and `height` in SVG user units (scale with CSS
/// for print). The `viewBox` counts modules across, so every bar sits on a whole module.
pub fn code128_svg(text: &str, module_width: f64, height: f64) -> Result<String, BarcodeError> {
    if !(module_width.is_finite() && module_width > 0.0 && height.is_finite() && height > 0.0) {
        return Err(BarcodeError::BadSize { module_width, height });
    }
    let symbols = code128b_symbols(text)?;
    let modules = 11 * symbols.len() + 2 + 2 * QUIET_ZONE;
    let mut svg = String::new();
    // `preserveAspectRatio="none"` lets the one-unit-high viewBox stretch to `height`.
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {modules} 1" preserveAspectRatio="none" shape-rendering="crispEdges"><rect width="{modules}" height="1" fill="#fff"/>"##,
        number(module_width * modules as f64),
        number(height),
    );
    let mut x = QUIET_ZONE;
    for &symbol in &symbols {
        for (index, width) in PATTERNS[symbol].bytes().map(|digit| usize::from(digit - b'0')).enumerate() {
            if index % 2 == 0 {
                let _ = write!(svg, r##"<rect x="{x}" width="{width}" height="1" fill="#000"/>"##);
            }
            x += width;
        }
    }
    svg.push_str("</svg>");
    Ok(svg)
}

/// A length without float noise: at most three decimals, no trailing zeros.
fn number(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// Reads the bars back from the SVG as a row of modules (true = black).
    fn modules_of(svg: &str) -> Vec<bool> {
        let view_box = svg.split("viewBox=\"0 0 ").nth(1).unwrap();
        let total: usize = view_box.split(' ').next().unwrap().parse().unwrap();
        let mut modules = vec![false; total];
        for rect in svg.split("<rect ").skip(1).filter(|rect| rect.contains("fill=\"#000\"")) {
            let attribute = |name: &str| -> usize {
                rect.split(&format!("{name}=\"")).nth(1).unwrap().split('"').next().unwrap().parse().unwrap()
            };
            let (x, width) = (attribute("x"), attribute("width"));
            modules[x..x + width].iter_mut().for_each(|module| *module = true);
        }
        modules
    }

    /// Splits modules into symbols of 11 (the stop: 13) and maps their run widths back through
    /// the table.
    fn decode(modules: &[bool]) -> Vec<usize> {
        let symbols = &modules[QUIET_ZONE..modules.len() - QUIET_ZONE];
        assert_eq!((symbols.len() - 13) % 11, 0);
        let mut values = Vec::new();
        let mut at = 0;
        while at < symbols.len() {
            let length = if symbols.len() - at == 13 { 13 } else { 11 };
            let chunk = &symbols[at..at + length];
            assert!(chunk[0], "a symbol starts with a bar");
            let mut widths = String::new();
            let mut run = 1;
            for pair in chunk.windows(2) {
                if pair[0] == pair[1] {
                    run += 1;
                } else {
                    widths.push(char::from(b'0' + run));
                    run = 1;
                }
            }
            widths.push(char::from(b'0' + run));
            values.push(PATTERNS.iter().position(|pattern| *pattern == widths).expect("a known pattern"));
            at += length;
        }
        values
    }

    #[test]
    fn table_is_well_formed() {
        for (value, pattern) in PATTERNS.iter().enumerate() {
            let widths: Vec<u32> = pattern.bytes().map(|d| u32::from(d - b'0')).collect();
            let bars: u32 = widths.iter().step_by(2).sum();
            let spaces: u32 = widths.iter().skip(1).step_by(2).sum();
            if value == STOP {
                assert_eq!(bars + spaces, 13);
            } else {
                assert_eq!((bars + spaces, bars % 2, spaces % 2), (11, 0, 1), "value {value}");
            }
        }
        let mut unique = PATTERNS.to_vec();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 107);
    }

    #[test]
    fn wikipedia_symbols_and_checksum() {
        // 104 + 1·55 (W) + 2·73 (i) + 3·75 (k) + 4·73 (i) + 5·80 (p) + 6·69 (e) + 7·68 (d)
        // + 8·73 (i) + 9·65 (a) = 3281 = 31·103 + 88.
        let symbols = code128b_symbols("Wikipedia").unwrap();
        assert_eq!(symbols, [104, 55, 73, 75, 73, 80, 69, 68, 73, 65, 88, 106]);
        assert_eq!(PATTERNS[symbols[0]], "211214");
        assert_eq!(PATTERNS[88], "421211");
    }

    #[test]
    fn svg_decodes_back() {
        for text in ["Wikipedia", "XN-2021-000123", " ~!", "a"] {
            let svg = code128_svg(text, 0.33, 12.0).unwrap();
            let modules = modules_of(&svg);
            assert_eq!(modules.len(), 11 * (text.len() + 3) + 2 + 2 * QUIET_ZONE, "{text}");
            assert!(modules[..QUIET_ZONE].iter().chain(&modules[modules.len() - QUIET_ZONE..]).all(|m| !m));
            let values = decode(&modules);
            assert_eq!(values, code128b_symbols(text).unwrap());
            let decoded: String = values[1..values.len() - 2].iter().map(|&v| char::from(v as u8 + 32)).collect();
            assert_eq!(decoded, text);
        }
    }

    #[test]
    fn svg_size() {
        let svg = code128_svg("Wikipedia", 0.5, 15.0).unwrap();
        let modules = 11 * 12 + 2 + 20;
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains(&format!("width=\"{}\" height=\"15\" viewBox=\"0 0 {modules} 1\"", modules / 2)));
        assert!(svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<svg").count(), 1);
        assert!(!svg.contains("Wikipedia"), "the text is printed by the label, not the barcode");
    }

    #[test]
    fn refusals() {
        assert_eq!(code128_svg("", 1.0, 10.0).unwrap_err().code(), "empty");
        let error = code128_svg("Nguyễn", 1.0, 10.0).unwrap_err();
        assert_eq!(error, BarcodeError::Unsupported { character: 'ễ', position: 5 });
        assert_eq!(code128_svg("a\nb", 1.0, 10.0).unwrap_err().code(), "unsupported_character");
        assert_eq!(code128_svg("a", 0.0, 10.0).unwrap_err().code(), "bad_size");
        assert_eq!(code128_svg("a", 1.0, f64::NAN).unwrap_err().code(), "bad_size");
    }
}
