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
use crate::ssr::infra::outbound::{self, OutboundPolicy};
use crate::ssr::infra::sealing::{Keyring, Rotation};
use crate::ssr::registry;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("the URL must be https:// (http:// only to this machine, for development)")]
    InsecureUrl,
    #[error("not a URL")]
    InvalidUrl,
    /// `https://user:secret@host/…`: a credential in the URL would be kept
    /// in our database and logs and sent on every delivery; deliveries are
    /// signed instead (Standard Webhooks).
    #[error(
        "the URL carries a user name or password (before the @): leave them out; each delivery is signed with the secret this registration returns"
    )]
    CredentialsInUrl,
    /// The URL names an address that is not on the public internet.
    #[error(
        "the URL's host {host} is refused: it {why}; webhooks go only to public internet addresses"
    )]
    RefusedAddress {
        /// The host as written in the URL.
        host: String,
        /// Why, as a predicate of "it": "is in 10.0.0.0/8, private (RFC
        /// 1918)", "resolves to …, which is in …".
        why: String,
    },
    #[error("the signing secret of provider {provider_id} cannot be read: {error}")]
    Sealed {
        provider_id: i64,
        error: crate::ssr::infra::sealing::SealError,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Checks an endpoint URL: HTTPS to a public address, or, when `policy`
/// allows loopback (development only), HTTP or HTTPS to loopback.
///
/// A host written as an address is checked here (see
/// [`outbound::refusal`]: private, loopback, link-local, multicast, shared,
/// documentation, reserved, and IPv6 forms embedding such an IPv4
/// address); `localhost` and `*.localhost` count as loopback (RFC 6761).
/// Other names are not resolved here: [`checked_endpoint`] looks at what
/// they resolve to when registered, and [`outbound::PublicOnlyResolver`]
/// each time a delivery connects.
pub fn checked_url(raw: &str, policy: OutboundPolicy) -> Result<url::Url, WebhookError> {
    let parsed = url::Url::parse(raw.trim()).map_err(|_| WebhookError::InvalidUrl)?;
    if raw.len() > 2000 {
        return Err(WebhookError::InvalidUrl);
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(WebhookError::CredentialsInUrl);
    }
    let host = parsed
        .host_str()
        .ok_or(WebhookError::InvalidUrl)?
        .to_owned();
    let address = match parsed.host() {
        Some(url::Host::Ipv4(address)) => Some(std::net::IpAddr::V4(address)),
        Some(url::Host::Ipv6(address)) => Some(std::net::IpAddr::V6(address)),
        Some(url::Host::Domain(_)) | None => None,
    };
    let loopback_name = {
        let name = host.trim_end_matches('.').to_ascii_lowercase();
        name == "localhost" || name.ends_with(".localhost")
    };
    // (what it is, whether it is loopback)
    let refusal = match address {
        Some(address) => {
            outbound::refusal(address).map(|refusal| (refusal.to_string(), refusal.loopback))
        }
        None if loopback_name => Some(("names loopback by definition (RFC 6761)".to_owned(), true)),
        None => None,
    };
    let loopback = refusal.as_ref().is_some_and(|(_, loopback)| *loopback);
    if let Some((what, _)) = refusal
        && !(loopback && policy.allow_loopback)
    {
        return Err(WebhookError::RefusedAddress {
            why: if loopback {
                format!("{what}, allowed only with WEBHOOK_ALLOW_LOOPBACK=true (development)")
            } else {
                what
            },
            host,
        });
    }
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if loopback => Ok(parsed),
        _ => Err(WebhookError::InsecureUrl),
    }
}

/// How long registration waits for a name to resolve.
const REGISTRATION_LOOKUP: std::time::Duration = std::time::Duration::from_secs(3);

/// [`checked_url`], and for a host given by name, what it resolves to
/// now: any address the policy refuses refuses the URL (422), so a
/// provider learns at once that `hooks.internal.example` points into a
/// private network. A name that does not resolve (yet), or not within 3 s,
/// is accepted: the connection-time resolver checks it on every delivery,
/// which is the check that holds (a name can resolve elsewhere later).
pub async fn checked_endpoint(raw: &str, policy: OutboundPolicy) -> Result<url::Url, WebhookError> {
    let url = checked_url(raw, policy)?;
    if let Some(url::Host::Domain(name)) = url.host() {
        let port = url.port_or_known_default().unwrap_or(443);
        let lookup =
            tokio::time::timeout(REGISTRATION_LOOKUP, tokio::net::lookup_host((name, port))).await;
        if let Ok(Ok(addresses)) = lookup {
            let addresses: Vec<std::net::IpAddr> = addresses.map(|address| address.ip()).collect();
            if let Some(refused) = refused_resolution(name, &addresses, policy) {
                return Err(refused);
            }
        }
    }
    Ok(url)
}

