//! Command-line flags. Every flag of `serve` can also be set by an environment variable
//! (`OUTBREAK_DATABASE`, `OUTBREAK_LISTEN`, …), as container platforms prefer.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "outbreak", version, about = "Outbreak: an open platform for a country's response to an epidemic")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format: `text` for people, `json` for log collectors.
    #[arg(long, global = true, env = "OUTBREAK_LOG_FORMAT", default_value = "text")]
    log_format: String,
}

#[derive(Subcommand)]
enum Command {
    /// Start the platform: the API, the web pages, the background work.
    Serve(ServeArgs),
    /// Fill a fresh SQLite store with a synthetic population and serve it.
    Demo(DemoArgs),
    /// Measure the platform on this machine.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Simulate an outbreak in a synthetic population, traced by the platform, and report
    /// how well tracing found the true infections.
    Simulate(crate::simulate::SimulateArgs),
    /// Check an EU Digital COVID Certificate (HC1), or a folder of test cases.
    Verify(crate::verify::VerifyArgs),
    /// Manage signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Args, Clone)]
pub struct StoreArgs {
    /// A SQLite file path, or a postgres:// URL.
    #[arg(long, env = "OUTBREAK_DATABASE", default_value = "data/outbreak.sqlite")]
    pub database: String,
}

#[derive(Args, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The address to listen on.
    #[arg(long, env = "OUTBREAK_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// The URL people reach this server at, used in QR codes and SMS; defaults to
    /// `http://<listen>`.
    #[arg(long, env = "OUTBREAK_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Where the built-in SMS gateway writes messages.
    #[arg(long, env = "OUTBREAK_SMS_LOG", default_value = "data/sms.log")]
    pub sms_log: PathBuf,
    /// Take client addresses from X-Forwarded-For (only behind a trusted reverse proxy).
    #[arg(long, env = "OUTBREAK_TRUST_PROXY")]
    pub trust_proxy: bool,
    /// Days check-ins and health declarations are kept before the retention job deletes them.
    #[arg(long, env = "OUTBREAK_RETENTION_DAYS", default_value_t = 21)]
    pub retention_days: i64,
}

#[derive(Args)]
pub struct DemoArgs {
    /// Seed of the synthetic population: the same seed gives the same people.
    #[arg(long, env = "OUTBREAK_DEMO_SEED", default_value_t = 2021)]
    pub seed: u64,
    /// How many people to create.
    #[arg(long, env = "OUTBREAK_DEMO_PEOPLE", default_value_t = 2000)]
    pub people: u64,
    /// Fill the store and exit instead of serving it.
    #[arg(long)]
    pub no_serve: bool,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Check-ins per second through the HTTP API, single and batched, with baselines.
    Ingest(crate::bench::IngestArgs),
    /// Lab results in bulk from a file, and the testing dashboard over many tests.
    Results(crate::bench::ResultsArgs),
    /// F1 and F1 + F2 of random cases over a store of many check-ins, with the bare query's floor.
    Trace(crate::bench::TraceArgs),
    /// A registration list through validation and matching against the people known.
    Registrations(crate::bench::RegistrationsArgs),
    /// EU Digital COVID Certificates issued and verified per second on one core.
    Certs(crate::bench::CertsArgs),
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Start signing personal QRs with a new key; older keys keep verifying.
    Rotate,
    /// Stop a key from verifying: every personal QR it signed stops working.
    Retire { kid: String },
    /// Start signing vaccination certificates with a new document signer; older signers
    /// stay in the trust list and keep verifying.
    RotateCertificateSigner,
    /// Take a document signer out of the trust list: every certificate it signed stops
    /// verifying.
    RetireCertificateSigner { kid: String },
}

impl Cli {
    pub async fn run(self) -> anyhow::Result<()> {
        crate::serve::init_logging(&self.log_format);
        match self.command {
            Command::Serve(args) => crate::serve::serve(args).await,
            Command::Demo(args) => crate::demo::run(args).await,
            Command::Verify(args) => crate::verify::run(args),
            Command::Simulate(args) => crate::simulate::run(args).await,
            Command::Bench { command: BenchCommand::Ingest(args) } => crate::bench::ingest(args).await,
            Command::Bench { command: BenchCommand::Results(args) } => crate::bench::results(args).await,
            Command::Bench { command: BenchCommand::Trace(args) } => crate::bench::trace(args).await,
            Command::Bench { command: BenchCommand::Registrations(args) } => crate::bench::registrations(args).await,
            Command::Bench { command: BenchCommand::Certs(args) } => crate::bench::certs(args).await,
            Command::Keys { command, store } => {
                let services = crate::serve::services(&ServeArgs {
                    store,
                    listen: String::new(),
                    public_url: Some(String::new()),
                    sms_log: PathBuf::from("data/sms.log"),
                    trust_proxy: false,
                    retention_days: 21,
                })
                .await?;
                match command {
                    KeysCommand::Rotate => println!("new personal-QR key: {}", services.rotate_qr_key().await?),
                    KeysCommand::Retire { kid } => {
                        services.retire_qr_key(&kid).await?;
                        println!("retired {kid}");
                    }
                    KeysCommand::RotateCertificateSigner => {
                        println!("new certificate signer: {}", services.rotate_certificate_key().await?);
                    }
                    KeysCommand::RetireCertificateSigner { kid } => {
                        services.retire_certificate_key(&kid).await?;
                        println!("retired certificate signer {kid}");
                    }
                }
                Ok(())
            }
        }
    }
}
