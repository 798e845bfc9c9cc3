//! Delivery of one-time codes by SMS or voice call: through Twilio's
//! Messages and Calls APIs in production, or, by default in development,
//! written to an outbox directory beside the emails.
//!
//! With Twilio, every send names callback URLs on the portal
//! ([`Dispatch`]): Twilio reports each message's and call's final status
//! there, and a call fetches its script there, so the code is read only
//! after a person presses a key (voicemail presses none). Each callback is
//! signed with `X-Twilio-Signature` ([`Twilio::verify`]).

use std::path::PathBuf;

use base64::Engine as _;

use crate::domain::phone::{Extension, PhoneNumber};
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

/// Where Twilio reports on one delivery, and what a call dials after the
/// answer.
#[derive(Debug, Clone, Copy)]
pub struct Dispatch<'a> {
    /// The portal's public origin without a trailing slash, e.g.
    /// `https://registry.example`: the base of the callback URLs.
    pub base_url: &'a str,
    /// The delivery's random token, the last segment of its callback
    /// paths (URL-safe).
    pub token: &'a str,
    /// An office extension, dialled once the call is answered.
    pub extension: Option<&'a Extension>,
}

/// The callback routes, in axum's path syntax; `{token}` is the
/// delivery's.
pub const STATUS_ROUTE: &str = "/twilio/status/{token}";
/// Fetched by Twilio when a call is answered: the greeting that waits for
/// a key.
pub const VOICE_ROUTE: &str = "/twilio/voice/{token}";
/// Fetched when the key is pressed: the code, read twice.
pub const VOICE_CODE_ROUTE: &str = "/twilio/voice/{token}/code";

impl Dispatch<'_> {
    /// The absolute URL of `route` for this delivery.
    pub fn url(&self, route: &str) -> String {
        format!("{}{}", self.base_url, route.replace("{token}", self.token))
    }
}

/// Twilio's `SendDigits` for an extension: `w` waits half a second, so
/// two seconds pass for an auto-attendant to start listening before the
/// digits (<https://www.twilio.com/docs/voice/api/call-resource>).
pub fn send_digits(extension: &Extension) -> String {
    format!("wwww{}", extension.as_str())
}

/// `X-Twilio-Signature` of a request Twilio makes to `url` with form
/// `params`: Base64 of HMAC-SHA1, keyed by the auth token, over the URL
/// followed by each parameter's name and value, sorted by name
/// (<https://www.twilio.com/docs/usage/security#validating-requests>).
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    use hmac::Mac;
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    #[expect(clippy::expect_used, reason = "HMAC takes a key of any length")]
    let mut mac =
        hmac::Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()).expect("any key length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[derive(Debug, Clone)]
pub enum CodeSender {
    /// Each message becomes `<dir>/code-<millis>-<sequence>-<channel>-<digits>.txt`.
    Outbox(PathBuf),
    Twilio(Twilio),
}

impl CodeSender {
    /// Sends `code` to `to`. Returns Twilio's SID of the message or call
    /// (`SM…`, `CA…`), whose status will reach `dispatch`'s callback; `None`
    /// from the outbox, which has no status to report.
    pub async fn send(
        &self,
        to: &PhoneNumber,
        channel: Channel,
        code: &str,
        dispatch: Dispatch<'_>,
    ) -> Result<Option<String>, SendError> {
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
                let extension = dispatch
                    .extension
                    .map(|extension| format!("Extension: {}\n", extension.as_str()))
                    .unwrap_or_default();
                tokio::fs::write(
                    file,
                    format!(
                        "To: {to}\nChannel: {}\n{extension}\n{text}\n",
                        channel.as_str()
                    ),
                )
                .await?;
                Ok(None)
            }
            CodeSender::Twilio(twilio) => twilio.send(to, channel, code, dispatch).await,
        }
    }

    /// The Twilio account, when codes go through Twilio: what callbacks
    /// are checked against.
    pub fn twilio(&self) -> Option<&Twilio> {
        match self {
            CodeSender::Twilio(twilio) => Some(twilio),
            CodeSender::Outbox(_) => None,
        }
    }
}