/// The refusal for the first address of `name` the policy refuses.
fn refused_resolution(
    name: &str,
    addresses: &[std::net::IpAddr],
    policy: OutboundPolicy,
) -> Option<WebhookError> {
    addresses.iter().find_map(|&address| {
        policy
            .refuses(address)
            .map(|refusal| WebhookError::RefusedAddress {
                host: name.to_owned(),
                why: format!("resolves to {address}, which {refusal}"),
            })
    })
}

/// What an endpoint's signing secret is sealed for: its column and
/// provider, so a sealed secret moved to another provider's row does not
/// open there.
fn purpose(provider_id: i64) -> String {
    format!("webhook_endpoints.secret:{provider_id}")
}

/// Registers (or replaces) the provider's endpoint with a fresh secret,
/// enabled; returns the secret (`whsec_…`), shown once and stored sealed
/// under `keyring`.
pub async fn register(
    pool: &AnyPool,
    keyring: &Keyring,
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
    .bind(keyring.seal(&purpose(provider_id), &secret))
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
        match deliver(
            context.database.pool(),
            &context.http,
            context.outbound,
            &context.keyring,
            &self,
        )
        .await
        {
            Ok(Delivery::Done | Delivery::Gone) => Ok(()),
            Ok(Delivery::Failed(error)) => Err(JobFailure::Transient(error)),
            Err(error) => Err(JobFailure::Transient(error.to_string())),
        }
    }
}

/// Reseals every endpoint's signing secret not under the current key, as
/// [`crate::ssr::accounts::two_factor::reseal_all`] does for TOTP secrets
/// (rows changed meanwhile are left for the next run).
///
/// Errors: a secret that does not open stops the rotation, naming the
/// provider.
pub async fn reseal_all(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    keyring: &Keyring,
) -> Result<Rotation, WebhookError> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT provider_id, secret FROM webhook_endpoints")
            .fetch_all(&mut **transaction)
            .await?;
    let (moved, current) = keyring
        .reseal_rows(rows, purpose)
        .map_err(|(provider_id, error)| WebhookError::Sealed { provider_id, error })?;
    let mut rotation = Rotation {
        resealed: 0,
        current,
    };
    for (provider_id, resealed, stored) in moved {
        rotation.resealed += sqlx::query(
            "UPDATE webhook_endpoints SET secret = $1 WHERE provider_id = $2 AND secret = $3",
        )
        .bind(resealed)
        .bind(provider_id)
        .bind(stored)
        .execute(&mut **transaction)
        .await?
        .rows_affected();
    }
    Ok(rotation)
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

