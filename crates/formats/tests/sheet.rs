//! Uploaded tables: encodings and separators of CSV, XLSX cells, and every refusal a person
//! may meet, each with its code and a message that names what to fix.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use outbreak_formats::sheet::{Column, Sheet, SheetError, SheetLimits, match_columns, read_sheet};
use rand::{Rng, SeedableRng};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

fn read(bytes: &[u8]) -> Result<Sheet, SheetError> {
    read_sheet(bytes, None, &SheetLimits::default())
}

fn code(bytes: &[u8]) -> &'static str {
    read(bytes).unwrap_err().code()
}

fn lines(sheet: &Sheet) -> Vec<usize> {
    sheet.rows.iter().map(|row| row.line).collect()
}

// ---------- CSV ----------

#[test]
fn utf8_csv() {
    let sheet = read("Họ và tên,Ngày sinh\nNguyễn Văn Ánh,15/08/1990\nTrần Thị B,01/01/2000\n".as_bytes()).unwrap();
    assert_eq!(sheet.headers, ["Họ và tên", "Ngày sinh"]);
    assert_eq!(sheet.rows[0].cells, ["Nguyễn Văn Ánh", "15/08/1990"]);
    assert_eq!(lines(&sheet), [2, 3]);
}

#[test]
fn utf8_bom_csv_is_trimmed_and_nfc() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    // Decomposed input (as macOS and some keyboards produce) comes back composed.
    bytes.extend("  Họ tên ;SĐT\r\n  Nguye\u{302}\u{303}n Văn Ánh ; 0912345678 \r\n".as_bytes());
    let sheet = read(&bytes).unwrap();
    assert_eq!(sheet.headers, ["Họ tên", "SĐT"]);
    assert_eq!(sheet.rows[0].cells, ["Nguyễn Văn Ánh", "0912345678"]);
}

#[test]
fn utf16le_tab_separated() {
    // Excel's "Unicode text": UTF-16 LE with BOM, TAB between cells, commas inside values.
    let text = "Họ và tên\tĐịa chỉ\r\nNguyễn Văn Ánh\t12 Lý Thái Tổ, Hoàn Kiếm\r\n";
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let sheet = read(&bytes).unwrap();
    assert_eq!(sheet.headers, ["Họ và tên", "Địa chỉ"]);
    assert_eq!(sheet.rows[0].cells, ["Nguyễn Văn Ánh", "12 Lý Thái Tổ, Hoàn Kiếm"]);
    assert_eq!(lines(&sheet), [2]);
}

#[test]
fn utf16be_with_bom() {
    let mut bytes = vec![0xFE, 0xFF];
    bytes.extend("a\tb\n1\t2\n".encode_utf16().flat_map(u16::to_be_bytes));
    assert_eq!(read(&bytes).unwrap().rows[0].cells, ["1", "2"]);
}

#[test]
fn windows_1258_vietnamese() {
    // Windows-1258 has ê and ă precomposed but writes tone marks as combining characters.
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1258
        .encode("Ho ten;Noi sinh\nNguy\u{ea}\u{303}n V\u{103}n \u{c1}nh;H\u{e0} N\u{f4}\u{323}i\n");
    assert!(!unmappable);
    assert!(std::str::from_utf8(&bytes).is_err(), "the fixture must not be UTF-8");
    let sheet = read(&bytes).unwrap();
    assert_eq!(sheet.rows[0].cells[0], "Nguyễn Văn Ánh");
    assert_eq!(sheet.rows[0].cells[1], "Hà Nội");
    assert_eq!(sheet.headers, ["Ho ten", "Noi sinh"]);
}

#[test]
fn semicolon_csv_with_quotes_and_decimal_commas() {
    let sheet = read(b"Ma mau;Ct;Ghi chu\nXN-001;23,5;\"lan 1; lay lai\"\nXN-002;31,0;\n").unwrap();
    assert_eq!(sheet.headers, ["Ma mau", "Ct", "Ghi chu"]);
    assert_eq!(sheet.rows[0].cells, ["XN-001", "23,5", "lan 1; lay lai"]);
    assert_eq!(sheet.rows[1].cells, ["XN-002", "31,0", ""]);
}

