//! `outbreak simulate`: an outbreak in a synthetic population, recorded through the
//! platform and traced as in production, with the tracing-quality figures at the end.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use outbreak_demo::simulate::{BySetting, Reproduction, SimOptions, SimProgress, SimReport};
use outbreak_services::sms::LogGateway;
use outbreak_services::{Config, Services};

#[derive(Args)]
pub struct SimulateArgs {
    /// People in the synthetic population.
    #[arg(long, default_value_t = 100_000)]
    pub people: u64,
    /// The longest the outbreak is followed, in days ending yesterday; it stops earlier
    /// when infections die out.
    #[arg(long, default_value_t = 120)]
    pub days: u32,
    /// Everything random follows from it: the same seed gives the same outbreak.
    #[arg(long, default_value_t = 2021)]
    pub seed: u64,
    /// People infected from outside on the first day.
    #[arg(long, default_value_t = 10)]
    pub initial_cases: u32,
    /// A SQLite file or a postgres:// URL of an empty store; a fresh SQLite file in a new
    /// temporary folder when absent.
    #[arg(long)]
    pub database: Option<String>,
}

pub async fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let folder = std::env::temp_dir().join(format!("outbreak-simulate-{}-{}", std::process::id(), args.seed));
    std::fs::create_dir_all(&folder).with_context(|| format!("cannot create {}", folder.display()))?;
    let database = args.database.clone().unwrap_or_else(|| folder.join("simulate.sqlite").display().to_string());
    let sms_log: PathBuf = folder.join("sms.log");
    let store = outbreak_store::open(&database).await.with_context(|| format!("cannot open the store {database}"))?;
    let config = Config {
        // The first simulated days lie that far back: the store must still accept them.
        retention: time::Duration::days(i64::from(args.days) + 1),
        ..Config::new("http://127.0.0.1:8080", sms_log.clone())
    };
    let services = Services::new(store, Arc::new(LogGateway::new(sms_log.clone())), config);
    let options = SimOptions {
        seed: args.seed,
        people: args.people,
        days: args.days,
        initial_cases: args.initial_cases,
        ..SimOptions::default()
    };

    let started = Instant::now();
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>6} [{bar:40}] {pos}/{len} {msg} elapsed {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let report = |p: SimProgress| {
        if bar.prefix() != p.stage {
            bar.set_prefix(p.stage);
            bar.reset();
        }
        bar.set_length(p.total);
        bar.set_position(p.done);
        if p.stage == "days" {
            bar.set_message(format!("{} infections, {} cases", p.infections, p.cases));
        }
    };
    let result = outbreak_demo::simulate::simulate(&services, &options, &report).await.context("simulation failed")?;
    bar.finish_and_clear();
    print_report(&args, &result, &database, &sms_log, started.elapsed());
    Ok(())
}

fn print_report(args: &SimulateArgs, r: &SimReport, database: &str, sms_log: &std::path::Path, elapsed: Duration) {
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
    let ended = if r.died_out { "infections died out" } else { "day cap reached" };
    let r0 = |c: &Reproduction| {
        format!(
            "{:.2} = {:.2} + {:.2} + {:.2} + {:.2}",
            c.r0(),
            c.per_case(c.infected.household),
            c.per_case(c.infected.work),
            c.per_case(c.infected.errands),
            c.per_case(c.infected.street)
        )
    };
    let by_setting: BySetting = r.infections.iter().map(|i| i.setting).collect();
    let mut weekly = vec![0; r.days.div_ceil(7) as usize];
    for i in &r.infections {
        weekly[(i.day / 7) as usize] += 1;
    }
    let weekly: Vec<String> = weekly.iter().map(u64::to_string).collect();
    let rows: Vec<(&str, String)> = vec![
        ("people", r.people.to_string()),
        ("seed, initial cases", format!("{}, {}", args.seed, args.initial_cases)),
        (
            "R0 (estimate): all = household + work + errands + street",
            format!("{} over {} index cases", r0(&r.without_measures), r.without_measures.index_cases),
        ),
        ("  household secondary attack rate", r.without_measures.household.to_string()),
        ("  R under distancing alone, no tracing", r0(&r.under_distancing)),
        ("days simulated", format!("{} of at most {} ({ended})", r.days, args.days)),
        ("commune-days under distancing", r.distancing_days.to_string()),
        ("infections (ground truth)", r.infections.len().to_string()),
        (
            "  by household / work / errands / street / seed",
            format!(
                "{} / {} / {} / {} / {}",
                by_setting.household, by_setting.work, by_setting.errands, by_setting.street, by_setting.seed
            ),
        ),
        ("  by week", weekly.join(", ")),
        ("check-ins recorded", r.checkins.to_string()),
        ("specimens", r.specimens.to_string()),
        ("cases confirmed (F0)", r.cases.to_string()),
        ("contacts listed: F1 / F2 rows", format!("{} / {}", r.f1_listed, r.f2_listed)),
        ("people listed as contacts", r.people_listed.to_string()),
        ("sensitivity: infectees listed F1/F2 before their case", r.sensitivity.to_string()),
        ("  listed as F1 alone", r.sensitivity_f1.to_string()),
        ("false alarms: listed, never infected", r.false_alarms.to_string()),
        (
            "confirmation → contact SMS, wall clock: median / p90",
            r.notification
                .map(|s| format!("{} / {} over {} contacts", ms(s.median), ms(s.p90), s.count))
                .unwrap_or_else(|| "– (no contacts notified)".into()),
        ),
        (
            "platform time: check-ins / tests+results / tracing+SMS",
            format!(
                "{:.1} s / {:.1} s / {:.1} s",
                r.checkin_time.as_secs_f64(),
                r.testing_time.as_secs_f64(),
                r.tracing_time.as_secs_f64()
            ),
        ),
        ("run time", format!("{:.1} s", elapsed.as_secs_f64())),
        ("store, SMS log", format!("{database}, {}", sms_log.display())),
    ];
    let width = rows.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    println!();
    println!("Outbreak simulation");
    for (key, value) in rows {
        println!("  {key:<width$}  {value}");
    }
    println!();
    println!(
        "In simulated time a case's contacts are listed and told the evening its result comes in (tracing runs at once);\n\
         the wall-clock delay above is the platform's own: recording the day's results, tracing each new case, sending the SMS."
    );
}
