//! SQLite rows to records: column lists, time encoding, and per-table row readers.

use rusqlite::Row;
use time::OffsetDateTime;

use crate::Result;
use crate::decode::{PersonColumns, unit};
pub(super) use crate::decode::{grant, otp, owner_columns, parse_uuid, session};
use crate::records::*;

pub(super) const UNIT_COLUMNS: &str = "code, parent_code, level, name, division_type, path, population";
pub(super) const PERSON_COLUMNS: &str = "id, full_name, date_of_birth, sex, phone, cccd, insurance_number, address_unit, \
     street, household, created_at, updated_at, address_path";
pub(super) const ACCOUNT_COLUMNS: &str = "id, kind, username, display_name, password_hash, disabled, created_at";
pub(super) const TOKEN_COLUMNS: &str = "id, account_id, name, hash, created_at, revoked_at";
pub(super) const QR_COLUMNS: &str = "id, person_id, kid, issued_at, revoked_at";

/// Times are stored as microseconds since the Unix epoch.
pub(super) fn micros(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000) as i64
}

pub(super) fn from_micros(micros: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub(super) fn unit_params(u: &outbreak_domain::Unit) -> Vec<Box<dyn rusqlite::ToSql>> {
    vec![
        Box::new(u.code.to_string()),
        Box::new(u.parent.as_ref().map(ToString::to_string)),
        Box::new(u.level.as_str()),
        Box::new(u.name.clone()),
        Box::new(outbreak_domain::text::fold(&u.name)),
        Box::new(u.division_type.clone()),
        Box::new(u.path.clone()),
        Box::new(u.population),
    ]
}

pub(super) fn unit_row(r: &Row) -> rusqlite::Result<outbreak_domain::Unit> {
    unit(r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)
        .map_err(|e| rusqlite::Error::InvalidColumnType(0, e.to_string(), rusqlite::types::Type::Text))
}

pub(super) fn person_row(r: &Row) -> rusqlite::Result<Result<PersonRecord>> {
    let id: String = r.get(0)?;
    Ok(parse_uuid(&id).and_then(|id| {
        PersonColumns {
            id,
            full_name: r.get(1)?,
            date_of_birth: r.get(2)?,
            sex: r.get(3)?,
            phone: r.get(4)?,
            cccd: r.get(5)?,
            insurance_number: r.get(6)?,
            address_unit: r.get(7)?,
            street: r.get(8)?,
            household: r.get(9)?,
            created_at: from_micros(r.get(10)?),
            updated_at: from_micros(r.get(11)?),
            address_path: r.get(12)?,
        }
        .decode()
    }))
}

pub(super) fn account_row(r: &Row) -> rusqlite::Result<Result<Account>> {
    let id: String = r.get(0)?;
    let kind: String = r.get(1)?;
    let (username, display_name, password_hash, disabled, created) =
        (r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?);
    Ok(parse_uuid(&id).map(|id| Account {
        id,
        kind: AccountKind::parse(&kind),
        username,
        display_name,
        password_hash,
        grants: Vec::new(),
        disabled,
        created_at: from_micros(created),
    }))
}

pub(super) fn token_row(r: &Row) -> rusqlite::Result<Result<ApiToken>> {
    let (id, account): (String, String) = (r.get(0)?, r.get(1)?);
    let (name, hash, created, revoked): (String, Vec<u8>, i64, Option<i64>) =
        (r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?);
    Ok((|| {
        Ok(ApiToken {
            id: parse_uuid(&id)?,
            account_id: parse_uuid(&account)?,
            name,
            hash,
            created_at: from_micros(created),
            revoked_at: revoked.map(from_micros),
        })
    })())
}

pub(super) fn qr_row(r: &Row) -> rusqlite::Result<Result<QrToken>> {
    let (id, person, kid, issued, revoked): (String, String, String, i64, Option<i64>) =
        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
    Ok(parse_uuid(&person).map(|person| QrToken {
        id,
        person: outbreak_domain::PersonId(person),
        kid,
        issued_at: from_micros(issued),
        revoked_at: revoked.map(from_micros),
    }))
}
