//! Cell values as typed in Vietnamese spreadsheets: day-first dates, local times, decimal commas.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use outbreak_formats::cells::{CellError, parse_date, parse_datetime, parse_decimal};
use time::macros::{date, datetime, offset};

#[test]
fn dates_in_every_written_form() {
    for text in [
        "1990-12-05",
        "05/12/1990",
        "5/12/1990",
        "05-12-1990",
        "05.12.1990",
        "1990/12/05",
        "1990-12-05T10:15:00",
        "1990-12-05 10:15",
        "1990-12-05T23:30:00+07:00",
        " 05/12/1990 ",
    ] {
        assert_eq!(parse_date(text).unwrap(), date!(1990 - 12 - 05), "{text}");
    }
    // Day first: 05/12 is 5 December, and 13/01 can only be 13 January.
    assert_eq!(parse_date("13/1/2021").unwrap(), date!(2021 - 01 - 13));
    assert_eq!(parse_date("29/02/2020").unwrap(), date!(2020 - 02 - 29));
}

#[test]
fn excel_serials() {
    assert_eq!(parse_date("33100").unwrap(), date!(1990 - 08 - 15));
    assert_eq!(parse_date("44197").unwrap(), date!(2021 - 01 - 01));
    assert_eq!(parse_date("44197.75").unwrap(), date!(2021 - 01 - 01));
    assert_eq!(parse_date("1990").unwrap_err().code(), "year_only");
    assert_eq!(parse_date("12").unwrap_err().code(), "not_a_date");
    assert_eq!(parse_date("99999999").unwrap_err().code(), "not_a_date");
}

#[test]
fn dates_refused_with_a_reason() {
    let error = parse_date("31/02/2020").unwrap_err();
    assert_eq!(error.code(), "invalid_date");
    assert_eq!(error.to_string(), "\"31/02/2020\" is not a real date: February 2020 has 29 days, not 31.");
    assert_eq!(parse_date("01/13/2020").unwrap_err().code(), "invalid_date");
    assert_eq!(parse_date("00/12/2020").unwrap_err().code(), "invalid_date");
    assert_eq!(parse_date("05/12/90").unwrap_err().code(), "two_digit_year");
    assert_eq!(parse_date("90-12-05").unwrap_err().code(), "two_digit_year");
    assert!(parse_date("05/12/90").unwrap_err().to_string().contains("write the year in full"));
    assert_eq!(parse_date("05/12-1990").unwrap_err().code(), "not_a_date");
    assert_eq!(parse_date("hôm qua").unwrap_err().code(), "not_a_date");
    assert_eq!(parse_date("1990-12-05 noon").unwrap_err().code(), "not_a_date");
    assert_eq!(parse_date("  ").unwrap_err(), CellError::Empty);
    let long = "x".repeat(500);
    assert!(parse_date(&long).unwrap_err().to_string().len() < 200, "a pasted paragraph is cut short");
}

#[test]
fn datetimes_with_and_without_offset() {
    let vietnam = offset!(+7);
    assert_eq!(parse_datetime("2021-07-15T08:30:00Z", vietnam).unwrap(), datetime!(2021-07-15 08:30 UTC));
    assert_eq!(parse_datetime("2021-07-15T08:30:00+02:00", vietnam).unwrap(), datetime!(2021-07-15 08:30 +2));
    assert_eq!(parse_datetime("2021-07-15 08:30:00+07:00", vietnam).unwrap(), datetime!(2021-07-15 08:30 +7));
    for text in
        ["2021-07-15 08:30", "2021-07-15T08:30:00", "15/07/2021 08:30", "15/07/2021 8:30:00", "15.07.2021 08:30"]
    {
        assert_eq!(parse_datetime(text, vietnam).unwrap(), datetime!(2021-07-15 08:30 +7), "{text}");
    }
    assert_eq!(parse_datetime("2021-07-15 08:30:15.25", vietnam).unwrap(), datetime!(2021-07-15 08:30:15.25 +7));
    // 44392 is 2021-07-15; .5 is noon.
    assert_eq!(parse_datetime("44392.5", vietnam).unwrap(), datetime!(2021-07-15 12:00 +7));
    assert_eq!(parse_datetime("44392", vietnam).unwrap(), datetime!(2021-07-15 00:00 +7));
}

#[test]
fn datetimes_refused() {
    let vietnam = offset!(+7);
    assert_eq!(parse_datetime("15/07/2021", vietnam).unwrap_err().code(), "missing_time");
    assert_eq!(parse_datetime("15/07/2021 25:00", vietnam).unwrap_err().code(), "invalid_time");
    assert_eq!(parse_datetime("15/07/2021 08:61", vietnam).unwrap_err().code(), "invalid_time");
    assert_eq!(parse_datetime("15/07/2021 8h30", vietnam).unwrap_err().code(), "not_a_datetime");
    assert_eq!(parse_datetime("sáng nay", vietnam).unwrap_err().code(), "not_a_datetime");
    assert_eq!(parse_datetime("31/06/2021 08:00", vietnam).unwrap_err().code(), "invalid_date");
    assert_eq!(parse_datetime("15/07/21 08:00", vietnam).unwrap_err().code(), "two_digit_year");
    assert_eq!(parse_datetime("", vietnam).unwrap_err().code(), "empty");
}

#[test]
fn decimals_with_point_or_comma() {
    assert_eq!(parse_decimal("23.5").unwrap(), 23.5);
    assert_eq!(parse_decimal("23,5").unwrap(), 23.5);
    assert_eq!(parse_decimal(" 38 ").unwrap(), 38.0);
    assert_eq!(parse_decimal("-0,25").unwrap(), -0.25);
    assert_eq!(parse_decimal("+1").unwrap(), 1.0);
    assert_eq!(parse_decimal("1.234,5").unwrap_err().code(), "ambiguous_number");
    assert_eq!(parse_decimal("1,234.5").unwrap_err().code(), "ambiguous_number");
    assert_eq!(parse_decimal("1.234.567").unwrap_err().code(), "not_a_number");
    for text in ["abc", "23.5°C", "NaN", "inf", "1e5", ".", "-", "--1"] {
        assert_eq!(parse_decimal(text).unwrap_err().code(), "not_a_number", "{text}");
    }
    assert_eq!(parse_decimal("").unwrap_err(), CellError::Empty);
}
