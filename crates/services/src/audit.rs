//! Reading the audit log: admins see who read or changed which record, and when.

use outbreak_domain::Permission;
use outbreak_store::{AuditEntry, AuditFilter};

use crate::{Caller, Result, Services};

/// Entries per page of the audit log.
pub const AUDIT_PAGE: u32 = 100;

impl Services {
    /// Audit entries matching the filter, newest first. Only national admins read the whole
    /// log: an entry is about an actor, not a unit, so a partial view would mislead.
    pub async fn audit_entries(&self, caller: &Caller, filter: AuditFilter) -> Result<Vec<AuditEntry>> {
        self.authorize_unit(caller, Permission::ReadAudit, "/VN/")?;
        let filter = AuditFilter { limit: filter.limit.clamp(1, AUDIT_PAGE), ..filter };
        Ok(self.store.audit_entries(&filter).await?)
    }
}
