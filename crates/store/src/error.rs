//! What can go wrong in a store, in terms the services can act on.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique value is already taken; `existing` identifies the record holding it.
    #[error("{field} is already taken")]
    Conflict { field: &'static str, existing: Option<String> },
    /// A record the operation refers to does not exist; names the field that referred to it.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The change does not follow from the stored state (a closed session, a tube already
    /// resulted); `field` is the input at fault and the message says why, for users.
    #[error("{message}")]
    Refused { field: &'static str, code: &'static str, message: String },
    /// The URL or configuration cannot be used.
    #[error("store configuration: {0}")]
    Config(String),
    /// The database failed; the message is for logs, not for users.
    #[error("database: {0}")]
    Backend(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Backend(error.to_string())
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        StoreError::Backend(error.to_string())
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        StoreError::Backend(error.to_string())
    }
}
