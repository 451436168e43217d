//! Pure encoders and decoders: the file formats Outbreak reads and writes, with no I/O.
//!
//! - [`population`]: population figures per unit from CSV.
//! - [`qr`]: QR codes as SVG, for personal QR cards and posters.
//! - [`hcert`]: EU Digital COVID Certificates (HCERT: CBOR/COSE, zlib, Base45, `HC1:`).
//! - [`sheet`]: uploaded tables (CSV in UTF-8, UTF-16 or Windows-1258; XLSX) as rows of text.
//! - [`cells`]: cell values as people type them: day-first dates, local date-times, decimal commas.
//! - [`barcode`]: Code 128 barcodes as SVG, for sample tube labels.

pub mod barcode;
pub mod cells;
pub mod hcert;
pub mod population;
pub mod qr;
pub mod sheet;
