//! `outbreak bench trace`: how fast a case's contacts are found over a national-sized store
//! of check-ins.
//!
//! On a fresh store it writes a town from the demo generator (people in households,
//! venues whose crowds follow a heavy tail) and bulk-loads its check-ins over a fortnight,
//! then confirms random people as cases and traces them through the HTTP API: half to
//! their F1s (`depth=f1`), half to their F1s and F2s, each case once, as a tracer would.
//! Beside each F1 trace it times the floor: one bare indexed query that reads the same
//! check-ins (the case's, then the others' at the same venues over the same ranges) and
//! nothing else, so the engine's cost is a ratio that holds on a noisy machine. The floor
//! and the engine take turns going first, so neither always finds the pages warm. Before
//! the measures it traces other cases to their F1s (`--warmup`), reported on a row of their
//! own: the bulk load leaves the page cache holding the pages it wrote last, not those a
//! running server's traces keep there.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use outbreak_demo::{ActivityOptions, Resident, Town};
use outbreak_domain::testing::{CaseId, CaseStatus};
use outbreak_domain::tracing::{LONGEST_STAY, copresence_margin};
use outbreak_domain::venue::{VenueKind, Visitor};
use outbreak_domain::{PersonId, local_date, now};
use outbreak_services::Services;
use outbreak_services::accounts::{AccountRequest, GrantRequest};
use outbreak_store::Case;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

use super::http::Connection;

#[derive(Args, Clone)]
pub struct TraceArgs {
    /// The store to fill: a SQLite file path or a postgres:// URL of an empty database; a
    /// new SQLite file in a temporary folder (deleted afterwards) when absent.
    #[arg(long)]
    database: Option<String>,
    /// Check-ins to load, over `--days` days.
    #[arg(long, default_value_t = 100_000_000)]
    checkins: u64,
    /// People in the town; by default one for every three check-ins a day.
    #[arg(long)]
    people: Option<u64>,
    #[arg(long, default_value_t = 14)]
    days: u32,
    /// Cases traced for each measure (F1; F1 and F2), each a different random person.
    #[arg(long, default_value_t = 200)]
    cases: usize,
    /// Cases traced to their F1s before the measures, reported apart: the bulk load leaves
    /// the page cache holding what it wrote last, where a running server holds what
    /// tracing reads.
    #[arg(long, default_value_t = 100)]
    warmup: usize,
    #[arg(long, default_value_t = 2021)]
    seed: u64,
}

/// Batches waiting between the generator and the store.
const QUEUED_BATCHES: usize = 4;

