//! CloudEvents 1.0 in binary content mode on AMQP 0-9-1, as the RabbitMQ binding has it:
//! attributes in `ce-*` headers, the data as the JSON body, `content-type` as the property.

use carepath_engine::domain::CareEvent;
use carepath_engine::ids::OrgId;
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use serde_json::json;

pub const SPEC_VERSION: &str = "1.0";
pub const TYPE_PREFIX: &str = "org.carepath.";
/// The notice on every event addressed to another organization.
pub use carepath_engine::domain::REDISCLOSURE_NOTICE;

/// Which copy of an event a message is: every event goes to the organization holding the
/// client's record (`own`), and a copy to each other organization it goes to (`to`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Copy {
    Own,
    To,
}

impl Copy {
    pub fn as_str(self) -> &'static str {
        match self {
            Copy::Own => "own",
            Copy::To => "to",
        }
    }
}

/// Routing key `<organization>.<own|to>.<aggregate>.<event>.<level>`, `none` for events
/// about no level. The organization comes first so RabbitMQ topic permissions (`^<org>\.`)
/// keep each organization to its own copies.
pub fn routing_key(org: OrgId, copy: Copy, e: &CareEvent) -> String {
    format!(
        "{org}.{}.{}.{}",
        copy.as_str(),
        e.event_type(),
        e.level.as_ref().map_or("none", |l| l.as_str())
    )
}

/// The AMQP message for one copy of a care event, for `org`: routing key, properties (with
/// the `ce-*` headers) and body. The body carries the minimum necessary: the event's data and
/// its sequence number; a copy to another organization names it and carries the 42 CFR 2.32
/// notice.
pub fn encode(
    e: &CareEvent,
    source: &str,
    org: OrgId,
    copy: Copy,
) -> (String, BasicProperties, Vec<u8>) {
    let mut headers = FieldTable::default();
    let mut put = |k: &str, v: String| {
        headers.insert(
            ShortString::from(k),
            AMQPValue::LongString(LongString::from(v)),
        );
    };
    put("ce-specversion", SPEC_VERSION.into());
    put("ce-id", e.id.to_string());
    put("ce-source", source.to_owned());
    put("ce-type", format!("{TYPE_PREFIX}{}", e.event_type()));
    put("ce-subject", e.client.to_string());
    put(
        "ce-time",
        e.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    );
    // CloudEvents sequence extension: per client, consecutive.
    put("ce-sequence", e.seq.to_string());
    let mut body = json!({
        "clientId": e.client,
        "seq": e.seq,
        "level": e.level,
        "data": e.data,
    });
    let recipient = match copy {
        Copy::To => Some(org),
        Copy::Own => e.recipient_org,
    };
    if let Some(org) = recipient {
        body["recipientOrg"] = json!(org);
        body["redisclosureNotice"] = json!(REDISCLOSURE_NOTICE);
    }
    let props = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_delivery_mode(2)
        .with_message_id(e.id.to_string().into())
        .with_timestamp(e.at.timestamp().max(0) as u64)
        .with_app_id("carepath".into())
        .with_headers(headers);
    (
        routing_key(org, copy, e),
        props,
        serde_json::to_vec(&body).expect("event serializes"),
    )
}

/// A header's value as text.
pub fn header<'a>(props: &'a BasicProperties, name: &str) -> Option<String> {
    let headers = props.headers().as_ref()?;
    let _: &'a BasicProperties = props;
    match headers.inner().get(name)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}