#[test]
fn excel_separator_hint_line() {
    let sheet = read(b"sep=;\na;b\n1,5;2\n").unwrap();
    assert_eq!(sheet.headers, ["a", "b"]);
    assert_eq!(sheet.rows[0].cells, ["1,5", "2"]);
    assert_eq!(lines(&sheet), [3]);
    assert_eq!(read(b"sep=\t\r\na,b\tc\r\n1\t2\r\n").unwrap().headers, ["a,b", "c"]);
}

#[test]
fn line_numbers_count_empty_lines_and_multiline_cells() {
    let sheet = read(b"\nname,note\n\nAn,\"two\nlines\"\n,\nBinh,x\n").unwrap();
    assert_eq!(sheet.rows[0].cells, ["An", "two\nlines"]);
    // Line 3 is empty, line 4-5 hold one record, line 6 is only a separator.
    assert_eq!(lines(&sheet), [4, 7]);
    // Windows and old Mac line endings count as one line each.
    assert_eq!(lines(&read(b"a\r\n\r\n1\r\n2\r\n").unwrap()), [3, 4]);
    assert_eq!(lines(&read(b"a\r1\r\r2\r").unwrap()), [2, 4]);
}

#[test]
fn short_rows_are_padded_and_trailing_separators_ignored() {
    let sheet = read(b"a;b;c\n1\n1;2;3;;\n").unwrap();
    assert_eq!(sheet.rows[0].cells, ["1", "", ""]);
    assert_eq!(sheet.rows[1].cells, ["1", "2", "3"]);
}

#[test]
fn ragged_row_names_its_line() {
    let error = read(b"name,phone\nAn,0912\n\nBinh,0913,extra\n").unwrap_err();
    assert_eq!(error, SheetError::RaggedRow { line: 4, cells: 3, expected: 2 });
    assert_eq!(error.code(), "ragged_row");
    assert!(error.to_string().starts_with("Line 4 has 3 values but the header row has only 2 columns."));
}

#[test]
fn empty_unnamed_columns_are_dropped_and_named_ones_kept() {
    let sheet = read(b"a,,b,\n1,,2,\n3,,4,x\n").unwrap();
    assert_eq!(sheet.headers, ["a", "b", ""]);
    assert_eq!(sheet.rows[1].cells, ["3", "4", "x"]);
}

#[test]
fn duplicate_headers_after_folding() {
    let error = read("Họ tên,SĐT,ho_ten\nA,1,B\n".as_bytes()).unwrap_err();
    assert_eq!(error.code(), "duplicate_header");
    assert_eq!(
        error,
        SheetError::DuplicateHeader {
            first: "A".into(),
            first_name: "Họ tên".into(),
            second: "C".into(),
            second_name: "ho_ten".into(),
        }
    );
}

#[test]
fn empty_and_header_only_files() {
    assert_eq!(code(b""), "empty_file");
    assert_eq!(code(b"\xEF\xBB\xBF \r\n\r\n"), "empty_file");
    assert_eq!(code(b"name,phone\n"), "no_rows");
    assert_eq!(code(b"name,phone\n,\n  ,  \n"), "no_rows");
    assert_eq!(code(b",,,\n"), "no_rows");
}

#[test]
fn garbage_and_other_formats_are_refused() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let garbage: Vec<u8> = (0..4096).map(|_| rng.r#gen()).collect();
    assert_eq!(code(&garbage), "bad_encoding");
    assert_eq!(code(b"name\x00\x01\x02,x\nA,B\n"), "bad_encoding");
    let error = read(b"\xEF\xBB\xBFname\n\xFF\n").unwrap_err();
    assert_eq!(error.code(), "bad_encoding");
    assert!(error.to_string().contains("UTF-8"));
    assert_eq!(code(b"\xFF\xFEa\x00\x00\xD8"), "bad_encoding");

    assert_eq!(code(b"PK\x03\x04 this is not a workbook"), "unreadable_xlsx");
    assert_eq!(code(b"%PDF-1.7\n..."), "not_a_table");
    assert_eq!(code(b"  <!DOCTYPE html><html><table><tr><td>1</td></tr></table>"), "not_a_table");
    assert_eq!(code(b"<?xml version=\"1.0\"?><Workbook/>"), "not_a_table");
    let named_xlsx = read_sheet(b"name\nAn\n", Some("danh sach.XLSX"), &SheetLimits::default());
    assert_eq!(named_xlsx.unwrap_err().code(), "unreadable_xlsx");
    // A CSV with another name is still read by its content.
    assert!(read_sheet(b"name\nAn\n", Some("danh sach.xls"), &SheetLimits::default()).is_ok());
}

