//! Vaccination workflows: organisations apply and are approved, upload their people's
//! registrations (or citizens register themselves), planners add lots, sites and sessions,
//! the allocator invites people by SMS, vaccinators screen and record doses, and everyone
//! sees what concerns them (coverage for staff, their own doses for citizens).
//!
//! Access follows the site or unit a record belongs to: a vaccinator records doses at sites
//! in their jurisdiction, whoever the person is and wherever they live.

use std::collections::BTreeMap;

use outbreak_domain::error::text_field;
use outbreak_domain::vaccination::{
    AdverseEventId, AdverseStatus, DoseId, INVITATION_TTL, InvitationId, InvitationStatus, OrganisationId,
    OrganisationKind, OrganisationStatus, PRODUCTS, PriorityGroup, Product, SCREENING, ScreeningQuestion, Severity,
    SiteId, Slot, VaccinationSessionId, check_screening, check_slots, lot_number, next_dose, product, reason,
};
use outbreak_domain::{
    Cccd, Invalid, NewPerson, Permission, PersonId, Phone, Principal, Sex, UnitCode, local_date, now,
};
use outbreak_formats::cells::parse_date;
use outbreak_formats::sheet::{Column, SheetLimits, SheetRow, match_columns, read_sheet};
use outbreak_store::{
    AdverseEvent, Coverage, CoverageRow, DailyDoses, Dose, DoseCorrection, DoseRevision, Invitation, Lot, NewDose,
    NewInvitation, NewRegistration, Organisation, PersonQuery, PersonRecord, Registration, RegistrationOutcome, Site,
    VaccinationSession,
};
use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::testing::MAX_UPLOAD_BYTES;
use crate::{Caller, Result, ServiceError, Services, audit_entry};

/// Registrations written per store transaction: large enough that a province's file is a
/// few hundred commits, small enough that one transaction never holds the writer long.
pub const REGISTRATIONS_PER_TRANSACTION: usize = 5_000;
/// Batches of one upload in the store at a time.
const BATCHES_IN_FLIGHT: usize = 2;
/// Candidates read from the store per round of the allocator.
const CANDIDATE_PAGE: u32 = 500;

/// An organisation's application for an account.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct OrganisationApplication {
    pub name: String,
    /// `company`, `agency`, `school`, `market` or `other`.
    pub kind: String,
    /// The commune or ward (code) whose health staff approve it.
    pub unit: String,
    pub address: String,
    pub contact_phone: String,
}

/// A decision on an application.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct OrganisationDecision {
    pub approve: bool,
    /// The staff account (organisation manager) that will upload the organisation's lists.
    pub manager: Option<String>,
    #[serde(default)]
    pub note: String,
}

/// What became of one row of an uploaded registration list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RegistrationItem {
    /// The row number in the file as the uploader sees it.
    pub line: usize,
    pub full_name: String,
    /// `registered` (a new person), `matched` (a person already known, now registered),
    /// `already_registered` (nothing changed) or `refused`.
    pub status: String,
    pub person: Option<PersonId>,
    pub field: Option<String>,
    pub code: Option<String>,
    pub message: Option<String>,
}

/// The per-row report of an uploaded registration list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RegistrationReport {
    pub rows: usize,
    pub registered: usize,
    pub matched: usize,
    pub already_registered: usize,
    pub refused: usize,
    pub items: Vec<RegistrationItem>,
}

/// A citizen registering themselves (or someone on their phone, such as a parent).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SelfRegistration {
    pub full_name: String,
    pub date_of_birth: String,
    pub sex: String,
    pub cccd: Option<String>,
    /// Where they live (commune or ward code), which is also where they prefer the dose.
    pub address_unit: String,
    #[serde(default)]
    pub street: String,
    pub priority_group: String,
    #[serde(default)]
    pub comorbidities: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct LotInput {
    pub lot: String,
    pub product: String,
    #[schema(value_type = String, example = "2022-03-31")]
    pub expires_on: String,
    pub unit: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SiteInput {
    pub name: String,
    pub unit: String,
    #[serde(default)]
    pub address: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SessionInput {
    pub site: SiteId,
    #[schema(value_type = String, example = "2021-09-01")]
    pub date: String,
    pub product: String,
    pub lot: String,
    pub slots: Vec<Slot>,
}

/// What a round of the allocator did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AllocationReport {
    pub invited: Vec<Invitation>,
    /// Places still free after this round.
    pub free: i64,
    /// Candidates passed over because their next dose is not due by the session's date.
    pub not_yet_due: usize,
    /// Candidates passed over because their series is of another product.
    pub other_product: usize,
}

/// The person in front of the vaccinator, with what they need to decide.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Vaccinee {
    pub person: PersonId,
    pub full_name: String,
    #[schema(value_type = String)]
    pub date_of_birth: String,
    pub doses: Vec<Dose>,
    /// The number the next dose must carry.
    pub next_dose_number: u8,
    /// The earliest instant the next dose may be given, when there is a previous dose.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub earliest_next: Option<OffsetDateTime>,
    pub registration: Option<Registration>,
    pub screening: Vec<ScreeningQuestion>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct DoseInput {
    pub person: PersonId,
    pub site: SiteId,
    pub session: Option<VaccinationSessionId>,
    /// Defaults to the session's product.
    pub product: Option<String>,
    /// Defaults to the session's lot.
    pub lot: Option<String>,
    pub dose_number: u8,
    /// Defaults to now.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub given_at: Option<OffsetDateTime>,
    /// Every screening question's code with the answer (true = yes).
    pub screening: BTreeMap<String, bool>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CorrectionInput {
    pub product: Option<String>,
    pub lot: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub given_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub void: bool,
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct AdverseInput {
    pub dose: DoseId,
    pub severity: String,
    pub description: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub onset_at: OffsetDateTime,
}

/// One unit of a coverage drill-down.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UnitCoverage {
    pub code: String,
    pub name: String,
    pub population: Option<i64>,
    #[serde(flatten)]
    pub coverage: Coverage,
}

/// Coverage of a unit: every bucket, the units below, and doses per day.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CoverageReport {
    pub unit: String,
    pub unit_name: String,
    pub unit_path: String,
    pub population: Option<i64>,
    pub total: Coverage,
    pub rows: Vec<CoverageRow>,
    pub children: Vec<UnitCoverage>,
    #[schema(value_type = String)]
    pub from: Date,
    #[schema(value_type = String)]
    pub to: Date,
    pub days: Vec<DailyDoses>,
}

/// A person's doses and invitations, as they see them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonDoses {
    pub person: PersonId,
    pub full_name: String,
    pub doses: Vec<Dose>,
    pub invitations: Vec<Invitation>,
}