pub async fn run(args: TraceArgs) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("outbreak-bench-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let database = args.database.clone().unwrap_or_else(|| dir.join("trace.sqlite").to_string_lossy().into_owned());
    let result = measure(&args, &database, &dir).await;
    if args.database.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

async fn measure(args: &TraceArgs, database: &str, dir: &std::path::Path) -> anyhow::Result<()> {
    let (services, address) = super::start(database, dir).await?;
    let backend = services.store.backend();
    if services.store.count_checkins().await? > 0 {
        bail!("{database} already holds check-ins; give the benchmark an empty store");
    }
    let people = args.people.unwrap_or(args.checkins / (3 * u64::from(args.days.max(1)))).max(1);
    let options = ActivityOptions { seed: args.seed, people, days: args.days, checkins: args.checkins, now: now() };

    eprintln!("[{backend}] {people} people, {} check-ins over {} days", args.checkins, args.days);
    let started = Instant::now();
    let progress = bar(people, "people");
    let town = outbreak_demo::populate(&*services.store, &options, &|done| progress.set_position(done)).await?;
    progress.finish();
    let populate = started.elapsed();

    let started = Instant::now();
    let progress = bar(args.checkins, "check-ins");
    let (tx, rx) = tokio::sync::mpsc::channel(QUEUED_BATCHES);
    let generator = {
        let (town, progress) = (town.clone(), progress.clone());
        tokio::task::spawn_blocking(move || {
            for batch in town.checkins() {
                let n = batch.len() as u64;
                // A closed channel means the store failed; it reports its own error.
                if tx.blocking_send(batch).is_err() {
                    break;
                }
                progress.inc(n);
            }
            progress.set_message("building indexes");
        })
    };
    let loaded = services.store.load_checkins(rx).await?;
    generator.await?;
    progress.finish();
    let fill = started.elapsed();
    eprintln!(
        "[{backend}] {loaded} check-ins loaded in {:.0} s ({:.0}/s, indexes included); people and venues took {:.0} s",
        fill.as_secs_f64(),
        loaded as f64 / fill.as_secs_f64(),
        populate.as_secs_f64()
    );

    super::settle(database).await?;
    let token = tracer_token(&services).await?;
    let mut rng = StdRng::seed_from_u64(args.seed ^ 0x0063_6173_6573);
    let mut taken = HashSet::new();
    let cases = confirm_cases(&services, &town, args.cases * 2, &mut taken, &mut rng).await?;
    let (f1_cases, f2_cases) = cases.split_at(args.cases.min(cases.len()));
    let warmup_cases = confirm_cases(&services, &town, args.warmup, &mut taken, &mut rng).await?;
    // The target is on the server's memory while tracing: the load's peak (the town, the
    // generator's batches, the index builds) is reported apart, the town is let go, and
    // the peak starts again from here.
    drop(town);
    let load_peak = peak_memory();
    if let Err(e) = std::fs::write("/proc/self/clear_refs", "5") {
        tracing::warn!(error = %e, "could not reset the peak resident memory; it includes the load");
    }
    let floor = Floor::open(database).await?;
    let mut connection = Connection::open(&address).await?;

    let mut figures = Figures::default();
    let progress = bar(warmup_cases.len() as u64, "warm-up traces");
    for case in &warmup_cases {
        figures.warmup.push(trace(&mut connection, &token, case.id, "f1").await?.0);
        progress.inc(1);
    }
    progress.finish();
    let progress = bar(f1_cases.len() as u64, "F1 traces");
    for (i, case) in f1_cases.iter().enumerate() {
        let keys = case_keys(&services, case).await?;
        let window = services.config.tracing.infectious_window(case.onset_date, case.sample_date, case.confirmed_at);
        let floor_first = i % 2 == 0;
        if floor_first {
            figures.floor.push(floor.time(&keys, window.from, window.until).await?);
        }
        let (took, report) = trace(&mut connection, &token, case.id, "f1").await?;
        figures.f1.push(took);
        figures.f1_listed.push(report.f1);
        figures.unlisted.push(report.unlisted_f1);
        if !floor_first {
            figures.floor.push(floor.time(&keys, window.from, window.until).await?);
        }
        progress.set_position(i as u64 + 1);
    }
    progress.finish();
    let progress = bar(f2_cases.len() as u64, "F1 + F2 traces");
    for (i, case) in f2_cases.iter().enumerate() {
        let (took, report) = trace(&mut connection, &token, case.id, "f2").await?;
        figures.f2.push(took);
        figures.f2_listed.push(report.f2);
        progress.set_position(i as u64 + 1);
    }
    progress.finish();

    print_figures(args, backend, people, loaded, fill, &figures);
    println!(
        "peak resident memory of this process: while tracing (the server, its client and the floor's connection) {}, while loading {load_peak}",
        peak_memory()
    );
    // The heap is the page caches and buffers; SQLite maps no database pages, so the
    // mapped files are the program's own.
    println!("resident now: {} of it heap, {} mapped files", status_field("RssAnon:"), status_field("RssFile:"));
    Ok(())
}

#[derive(Default)]
struct Figures {
    warmup: Vec<Duration>,
    f1: Vec<Duration>,
    floor: Vec<(Duration, u64)>,
    f2: Vec<Duration>,
    f1_listed: Vec<u64>,
    unlisted: Vec<u64>,
    f2_listed: Vec<u64>,
}

fn print_figures(args: &TraceArgs, backend: &str, people: u64, loaded: u64, fill: Duration, f: &Figures) {
    let floor: Vec<Duration> = f.floor.iter().map(|(d, _)| *d).collect();
    let rows: Vec<u64> = f.floor.iter().map(|(_, n)| *n).collect();
    println!();
    println!(
        "outbreak bench trace — {backend}, {loaded} check-ins over {} days, {people} people, {} cases per measure",
        args.days, args.cases
    );
    println!(
        "fill: {:.0} s, {:.0} check-ins/s (indexes built at the end)",
        fill.as_secs_f64(),
        loaded as f64 / fill.as_secs_f64()
    );
    println!();
    println!("| measure | cases | p50 | p90 | p99 | max |");
    println!("|---|---|---|---|---|---|");
    for (name, times) in [
        ("F1, first traces after the load (warm-up, apart)", &f.warmup),
        ("F1 through the API", &f.f1),
        ("floor: the same check-ins, one bare query", &floor),
        ("F1 + F2 through the API", &f.f2),
    ] {
        let p = percentiles(times);
        println!(
            "| {name} | {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |",
            times.len(),
            ms(p[0]),
            ms(p[1]),
            ms(p[2]),
            ms(p[3])
        );
    }
    let (engine, bare) = (percentiles(&f.f1), percentiles(&floor));
    let ratio = |i: usize| ms(engine[i]) / ms(bare[i]).max(0.001);
    println!();
    println!("engine ÷ floor: p50 {:.1}×, p90 {:.1}×, p99 {:.1}×", ratio(0), ratio(1), ratio(2));
    let middle = |values: &[u64]| {
        let mut v = values.to_vec();
        v.sort_unstable();
        (v.get(v.len() / 2).copied().unwrap_or(0), v.get((v.len() as f64 * 0.99) as usize).copied().unwrap_or(0))
    };
    let (rows_p50, rows_p99) = middle(&rows);
    let (f1_p50, f1_p99) = middle(&f.f1_listed);
    let (unlisted_p50, unlisted_p99) = middle(&f.unlisted);
    let (f2_p50, f2_p99) = middle(&f.f2_listed);
    println!("check-ins the floor read per case: median {rows_p50}, p99 {rows_p99}");
    println!(
        "F1 listed per case: median {f1_p50}, p99 {f1_p99}; counted beyond the hub cap: median {unlisted_p50}, p99 {unlisted_p99}"
    );
    println!("F2 listed per case: median {f2_p50}, p99 {f2_p99}");
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// p50, p90, p99 and the maximum.
fn percentiles(times: &[Duration]) -> [Duration; 4] {
    let mut sorted = times.to_vec();
    sorted.sort();
    let at =
        |share: f64| sorted.get(((sorted.len() as f64 - 1.0) * share).round() as usize).copied().unwrap_or_default();
    [at(0.5), at(0.9), at(0.99), sorted.last().copied().unwrap_or_default()]
}

fn peak_memory() -> String {
    status_field("VmHWM:")
}

/// A field of `/proc/self/status`, such as `VmHWM:`, as it reads there (`812345 kB`).
fn status_field(name: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(name)).map(|l| l.trim_start_matches(name).trim().to_owned()))
        .unwrap_or_else(|| "unknown".into())
}

