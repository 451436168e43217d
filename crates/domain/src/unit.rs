//! Administrative units: country → province → commune → neighbourhood → household.
//!
//! Provinces and communes are the official 2025 list shipped inside the binary; units below
//! a commune are added by that commune's staff. Every unit knows its `path` from the country
//! down (`/VN/01/00070/`), so "this unit and everything below it" is a prefix test.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{Invalid, text_field};

/// The official list of provinces and communes after the July 2025 reorganisation.
const NATIONAL_UNITS_CSV: &str = include_str!("../data/vn-admin-units-2025.csv");

/// The code of the country unit, root of every path.
pub const COUNTRY_CODE: &str = "VN";

/// A unit's code: `VN`, a two-digit province code, a five-digit commune code, or a local
/// code below a commune written `<parent>.<local>` (`00070.TDP3`, `00070.TDP3.H12`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct UnitCode(String);

impl UnitCode {
    pub fn parse(field: &str, code: &str) -> Result<Self, Invalid> {
        let code = code.trim();
        let valid = !code.is_empty()
            && code.len() <= 80
            && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if valid {
            Ok(UnitCode(code.to_owned()))
        } else {
            Err(Invalid::new(
                field,
                "invalid_format",
                "a unit code is letters, digits, '-' and '.', such as 00070 or 00070.TDP3",
            ))
        }
    }

    pub fn country() -> Self {
        UnitCode(COUNTRY_CODE.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The code of a new unit below `parent`, from the short local code staff type.
    pub fn child_of(parent: &UnitCode, local: &str) -> Result<Self, Invalid> {
        let local = local.trim();
        let valid =
            !local.is_empty() && local.len() <= 20 && local.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !valid {
            return Err(Invalid::new(
                "code",
                "invalid_format",
                "a local code is 1 to 20 letters, digits or '-', such as TDP3",
            ));
        }
        Ok(UnitCode(format!("{}.{}", parent.0, local.to_ascii_uppercase())))
    }
}

impl std::fmt::Display for UnitCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a unit sits in the hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnitLevel {
    Country,
    Province,
    Commune,
    Neighbourhood,
    Household,
}

impl UnitLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitLevel::Country => "country",
            UnitLevel::Province => "province",
            UnitLevel::Commune => "commune",
            UnitLevel::Neighbourhood => "neighbourhood",
            UnitLevel::Household => "household",
        }
    }

    pub fn parse(field: &str, level: &str) -> Result<Self, Invalid> {
        match level {
            "country" => Ok(UnitLevel::Country),
            "province" => Ok(UnitLevel::Province),
            "commune" => Ok(UnitLevel::Commune),
            "neighbourhood" => Ok(UnitLevel::Neighbourhood),
            "household" => Ok(UnitLevel::Household),
            _ => Err(Invalid::new(field, "invalid_value", "level must be neighbourhood or household")),
        }
    }

    /// The level a unit added directly below this one takes, if any may be added there.
    pub fn child_level(self) -> Option<UnitLevel> {
        match self {
            UnitLevel::Commune => Some(UnitLevel::Neighbourhood),
            UnitLevel::Neighbourhood => Some(UnitLevel::Household),
            UnitLevel::Country | UnitLevel::Province | UnitLevel::Household => None,
        }
    }
}

/// An administrative unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Unit {
    pub code: UnitCode,
    pub parent: Option<UnitCode>,
    pub level: UnitLevel,
    /// The official name, in Vietnamese (`Phường Hoàn Kiếm`).
    pub name: String,
    /// The division type, in Vietnamese (`phường`, `xã`, `tỉnh`, `tổ dân phố`, …).
    pub division_type: String,
    /// The codes from the country down to this unit, as `/VN/01/00070/`.
    pub path: String,
    /// Resident population when known, for rates per 100,000.
    pub population: Option<i64>,
}