const REGISTRATION_COLUMNS: &[Column] = &[
    Column { key: "full_name", names: &["Họ và tên", "Họ tên", "Tên", "Full name", "name"], required: true },
    Column {
        key: "date_of_birth",
        names: &["Ngày sinh", "Ngày tháng năm sinh", "Năm sinh", "Date of birth", "dob"],
        required: true,
    },
    Column { key: "sex", names: &["Giới tính", "Giới", "Sex", "Gender"], required: false },
    Column {
        key: "cccd",
        names: &["Số CCCD", "CCCD", "CMND/CCCD", "Số CMND/CCCD", "Số định danh", "ID number", "National ID"],
        required: false,
    },
    Column { key: "phone", names: &["Số điện thoại", "SĐT", "Điện thoại", "Phone"], required: false },
    Column {
        key: "priority_group",
        names: &["Nhóm ưu tiên", "Nhóm đối tượng", "Đối tượng", "Priority group", "Group"],
        required: false,
    },
    Column { key: "comorbidities", names: &["Bệnh nền", "Tiền sử bệnh", "Comorbidities"], required: false },
    Column { key: "unit", names: &["Mã xã phường", "Mã xã", "Mã đơn vị", "Unit code"], required: false },
    Column { key: "street", names: &["Địa chỉ", "Address"], required: false },
];

fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> ServiceError {
    ServiceError::Invalid(Invalid::new(field, code, message))
}

fn unit_code(field: &str, text: &str) -> Result<UnitCode> {
    Ok(UnitCode::parse(field, text)?)
}

/// A date of birth as organisations write it: a year alone, or a date in any of the ways
/// spreadsheets hold one (`15/07/1980`, `1980-07-15`, an Excel serial number).
fn birth_text(text: &str) -> std::result::Result<String, Invalid> {
    let text = text.trim();
    if text.len() == 4 && text.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(text.to_owned());
    }
    parse_date(text)
        .map(|d| d.to_string())
        .map_err(|e| Invalid::new("date_of_birth", e.code(), format!("date of birth: {e}")))
}

/// A priority group as written in a file: its code, its rank (`5`, `Nhóm 5`) or its name.
fn find_group<'a>(groups: &'a [PriorityGroup], text: &str) -> Option<&'a PriorityGroup> {
    let folded = outbreak_domain::text::fold(text.trim());
    if folded.is_empty() {
        return groups.iter().find(|g| g.code == "general").or(groups.last());
    }
    // "5", "nhom 5" and "nhom5" all name the fifth group.
    let rank: Option<i32> = folded.strip_prefix("nhom").unwrap_or(&folded).trim().parse().ok();
    groups.iter().find(|g| {
        g.code == folded
            || Some(g.rank) == rank
            || outbreak_domain::text::fold(&g.name) == folded
            || outbreak_domain::text::fold(&g.name_en) == folded
    })
}

