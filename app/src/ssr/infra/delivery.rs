//! Delivery of one-time codes by SMS or voice call: through Twilio's
//! Messages and Calls APIs in production, or, by default in development,
//! written to an outbox directory beside the emails.

use std::path::PathBuf;

use crate::domain::phone::PhoneNumber;
use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::messages;

pub use crate::domain::Channel;

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("cannot write to the outbox: {0}")]
    Outbox(#[from] std::io::Error),
    #[error("Twilio cannot be reached: {0}")]
    Unreachable(#[from] reqwest::Error),
    /// Twilio's error body: `{"code": 21211, "message": "…", "status": 400}`.
    #[error("Twilio refused the request ({status}, code {code:?}): {message}")]
    Refused {
        status: u16,
        code: Option<i64>,
        message: String,
    },
}

impl SendError {
    /// Whether trying again later may succeed: the network, Twilio's own
    /// failures (5xx) and its rate limit (429). Any other refusal (a number
    /// that cannot take the message, wrong credentials) needs a person.
    pub fn is_transient(&self) -> bool {
        match self {
            SendError::Outbox(_) | SendError::Unreachable(_) => true,
            SendError::Refused { status, .. } => *status == 429 || *status >= 500,
        }
    }
}

/// What a provider's refusal means for the attorney, from Twilio's error
/// code (<https://www.twilio.com/docs/api/errors>).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 21211 (not a valid phone number) or 21614 (not a mobile number):
    /// the line cannot take texts; a voice call may reach it.
    CannotTakeTexts,
    /// 21610: the phone replied STOP to our texts, and the carrier blocks
    /// them until it replies START.
    RepliedStop,
    /// Everything else, such as 21408 (texts to that region not enabled
    /// on our account), 21216 (calls to that number not allowed), 20003
    /// (our credentials): our account's problem, not the attorney's.
    OurSide,
}

impl SendError {
    /// How a refusal (not a passing failure) reads for the attorney;
    /// `None` for a passing failure.
    pub fn refusal(&self) -> Option<Refusal> {
        if self.is_transient() {
            return None;
        }
        Some(match self {
            SendError::Refused {
                code: Some(21211 | 21614),
                ..
            } => Refusal::CannotTakeTexts,
            SendError::Refused {
                code: Some(21610), ..
            } => Refusal::RepliedStop,
            _ => Refusal::OurSide,
        })
    }

    /// Twilio's error code, when it gave one.
    pub fn code(&self) -> Option<i64> {
        match self {
            SendError::Refused { code, .. } => *code,
            _ => None,
        }
    }
}

/// A Twilio account: its SID, auth token and the number codes come from.
#[derive(Clone)]
pub struct Twilio {
    pub account_sid: String,
    pub auth_token: String,
    pub from: String,
    /// `https://api.twilio.com` in production; a loopback fake in tests.
    pub api_base: String,
    pub client: reqwest::Client,
}

impl std::fmt::Debug for Twilio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The auth token is a secret: never in logs.
        f.debug_struct("Twilio")
            .field("account_sid", &self.account_sid)
            .field("from", &self.from)
            .field("api_base", &self.api_base)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub enum CodeSender {
    /// Each message becomes `<dir>/code-<millis>-<sequence>-<channel>-<digits>.txt`.
    Outbox(PathBuf),
    Twilio(Twilio),
}

impl CodeSender {
    pub async fn send(
        &self,
        to: &PhoneNumber,
        channel: Channel,
        code: &str,
    ) -> Result<(), SendError> {
        match self {
            CodeSender::Outbox(directory) => {
                tokio::fs::create_dir_all(directory).await?;
                let text = match channel {
                    Channel::Sms => messages::code_sms(code),
                    Channel::Voice => messages::code_voice_text(code),
                };
                // Two codes to one number within a millisecond (parallel
                // requests) must not share a file.
                static SEQUENCE: std::sync::atomic::AtomicU64 =
                    std::sync::atomic::AtomicU64::new(0);
                let sequence = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let file = directory.join(format!(
                    "code-{}-{sequence:08}-{}-{}.txt",
                    now_millis(),
                    channel.as_str(),
                    to.as_str().trim_start_matches('+')
                ));
                tokio::fs::write(
                    file,
                    format!("To: {to}\nChannel: {}\n\n{text}\n", channel.as_str()),
                )
                .await?;
                Ok(())
            }
            CodeSender::Twilio(twilio) => twilio.send(to, channel, code).await,
        }
    }
}

impl Twilio {
    /// One request to the Messages API (SMS) or the Calls API (voice, with
    /// TwiML that reads the digits), authenticated with the account SID and
    /// auth token as Twilio documents.
    async fn send(&self, to: &PhoneNumber, channel: Channel, code: &str) -> Result<(), SendError> {
        let (resource, field, content) = match channel {
            Channel::Sms => ("Messages", "Body", messages::code_sms(code)),
            Channel::Voice => ("Calls", "Twiml", messages::code_twiml(code)),
        };
        let url = format!(
            "{}/2010-04-01/Accounts/{}/{resource}.json",
            self.api_base.trim_end_matches('/'),
            self.account_sid
        );
        let form = [
            ("To", to.as_str().to_owned()),
            ("From", self.from.clone()),
            (field, content),
        ];
        let response = self
            .client
            .post(url)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .form(&form)
            .send()
            .await?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        Err(SendError::Refused {
            status: status.as_u16(),
            code: body.get("code").and_then(serde_json::Value::as_i64),
            message: body
                .get("message")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("no message")
                .to_owned(),
        })
    }
}