fn bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{msg:>18} [{bar:30}] {human_pos}/{human_len} {per_sec} eta {eta} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(what.to_owned());
    bar
}

/// A system account of the national tracing team, and its API token.
async fn tracer_token(services: &Services) -> anyhow::Result<String> {
    let account = services
        .create_account(
            &super::installer(),
            &AccountRequest {
                username: "national-tracing".into(),
                display_name: "National tracing team".into(),
                password: None,
                system: true,
                grants: vec![GrantRequest { role: "tracer".into(), unit: "VN".into() }],
            },
        )
        .await?;
    Ok(services.issue_api_token(&super::installer(), account.id, "bench").await?.secret)
}

/// Confirms `count` different random people as cases today, sampled yesterday, none of
/// them `taken` by an earlier call (and takes them).
async fn confirm_cases(
    services: &Services,
    town: &Town,
    count: usize,
    taken: &mut HashSet<PersonId>,
    rng: &mut StdRng,
) -> anyhow::Result<Vec<Case>> {
    let confirmed_at = now();
    let sampled = local_date(confirmed_at).previous_day();
    let mut chosen: Vec<&Resident> =
        town.people.choose_multiple(rng, count + taken.len()).filter(|r| !taken.contains(&r.id)).take(count).collect();
    chosen.shuffle(rng);
    taken.extend(chosen.iter().map(|r| r.id));
    let mut cases = Vec::with_capacity(chosen.len());
    for resident in chosen {
        let commune = &town.communes[resident.commune];
        let case = Case {
            id: CaseId(Uuid::now_v7()),
            person: resident.id,
            unit: commune.code.clone(),
            unit_path: commune.path.clone(),
            source: "staff".into(),
            specimen: None,
            sample_date: sampled,
            onset_date: rng.gen_bool(0.5).then(|| local_date(confirmed_at) - time::Duration::days(rng.gen_range(1..4))),
            confirmed_at,
            status: CaseStatus::Confirmed,
            note: "outbreak bench trace".into(),
        };
        services.store.insert_case(&case).await?;
        cases.push(case);
    }
    Ok(cases)
}

