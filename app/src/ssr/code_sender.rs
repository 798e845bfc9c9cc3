//! Delivery of one-time codes by SMS or voice call. The development sender
//! writes each message to the outbox directory beside the emails; a
//! Twilio sender (Messages and Calls APIs) is the next step.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::domain::phone::PhoneNumber;
use crate::ssr::clock::now_millis;

/// How a code reaches the phone: office landlines cannot receive SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sms,
    Voice,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Voice => "voice",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "sms" => Some(Channel::Sms),
            "voice" => Some(Channel::Voice),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("cannot write to the outbox: {0}")]
    Outbox(#[from] std::io::Error),
}

#[derive(Debug, Clone)]
pub enum CodeSender {
    /// Each message becomes `<dir>/code-<millis>-<e164>.txt`.
    Outbox(PathBuf),
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
                let spoken: Vec<String> = code.chars().map(String::from).collect();
                let text = match channel {
                    Channel::Sms => format!(
                        "Counsel Registry code: {code}. It proves this number is yours; it works for 10 minutes."
                    ),
                    Channel::Voice => format!(
                        "Your Counsel Registry code is {spoken}. Again: {spoken}.",
                        spoken = spoken.join(", ")
                    ),
                };
                let file = directory.join(format!(
                    "code-{}-{}-{}.txt",
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
        }
    }
}
