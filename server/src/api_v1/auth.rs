//! Who calls: the bearer key, checked against its SHA-256, its scopes and
//! the per-key rate limit.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// Keys recently found valid, by their SHA-256, so a busy provider's
/// requests do not each look their key up: a revoked key stops working
/// within [`KEY_CACHE_TTL`] on every instance.
#[derive(Clone, Default)]
pub struct KeyCache(Arc<Mutex<HashMap<String, (providers::Caller, Instant)>>>);

pub const KEY_CACHE_TTL: Duration = Duration::from_secs(2);
/// Entries kept at most; past it the cache starts afresh.
const KEY_CACHE_SIZE: usize = 10_000;

impl KeyCache {
    async fn caller(
        &self,
        pool: &sqlx::AnyPool,
        key: &str,
    ) -> Result<Option<providers::Caller>, sqlx::Error> {
        let hash = providers::key_hash(key);
        if let Ok(cache) = self.0.lock()
            && let Some((caller, checked)) = cache.get(&hash)
            && checked.elapsed() < KEY_CACHE_TTL
        {
            return Ok(Some(caller.clone()));
        }
        let found = providers::authenticate(pool, key).await?;
        if let (Some(caller), Ok(mut cache)) = (&found, self.0.lock()) {
            if cache.len() >= KEY_CACHE_SIZE {
                cache.clear();
            }
            cache.insert(hash, (caller.clone(), Instant::now()));
        }
        Ok(found)
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
        let cache = parts
            .extensions
            .get::<KeyCache>()
            .cloned()
            .unwrap_or_default();
        let caller = cache
            .caller(state.database.pool(), key)
            .await?
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
