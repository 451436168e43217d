//! `outbreak demo`: a fresh store filled with a synthetic population, its staff accounts
//! printed, then served — the quickest way to see the platform.

use std::path::Path;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use outbreak_demo::{DemoOptions, DemoSummary, Progress};

use crate::cli::DemoArgs;

pub async fn run(mut args: DemoArgs) -> anyhow::Result<()> {
    if args.serve.store.database == "data/outbreak.sqlite" {
        args.serve.store.database = "data/demo.sqlite".into();
    }
    let database = args.serve.store.database.clone();
    if let Some(path) = outbreak_store::sqlite_path(&database) {
        // A demo starts from nothing, so reruns with other options never meet old data.
        for suffix in ["", "-wal", "-shm"] {
            let file = format!("{path}{suffix}");
            if Path::new(&file).exists() {
                std::fs::remove_file(&file).with_context(|| format!("cannot remove the old demo store {file}"))?;
            }
        }
    }
    let services = crate::serve::services(&args.serve).await?;
    let options = DemoOptions { seed: args.seed, people: args.people, ..DemoOptions::default() };
    let started = std::time::Instant::now();
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>9} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let report = |p: Progress| {
        if bar.prefix() != p.stage {
            bar.set_prefix(p.stage);
            bar.reset();
        }
        bar.set_length(p.total);
        bar.set_position(p.done);
    };
    let summary = outbreak_demo::generate(&services, &options, &report).await.context("demo generation failed")?;
    bar.finish_and_clear();
    print_summary(&summary, &services.config.public_url, &database, started.elapsed());
    if args.no_serve {
        return Ok(());
    }
    crate::serve::run(args.serve, services).await
}

fn print_summary(summary: &DemoSummary, url: &str, database: &str, elapsed: std::time::Duration) {
    println!();
    println!(
        "Outbreak demo: {} people in {} households, {} venues, {} check-ins, {} specimens, {} cases, {} registrations, {} doses, {:.1} s, store {database}",
        summary.people,
        summary.households,
        summary.venues,
        summary.checkins,
        summary.specimens,
        summary.cases,
        summary.registrations,
        summary.doses,
        elapsed.as_secs_f64()
    );
    println!();
    println!("Staff accounts (sign in at {url}/staff/signin):");
    for account in &summary.accounts {
        println!(
            "  {:<22} {:<20} password {:<28} {} ({})",
            account.role.as_str(),
            account.username,
            account.password,
            account.unit_name,
            account.unit_code
        );
    }
    println!();
    println!("Citizens (sign in at {url}/signin; the one-time code is written to the SMS log):");
    for citizen in summary.sample_citizens.iter().take(5) {
        println!(
            "  {:<28} phone {}  CCCD {}  {}",
            citizen.full_name,
            citizen.phone.national(),
            citizen.cccd.as_ref().map(|c| c.as_str()).unwrap_or("-"),
            citizen.commune
        );
    }
    println!();
}
