//! Email to users, over SMTP with `lettre`: the quota notices (80 % of a window, a window or
//! the spend cap reached). Configured by `SMTP_URL` (`smtp://user:pass@host:587?tls=required`,
//! `smtps://…`, or plain `smtp://127.0.0.1:2525` for a local relay) and `EMAIL_FROM`; without
//! `SMTP_URL` nothing is sent and the notices stay in the app and the log.

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailSettings {
    pub smtp_url: String,
    pub from: String,
}

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("SMTP_URL is not usable: {0}")]
    Url(String),
    #[error("EMAIL_FROM is not an address: {0}")]
    From(String),
    #[error("the message could not be built: {0}")]
    Build(String),
    #[error("the mail server refused or could not be reached: {0}")]
    Send(String),
}

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from.to_string()).finish()
    }
}

impl Mailer {
    pub fn new(settings: &EmailSettings) -> Result<Self, EmailError> {
        // The URL carries the password: its text is never part of an error.
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&settings.smtp_url)
            .map_err(|_| EmailError::Url("expected smtp://, smtps:// with a host".into()))?
            .timeout(Some(std::time::Duration::from_secs(20)))
            .build();
        let from = settings.from.parse().map_err(|_| EmailError::From(settings.from.clone()))?;
        Ok(Self { transport, from })
    }

    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), EmailError> {
        let to: Mailbox = to.parse().map_err(|_| EmailError::Build(format!("{to:?} is not an address")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .body(body)
            .map_err(|e| EmailError::Build(e.to_string()))?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| EmailError::Send(e.to_string()))
    }
}

/// Whether `text` can be kept as a user's address: one `@` with something on each side, no
/// spaces or line breaks (no header injection), at most 254 characters.
pub fn valid_address(text: &str) -> bool {
    let text = text.trim();
    let Some((local, domain)) = text.split_once('@') else { return false };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && text.len() <= 254
        && !text.chars().any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>' || c == ',')
        && !domain.contains('@')
        && text.parse::<Mailbox>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_one_mailbox_and_nothing_else() {
        assert!(valid_address("ada@example.com"));
        assert!(valid_address(" ada.lovelace+easel@mail.example.org "));
        for bad in [
            "ada",
            "ada@",
            "@example.com",
            "ada@localhost",
            "a b@example.com",
            "ada@example.com\r\nBcc: x@y.z",
            "a@b@c.com",
            "Ada <ada@example.com>",
            "x@example.com,y@example.com",
        ] {
            assert!(!valid_address(bad), "{bad:?}");
        }
        assert!(!valid_address(&format!("{}@example.com", "a".repeat(260))));
    }

    #[test]
    fn a_bad_url_does_not_show_its_password() {
        let e = Mailer::new(&EmailSettings { smtp_url: "ftp://user:s3cret@host".into(), from: "a@b.co".into() })
            .expect_err("refused");
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }
}
