//! `outbreak bench`: the project's own benchmarks. Each runs the real server in this
//! process on a fresh store, generates load on this machine, and reports rates together
//! with a baseline measured in the same run, so the ratios hold on a noisy machine.

mod certs;
mod http;
mod ingest;
mod registrations;
mod results;
mod trace;

use std::sync::Arc;

use outbreak_domain::{Grant, Principal, Role, UnitCode};
use outbreak_server::AppState;
use outbreak_services::sms::LogGateway;
use outbreak_services::{Caller, Config, Services};

pub use certs::{CertsArgs, run as certs};
pub use ingest::{IngestArgs, run as ingest};
pub use registrations::{RegistrationsArgs, run as registrations};
pub use results::{ResultsArgs, run as results};
pub use trace::{TraceArgs, run as trace};

/// The caller a benchmark sets things up as, like an installer would.
fn installer() -> Caller {
    Caller {
        principal: Principal::Staff {
            account_id: uuid::Uuid::nil(),
            username: "bench".into(),
            grants: vec![Grant { role: Role::Admin, unit: UnitCode::country(), unit_path: "/VN/".into() }],
        },
        client: "bench".into(),
        is_system: false,
    }
}

/// A server on `database` (which must be empty), listening on a free loopback port.
async fn start(database: &str, dir: &std::path::Path) -> anyhow::Result<(Services, String)> {
    let store = outbreak_store::open(database).await?;
    store.seed_units(&outbreak_domain::unit::national_units()).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?.to_string();
    let sms = dir.join("sms.log");
    let services =
        Services::new(store, Arc::new(LogGateway::new(sms.clone())), Config::new(format!("http://{address}"), sms));
    let state = AppState::new(services.clone(), false);
    tokio::spawn(async move {
        if let Err(e) = outbreak_server::serve(listener, state, std::future::pending()).await {
            tracing::error!(error = %e, "benchmark server stopped");
        }
    });
    Ok((services, address))
}

/// Waits until what a benchmark wrote in bulk to set itself up is in the SQLite database
/// file, not still in its write-ahead log. A bulk setup leaves gigabytes there that the
/// store's checkpointer would otherwise be copying back while the measured work runs; a
/// server meets uploads and traces between such bursts, not in the middle of one. The
/// measured work's own checkpointing still counts. Nothing to do on PostgreSQL.
async fn settle(database: &str) -> anyhow::Result<()> {
    let Some(path) = outbreak_store::sqlite_path(database).map(str::to_owned) else { return Ok(()) };
    tokio::task::spawn_blocking(move || {
        let conn = rusqlite::Connection::open(&path)?;
        conn.busy_timeout(std::time::Duration::from_secs(60))?;
        // The store's own checkpointer may be copying the same log: a checkpoint cannot
        // start while another runs, so this one tries again until it gets its turn (for
        // half an hour at most; copying back a 100M-check-in load takes minutes).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1800);
        loop {
            let (busy, log, copied): (i64, i64, i64) =
                conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            if busy == 0 {
                return anyhow::Ok(());
            }
            if std::time::Instant::now() > deadline {
                tracing::warn!(log, copied, "the setup's write-ahead log could not be checkpointed before measuring");
                return anyhow::Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    })
    .await?
}
