//! zlib (RFC 1950) compression of the signed certificate, with a cap on the inflated size.
//!
//! The input of [`inflate`] comes from a QR code anybody can print, so the output is
//! bounded: a few kilobytes of deflate can otherwise expand a thousandfold (a zip bomb).
//! A stream must be whole: a missing end or a wrong checksum is an error, not a short read.

use std::io::Write;

use flate2::{Decompress, FlushDecompress, Status};

/// The most bytes [`inflate`] produces. A QR code carries at most about 3 KB, and a
/// certificate inflates to well under 10 KB; 64 KiB leaves room without inviting abuse.
pub const MAX_INFLATED_LEN: usize = 64 * 1024;

/// Why bytes do not inflate.
#[derive(Debug, thiserror::Error)]
pub enum InflateError {
    /// Not a zlib stream, or a corrupt one (bad header, bad deflate data, bad checksum).
    #[error("invalid zlib stream: {0}")]
    Corrupt(#[source] flate2::DecompressError),
    /// The stream stops before its end marker.
    #[error("truncated zlib stream")]
    Truncated,
    /// The stream inflates to more than the allowed size.
    #[error("zlib stream inflates to more than {limit} bytes")]
    TooLarge {
        /// The cap that was exceeded.
        limit: usize,
    },
}

/// Inflates a zlib stream of at most [`MAX_INFLATED_LEN`] bytes.
pub fn inflate(compressed: &[u8]) -> Result<Vec<u8>, InflateError> {
    inflate_with_limit(compressed, MAX_INFLATED_LEN)
}

/// Inflates a zlib stream, refusing to produce more than `limit` bytes.
pub fn inflate_with_limit(compressed: &[u8], limit: usize) -> Result<Vec<u8>, InflateError> {
    let mut inflater = Decompress::new(true);
    // A certificate inflates to two or three times its size; the buffer grows if needed.
    let mut out = Vec::with_capacity(compressed.len().saturating_mul(4).min(limit));
    loop {
        let consumed = usize::try_from(inflater.total_in()).unwrap_or(usize::MAX);
        let input = compressed.get(consumed..).unwrap_or_default();
        if out.len() == out.capacity() {
            if out.len() >= limit {
                // Full at the cap: one byte more than allowed tells a stream that ends here
                // from one that goes on.
                out.reserve_exact(1);
            } else {
                out.reserve(out.len().max(1024).min(limit - out.len()));
            }
        }
        let before_out = out.len();
        let status = inflater.decompress_vec(input, &mut out, FlushDecompress::None).map_err(InflateError::Corrupt)?;
        if out.len() > limit {
            return Err(InflateError::TooLarge { limit });
        }
        match status {
            Status::StreamEnd => return Ok(out),
            Status::Ok | Status::BufError => {
                let progressed =
                    out.len() > before_out || usize::try_from(inflater.total_in()).unwrap_or(usize::MAX) != consumed;
                if !progressed {
                    return Err(InflateError::Truncated);
                }
            }
        }
    }
}

/// Compresses bytes as a zlib stream at the best compression level (a QR code's size
/// matters more than the microseconds).
pub fn compress(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes)?;
    encoder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let text = b"hello hello hello hello hello".repeat(100);
        let packed = compress(&text).unwrap();
        assert!(packed.len() < text.len() / 10);
        assert_eq!(inflate(&packed).unwrap(), text);
        assert_eq!(inflate(&compress(b"").unwrap()).unwrap(), b"");
    }

    #[test]
    fn caps_the_output() {
        let bomb = compress(&vec![0_u8; 1_000_000]).unwrap();
        assert!(matches!(inflate(&bomb), Err(InflateError::TooLarge { limit: MAX_INFLATED_LEN })));
        assert_eq!(inflate_with_limit(&compress(&[7; 100]).unwrap(), 100).unwrap(), [7; 100]);
        assert!(inflate_with_limit(&compress(&[7; 101]).unwrap(), 100).is_err());
    }

    #[test]
    fn rejects_truncated_corrupt_and_raw_data() {
        let packed = compress(&b"some certificate bytes".repeat(20)).unwrap();
        assert!(matches!(inflate(&packed[..packed.len() - 6]), Err(InflateError::Truncated)));
        assert!(matches!(inflate(&[]), Err(InflateError::Truncated)));
        let mut bad_checksum = packed.clone();
        if let Some(last) = bad_checksum.last_mut() {
            *last ^= 1;
        }
        assert!(matches!(inflate(&bad_checksum), Err(InflateError::Corrupt(_))));
        // An uncompressed COSE_Sign1 (tag 18) is not a zlib stream.
        assert!(matches!(inflate(&[0xd2, 0x84, 0x43, 0xa1]), Err(InflateError::Corrupt(_))));
    }
}
