use thiserror::Error;

/// What can go wrong in storage, in terms the server can map to a status.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness rule was broken (a taken email, channel name, ...).
    #[error("{0}")]
    Conflict(String),
    /// The request contradicts the stored state (posting to a missing thread,
    /// editing a deleted message).
    #[error("{0}")]
    Invalid(String),
    /// The database could not be reached or is shutting down.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The disk, or the database's size limit, is full: nothing was
    /// written, and the same request succeeds once space is freed.
    #[error("storage full: {0}")]
    StorageFull(String),
    /// Anything else the backend reported.
    #[error("storage failure: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;
