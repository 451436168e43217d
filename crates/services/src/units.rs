//! Administrative units: anyone may look them up (they are public facts); staff with the
//! right role add neighbourhoods and households below their communes and import population
//! figures for their units.

use outbreak_domain::{Invalid, Permission, Unit, UnitCode, text};
use outbreak_formats::population::parse_population_csv;

use crate::{Caller, Result, ServiceError, Services};

impl Services {
    pub async fn unit(&self, code: &str) -> Result<Unit> {
        let code = UnitCode::parse("code", code)?;
        self.store.unit(&code).await?.ok_or_else(|| ServiceError::NotFound(format!("unit {code}")))
    }

    pub async fn child_units(&self, code: &str) -> Result<Vec<Unit>> {
        let unit = self.unit(code).await?;
        Ok(self.store.child_units(&unit.code).await?)
    }

    /// Units whose name contains the words of `q` (diacritics optional), or whose code is `q`.
    pub async fn find_units(&self, q: &str, limit: u32) -> Result<Vec<Unit>> {
        let folded = text::fold(q);
        if folded.is_empty() || folded.chars().count() > 100 {
            return Err(Invalid::new("q", "invalid_length", "search with 1 to 100 characters").into());
        }
        Ok(self.store.find_units(&folded, &["/".into()], limit.clamp(1, 100)).await?)
    }

    /// Adds a neighbourhood below a commune, or a household below a neighbourhood.
    pub async fn add_child_unit(
        &self,
        caller: &Caller,
        parent: &str,
        local_code: &str,
        name: &str,
        division_type: &str,
    ) -> Result<Unit> {
        let parent = self.unit(parent).await?;
        self.authorize_unit(caller, Permission::ManageUnits, &parent.path)?;
        let unit = Unit::new_child(&parent, local_code, name, division_type)?;
        self.store.insert_unit(&unit).await.map_err(|e| match ServiceError::from(e) {
            ServiceError::Conflict { .. } => ServiceError::Conflict {
                field: "code".into(),
                message: format!("{} already has a unit with code {local_code}", parent.name),
                existing: Some(unit.code.to_string()),
            },
            other => other,
        })?;
        self.audit(caller, "unit.create", "unit", unit.code.as_str(), &unit.name).await?;
        Ok(unit)
    }

    /// Sets population figures from a CSV file; all rows are applied or none.
    pub async fn import_population(&self, caller: &Caller, csv: &[u8]) -> Result<usize> {
        let jurisdiction = self.authorize(caller, Permission::ManageUnits)?;
        let rows = parse_population_csv(csv).map_err(|errors| {
            let listed: Vec<String> = errors.iter().take(10).map(ToString::to_string).collect();
            Invalid::new(
                "file",
                "invalid_rows",
                format!("{} bad rows, nothing imported: {}", errors.len(), listed.join("; ")),
            )
        })?;
        let mut figures = Vec::with_capacity(rows.len());
        for (line, (code, population)) in rows.into_iter().enumerate() {
            let Ok(code) = UnitCode::parse("code", &code) else {
                return Err(Invalid::new(
                    "file",
                    "invalid_rows",
                    format!("line {}: {code:?} is not a unit code", line + 2),
                )
                .into());
            };
            let known = self.store.unit(&code).await?.ok_or_else(|| {
                Invalid::new(
                    "file",
                    "unknown_unit",
                    format!("line {}: unit {code} is unknown; nothing imported", line + 2),
                )
            })?;
            if !jurisdiction.covers(&known.path) {
                return Err(ServiceError::Forbidden(format!(
                    "line {}: unit {code} is outside your jurisdiction; nothing imported",
                    line + 2
                )));
            }
            figures.push((code, population));
        }
        self.store.set_population(&figures).await?;
        self.audit(caller, "unit.population", "unit", "", &format!("{} units", figures.len())).await?;
        Ok(figures.len())
    }
}