impl Services {
    /// The national list of vaccine products.
    pub fn vaccine_products(&self) -> &'static [Product] {
        PRODUCTS
    }

    pub fn screening_questions(&self) -> &'static [ScreeningQuestion] {
        SCREENING
    }

    pub async fn priority_groups(&self) -> Result<Vec<PriorityGroup>> {
        Ok(self.store.priority_groups().await?)
    }

    /// Adds or changes a group of the national list: national admins only.
    pub async fn put_priority_group(&self, caller: &Caller, group: &PriorityGroup) -> Result<PriorityGroup> {
        self.authorize_unit(caller, Permission::ManageReferenceLists, "/VN/")?;
        let checked = PriorityGroup::new(&group.code, group.rank, &group.name, &group.name_en)?;
        self.store.put_priority_groups(std::slice::from_ref(&checked)).await?;
        self.audit(caller, "priority_group.put", "priority_group", &checked.code, &checked.name).await?;
        Ok(checked)
    }

    /// An organisation applies for an account; anyone may apply, the unit's staff decide.
    pub async fn apply_organisation(&self, application: &OrganisationApplication) -> Result<Organisation> {
        let organisation = Organisation {
            id: OrganisationId(Uuid::now_v7()),
            name: text_field("name", &application.name, 200, true)?,
            kind: OrganisationKind::parse("kind", &application.kind)?,
            unit: unit_code("unit", &application.unit)?,
            unit_path: String::new(),
            address: text_field("address", &application.address, 300, true)?,
            contact_phone: Phone::parse("contact_phone", &application.contact_phone)?.as_str().to_owned(),
            manager: None,
            status: OrganisationStatus::Pending,
            applied_at: now(),
            decided_by: None,
            decided_at: None,
            decision_note: String::new(),
        };
        self.store.insert_organisation(&organisation).await?;
        self.store.organisation(organisation.id).await?.ok_or_else(|| ServiceError::NotFound("organisation".into()))
    }

    /// Applications and organisations in the caller's jurisdiction.
    pub async fn organisations(
        &self,
        caller: &Caller,
        status: Option<OrganisationStatus>,
    ) -> Result<Vec<Organisation>> {
        let scope = self.authorize(caller, Permission::ApproveOrganisations)?;
        Ok(self.store.organisations(&scope.paths, status, 1000).await?)
    }

    /// Approves (naming the manager's account) or rejects an application.
    pub async fn decide_organisation(
        &self,
        caller: &Caller,
        id: OrganisationId,
        decision: &OrganisationDecision,
    ) -> Result<Organisation> {
        let organisation =
            self.store.organisation(id).await?.ok_or_else(|| ServiceError::NotFound("organisation".into()))?;
        self.authorize_unit(caller, Permission::ApproveOrganisations, &organisation.unit_path)?;
        let manager = match (&decision.manager, decision.approve) {
            (Some(username), true) => {
                let account = self.store.account_by_username(username.trim()).await?.ok_or_else(|| {
                    invalid("manager", "unknown_account", format!("no account is named {username:?}"))
                })?;
                Some(account.id)
            }
            (None, true) => {
                return Err(invalid("manager", "required", "name the account that will manage the organisation"));
            }
            (_, false) => None,
        };
        let status = if decision.approve { OrganisationStatus::Approved } else { OrganisationStatus::Rejected };
        let note = text_field("note", &decision.note, 500, !decision.approve)?;
        let decided =
            self.store.decide_organisation(id, status, manager, &caller.principal.actor(), &note, now()).await?;
        self.audit(caller, &format!("organisation.{}", status.as_str()), "organisation", &id.to_string(), &note)
            .await?;
        Ok(decided)
    }

    /// The organisations the caller manages.
    pub async fn my_organisations(&self, caller: &Caller) -> Result<Vec<Organisation>> {
        let Principal::Staff { account_id, .. } = &caller.principal else { return Ok(Vec::new()) };
        Ok(self.store.managed_organisations(*account_id).await?)
    }

    /// The organisation, when the caller may upload its lists: its manager, or staff who
    /// plan vaccination in its unit; and only once approved.
    async fn organisation_for_upload(&self, caller: &Caller, id: OrganisationId) -> Result<Organisation> {
        let organisation =
            self.store.organisation(id).await?.ok_or_else(|| ServiceError::NotFound("organisation".into()))?;
        self.authorize_unit(caller, Permission::RegisterPeople, &organisation.unit_path)?;
        if organisation.status != OrganisationStatus::Approved {
            return Err(invalid(
                "organisation",
                "not_approved",
                format!(
                    "this organisation is {}; lists can be uploaded once it is approved",
                    organisation.status.as_str()
                ),
            ));
        }
        let manages = matches!(&caller.principal, Principal::Staff { account_id, .. } if Some(*account_id) == organisation.manager);
        if !manages && !caller.principal.may(Permission::PlanVaccination, &organisation.unit_path) {
            return Err(ServiceError::Forbidden("only the organisation's manager may upload its lists".into()));
        }
        Ok(organisation)
    }

    /// Registers the people in an organisation's CSV or XLSX list and reports on every row.
    pub async fn upload_registrations(
        &self,
        caller: &Caller,
        organisation: OrganisationId,
        bytes: &[u8],
        file_name: Option<&str>,
    ) -> Result<RegistrationReport> {
        let organisation = self.organisation_for_upload(caller, organisation).await?;
        let limits = SheetLimits { max_bytes: MAX_UPLOAD_BYTES, ..SheetLimits::default() };
        let sheet = read_sheet(bytes, file_name, &limits).map_err(|e| invalid("file", e.code(), e.to_string()))?;
        let columns = match_columns(&sheet.headers, REGISTRATION_COLUMNS)
            .map_err(|e| invalid("file", e.code(), e.to_string()))?;
        let groups = self.store.priority_groups().await?;
        let today = local_date(now());
        let parsed = ValidatedRows {
            rows: sheet.rows.iter(),
            columns: &columns,
            groups: &groups,
            organisation: &organisation,
            today,
        };
        let report = self.register_rows(caller, parsed, &format!("organisation {}", organisation.id)).await?;
        self.audit(
            caller,
            "registration.upload",
            "organisation",
            &organisation.id.to_string(),
            &format!("{} rows, {} refused", report.rows, report.refused),
        )
        .await?;
        Ok(report)
    }

    /// Stores the valid rows in batches and reports on all of them in file order. Rows are
    /// validated as they are drawn from `rows`, so a file's next batch is checked while
    /// the store writes the previous ones; two batches are in the store at a time, so that
    /// one is written while the other waits for the disk.
    pub async fn register_rows(
        &self,
        caller: &Caller,
        rows: impl IntoIterator<Item = (usize, String, std::result::Result<NewRegistration, Invalid>)>,
        detail: &str,
    ) -> Result<RegistrationReport> {
        let mut items = Vec::new();
        let mut batch: Vec<(usize, String, NewRegistration)> = Vec::new();
        let mut writing: std::collections::VecDeque<WrittenBatch> = std::collections::VecDeque::new();
        let mut rows = rows.into_iter().peekable();
        while let Some((line, name, row)) = rows.next() {
            match row {
                Ok(r) => batch.push((line, name, r)),
                Err(e) => items.push(RegistrationItem {
                    line,
                    full_name: name,
                    status: "refused".into(),
                    person: None,
                    field: Some(e.field),
                    code: Some(e.code.into()),
                    message: Some(e.message),
                }),
            }
            if batch.len() >= REGISTRATIONS_PER_TRANSACTION || (rows.peek().is_none() && !batch.is_empty()) {
                if writing.len() == BATCHES_IN_FLIGHT
                    && let Some(oldest) = writing.pop_front()
                {
                    items.extend(oldest.report().await?);
                }
                let (meta, registrations): (Vec<(usize, String)>, Vec<NewRegistration>) =
                    std::mem::take(&mut batch).into_iter().map(|(line, name, r)| ((line, name), r)).unzip();
                let audit = vec![audit_entry(caller, "registration.create", "registration", "", detail)];
                let store = self.store.clone();
                writing.push_back(WrittenBatch {
                    meta,
                    write: tokio::spawn(async move { store.register(registrations, audit).await }),
                });
            }
        }
        for batch in writing {
            items.extend(batch.report().await?);
        }
        items.sort_by_key(|i| i.line);
        let counted = |status: &str| items.iter().filter(|i| i.status == status).count();
        Ok(RegistrationReport {
            rows: items.len(),
            registered: counted("registered"),
            matched: counted("matched"),
            already_registered: counted("already_registered"),
            refused: counted("refused"),
            items,
        })
    }

    /// A citizen registers themselves, or someone who shares their phone.
    pub async fn register_myself(&self, caller: &Caller, input: &SelfRegistration) -> Result<RegistrationItem> {
        let Principal::Citizen { phone } = &caller.principal else {
            return Err(ServiceError::Forbidden("self-registration is for citizens signed in with their phone".into()));
        };
        let groups = self.store.priority_groups().await?;
        let group = groups
            .iter()
            .find(|g| g.code == input.priority_group)
            .ok_or_else(|| invalid("priority_group", "unknown_group", "choose a priority group from the list"))?;
        let person = NewPerson {
            full_name: input.full_name.clone(),
            date_of_birth: input.date_of_birth.clone(),
            sex: input.sex.clone(),
            phone: Some(phone.as_str().to_owned()),
            cccd: input.cccd.clone().filter(|c| !c.trim().is_empty()),
            address_unit: input.address_unit.clone(),
            street: input.street.clone(),
            ..NewPerson::default()
        }
        .validate(local_date(now()))?
        .into_person(PersonId::new(), now());
        let registration = NewRegistration {
            id: outbreak_domain::vaccination::RegistrationId(Uuid::now_v7()),
            preferred_unit: person.address_unit.clone(),
            person,
            organisation: None,
            priority_group: group.code.clone(),
            comorbidities: text_field("comorbidities", &input.comorbidities, 300, false)?,
            registered_at: now(),
        };
        let report = self.register_rows(caller, vec![(1, input.full_name.clone(), Ok(registration))], "self").await?;
        let item = report.items.into_iter().next().ok_or_else(|| ServiceError::Internal("no outcome".into()))?;
        if item.status == "refused" {
            return Err(invalid(
                item.field.as_deref().unwrap_or("registration"),
                "refused",
                item.message.unwrap_or_default(),
            ));
        }
        Ok(item)
    }

    pub async fn add_lot(&self, caller: &Caller, input: &LotInput) -> Result<Lot> {
        let unit = unit_code("unit", &input.unit)?;
        let path = self.unit_path_of(&unit).await?;
        self.authorize_unit(caller, Permission::PlanVaccination, &path)?;
        let expires_on =
            parse_date(&input.expires_on).map_err(|e| invalid("expires_on", e.code(), format!("expiry date: {e}")))?;
        let lot = Lot {
            lot: lot_number("lot", &input.lot)?,
            product: product("product", &input.product)?.code.to_owned(),
            expires_on,
            unit,
        };
        self.store.insert_lot(&lot).await?;
        self.audit(caller, "lot.create", "lot", &lot.lot, &lot.product).await?;
        Ok(lot)
    }

    async fn unit_path_of(&self, unit: &UnitCode) -> Result<String> {
        Ok(self
            .store
            .unit(unit)
            .await?
            .ok_or_else(|| invalid("unit", "unknown_unit", format!("{unit} is not a known unit code")))?
            .path)
    }

    pub async fn create_site(&self, caller: &Caller, input: &SiteInput) -> Result<Site> {
        let unit = unit_code("unit", &input.unit)?;
        let path = self.unit_path_of(&unit).await?;
        self.authorize_unit(caller, Permission::PlanVaccination, &path)?;
        let site = Site {
            id: SiteId(Uuid::now_v7()),
            name: text_field("name", &input.name, 200, true)?,
            unit,
            unit_path: path,
            address: text_field("address", &input.address, 300, false)?,
            created_by: caller.principal.actor(),
        };
        self.store.insert_site(&site).await?;
        self.audit(caller, "site.create", "site", &site.id.to_string(), &site.name).await?;
        Ok(site)
    }

    /// Sites where the caller may plan or vaccinate.
    pub async fn sites(&self, caller: &Caller) -> Result<Vec<Site>> {
        let mut paths = caller.principal.jurisdiction(Permission::PlanVaccination).paths;
        paths.extend(caller.principal.jurisdiction(Permission::RecordDoses).paths);
        if paths.is_empty() {
            return Err(ServiceError::Forbidden("your account does not have a role that allows this".into()));
        }
        Ok(self.store.sites(&paths, 500).await?)
    }

    async fn site_in(&self, caller: &Caller, id: SiteId, permission: Permission) -> Result<Site> {
        let site = self.store.site(id).await?.ok_or_else(|| ServiceError::NotFound("site".into()))?;
        self.authorize_unit(caller, permission, &site.unit_path)?;
        Ok(site)
    }

    pub async fn create_session(&self, caller: &Caller, input: &SessionInput) -> Result<VaccinationSession> {
        let site = self.site_in(caller, input.site, Permission::PlanVaccination).await?;
        let date = parse_date(&input.date).map_err(|e| invalid("date", e.code(), format!("session date: {e}")))?;
        if date < local_date(now()) {
            return Err(invalid("date", "in_the_past", "a session is planned for today or later"));
        }
        check_slots(&input.slots)?;
        let session = VaccinationSession {
            id: VaccinationSessionId(Uuid::now_v7()),
            site: site.id,
            site_name: site.name.clone(),
            unit_path: site.unit_path.clone(),
            date,
            product: product("product", &input.product)?.code.to_owned(),
            lot: lot_number("lot", &input.lot)?,
            slots: input.slots.clone(),
            created_by: caller.principal.actor(),
            created_at: now(),
        };
        self.store.insert_vaccination_session(&session).await?;
        self.audit(caller, "session.create", "vaccination_session", &session.id.to_string(), &site.name).await?;
        Ok(session)
    }

    pub async fn vaccination_sessions(&self, caller: &Caller) -> Result<Vec<VaccinationSession>> {
        let mut paths = caller.principal.jurisdiction(Permission::PlanVaccination).paths;
        paths.extend(caller.principal.jurisdiction(Permission::RecordDoses).paths);
        if paths.is_empty() {
            return Err(ServiceError::Forbidden("your account does not have a role that allows this".into()));
        }
        Ok(self.store.vaccination_sessions(&paths, 200).await?)
    }

    /// A session with its invitations, for those who plan or vaccinate there.
    pub async fn vaccination_session(
        &self,
        caller: &Caller,
        id: VaccinationSessionId,
    ) -> Result<(VaccinationSession, Vec<Invitation>)> {
        let session =
            self.store.vaccination_session(id).await?.ok_or_else(|| ServiceError::NotFound("session".into()))?;
        if !caller.principal.may(Permission::RecordDoses, &session.unit_path) {
            self.authorize_unit(caller, Permission::PlanVaccination, &session.unit_path)?;
        }
        let invitations = self.store.session_invitations(id).await?;
        Ok((session, invitations))
    }

    /// Fills a session's free places from the registrations preferring units under its site:
    /// by priority group, then the oldest, then the earliest registered; a person whose next
    /// dose is not due by the session's date, or whose series is of another product, waits.
    pub async fn allocate(&self, caller: &Caller, id: VaccinationSessionId) -> Result<AllocationReport> {
        let session =
            self.store.vaccination_session(id).await?.ok_or_else(|| ServiceError::NotFound("session".into()))?;
        self.authorize_unit(caller, Permission::PlanVaccination, &session.unit_path)?;
        self.fill_session(&session, audit_entry(caller, "session.allocate", "vaccination_session", &id.to_string(), ""))
            .await
    }

    async fn fill_session(
        &self,
        session: &VaccinationSession,
        audit: outbreak_store::NewAuditEntry,
    ) -> Result<AllocationReport> {
        let taken = self.store.session_invitations(session.id).await?;
        let mut free: Vec<i64> = session
            .slots
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let used = taken
                    .iter()
                    .filter(|t| {
                        t.slot == i
                            && matches!(
                                t.status,
                                InvitationStatus::Offered | InvitationStatus::Confirmed | InvitationStatus::Attended
                            )
                    })
                    .count() as i64;
                (s.capacity - used).max(0)
            })
            .collect();
        let session_product = product("product", &session.product)?;
        let session_at = session
            .date
            .with_hms(23, 59, 59)
            .map(|d| d.assume_offset(outbreak_domain::VIETNAM))
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let (mut offers, mut not_yet_due, mut other_product, mut offset) = (Vec::new(), 0, 0, 0u32);
        'pages: while free.iter().any(|f| *f > 0) {
            let candidates = self
                .store
                .allocation_candidates(session.id, std::slice::from_ref(&session.unit_path), offset, CANDIDATE_PAGE)
                .await?;
            if candidates.is_empty() {
                break;
            }
            offset += candidates.len() as u32;
            for c in candidates {
                let history = outbreak_store_prior(&c.doses);
                if let Some(first) = history.first()
                    && !may_continue_with(first.product, session_product)
                {
                    other_product += 1;
                    continue;
                }
                let (number, earliest) = next_dose(&history);
                if earliest.is_some_and(|e| e > session_at) {
                    not_yet_due += 1;
                    continue;
                }
                let Some(slot) = free.iter().position(|f| *f > 0) else { break 'pages };
                free[slot] -= 1;
                offers.push(NewInvitation {
                    id: InvitationId(Uuid::now_v7()),
                    session: session.id,
                    person: c.person,
                    slot,
                    dose_number: number,
                    offered_at: now(),
                    expires_at: now() + INVITATION_TTL,
                });
            }
        }
        let invited = self.store.invite(offers, vec![audit]).await?;
        if !invited.is_empty() {
            self.wake_notifier();
        }
        let free = session.capacity() - taken_count(&self.store.session_invitations(session.id).await?);
        Ok(AllocationReport { invited, free, not_yet_due, other_product })
    }

    /// A citizen confirms or declines an invitation for someone on their phone; a declined
    /// place goes to the next in line at once.
    pub async fn answer_invitation(&self, caller: &Caller, id: InvitationId, confirm: bool) -> Result<Invitation> {
        let invitation = self.store.invitation(id).await?.ok_or_else(|| ServiceError::NotFound("invitation".into()))?;
        let Principal::Citizen { phone } = &caller.principal else {
            return Err(ServiceError::Forbidden("invitations are answered by the person invited".into()));
        };
        let record = self.store.person(invitation.person).await?;
        if record.as_ref().and_then(|r| r.person.phone.as_ref()) != Some(phone) {
            return Err(ServiceError::NotFound("invitation".into()));
        }
        let status = if confirm { InvitationStatus::Confirmed } else { InvitationStatus::Declined };
        let answered = self.store.answer_invitation(id, status, now()).await?;
        if !confirm && let Some(session) = self.store.vaccination_session(answered.session).await? {
            self.fill_session(
                &session,
                audit_entry(caller, "session.refill", "vaccination_session", &session.id.to_string(), "declined"),
            )
            .await?;
        }
        Ok(answered)
    }

    /// Lets unanswered invitations lapse and offers their places to the next in line;
    /// returns how many sessions were refilled.
    pub async fn expire_invitations(&self) -> Result<usize> {
        let sessions = self.store.expire_invitations(now()).await?;
        let system = Caller {
            principal: Principal::Staff { account_id: Uuid::nil(), username: "allocator".into(), grants: vec![] },
            client: "internal".into(),
            is_system: true,
        };
        for id in &sessions {
            if let Some(session) = self.store.vaccination_session(*id).await? {
                self.fill_session(
                    &session,
                    audit_entry(&system, "session.refill", "vaccination_session", &id.to_string(), "expired"),
                )
                .await?;
            }
        }
        Ok(sessions.len())
    }

    /// The person a vaccinator scanned (personal QR) or typed (CCCD) at a site, with their
    /// doses, the next dose due and the screening questions.
    pub async fn vaccinee(&self, caller: &Caller, site: SiteId, scanned: &str) -> Result<Vaccinee> {
        let site = self.site_in(caller, site, Permission::RecordDoses).await?;
        let text = scanned.trim();
        let record: PersonRecord = if text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit()) {
            let cccd = Cccd::parse("cccd", text)?;
            let query = PersonQuery {
                cccd: Some(cccd.as_str().into()),
                scope: vec!["/".into()],
                limit: 1,
                ..PersonQuery::default()
            };
            self.store.search_people(&query).await?.into_iter().next().ok_or_else(|| {
                invalid("cccd", "unknown_person", "nobody is registered with this CCCD; register the person first")
            })?
        } else {
            let person = self.verify_personal_qr(text).await?;
            self.store.person(person).await?.ok_or_else(|| ServiceError::NotFound("person".into()))?
        };
        let id = record.id();
        self.audit(caller, "person.read", "person", &id.to_string(), &format!("vaccination at {}", site.name)).await?;
        let doses = self.store.person_doses(id).await?;
        let valid: Vec<Dose> = doses.iter().filter(|d| !d.voided).cloned().collect();
        let (next_dose_number, earliest_next) = next_dose(&outbreak_store_prior(&valid));
        Ok(Vaccinee {
            person: id,
            full_name: record.person.full_name.clone(),
            date_of_birth: record.person.date_of_birth.to_string(),
            doses,
            next_dose_number,
            earliest_next,
            registration: self.store.registration_of(id).await?,
            screening: SCREENING.to_vec(),
        })
    }

    /// Records a dose after screening; the store checks it against the person's history
    /// and the lot.
    pub async fn record_dose(&self, caller: &Caller, input: &DoseInput) -> Result<Dose> {
        let site = self.site_in(caller, input.site, Permission::RecordDoses).await?;
        let screening = check_screening(&input.screening)?;
        let session = match input.session {
            Some(id) => {
                let s = self
                    .store
                    .vaccination_session(id)
                    .await?
                    .ok_or_else(|| ServiceError::NotFound("session".into()))?;
                if s.site != site.id {
                    return Err(invalid("session", "other_site", "this session is at another site"));
                }
                Some(s)
            }
            None => None,
        };
        let product_text = input.product.clone().or_else(|| session.as_ref().map(|s| s.product.clone()));
        let lot_text = input.lot.clone().or_else(|| session.as_ref().map(|s| s.lot.clone()));
        let product = product("product", product_text.as_deref().unwrap_or(""))?;
        let lot = lot_number("lot", lot_text.as_deref().unwrap_or(""))?;
        let given_at = input.given_at.unwrap_or_else(now);
        if given_at > now() + Duration::minutes(5) {
            return Err(invalid("given_at", "in_the_future", "a dose is recorded once it has been given"));
        }
        let dose = NewDose {
            id: DoseId(Uuid::now_v7()),
            person: input.person,
            product: product.code.to_owned(),
            lot,
            dose_number: input.dose_number,
            given_at,
            site: site.id,
            session: input.session,
            vaccinator: caller.principal.actor(),
            screening,
        };
        let audit =
            vec![audit_entry(caller, "dose.record", "dose", &dose.id.to_string(), &format!("person {}", dose.person))];
        let stored = self.store.record_dose(dose, audit).await.map_err(|e| match e {
            outbreak_store::StoreError::NotFound("person") => invalid("person", "unknown_person", "no such person"),
            e => e.into(),
        })?;
        self.wake_notifier();
        Ok(stored)
    }

    /// Corrects or voids a dose with a reason; what it said before stays in its history.
    pub async fn correct_dose(&self, caller: &Caller, id: DoseId, input: &CorrectionInput) -> Result<Dose> {
        let dose = self.store.dose(id).await?.ok_or_else(|| ServiceError::NotFound("dose".into()))?;
        self.authorize_unit(caller, Permission::RecordDoses, &dose.site_path)?;
        let correction = DoseCorrection {
            product: input.product.as_deref().map(|p| product("product", p).map(|p| p.code.to_owned())).transpose()?,
            lot: input.lot.as_deref().map(|l| lot_number("lot", l)).transpose()?,
            given_at: input.given_at,
            void: input.void,
            reason: reason("reason", &input.reason)?,
            by: caller.principal.actor(),
            at: now(),
        };
        if correction.product.is_none() && correction.lot.is_none() && correction.given_at.is_none() && !correction.void
        {
            return Err(invalid(
                "correction",
                "nothing_to_correct",
                "say what to correct: product, lot, time, or void",
            ));
        }
        let audit = vec![audit_entry(caller, "dose.correct", "dose", &id.to_string(), &correction.reason)];
        let corrected = self.store.correct_dose(id, correction, audit).await?;
        self.revoke_dose_certificates(caller, id).await?;
        Ok(corrected)
    }

    pub async fn dose_history(&self, caller: &Caller, id: DoseId) -> Result<(Dose, Vec<DoseRevision>)> {
        let dose = self.store.dose(id).await?.ok_or_else(|| ServiceError::NotFound("dose".into()))?;
        if !caller.principal.may(Permission::ReadVaccination, &dose.home_path) {
            self.authorize_unit(caller, Permission::RecordDoses, &dose.site_path)?;
        }
        self.audit(caller, "dose.read", "dose", &id.to_string(), "").await?;
        Ok((dose, self.store.dose_history(id).await?))
    }

    /// Reports an adverse event after a dose: staff where it was given, or the person.
    pub async fn report_adverse_event(&self, caller: &Caller, input: &AdverseInput) -> Result<AdverseEvent> {
        let dose = self.store.dose(input.dose).await?.ok_or_else(|| ServiceError::NotFound("dose".into()))?;
        match &caller.principal {
            Principal::Citizen { phone } => {
                let record = self.store.person(dose.person).await?;
                if record.as_ref().and_then(|r| r.person.phone.as_ref()) != Some(phone) {
                    return Err(ServiceError::NotFound("dose".into()));
                }
            }
            Principal::Staff { .. } => self.authorize_unit(caller, Permission::RecordDoses, &dose.site_path)?,
        }
        if input.onset_at < dose.given_at || input.onset_at > now() + Duration::minutes(5) {
            return Err(invalid("onset_at", "out_of_range", "the onset is after the dose and not in the future"));
        }
        let event = AdverseEvent {
            id: AdverseEventId(Uuid::now_v7()),
            dose: dose.id,
            person: dose.person,
            severity: Severity::parse("severity", &input.severity)?,
            description: text_field("description", &input.description, 1000, true)?,
            onset_at: input.onset_at,
            status: AdverseStatus::Reported,
            note: String::new(),
            reported_by: caller.principal.actor(),
            unit_path: dose.site_path.clone(),
            reported_at: now(),
        };
        self.store.insert_adverse_event(&event).await?;
        self.audit(caller, "adverse_event.report", "adverse_event", &event.id.to_string(), event.severity.as_str())
            .await?;
        Ok(event)
    }

    pub async fn adverse_events(&self, caller: &Caller) -> Result<Vec<AdverseEvent>> {
        let scope = self.authorize(caller, Permission::RecordDoses)?;
        Ok(self.store.adverse_events(&scope.paths, 500).await?)
    }

    pub async fn follow_up_adverse_event(
        &self,
        caller: &Caller,
        id: AdverseEventId,
        status: &str,
        note: &str,
    ) -> Result<()> {
        let scope = self.authorize(caller, Permission::RecordDoses)?;
        let status = AdverseStatus::parse("status", status)?;
        let note = text_field("note", note, 1000, false)?;
        // Only events the caller can list may be followed up.
        let known = self.store.adverse_events(&scope.paths, 10_000).await?.into_iter().any(|e| e.id == id);
        if !known {
            return Err(ServiceError::NotFound("adverse event".into()));
        }
        self.store.update_adverse_event(id, status, &note).await?;
        self.audit(caller, "adverse_event.update", "adverse_event", &id.to_string(), status.as_str()).await
    }

    /// Coverage of a unit in the caller's jurisdiction (their own top unit by default), with
    /// the units below and doses per day over the last `days` days.
    pub async fn coverage(&self, caller: &Caller, unit: Option<&str>, days: i64) -> Result<CoverageReport> {
        let scope = self.authorize(caller, Permission::ReadVaccination)?;
        let unit = match unit {
            Some(code) => {
                let code = unit_code("unit", code)?;
                self.store.unit(&code).await?.ok_or_else(|| ServiceError::NotFound("unit".into()))?
            }
            None => {
                let top = scope.paths.first().cloned().unwrap_or_default();
                let code = top.trim_end_matches('/').rsplit('/').next().unwrap_or("VN").to_owned();
                let code = if code == "VN" { UnitCode::country() } else { unit_code("unit", &code)? };
                self.store.unit(&code).await?.ok_or_else(|| ServiceError::NotFound("unit".into()))?
            }
        };
        self.authorize_unit(caller, Permission::ReadVaccination, &unit.path)?;
        let rows = self.store.coverage(&unit.path).await?;
        let total = rows.iter().find(|r| r.dimension == "all").map(|r| r.coverage).unwrap_or_default();
        // Totals are kept down to communes; below a commune there is nothing to drill into.
        let children =
            if unit.path.matches('/').count() <= 3 { self.store.child_units(&unit.code).await? } else { vec![] };
        let paths: Vec<String> = children.iter().map(|c| c.path.clone()).collect();
        let per_child = self.store.coverage_of(&paths).await?;
        let to = local_date(now());
        let from = to - Duration::days(days.clamp(1, 366) - 1);
        Ok(CoverageReport {
            unit: unit.code.to_string(),
            unit_name: unit.name.clone(),
            unit_path: unit.path.clone(),
            population: unit.population,
            total,
            rows,
            children: children
                .iter()
                .zip(per_child)
                .map(|(u, (_, coverage))| UnitCoverage {
                    code: u.code.to_string(),
                    name: u.name.clone(),
                    population: u.population,
                    coverage,
                })
                .collect(),
            from,
            to,
            days: self.store.doses_per_day(&unit.path, from, to).await?,
        })
    }

    /// The doses and invitations of the people registered with the citizen's phone.
    pub async fn my_doses(&self, caller: &Caller) -> Result<Vec<PersonDoses>> {
        let Principal::Citizen { phone } = &caller.principal else {
            return Err(ServiceError::Forbidden("this page is for citizens".into()));
        };
        let mut all = Vec::new();
        for record in self.store.people_by_phone(phone).await? {
            all.push(self.doses_of(&record).await?);
        }
        Ok(all)
    }

    /// A person's doses and invitations, for staff who may read vaccination records where
    /// the person lives (a health station printing an elder's certificate, for one).
    pub async fn person_doses(&self, caller: &Caller, id: PersonId) -> Result<PersonDoses> {
        let record = self.person(caller, id).await?;
        self.authorize_unit(caller, Permission::ReadVaccination, &record.address_path)?;
        self.doses_of(&record).await
    }

    async fn doses_of(&self, record: &PersonRecord) -> Result<PersonDoses> {
        Ok(PersonDoses {
            person: record.id(),
            full_name: record.person.full_name.clone(),
            doses: self.store.person_doses(record.id()).await?,
            invitations: self.store.person_invitations(record.id()).await?,
        })
    }

    /// A person's doses, for anyone holding their CCCD, date of birth and the code sent to
    /// their phone (see [`crate::lookup`]).
    pub async fn lookup_doses(&self, cccd: &str, birth: &str, code: &str, client: &str) -> Result<PersonDoses> {
        let record = self.looked_up(cccd, birth, code, client).await?;
        self.doses_of(&record).await
    }
}