#[test]
fn legacy_xls_signature() {
    let mut bytes = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    bytes.extend([0u8; 504]);
    let error = read_sheet(&bytes, Some("ket qua.xls"), &SheetLimits::default()).unwrap_err();
    assert_eq!(error, SheetError::LegacyXls);
    assert!(error.to_string().contains(".xlsx"));
    assert!(error.to_string().contains("CSV"));
}

#[test]
fn limits() {
    let limits = SheetLimits { max_bytes: 3 * 1024 * 1024, max_rows: 2 };
    let big = vec![b'a'; 3 * 1024 * 1024 + 1];
    let error = read_sheet(&big, None, &limits).unwrap_err();
    assert_eq!(error.code(), "too_large");
    assert!(error.to_string().contains("3.1 MB, more than the 3 MB allowed"), "{error}");

    assert!(read_sheet(b"n\n1\n\n2\n", None, &limits).is_ok());
    let error = read_sheet(b"n\n1\n2\n3\n", None, &limits).unwrap_err();
    assert_eq!(error, SheetError::TooManyRows { limit: 2 });

    let defaults = SheetLimits::default();
    assert_eq!((defaults.max_bytes, defaults.max_rows), (64 * 1024 * 1024, 2_000_000));
}

// ---------- XLSX ----------

fn xlsx(build: impl FnOnce(&mut Workbook) -> Result<(), rust_xlsxwriter::XlsxError>) -> Vec<u8> {
    let mut workbook = Workbook::new();
    build(&mut workbook).unwrap();
    workbook.save_to_buffer().unwrap()
}

#[test]
fn xlsx_numbers_dates_and_text() {
    let bytes = xlsx(|workbook| {
        let date = Format::new().set_num_format("dd/mm/yyyy");
        let datetime = Format::new().set_num_format("dd/mm/yyyy hh:mm");
        let clock = Format::new().set_num_format("hh:mm");
        let sheet = workbook.add_worksheet();
        // The table starts at B3, under a blank row and beside a blank column.
        let headers = ["Họ và tên", "Số điện thoại", "Ngày sinh", "Ct", "Lấy mẫu lúc", "Giờ", "Dương tính", "Số lần"];
        for (column, header) in headers.iter().enumerate() {
            sheet.write_string(2, 1 + column as u16, *header)?;
        }
        sheet.write_string(3, 1, " Nguyễn Văn Ánh ")?;
        sheet.write_number(3, 2, 84912345678.0)?;
        sheet.write_datetime_with_format(3, 3, ExcelDateTime::from_ymd(1990, 8, 15)?, &date)?;
        sheet.write_number(3, 4, 23.5)?;
        sheet.write_datetime_with_format(3, 5, ExcelDateTime::from_ymd(2021, 7, 15)?.and_hms(8, 30, 0)?, &datetime)?;
        sheet.write_datetime_with_format(3, 6, ExcelDateTime::from_hms(14, 5, 0)?, &clock)?;
        sheet.write_boolean(3, 7, true)?;
        sheet.write_number(3, 8, 2.0)?;
        // Row 5 is left empty; row 6 has a decomposed name and a false.
        sheet.write_string(5, 1, "Nguye\u{302}\u{303}n B")?;
        sheet.write_boolean(5, 7, false)?;
        Ok(())
    });
    let sheet = read_sheet(&bytes, Some("ket qua.xlsx"), &SheetLimits::default()).unwrap();
    assert_eq!(sheet.headers[0], "Họ và tên");
    assert_eq!(sheet.headers.len(), 8);
    assert_eq!(
        sheet.rows[0].cells,
        ["Nguyễn Văn Ánh", "84912345678", "1990-08-15", "23.5", "2021-07-15T08:30:00", "14:05:00", "TRUE", "2"]
    );
    assert_eq!(sheet.rows[1].cells, ["Nguyễn B", "", "", "", "", "", "FALSE", ""]);
    assert_eq!(lines(&sheet), [4, 6]);
}