/// The visitor keys the engine traces a case by: the person, and their phone.
async fn case_keys(services: &Services, case: &Case) -> anyhow::Result<Vec<String>> {
    let mut keys = vec![Visitor::Person(case.person).key()];
    if let Some(phone) = services.store.person(case.person).await?.and_then(|r| r.person.phone) {
        keys.push(Visitor::Phone(phone).key());
    }
    Ok(keys)
}

/// What the benchmark reads of a trace report.
#[derive(serde::Deserialize)]
struct Report {
    f1: u64,
    f2: u64,
    unlisted_f1: u64,
}

async fn trace(
    connection: &mut Connection,
    token: &str,
    case: CaseId,
    depth: &str,
) -> anyhow::Result<(Duration, Report)> {
    let path = format!("/api/v1/cases/{case}/trace?depth={depth}");
    let started = Instant::now();
    let (status, body) = connection.request("POST", &path, Some(token), &[]).await?;
    let took = started.elapsed();
    if status != 200 {
        bail!("tracing {case} answered {status}: {}", String::from_utf8_lossy(&body));
    }
    let report = serde_json::from_slice(&body).with_context(|| format!("the trace report of {case}"))?;
    Ok((took, report))
}

/// The widest margin of any venue kind: the floor reads at least what the engine reads.
fn widest_margin() -> time::Duration {
    VenueKind::ALL.iter().map(|k| copresence_margin(*k)).max().unwrap_or(time::Duration::ZERO)
}

/// The floor: one statement over the same two indexes as the engine's co-presence query —
/// the case's check-ins in the window, then every check-in at the same venue whose stay
/// could meet theirs — reading the rows and nothing more (no venues, people, ranking,
/// contacts, HTTP or JSON).
enum Floor {
    Sqlite(std::sync::Arc<std::sync::Mutex<rusqlite::Connection>>),
    Postgres(tokio_postgres::Client),
}

