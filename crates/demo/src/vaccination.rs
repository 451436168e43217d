//! Vaccination in the demo: in each commune an approved organisation, a vaccination site,
//! a lot of Comirnaty and a session tomorrow with two time slots; a share of the people
//! registered through the organisation, and some of them with one or two doses given
//! weeks ago (recorded through the same rules as a vaccinator's), so that coverage and the
//! citizen's page have something to show and the allocator has people to invite.

use std::collections::HashMap;

use outbreak_domain::vaccination::{
    DoseId, OrganisationId, OrganisationKind, OrganisationStatus, RegistrationId, SiteId, Slot, VaccinationSessionId,
    national_priority_groups,
};
use outbreak_domain::{Person, Unit};
use outbreak_store::{
    Lot, NewDose, NewRegistration, Organisation, RegistrationOutcome, Site, Store, StoreError, VaccinationSession,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use time::{Duration, OffsetDateTime, Time};

use crate::DemoError;

/// Share of people registered through their commune's organisation.
const REGISTERED: f64 = 0.4;
/// Share of the registered with a first dose; of those, the share with a second.
const FIRST_DOSE: f64 = 0.5;
const SECOND_DOSE: f64 = 0.6;
const PRODUCT: &str = "comirnaty";
/// The demo's doses are recorded as given by this vaccinator.
const VACCINATOR: &str = "demo-vaccinator";

/// Each commune's organisation and site, and the lot its doses come from.
pub(crate) struct Plan {
    by_commune: HashMap<String, (OrganisationId, Site, String)>,
}

fn id(rng: &mut ChaCha8Rng) -> uuid::Uuid {
    uuid::Uuid::from_u64_pair(rng.r#gen(), rng.r#gen())
}

/// Creates the national priority groups (when none are there) and, in each commune, the
/// organisation, site, lot and session; a resumed run finds them there.
pub(crate) async fn open(
    store: &dyn Store,
    seed: u64,
    communes: &[Unit],
    now: OffsetDateTime,
) -> Result<Plan, DemoError> {
    if store.priority_groups().await?.is_empty() {
        store.put_priority_groups(&national_priority_groups()).await?;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0076_6163_6369_6e65);
    let mut by_commune = HashMap::new();
    for commune in communes {
        let organisation = OrganisationId(id(&mut rng));
        if store.organisation(organisation).await?.is_none() {
            store
                .insert_organisation(&Organisation {
                    id: organisation,
                    name: format!("Công ty May {}", commune.name),
                    kind: OrganisationKind::Company,
                    unit: commune.code.clone(),
                    unit_path: commune.path.clone(),
                    address: format!("Khu công nghiệp, {}", commune.name),
                    contact_phone: "+84912000000".into(),
                    manager: None,
                    status: OrganisationStatus::Pending,
                    applied_at: now - Duration::days(60),
                    decided_by: None,
                    decided_at: None,
                    decision_note: String::new(),
                })
                .await?;
            store
                .decide_organisation(
                    organisation,
                    OrganisationStatus::Approved,
                    None,
                    "demo",
                    "",
                    now - Duration::days(59),
                )
                .await?;
        }
        let site = Site {
            id: SiteId(id(&mut rng)),
            name: format!("Trạm y tế {}", commune.name),
            unit: commune.code.clone(),
            unit_path: commune.path.clone(),
            address: commune.name.clone(),
            created_by: "demo".into(),
        };
        let lot = format!("FK{}", commune.code.as_str());
        if store.site(site.id).await?.is_none() {
            store.insert_site(&site).await?;
            store
                .insert_lot(&Lot {
                    lot: lot.clone(),
                    product: PRODUCT.into(),
                    expires_on: outbreak_domain::local_date(now) + Duration::days(365),
                    unit: commune.code.clone(),
                })
                .await?;
        }
        let session = VaccinationSession {
            id: VaccinationSessionId(id(&mut rng)),
            site: site.id,
            site_name: site.name.clone(),
            unit_path: site.unit_path.clone(),
            date: outbreak_domain::local_date(now) + Duration::days(1),
            product: PRODUCT.into(),
            lot: lot.clone(),
            slots: [(7, 30, 50), (9, 30, 50)]
                .into_iter()
                .filter_map(|(h, m, capacity)| {
                    let start = Time::from_hms(h, m, 0).ok()?;
                    Some(Slot { start, end: start + Duration::hours(2), capacity })
                })
                .collect(),
            created_by: "demo".into(),
            created_at: now,
        };
        if store.vaccination_session(session.id).await?.is_none() {
            store.insert_vaccination_session(&session).await?;
        }
        by_commune.insert(commune.code.to_string(), (organisation, site, lot));
    }
    Ok(Plan { by_commune })
}

/// What the vaccination of one chunk of people made.
#[derive(Default)]
pub(crate) struct Vaccinated {
    pub registrations: u64,
    pub doses: u64,
}

/// Registers some of these people and records doses for some of those. `chunk` numbers
/// the chunk, so that a resumed run makes the same choices.
pub(crate) async fn vaccinate(
    store: &dyn Store,
    plan: &Plan,
    people: &[Person],
    seed: u64,
    chunk: u64,
    now: OffsetDateTime,
) -> Result<Vaccinated, DemoError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ chunk.wrapping_mul(0x76_6163_6369_6e65));
    let groups = store.priority_groups().await?;
    let mut registrations = Vec::new();
    let mut chosen = Vec::new();
    for person in people {
        // Units below a commune carry its code before the first dot.
        let commune = person.address_unit.as_str().split('.').next().unwrap_or_default();
        let Some((organisation, site, lot)) = plan.by_commune.get(commune) else { continue };
        if !rng.gen_bool(REGISTERED) || groups.is_empty() {
            continue;
        }
        let group = &groups[rng.gen_range(0..groups.len())];
        registrations.push(NewRegistration {
            id: RegistrationId(id(&mut rng)),
            person: person.clone(),
            organisation: Some(*organisation),
            priority_group: group.code.clone(),
            comorbidities: if rng.gen_bool(0.1) { "tăng huyết áp".into() } else { String::new() },
            preferred_unit: site.unit.clone(),
            registered_at: now - Duration::days(rng.gen_range(45..60)),
        });
        chosen.push((person.id, site.id, lot.clone()));
    }
    let outcomes = store.register(registrations, Vec::new()).await?;
    let registered = outcomes.iter().filter(|o| matches!(o, RegistrationOutcome::Registered { .. })).count() as u64;
    let mut doses = 0;
    for (person, site, lot) in chosen {
        if !rng.gen_bool(FIRST_DOSE) {
            continue;
        }
        let first_at = now - Duration::days(rng.gen_range(30..40)) - Duration::minutes(rng.gen_range(0..600));
        let mut given = vec![(1, first_at)];
        if rng.gen_bool(SECOND_DOSE) {
            given.push((2, first_at + Duration::days(rng.gen_range(21..28))));
        }
        for (number, given_at) in given {
            let dose = NewDose {
                id: DoseId(id(&mut rng)),
                person,
                product: PRODUCT.into(),
                lot: lot.clone(),
                dose_number: number,
                given_at,
                site,
                session: None,
                vaccinator: VACCINATOR.into(),
                screening: Vec::new(),
            };
            match store.record_dose(dose, Vec::new()).await {
                Ok(_) => doses += 1,
                // A resumed run meets doses it recorded before: the number no longer fits.
                Err(StoreError::Refused { code: "contradicts_history", .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(Vaccinated { registrations: registered, doses })
}
