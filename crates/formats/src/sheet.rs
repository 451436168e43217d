//! Uploaded tables (lab results, lists of people to vaccinate) read from CSV or XLSX into
//! rows of trimmed NFC text, each with the row number the person sees in their own file, so
//! that every later complaint points at a row they can find. Whatever cannot be read safely
//! (old `.xls`, merged cells, rows with extra values) is refused with a sentence saying what
//! to do, never half-read.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Cursor;

use calamine::{Data, Dimensions, ExcelDateTime, Reader, SheetType, SheetVisible, Xlsx, XlsxError};
use outbreak_domain::text::{fold, nfc};

use crate::cells::excel_serial_to_datetime;

/// How much one upload may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SheetLimits {
    pub max_bytes: usize,
    /// Data rows, not counting the header row and empty lines.
    pub max_rows: usize,
}

impl Default for SheetLimits {
    /// 64 MiB and two million rows: a province-wide vaccination list fits, and an XLSX that
    /// size still decompresses within the memory of a small server.
    fn default() -> Self {
        SheetLimits { max_bytes: 64 * MIB, max_rows: 2_000_000 }
    }
}

const MIB: usize = 1024 * 1024;

/// A table read from an upload: headers and rows of the same width.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sheet {
    /// Trimmed, NFC. A column with values but no header keeps an empty header (no
    /// [`Column`] ever matches it).
    pub headers: Vec<String>,
    /// Only rows with at least one value.
    pub rows: Vec<SheetRow>,
}

/// One row of data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetRow {
    /// The 1-based row number the person sees in their file: the CSV line where the row
    /// starts, or the Excel row number. The header is usually line 1.
    pub line: usize,
    /// Trimmed, NFC, one per header.
    pub cells: Vec<String>,
}

impl SheetRow {
    /// The cell in a column found by [`match_columns`]; empty when the column is absent.
    pub fn cell(&self, column: Option<usize>) -> &str {
        column.and_then(|index| self.cells.get(index)).map_or("", String::as_str)
    }
}

/// A column an importer wants, under any of the names files give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// The importer's own name for the column; also accepted as a header.
    pub key: &'static str,
    /// Accepted headers, the first one being the name shown in messages, e.g.
    /// `["Họ và tên", "Họ tên", "Full name"]`. Diacritics, case, spaces, `_`, `-`, `.` do not
    /// matter.
    pub names: &'static [&'static str],
    pub required: bool,
}

/// Why an upload was refused. The message is for the person who uploaded the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SheetError {
    #[error("The file is empty. Check that the file was saved before uploading it, then choose it again.")]
    EmptyFile,
    #[error(
        "The file is {} MB, more than the {} MB allowed. Split it into smaller files, or delete sheets and columns that are not needed, and upload each part.",
        megabytes_up(*size),
        megabytes_down(*limit)
    )]
    TooLarge { size: usize, limit: usize },
    #[error(
        "This is an old Excel 97-2003 workbook (.xls) or a password-protected workbook, which cannot be read here. Open it in Excel, remove any password, save it as Excel Workbook (.xlsx) or CSV UTF-8, and upload that file."
    )]
    LegacyXls,
    #[error(
        "This file is {kind}, not a table. Open the table in Excel, save it as Excel Workbook (.xlsx) or CSV UTF-8, and upload that file."
    )]
    NotATable { kind: &'static str },
    /// `detail` is the reader's own explanation, for logs.
    #[error(
        "The file could not be read as an Excel workbook (.xlsx): it may be damaged or in another format. Open it in Excel or LibreOffice, save it as Excel Workbook (.xlsx) or CSV UTF-8, and upload it again."
    )]
    UnreadableXlsx { detail: String },
    #[error(
        "The text of the file could not be read: {detail}. Save it from Excel as CSV UTF-8 or as Excel Workbook (.xlsx), and upload it again."
    )]
    BadEncoding { detail: String },
    #[error(
        "Line {line} of the file could not be read as CSV ({detail}). Save the file from Excel as CSV UTF-8 or as Excel Workbook (.xlsx), and upload it again."
    )]
    UnreadableCsv { line: u64, detail: String },
    #[error(
        "The file has no data rows. Put the column headers in the first row and one record per row below them, then upload the file again."
    )]
    NoRows,
    #[error(
        "Sheet \"{sheet}\" has merged cells at {range}{}. A merged cell keeps its value only in its first cell, so the others would be read as blank. Unmerge them (Home > Merge & Center > Unmerge Cells), fill in every cell, and upload the file again.",
        and_more(*more)
    )]
    MergedCells { sheet: String, range: String, more: usize },
    #[error(
        "Line {line} has {cells} values but the header row has only {expected} columns. Check that line for an extra separator (a comma or semicolon inside a value must be in double quotes), or add a header for the extra column, then upload the file again."
    )]
    RaggedRow { line: usize, cells: usize, expected: usize },
    #[error(
        "Columns {first} (\"{first_name}\") and {second} (\"{second_name}\") have the same header (accents, case and spaces are ignored when headers are compared). Rename or delete one of them, then upload the file again."
    )]
    DuplicateHeader { first: String, first_name: String, second: String, second_name: String },
    #[error(
        "The file has more than {limit} rows, the most one upload can hold. Split it into several files and upload each one."
    )]
    TooManyRows { limit: usize },
    #[error("{}", missing_message(.missing))]
    MissingColumn { missing: Vec<Column> },
}

