//! Outbreak's HTTP layer: the JSON API under `/api/v1` (described by the OpenAPI document
//! it serves), the web pages, health checks, and the middleware around them.
//!
//! Handlers are thin: they parse the request, call one workflow in `outbreak_services`
//! (where access is checked and audited) and shape the answer. The API's errors become
//! JSON ([`error::ApiError`]); the pages' become a page or a redirect ([`error::PageError`]).

mod api;
mod api_session;
mod cookies;
mod error;
mod extract;
mod pages;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, header};
use outbreak_services::Services;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use api::openapi;

/// What every handler can reach. Cloned for every request, so it is one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub services: Services,
    /// Mark cookies `Secure`: true when the public URL is https.
    pub secure_cookies: bool,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_proxy: bool,
}

impl AppState {
    pub fn new(services: Services, trust_proxy: bool) -> AppState {
        let secure_cookies = services.config.public_url.starts_with("https://");
        AppState(Arc::new(Shared { services, secure_cookies, trust_proxy }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The whole application: API, pages, health checks.
pub fn app(state: AppState) -> Router {
    let security_headers = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        ),
    ];
    let mut router = Router::new()
        .nest("/api/v1", api::router())
        .merge(pages::router(state.clone()))
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .route("/readyz", axum::routing::get(ready));
    for (name, value) in security_headers {
        router = router.layer(SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value)));
    }
    router.layer(CatchPanicLayer::custom(error::panic_response)).layer(TraceLayer::new_for_http()).with_state(state)
}

/// Ready when the store answers; load balancers stop sending traffic otherwise.
async fn ready(axum::extract::State(state): axum::extract::State<AppState>) -> (axum::http::StatusCode, &'static str) {
    match state.services.store.ping().await {
        Ok(()) => (axum::http::StatusCode::OK, "ready"),
        Err(e) => {
            tracing::warn!(error = %e, "store not ready");
            (axum::http::StatusCode::SERVICE_UNAVAILABLE, "store unavailable")
        }
    }
}

/// Serves until `shutdown` completes, then lets requests in flight finish (up to 20 s).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, app(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
    let mut stopped = stop_rx.clone();
    tokio::select! {
        result = server => result,
        _ = async {
            let _ = stopped.wait_for(|s| *s).await;
            tokio::time::sleep(Duration::from_secs(20)).await;
        } => {
            tracing::warn!("requests still running 20 s after shutdown began; stopping anyway");
            Ok(())
        }
    }
}
