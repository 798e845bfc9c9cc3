//! Who calls: the bearer key, checked against its SHA-256, its scopes and
//! the per-key rate limit.

use std::num::NonZeroU32;
use std::sync::Arc;

use app::ssr::providers::{self, Scope};
use app::ssr::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::problem::ApiError;

/// Requests per second each key may make (`API_REQUESTS_PER_SECOND`),
/// counted on each instance (governor's GCRA, in memory: a limit checked
/// in the database would cost a write per request).
#[derive(Clone)]
pub struct ApiLimits {
    limiter: Arc<DefaultKeyedRateLimiter<i64>>,
}

impl ApiLimits {
    pub fn per_second(requests: NonZeroU32) -> Self {
        Self {
            limiter: Arc::new(RateLimiter::keyed(Quota::per_second(requests))),
        }
    }
}

/// A provider's key, authenticated and within its rate limit.
#[derive(Debug, Clone)]
pub struct Caller(pub providers::Caller);

impl Caller {
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.0.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(scope.as_str()))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|key| !key.is_empty() && key.len() <= 200)
            .ok_or(ApiError::Unauthorized)?;
        let caller = providers::authenticate(state.database.pool(), key)
            .await
            .map_err(ApiError::internal)?
            .ok_or(ApiError::Unauthorized)?;
        if let Some(limits) = parts.extensions.get::<ApiLimits>()
            && let Err(not_until) = limits.limiter.check_key(&caller.key_id)
        {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            return Err(ApiError::TooManyRequests(wait.as_secs().max(1)));
        }
        Ok(Caller(caller))
    }
}