impl SheetError {
    /// A stable identifier for the kind of error, for APIs and translations.
    pub fn code(&self) -> &'static str {
        match self {
            SheetError::EmptyFile => "empty_file",
            SheetError::TooLarge { .. } => "too_large",
            SheetError::LegacyXls => "legacy_xls",
            SheetError::NotATable { .. } => "not_a_table",
            SheetError::UnreadableXlsx { .. } => "unreadable_xlsx",
            SheetError::BadEncoding { .. } => "bad_encoding",
            SheetError::UnreadableCsv { .. } => "unreadable_csv",
            SheetError::NoRows => "no_rows",
            SheetError::MergedCells { .. } => "merged_cells",
            SheetError::RaggedRow { .. } => "ragged_row",
            SheetError::DuplicateHeader { .. } => "duplicate_header",
            SheetError::TooManyRows { .. } => "too_many_rows",
            SheetError::MissingColumn { .. } => "missing_column",
        }
    }
}

/// Reads an uploaded table. The format is told by the content, not by `file_name` (files get
/// renamed; some programs export HTML as `.xls`); the name only sharpens the message for a
/// `.xlsx` that is not one. CSV may be UTF-8 (with or without BOM), UTF-16 with BOM (Excel's
/// "Unicode text"), or Windows-1258, separated by `,`, `;` or TAB. XLSX is read from its
/// first visible worksheet that has data.
pub fn read_sheet(bytes: &[u8], file_name: Option<&str>, limits: &SheetLimits) -> Result<Sheet, SheetError> {
    if bytes.len() > limits.max_bytes {
        return Err(SheetError::TooLarge { size: bytes.len(), limit: limits.max_bytes });
    }
    let content = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    if content.iter().all(u8::is_ascii_whitespace) {
        return Err(SheetError::EmptyFile);
    }
    let named_xlsx = file_name
        .and_then(|name| name.rsplit_once('.'))
        .is_some_and(|(_, extension)| ["xlsx", "xlsm"].iter().any(|x| extension.eq_ignore_ascii_case(x)));
    let table = if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        read_xlsx(bytes, limits)?
    } else if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        // An OLE compound file: Excel 97-2003, or an encrypted (password-protected) .xlsx.
        return Err(SheetError::LegacyXls);
    } else if bytes.starts_with(b"%PDF-") {
        return Err(SheetError::NotATable { kind: "a PDF document" });
    } else if named_xlsx {
        return Err(SheetError::UnreadableXlsx { detail: "named .xlsx but not a ZIP archive".into() });
    } else {
        read_csv(bytes, limits)?
    };
    assemble(table)
}

