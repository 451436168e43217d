//! Testing in the demo: sampling sessions in each commune on the last few days, one with
//! individual tubes and one with pools of five; a few percent of people sampled each day;
//! results for all but today's, with some positives (which confirm cases through the same
//! rules as a lab's results) and some positive pools (whose members await a retest). The
//! staff accounts' commune always has a case, so that its tracers have contacts to call.

use std::collections::HashMap;

use outbreak_domain::testing::{Barcode, BarcodeKind, NewResult, PoolId, SessionId, SpecimenId, TestType, ValidResult};
use outbreak_domain::{Person, Unit};
use outbreak_store::{NewSpecimen, RecordResult, SamplingSession, Store, StoreError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use time::{Duration, OffsetDateTime};

use crate::DemoError;

/// Days of sessions before today (today's specimens wait for their results).
const DAYS: i64 = 3;
/// Share of people sampled on a day.
const SAMPLED: f64 = 0.05;
const POOL_SIZE: i64 = 5;
/// The demo's results come from this lab.
const LAB: &str = "demo-lab";

/// The sessions of each commune and day: individual tubes first, then pools.
pub(crate) struct Sessions {
    by_commune: HashMap<String, Vec<(i64, SamplingSession, SamplingSession)>>,
    /// The path of the first commune, where the demo's staff accounts work.
    home_path: String,
}

fn session(
    rng: &mut ChaCha8Rng,
    commune: &Unit,
    day: i64,
    pool_size: Option<i64>,
    now: OffsetDateTime,
) -> SamplingSession {
    let date = outbreak_domain::local_date(now) - Duration::days(day);
    SamplingSession {
        id: SessionId(uuid::Uuid::from_u64_pair(rng.r#gen(), rng.r#gen())),
        site: format!("Trạm y tế {}", commune.name),
        unit: commune.code.clone(),
        unit_path: commune.path.clone(),
        date,
        team: if pool_size.is_some() { "Tổ lấy mẫu gộp" } else { "Tổ lấy mẫu đơn" }.into(),
        test_type: TestType::RtPcr,
        pool_size,
        created_by: "demo".into(),
        created_at: now - Duration::days(day),
        closed_at: None,
    }
}

/// Opens the sessions (a resumed run finds them there).
pub(crate) async fn open(
    store: &dyn Store,
    seed: u64,
    communes: &[Unit],
    now: OffsetDateTime,
) -> Result<Sessions, DemoError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0074_6573_7469_6e67);
    let mut by_commune = HashMap::new();
    for commune in communes {
        let mut days = Vec::new();
        for day in 0..DAYS {
            let single = session(&mut rng, commune, day, None, now);
            let pooled = session(&mut rng, commune, day, Some(POOL_SIZE), now);
            for s in [&single, &pooled] {
                if store.sampling_session(s.id).await?.is_none() {
                    store.insert_sampling_session(s).await?;
                }
            }
            days.push((day, single, pooled));
        }
        by_commune.insert(commune.code.to_string(), days);
    }
    let home_path = communes.first().map(|c| c.path.clone()).unwrap_or_default();
    Ok(Sessions { by_commune, home_path })
}

/// What the testing of one chunk of people made.
#[derive(Default)]
pub(crate) struct Tested {
    pub specimens: u64,
    pub cases: u64,
}

/// Samples some of these people on each day and records the results of the past days.
/// `chunk` numbers the chunk, so that labels are unique across the demo and the same on a
/// resumed run.
pub(crate) async fn sample(
    store: &dyn Store,
    sessions: &Sessions,
    people: &[Person],
    seed: u64,
    chunk: u64,
    now: OffsetDateTime,
) -> Result<Tested, DemoError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ chunk.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut label = chunk * 1_000_000;
    let mut next_label = |kind| {
        label += 1;
        Barcode::new(kind, label)
    };
    let mut new = Vec::new();
    for person in people {
        // Units below a commune carry its code before the first dot.
        let commune = person.address_unit.as_str().split('.').next().unwrap_or_default();
        let Some(days) = sessions.by_commune.get(commune) else { continue };
        for (day, single, pooled) in days {
            if !rng.gen_bool(SAMPLED) {
                continue;
            }
            let session = if rng.gen_bool(0.5) { single } else { pooled };
            // Morning hours of that day, local time.
            let midnight =
                (now - Duration::days(*day)).to_offset(outbreak_domain::VIETNAM).replace_time(time::Time::MIDNIGHT);
            let morning = midnight + Duration::minutes(rng.gen_range(7 * 60..11 * 60));
            // A demo started before this morning's sessions (at night in Vietnam) still has
            // specimens of today, taken in the hours already gone, waiting for results.
            let collected_at =
                if morning > now { midnight + (now - midnight) * rng.gen_range(0.0..1.0) } else { morning }
                    .to_offset(time::UtcOffset::UTC);
            new.push(NewSpecimen {
                id: SpecimenId(uuid::Uuid::from_u64_pair(rng.r#gen(), rng.r#gen())),
                barcode: next_label(BarcodeKind::Specimen),
                session: session.id,
                person: person.id,
                collected_at,
                new_pool: session.pool_size.map(|_| {
                    (PoolId(uuid::Uuid::from_u64_pair(rng.r#gen(), rng.r#gen())), next_label(BarcodeKind::Pool))
                }),
            });
        }
    }
    let taken = match store.take_specimens(new, Vec::new()).await {
        Ok(taken) => taken,
        // A person already sampled in a session: a resumed run met this chunk before.
        Err(StoreError::Refused { code: "already_sampled", .. }) => return Ok(Tested::default()),
        Err(e) => return Err(e.into()),
    };
    let today = outbreak_domain::local_date(now);
    let mut results = Vec::new();
    let mut pools_done = std::collections::HashSet::new();
    let mut home_case_made = false;
    for specimen in &taken {
        if outbreak_domain::local_date(specimen.collected_at) == today {
            continue;
        }
        let (barcode, positive_rate) = match &specimen.pool {
            Some(pool) if pools_done.insert(pool.id) => (pool.barcode.clone(), 0.05),
            Some(_) => continue,
            None => (specimen.barcode.clone(), 0.03),
        };
        // The first pool of each batch is positive, so that the demo always has members
        // waiting for their retest, and so is the first chunk's first individual tube of a
        // resident of the staff's commune; the rest follow the rates.
        let first_pool = specimen.pool.is_some() && pools_done.len() == 1;
        let home_case = chunk == 0
            && !home_case_made
            && specimen.pool.is_none()
            && !sessions.home_path.is_empty()
            && specimen.home_path.starts_with(&sessions.home_path);
        home_case_made |= home_case;
        let positive = rng.gen_bool(positive_rate) || first_pool || home_case;
        let resulted_at =
            (specimen.collected_at + Duration::hours(rng.gen_range(6..30))).min(now - Duration::minutes(5));
        let input = NewResult {
            barcode: barcode.to_string(),
            result: if positive { "positive" } else { "negative" }.into(),
            ct: positive.then(|| rng.gen_range(16.0..34.0)),
            resulted_at: Some(resulted_at),
        };
        let result: ValidResult = input.validate(now).map_err(|e| DemoError::Options(e.to_string()))?;
        results.push(RecordResult { result, recorded_by: LAB.into(), recorded_at: resulted_at, correction: None });
    }
    let outcomes = store.record_results(results, vec!["/".into()], Vec::new()).await?;
    let cases = outcomes
        .iter()
        .map(|o| match o {
            outbreak_store::ResultOutcome::Recorded { cases, .. } => cases.len() as u64,
            _ => 0,
        })
        .sum();
    Ok(Tested { specimens: taken.len() as u64, cases })
}

/// Marks the demo's results as already told, so that starting the server does not send an
/// SMS for every one of them.
pub(crate) async fn mark_told(store: &dyn Store) -> Result<(), DemoError> {
    let mut seq = store.event_cursor("sms").await?;
    loop {
        let events = store.events_after(seq, &[], 10_000).await?;
        match events.last() {
            Some(last) => seq = last.seq,
            None => break,
        }
    }
    store.set_event_cursor("sms", seq).await?;
    Ok(())
}
