//! An organization's webhook: an HTTPS POST of a small JSON body, signed as Standard Webhooks
//! sign (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of
//! "id.timestamp.body" under the secret>`), no redirects followed, under a timeout.

use base64::Engine as _;
use carepath_engine::DeliveryFailure;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);

pub struct Poster {
    client: reqwest::Client,
}

/// The Standard Webhooks signature of `body` sent as message `id` at `timestamp` (seconds)
/// under `secret` (`whsec_` and the key in base64).
pub fn signature(secret: &str, id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Some(format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    ))
}

impl Poster {
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("Carepath-Webhooks/1")
            .build()
            .expect("an HTTP client with rustls");
        Self { client }
    }

    /// POST `body` to `url`, signed; any 2xx is delivered. A 410 Gone is permanent; every
    /// other failure is tried again later.
    pub async fn post(
        &self,
        url: &str,
        secret: &str,
        id: &str,
        timestamp: i64,
        body: String,
    ) -> Result<(), DeliveryFailure> {
        let Some(sig) = signature(secret, id, timestamp, &body) else {
            return Err(DeliveryFailure {
                permanent: true,
                why: "the webhook's secret is unreadable".into(),
            });
        };
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", sig)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(DeliveryFailure {
                permanent: r.status() == reqwest::StatusCode::GONE,
                why: format!("the webhook answered {}", r.status().as_u16()),
            }),
            Err(e) if e.is_timeout() => Err(DeliveryFailure {
                permanent: false,
                why: "the webhook did not answer in time".into(),
            }),
            Err(_) => Err(DeliveryFailure {
                permanent: false,
                why: "the webhook could not be reached".into(),
            }),
        }
    }
}

impl Default for Poster {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification.
    #[test]
    fn signs_as_the_standard_webhooks_example() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }
}
