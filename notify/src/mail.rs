//! E-mail over SMTP (`lettre`): the server from a URL — `smtp://host:587?tls=required`
//! (STARTTLS), `smtps://host:465`, `smtp://host:587?tls=opportunistic`, plain `smtp://host:25`
//! (a relay on this machine), with `user:password@` for AUTH —, every exchange under a timeout.

use crate::NotifyError;
use carepath_engine::DeliveryFailure;
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// How long one exchange with the SMTP server may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    pub fn new(url: &str, from: &str) -> Result<Self, NotifyError> {
        if url.starts_with("smtp://") && !url.contains("tls=") && !is_local(url) {
            tracing::warn!(
                "smtp_url sends e-mail in the clear to another machine: add ?tls=required \
                 (STARTTLS) or use smtps://"
            );
        }
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| {
                // lettre's message may quote the URL, password and all: say only what kind.
                let kind = if e.is_client() { "not an SMTP URL lettre reads" } else { "unusable" };
                NotifyError::Config(format!(
                    "smtp_url is {kind}: smtp://host:587?tls=required, smtps://host:465 or smtp://127.0.0.1:25"
                ))
            })?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        let from = from
            .parse()
            .map_err(|e| NotifyError::Config(format!("mail_from: {e}")))?;
        Ok(Self { transport, from })
    }

    /// Send one message to `to`; `id` makes its Message-ID, the same on every attempt.
    pub async fn send(
        &self,
        to: &str,
        id: &str,
        subject: &str,
        body: String,
    ) -> Result<(), DeliveryFailure> {
        let to: Mailbox = to.parse().map_err(|_| DeliveryFailure {
            permanent: true,
            why: "the person's e-mail address is not one".into(),
        })?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(format!("<{id}@carepath.notice>")))
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| DeliveryFailure {
                permanent: true,
                why: format!("the message could not be built: {e}"),
            })?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) => Err(DeliveryFailure {
                permanent: e.is_permanent(),
                why: smtp_why(&e),
            }),
        }
    }
}

/// What went wrong, in a line that names no address and carries no body.
fn smtp_why(e: &lettre::transport::smtp::Error) -> String {
    if let Some(code) = e.status() {
        format!("the SMTP server answered {code}")
    } else if e.is_timeout() {
        "the SMTP server did not answer in time".into()
    } else if e.is_tls() {
        "TLS with the SMTP server failed".into()
    } else {
        "the SMTP server could not be reached".into()
    }
}

/// Whether a plain `smtp://` URL names this machine.
fn is_local(url: &str) -> bool {
    let rest = url.trim_start_matches("smtp://");
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let name = host.split(':').next().unwrap_or("");
    name == "localhost" || name.starts_with("127.") || host.starts_with("[::1]")
}
