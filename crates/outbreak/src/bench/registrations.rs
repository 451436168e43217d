//! `outbreak bench registrations`: an organisation's registration list through validation
//! and matching against the people already known.
//!
//! On a fresh store it writes `--known` people (the "10 million"), then builds one CSV file
//! of `--rows` registrations as organisations write them (Vietnamese headers, dates in
//! three styles, phones with and without +84), a share of them people already known by
//! CCCD, and times its upload through the services: read, validate every row, match by
//! CCCD, store new people and registrations, and report on every row.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;
use outbreak_domain::vaccination::{OrganisationId, OrganisationKind, OrganisationStatus, national_priority_groups};
use outbreak_domain::{BirthDate, Cccd, Person, PersonId, Phone, Sex, UnitCode, now};
use outbreak_store::Organisation;
use uuid::Uuid;

#[derive(Args, Clone)]
pub struct RegistrationsArgs {
    /// People already in the store.
    #[arg(long, default_value_t = 10_000_000)]
    known: u64,
    /// Rows in the registration file.
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,
    /// Share of the file's rows that are people already known (matched by CCCD).
    #[arg(long, default_value_t = 0.5)]
    known_share: f64,
    /// Also run on PostgreSQL: the URL of an empty database.
    #[arg(long)]
    postgres: Option<String>,
}

/// People written per store transaction while filling the store.
const PEOPLE_CHUNK: u64 = 50_000;
/// Communes of Hà Nội the benchmark's people live in.
const COMMUNES: &[&str] = &["00070", "00073", "00004", "00008", "00025"];
/// Birth years cycle over this many years from 1940, so that CCCDs stay unique and agree
/// with each person's sex and year of birth.
const YEARS: u64 = 66;

struct Figures {
    backend: &'static str,
    fill: Duration,
    upload: Duration,
    registered: usize,
    matched: usize,
    refused: usize,
}

