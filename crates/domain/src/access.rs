//! Who may do what, where.
//!
//! Staff and systems hold roles, each granted for one unit; a grant covers that unit and
//! everything below it. A permission names the roles that carry it, so the one question
//! every workflow asks is "does this principal hold a role with this permission over this
//! unit?" — answered by [`Principal::jurisdiction`].

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::Invalid;
use crate::person::Phone;
use crate::unit::UnitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    HealthOfficer,
    Tracer,
    Sampler,
    LabTechnician,
    Vaccinator,
    OrganisationManager,
    VenueOwner,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::Admin,
        Role::HealthOfficer,
        Role::Tracer,
        Role::Sampler,
        Role::LabTechnician,
        Role::Vaccinator,
        Role::OrganisationManager,
        Role::VenueOwner,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::HealthOfficer => "health_officer",
            Role::Tracer => "tracer",
            Role::Sampler => "sampler",
            Role::LabTechnician => "lab_technician",
            Role::Vaccinator => "vaccinator",
            Role::OrganisationManager => "organisation_manager",
            Role::VenueOwner => "venue_owner",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, Invalid> {
        Role::ALL.into_iter().find(|r| r.as_str() == value).ok_or_else(|| {
            let names: Vec<_> = Role::ALL.iter().map(|r| r.as_str()).collect();
            Invalid::new(field, "invalid_value", format!("role must be one of {}", names.join(", ")))
        })
    }
}

/// Something a principal may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Find and open people's records.
    ReadPeople,
    /// Register people and change their records.
    WritePeople,
    /// Add units below a commune and import population figures.
    ManageUnits,
    /// Create staff accounts, system accounts and API tokens, grant roles.
    ManageAccounts,
    /// Read the audit log.
    ReadAudit,
    /// Register venues in a unit and manage them.
    ManageVenues,
    /// Record check-ins for other people at venues (staff scanning, gate systems).
    RecordCheckins,
    /// See venues' visitor logs and flagged health declarations.
    ReadCheckins,
    /// Open sampling sessions in a unit, take specimens and pool them.
    CollectSamples,
    /// Receive specimens in a lab, record and correct results.
    RecordResults,
    /// See specimens, results and testing totals.
    ReadTesting,
    /// See cases and change their status.
    ManageCases,
    /// Edit national reference lists (priority groups); held over the country.
    ManageReferenceLists,
    /// Approve or reject organisations' applications in a unit.
    ApproveOrganisations,
    /// Upload an organisation's registrations (further limited to the manager's organisation).
    RegisterPeople,
    /// Create vaccination sites and sessions, register vaccine lots, run the allocator.
    PlanVaccination,
    /// Screen people and record, correct doses and adverse events.
    RecordDoses,
    /// See registrations, doses and coverage statistics.
    ReadVaccination,
}

impl Permission {
    /// The roles that carry this permission.
    pub fn roles(self) -> &'static [Role] {
        use Role::*;
        match self {
            Permission::ReadPeople => &[Admin, HealthOfficer, Tracer, Sampler, LabTechnician, Vaccinator],
            Permission::WritePeople => &[Admin, HealthOfficer, Tracer, Sampler, Vaccinator],
            Permission::ManageUnits => &[Admin, HealthOfficer],
            Permission::ManageAccounts | Permission::ReadAudit => &[Admin],
            Permission::ManageVenues => &[Admin, HealthOfficer, VenueOwner],
            Permission::RecordCheckins => &[Admin, HealthOfficer, VenueOwner, Tracer],
            Permission::ReadCheckins => &[Admin, HealthOfficer, Tracer],
            Permission::CollectSamples => &[Admin, HealthOfficer, Sampler],
            Permission::RecordResults => &[Admin, LabTechnician],
            Permission::ReadTesting => &[Admin, HealthOfficer, Tracer, Sampler, LabTechnician],
            Permission::ManageCases => &[Admin, HealthOfficer, Tracer],
            Permission::ManageReferenceLists => &[Admin],
            Permission::ApproveOrganisations | Permission::PlanVaccination => &[Admin, HealthOfficer],
            Permission::RegisterPeople => &[Admin, HealthOfficer, OrganisationManager],
            Permission::RecordDoses => &[Admin, HealthOfficer, Vaccinator],
            Permission::ReadVaccination => &[Admin, HealthOfficer, Vaccinator],
        }
    }
}

