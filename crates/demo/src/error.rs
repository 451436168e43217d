//! What can stop a demo from being generated, each with what to do about it.

use outbreak_domain::Invalid;
use outbreak_services::ServiceError;
use outbreak_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The store already holds a finished demo, or an unfinished one made with other options.
    /// Nothing was written.
    #[error("this database already holds demo data ({0}); use a new database file to generate another")]
    AlreadyFilled(String),
    /// The store holds people that no demo put there: demo people are never mixed with them.
    /// Nothing was written.
    #[error("this database already holds {0} people who are not demo data; the demo only fills an empty database")]
    NotEmpty(u64),
    /// An account name the demo needs is taken by an account that is not the demo's.
    /// Nothing was written.
    #[error("the username {0} is already taken in this database; the demo needs it for one of its staff accounts")]
    UsernameTaken(String),
    /// The options cannot be used (an unknown commune, no commune at all, …).
    #[error("demo options: {0}")]
    Options(String),
    /// The platform refused something the simulation sent (a check-in, a lab result).
    #[error("simulation: {0}")]
    Simulation(String),
    /// More people than a kind of identifier has room for in the demo's numbering.
    #[error("too many people for unique {0} numbers; generate fewer people")]
    Exhausted(&'static str),
    /// A generated record failed the domain's checks: a bug in the generator.
    #[error("the generator made an invalid record: {0}")]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The background generation task stopped abnormally.
    #[error("the generator task failed: {0}")]
    Task(String),
}
