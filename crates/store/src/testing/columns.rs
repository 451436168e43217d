//! Stored testing columns back into records, the same way for both stores. Ids arrive as
//! `Uuid` (the stores parse their own id types) and words as text, checked on the way out.

use outbreak_domain::testing::{
    Barcode, CaseId, CaseStatus, Conclusion, Outcome, PoolId, SessionId, SpecimenId, SpecimenStatus, TestType,
};
use outbreak_domain::{Invalid, PersonId, UnitCode};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::plan::{PoolState, SpecimenState};
use super::{Case, Pool, PoolRef, SamplingSession, Specimen};
use crate::{Result, StoreError};

/// A stored word (`rt_pcr`, `resulted`, …) back into its type.
pub(crate) fn word<T>(parse: fn(&str, &str) -> Result<T, Invalid>, text: &str) -> Result<T> {
    parse("stored", text).map_err(|_| StoreError::Backend(format!("stored word {text:?} does not parse")))
}

pub(crate) fn day(text: &str) -> Result<Date> {
    outbreak_domain::testing::parse_date("stored", text)
        .map_err(|_| StoreError::Backend(format!("stored date {text:?} does not parse")))
}

fn unit(text: &str) -> Result<UnitCode> {
    UnitCode::parse("stored", text).map_err(|_| StoreError::Backend(format!("stored unit {text:?} does not parse")))
}

pub(crate) struct SessionColumns {
    pub id: Uuid,
    pub site: String,
    pub unit: String,
    pub unit_path: String,
    pub day: String,
    pub team: String,
    pub test_type: String,
    pub pool_size: Option<i64>,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub closed_at: Option<OffsetDateTime>,
}

impl SessionColumns {
    pub fn decode(self) -> Result<SamplingSession> {
        Ok(SamplingSession {
            id: SessionId(self.id),
            site: self.site,
            unit: unit(&self.unit)?,
            unit_path: self.unit_path,
            date: day(&self.day)?,
            team: self.team,
            test_type: word(TestType::parse, &self.test_type)?,
            pool_size: self.pool_size,
            created_by: self.created_by,
            created_at: self.created_at,
            closed_at: self.closed_at,
        })
    }
}

/// A `specimens` row with its pool's label.
pub(crate) struct SpecimenColumns {
    pub id: Uuid,
    pub barcode: String,
    pub session: Uuid,
    pub person: Uuid,
    pub test_type: String,
    pub site_path: String,
    pub home_path: String,
    pub collected_at: OffsetDateTime,
    pub pool: Option<Uuid>,
    pub pool_barcode: Option<String>,
    pub status: String,
    pub conclusion: Option<String>,
    pub ct: Option<f64>,
    pub resulted_at: Option<OffsetDateTime>,
    pub reject_reason: Option<String>,
    pub retest_of: Option<Uuid>,
}

impl SpecimenColumns {
    pub fn decode(self) -> Result<Specimen> {
        let pool = match (self.pool, self.pool_barcode) {
            (Some(id), Some(barcode)) => Some(PoolRef { id: PoolId(id), barcode: Barcode::from_stored(barcode) }),
            _ => None,
        };
        Ok(Specimen {
            id: SpecimenId(self.id),
            barcode: Barcode::from_stored(self.barcode),
            session: SessionId(self.session),
            person: PersonId(self.person),
            test_type: word(TestType::parse, &self.test_type)?,
            site_path: self.site_path,
            home_path: self.home_path,
            collected_at: self.collected_at,
            pool,
            status: word(SpecimenStatus::parse, &self.status)?,
            conclusion: self.conclusion.as_deref().map(|c| word(Conclusion::parse, c)).transpose()?,
            ct: self.ct,
            resulted_at: self.resulted_at,
            reject_reason: self.reject_reason,
            retest_of: self.retest_of.map(SpecimenId),
        })
    }

    pub fn state(self) -> Result<SpecimenState> {
        let specimen = self.decode()?;
        Ok(SpecimenState {
            id: specimen.id,
            barcode: specimen.barcode.to_string(),
            person: specimen.person,
            home_path: specimen.home_path,
            site_path: specimen.site_path,
            test_type: specimen.test_type,
            collected_at: specimen.collected_at,
            pool: specimen.pool.map(|p| (p.id, p.barcode.to_string())),
            status: specimen.status,
            conclusion: specimen.conclusion,
            ct: specimen.ct,
            resulted_at: specimen.resulted_at,
        })
    }
}

/// A `pools` row joined with its session's test type and unit path.
pub(crate) struct PoolColumns {
    pub id: Uuid,
    pub barcode: String,
    pub session: Uuid,
    pub size_limit: i64,
    pub members: i64,
    pub closed: bool,
    pub status: String,
    pub outcome: Option<String>,
    pub ct: Option<f64>,
    pub resulted_at: Option<OffsetDateTime>,
    pub reject_reason: Option<String>,
    pub site_path: String,
    pub test_type: String,
}

impl PoolColumns {
    pub fn decode(self) -> Result<(Pool, TestType)> {
        Ok((
            Pool {
                id: PoolId(self.id),
                barcode: Barcode::from_stored(self.barcode),
                session: SessionId(self.session),
                size_limit: self.size_limit,
                members: self.members,
                closed: self.closed,
                status: word(SpecimenStatus::parse, &self.status)?,
                outcome: self.outcome.as_deref().map(|o| word(Outcome::parse, o)).transpose()?,
                ct: self.ct,
                resulted_at: self.resulted_at,
                reject_reason: self.reject_reason,
                site_path: self.site_path,
            },
            word(TestType::parse, &self.test_type)?,
        ))
    }

    pub fn state(self, members: Vec<SpecimenId>) -> Result<PoolState> {
        let (pool, test_type) = self.decode()?;
        Ok(PoolState {
            id: pool.id,
            barcode: pool.barcode.to_string(),
            site_path: pool.site_path,
            test_type,
            status: pool.status,
            outcome: pool.outcome,
            ct: pool.ct,
            resulted_at: pool.resulted_at,
            members,
            swabs: pool.members,
        })
    }
}

pub(crate) struct CaseColumns {
    pub id: Uuid,
    pub person: Uuid,
    pub unit: String,
    pub unit_path: String,
    pub source: String,
    pub specimen: Option<Uuid>,
    pub sample_date: Option<String>,
    pub onset_date: Option<String>,
    pub confirmed_at: OffsetDateTime,
    pub status: String,
    pub note: String,
}

impl CaseColumns {
    pub fn decode(self) -> Result<Case> {
        Ok(Case {
            id: CaseId(self.id),
            person: PersonId(self.person),
            unit: unit(&self.unit)?,
            unit_path: self.unit_path,
            source: self.source,
            specimen: self.specimen.map(SpecimenId),
            sample_date: self.sample_date.as_deref().map(day).transpose()?,
            onset_date: self.onset_date.as_deref().map(day).transpose()?,
            confirmed_at: self.confirmed_at,
            status: word(CaseStatus::parse, &self.status)?,
            note: self.note,
        })
    }
}