impl Unit {
    /// A unit below `parent`, as commune staff add neighbourhoods and households.
    pub fn new_child(parent: &Unit, local_code: &str, name: &str, division_type: &str) -> Result<Unit, Invalid> {
        let Some(level) = parent.level.child_level() else {
            return Err(Invalid::new(
                "parent",
                "not_allowed",
                format!(
                    "units can be added only below a commune or a neighbourhood, not below a {}",
                    parent.level.as_str()
                ),
            ));
        };
        let code = UnitCode::child_of(&parent.code, local_code)?;
        let name = text_field("name", name, 120, true)?;
        let division_type = match text_field("division_type", division_type, 40, false)? {
            t if t.is_empty() => default_division_type(level).to_owned(),
            t => t,
        };
        Ok(Unit {
            path: format!("{}{}/", parent.path, code),
            code,
            parent: Some(parent.code.clone()),
            level,
            name,
            division_type,
            population: None,
        })
    }

    /// Whether `other` is this unit or lies below it.
    pub fn contains(&self, other: &Unit) -> bool {
        other.path.starts_with(&self.path)
    }
}

fn default_division_type(level: UnitLevel) -> &'static str {
    match level {
        UnitLevel::Neighbourhood => "tổ dân phố",
        UnitLevel::Household => "hộ gia đình",
        UnitLevel::Country => "quốc gia",
        UnitLevel::Province => "tỉnh",
        UnitLevel::Commune => "xã",
    }
}

/// The country and its official provinces and communes, parents before children.
pub fn national_units() -> Vec<Unit> {
    let mut units = vec![Unit {
        code: UnitCode::country(),
        parent: None,
        level: UnitLevel::Country,
        name: "Việt Nam".to_owned(),
        division_type: "quốc gia".to_owned(),
        path: format!("/{COUNTRY_CODE}/"),
        population: None,
    }];
    let mut communes = Vec::new();
    // The file is ours and checked by a test; its columns are
    // code,name,division_type,level,parent_code,codename.
    for line in NATIONAL_UNITS_CSV.lines().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        let [code, name, division_type, level, parent, _codename] = cols[..] else {
            continue;
        };
        let unit = Unit {
            code: UnitCode(code.to_owned()),
            parent: Some(UnitCode(if parent.is_empty() { COUNTRY_CODE } else { parent }.to_owned())),
            level: if level == "province" { UnitLevel::Province } else { UnitLevel::Commune },
            name: name.to_owned(),
            division_type: division_type.to_owned(),
            path: if parent.is_empty() {
                format!("/{COUNTRY_CODE}/{code}/")
            } else {
                format!("/{COUNTRY_CODE}/{parent}/{code}/")
            },
            population: None,
        };
        if unit.level == UnitLevel::Province {
            units.push(unit);
        } else {
            communes.push(unit);
        }
    }
    units.extend(communes);
    units
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ships_34_provinces_and_3321_communes() {
        let units = national_units();
        let provinces = units.iter().filter(|u| u.level == UnitLevel::Province).count();
        let communes: Vec<_> = units.iter().filter(|u| u.level == UnitLevel::Commune).collect();
        assert_eq!(provinces, 34);
        assert_eq!(communes.len(), 3321);
        for commune in communes {
            let parent = commune.parent.as_ref().map(UnitCode::as_str).unwrap_or_default();
            assert!(units.iter().any(|u| u.code.as_str() == parent), "{} has no province", commune.code);
        }
    }

    #[test]
    fn children_below_communes_only() {
        let units = national_units();
        let commune = units.iter().find(|u| u.code.as_str() == "00070").cloned().unwrap();
        let hamlet = Unit::new_child(&commune, "tdp3", "Tổ dân phố 3", "").unwrap();
        assert_eq!(hamlet.code.as_str(), "00070.TDP3");
        assert_eq!(hamlet.path, "/VN/01/00070/00070.TDP3/");
        assert!(commune.contains(&hamlet));
        assert!(Unit::new_child(&units[0], "X", "x", "").is_err());
        assert!(Unit::new_child(&commune, "bad code!", "x", "").is_err());
    }
}
