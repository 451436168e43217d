#![allow(clippy::unwrap_used)]
use outbreak_domain::testing::*;
use outbreak_domain::{NewPerson, PersonId, now};
use outbreak_store::*;
use std::time::Instant;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_record_results() {
    let url = std::env::var("BENCH_URL").unwrap_or(outbreak_testkit::postgres::database().await);
    let store = open(&url).await.unwrap();
    store.seed_units(&outbreak_domain::unit::national_units()).await.unwrap();
    let n = 10_000u64;
    let units = ["00070", "00073", "26740"];
    let people: Vec<_> = (0..n)
        .map(|i| {
            NewPerson {
                full_name: format!("Người {i}"),
                date_of_birth: "1987-03-21".into(),
                sex: "male".into(),
                address_unit: units[i as usize % 3].into(),
                street: "x".into(),
                ..NewPerson::default()
            }
            .validate(time::macros::date!(2026 - 11 - 21))
            .unwrap()
            .into_person(PersonId::new(), now())
        })
        .collect();
    let t = Instant::now();
    store.insert_people(&people).await.unwrap();
    eprintln!("people {:?}", t.elapsed());
    let session = SamplingSession {
        id: SessionId(Uuid::now_v7()),
        site: "s".into(),
        unit: outbreak_domain::UnitCode::parse("u", "00070").unwrap(),
        unit_path: String::new(),
        date: outbreak_domain::local_date(now()),
        team: String::new(),
        test_type: TestType::RtPcr,
        pool_size: None,
        created_by: "x".into(),
        created_at: now(),
        closed_at: None,
    };
    store.insert_sampling_session(&session).await.unwrap();
    let at = now() - time::Duration::hours(3);
    let t = Instant::now();
    for chunk in people.chunks(1000) {
        let swabs = chunk
            .iter()
            .enumerate()
            .map(|(i, p)| NewSpecimen {
                id: SpecimenId(Uuid::now_v7()),
                barcode: Barcode::new(BarcodeKind::Specimen, (p.id.0.as_u128() % 10_000_000_000) as u64 + i as u64 * 0),
                session: session.id,
                person: p.id,
                collected_at: at,
                new_pool: None,
            })
            .collect();
        store.take_specimens(swabs, vec![]).await.unwrap();
    }
    eprintln!("take {:?} ({:.0}/s)", t.elapsed(), n as f64 / t.elapsed().as_secs_f64());
    let specimens = store.session_specimens(session.id).await.unwrap();
    let results: Vec<RecordResult> = specimens
        .iter()
        .enumerate()
        .map(|(i, s)| RecordResult {
            result: ValidResult {
                barcode: s.barcode.clone(),
                outcome: if i % 50 == 0 { Outcome::Positive } else { Outcome::Negative },
                ct: Some(30.0),
                resulted_at: now(),
                time_given: true,
            },
            recorded_by: "lab".into(),
            recorded_at: now(),
            correction: None,
        })
        .collect();
    let audit = NewAuditEntry {
        at: now(),
        actor: "lab".into(),
        actor_kind: "staff".into(),
        action: "results.record".into(),
        entity: "batch".into(),
        entity_id: "1".into(),
        detail: String::new(),
        client: "x".into(),
    };
    let t = Instant::now();
    let out = store.record_results(results.clone(), vec!["/VN/".into()], vec![audit.clone()]).await.unwrap();
    eprintln!("record {:?} ({:.0}/s)", t.elapsed(), n as f64 / t.elapsed().as_secs_f64());
    assert!(out.iter().all(|o| matches!(o, ResultOutcome::Recorded { .. })));
    let t = Instant::now();
    let out = store.record_results(results, vec!["/VN/".into()], vec![audit]).await.unwrap();
    eprintln!("again {:?} ({:.0}/s)", t.elapsed(), n as f64 / t.elapsed().as_secs_f64());
    assert!(out.iter().all(|o| matches!(o, ResultOutcome::Unchanged)));
}
