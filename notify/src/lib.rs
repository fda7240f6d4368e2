//! The notifier: what the engine told people goes out by e-mail and to their organizations'
//! webhooks. One loop per process: make each new notice's deliveries
//! ([`Engine::expand_notices`]), claim the deliveries that may go now
//! ([`Engine::claim_deliveries`], leased so no two processes send one), send them — a
//! person's e-mails claimed together as one message (an hourly digest comes due together) —,
//! and record each attempt ([`Engine::delivery_done`]). A failure is tried again later, so an
//! outage of the SMTP server or a webhook delays and never drops; a notice is expanded once
//! and each delivery is unique, so nothing goes twice unless a process stops between the
//! server's acceptance and the record of it (then the same Message-ID or `webhook-id` comes
//! again, for the receiver to recognise).
//!
//! What leaves is the engine's [`carepath_engine::Message`], which holds no client:
//! `words.rs` says it without naming anyone (42 CFR Part 2).

mod mail;
mod webhook;
pub mod words;

use carepath_engine::{Destination, Dispatch, Engine};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::watch;

pub use webhook::signature;

/// What the notifier needs to know.
#[derive(Clone)]
pub struct NotifyConfig {
    /// `smtp://…` or `smtps://…` (see `mail.rs`); no e-mail when unset.
    pub smtp_url: Option<String>,
    /// The `From:` of every message.
    pub mail_from: String,
    /// The console's address, for links.
    pub public_url: String,
    /// The longest wait between passes when nothing wakes the notifier.
    pub poll: Duration,
}

impl std::fmt::Debug for NotifyConfig {
    /// `smtp_url` may hold the SMTP password: never in a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyConfig")
            .field("smtp", &self.smtp_url.is_some())
            .field("mail_from", &self.mail_from)
            .field("public_url", &self.public_url)
            .field("poll", &self.poll)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("notifications are misconfigured: {0}")]
    Config(String),
}

/// The notifier of one process.
pub struct Notifier {
    engine: Engine,
    config: NotifyConfig,
    mailer: Option<mail::Mailer>,
    poster: webhook::Poster,
}

impl Notifier {
    pub fn new(engine: Engine, config: NotifyConfig) -> Result<Self, NotifyError> {
        let mailer = match &config.smtp_url {
            Some(url) => Some(mail::Mailer::new(url, &config.mail_from)?),
            None => None,
        };
        Ok(Self {
            engine,
            config,
            mailer,
            poster: webhook::Poster::new(),
        })
    }

    /// Run until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        loop {
            match self.pass().await {
                Ok(sent) if sent > 0 => {
                    metrics::counter!("carepath_notices_sent_total").increment(sent as u64);
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "notification pass failed"),
            }
            tokio::select! {
                _ = self.engine.next_notice(self.config.poll) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                return;
            }
        }
    }

    /// One pass: expand new notices, then send what may go. How many deliveries went.
    pub async fn pass(&self) -> Result<usize, carepath_engine::Error> {
        while self.engine.expand_notices(self.mailer.is_some()).await? > 0 {}
        let claimed = self.engine.claim_deliveries(100).await?;
        let mut sent = 0;
        let mut emails: BTreeMap<String, Vec<Dispatch>> = BTreeMap::new();
        for d in claimed {
            match &d.to {
                Destination::Email { address } => {
                    emails.entry(address.clone()).or_default().push(d)
                }
                Destination::Webhook { url, secret, .. } => {
                    let now = chrono::Utc::now();
                    let body = words::webhook_body(&self.config.public_url, &d.message, now);
                    let id = format!("msg_{}", d.delivery.simple());
                    let result = self
                        .poster
                        .post(url, secret, &id, now.timestamp(), body)
                        .await;
                    if let Err(f) = &result {
                        tracing::info!(delivery = %d.delivery, why = %f.why, "webhook call failed");
                    } else {
                        sent += 1;
                    }
                    self.engine.delivery_done(&d, result).await?;
                }
            }
        }
        for (address, batch) in emails {
            let Some(mailer) = &self.mailer else {
                break;
            };
            let messages: Vec<_> = batch.iter().map(|d| d.message.clone()).collect();
            let (subject, body) = words::email(&self.config.public_url, &messages);
            let id = batch[0].delivery.simple().to_string();
            let result = mailer.send(&address, &id, &subject, body).await;
            match &result {
                Ok(()) => sent += batch.len(),
                Err(f) => {
                    tracing::info!(delivery = %batch[0].delivery, why = %f.why, "e-mail not sent")
                }
            }
            for d in &batch {
                self.engine.delivery_done(d, result.clone()).await?;
            }
        }
        Ok(sent)
    }
}
