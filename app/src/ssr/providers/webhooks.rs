//! Webhooks to providers: a thin `{"type": "registry.changed",
//! "through_seq": N}` signed per the Standard Webhooks spec
//! (`standardwebhooks` crate: `webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256>`). Deliveries are jobs in
//! the durable queue: retried with backoff and jitter for about three
//! days, never lost across a restart, logged attempt by attempt; a 410
//! disables the endpoint.

use base64::Engine as _;
use rand::RngCore;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use sqlx::AnyPool;

use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::db;
use crate::ssr::infra::jobs::{self, Job, JobContext, JobFailure};
use crate::ssr::registry;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("the URL must be https:// (http:// only to this machine, for development)")]
    InsecureUrl,
    #[error("not a URL")]
    InvalidUrl,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Checks an endpoint URL: HTTPS, or plain HTTP to loopback only.
pub fn checked_url(raw: &str) -> Result<url::Url, WebhookError> {
    let parsed = url::Url::parse(raw.trim()).map_err(|_| WebhookError::InvalidUrl)?;
    if raw.len() > 2000 || parsed.host_str().is_none() {
        return Err(WebhookError::InvalidUrl);
    }
    let loopback = match parsed.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        None => false,
    };
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if loopback => Ok(parsed),
        _ => Err(WebhookError::InsecureUrl),
    }
}

/// Registers (or replaces) the provider's endpoint with a fresh secret,
/// enabled; returns the secret (`whsec_…`), shown once.
pub async fn register(
    pool: &AnyPool,
    provider_id: i64,
    url: &url::Url,
) -> Result<String, WebhookError> {
    let mut bytes = [0_u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    );
    let head = registry::head(pool).await?;
    sqlx::query(
        "INSERT INTO webhook_endpoints (provider_id, url, secret, created_at, notified_seq) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (provider_id) DO UPDATE SET url = excluded.url, secret = excluded.secret, \
           created_at = excluded.created_at, notified_seq = excluded.notified_seq, \
           disabled_at = NULL, disabled_reason = NULL",
    )
    .bind(provider_id)
    .bind(url.as_str())
    .bind(&secret)
    .bind(now_millis())
    .bind(head)
    .execute(pool)
    .await?;
    Ok(secret)
}

pub async fn unregister(pool: &AnyPool, provider_id: i64) -> Result<bool, WebhookError> {
    let removed = sqlx::query("DELETE FROM webhook_endpoints WHERE provider_id = $1")
        .bind(provider_id)
        .execute(pool)
        .await?;
    Ok(removed.rows_affected() == 1)
}

/// The job: tell one endpoint how far the registry is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookJob {
    pub endpoint_id: i64,
}

impl Job for WebhookJob {
    const KIND: &'static str = "webhook";
    // About three days: two hours to reach the hourly pace, then 70 tries
    // an hour or so apart.
    const MAX_ATTEMPTS: i64 = 80;

    /// One queued job per endpoint: it sends the latest seq when it runs.
    fn dedupe_key(&self) -> Option<String> {
        Some(format!("webhook:{}", self.endpoint_id))
    }

    async fn run(self, context: &JobContext) -> Result<(), JobFailure> {
        match deliver(context.database.pool(), &context.http, &self).await {
            Ok(Delivery::Done | Delivery::Gone) => Ok(()),
            Ok(Delivery::Failed(error)) => Err(JobFailure::Transient(error)),
            Err(error) => Err(JobFailure::Transient(error.to_string())),
        }
    }
}

/// The client webhooks go out with: a short timeout, no redirects (an
/// endpoint that moved must be registered again).
pub fn client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default()
        })
        .clone()
}

/// Queues a notification for every enabled endpoint behind the head: the
/// endpoint's `notified_seq` moves and its job is queued in one
/// transaction (one queued job per endpoint; it sends the latest seq when
/// it runs). Returns how many were queued.
pub async fn dispatch(pool: &AnyPool) -> Result<usize, sqlx::Error> {
    let head = registry::head(pool).await?;
    let behind: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM webhook_endpoints WHERE disabled_at IS NULL AND notified_seq < $1",
    )
    .bind(head)
    .fetch_all(pool)
    .await?;
    let mut queued = 0;
    for endpoint_id in behind {
        let mut transaction = db::begin_write(pool).await?;
        let moved = sqlx::query(
            "UPDATE webhook_endpoints SET notified_seq = $1 WHERE id = $2 AND notified_seq < $1",
        )
        .bind(head)
        .bind(endpoint_id)
        .execute(&mut *transaction)
        .await?;
        if moved.rows_affected() == 1 {
            jobs::enqueue(&mut *transaction, &WebhookJob { endpoint_id }, now_millis()).await?;
            queued += 1;
        }
        transaction.commit().await?;
    }
    Ok(queued)
}

/// How one delivery ended.
#[derive(Debug)]
pub enum Delivery {
    /// 2xx, or nothing to send (endpoint gone or disabled).
    Done,
    /// 410 Gone: the endpoint is disabled, not retried.
    Gone,
    /// Anything else: worth another try.
    Failed(String),
}

/// Sends the endpoint the head it was last notified of, signed, and logs
/// the attempt.
pub async fn deliver(
    pool: &AnyPool,
    client: &reqwest::Client,
    job: &WebhookJob,
) -> Result<Delivery, sqlx::Error> {
    let endpoint: Option<(String, String, i64)> = sqlx::query_as(
        "SELECT url, secret, notified_seq FROM webhook_endpoints \
         WHERE id = $1 AND disabled_at IS NULL",
    )
    .bind(job.endpoint_id)
    .fetch_optional(pool)
    .await?;
    let Some((url, secret, through_seq)) = endpoint else {
        return Ok(Delivery::Done);
    };
    let message_id = format!("msg_{}_{through_seq}", job.endpoint_id);
    let body =
        serde_json::json!({"type": "registry.changed", "through_seq": through_seq}).to_string();
    let timestamp = now_millis() / 1000;
    let signature = standardwebhooks::Webhook::new(&secret)
        .and_then(|webhook| webhook.sign(&message_id, timestamp, body.as_bytes()));
    let outcome = match signature {
        Err(error) => Err(format!("cannot sign: {error}")),
        Ok(signature) => client
            .post(&url)
            .header("content-type", "application/json")
            .header("webhook-id", &message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map(|response| response.status().as_u16())
            .map_err(|error| error.to_string()),
    };
    let (status, error) = match &outcome {
        Ok(status) => (Some(i64::from(*status)), None),
        Err(error) => (None, Some(error.clone())),
    };
    sqlx::query(
        "INSERT INTO webhook_deliveries (endpoint_id, message_id, through_seq, status, error, at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(job.endpoint_id)
    .bind(&message_id)
    .bind(through_seq)
    .bind(status)
    .bind(&error)
    .bind(now_millis())
    .execute(pool)
    .await?;
    Ok(match outcome {
        Ok(200..=299) => Delivery::Done,
        Ok(410) => {
            sqlx::query(
                "UPDATE webhook_endpoints SET disabled_at = $1, \
                 disabled_reason = 'the endpoint answered 410 Gone' WHERE id = $2",
            )
            .bind(now_millis())
            .bind(job.endpoint_id)
            .execute(pool)
            .await?;
            Delivery::Gone
        }
        Ok(status) => Delivery::Failed(format!("the endpoint answered {status}")),
        Err(error) => Delivery::Failed(error),
    })
}
