//! Registering, finding and changing people. Staff act within their jurisdiction and every
//! read or change is audited; citizens see the people registered with their own phone.

use outbreak_domain::{Invalid, NewPerson, Permission, Person, PersonId, Principal, Unit, UnitLevel, now, text};
use outbreak_store::{PersonQuery, PersonRecord};

use crate::{Caller, Result, ServiceError, Services};

/// Results per page of a people search.
pub const SEARCH_PAGE: u32 = 50;

impl Services {
    /// Registers a person as staff: the address must lie in the caller's jurisdiction.
    pub async fn register_person(&self, caller: &Caller, input: &NewPerson) -> Result<PersonRecord> {
        let jurisdiction = self.authorize(caller, Permission::WritePeople)?;
        let valid = input.validate(now().date())?;
        let address = self.address_unit(&valid.address_unit, valid.household.as_ref()).await?;
        if !jurisdiction.covers(&address.path) {
            return Err(ServiceError::Forbidden("the address is outside your jurisdiction".into()));
        }
        let person = valid.into_person(PersonId::new(), now());
        self.insert_person(&person).await?;
        self.audit(caller, "person.create", "person", &person.id.to_string(), "").await?;
        Ok(PersonRecord { person, address_path: address.path })
    }

    /// Registers a citizen themselves; the record carries the phone they signed in with.
    pub async fn register_self(&self, caller: &Caller, input: &NewPerson) -> Result<PersonRecord> {
        let Principal::Citizen { phone } = &caller.principal else {
            return Err(ServiceError::Forbidden("only a signed-in citizen can register themselves".into()));
        };
        let input = NewPerson { phone: Some(phone.as_str().to_owned()), ..input.clone() };
        let valid = input.validate(now().date())?;
        let address = self.address_unit(&valid.address_unit, valid.household.as_ref()).await?;
        let person = valid.into_person(PersonId::new(), now());
        self.insert_person(&person).await?;
        self.audit(caller, "person.create", "person", &person.id.to_string(), "self-registration").await?;
        Ok(PersonRecord { person, address_path: address.path })
    }

    async fn insert_person(&self, person: &Person) -> Result<()> {
        self.store.insert_person(person).await.map_err(|e| match ServiceError::from(e) {
            ServiceError::Conflict { field, existing, .. } => ServiceError::Conflict {
                message: format!("a person with this {} is already registered", field.replace('_', " ")),
                field,
                existing,
            },
            other => other,
        })
    }

    /// The unit of an address: known, a commune or below; the household, when given, a
    /// household unit inside the same commune.
    async fn address_unit(
        &self,
        code: &outbreak_domain::UnitCode,
        household: Option<&outbreak_domain::UnitCode>,
    ) -> Result<Unit> {
        let unknown = |field: &str| Invalid::new(field, "unknown_unit", format!("{field} is not a known unit code"));
        let unit = self.store.unit(code).await?.ok_or_else(|| unknown("address_unit"))?;
        if unit.level < UnitLevel::Commune {
            return Err(Invalid::new(
                "address_unit",
                "too_broad",
                "an address must be in a commune or a unit below it",
            )
            .into());
        }
        if let Some(code) = household {
            let household = self.store.unit(code).await?.ok_or_else(|| unknown("household"))?;
            let commune_path: String = unit.path.split_inclusive('/').take(4).collect();
            if household.level != UnitLevel::Household || !household.path.starts_with(&commune_path) {
                return Err(Invalid::new(
                    "household",
                    "mismatch",
                    "household must be a household unit in the address's commune",
                )
                .into());
            }
        }
        Ok(unit)
    }

    /// Opens one person's record: staff within their jurisdiction (audited), or a citizen
    /// for a person registered with their phone.
    pub async fn person(&self, caller: &Caller, id: PersonId) -> Result<PersonRecord> {
        let record = self.store.person(id).await?.ok_or_else(|| ServiceError::NotFound("person".into()))?;
        match &caller.principal {
            Principal::Citizen { phone } => {
                if record.person.phone.as_ref() != Some(phone) {
                    return Err(ServiceError::NotFound("person".into()));
                }
            }
            Principal::Staff { .. } => {
                self.authorize_unit(caller, Permission::ReadPeople, &record.address_path)?;
                self.audit(caller, "person.read", "person", &id.to_string(), "").await?;
            }
        }
        Ok(record)
    }

    /// Replaces a person's details; both the old and the new address must be in reach.
    pub async fn update_person(&self, caller: &Caller, id: PersonId, input: &NewPerson) -> Result<PersonRecord> {
        let jurisdiction = self.authorize(caller, Permission::WritePeople)?;
        let record = self.store.person(id).await?.ok_or_else(|| ServiceError::NotFound("person".into()))?;
        if !jurisdiction.covers(&record.address_path) {
            return Err(ServiceError::Forbidden("this record is outside your jurisdiction".into()));
        }
        let valid = input.validate(now().date())?;
        let address = self.address_unit(&valid.address_unit, valid.household.as_ref()).await?;
        if !jurisdiction.covers(&address.path) {
            return Err(ServiceError::Forbidden("the new address is outside your jurisdiction".into()));
        }
        let person = Person { updated_at: now(), ..valid.into_person(id, record.person.created_at) };
        self.store.update_person(&person).await.map_err(|e| match ServiceError::from(e) {
            ServiceError::Conflict { field, existing, .. } => ServiceError::Conflict {
                message: format!("another person is registered with this {}", field.replace('_', " ")),
                field,
                existing,
            },
            other => other,
        })?;
        self.audit(caller, "person.update", "person", &id.to_string(), "").await?;
        Ok(PersonRecord { person, address_path: address.path })
    }

    /// Finds people in the caller's jurisdiction. The query is a CCCD, a phone, a
    /// health-insurance number, or words of a name (diacritics optional).
    pub async fn search_people(&self, caller: &Caller, q: &str, page: u32) -> Result<Vec<PersonRecord>> {
        let jurisdiction = self.authorize(caller, Permission::ReadPeople)?;
        let q = q.trim();
        if q.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = PersonQuery {
            scope: jurisdiction.paths,
            limit: SEARCH_PAGE,
            offset: page * SEARCH_PAGE,
            ..PersonQuery::default()
        };
        if let Ok(cccd) = outbreak_domain::Cccd::parse("q", q) {
            query.cccd = Some(cccd.as_str().to_owned());
        } else if let Ok(phone) = outbreak_domain::Phone::parse("q", q) {
            query.phone = Some(phone.as_str().to_owned());
        } else if let Ok(number) = outbreak_domain::InsuranceNumber::parse("q", q) {
            query.insurance_number = Some(number.as_str().to_owned());
        } else {
            let folded = text::fold(q);
            if folded.chars().count() < 2 || folded.chars().count() > 100 {
                return Err(Invalid::new(
                    "q",
                    "invalid_length",
                    "search with 2 to 100 characters of a name, or an identifier",
                )
                .into());
            }
            query.name = Some(folded);
        }
        let found = self.store.search_people(&query).await?;
        self.audit(caller, "person.search", "person", "", &format!("q={q} page={page} results={}", found.len()))
            .await?;
        Ok(found)
    }

    /// The people registered with the signed-in citizen's phone.
    pub async fn my_people(&self, caller: &Caller) -> Result<Vec<PersonRecord>> {
        match &caller.principal {
            Principal::Citizen { phone } => Ok(self.store.people_by_phone(phone).await?),
            Principal::Staff { .. } => Err(ServiceError::Forbidden("this page is for citizens".into())),
        }
    }
}
