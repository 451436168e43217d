//! `outbreak bench results`: recording lab results in bulk from a file, and the testing
//! dashboard's response time over a store of many tests.
//!
//! On a fresh store it writes people in every commune, imports a history of tests (the
//! "10 million"), and takes pending specimens — individual tubes and pools — whose results
//! go into one CSV file. It then times the upload of that file through the services (read,
//! validate, expand pools, record, move the totals), and on SQLite also until the pages it
//! wrote are checkpointed into the database file, and times dashboard requests through the
//! HTTP API for the country, a province and a commune.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use outbreak_domain::testing::{
    Barcode, BarcodeKind, Conclusion, Outcome, PoolId, SessionId, SpecimenId, SpecimenStatus, TestType,
};
use outbreak_domain::{BirthDate, Person, PersonId, Sex, Unit, UnitLevel, now};
use outbreak_services::Services;
use outbreak_services::accounts::{AccountRequest, GrantRequest};
use outbreak_store::{Pool, PoolRef, SamplingSession, Specimen, TestImport};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::Duration as Span;
use uuid::Uuid;

use super::http::Connection;

#[derive(Args, Clone)]
pub struct ResultsArgs {
    /// People, spread evenly over every commune.
    #[arg(long, default_value_t = 1_000_000)]
    people: u64,
    /// Tests already in the store, over the last 60 days.
    #[arg(long, default_value_t = 10_000_000)]
    tests: u64,
    /// Rows in the results file.
    #[arg(long, default_value_t = 1_000_000)]
    results: u64,
    /// Share of the file's rows that are pools of five swabs.
    #[arg(long, default_value_t = 0.1)]
    pool_share: f64,
    /// Dashboard requests timed per unit.
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// Also run on PostgreSQL: the URL of an empty database.
    #[arg(long)]
    postgres: Option<String>,
}

/// Rows written per import transaction.
const IMPORT_CHUNK: usize = 50_000;
const POOL_SIZE: usize = 5;
const HISTORY_DAYS: i64 = 60;

struct Figures {
    backend: &'static str,
    rows: u64,
    specimens: u64,
    upload: Duration,
    /// From the start of the upload until its pages are copied from SQLite's write-ahead
    /// log into the database file: work the upload leaves behind it.
    checkpointed: Duration,
    recorded: usize,
    dashboards: Vec<(String, Vec<Duration>)>,
}

