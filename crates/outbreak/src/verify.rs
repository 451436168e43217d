//! `outbreak verify`: checks an EU Digital COVID Certificate (an `HC1:` string) step by
//! step — against a signer's certificate or a server's trust list — or runs a folder of
//! test cases laid out like the EU's public test data and prints expected against got for
//! every step, ending with the totals.

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
    #[arg(long, conflicts_with = "trust_list")]
    signer: Option<PathBuf>,
    /// A server's trust list, as `GET /api/v1/certificates/trust-list` answers it: the
    /// signer is the key the certificate names.
    #[arg(long)]
    trust_list: Option<PathBuf>,
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
    let signer = match (&args.signer, &args.trust_list) {
        (Some(path), _) => {
            Some(SignerCertificate::from_der(&read_certificate(path)?).context("the signer certificate")?)
        }
        (None, Some(path)) => match trusted_signer(path, decoded.cose.kid())? {
            Ok(signer) => Some(signer),
            Err(problem) => {
                problems.push(format!("signature: {problem}"));
                None
            }
        },
        (None, None) => None,
    };
    match &signer {
        Some(signer) => {
            if let Err(e) = hcert::verify::verify_with_certificate(&decoded.cose, signer) {
                problems.push(format!("signature: {e}"));
            }
            if let Err(e) = hcert::check_expiry(claims, Some(&signer.validity), now) {
                problems.push(format!("validity: {e}"));
            }
        }
        None => {
            if args.trust_list.is_none() {
                println!("signature not checked: give the signer's certificate with --signer, or --trust-list");
            }
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

/// The signer a trust list names for `kid`; `Err` says why there is none (the file itself
/// being unreadable is the outer error).
fn trusted_signer(path: &Path, kid: Option<&[u8]>) -> anyhow::Result<Result<SignerCertificate, String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let list: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not a trust list (JSON)", path.display()))?;
    let keys = list["keys"].as_array().with_context(|| format!("{} has no \"keys\" list", path.display()))?;
    let Some(kid) = kid else { return Ok(Err("the certificate names no signing key (kid)".into())) };
    let kid = base64::engine::general_purpose::STANDARD.encode(kid);
    let Some(entry) = keys.iter().find(|k| k["kid"] == kid.as_str()) else {
        return Ok(Err(format!("the signing key {kid} is not in the trust list")));
    };
    let der = base64::engine::general_purpose::STANDARD
        .decode(entry["certificate"].as_str().unwrap_or_default())
        .with_context(|| format!("the trust list's certificate for {kid} is not base64"))?;
    Ok(Ok(SignerCertificate::from_der(&der).with_context(|| format!("the trust list's certificate for {kid}"))?))
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