/// For each wanted column, the index of the header that matches one of its names (or its
/// key) once folded: lower case, no diacritics, and no spaces, `_`, `-`, `.` or `*`. Every
/// required column that is missing is named in one error, so the file is fixed in one go.
pub fn match_columns(headers: &[String], wanted: &[Column]) -> Result<Vec<Option<usize>>, SheetError> {
    let keys: Vec<String> = headers.iter().map(|header| header_key(header)).collect();
    let found: Vec<Option<usize>> = wanted
        .iter()
        .map(|column| {
            let names: Vec<String> =
                column.names.iter().chain(std::iter::once(&column.key)).map(|name| header_key(name)).collect();
            keys.iter().position(|key| !key.is_empty() && names.contains(key))
        })
        .collect();
    let missing: Vec<Column> = wanted
        .iter()
        .zip(&found)
        .filter(|(column, index)| column.required && index.is_none())
        .map(|(c, _)| *c)
        .collect();
    if missing.is_empty() { Ok(found) } else { Err(SheetError::MissingColumn { missing }) }
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Non-empty rows as read, header first, before columns are checked.
struct RawTable {
    rows: Vec<RawRow>,
    /// Where column 0 sits in the file, to name columns by their Excel letter.
    first_column: usize,
}

struct RawRow {
    line: usize,
    cells: Vec<String>,
}

/// Pushes a non-empty row, refusing the one that goes over the limit (the header is not
/// counted).
fn push_row(rows: &mut Vec<RawRow>, row: RawRow, limits: &SheetLimits) -> Result<(), SheetError> {
    if row.cells.iter().all(String::is_empty) {
        return Ok(());
    }
    if rows.len() > limits.max_rows {
        return Err(SheetError::TooManyRows { limit: limits.max_rows });
    }
    rows.push(row);
    Ok(())
}

/// Checks widths and headers, and drops unnamed columns that hold nothing.
fn assemble(table: RawTable) -> Result<Sheet, SheetError> {
    let mut raw_rows = table.rows.into_iter();
    let header = raw_rows.next().ok_or(SheetError::NoRows)?;
    let headers = header.cells;
    let width = headers.len();
    let mut rows = Vec::new();
    for RawRow { line, mut cells } in raw_rows {
        if cells.len() > width {
            // Trailing separators ("a;b;;") are harmless; a value past the last header is not.
            if let Some(last) = cells.iter().rposition(|cell| !cell.is_empty()).filter(|&last| last >= width) {
                return Err(SheetError::RaggedRow { line, cells: last + 1, expected: width });
            }
            cells.truncate(width);
        }
        cells.resize(width, String::new());
        rows.push(SheetRow { line, cells });
    }
    if rows.is_empty() {
        return Err(SheetError::NoRows);
    }

    let keep: Vec<bool> = (0..width)
        .map(|index| !headers[index].is_empty() || rows.iter().any(|row| !row.cells[index].is_empty()))
        .collect();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, name) in headers.iter().enumerate().filter(|(index, name)| keep[*index] && !name.is_empty()) {
        if let Some(first) = seen.insert(header_key(name), index) {
            return Err(SheetError::DuplicateHeader {
                first: column_letter(table.first_column + first),
                first_name: headers[first].clone(),
                second: column_letter(table.first_column + index),
                second_name: name.clone(),
            });
        }
    }
    if keep.iter().all(|&kept| kept) {
        return Ok(Sheet { headers, rows });
    }
    let retain = |cells: Vec<String>| cells.into_iter().zip(&keep).filter(|(_, kept)| **kept).map(|(c, _)| c).collect();
    Ok(Sheet {
        headers: retain(headers),
        rows: rows.into_iter().map(|row| SheetRow { line: row.line, cells: retain(row.cells) }).collect(),
    })
}

