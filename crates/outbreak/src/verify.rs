//! `outbreak verify`: checks an EU Digital COVID Certificate (an `HC1:` string) step by
//! step, or runs a folder of test cases laid out like the EU's public test data and prints
//! expected against got for every step, ending with the totals.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine;
use clap::Args;
use outbreak_formats::hcert::{self, SignerCertificate, testdata};

#[derive(Args)]
pub struct VerifyArgs {
    /// The `HC1:` string to check (read from standard input when absent).
    certificate: Option<String>,
    /// The signer's X.509 certificate (DER, base64 DER or PEM), to check the signature.
    #[arg(long)]
    signer: Option<PathBuf>,
    /// Run every test case (`*.json`) under this folder instead.
    #[arg(long)]
    test_data: Option<PathBuf>,
}

pub fn run(args: VerifyArgs) -> anyhow::Result<()> {
    if let Some(dir) = &args.test_data {
        return test_data(dir);
    }
    let text = match args.certificate {
        Some(text) => text,
        None => std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?,
    };
    let decoded = hcert::decode(text.trim()).context("not a readable HC1 certificate")?;
    let claims = &decoded.claims;
    println!("issuer     {}", claims.issuer.as_deref().unwrap_or("-"));
    println!("issued at  {}", instant(claims.issued_at));
    println!("expires at {}", instant(claims.expires_at));
    println!("{}", serde_json::to_string_pretty(&claims.hcert)?);
    let mut problems = Vec::new();
    if let Err(e) = hcert::schema::validate(&claims.hcert) {
        problems.push(format!("schema: {e}"));
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    match &args.signer {
        Some(path) => {
            let signer = SignerCertificate::from_der(&read_certificate(path)?).context("the signer certificate")?;
            if let Err(e) = hcert::verify::verify_with_certificate(&decoded.cose, &signer) {
                problems.push(format!("signature: {e}"));
            }
            if let Err(e) = hcert::check_expiry(claims, Some(&signer.validity), now) {
                problems.push(format!("validity: {e}"));
            }
        }
        None => {
            println!("signature not checked: give the signer's certificate with --signer");
            if let Err(e) = hcert::check_expiry(claims, None, now) {
                problems.push(format!("validity: {e}"));
            }
        }
    }
    if problems.is_empty() {
        println!("VALID");
        Ok(())
    } else {
        for problem in &problems {
            println!("INVALID {problem}");
        }
        bail!("the certificate is not valid")
    }
}

fn instant(seconds: Option<i64>) -> String {
    seconds
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| "-".into())
}

/// A certificate file as DER, whether it holds DER, base64 DER or PEM.
fn read_certificate(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    if !text.trim_start().starts_with("-----BEGIN")
        && !text.chars().all(|c| c.is_ascii_alphanumeric() || "+/=\r\n ".contains(c))
    {
        return Ok(bytes);
    }
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect::<Vec<_>>().join("");
    base64::engine::general_purpose::STANDARD.decode(body.trim()).context("the certificate is not base64 or PEM")
}

fn cases(dir: &Path, found: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            cases(&path, found)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            found.push(path);
        }
    }
    Ok(())
}

fn test_data(dir: &Path) -> anyhow::Result<()> {
    let mut files = Vec::new();
    cases(dir, &mut files)?;
    files.sort();
    let (mut checked, mut met, mut cases_failed) = (0, 0, 0);
    println!("{:<56} {:<18} {:>8} {:>5}  detail", "case", "step", "expected", "got");
    for file in &files {
        let name = file.strip_prefix(dir).unwrap_or(file).display().to_string();
        let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
        let Ok(case) = testdata::parse_case(&text) else {
            println!("{name:<56} {:<18} {:>8} {:>5}  not a test case (invalid JSON)", "-", "-", "-");
            cases_failed += 1;
            continue;
        };
        let outcomes = testdata::check_case(&case);
        let mut failed = false;
        for outcome in &outcomes {
            checked += 1;
            let mark = if outcome.matches() {
                met += 1;
                "ok"
            } else {
                failed = true;
                "MISMATCH"
            };
            println!(
                "{name:<56} {:<18} {:>8} {:>5}  {mark} {}",
                outcome.step,
                outcome.expected,
                outcome.got,
                outcome.detail.as_deref().unwrap_or("")
            );
        }
        cases_failed += usize::from(failed);
    }
    println!();
    println!(
        "{} cases, {checked} expectations: {met} met, {} not met; {cases_failed} cases with a mismatch",
        files.len(),
        checked - met
    );
    if checked > met || cases_failed > 0 {
        bail!("{} expectations not met", checked - met);
    }
    Ok(())
}
