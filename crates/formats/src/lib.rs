//! Pure encoders and decoders: the file formats Outbreak reads and writes, with no I/O.
//!
//! - [`population`]: population figures per unit from CSV.
//! - [`qr`]: QR codes as SVG, for personal QR cards and posters.
//! - [`hcert`]: EU Digital COVID Certificates (HCERT: CBOR/COSE, zlib, Base45, `HC1:`).

pub mod hcert;
pub mod population;
pub mod qr;
