//! Cell values as people type them in uploaded sheets: dates day first (`05/12/1990` is
//! 5 December, as written in Vietnam), local date-times, Excel serial numbers that lost their
//! date format, and decimals with a decimal comma. Each refusal says what to write instead.

use time::format_description::well_known::Rfc3339;
use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Why a cell could not be read; the message is for the person who typed the cell.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CellError {
    #[error("The cell is empty; a value is needed here.")]
    Empty,
    #[error(
        "\"{text}\" has a two-digit year, which could mean 19xx or 20xx; write the year in full (for example 05/12/1990)."
    )]
    TwoDigitYear { text: String },
    #[error("\"{text}\" is not a real date: {reason}.")]
    InvalidDate { text: String, reason: String },
    #[error("\"{text}\" is only a year; write the full date, day first (for example 15/08/{text}).")]
    YearOnly { text: String },
    #[error("\"{text}\" is not a date; write it day first as 05/12/1990, or as 1990-12-05 (year-month-day).")]
    NotADate { text: String },
    #[error("\"{text}\" has a date but no time; write the time too (for example 15/07/2021 08:30).")]
    MissingTime { text: String },
    #[error("\"{text}\" has a time that does not exist: {reason}.")]
    InvalidTime { text: String, reason: String },
    #[error(
        "\"{text}\" is not a date and time; write it as 15/07/2021 08:30, 2021-07-15 08:30, or 2021-07-15T08:30:00+07:00."
    )]
    NotADateTime { text: String },
    #[error(
        "\"{text}\" is not a number; write digits with at most one decimal point or comma (for example 23.5 or 23,5)."
    )]
    NotANumber { text: String },
    #[error(
        "\"{text}\" uses both . and , so it is unclear which one marks the decimals; write the number without thousands separators (for example 1234.5)."
    )]
    AmbiguousNumber { text: String },
}

impl CellError {
    /// A stable identifier for the kind of error, for APIs and translations.
    pub fn code(&self) -> &'static str {
        match self {
            CellError::Empty => "empty",
            CellError::TwoDigitYear { .. } => "two_digit_year",
            CellError::InvalidDate { .. } => "invalid_date",
            CellError::YearOnly { .. } => "year_only",
            CellError::NotADate { .. } => "not_a_date",
            CellError::MissingTime { .. } => "missing_time",
            CellError::InvalidTime { .. } => "invalid_time",
            CellError::NotADateTime { .. } => "not_a_datetime",
            CellError::NotANumber { .. } => "not_a_number",
            CellError::AmbiguousNumber { .. } => "ambiguous_number",
        }
    }
}

/// Serial numbers read as dates: 1910-01-01 ..= 9999-12-31 in Excel's 1900 system. The lower
/// bound keeps a bare year such as `1990` (serial 1990 would be 1905-06-12) from passing as a
/// date; no date an outbreak team records is that old.
const MIN_SERIAL: f64 = 3653.0;
const MAX_SERIAL: f64 = 2_958_466.0;

/// Reads a calendar date: `YYYY-MM-DD`, `YYYY/MM/DD`, day first `D/M/YYYY`, `DD-MM-YYYY`,
/// `DD.MM.YYYY`, an ISO date-time (its date is kept as written), or an Excel serial number
/// (1900 date system). Two-digit years are refused as ambiguous.
pub fn parse_date(text: &str) -> Result<Date, CellError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(CellError::Empty);
    }
    if let Some(serial) = serial_number(text) {
        return serial_in_range(text, serial, CellError::NotADate { text: shown(text) })
            .map(|serial| excel_serial_to_datetime(serial, false).map(|dt| dt.date()))?
            .ok_or_else(|| CellError::NotADate { text: shown(text) });
    }
    if let Ok(instant) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(instant.date());
    }
    let (date_part, time_part) = split_date_time(text);
    let date = parse_date_part(text, date_part)?;
    if let Some(time_part) = time_part {
        // The time is not kept, but a date followed by garbage is still not a date.
        parse_time(text, time_part).map_err(|error| match error {
            CellError::NotADateTime { text } => CellError::NotADate { text },
            other => other,
        })?;
    }
    Ok(date)
}

