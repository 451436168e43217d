//! `outbreak bench ingest`: sustained check-ins per second through the HTTP API, one per
//! request and in batches, beside two baselines measured in the same run — a trivial
//! handler on the same HTTP stack, and the store inserting the same rows without HTTP —
//! and a final check that every acknowledged check-in is stored.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use outbreak_domain::venue::{NewVenue, REPEAT_WINDOW, Visitor};
use outbreak_services::Services;
use outbreak_services::accounts::{AccountRequest, GrantRequest};
use outbreak_store::NewCheckin;

use super::http::Connection;

#[derive(Args, Clone)]
pub struct IngestArgs {
    /// Seconds each HTTP phase runs (the trivial handler and single check-ins take turns
    /// of a second).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Check-ins per batch request.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Venues the check-ins are spread over.
    #[arg(long, default_value_t = 200)]
    venues: usize,
    /// Also run on PostgreSQL: the URL of an empty database.
    #[arg(long)]
    postgres: Option<String>,
    /// Skip the one-per-request phase (to profile the batched path alone).
    #[arg(long)]
    batches_only: bool,
    /// Give every batched item a `client_id`, as a gate or gateway that retries does: each
    /// is then also remembered, so that a retried batch stores nothing twice.
    #[arg(long)]
    client_ids: bool,
}

/// Visitors are phone numbers drawn from one counter, so no two check-ins are one visit,
/// and scattered over the number space as real visitors' numbers are (a counter's
/// neighbouring numbers would make every index insert an append).
static NEXT_PHONE: AtomicU64 = AtomicU64::new(0);

fn next_phone() -> String {
    // Multiplying by an odd constant modulo 10^8 visits every number once, out of order.
    let n = NEXT_PHONE.fetch_add(1, Ordering::Relaxed).wrapping_mul(48_271_639) % 100_000_000;
    format!("09{n:08}")
}

struct Figures {
    backend: &'static str,
    trivial_rps: f64,
    single_rps: f64,
    batch_rps: f64,
    store_rps: f64,
    acknowledged: u64,
    stored: u64,
}

pub async fn run(args: IngestArgs) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("outbreak-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let mut results = vec![measure(&args, &dir.join("ingest.sqlite").to_string_lossy(), &dir).await?];
    if let Some(url) = &args.postgres {
        results.push(measure(&args, url, &dir).await?);
    }
    println!();
    println!(
        "outbreak bench ingest — {} s per phase, {} connections, batches of {}",
        args.seconds, args.connections, args.batch
    );
    println!();
    println!(
        "| store | trivial handler (req/s) | single check-ins (/s) | single ÷ trivial | batched check-ins (/s) | store alone (rows/s) | batched ÷ store | acknowledged | stored |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for f in &results {
        println!(
            "| {} | {:.0} | {:.0} | {:.0}% | {:.0} | {:.0} | {:.0}% | {} | {} |",
            f.backend,
            f.trivial_rps,
            f.single_rps,
            100.0 * f.single_rps / f.trivial_rps,
            f.batch_rps,
            f.store_rps,
            100.0 * f.batch_rps / f.store_rps,
            f.acknowledged,
            f.stored
        );
    }
    println!();
    let _ = std::fs::remove_dir_all(&dir);
    if results.iter().any(|f| f.stored < f.acknowledged) {
        bail!("acknowledged check-ins are missing from the store");
    }
    println!("every acknowledged check-in is stored");
    Ok(())
}