/// On SQLite the venue index is read class of stay by class, each as far back as its longest
/// stay, as the engine reads it.
static FLOOR_SQLITE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH {classes}
         SELECT o.id, o.visitor, o.at, o.until
         FROM checkins s INDEXED BY checkins_visitor CROSS JOIN k CROSS JOIN checkins o INDEXED BY checkins_venue
         WHERE s.visitor_key = ?1 AND s.at >= ?2 - ?4 AND s.at < ?3 AND s.visitor = ?5 AND s.until > ?2
           AND o.venue_key = s.venue_key AND o.stay_class = k.class
           AND o.at > s.at - k.longest - ?6 AND o.at < s.until + ?6",
        classes = *outbreak_store::SQLITE_STAY_CLASSES
    )
});

const FLOOR_POSTGRES: &str = "SELECT o.id, o.visitor, o.at, o.until
     FROM checkins s JOIN checkins o ON o.venue_key = s.venue_key
       AND o.at > s.at - $4::bigint * interval '1 microsecond' - $6::bigint * interval '1 microsecond'
       AND o.at < s.until + $6::bigint * interval '1 microsecond'
     WHERE s.visitor_key = $1 AND s.at >= $2::timestamptz - $4::bigint * interval '1 microsecond'
       AND s.at < $3::timestamptz AND s.visitor = $5 AND s.until > $2::timestamptz";

fn micros(d: time::Duration) -> i64 {
    d.whole_microseconds() as i64
}

impl Floor {
    async fn open(database: &str) -> anyhow::Result<Floor> {
        if let Some(path) = outbreak_store::sqlite_path(database) {
            let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
            // The same page cache as the store's readers, under the same heap limit (which
            // is the process's).
            conn.pragma_update(None, "cache_size", -outbreak_store::SQLITE_READER_CACHE_KIB)?;
            Ok(Floor::Sqlite(std::sync::Arc::new(std::sync::Mutex::new(conn))))
        } else {
            let (client, connection) = tokio_postgres::connect(database, tokio_postgres::NoTls).await?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(error = %e, "the floor's PostgreSQL connection ended");
                }
            });
            Ok(Floor::Postgres(client))
        }
    }

    /// Runs the floor for each of the case's keys; returns the time and the rows read.
    async fn time(
        &self,
        keys: &[String],
        from: time::OffsetDateTime,
        until: time::OffsetDateTime,
    ) -> anyhow::Result<(Duration, u64)> {
        let (longest, margin) = (micros(LONGEST_STAY), micros(widest_margin()));
        match self {
            Floor::Sqlite(conn) => {
                let (conn, keys) = (conn.clone(), keys.to_vec());
                let epoch = |t: time::OffsetDateTime| (t.unix_timestamp_nanos() / 1000) as i64;
                let (from, until) = (epoch(from), epoch(until));
                tokio::task::spawn_blocking(move || {
                    let conn = conn.lock().map_err(|_| anyhow::anyhow!("the floor's connection lock was poisoned"))?;
                    let started = Instant::now();
                    let mut rows: u64 = 0;
                    let mut stmt = conn.prepare_cached(&FLOOR_SQLITE)?;
                    for key in &keys {
                        let params = rusqlite::params![outbreak_store::key64(key), from, until, longest, key, margin];
                        let mut cursor = stmt.query(params)?;
                        while let Some(row) = cursor.next()? {
                            let _: (i64, String, i64, i64) = (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
                            rows += 1;
                        }
                    }
                    Ok::<_, anyhow::Error>((started.elapsed(), rows))
                })
                .await?
            }
            Floor::Postgres(client) => {
                let stmt = client.prepare(FLOOR_POSTGRES).await?;
                let started = Instant::now();
                let mut rows = 0;
                for key in keys {
                    let found = client
                        .query(&stmt, &[&outbreak_store::key64(key), &from, &until, &longest, key, &margin])
                        .await?;
                    for row in &found {
                        let _: (i64, String, time::OffsetDateTime, time::OffsetDateTime) =
                            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
                    }
                    rows += found.len() as u64;
                }
                Ok((started.elapsed(), rows))
            }
        }
    }
}