impl Twilio {
    /// Whether `signature` (the `X-Twilio-Signature` header) is Twilio's
    /// for a request to `url` with form `params`; compared in constant
    /// time.
    pub fn verify(&self, url: &str, params: &[(String, String)], signature: &str) -> bool {
        use subtle::ConstantTimeEq;
        let expected = twilio_signature(&self.auth_token, url, params);
        expected.len() == signature.len()
            && bool::from(expected.as_bytes().ct_eq(signature.as_bytes()))
    }

    /// One request to the Messages API (SMS: the code in the body) or the
    /// Calls API (voice: the call fetches its script from the portal, so
    /// the code is not in the request), authenticated with the account SID
    /// and auth token as Twilio documents. Returns the new resource's SID
    /// (`None` if a success answer has none: the send went out all the
    /// same, and is not undone).
    ///
    /// A call to an extension dials it after the answer (`SendDigits`).
    /// Answering-machine detection (`MachineDetection=Enable`, whose
    /// verdict comes as `AnsweredBy` with the script's fetch) runs only
    /// without an extension: an auto-attendant's greeting would be judged
    /// a machine. Either way the code is read only after a key press.
    async fn send(
        &self,
        to: &PhoneNumber,
        channel: Channel,
        code: &str,
        dispatch: Dispatch<'_>,
    ) -> Result<Option<String>, SendError> {
        let resource = match channel {
            Channel::Sms => "Messages",
            Channel::Voice => "Calls",
        };
        let url = format!(
            "{}/2010-04-01/Accounts/{}/{resource}.json",
            self.api_base.trim_end_matches('/'),
            self.account_sid
        );
        let mut form = vec![
            ("To", to.as_str().to_owned()),
            ("From", self.from.clone()),
            ("StatusCallback", dispatch.url(STATUS_ROUTE)),
        ];
        match channel {
            Channel::Sms => form.push(("Body", messages::code_sms(code))),
            Channel::Voice => {
                form.push(("Url", dispatch.url(VOICE_ROUTE)));
                form.push(("Method", "POST".to_owned()));
                match dispatch.extension {
                    Some(extension) => form.push(("SendDigits", send_digits(extension))),
                    None => form.push(("MachineDetection", "Enable".to_owned())),
                }
            }
        }
        let response = self
            .client
            .post(url)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .form(&form)
            .send()
            .await?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        if status.is_success() {
            let sid = body.get("sid").and_then(serde_json::Value::as_str);
            if sid.is_none() {
                tracing::warn!("Twilio accepted a send without giving its sid");
            }
            return Ok(sid.map(str::to_owned));
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of Twilio's security page: its URL, parameters and
    /// auth token `12345` give `0/KCTR6DLpKmkAf8muzZqo1nDgQ=` (also
    /// recomputed with Python's `hmac` module).
    #[test]
    fn the_signature_is_twilios_documented_example() {
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .rev()
        .collect();
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(
            twilio_signature("12345", url, &params),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
        let twilio = Twilio {
            account_sid: "AC1".into(),
            auth_token: "12345".into(),
            from: "+12025550100".into(),
            api_base: "https://api.twilio.com".into(),
            client: reqwest::Client::new(),
        };
        assert!(twilio.verify(url, &params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
        assert!(!twilio.verify(url, &params, "1/KCTR6DLpKmkAf8muzZqo1nDgQ="));
        assert!(!twilio.verify(
            "https://mycompany.com/myapp.php",
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(!twilio.verify(url, &params[1..], "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
    }

    #[test]
    fn callback_urls_and_digits() {
        let extension = Extension::parse("204").expect("digits").expect("some");
        let dispatch = Dispatch {
            base_url: "https://registry.example",
            token: "tok",
            extension: Some(&extension),
        };
        assert_eq!(
            dispatch.url(STATUS_ROUTE),
            "https://registry.example/twilio/status/tok"
        );
        assert_eq!(
            dispatch.url(VOICE_CODE_ROUTE),
            "https://registry.example/twilio/voice/tok/code"
        );
        assert_eq!(send_digits(&extension), "wwww204");
    }
}
