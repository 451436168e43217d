//! Times a large demo on a fresh SQLite file and prints how long each stage took and how
//! big the file grew.
//!
//! ```text
//! cargo run --release -p outbreak-demo --example million [PEOPLE] [DATABASE] [--checkin-days N]
//! ```
//!
//! PEOPLE defaults to 1,000,000; DATABASE to a new file in the temporary folder, removed at
//! the end unless given; N to the demo's default (`--checkin-days 0` times people alone).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use outbreak_demo::{DemoOptions, Progress, generate};
use outbreak_services::sms::LogGateway;
use outbreak_services::{Config, Services};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let mut positional = Vec::new();
    let mut checkin_days = None;
    while let Some(arg) = args.next() {
        if arg == "--checkin-days" {
            checkin_days = Some(args.next().ok_or("--checkin-days needs a number")?.parse()?);
        } else {
            positional.push(arg);
        }
    }
    let mut positional = positional.into_iter();
    let people: u64 = positional.next().map(|n| n.replace('_', "").parse()).transpose()?.unwrap_or(1_000_000);
    let given = positional.next().map(PathBuf::from);
    let dir = std::env::temp_dir().join(format!("outbreak-demo-million-{}", std::process::id()));
    let path = given.clone().unwrap_or_else(|| dir.join("demo.sqlite"));
    if path.exists() {
        return Err(format!("{} exists; give a new file", path.display()).into());
    }

    let started = Instant::now();
    let store = outbreak_store::open(&path.to_string_lossy()).await?;
    let config = Config::new("http://localhost", dir.join("sms.log"));
    let services = Services::new(store, Arc::new(LogGateway::new(dir.join("sms.log"))), config);

    // When each stage was last heard from, to time the stages.
    let stages: Mutex<Vec<(&'static str, Instant)>> = Mutex::new(Vec::new());
    let last_line = Mutex::new(Instant::now());
    let progress = |p: Progress| {
        if let Ok(mut stages) = stages.lock() {
            match stages.last_mut() {
                Some((stage, at)) if *stage == p.stage => *at = Instant::now(),
                _ => stages.push((p.stage, Instant::now())),
            }
        }
        if let Ok(mut last) = last_line.lock()
            && (last.elapsed() >= Duration::from_secs(5) || p.done == p.total)
        {
            *last = Instant::now();
            eprintln!("{:>7.1}s  {:<8} {:>9} / {}", started.elapsed().as_secs_f64(), p.stage, p.done, p.total);
        }
    };
    let defaults = DemoOptions::default();
    let options = DemoOptions { people, checkin_days: checkin_days.unwrap_or(defaults.checkin_days), ..defaults };
    let summary = generate(&services, &options, &progress).await?;
    let elapsed = started.elapsed();

    println!(
        "{} people in {} households, {} neighbourhoods, {} units added; {} venues, {} check-ins",
        summary.people,
        summary.households,
        summary.neighbourhoods,
        summary.units_added,
        summary.venues,
        summary.checkins
    );
    let mut from = started;
    for (stage, until) in stages.lock().map(|s| s.clone()).unwrap_or_default() {
        println!("  {stage:<8} {:>7.1}s", until.duration_since(from).as_secs_f64());
        from = until;
    }
    println!(
        "total {:.1}s, {:.0} people/s; database {:.0} MiB ({})",
        elapsed.as_secs_f64(),
        summary.people as f64 / elapsed.as_secs_f64(),
        size(&path) as f64 / 1_048_576.0,
        path.display()
    );
    for citizen in &summary.sample_citizens {
        println!(
            "  {} {} CCCD {} ({} on this phone)",
            citizen.full_name,
            citizen.phone.national(),
            citizen.cccd.as_ref().map(|c| c.as_str()).unwrap_or("-"),
            citizen.people_on_phone
        );
    }
    if given.is_none() {
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}

/// The database with its write-ahead log.
fn size(path: &Path) -> u64 {
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    [path, wal.as_path()].iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum()
}