/// A role held over a unit and everything below it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub struct Grant {
    pub role: Role,
    pub unit: UnitCode,
    /// The unit's path (`/VN/01/00070/`), which every covered unit's path starts with.
    pub unit_path: String,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A citizen signed in with their phone.
    Citizen { phone: Phone },
    /// A staff member (by password) or a system (by API token).
    Staff { account_id: Uuid, username: String, grants: Vec<Grant> },
}

impl Principal {
    /// The units over which this principal holds `permission`; empty when it holds none.
    pub fn jurisdiction(&self, permission: Permission) -> Jurisdiction {
        match self {
            Principal::Citizen { .. } => Jurisdiction::default(),
            Principal::Staff { grants, .. } => {
                let mut paths: Vec<String> = grants
                    .iter()
                    .filter(|g| permission.roles().contains(&g.role))
                    .map(|g| g.unit_path.clone())
                    .collect();
                paths.sort();
                // A path below another already listed adds nothing.
                paths.dedup_by(|later, earlier| later.starts_with(earlier.as_str()));
                Jurisdiction { paths }
            }
        }
    }

    /// Whether this principal holds `permission` over the unit at `unit_path`: the same
    /// answer as `jurisdiction(permission).covers(unit_path)`, without building the list.
    pub fn may(&self, permission: Permission, unit_path: &str) -> bool {
        match self {
            Principal::Citizen { .. } => false,
            Principal::Staff { grants, .. } => grants
                .iter()
                .any(|g| unit_path.starts_with(g.unit_path.as_str()) && permission.roles().contains(&g.role)),
        }
    }

    /// The name written in the audit log.
    pub fn actor(&self) -> String {
        match self {
            Principal::Citizen { phone } => phone.as_str().to_owned(),
            Principal::Staff { username, .. } => username.clone(),
        }
    }
}

/// The units a principal may act on: the subtrees under these paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Jurisdiction {
    pub paths: Vec<String>,
}

impl Jurisdiction {
    pub fn covers(&self, unit_path: &str) -> bool {
        self.paths.iter().any(|p| unit_path.starts_with(p.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staff(grants: &[(Role, &str)]) -> Principal {
        Principal::Staff {
            account_id: Uuid::nil(),
            username: "t".into(),
            grants: grants
                .iter()
                .map(|(role, path)| Grant {
                    role: *role,
                    unit: UnitCode::parse("unit", path.trim_matches('/').rsplit('/').next().unwrap_or("")).unwrap(),
                    unit_path: (*path).into(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_grant_covers_its_subtree_only() {
        let tracer = staff(&[(Role::Tracer, "/VN/01/00070/")]);
        let j = tracer.jurisdiction(Permission::ReadPeople);
        assert!(j.covers("/VN/01/00070/"));
        assert!(j.covers("/VN/01/00070/00070.TDP1/"));
        assert!(!j.covers("/VN/01/00073/"));
        assert!(!j.covers("/VN/01/"));
        assert!(tracer.may(Permission::ReadPeople, "/VN/01/00070/00070.TDP1/"));
        assert!(!tracer.may(Permission::ReadPeople, "/VN/01/00073/"));
        assert!(!tracer.may(Permission::ManageAccounts, "/VN/01/00070/"));
        assert!(tracer.jurisdiction(Permission::ManageAccounts).is_empty());
    }

    #[test]
    fn nested_grants_collapse() {
        let officer = staff(&[(Role::HealthOfficer, "/VN/01/00070/"), (Role::Admin, "/VN/01/")]);
        assert_eq!(officer.jurisdiction(Permission::ReadPeople).paths, ["/VN/01/"]);
    }
}
