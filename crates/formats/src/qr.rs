//! QR codes drawn as SVG: crisp at any print size, small on the wire, no image library.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// An SVG drawing of `data` as a QR code, `size` pixels wide at least, with medium error
/// correction (a creased or smudged card still scans).
pub fn qr_svg(data: &str, size: u32) -> Result<String, qrcode::types::QrError> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M)?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(size, size)
        .quiet_zone(true)
        .dark_color(svg::Color("#000"))
        .light_color(svg::Color("#fff"))
        .build())
}

#[cfg(test)]
mod tests {
    #[test]
    fn draws_svg() {
        let svg = super::qr_svg("https://example.vn/q/abc", 200).unwrap();
        assert!(svg.starts_with("<?xml") && svg.contains("<svg"));
    }
}