pub async fn run(args: ResultsArgs) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("outbreak-bench-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let mut figures = vec![measure(&args, &dir.join("results.sqlite").to_string_lossy(), &dir).await?];
    if let Some(url) = &args.postgres {
        figures.push(measure(&args, url, &dir).await?);
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!();
    println!(
        "outbreak bench results — {} people, {} tests in the store, a file of {} results ({:.0}% pools of {POOL_SIZE})",
        args.people,
        args.tests,
        args.results,
        args.pool_share * 100.0
    );
    println!();
    println!(
        "| store | file rows | specimens concluded | upload time | rows/s | specimens/s | until checkpointed | rows/s |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for f in &figures {
        let (secs, settled) = (f.upload.as_secs_f64(), f.checkpointed.as_secs_f64());
        println!(
            "| {} | {} | {} | {:.1} s | {:.0} | {:.0} | {:.1} s | {:.0} |",
            f.backend,
            f.rows,
            f.specimens,
            secs,
            f.rows as f64 / secs,
            f.specimens as f64 / secs,
            settled,
            f.rows as f64 / settled
        );
    }
    println!();
    println!("| store | dashboard | requests | median | p99 | max |");
    println!("|---|---|---|---|---|---|");
    for f in &figures {
        for (unit, times) in &f.dashboards {
            let (median, p99, max) = percentiles(times);
            println!(
                "| {} | {unit} | {} | {:.1} ms | {:.1} ms | {:.1} ms |",
                f.backend,
                times.len(),
                ms(median),
                ms(p99),
                ms(max)
            );
        }
    }
    if figures.iter().any(|f| f.recorded as u64 != f.rows) {
        bail!("some results in the file were not recorded");
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentiles(times: &[Duration]) -> (Duration, Duration, Duration) {
    let mut sorted = times.to_vec();
    sorted.sort();
    let at =
        |share: f64| sorted.get(((sorted.len() as f64 - 1.0) * share).round() as usize).copied().unwrap_or_default();
    (at(0.5), at(0.99), sorted.last().copied().unwrap_or_default())
}

pub(super) fn bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{msg:>22} [{bar:30}] {human_pos}/{human_len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(what.to_owned());
    bar
}

/// A person of the benchmark: where they live, for the specimens' paths.
struct Resident {
    id: PersonId,
    commune: usize,
}

async fn measure(args: &ResultsArgs, database: &str, dir: &std::path::Path) -> anyhow::Result<Figures> {
    let (services, address) = super::start(database, dir).await?;
    let backend = services.store.backend();
    eprintln!("[{backend}] setting up");
    let communes: Vec<Unit> =
        outbreak_domain::unit::national_units().into_iter().filter(|u| u.level == UnitLevel::Commune).collect();
    let residents = people(&services, &communes, args.people).await?;
    let mut rng = StdRng::seed_from_u64(2021);
    let mut labels = Labels(0);
    history(&services, &communes, &residents, args.tests, &mut rng, &mut labels).await?;
    let file = dir.join(format!("results-{backend}.csv"));
    let specimens = pending(&services, &communes, &residents, args, &file, &mut rng, &mut labels).await?;

    let lab = services
        .create_account(
            &super::installer(),
            &AccountRequest {
                username: "national-lab".into(),
                display_name: "National lab".into(),
                password: None,
                system: true,
                grants: vec![
                    GrantRequest { role: "lab_technician".into(), unit: "VN".into() },
                    GrantRequest { role: "admin".into(), unit: "VN".into() },
                ],
            },
        )
        .await?;
    let token = services.issue_api_token(&super::installer(), lab.id, "bench").await?.secret;
    let caller = services.token_caller(&token, "bench").await?;

    super::settle(database).await?;
    eprintln!("[{backend}] uploading {} results", args.results);
    let started = Instant::now();
    let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let report = services.upload_results(&caller, &bytes, Some("results.csv")).await?;
    let upload = started.elapsed();
    super::settle(database).await?;
    let checkpointed = started.elapsed();
    if let Some(problem) = report.problems.first() {
        eprintln!("[{backend}] first refused row: {problem:?}");
    }

    let province = &communes[communes.len() / 2];
    let province_code = province.parent.as_ref().map(ToString::to_string).unwrap_or_else(|| "01".into());
    let mut dashboards = Vec::new();
    for unit in ["VN".to_owned(), province_code, province.code.to_string()] {
        eprintln!("[{backend}] dashboard of {unit}");
        let mut connection = Connection::open(&address).await?;
        let path = format!("/api/v1/testing/dashboard?unit={unit}");
        let mut times = Vec::with_capacity(args.requests);
        for _ in 0..args.requests {
            let started = Instant::now();
            let (status, body) = connection.request("GET", &path, Some(&token), &[]).await?;
            times.push(started.elapsed());
            if status != 200 {
                bail!("dashboard of {unit} answered {status}: {}", String::from_utf8_lossy(&body));
            }
        }
        dashboards.push((unit, times));
    }
    Ok(Figures {
        backend,
        rows: report.rows as u64,
        specimens,
        upload,
        checkpointed,
        recorded: report.recorded,
        dashboards,
    })
}

/// Writes `count` people spread evenly over the communes.
async fn people(services: &Services, communes: &[Unit], count: u64) -> anyhow::Result<Vec<Resident>> {
    let progress = bar(count, "people");
    let mut residents = Vec::with_capacity(count as usize);
    let at = now();
    let mut chunk = Vec::with_capacity(IMPORT_CHUNK);
    for i in 0..count {
        let commune = (i as usize) % communes.len();
        let id = PersonId(Uuid::now_v7());
        chunk.push(Person {
            id,
            full_name: format!("Người Thử {i}"),
            date_of_birth: BirthDate::Year(1940 + (i % 80) as i32),
            sex: if i % 2 == 0 { Sex::Female } else { Sex::Male },
            phone: None,
            cccd: None,
            insurance_number: None,
            address_unit: communes[commune].code.clone(),
            street: String::new(),
            household: None,
            created_at: at,
            updated_at: at,
        });
        residents.push(Resident { id, commune });
        if chunk.len() == IMPORT_CHUNK || i + 1 == count {
            services.store.insert_people(&chunk).await?;
            progress.inc(chunk.len() as u64);
            chunk.clear();
        }
    }
    progress.finish();
    Ok(residents)
}

fn session(unit: &Unit, date: time::Date, test_type: TestType, pool_size: Option<i64>) -> SamplingSession {
    SamplingSession {
        id: SessionId(Uuid::now_v7()),
        site: format!("Điểm lấy mẫu {}", unit.name),
        unit: unit.code.clone(),
        unit_path: unit.path.clone(),
        date,
        team: String::new(),
        test_type,
        pool_size,
        created_by: "bench".into(),
        created_at: now(),
        closed_at: Some(now()),
    }
}

/// Tube labels from a counter, scattered over the number space as printed labels are (a
/// counter's neighbours would make every index insert an append).
struct Labels(u64);

impl Labels {
    fn next(&mut self, kind: BarcodeKind) -> Barcode {
        self.0 += 1;
        // An odd multiplier not divisible by 5 visits every number below 10^10 once.
        Barcode::new(kind, self.0.wrapping_mul(7_919_000_003) % 10_000_000_000)
    }
}

/// Imports `count` concluded tests over the last 60 days: one session per province, day
/// and test type; mostly negative, a few positive, invalid or rejected.
async fn history(
    services: &Services,
    communes: &[Unit],
    residents: &[Resident],
    count: u64,
    rng: &mut StdRng,
    labels: &mut Labels,
) -> anyhow::Result<()> {
    let provinces: Vec<Unit> =
        outbreak_domain::unit::national_units().into_iter().filter(|u| u.level == UnitLevel::Province).collect();
    let today = outbreak_domain::local_date(now());
    let mut sessions = std::collections::HashMap::new();
    let progress = bar(count, "tests in the store");
    let mut import = TestImport::default();
    for i in 0..count {
        let resident = &residents[rng.gen_range(0..residents.len())];
        let home = &communes[resident.commune];
        let province = provinces.iter().find(|p| home.path.starts_with(&p.path)).unwrap_or(&provinces[0]);
        let days_ago = rng.gen_range(0..HISTORY_DAYS);
        let test_type = if rng.gen_bool(0.7) { TestType::RtPcr } else { TestType::RapidAntigen };
        let key = (province.code.clone(), days_ago, test_type);
        let session_id = *sessions.entry(key).or_insert_with(|| {
            let s = session(province, today - Span::days(days_ago), test_type, None);
            let id = s.id;
            import.sessions.push(s);
            id
        });
        let collected_at = now() - Span::days(days_ago) - Span::minutes(rng.gen_range(0..600));
        let roll: f64 = rng.r#gen();
        let (status, conclusion) = match roll {
            r if r < 0.03 => (SpecimenStatus::Resulted, Some(Conclusion::Positive)),
            r if r < 0.035 => (SpecimenStatus::Resulted, Some(Conclusion::Invalid)),
            r if r < 0.04 => (SpecimenStatus::Rejected, None),
            _ => (SpecimenStatus::Resulted, Some(Conclusion::Negative)),
        };
        let resulted_at = conclusion.map(|_| collected_at + Span::hours(rng.gen_range(2..60)));
        let barcode = labels.next(BarcodeKind::Specimen);
        import.specimens.push(Specimen {
            id: SpecimenId(Uuid::now_v7()),
            barcode,
            session: session_id,
            person: resident.id,
            test_type,
            site_path: province.path.clone(),
            home_path: home.path.clone(),
            collected_at,
            pool: None,
            status,
            conclusion,
            ct: (conclusion == Some(Conclusion::Positive) && test_type == TestType::RtPcr)
                .then(|| rng.gen_range(15.0..35.0)),
            resulted_at,
            reject_reason: (status == SpecimenStatus::Rejected).then(|| "ống bị rò".to_owned()),
            retest_of: None,
        });
        if import.specimens.len() == IMPORT_CHUNK || i + 1 == count {
            let n = import.specimens.len() as u64;
            services.store.import_tests(std::mem::take(&mut import)).await?;
            progress.inc(n);
        }
    }
    progress.finish();
    Ok(())
}

/// Takes the pending specimens whose results the file carries, and writes the file; returns
/// how many specimens the file concludes.
async fn pending(
    services: &Services,
    communes: &[Unit],
    residents: &[Resident],
    args: &ResultsArgs,
    file: &std::path::Path,
    rng: &mut StdRng,
    labels: &mut Labels,
) -> anyhow::Result<u64> {
    let today = outbreak_domain::local_date(now());
    let pools = (args.results as f64 * args.pool_share) as u64;
    let singles = args.results - pools;
    let total = singles + pools * POOL_SIZE as u64;
    let progress = bar(total, "pending specimens");
    let mut rows = String::with_capacity(args.results as usize * 24);
    rows.push_str("Mã ống,Kết quả,Ct\n");
    let mut import = TestImport::default();
    let mut written = 0;
    // One session per commune; the file's rows cycle over them.
    let sessions: Vec<(SamplingSession, SamplingSession)> = communes
        .iter()
        .map(|c| (session(c, today, TestType::RtPcr, None), session(c, today, TestType::RtPcr, Some(POOL_SIZE as i64))))
        .collect();
    for (single, pooled) in &sessions {
        import.sessions.push(single.clone());
        import.sessions.push(pooled.clone());
    }
    let collected_at = now() - Span::hours(6);
    let specimen =
        |resident: &Resident, session: &SamplingSession, pool: Option<PoolRef>, labels: &mut Labels| Specimen {
            id: SpecimenId(Uuid::now_v7()),
            barcode: labels.next(BarcodeKind::Specimen),
            session: session.id,
            person: resident.id,
            test_type: TestType::RtPcr,
            site_path: session.unit_path.clone(),
            home_path: communes[resident.commune].path.clone(),
            collected_at,
            pool,
            status: SpecimenStatus::Received,
            conclusion: None,
            ct: None,
            resulted_at: None,
            reject_reason: None,
            retest_of: None,
        };
    let word = |rng: &mut StdRng| if rng.gen_bool(0.02) { "dương tính" } else { "âm tính" };
    let mut next = 0usize;
    for row in 0..args.results {
        // Residents are taken in turn, each in the sessions of their own commune.
        let pooled = row < pools;
        let take = if pooled { POOL_SIZE } else { 1 };
        let members: Vec<&Resident> = (0..take).map(|k| &residents[(next + k) % residents.len()]).collect();
        next += take;
        let (single_session, pool_session) = &sessions[members[0].commune];
        if pooled {
            let pool = Pool {
                id: PoolId(Uuid::now_v7()),
                barcode: labels.next(BarcodeKind::Pool),
                session: pool_session.id,
                size_limit: POOL_SIZE as i64,
                members: POOL_SIZE as i64,
                closed: true,
                status: SpecimenStatus::Received,
                outcome: None,
                ct: None,
                resulted_at: None,
                reject_reason: None,
                site_path: pool_session.unit_path.clone(),
            };
            let reference = PoolRef { id: pool.id, barcode: pool.barcode.clone() };
            for member in members {
                import.specimens.push(specimen(member, pool_session, Some(reference.clone()), labels));
            }
            let outcome = if rng.gen_bool(0.05) { Outcome::Positive } else { Outcome::Negative };
            let text = if outcome == Outcome::Positive { "dương tính" } else { "âm tính" };
            rows.push_str(&format!("{},{text},\n", pool.barcode));
            import.pools.push(pool);
        } else {
            let s = specimen(members[0], single_session, None, labels);
            let result = word(rng);
            let ct = if result == "dương tính" {
                format!("\"{:.1}\"", rng.gen_range(15.0..35.0)).replace('.', ",")
            } else {
                String::new()
            };
            rows.push_str(&format!("{},{result},{ct}\n", s.barcode));
            import.specimens.push(s);
        }
        if import.specimens.len() >= IMPORT_CHUNK || row + 1 == args.results {
            let n = import.specimens.len() as u64;
            services.store.import_tests(std::mem::take(&mut import)).await?;
            written += n;
            progress.inc(n);
        }
    }
    progress.finish();
    std::fs::write(file, rows).with_context(|| format!("cannot write {}", file.display()))?;
    Ok(written)
}
