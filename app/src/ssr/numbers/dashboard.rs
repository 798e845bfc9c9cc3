//! What the numbers pages read: the attorney's registrations with their
//! latest codes, the carrier's latest word on each and the words the
//! page shows for it, and the counts the admins' overview and the metrics
//! read. Here because these are reads only: nothing in this file changes
//! a registration or a code.

use sqlx::AnyPool;
use std::collections::HashMap;

use crate::domain::{DeliveryStatus, NumberLabel, RegistrationStatus};
use crate::ssr::infra::delivery::Channel;

use super::MAX_WRONG_TRIES;

/// A registration as stored, with what the dashboard says about its code.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Registration {
    pub id: i64,
    pub e164: String,
    pub label: Option<NumberLabel>,
    pub extension: Option<String>,
    pub status: RegistrationStatus,
    pub status_reason: Option<String>,
    pub expires_at: Option<i64>,
    /// Unix milliseconds until which the latest code can still be entered.
    pub code_valid_until: Option<i64>,
    /// When the latest code went out.
    pub last_code_at: Option<i64>,
}

/// The attorney's registrations that still concern them (not removed),
/// newest first; revoked ones stay, with the reason.
pub async fn list(pool: &AnyPool, user_id: i64) -> Result<Vec<Registration>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.id, r.e164, r.label, r.extension, r.status, r.status_reason, r.expires_at, \
           (SELECT MAX(c.expires_at) FROM number_codes c \
             WHERE c.registration_id = r.id AND c.used_at IS NULL AND c.wrong_tries < $2) \
           AS code_valid_until, \
           (SELECT MAX(c.created_at) FROM number_codes c WHERE c.registration_id = r.id) \
           AS last_code_at \
         FROM registrations r \
         WHERE r.user_id = $1 AND r.status <> 'removed' \
         ORDER BY r.created_at DESC, r.id DESC",
    )
    .bind(user_id)
    .bind(MAX_WRONG_TRIES)
    .fetch_all(pool)
    .await
}

/// For each of the attorney's registrations, its latest code's delivery as
/// the carrier reported it (channel, status, Twilio error code), by
/// registration id, in one query; absent when not reported (yet).
pub async fn latest_deliveries(
    pool: &AnyPool,
    user_id: i64,
) -> Result<HashMap<i64, (Channel, DeliveryStatus, Option<i64>)>, sqlx::Error> {
    let rows: Vec<(i64, Channel, Option<DeliveryStatus>, Option<i64>)> = sqlx::query_as(
        "SELECT c.registration_id, c.channel, c.delivery_status, c.delivery_error \
         FROM number_codes c WHERE c.user_id = $1 \
           AND c.id = (SELECT MAX(l.id) FROM number_codes l \
                       WHERE l.registration_id = c.registration_id)",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(registration, channel, status, error)| {
            status.map(|status| (registration, (channel, status, error)))
        })
        .collect())
}

/// What the dashboard says about a delivery, in words an attorney can act
/// on. Twilio's error codes: 30003 unreachable, 30005 unknown or inactive
/// number, 30006 a landline or a line that cannot take texts, 30007
/// filtered by the carrier (<https://www.twilio.com/docs/api/errors>).
pub fn delivery_words(channel: Channel, status: DeliveryStatus, error: Option<i64>) -> String {
    use DeliveryStatus::*;
    let given_back = if status.gives_back() {
        " It did not count against your limits."
    } else {
        ""
    };
    let words = match (channel, status, error) {
        (_, Sent, _) => return "Sent; waiting for the phone company to confirm.".to_owned(),
        (_, Delivered, _) => return "Delivered to this phone.".to_owned(),
        (_, Heard, _) => return "The call was answered and the code read out.".to_owned(),
        (Channel::Sms, Undelivered | Failed, Some(30006)) => {
            "This line cannot take text messages (a landline?). Ask for a voice call instead."
        }
        (Channel::Sms, Undelivered | Failed, Some(30007)) => {
            "The phone company filtered the text message. Ask for a voice call instead."
        }
        (Channel::Sms, Undelivered | Failed, Some(30003 | 30005)) => {
            "The phone company could not reach this number: it may be switched off or out of \
             service. Check the number, or try again later."
        }
        (Channel::Sms, _, _) => {
            "The text message was not delivered. Try again, or ask for a voice call."
        }
        (Channel::Voice, NoAnswer, _) => {
            "Nobody answered the call. Ask again when you can pick up."
        }
        (Channel::Voice, Busy, _) => "The line was busy. Ask again in a moment.",
        (Channel::Voice, Voicemail, _) => {
            "Voicemail answered, so the code was not read out. Ask again when you can pick up."
        }
        (Channel::Voice, NotHeard, _) => {
            "The call was answered but no key was pressed, so the code was not read out. Ask \
             again, and press a key when the call asks."
        }
        (Channel::Voice, _, _) => "The call could not be placed. Try again later.",
    };
    format!("{words}{given_back}")
}

/// How many codes went out by channel and what became of them, since
/// `since` (Unix ms): `(channel, status, count)`, with `None` for a code
/// whose delivery has nothing to report (the development outbox). For the
/// metrics and the site admins' overview.
pub async fn delivery_outcomes(
    pool: &AnyPool,
    since: i64,
) -> Result<Vec<(Channel, Option<DeliveryStatus>, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT channel, delivery_status, COUNT(*) FROM number_codes \
         WHERE created_at >= $1 GROUP BY channel, delivery_status \
         ORDER BY channel, delivery_status",
    )
    .bind(since)
    .fetch_all(pool)
    .await
}

/// Registrations made per period of `period_ms` from `from` (Unix ms):
/// the count of each period in order, `periods` of them, zero where none.
pub async fn registrations_per_period(
    pool: &AnyPool,
    from: i64,
    period_ms: i64,
    periods: usize,
) -> Result<Vec<i64>, sqlx::Error> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT (created_at - $1) / $2 AS period, COUNT(*) FROM registrations \
         WHERE created_at >= $1 GROUP BY period",
    )
    .bind(from)
    .bind(period_ms)
    .fetch_all(pool)
    .await?;
    let mut counts = vec![0; periods];
    for (period, count) in rows {
        if let Some(slot) = usize::try_from(period).ok().and_then(|p| counts.get_mut(p)) {
            *slot = count;
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_never_reached_the_phone_gives_its_send_back() {
        for status in DeliveryStatus::ALL {
            let never_reached = matches!(
                status,
                DeliveryStatus::Undelivered | DeliveryStatus::Failed | DeliveryStatus::Canceled
            );
            assert_eq!(status.gives_back(), never_reached, "{status:?}");
            let words = delivery_words(Channel::Voice, *status, None);
            assert_eq!(
                words.contains("did not count"),
                status.gives_back(),
                "{words}"
            );
        }
        assert!(
            delivery_words(Channel::Sms, DeliveryStatus::Undelivered, Some(30007))
                .contains("filtered")
        );
    }
}