fn read_csv(bytes: &[u8], limits: &SheetLimits) -> Result<RawTable, SheetError> {
    let text = decode_text(bytes)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    if text.trim().is_empty() {
        return Err(SheetError::EmptyFile);
    }
    if let Some(kind) = markup_kind(text) {
        return Err(SheetError::NotATable { kind });
    }
    if let Some(at) = text.find(|c: char| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        let line = text[..at].matches('\n').count() + 1;
        return Err(SheetError::BadEncoding {
            detail: format!(
                "line {line} holds control characters, which a text table never does, so this is probably another kind of file or a damaged one"
            ),
        });
    }

    // Excel reads and writes a first line `sep=;` naming the separator.
    let first_line = text.lines().find(|line| !line.trim().is_empty()).unwrap_or_default();
    let hinted = first_line.strip_prefix("sep=").filter(|s| s.len() == 1).map(|s| s.as_bytes()[0]);
    let delimiter = hinted.unwrap_or_else(|| detect_delimiter(first_line));

    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(text.as_bytes());
    let mut record = csv::StringRecord::new();
    let mut rows = Vec::new();
    let mut skip_hint = hinted.is_some();
    let mut lines = LineCounter::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map_or(0, |position| position.line());
                return Err(SheetError::UnreadableCsv { line, detail: e.to_string() });
            }
        }
        let cells: Vec<String> = record.iter().map(|cell| nfc(cell.trim())).collect();
        if std::mem::take(&mut skip_hint) {
            continue;
        }
        let line = lines.line_at(text, record.position().map_or(0, |position| position.byte() as usize));
        push_row(&mut rows, RawRow { line, cells }, limits)?;
    }
    Ok(RawTable { rows, first_column: 0 })
}

/// Line numbers as an editor shows them. The `csv` crate's own line count and record offsets
/// do not include the line breaks it skips before a record (empty lines, CRLF), so lines are
/// counted here from the offset where each record starts.
struct LineCounter {
    offset: usize,
    line: usize,
}

impl LineCounter {
    fn new() -> Self {
        LineCounter { offset: 0, line: 1 }
    }

    /// The line of the record at `offset`; offsets come in increasing order.
    fn line_at(&mut self, text: &str, offset: usize) -> usize {
        let bytes = text.as_bytes();
        let mut start = offset.min(bytes.len());
        while start < bytes.len() && matches!(bytes[start], b'\r' | b'\n') {
            start += 1;
        }
        let skipped = bytes.get(self.offset..start).unwrap_or_default();
        // `\r\n`, `\n` and a lone `\r` (old Mac files) each end one line.
        let breaks = skipped
            .iter()
            .enumerate()
            .filter(|&(index, &byte)| byte == b'\n' || (byte == b'\r' && skipped.get(index + 1) != Some(&b'\n')))
            .count();
        self.line += breaks;
        self.offset = start;
        self.line
    }
}

/// Text from bytes: a BOM says UTF-8 or UTF-16; without one, UTF-8 if it is valid, else
/// Windows-1258, what Excel on a Vietnamese Windows saves as "CSV". That code page writes tone
/// marks as combining characters, hence the NFC of every cell.
fn decode_text(bytes: &[u8]) -> Result<Cow<'_, str>, SheetError> {
    if let Some(rest) = bytes.strip_prefix(UTF8_BOM) {
        return std::str::from_utf8(rest).map(Cow::Borrowed).map_err(|e| SheetError::BadEncoding {
            detail: format!(
                "it is marked as UTF-8 but byte {} is not UTF-8, so it was probably changed by another program",
                e.valid_up_to() + UTF8_BOM.len() + 1
            ),
        });
    }
    for (bom, encoding) in [(b"\xFF\xFE", encoding_rs::UTF_16LE), (b"\xFE\xFF", encoding_rs::UTF_16BE)] {
        if let Some(rest) = bytes.strip_prefix(bom) {
            return encoding.decode_without_bom_handling_and_without_replacement(rest).ok_or_else(|| {
                SheetError::BadEncoding {
                    detail: "it is marked as UTF-16 (Unicode text) but is not valid UTF-16".into(),
                }
            });
        }
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(Cow::Borrowed(text)),
        Err(_) => Ok(encoding_rs::WINDOWS_1258.decode_without_bom_handling(bytes).0),
    }
}

/// Web pages and XML that spreadsheet-like programs export under a `.xls` name.
fn markup_kind(text: &str) -> Option<&'static str> {
    let start: String = text.trim_start().chars().take(16).flat_map(char::to_lowercase).collect();
    if ["<!doctype html", "<html", "<table", "<head", "<body"].iter().any(|tag| start.starts_with(tag)) {
        Some("a web page (HTML)")
    } else if start.starts_with("<?xml") {
        Some("an XML document")
    } else {
        None
    }
}

