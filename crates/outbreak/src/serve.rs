//! `outbreak serve`: open the store (running migrations), seed the national units, and
//! serve HTTP until SIGTERM or Ctrl-C, then finish the requests in flight.

use std::sync::Arc;

use anyhow::Context;
use outbreak_server::AppState;
use outbreak_services::sms::LogGateway;
use outbreak_services::{Config, Services};

use crate::cli::ServeArgs;

pub fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("OUTBREAK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// The services over the store the flags name, with the national units in place.
pub async fn services(args: &ServeArgs) -> anyhow::Result<Services> {
    let store = outbreak_store::open(&args.store.database)
        .await
        .with_context(|| format!("cannot open the store {}", args.store.database))?;
    let added = store.seed_units(&outbreak_domain::unit::national_units()).await?;
    if added > 0 {
        tracing::info!(added, "loaded the national administrative units");
    }
    // The national priority groups, once: national admins edit them afterwards.
    if store.priority_groups().await?.is_empty() {
        store.put_priority_groups(&outbreak_domain::vaccination::national_priority_groups()).await?;
    }
    let public_url = match &args.public_url {
        Some(url) => url.clone(),
        None => format!("http://{}", args.listen),
    };
    if args.retention_days < 1 {
        anyhow::bail!("--retention-days must be at least 1");
    }
    let config = Config {
        retention: time::Duration::days(args.retention_days),
        ..Config::new(public_url, args.sms_log.clone())
    };
    Ok(Services::new(store, Arc::new(LogGateway::new(args.sms_log.clone())), config))
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let services = services(&args).await?;
    run(args, services).await
}

/// Serves `services` on the flags' address until a shutdown signal.
pub async fn run(args: ServeArgs, services: Services) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let backend = services.store.backend();
    // Expired check-ins and declarations go at start and then every hour.
    tokio::spawn(services.clone().run_retention(std::time::Duration::from_secs(3600)));
    services.start_notifier();
    tracing::info!(address = %listener.local_addr()?, backend, public_url = %services.config.public_url, "Outbreak is serving");
    outbreak_server::serve(listener, AppState::new(services, args.trust_proxy), shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C: shutting down"),
        () = terminate => tracing::info!("SIGTERM: shutting down"),
    }
}
