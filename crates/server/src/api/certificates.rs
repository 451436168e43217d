//! EU Digital COVID Certificates: a dose's certificate for its holder (or staff who may
//! open their record), the public trust list and a public verifier. The last two need no
//! account: anyone checking a certificate at a border or a door may ask.

use axum::Json;
use axum::extract::State;
use outbreak_domain::vaccination::DoseId;
use outbreak_services::certificates::{IssuedHc1, TrustList, Verification};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::ErrorBody;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiCaller, ApiJson, ApiPath};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(dose_certificate)).routes(routes!(trust_list)).routes(routes!(verify))
}

/// The EU Digital COVID Certificate of a dose: the one issued before while it is valid,
/// else a new one. For the holder (a citizen whose phone is on the record) or staff who
/// may open the record; 422 `voided` for a voided dose.
#[utoipa::path(get, path = "/vaccination/doses/{id}/certificate", tag = "certificates", params(("id" = Uuid, Path)),
    responses((status = 200, body = IssuedHc1), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn dose_certificate(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<IssuedHc1>, ApiError> {
    Ok(Json(state.services.dose_certificate(&caller, DoseId(id)).await?.issued))
}

/// The public keys of this server's unretired certificate signers: `kid`, algorithm,
/// SubjectPublicKeyInfo, the signer's X.509 certificate and its validity. Verifiers fetch
/// it to check certificates offline.
#[utoipa::path(get, path = "/certificates/trust-list", tag = "certificates",
    responses((status = 200, body = TrustList)))]
async fn trust_list(State(state): State<AppState>) -> Result<Json<TrustList>, ApiError> {
    Ok(Json(state.services.trust_list().await?))
}

#[derive(Deserialize, ToSchema)]
pub struct VerifyBody {
    /// The certificate's text, as its QR code holds it (`HC1:…`).
    pub hc1: String,
}

/// Verifies a certificate against the trust list at the present instant: signature, key
/// retired or unknown, expiry, revocation. Answers the decoded content, `valid` and the
/// reasons when it is not; 422 `malformed_certificate` when the text is not a certificate.
#[utoipa::path(post, path = "/certificates/verify", tag = "certificates", request_body = VerifyBody,
    responses((status = 200, body = Verification), (status = 422, body = ErrorBody), (status = 400, body = ErrorBody)))]
async fn verify(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<VerifyBody>,
) -> Result<Json<Verification>, ApiError> {
    Ok(Json(state.services.verify_certificate(&body.hc1).await?))
}