/// The separator used most in the header line, outside quotes. A tie goes to TAB, then `;`:
/// a header may well contain a comma in its text, rarely a tab.
fn detect_delimiter(header: &str) -> u8 {
    const CANDIDATES: [u8; 3] = [b'\t', b';', b','];
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for byte in header.bytes() {
        if byte == b'"' {
            quoted = !quoted;
        } else if !quoted && let Some(index) = CANDIDATES.iter().position(|&c| c == byte) {
            counts[index] += 1;
        }
    }
    let mut best = 2; // a comma when the header has one column
    for index in 0..CANDIDATES.len() {
        if counts[index] > counts[best] || (counts[index] == counts[best] && counts[index] > 0 && index < best) {
            best = index;
        }
    }
    CANDIDATES[best]
}

fn read_xlsx(bytes: &[u8], limits: &SheetLimits) -> Result<RawTable, SheetError> {
    let unreadable = |e: XlsxError| SheetError::UnreadableXlsx { detail: e.to_string() };
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(unreadable)?;
    let is_1904 = workbook.has_1904_epoch();
    // Hidden sheets often hold the lists behind drop-downs: reading one by mistake would
    // import the wrong table, so only what the person can see counts.
    let names: Vec<String> = workbook
        .sheets_metadata()
        .iter()
        .filter(|sheet| sheet.typ == SheetType::WorkSheet && sheet.visible == SheetVisible::Visible)
        .map(|sheet| sheet.name.clone())
        .collect();
    for name in names {
        let range = workbook.worksheet_range(&name).map_err(unreadable)?;
        let (Some((start_row, start_column)), Some((end_row, end_column))) = (range.start(), range.end()) else {
            continue;
        };
        let mut rows = Vec::new();
        for (offset, cells) in range.rows().enumerate() {
            let cells = cells.iter().map(|cell| cell_text(cell, is_1904)).collect();
            push_row(&mut rows, RawRow { line: start_row as usize + offset + 1, cells }, limits)?;
        }
        let Some(header) = rows.first() else {
            continue;
        };
        let header_row = (header.line - 1) as u32;
        let merged = workbook.merge_cells_by_sheet_name(&name).map_err(unreadable)?;
        let mut in_data: Vec<&Dimensions> = merged
            .iter()
            .filter(|region| {
                region.start.0 <= end_row
                    && region.end.0 >= header_row
                    && region.start.1 <= end_column
                    && region.end.1 >= start_column
            })
            .collect();
        in_data.sort_by_key(|region| region.start);
        if let Some(first) = in_data.first() {
            return Err(SheetError::MergedCells {
                sheet: name,
                range: format!("{}:{}", cell_name(first.start), cell_name(first.end)),
                more: in_data.len() - 1,
            });
        }
        return Ok(RawTable { rows, first_column: start_column as usize });
    }
    Err(SheetError::NoRows)
}

/// A cell as text: numbers as Excel shows them in General format (no `.0`, no exponent),
/// dates and times in ISO 8601, errors such as `#N/A` as blank.
fn cell_text(cell: &Data, is_1904: bool) -> String {
    let text = match cell {
        Data::Empty | Data::Error(_) => return String::new(),
        Data::String(text) | Data::DateTimeIso(text) | Data::DurationIso(text) => Cow::Borrowed(text.as_str()),
        Data::Int(number) => Cow::Owned(number.to_string()),
        Data::Float(number) => Cow::Owned(number_text(*number)),
        Data::Bool(true) => Cow::Borrowed("TRUE"),
        Data::Bool(false) => Cow::Borrowed("FALSE"),
        Data::DateTime(datetime) => Cow::Owned(datetime_text(datetime, is_1904)),
    };
    nfc(text.trim())
}

/// A phone number typed as a number comes back as its digits (84912345678, not 8.49e10).
/// Values are cut to 15 significant digits, as Excel displays them, so that float noise from
/// formulas (0.1 + 0.2) reads as the person saw it.
fn number_text(number: f64) -> String {
    let shown: f64 = format!("{number:.14e}").parse().unwrap_or(number);
    if shown == 0.0 { "0".to_owned() } else { shown.to_string() }
}