#[test]
fn xlsx_detected_by_content_whatever_the_name() {
    let bytes = xlsx(|workbook| {
        let sheet = workbook.add_worksheet();
        sheet.write_string(0, 0, "code")?;
        sheet.write_string(1, 0, "X1")?;
        Ok(())
    });
    let sheet = read_sheet(&bytes, Some("upload.csv"), &SheetLimits::default()).unwrap();
    assert_eq!(sheet.rows[0].cells, ["X1"]);
    assert_eq!(lines(&sheet), [2]);
}

#[test]
fn xlsx_merged_cells_are_refused() {
    let bytes = xlsx(|workbook| {
        let sheet = workbook.add_worksheet().set_name("Danh sách")?;
        sheet.write_string(0, 0, "Tỉnh")?;
        sheet.write_string(0, 1, "Họ tên")?;
        sheet.merge_range(1, 0, 2, 0, "Hà Nội", &Format::new())?;
        sheet.write_string(1, 1, "An")?;
        sheet.write_string(2, 1, "Bình")?;
        sheet.merge_range(3, 0, 3, 1, "Tổng", &Format::new())?;
        Ok(())
    });
    let error = read(&bytes).unwrap_err();
    assert_eq!(error, SheetError::MergedCells { sheet: "Danh sách".into(), range: "A2:A3".into(), more: 1 });
    assert_eq!(error.code(), "merged_cells");
    assert!(error.to_string().contains("A2:A3 and in 1 other place"), "{error}");
    assert!(error.to_string().contains("Unmerge"));
}

#[test]
fn xlsx_empty_workbook_and_empty_sheets() {
    assert_eq!(code(&xlsx(|_| Ok(()))), "no_rows");
    let headers_only = xlsx(|workbook| {
        workbook.add_worksheet();
        workbook.add_worksheet().write_string(0, 0, "name")?;
        Ok(())
    });
    assert_eq!(code(&headers_only), "no_rows");
}

#[test]
fn xlsx_reads_the_first_visible_sheet_with_data() {
    let bytes = xlsx(|workbook| {
        workbook.add_worksheet().set_name("Trống")?;
        let lists = workbook.add_worksheet().set_name("Danh mục")?;
        lists.write_string(0, 0, "tinh")?;
        lists.write_string(1, 0, "Hà Nội")?;
        lists.set_hidden(true);
        let data = workbook.add_worksheet().set_name("Dữ liệu")?;
        data.write_string(0, 0, "name")?;
        data.write_string(1, 0, "An")?;
        Ok(())
    });
    let sheet = read(&bytes).unwrap();
    assert_eq!(sheet.headers, ["name"]);
    assert_eq!(sheet.rows[0].cells, ["An"]);
}

