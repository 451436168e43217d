//! `outbreak bench certs`: EU Digital COVID Certificates issued and verified per second,
//! one at a time, so on one core.
//!
//! On a fresh store it registers people, then issues `--issue` certificates through the
//! services (schema check, signing, the record of the identifier with its audit entry,
//! as a citizen's download does) and verifies them through the services for `--seconds`
//! (Base45, zlib, COSE, the signer from the in-memory trust list, ECDSA, expiry and
//! revocation, as the verifier API does). Beside each it times the codec alone on the
//! same certificates — signing without the store, decoding and checking the signature
//! without the trust list — so the services' share is a ratio that holds on a noisy
//! machine. It fails when a certificate it issued does not verify.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use clap::Args;
use outbreak_domain::{NewPerson, now};
use outbreak_formats::hcert;
use outbreak_services::certificates::{COUNTRY, VaccinationFacts, vaccination_hcert};
use uuid::Uuid;

use super::results::bar;

#[derive(Args, Clone)]
pub struct CertsArgs {
    /// Certificates to issue (and then to verify, round after round).
    #[arg(long, default_value_t = 2_000)]
    issue: u64,
    /// How long to verify, in seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// The store: a postgres:// URL of an empty database; a new SQLite file when absent.
    #[arg(long)]
    database: Option<String>,
}

/// People the certificates are shared among.
const PEOPLE: u64 = 100;

struct Rate {
    what: &'static str,
    count: u64,
    took: Duration,
}

impl Rate {
    fn per_second(&self) -> f64 {
        self.count as f64 / self.took.as_secs_f64().max(1e-9)
    }
}

pub async fn run(args: CertsArgs) -> anyhow::Result<()> {
    if args.issue == 0 || args.seconds == 0 {
        bail!("--issue and --seconds must be positive");
    }
    let dir = std::env::temp_dir().join(format!("outbreak-bench-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let database = args.database.clone().unwrap_or_else(|| dir.join("certs.sqlite").to_string_lossy().into_owned());
    let result = measure(&args, &database, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    let (backend, rates) = result?;
    println!();
    println!("outbreak bench certs — {backend}, {} certificates, one at a time (one core)", args.issue);
    println!();
    println!("| step | certificates | time | per second |");
    println!("|---|---|---|---|");
    for rate in &rates {
        println!("| {} | {} | {:.2} s | {:.0} |", rate.what, rate.count, rate.took.as_secs_f64(), rate.per_second());
    }
    println!();
    println!(
        "verification through the services at {:.0}% of the bare codec; issuing at {:.0}% of bare signing",
        100.0 * rates[3].per_second() / rates[2].per_second(),
        100.0 * rates[1].per_second() / rates[0].per_second()
    );
    Ok(())
}

fn facts(person: outbreak_domain::PersonId, i: u64) -> VaccinationFacts {
    VaccinationFacts {
        person,
        family_name: "Nguyễn".into(),
        given_name: format!("Văn Bình {i}"),
        date_of_birth: format!("{}-05-17", 1940 + i % 66),
        vaccine: "1119349007".into(),
        product: "EU/1/20/1528".into(),
        manufacturer: "ORG-100030215".into(),
        dose_number: 1 + (i % 2) as u32,
        total_doses: 2,
        date: time::macros::date!(2021 - 09 - 15),
    }
}

async fn measure(args: &CertsArgs, database: &str, dir: &std::path::Path) -> anyhow::Result<(&'static str, Vec<Rate>)> {
    let (services, _) = super::start(database, dir).await?;
    let backend = services.store.backend();
    let installer = super::installer();
    let mut people = Vec::new();
    for i in 0..PEOPLE {
        let person = NewPerson {
            full_name: format!("Nguyễn Văn Bình {i}"),
            date_of_birth: format!("{}-05-17", 1940 + i % 66),
            sex: "male".into(),
            address_unit: "00070".into(),
            ..NewPerson::default()
        };
        people.push(services.register_person(&installer, &person).await?.id());
    }

    // Issuing through the services: what a citizen's download costs.
    let progress = bar(args.issue, "issuing");
    let started = Instant::now();
    let mut issued = Vec::with_capacity(args.issue as usize);
    for i in 0..args.issue {
        let facts = facts(people[(i % PEOPLE) as usize], i);
        issued.push(services.issue_vaccination_certificate(&installer, &facts).await?.hc1);
        progress.inc(1);
    }
    progress.finish_and_clear();
    let issuing = Rate { what: "issue (services: schema, sign, record)", count: args.issue, took: started.elapsed() };

    // Signing alone, with the key the services sign with, on the same content.
    let trust = services.trust_list().await?;
    let signer = services.store.certificate_signers().await?.into_iter().next().context("no signer after issuing")?;
    let key = p256::ecdsa::SigningKey::from_slice(&signer.private_key)?;
    let kid = base64::engine::general_purpose::STANDARD.decode(&signer.kid)?;
    let started = Instant::now();
    for i in 0..args.issue {
        let content = vaccination_hcert(&facts(people[(i % PEOPLE) as usize], i), "URN:UVCI:01:VN:BYT/BENCH#A");
        hcert::schema::validate(&content)?;
        let at = now().unix_timestamp();
        let request =
            hcert::IssueRequest { hcert: &content, issuer: COUNTRY, issued_at: at, expires_at: at + 86_400, kid: &kid };
        hcert::issue(&request, &key)?;
    }
    let signing = Rate { what: "sign (codec alone)", count: args.issue, took: started.elapsed() };

    // Verifying: the bare codec first, then the services, each for the same time.
    let public_key = hcert::SignerCertificate::from_der(&signer.certificate)?.public_key;
    let window = Duration::from_secs(args.seconds);
    let progress = bar(args.seconds * 2, "verifying (s)");
    let (mut count, started) = (0_u64, Instant::now());
    while started.elapsed() < window {
        let decoded = hcert::decode(&issued[(count % args.issue) as usize])?;
        hcert::verify_with_key(&decoded.cose, &public_key)?;
        count += 1;
        progress.set_position(started.elapsed().as_secs());
    }
    let bare = Rate { what: "verify (codec alone: decode, signature)", count, took: started.elapsed() };
    let (mut count, started) = (0_u64, Instant::now());
    while started.elapsed() < window {
        let verdict = services.verify_certificate(&issued[(count % args.issue) as usize]).await?;
        if !verdict.valid {
            bail!("a certificate just issued does not verify: {:?}", verdict.reasons);
        }
        count += 1;
        progress.set_position(args.seconds + started.elapsed().as_secs());
    }
    progress.finish_and_clear();
    let verifying = Rate { what: "verify (services: trust list, expiry, revocation)", count, took: started.elapsed() };
    if trust.keys.is_empty() {
        bail!("the trust list is empty after issuing");
    }
    Ok((backend, vec![signing, issuing, bare, verifying]))
}