fn datetime_text(datetime: &ExcelDateTime, is_1904: bool) -> String {
    let serial = datetime.as_f64();
    if datetime.is_duration() {
        let seconds = (serial * 86_400.0).round() as i64;
        let sign = if seconds < 0 { "-" } else { "" };
        let seconds = seconds.unsigned_abs();
        return format!("{sign}{}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60);
    }
    let Some(at) = excel_serial_to_datetime(serial, is_1904) else {
        return number_text(serial);
    };
    let (date, time) = (at.date(), at.time());
    let clock = format!("{:02}:{:02}:{:02}", time.hour(), time.minute(), time.second());
    if serial < 1.0 {
        clock
    } else if time == time::Time::MIDNIGHT {
        format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
    } else {
        format!("{:04}-{:02}-{:02}T{clock}", date.year(), u8::from(date.month()), date.day())
    }
}

/// The key headers are compared by.
fn header_key(header: &str) -> String {
    // `*` marks required columns in many templates ("Họ tên *").
    fold(header).chars().filter(|c| !matches!(c, ' ' | '_' | '-' | '.' | '*')).collect()
}

/// `0` → `A`, `25` → `Z`, `26` → `AA`.
fn column_letter(index: usize) -> String {
    let mut letters = Vec::new();
    let mut n = index + 1;
    while n > 0 {
        n -= 1;
        letters.push(char::from(b'A' + (n % 26) as u8));
        n /= 26;
    }
    letters.iter().rev().collect()
}

/// `(row, column)` from 0 → `B3`.
fn cell_name((row, column): (u32, u32)) -> String {
    format!("{}{}", column_letter(column as usize), row as usize + 1)
}

fn megabytes_up(bytes: usize) -> String {
    let tenths = (bytes as f64 / MIB as f64 * 10.0).ceil() / 10.0;
    tenths.to_string()
}

fn megabytes_down(bytes: usize) -> String {
    let tenths = (bytes as f64 / MIB as f64 * 10.0).floor() / 10.0;
    tenths.to_string()
}

fn and_more(more: usize) -> String {
    match more {
        0 => String::new(),
        1 => " and in 1 other place".to_owned(),
        n => format!(" and in {n} other places"),
    }
}

fn missing_message(missing: &[Column]) -> String {
    let describe = |column: &Column| {
        let shown = column.names.first().copied().unwrap_or(column.key);
        let accepted: Vec<String> = column.names.iter().map(|name| format!("\"{name}\"")).collect();
        (shown, accepted.join(", "))
    };
    match missing {
        [column] => {
            let (shown, accepted) = describe(column);
            format!(
                "The file has no \"{shown}\" column (accepted headers: {accepted}). Add the column, or rename its header to one of these, then upload the file again."
            )
        }
        columns => {
            let listed: Vec<String> = columns
                .iter()
                .map(|column| {
                    let (shown, accepted) = describe(column);
                    format!("\"{shown}\" (accepted headers: {accepted})")
                })
                .collect();
            format!(
                "The file is missing {} required columns: {}. Add them, or rename their headers to one of the accepted names, then upload the file again.",
                columns.len(),
                listed.join("; ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_letters() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(701), "ZZ");
        assert_eq!(column_letter(702), "AAA");
        assert_eq!(cell_name((2, 1)), "B3");
    }

    #[test]
    fn numbers_as_excel_shows_them() {
        assert_eq!(number_text(84912345678.0), "84912345678");
        assert_eq!(number_text(23.5), "23.5");
        assert_eq!(number_text(0.1 + 0.2), "0.3");
        assert_eq!(number_text(-0.0), "0");
        assert_eq!(number_text(1e20), "100000000000000000000");
    }

    #[test]
    fn delimiters() {
        assert_eq!(detect_delimiter("a,b,c"), b',');
        assert_eq!(detect_delimiter("a;b;c"), b';');
        assert_eq!(detect_delimiter("a\tb, c"), b'\t');
        assert_eq!(detect_delimiter("\"x;y\",b"), b',');
        assert_eq!(detect_delimiter("single"), b',');
    }
}