#[test]
fn xlsx_duplicate_headers_named_by_excel_letter() {
    let bytes = xlsx(|workbook| {
        let sheet = workbook.add_worksheet();
        sheet.write_string(0, 2, "Số điện thoại")?;
        sheet.write_string(0, 3, "so dien thoai")?;
        sheet.write_string(1, 2, "1")?;
        Ok(())
    });
    match read(&bytes).unwrap_err() {
        SheetError::DuplicateHeader { first, second, .. } => assert_eq!((first.as_str(), second.as_str()), ("C", "D")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn xlsx_too_many_rows() {
    let bytes = xlsx(|workbook| {
        let sheet = workbook.add_worksheet();
        for row in 0..5 {
            sheet.write_number(row, 0, f64::from(row))?;
        }
        Ok(())
    });
    let limits = SheetLimits { max_rows: 3, ..SheetLimits::default() };
    assert_eq!(read_sheet(&bytes, None, &limits).unwrap_err().code(), "too_many_rows");
    let limits = SheetLimits { max_rows: 4, ..SheetLimits::default() };
    assert_eq!(read_sheet(&bytes, None, &limits).unwrap().rows.len(), 4);
}

// ---------- Header matching ----------

const NAME: Column = Column { key: "full_name", names: &["Họ và tên", "Họ tên", "Full name"], required: true };
const PHONE: Column = Column { key: "phone", names: &["Số điện thoại", "SĐT", "Phone"], required: true };
const BIRTH: Column = Column { key: "birth_date", names: &["Ngày sinh", "Date of birth"], required: true };
const EMAIL: Column = Column { key: "email", names: &["Email", "Thư điện tử"], required: false };

fn headers(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

#[test]
fn headers_match_with_or_without_diacritics() {
    let wanted = [NAME, PHONE, BIRTH, EMAIL];
    let with = headers(&["STT", "Họ và tên", "Số điện thoại", "Ngày sinh"]);
    assert_eq!(match_columns(&with, &wanted).unwrap(), [Some(1), Some(2), Some(3), None]);
    let without = headers(&["ho va ten", "SO_DIEN_THOAI", "ngay-sinh", "E.mail"]);
    assert_eq!(match_columns(&without, &wanted).unwrap(), [Some(0), Some(1), Some(2), Some(3)]);
    let english = headers(&["Date of Birth", "Full Name", "phone", "Email *"]);
    assert_eq!(match_columns(&english, &wanted).unwrap(), [Some(1), Some(2), Some(0), Some(3)]);
    let short = headers(&["Họ tên", "SĐT", "ngày sinh"]);
    assert_eq!(match_columns(&short, &wanted).unwrap(), [Some(0), Some(1), Some(2), None]);
}

#[test]
fn matched_columns_read_cells() {
    let sheet = read("SĐT,Họ tên,Ngày sinh\n0912,An,01/01/2000\n".as_bytes()).unwrap();
    let [name, phone, email] = match_columns(&sheet.headers, &[NAME, PHONE, EMAIL]).unwrap()[..] else {
        panic!("three columns");
    };
    assert_eq!(sheet.rows[0].cell(name), "An");
    assert_eq!(sheet.rows[0].cell(phone), "0912");
    assert_eq!(sheet.rows[0].cell(email), "");
}

#[test]
fn missing_required_columns_are_all_named() {
    let error = match_columns(&headers(&["Họ tên", "Email"]), &[NAME, PHONE, EMAIL]).unwrap_err();
    assert_eq!(error, SheetError::MissingColumn { missing: vec![PHONE] });
    assert_eq!(error.code(), "missing_column");
    assert_eq!(
        error.to_string(),
        "The file has no \"Số điện thoại\" column (accepted headers: \"Số điện thoại\", \"SĐT\", \"Phone\"). \
         Add the column, or rename its header to one of these, then upload the file again."
    );
    let error = match_columns(&headers(&["Email"]), &[NAME, PHONE, BIRTH, EMAIL]).unwrap_err();
    let message = error.to_string();
    assert!(message.starts_with("The file is missing 3 required columns: \"Họ và tên\""), "{message}");
    assert!(message.contains("\"Ngày sinh\" (accepted headers: \"Ngày sinh\", \"Date of birth\")"));
}

#[test]
fn every_error_has_its_own_code_and_a_sentence() {
    let errors = [
        SheetError::EmptyFile,
        SheetError::TooLarge { size: 70 * 1024 * 1024, limit: 64 * 1024 * 1024 },
        SheetError::LegacyXls,
        SheetError::NotATable { kind: "a PDF document" },
        SheetError::UnreadableXlsx { detail: "zip".into() },
        SheetError::BadEncoding { detail: "x".into() },
        SheetError::UnreadableCsv { line: 3, detail: "x".into() },
        SheetError::NoRows,
        SheetError::MergedCells { sheet: "S".into(), range: "A1:B1".into(), more: 0 },
        SheetError::RaggedRow { line: 2, cells: 3, expected: 2 },
        SheetError::DuplicateHeader {
            first: "A".into(),
            first_name: "a".into(),
            second: "B".into(),
            second_name: "a".into(),
        },
        SheetError::TooManyRows { limit: 10 },
        SheetError::MissingColumn { missing: vec![NAME] },
    ];
    let mut codes: Vec<&str> = errors.iter().map(SheetError::code).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), errors.len());
    for error in &errors {
        let message = error.to_string();
        assert!(message.ends_with('.') && message.chars().next().unwrap().is_uppercase(), "{message}");
    }
    assert!(errors[1].to_string().starts_with("The file is 70 MB, more than the 64 MB allowed."));
}
