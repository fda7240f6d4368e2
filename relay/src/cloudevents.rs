//! CloudEvents 1.0 in binary content mode on AMQP 0-9-1, as the RabbitMQ binding has it:
//! attributes in `ce-*` headers, the data as the JSON body, `content-type` as the property.

use carepath_engine::domain::CareEvent;
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use serde_json::json;

pub const SPEC_VERSION: &str = "1.0";
pub const TYPE_PREFIX: &str = "org.carepath.";
/// The abbreviated notice of 42 CFR 2.32 (2024 rule), on every event addressed to another
/// organization.
pub const REDISCLOSURE_NOTICE: &str =
    "42 CFR part 2 prohibits unauthorized use or disclosure of these records.";

/// Routing key `<aggregate>.<event>.<level>`, `none` for events about no level.
pub fn routing_key(e: &CareEvent) -> String {
    format!(
        "{}.{}",
        e.event_type(),
        e.level.as_ref().map_or("none", |l| l.as_str())
    )
}

/// The AMQP message for a care event: routing key, properties (with the `ce-*` headers) and
/// body. The body carries the minimum necessary: the event's data and its sequence number.
pub fn encode(e: &CareEvent, source: &str) -> (String, BasicProperties, Vec<u8>) {
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
    if let Some(org) = e.recipient_org {
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
        routing_key(e),
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