/// Reads an instant: RFC 3339 with its own offset (`2021-07-15T08:30:00+07:00`), or a local
/// date-time (`2021-07-15 08:30`, `15/07/2021 08:30:15`, `2021-07-15T08:30:00`) or an Excel
/// serial with a fraction of a day, both taken in `offset` (callers pass Vietnam's +07:00).
pub fn parse_datetime(text: &str, offset: UtcOffset) -> Result<OffsetDateTime, CellError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(CellError::Empty);
    }
    if let Ok(instant) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(instant);
    }
    // RFC 3339 allows a space for the `T` in prose; the parser does not.
    if let Some(instant) =
        text.split_once(' ').and_then(|(date, rest)| OffsetDateTime::parse(&format!("{date}T{rest}"), &Rfc3339).ok())
    {
        return Ok(instant);
    }
    if let Some(serial) = serial_number(text) {
        return serial_in_range(text, serial, CellError::NotADateTime { text: shown(text) })
            .map(|serial| excel_serial_to_datetime(serial, false))?
            .map(|local| local.assume_offset(offset))
            .ok_or_else(|| CellError::NotADateTime { text: shown(text) });
    }
    let (date_part, time_part) = split_date_time(text);
    let date = parse_date_part(text, date_part).map_err(|error| match error {
        CellError::NotADate { text } => CellError::NotADateTime { text },
        other => other,
    })?;
    let Some(time_part) = time_part else {
        return Err(CellError::MissingTime { text: shown(text) });
    };
    let time = parse_time(text, time_part)?;
    Ok(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

/// Reads a decimal number written with a decimal point (`23.5`) or a decimal comma (`23,5`,
/// as Vietnamese spreadsheets do). With only one separator allowed, `1.234` is one point
/// two three four: thousands separators are refused rather than guessed.
pub fn parse_decimal(text: &str) -> Result<f64, CellError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(CellError::Empty);
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let digits = unsigned.chars().filter(char::is_ascii_digit).count();
    let points = unsigned.matches('.').count();
    let commas = unsigned.matches(',').count();
    if points > 0 && commas > 0 {
        return Err(CellError::AmbiguousNumber { text: shown(text) });
    }
    let well_formed =
        digits > 0 && points + commas <= 1 && unsigned.chars().all(|c| c.is_ascii_digit() || c == '.' || c == ',');
    if !well_formed {
        return Err(CellError::NotANumber { text: shown(text) });
    }
    text.replace(',', ".").parse::<f64>().map_err(|_| CellError::NotANumber { text: shown(text) })
}

/// The date and time an Excel serial number stands for: whole days since the epoch and a
/// fraction of a day, rounded to the millisecond (Excel's precision) so that float noise in
/// `08:30` never shows as `08:29:59`. Serial 60 is Excel's 29 February 1900, which never
/// existed; serials 0–59 count from 31 December 1899 because of that extra day.
pub(crate) fn excel_serial_to_datetime(serial: f64, is_1904: bool) -> Option<PrimitiveDateTime> {
    if !serial.is_finite() || !(0.0..MAX_SERIAL).contains(&serial) {
        return None;
    }
    const MILLIS_PER_DAY: i64 = 86_400_000;
    let millis = (serial * MILLIS_PER_DAY as f64).round() as i64;
    let (days, millis_of_day) = (millis.div_euclid(MILLIS_PER_DAY), millis.rem_euclid(MILLIS_PER_DAY));
    let (epoch, days) = if is_1904 {
        (Date::from_calendar_date(1904, Month::January, 1).ok()?, days)
    } else if days >= 61 {
        (Date::from_calendar_date(1899, Month::December, 30).ok()?, days)
    } else if days == 60 {
        return None;
    } else {
        (Date::from_calendar_date(1899, Month::December, 31).ok()?, days)
    };
    let date = epoch.checked_add(Duration::days(days))?;
    let time = Time::MIDNIGHT + Duration::milliseconds(millis_of_day);
    Some(PrimitiveDateTime::new(date, time))
}

/// A bare number (digits, at most one `.` or `,` before a fraction), as a cell that lost its
/// date format shows a serial.
fn serial_number(text: &str) -> Option<f64> {
    let (whole, fraction) = match text.split_once(['.', ',']) {
        Some((whole, fraction)) => (whole, fraction),
        None => (text, "0"),
    };
    let all_digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    if !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    format!("{whole}.{fraction}").parse().ok()
}

fn serial_in_range(text: &str, serial: f64, otherwise: CellError) -> Result<f64, CellError> {
    if (MIN_SERIAL..MAX_SERIAL).contains(&serial) {
        Ok(serial)
    } else if serial.fract() == 0.0 && (1000.0..3000.0).contains(&serial) {
        Err(CellError::YearOnly { text: shown(text) })
    } else {
        Err(otherwise)
    }
}