async fn measure(args: &IngestArgs, database: &str, dir: &std::path::Path) -> anyhow::Result<Figures> {
    let (services, address) = super::start(database, dir).await?;
    let backend = services.store.backend();
    eprintln!("[{backend}] setting up {} venues", args.venues);
    let token = setup(&services, args.venues).await?;
    let codes: Arc<Vec<String>> =
        Arc::new(services.my_venues(&super::installer()).await?.into_iter().map(|v| v.code).collect());
    if codes.is_empty() {
        bail!("no venues were created");
    }

    // The trivial handler and single check-ins take turns a second at a time, so that a
    // shared host slowing down or speeding up during the run weighs on both alike: run one
    // after the other, their ratio moved by a third between runs minutes apart.
    eprintln!("[{backend}] trivial handler and single check-ins, taking turns");
    let mut connections = connect(&address, args.connections).await?;
    let (mut trivial, mut trivial_time) = (0, Duration::ZERO);
    let (mut acked_single, mut single_time) = (0, Duration::ZERO);
    for _ in 0..args.seconds {
        let (elapsed, requests) =
            load(&mut connections, SLICE, |_| ("GET", "/healthz".to_owned(), Vec::new()), &token, |_| 0).await?.0;
        trivial += requests;
        trivial_time += elapsed;
        if args.batches_only {
            continue;
        }
        let codes = codes.clone();
        let ((elapsed, _), acked) = load(
            &mut connections,
            SLICE,
            move |i| {
                let body =
                    format!(r#"{{"venue":"{}","visitor":{{"phone":"{}"}}}}"#, codes[i % codes.len()], next_phone());
                ("POST", "/api/v1/checkins".to_owned(), body.into_bytes())
            },
            &token,
            |(status, _)| u64::from(status == 201),
        )
        .await?;
        acked_single += acked;
        single_time += elapsed;
    }
    eprintln!("[{backend}] batched check-ins");
    let codes_batch = codes.clone();
    let size = args.batch;
    let client_ids = args.client_ids;
    let (batches, acked_batch) = load(
        &mut connections,
        Duration::from_secs(args.seconds),
        move |i| {
            let items: Vec<String> = (0..size)
                .map(|j| {
                    let phone = next_phone();
                    let client_id = if client_ids { format!(r#","client_id":"gate-{phone}""#) } else { String::new() };
                    format!(
                        r#"{{"venue":"{}","visitor":{{"phone":"{phone}"}}{client_id}}}"#,
                        codes_batch[(i + j) % codes_batch.len()],
                    )
                })
                .collect();
            ("POST", "/api/v1/checkins/batch".to_owned(), format!(r#"{{"items":[{}]}}"#, items.join(",")).into_bytes())
        },
        &token,
        |(status, body)| if status == 200 { stored_count(body) } else { 0 },
    )
    .await?;
    let batch_rps = acked_batch as f64 / batches.0.as_secs_f64();

    eprintln!("[{backend}] the store alone");
    let store_rows = (batch_rps as usize * 2).clamp(args.batch, 2_000_000) / args.batch * args.batch;
    let store_rps = store_alone(&services, &codes, store_rows, args.batch).await?;
    let acknowledged = acked_single + acked_batch + store_rows as u64;
    let stored = services.store.count_checkins().await?;
    Ok(Figures {
        backend,
        trivial_rps: trivial as f64 / trivial_time.as_secs_f64(),
        single_rps: acked_single as f64 / single_time.as_secs_f64().max(f64::MIN_POSITIVE),
        batch_rps,
        store_rps,
        acknowledged,
        stored,
    })
}

/// The `"stored":N` count of a batch answer.
fn stored_count(body: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    text.split("\"stored\":")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// A gate system's account and token, and venues in a commune.
async fn setup(services: &Services, venues: usize) -> anyhow::Result<String> {
    let installer = super::installer();
    let account = services
        .create_account(
            &installer,
            &AccountRequest {
                username: "bench-gate".into(),
                display_name: "Benchmark gate".into(),
                password: None,
                system: true,
                grants: vec![GrantRequest { role: "venue_owner".into(), unit: "VN".into() }],
            },
        )
        .await?;
    let token = services.issue_api_token(&installer, account.id, "bench").await?.secret;
    for i in 0..venues {
        let venue = NewVenue {
            name: format!("Chợ số {i}"),
            kind: "market".into(),
            unit: "00070".into(),
            contact_phone: "0912000000".into(),
            ..NewVenue::default()
        };
        services.register_venue(&installer, &venue).await?;
    }
    Ok(token)
}

type Request = (&'static str, String, Vec<u8>);

/// One turn of the trivial handler or of single check-ins.
const SLICE: Duration = Duration::from_secs(1);

/// The keep-alive connections every phase and turn sends its requests on. Opened once: a
/// turn opening its own would leave hundreds of closed connections a second waiting out
/// TIME_WAIT, and a long run would use up the local ports.
async fn connect(address: &str, count: usize) -> anyhow::Result<Vec<Connection>> {
    let mut connections = Vec::with_capacity(count);
    for _ in 0..count {
        connections.push(Connection::open(address).await?);
    }
    Ok(connections)
}

/// Sends requests on all `connections` at once for `time`, each connection the requests
/// `make` builds; returns (elapsed, requests answered) and the sum of `count`.
async fn load(
    connections: &mut Vec<Connection>,
    time: Duration,
    make: impl Fn(usize) -> Request + Send + Sync + Clone + 'static,
    token: &str,
    count: impl Fn((u16, &[u8])) -> u64 + Send + Sync + Copy + 'static,
) -> anyhow::Result<((Duration, u64), u64)> {
    let deadline = Instant::now() + time;
    let started = Instant::now();
    let mut workers = Vec::new();
    for (worker, mut connection) in connections.drain(..).enumerate() {
        let (token, make) = (token.to_owned(), make.clone());
        workers.push(tokio::spawn(async move {
            let (mut requests, mut counted) = (0u64, 0u64);
            let mut i = worker;
            while Instant::now() < deadline {
                let (method, path, body) = make(i);
                let (status, answer) = connection.request(method, &path, Some(&token), &body).await?;
                if status >= 500 {
                    bail!("the server answered {status}: {}", String::from_utf8_lossy(&answer));
                }
                requests += 1;
                counted += count((status, &answer));
                i += STRIDE;
            }
            anyhow::Ok((connection, requests, counted))
        }));
    }
    let (mut requests, mut counted) = (0, 0);
    for worker in workers {
        let (connection, r, c) = worker.await.context("a load worker failed")??;
        connections.push(connection);
        requests += r;
        counted += c;
    }
    Ok(((started.elapsed(), requests), counted))
}

/// Workers step through request numbers by a large prime, spreading venues evenly.
const STRIDE: usize = 7919;

/// Rows per second when the store records the same kind of check-ins itself, in
/// transactions of `batch` rows.
async fn store_alone(services: &Services, codes: &[String], rows: usize, batch: usize) -> anyhow::Result<f64> {
    let mut venues = Vec::with_capacity(codes.len());
    for code in codes {
        venues.push(services.venue_by_code(code).await?);
    }
    let now = outbreak_domain::now();
    let started = Instant::now();
    for chunk_start in (0..rows).step_by(batch) {
        let checkins: Vec<NewCheckin> = (chunk_start..chunk_start + batch)
            .map(|i| {
                let venue = &venues[i % venues.len()];
                let phone = outbreak_domain::Phone::parse("phone", &next_phone())
                    .unwrap_or_else(|_| venue.contact_phone.clone());
                NewCheckin {
                    venue: venue.id,
                    visitor: Visitor::Phone(phone.clone()).key(),
                    name: String::new(),
                    at: now,
                    until: now + venue.kind.default_stay(),
                    source: "api".into(),
                    client_key: None,
                }
            })
            .collect();
        services.store.record_checkins(checkins, REPEAT_WINDOW, Vec::new()).await?;
    }
    Ok(rows as f64 / started.elapsed().as_secs_f64())
}