/// The rows of an uploaded list, each validated as it is drawn (a named iterator rather
/// than a closure, so that the upload's future stays `Send` for every lifetime).
struct ValidatedRows<'a> {
    rows: std::slice::Iter<'a, SheetRow>,
    columns: &'a [Option<usize>],
    groups: &'a [PriorityGroup],
    organisation: &'a Organisation,
    today: Date,
}

impl Iterator for ValidatedRows<'_> {
    type Item = (usize, String, std::result::Result<NewRegistration, Invalid>);

    fn next(&mut self) -> Option<Self::Item> {
        let row = self.rows.next()?;
        let name = row.cell(self.columns[0]).to_owned();
        Some((row.line, name, registration_row(row, self.columns, self.groups, self.organisation, self.today)))
    }
}

/// A batch of registrations the store is writing: each row's line and name, and the
/// write itself.
struct WrittenBatch {
    meta: Vec<(usize, String)>,
    write: tokio::task::JoinHandle<outbreak_store::Result<Vec<RegistrationOutcome>>>,
}

impl WrittenBatch {
    /// Waits for the write and reports on each row.
    async fn report(self) -> Result<Vec<RegistrationItem>> {
        let outcomes = self.write.await.map_err(|e| ServiceError::Internal(format!("registration writer: {e}")))??;
        Ok(self.meta.into_iter().zip(outcomes).map(|((line, name), o)| item(line, name, o)).collect())
    }
}

