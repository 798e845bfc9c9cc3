//! The one error type at the boundary between the application and its
//! users. Services return their own errors; server functions map them here,
//! once. The messages are safe to show: internal causes are logged on the
//! server and never serialised.

use serde::{Deserialize, Serialize};
use server_fn::codec::JsonEncoding;
use server_fn::error::{FromServerFnError, ServerFnErrorErr};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Validation(String),
    #[error("Please sign in to continue.")]
    Unauthorized,
    #[error("You do not have permission to do that.")]
    Forbidden,
    /// An admin page, before the two-step sign-in is set up and used.
    #[error("Set up two-step sign-in to continue.")]
    SecondFactorRequired,
    #[error("Not found.")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("Too many attempts. Try again in {retry_after_secs} seconds.")]
    RateLimited { retry_after_secs: u64 },
    #[error("Something went wrong on our side. Please try again.")]
    Unexpected,
    /// The request itself could not be carried out (network, decoding).
    #[error("The request could not be completed: {0}")]
    Transport(String),
}

impl AppError {
    /// HTTP status for this error, used by every boundary that answers HTTP.
    pub fn status_code(&self) -> u16 {
        match self {
            AppError::Validation(_) => 400,
            AppError::Unauthorized => 401,
            AppError::Forbidden | AppError::SecondFactorRequired => 403,
            AppError::NotFound => 404,
            AppError::Conflict(_) => 409,
            AppError::RateLimited { .. } => 429,
            AppError::Unexpected | AppError::Transport(_) => 500,
        }
    }

    /// Logs an infrastructure failure with its cause chain and returns the
    /// opaque error shown to the user.
    #[cfg(feature = "ssr")]
    pub fn unexpected(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "unexpected failure");
        AppError::Unexpected
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    /// Arguments that cannot be read are the request's fault (a form
    /// missing a field, a value of the wrong kind): 400, said as such.
    /// Everything else here is transport (network, encoding).
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(detail) | ServerFnErrorErr::MissingArg(detail) => {
                AppError::Validation(format!(
                    "The form could not be read ({detail}). Reload the page and try again."
                ))
            }
            other => AppError::Transport(other.to_string()),
        }
    }
}
