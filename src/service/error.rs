//! What a use case can refuse or fail with. `http::error::ApiError` maps each variant to its
//! status and stable code (docs/api.md §5); other callers render them their own way.

use crate::domain::{validation::FieldError, Action, DecisionError, LeadState};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// A rejection code or recycle reason that does not exist or is retired.
    #[error("{detail}")]
    UnknownCode {
        code: &'static str,
        field: &'static str,
        detail: String,
    },
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(&'static str),
    #[error("cannot {action} a lead that is {from}")]
    InvalidTransition {
        from: LeadState,
        action: Action,
        allowed: &'static [Action],
    },
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("the lead is at version {current}, not the one expected")]
    StaleVersion { current: i32 },
    /// The database is unreachable: an outage to retry through, not a bug.
    #[error("{0}")]
    Unavailable(&'static str),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The detail of [`Error::Unavailable`] for an unreachable database.
pub(super) const UNAVAILABLE: &str = "the database is not reachable; retry shortly";

impl Error {
    /// A failure of the service or its database rather than of the request: a batch fails as
    /// a whole on these instead of reporting them against one item.
    pub fn is_server_side(&self) -> bool {
        matches!(self, Error::Internal(_) | Error::Unavailable(_))
    }

    /// One bad field.
    pub fn field(field: &str, message: impl Into<String>) -> Error {
        Error::Validation(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        // An unreachable database is an outage to retry through (503 with Retry-After), not a
        // bug (500). The transaction it interrupted is rolled back by PostgreSQL.
        if crate::db::is_unavailable(&e) {
            tracing::warn!(error = %e, "database unavailable");
            return Error::Unavailable(UNAVAILABLE);
        }
        Error::Internal(e.into())
    }
}

impl From<DecisionError> for Error {
    fn from(e: DecisionError) -> Self {
        match e {
            DecisionError::Forbidden(m) => Error::Forbidden(m.into()),
            DecisionError::InvalidTransition {
                from,
                action,
                allowed,
            } => Error::InvalidTransition {
                from,
                action,
                allowed,
            },
            DecisionError::Invalid { field, message } => Error::field(field, message),
        }
    }
}