/// Whether a series begun with `first` may go on with `next`: the same product, or an mRNA
/// vaccine after Vaxzevria (the Ministry of Health allowed that mix in 2021).
pub fn may_continue_with(first: &Product, next: &Product) -> bool {
    first.code == next.code
        || (first.code == "vaxzevria" && next.vaccine_type == outbreak_domain::vaccination::VaccineType::Mrna)
}

fn outbreak_store_prior(doses: &[Dose]) -> Vec<outbreak_domain::vaccination::PriorDose> {
    doses
        .iter()
        .filter(|d| !d.voided)
        .filter_map(|d| {
            Some(outbreak_domain::vaccination::PriorDose {
                product: product("product", &d.product).ok()?,
                dose_number: d.dose_number,
                given_at: d.given_at,
            })
        })
        .collect()
}

fn taken_count(invitations: &[Invitation]) -> i64 {
    invitations
        .iter()
        .filter(|t| {
            matches!(t.status, InvitationStatus::Offered | InvitationStatus::Confirmed | InvitationStatus::Attended)
        })
        .count() as i64
}

fn item(line: usize, full_name: String, outcome: RegistrationOutcome) -> RegistrationItem {
    let (status, person, field, code, message) = match outcome {
        RegistrationOutcome::Registered { person, matched, .. } => {
            (if matched { "matched" } else { "registered" }, Some(person), None, None, None)
        }
        RegistrationOutcome::AlreadyRegistered { person, .. } => ("already_registered", Some(person), None, None, None),
        RegistrationOutcome::Refused { field, code, message } => {
            ("refused", None, Some(field), Some(code), Some(message))
        }
    };
    RegistrationItem { line, full_name, status: status.into(), person, field, code, message }
}

