//! The demo's staff: one account per role, created through the services like an admin would,
//! so that the audit log shows them. Passwords come from the seed, so the same demo always
//! prints the same credentials.

use outbreak_domain::{Grant, Principal, Role, Unit, UnitCode};
use outbreak_services::accounts::{AccountRequest, GrantRequest};
use outbreak_services::{Caller, Services};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use uuid::Uuid;

use crate::DemoAccount;
use crate::error::DemoError;
use crate::names::any;

/// The name the demo acts under in the audit log.
pub(crate) const ACTOR: &str = "demo";

/// Short words for passwords: easy to read out and type, no diacritics.
const WORDS: &[&str] = &[
    "sen", "mai", "lua", "tre", "song", "nui", "bien", "gio", "trang", "sao", "may", "hoa", "cau", "nang", "mua",
    "lang", "que", "pho", "che", "com", "thuyen", "dong", "suoi", "rung", "den", "chuong", "quat", "non", "dao",
];

/// The admin principal the demo creates accounts as: an admin of the whole country that
/// exists only for the length of the run.
pub(crate) fn bootstrap_caller() -> Caller {
    Caller {
        principal: Principal::Staff {
            account_id: Uuid::nil(),
            username: ACTOR.into(),
            grants: vec![Grant { role: Role::Admin, unit: UnitCode::country(), unit_path: "/VN/".into() }],
        },
        client: ACTOR.into(),
        is_system: false,
    }
}

/// The accounts to create, admin first: every role at `home`, the admin over the country,
/// and a second tracer at `elsewhere` (another province) to show jurisdiction at work.
pub(crate) fn plan(seed: u64, country: &Unit, home: &Unit, elsewhere: &Unit) -> Vec<DemoAccount> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(2);
    let mut accounts = Vec::with_capacity(Role::ALL.len() + 1);
    let mut add = |role: Role, username: &str, unit: &Unit, rng: &mut ChaCha8Rng| {
        let password =
            format!("demo-{username}-{}-{}-{:04}", any(rng, WORDS), any(rng, WORDS), rng.gen_range(0..10_000));
        accounts.push(DemoAccount {
            role,
            username: username.to_owned(),
            password,
            display_name: format!("{} – {}", title(role), unit.name),
            unit_code: unit.code.clone(),
            unit_name: unit.name.clone(),
        });
    };
    for role in Role::ALL {
        let unit = if role == Role::Admin { country } else { home };
        add(role, role.as_str(), unit, &mut rng);
    }
    add(Role::Tracer, "tracer2", elsewhere, &mut rng);
    accounts
}

/// The job title staff would see, in Vietnamese.
fn title(role: Role) -> &'static str {
    match role {
        Role::Admin => "Quản trị hệ thống",
        Role::HealthOfficer => "Cán bộ y tế",
        Role::Tracer => "Cán bộ truy vết",
        Role::Sampler => "Nhân viên lấy mẫu",
        Role::LabTechnician => "Kỹ thuật viên xét nghiệm",
        Role::Vaccinator => "Nhân viên tiêm chủng",
        Role::OrganisationManager => "Quản lý cơ quan",
        Role::VenueOwner => "Chủ địa điểm",
    }
}

/// Creates the accounts not there yet; returns how many were created.
pub(crate) async fn create(services: &Services, caller: &Caller, accounts: &[DemoAccount]) -> Result<u64, DemoError> {
    let mut created = 0;
    for account in accounts {
        if services.store.account_by_username(&account.username).await?.is_some() {
            continue;
        }
        let request = AccountRequest {
            username: account.username.clone(),
            display_name: account.display_name.clone(),
            password: Some(account.password.clone()),
            system: false,
            grants: vec![GrantRequest { role: account.role.as_str().into(), unit: account.unit_code.to_string() }],
        };
        services.create_account(caller, &request).await?;
        created += 1;
    }
    Ok(created)
}