/// Splits `2021-07-15T08:30`, `15/07/2021 08:30` into their date and time.
fn split_date_time(text: &str) -> (&str, Option<&str>) {
    match text.split_once(['T', 't', ' ']) {
        Some((date, time)) => (date, Some(time.trim_start())),
        None => (text, None),
    }
}

fn parse_date_part(text: &str, date_part: &str) -> Result<Date, CellError> {
    let not_a_date = || CellError::NotADate { text: shown(text) };
    let separator = date_part.chars().find(|c| !c.is_ascii_digit()).ok_or_else(not_a_date)?;
    if !matches!(separator, '-' | '/' | '.') {
        return Err(not_a_date());
    }
    let parts: Vec<&str> = date_part.split(separator).collect();
    let [first, second, third] = parts.as_slice() else {
        return Err(not_a_date());
    };
    if [first, second, third].iter().any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit())) {
        return Err(not_a_date());
    }
    let (year, month, day) = match (first.len(), second.len(), third.len()) {
        (4, 1..=2, 1..=2) => (first, second, third),
        (1..=2, 1..=2, 4) => (third, second, first),
        (1..=2, 1..=2, 1..=2) => return Err(CellError::TwoDigitYear { text: shown(text) }),
        _ => return Err(not_a_date()),
    };
    let number = |s: &str| s.parse::<u16>().map_err(|_| not_a_date());
    let (year, month, day) = (number(year)?, number(month)?, number(day)?);
    let invalid = |reason: String| CellError::InvalidDate { text: shown(text), reason };
    let month = u8::try_from(month)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or_else(|| invalid(format!("there is no month {month}")))?;
    let length = month.length(i32::from(year));
    if day == 0 || day > u16::from(length) {
        return Err(invalid(format!("{month} {year} has {length} days, not {day}")));
    }
    Date::from_calendar_date(i32::from(year), month, day as u8).map_err(|e| invalid(e.to_string()))
}

/// `H:MM`, `HH:MM:SS`, `HH:MM:SS.fff`.
fn parse_time(text: &str, time_part: &str) -> Result<Time, CellError> {
    let not_a_datetime = || CellError::NotADateTime { text: shown(text) };
    let (clock, fraction) = match time_part.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (time_part, None),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    let field = |s: &str, max_len: usize| {
        if (1..=max_len).contains(&s.len()) && s.chars().all(|c| c.is_ascii_digit()) {
            s.parse::<u8>().map_err(|_| not_a_datetime())
        } else {
            Err(not_a_datetime())
        }
    };
    let (hour, minute, second) = match parts.as_slice() {
        [h, m] if m.len() == 2 && fraction.is_none() => (field(h, 2)?, field(m, 2)?, 0),
        [h, m, s] if m.len() == 2 && s.len() == 2 => (field(h, 2)?, field(m, 2)?, field(s, 2)?),
        _ => return Err(not_a_datetime()),
    };
    let nanos = match fraction {
        None => 0,
        Some(f) if (1..=9).contains(&f.len()) && f.chars().all(|c| c.is_ascii_digit()) => {
            format!("{f:0<9}").parse::<u32>().map_err(|_| not_a_datetime())?
        }
        Some(_) => return Err(not_a_datetime()),
    };
    Time::from_hms_nano(hour, minute, second, nanos).map_err(|_| CellError::InvalidTime {
        text: shown(text),
        reason: format!("{hour:02}:{minute:02}:{second:02} is not a time of day"),
    })
}

/// The cell's text as quoted back in a message, cut short so a pasted paragraph does not
/// swamp the error list.
fn shown(text: &str) -> String {
    const MAX_CHARS: usize = 40;
    if text.chars().count() <= MAX_CHARS {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(MAX_CHARS).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn serial_epochs() {
        let date = |serial, is_1904| excel_serial_to_datetime(serial, is_1904).unwrap().date().to_string();
        assert_eq!(date(1.0, false), "1900-01-01");
        assert_eq!(date(59.0, false), "1900-02-28");
        assert!(excel_serial_to_datetime(60.0, false).is_none());
        assert_eq!(date(61.0, false), "1900-03-01");
        assert_eq!(date(0.0, true), "1904-01-01");
        assert_eq!(date(33100.0 - 1462.0, true), "1990-08-15");
        let noisy = excel_serial_to_datetime(45488.0 + 8.5 / 24.0 - 1e-9, false).unwrap();
        assert_eq!(noisy.to_string(), "2024-07-15 8:30:00.0");
    }
}
