//! Outgoing email through lettre: SMTP in production, or by default a file
//! outbox (one `.eml` file per message) so a newcomer can open the links.

use std::path::PathBuf;

use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::domain::EmailAddress;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid address: {0}")]
    Address(#[from] lettre::address::AddressError),
    #[error("cannot build the message: {0}")]
    Build(#[from] lettre::error::Error),
    #[error("SMTP delivery failed: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("cannot write to the outbox: {0}")]
    Outbox(#[from] lettre::transport::file::Error),
    #[error("cannot create the outbox directory: {0}")]
    OutboxDirectory(#[from] std::io::Error),
}

/// Where messages go.
#[derive(Debug, Clone)]
pub enum MailTransport {
    /// `SMTP_URL`, e.g. `smtp://user:pass@host:587?tls=required` (STARTTLS)
    /// or `smtps://user:pass@host:465` (TLS).
    Smtp(String),
    /// A directory of `.eml` files.
    Outbox(PathBuf),
}

#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    sender: Sender,
}

#[derive(Clone)]
enum Sender {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(AsyncFileTransport<Tokio1Executor>),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.sender {
            Sender::Smtp(_) => "smtp",
            Sender::Outbox(_) => "outbox",
        };
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .field("transport", &kind)
            .finish()
    }
}

impl Mailer {
    pub fn new(from: &str, transport: &MailTransport) -> Result<Self, MailError> {
        let from: Mailbox = from.parse()?;
        let sender = match transport {
            MailTransport::Smtp(url) => {
                Sender::Smtp(AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?.build())
            }
            MailTransport::Outbox(directory) => {
                std::fs::create_dir_all(directory)?;
                Sender::Outbox(AsyncFileTransport::<Tokio1Executor>::new(directory))
            }
        };
        Ok(Self { from, sender })
    }

    /// Sends a plain-text message.
    pub async fn send(
        &self,
        to: &EmailAddress,
        subject: &str,
        body: String,
    ) -> Result<(), MailError> {
        let message = Message::builder()
            .from(self.from.clone())
            .to(to.as_str().parse()?)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)?;
        match &self.sender {
            Sender::Smtp(transport) => {
                transport.send(message).await?;
            }
            Sender::Outbox(transport) => {
                transport.send(message).await?;
            }
        }
        Ok(())
    }
}