/// One row of an organisation's list as a registration, or why not.
pub fn registration_row(
    row: &SheetRow,
    columns: &[Option<usize>],
    groups: &[PriorityGroup],
    organisation: &Organisation,
    today: Date,
) -> std::result::Result<NewRegistration, Invalid> {
    let cell = |key: usize| row.cell(columns[key]);
    let cccd = cell(3);
    let sex = match cell(2) {
        "" => match Cccd::parse("cccd", cccd) {
            Ok(c) => c.sex_and_year().0.as_str().to_owned(),
            Err(_) => return Err(Invalid::new("sex", "required", "write the sex (Nam or Nữ) when there is no CCCD")),
        },
        text => Sex::parse("sex", text)?.as_str().to_owned(),
    };
    let group = find_group(groups, cell(5)).ok_or_else(|| {
        Invalid::new(
            "priority_group",
            "unknown_group",
            format!("{:?} is not a priority group: write its number (1–{}) or name", cell(5), groups.len()),
        )
    })?;
    let unit = match cell(7) {
        "" => organisation.unit.to_string(),
        code => code.to_owned(),
    };
    let person = NewPerson {
        full_name: cell(0).to_owned(),
        date_of_birth: birth_text(cell(1))?,
        sex,
        phone: Some(cell(4).to_owned()).filter(|p| !p.is_empty()),
        cccd: Some(cccd.to_owned()).filter(|c| !c.is_empty()),
        address_unit: unit,
        street: cell(8).to_owned(),
        ..NewPerson::default()
    }
    .validate(today)
    .map_err(|errors| errors.into_result().err().unwrap_or_else(|| Invalid::new("row", "invalid", "invalid row")))?;
    if person.cccd.is_none() && person.phone.is_none() {
        return Err(Invalid::new(
            "cccd",
            "required",
            "give a CCCD or a phone number, so the person can be found again",
        ));
    }
    let person = person.into_person(PersonId::new(), now());
    Ok(NewRegistration {
        id: outbreak_domain::vaccination::RegistrationId(Uuid::now_v7()),
        preferred_unit: person.address_unit.clone(),
        person,
        organisation: Some(organisation.id),
        priority_group: group.code.clone(),
        comorbidities: text_field("comorbidities", cell(6), 300, false)?,
        registered_at: now(),
    })
}