/// Why a stored endpoint whose host is written as an address may not be
/// called now.
fn refused_literal(url: &str, policy: OutboundPolicy) -> Option<WebhookError> {
    let parsed = url::Url::parse(url).ok()?;
    let address = match parsed.host()? {
        url::Host::Ipv4(address) => std::net::IpAddr::V4(address),
        url::Host::Ipv6(address) => std::net::IpAddr::V6(address),
        url::Host::Domain(_) => return None,
    };
    policy
        .refuses(address)
        .map(|refusal| WebhookError::RefusedAddress {
            host: parsed.host_str().unwrap_or_default().to_owned(),
            why: refusal.to_string(),
        })
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
/// the attempt. `client` must be [`outbound::client`]'s (public addresses
/// only, no redirects, capped time). A host written as an address never
/// reaches that client's resolver, so it is checked against `policy`
/// first (an endpoint may predate the check): a refused one is disabled,
/// with the reason. A name is left to the resolver, which drops what it
/// must when the connection is made; a name that resolves to nothing
/// allowed fails the attempt, retried later.
pub async fn deliver(
    pool: &AnyPool,
    client: &reqwest::Client,
    policy: OutboundPolicy,
    keyring: &Keyring,
    job: &WebhookJob,
) -> Result<Delivery, sqlx::Error> {
    // A provider without an active key is not told anything, even by a
    // job queued before its last key was revoked.
    let endpoint: Option<(i64, String, String, i64)> = sqlx::query_as(
        "SELECT provider_id, url, secret, notified_seq FROM webhook_endpoints e \
         WHERE id = $1 AND disabled_at IS NULL AND EXISTS ( \
           SELECT 1 FROM provider_keys k \
           WHERE k.provider_id = e.provider_id AND k.revoked_at IS NULL)",
    )
    .bind(job.endpoint_id)
    .fetch_optional(pool)
    .await?;
    let Some((provider_id, url, secret, through_seq)) = endpoint else {
        return Ok(Delivery::Done);
    };
    if let Some(refused) = refused_literal(&url, policy) {
        let reason = format!("the endpoint is no longer accepted: {refused}");
        sqlx::query(
            "UPDATE webhook_endpoints SET disabled_at = $1, disabled_reason = $2 WHERE id = $3",
        )
        .bind(now_millis())
        .bind(&reason)
        .bind(job.endpoint_id)
        .execute(pool)
        .await?;
        tracing::warn!(endpoint_id = job.endpoint_id, %reason, "webhook endpoint disabled");
        return Ok(Delivery::Gone);
    }
    let message_id = format!("msg_{}_{through_seq}", job.endpoint_id);
    let body =
        serde_json::json!({"type": "registry.changed", "through_seq": through_seq}).to_string();
    let timestamp = now_millis() / 1000;
    let signature = keyring
        .open(&purpose(provider_id), &secret)
        .map_err(|error| format!("cannot open the signing secret: {error}"))
        .and_then(|opened| {
            standardwebhooks::Webhook::new(&opened.plaintext)
                .and_then(|webhook| webhook.sign(&message_id, timestamp, body.as_bytes()))
                .map_err(|error| format!("cannot sign: {error}"))
        });
    let outcome = match signature {
        Err(error) => Err(error),
        Ok(signature) => client
            .post(&url)
            .header("content-type", "application/json")
            .header("webhook-id", &message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|error| error_chain(&error)),
    };
    // Only a failed answer's body is read, and at most
    // `outbound::MAX_BODY_BYTES` of it, for the log.
    let outcome = match outcome {
        Ok(response) if response.status().is_success() => Ok((response.status().as_u16(), None)),
        Ok(response) => {
            let status = response.status().as_u16();
            Ok((status, Some(outbound::body_excerpt(response).await)))
        }
        Err(error) => Err(error),
    };
    let (status, error) = match &outcome {
        Ok((status, excerpt)) => (Some(i64::from(*status)), excerpt.clone()),
        Err(error) => (None, Some(error.clone())),
    };
    let outcome = outcome.map(|(status, _)| status);
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

/// An error with its causes ("error sending request: …: 127.0.0.1 (…)"),
/// so the delivery log says why a connection was not made.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_resolving_to_any_refused_address_is_refused() {
        let policy = OutboundPolicy::default();
        let public: std::net::IpAddr = "93.184.215.14".parse().expect("address");
        let private: std::net::IpAddr = "10.0.0.5".parse().expect("address");
        assert!(refused_resolution("hooks.example", &[public], policy).is_none());
        assert!(refused_resolution("hooks.example", &[], policy).is_none());
        let refused = refused_resolution("hooks.example", &[public, private], policy)
            .expect("refused")
            .to_string();
        assert!(refused.contains("hooks.example"), "{refused}");
        assert!(
            refused.contains("resolves to 10.0.0.5, which is in 10.0.0.0/8, private (RFC 1918)"),
            "{refused}"
        );
    }

    #[test]
    fn urls_are_checked_before_anything_is_resolved() {
        let policy = OutboundPolicy::default();
        let development = OutboundPolicy {
            allow_loopback: true,
        };
        assert!(checked_url("https://hooks.example/x", policy).is_ok());
        for with_credentials in [
            "https://user:secret@hooks.example/x",
            "https://token@hooks.example/x",
            "https://:secret@hooks.example/x",
        ] {
            assert!(
                matches!(
                    checked_url(with_credentials, policy),
                    Err(WebhookError::CredentialsInUrl)
                ),
                "{with_credentials}"
            );
        }
        assert!(matches!(
            checked_url("http://hooks.example/x", policy),
            Err(WebhookError::InsecureUrl)
        ));
        for loopback in [
            "http://127.0.0.1:8080/x",
            "https://localhost/x",
            "http://LOCALHOST./x",
            "http://hooks.localhost/x",
            "http://[::1]/x",
        ] {
            assert!(
                matches!(
                    checked_url(loopback, policy),
                    Err(WebhookError::RefusedAddress { .. })
                ),
                "{loopback}"
            );
            assert!(checked_url(loopback, development).is_ok(), "{loopback}");
        }
        assert!(matches!(
            checked_url("http://10.0.0.5/x", development),
            Err(WebhookError::RefusedAddress { .. })
        ));
    }
}
