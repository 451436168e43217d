//! Population figures per unit from CSV: a `code` column and a `population` column (header
//! names in English or Vietnamese: `ma`/`mã`, `dan_so`/`dân số`), comma or semicolon
//! separated, as statistics offices hand them out.

/// One row that could not be read, with its line number for the person fixing the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct RowError {
    pub line: u64,
    pub message: String,
}

/// Reads `(unit code, population)` pairs; every bad row is reported, none is skipped quietly.
pub fn parse_population_csv(data: &[u8]) -> Result<Vec<(String, i64)>, Vec<RowError>> {
    let text = String::from_utf8_lossy(data);
    let text = text.trim_start_matches('\u{feff}');
    let first_line = text.lines().next().unwrap_or_default();
    let delimiter = if first_line.matches(';').count() > first_line.matches(',').count() { b';' } else { b',' };
    let mut reader = csv::ReaderBuilder::new().delimiter(delimiter).flexible(true).from_reader(text.as_bytes());
    let header_error = |message: &str| vec![RowError { line: 1, message: message.to_owned() }];
    let headers = reader.headers().map_err(|e| header_error(&e.to_string()))?.clone();
    let find = |names: &[&str]| {
        headers.iter().position(|h| names.contains(&outbreak_domain::text::fold(&h.replace('_', " ")).as_str()))
    };
    let code_at =
        find(&["code", "ma", "ma don vi", "unit", "unit code"]).ok_or_else(|| header_error("no `code` column"))?;
    let population_at =
        find(&["population", "dan so", "so dan"]).ok_or_else(|| header_error("no `population` column"))?;
    let mut figures = Vec::new();
    let mut errors = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let line = index as u64 + 2;
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                errors.push(RowError { line, message: e.to_string() });
                continue;
            }
        };
        let code = record.get(code_at).unwrap_or_default().trim();
        let population = record.get(population_at).unwrap_or_default().trim().replace(['.', ',', ' '], "");
        match (code.is_empty(), population.parse::<i64>()) {
            (true, _) => errors.push(RowError { line, message: "the unit code is empty".into() }),
            (false, Ok(n)) if n >= 0 => figures.push((code.to_owned(), n)),
            (false, _) => {
                errors.push(RowError { line, message: format!("population {population:?} is not a whole number") })
            }
        }
    }
    if errors.is_empty() { Ok(figures) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vietnamese_headers_and_separators() {
        let csv = "Mã;Dân số\n00070;12.345\n00073;9876\n".as_bytes();
        assert_eq!(parse_population_csv(csv).unwrap(), [("00070".into(), 12345), ("00073".into(), 9876)]);
    }

    #[test]
    fn reports_every_bad_row() {
        let errors = parse_population_csv(b"code,population\n00070,abc\n,5\n00073,7\n").unwrap_err();
        assert_eq!(errors.iter().map(|e| e.line).collect::<Vec<_>>(), [2, 3]);
        assert!(parse_population_csv(b"name,size\nx,1\n").is_err());
    }
}
