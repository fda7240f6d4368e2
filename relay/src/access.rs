//! What an organization's RabbitMQ users may read (42 CFR Part 2 at the broker), written
//! through the RabbitMQ management API when an organization links a broker user
//! (`carepath orgs link-amqp-user`).
//!
//! The user gets, in the relay's virtual host:
//! - on `carepath.events`, topic permissions that let it bind only routing keys starting with
//!   its organization's id (`^<org>\.`) and publish none: the copies addressed to it and,
//!   when it holds records, its own clients' events;
//! - declare, bind and consume rights only on queues named `carepath.org.<org>.…`, read on
//!   the events exchange (to bind) and write on `carepath.inbound` (to answer). Any other
//!   queue or binding is refused by the broker (ACCESS_REFUSED).

use crate::topology::{EVENTS_EXCHANGE, INBOUND_EXCHANGE};
use carepath_engine::ids::OrgId;
use serde_json::json;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("the AMQP URL has no usable virtual host: {0}")]
    BadAmqpUrl(String),
    #[error("the management URL is not an http(s) URL: {0}")]
    BadManagementUrl(String),
    #[error("RabbitMQ has no user \"{0}\": create it first (rabbitmqctl add_user)")]
    NoSuchUser(String),
    #[error("RabbitMQ has no virtual host \"{0}\"")]
    NoSuchVhost(String),
    #[error("the RabbitMQ management API refused the credentials (HTTP {0})")]
    Refused(u16),
    #[error("the RabbitMQ management API answered HTTP {status} to {what}")]
    Status { status: u16, what: String },
    #[error(
        "the RabbitMQ management API is not reachable at {url} ({why}); enable it with \
         `rabbitmq-plugins enable rabbitmq_management` or set amqp_management_url"
    )]
    Unreachable { url: String, why: String },
}

/// The queue-name prefix an organization's users may declare, bind and consume.
pub fn queue_prefix(org: OrgId) -> String {
    format!("carepath.org.{org}.")
}

/// The RabbitMQ management API, as `http(s)://user:pass@host:port`.
pub struct Management {
    base: String,
    auth: Option<String>,
    agent: ureq::Agent,
}

impl Management {
    pub fn new(url: &str) -> Result<Self, AccessError> {
        let bad = || AccessError::BadManagementUrl(redact(url));
        let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
        if scheme != "http" && scheme != "https" {
            return Err(bad());
        }
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        if host.is_empty() {
            return Err(bad());
        }
        let auth = userinfo.map(|u| {
            let (user, pass) = u.split_once(':').unwrap_or((u, ""));
            basic(&percent_decode(user), &percent_decode(pass))
        });
        let path = path.trim_end_matches('/');
        let base = if path.is_empty() {
            format!("{scheme}://{host}")
        } else {
            format!("{scheme}://{host}/{path}")
        };
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(Self { base, auth, agent })
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<u16, AccessError> {
        let url = format!("{}/api/{path}", self.base);
        let unreachable = |e: ureq::Error| AccessError::Unreachable {
            url: self.base.clone(),
            why: e.to_string(),
        };
        let resp = match (method, body) {
            ("GET", _) => {
                let mut r = self.agent.get(&url);
                if let Some(a) = &self.auth {
                    r = r.header("authorization", a);
                }
                r.call()
            }
            (_, body) => {
                let mut r = self.agent.put(&url);
                if let Some(a) = &self.auth {
                    r = r.header("authorization", a);
                }
                r.send_json(body.unwrap_or(json!({})))
            }
        }
        .map_err(unreachable)?;
        let status = resp.status().as_u16();
        if status == 401 || status == 403 {
            return Err(AccessError::Refused(status));
        }
        Ok(status)
    }

    /// Give `user` in `vhost` exactly what `org`'s consumers and senders need, and nothing
    /// of any other organization's. Replaces the user's earlier permissions in that vhost.
    pub fn grant_org(&self, vhost: &str, user: &str, org: OrgId) -> Result<(), AccessError> {
        let v = percent_encode(vhost);
        let u = percent_encode(user);
        match self.call("GET", &format!("vhosts/{v}"), None)? {
            200 => {}
            404 => return Err(AccessError::NoSuchVhost(vhost.to_owned())),
            status => {
                return Err(AccessError::Status {
                    status,
                    what: "reading the virtual host".into(),
                });
            }
        }
        match self.call("GET", &format!("users/{u}"), None)? {
            200 => {}
            404 => return Err(AccessError::NoSuchUser(user.to_owned())),
            status => {
                return Err(AccessError::Status {
                    status,
                    what: "reading the user".into(),
                });
            }
        }
        let own = format!("carepath\\.org\\.{org}\\..*");
        let events = regex_literal(EVENTS_EXCHANGE);
        let inbound = regex_literal(INBOUND_EXCHANGE);
        let grants = [
            (
                format!("permissions/{v}/{u}"),
                json!({
                    "configure": format!("^{own}$"),
                    "write": format!("^({own}|{inbound})$"),
                    "read": format!("^({own}|{events})$"),
                }),
                "setting permissions",
            ),
            (
                format!("topic-permissions/{v}/{u}"),
                json!({
                    "exchange": EVENTS_EXCHANGE,
                    "write": "^$",
                    "read": format!("^{org}\\."),
                }),
                "setting topic permissions",
            ),
        ];
        for (path, body, what) in grants {
            match self.call("PUT", &path, Some(body))? {
                200..=299 => {}
                status => {
                    return Err(AccessError::Status {
                        status,
                        what: what.into(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// The virtual host an AMQP URL names (`amqp://u:p@host:port/<vhost>`, percent-encoded; none
/// means `/`).
pub fn vhost_of(amqp_url: &str) -> Result<String, AccessError> {
    let rest = amqp_url
        .split_once("://")
        .map(|(_, r)| r)
        .ok_or_else(|| AccessError::BadAmqpUrl(redact(amqp_url)))?;
    let path = rest.split_once('/').map(|(_, p)| p).unwrap_or("");
    let path = path.split(['?', '#']).next().unwrap_or("");
    if path.is_empty() {
        return Ok("/".into());
    }
    if path.contains('/') {
        return Err(AccessError::BadAmqpUrl(redact(amqp_url)));
    }
    Ok(percent_decode(path))
}

/// A URL with its password replaced, for error messages.
fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split(':').next().unwrap_or("");
                format!("{scheme}://{user}:***@{host}")
            }
            None => url.to_owned(),
        },
        None => "(not a URL)".into(),
    }
}

fn regex_literal(s: &str) -> String {
    s.replace('.', "\\.")
}

fn basic(user: &str, pass: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

fn percent_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vhost_of_an_amqp_url() {
        assert_eq!(vhost_of("amqp://g:g@127.0.0.1:5672/%2f").unwrap(), "/");
        assert_eq!(vhost_of("amqp://g:g@127.0.0.1:5672").unwrap(), "/");
        assert_eq!(
            vhost_of("amqp://h/care%20path?heartbeat=5").unwrap(),
            "care path"
        );
        assert!(vhost_of("127.0.0.1:5672").is_err());
        assert!(vhost_of("amqp://h/a/b").is_err());
    }

    #[test]
    fn a_management_url_keeps_its_password_out_of_errors() {
        let e = Management::new("ftp://admin:s3cret@host").err().unwrap();
        assert!(!e.to_string().contains("s3cret"), "{e}");
        let m = Management::new("http://admin:s%40cret@host:15672/").unwrap();
        assert_eq!(m.base, "http://host:15672");
        assert_eq!(m.auth.as_deref(), Some(basic("admin", "s@cret").as_str()));
    }
}
