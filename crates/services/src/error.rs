//! The errors workflows return, one variant per way the HTTP layer answers.

use outbreak_domain::{Invalid, ValidationErrors};
use outbreak_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The input is wrong; says which field and why (400/422).
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// A unique value is taken; `existing` is the id of the record holding it (409).
    #[error("{message}")]
    Conflict { field: String, message: String, existing: Option<String> },
    /// Nothing with that id, or nothing the caller may know exists (404).
    #[error("{0} not found")]
    NotFound(String),
    /// Not signed in, or the credentials are wrong (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// Signed in, but not allowed (403).
    #[error("{0}")]
    Forbidden(String),
    /// Too many attempts; try again after this many seconds (429).
    #[error("{message}")]
    RateLimited { message: String, retry_after_secs: u64 },
    /// Something failed inside; the message is for logs only (500).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<ValidationErrors> for ServiceError {
    fn from(errors: ValidationErrors) -> Self {
        match errors.into_result() {
            Err(first) => ServiceError::Invalid(first),
            Ok(()) => ServiceError::Internal("validation failed without a reason".into()),
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict { field, existing } => ServiceError::Conflict {
                field: field.into(),
                message: format!("{field} is already registered"),
                existing,
            },
            StoreError::NotFound(field @ ("address_unit" | "household" | "unit" | "parent")) => {
                ServiceError::Invalid(Invalid::new(field, "unknown_unit", format!("{field} is not a known unit code")))
            }
            StoreError::NotFound(what) => ServiceError::NotFound(what.into()),
            StoreError::Refused { field, code, message } => ServiceError::Invalid(Invalid::new(field, code, message)),
            StoreError::Config(message) | StoreError::Backend(message) => ServiceError::Internal(message),
        }
    }
}