pub async fn run(args: RegistrationsArgs) -> anyhow::Result<()> {
    if args.rows == 0 || !(0.0..=1.0).contains(&args.known_share) {
        bail!("--rows must be positive and --known-share between 0 and 1");
    }
    let dir = std::env::temp_dir().join(format!("outbreak-bench-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let mut figures = vec![measure(&args, &dir.join("registrations.sqlite").to_string_lossy(), &dir).await?];
    if let Some(url) = &args.postgres {
        figures.push(measure(&args, url, &dir).await?);
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!();
    println!(
        "outbreak bench registrations — {} people known, a file of {} rows ({:.0}% already known)",
        args.known,
        args.rows,
        args.known_share * 100.0
    );
    println!();
    println!("| store | filling the store | file rows | upload time | rows/s | registered new | matched | refused |");
    println!("|---|---|---|---|---|---|---|---|");
    for f in &figures {
        println!(
            "| {} | {:.0} s | {} | {:.1} s | {:.0} | {} | {} | {} |",
            f.backend,
            f.fill.as_secs_f64(),
            args.rows,
            f.upload.as_secs_f64(),
            args.rows as f64 / f.upload.as_secs_f64(),
            f.registered,
            f.matched,
            f.refused
        );
    }
    if figures.iter().any(|f| f.refused > 0) {
        bail!("some rows of the file were refused");
    }
    Ok(())
}

/// The benchmark's `i`-th person: CCCD, sex and birth year derived from `i` so that they
/// agree with each other as the CCCD check wants.
fn identity(i: u64) -> (String, Sex, i32) {
    let year = 1940 + (i % YEARS) as i32;
    let female = (i / YEARS) % 2 == 1;
    let century_sex = match (year >= 2000, female) {
        (false, false) => 0,
        (false, true) => 1,
        (true, false) => 2,
        (true, true) => 3,
    };
    let serial = i / (YEARS * 2);
    (format!("001{century_sex}{:02}{serial:06}", year % 100), if female { Sex::Female } else { Sex::Male }, year)
}

fn phone(i: u64) -> String {
    format!("09{:08}", i % 100_000_000)
}

fn known_person(i: u64) -> anyhow::Result<Person> {
    let (cccd, sex, year) = identity(i);
    let at = now();
    Ok(Person {
        id: PersonId::new(),
        full_name: format!("Nguyễn Văn {i}"),
        date_of_birth: BirthDate::Year(year),
        sex,
        phone: Some(Phone::parse("phone", &phone(i))?),
        cccd: Some(Cccd::parse("cccd", &cccd)?),
        insurance_number: None,
        address_unit: UnitCode::parse("unit", COMMUNES[(i % COMMUNES.len() as u64) as usize])?,
        street: "1 Phố Huế".into(),
        household: None,
        created_at: at,
        updated_at: at,
    })
}

/// The file: a known person for a `known_share` of the rows, a new one for the rest.
fn registration_file(args: &RegistrationsArgs) -> String {
    let mut csv = String::with_capacity(args.rows as usize * 96);
    csv.push_str("Họ và tên,Ngày sinh,Giới tính,Số CCCD,Số điện thoại,Nhóm ưu tiên,Bệnh nền,Mã xã phường\n");
    let every = if args.known_share > 0.0 { (1.0 / args.known_share).round().max(1.0) as u64 } else { u64::MAX };
    for row in 0..args.rows {
        let i = if args.known > 0 && row % every == 0 { row % args.known } else { args.known + row };
        let (cccd, sex, year) = identity(i);
        let birth = match row % 3 {
            0 => format!("{year}"),
            1 => format!("01/0{}/{year}", 1 + row % 9),
            _ => format!("{year}-0{}-15", 1 + row % 9),
        };
        let phone = if row % 2 == 0 { phone(i) } else { format!("+84 {}", &phone(i)[1..]) };
        let sex = if sex == Sex::Female { "Nữ" } else { "Nam" };
        let group = 1 + row % 10;
        let comorbid = if row % 7 == 0 { "tăng huyết áp" } else { "" };
        let unit = COMMUNES[(i % COMMUNES.len() as u64) as usize];
        let _ = writeln!(csv, "Nguyễn Văn {i},{birth},{sex},{cccd},{phone},{group},{comorbid},{unit}");
    }
    csv
}

async fn measure(args: &RegistrationsArgs, database: &str, dir: &std::path::Path) -> anyhow::Result<Figures> {
    let (services, _) = super::start(database, dir).await?;
    let store = &services.store;
    let backend = store.backend();
    store.put_priority_groups(&national_priority_groups()).await?;
    let started = Instant::now();
    let bar = super::results::bar(args.known, &format!("{backend}: known people"));
    let mut next = 0;
    while next < args.known {
        let end = (next + PEOPLE_CHUNK).min(args.known);
        let people = (next..end).map(known_person).collect::<anyhow::Result<Vec<_>>>()?;
        store.insert_people(&people).await?;
        bar.inc(end - next);
        next = end;
    }
    bar.finish();
    let fill = started.elapsed();

    let organisation = Organisation {
        id: OrganisationId(Uuid::new_v4()),
        name: "Khu công nghiệp Thăng Long".into(),
        kind: OrganisationKind::Company,
        unit: UnitCode::parse("unit", COMMUNES[0])?,
        unit_path: String::new(),
        address: "Đông Anh".into(),
        contact_phone: "+84912000000".into(),
        manager: None,
        status: OrganisationStatus::Pending,
        applied_at: now(),
        decided_by: None,
        decided_at: None,
        decision_note: String::new(),
    };
    store.insert_organisation(&organisation).await?;
    store.decide_organisation(organisation.id, OrganisationStatus::Approved, None, "bench", "", now()).await?;

    let file = registration_file(args);
    eprintln!("{backend}: uploading a file of {} rows ({} MB)", args.rows, file.len() / 1_000_000);
    let started = Instant::now();
    let report =
        services.upload_registrations(&super::installer(), organisation.id, file.as_bytes(), Some("ds.csv")).await?;
    let upload = started.elapsed();
    Ok(Figures {
        backend,
        fill,
        upload,
        registered: report.registered,
        matched: report.matched,
        refused: report.refused,
    })
}
