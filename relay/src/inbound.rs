//! The inbound consumer: CloudEvents from schedulers and partners on `carepath.inbound`.
//! The sender is the AMQP `user-id` property (RabbitMQ checks it against the connection's
//! user), mapped to a registered organization; a sender acts only as its own organization.
//! Deduplicated by `ce-id` (the engine's idempotency, keyed `ce:<id>` per organization). An
//! invalid or unauthorized message goes to `carepath.dead` with the reason in the
//! `x-carepath-reason` header; the consumer never dies of a bad message.

use crate::cloudevents::{SPEC_VERSION, TYPE_PREFIX, header};
use crate::topology::{self, DEAD_EXCHANGE, INBOUND_QUEUE};
use crate::{Options, connect};
use carepath_engine::Backoff;
use carepath_engine::domain::{
    AftercareKind, Command, DeclineCode, DeclineReason, MatBookingKind, OutcomeReport,
};
use carepath_engine::ids::{BookingId, ClientId, OrgId, ReferralId};
use carepath_engine::{Engine, Error, Request};
use chrono::{DateTime, NaiveDate, Utc};
use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel};
use serde::Deserialize;
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

/// Messages in flight to this consumer at once.
pub const PREFETCH: u16 = 32;
pub const REASON_HEADER: &str = "x-carepath-reason";
pub const SENDER_HEADER: &str = "x-carepath-sender";

#[derive(Debug, thiserror::Error)]
enum ConsumeError {
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("the broker did not confirm a dead letter in time")]
    Timeout,
    #[error("the consumer was cancelled")]
    Cancelled,
}

/// Why a message was not processed.
enum Outcome {
    /// The message is wrong or not allowed: dead-letter it with this reason.
    Invalid(String),
    /// Something on our side failed: give it back for another delivery.
    Retry(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AftercareScheduled {
    client_id: Uuid,
    provider_id: Uuid,
    kind: AftercareKind,
    at: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RefillScheduled {
    client_id: Uuid,
    provider_id: Uuid,
    kind: MatBookingKind,
    on: NaiveDate,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReferralAnswer {
    referral_id: Uuid,
    reason: Option<DeclineCode>,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BookingKept {
    client_id: Uuid,
    booking_id: Uuid,
    supply_through: Option<NaiveDate>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClientOnly {
    client_id: Uuid,
}

/// Run the consumer until `stop` turns true; reconnects (and re-applies prefetch) by itself.
pub async fn run_inbound(engine: Engine, opts: Options, mut stop: watch::Receiver<bool>) {
    let mut backoff = Backoff::new();
    while !*stop.borrow() {
        match connect(&opts.amqp_url, "carepath-inbound").await {
            Ok(conn) => {
                match consume(&engine, &conn, &mut stop, &mut backoff).await {
                    Ok(()) => {
                        let _ = conn.close(200, "shutting down".into()).await;
                        return;
                    }
                    Err(e) => tracing::warn!(error = %e, "inbound consumer lost the broker"),
                }
                let _ = tokio::time::timeout(
                    Duration::from_secs(1),
                    conn.close(200, "reconnecting".into()),
                )
                .await;
            }
            Err(e) => tracing::warn!(error = %e, "broker unreachable for the inbound consumer"),
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff.step()) => {}
            _ = stop.changed() => {}
        }
    }
}

async fn consume(
    engine: &Engine,
    conn: &lapin::Connection,
    stop: &mut watch::Receiver<bool>,
    backoff: &mut Backoff,
) -> Result<(), ConsumeError> {
    let ch = conn.create_channel().await?;
    topology::declare(&ch).await?;
    ch.basic_qos(PREFETCH, BasicQosOptions::default()).await?;
    // Dead letters go out on a channel of their own, with confirms.
    let dead = conn.create_channel().await?;
    dead.confirm_select(ConfirmSelectOptions::default()).await?;
    let mut consumer = ch
        .basic_consume(
            INBOUND_QUEUE.into(),
            "carepath-inbound".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    tracing::info!("inbound consumer ready");
    backoff.reset();
    loop {
        let delivery = tokio::select! {
            d = consumer.next() => d,
            _ = stop.changed() => {
                crate::close_channels(&[&ch, &dead]).await;
                return Ok(());
            }
        };
        let delivery = match delivery {
            Some(Ok(d)) => d,
            Some(Err(e)) => return Err(e.into()),
            None => return Err(ConsumeError::Cancelled),
        };
        match handle(engine, &delivery).await {
            Ok(()) => {
                metrics::counter!("carepath_inbound_total", "outcome" => "processed").increment(1);
                delivery.ack(BasicAckOptions::default()).await?;
            }
            Err(Outcome::Invalid(reason)) => {
                // The reason can quote the message (a bad value): it goes with the message
                // to carepath.dead, never to the log.
                tracing::warn!(
                    "inbound message dead-lettered; the reason is in its x-carepath-reason header on carepath.dead"
                );
                metrics::counter!("carepath_inbound_total", "outcome" => "dead_lettered")
                    .increment(1);
                match dead_letter(&dead, &delivery, &reason).await {
                    Ok(()) => {
                        delivery.ack(BasicAckOptions::default()).await?;
                    }
                    // Could not add the reason: let the broker dead-letter it as it is.
                    Err(e) => {
                        tracing::warn!(error = %e, "dead letter not confirmed; rejecting instead");
                        delivery
                            .nack(BasicNackOptions {
                                requeue: false,
                                ..BasicNackOptions::default()
                            })
                            .await?;
                        return Err(e);
                    }
                }
            }
            Err(Outcome::Retry(why)) => {
                tracing::warn!(why = %why, "inbound message requeued");
                metrics::counter!("carepath_inbound_total", "outcome" => "requeued").increment(1);
                tokio::time::sleep(Duration::from_millis(200)).await;
                delivery
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..BasicNackOptions::default()
                    })
                    .await?;
            }
        }
    }
}

/// Publish the message, as it came, to `carepath.dead` with the reason, on the publishing
/// channel; confirmed before the original is acknowledged.
async fn dead_letter(ch: &Channel, d: &Delivery, reason: &str) -> Result<(), ConsumeError> {
    let p = &d.properties;
    let mut headers = p.headers().clone().unwrap_or_default();
    headers.insert(
        REASON_HEADER.into(),
        AMQPValue::LongString(LongString::from(reason.to_owned())),
    );
    // The broker lets a connection set only its own user-id: keep the sender's in a header.
    if let Some(user) = p.user_id() {
        headers.insert(
            SENDER_HEADER.into(),
            AMQPValue::LongString(LongString::from(user.as_str().to_owned())),
        );
    }
    let mut props = BasicProperties::default()
        .with_headers(headers)
        .with_delivery_mode(2);
    if let Some(ct) = p.content_type() {
        props = props.with_content_type(ct.clone());
    }
    if let Some(id) = p.message_id() {
        props = props.with_message_id(id.clone());
    }
    if let Some(ts) = p.timestamp() {
        props = props.with_timestamp(*ts);
    }
    let confirm = ch
        .basic_publish(
            DEAD_EXCHANGE.into(),
            d.routing_key.clone(),
            BasicPublishOptions::default(),
            &d.data,
            props,
        )
        .await?;
    tokio::time::timeout(Duration::from_secs(10), confirm)
        .await
        .map_err(|_| ConsumeError::Timeout)??;
    Ok(())
}

async fn handle(engine: &Engine, d: &Delivery) -> Result<(), Outcome> {
    let invalid = |m: &str| Outcome::Invalid(m.to_owned());
    let p = &d.properties;
    if header(p, "ce-specversion").as_deref() != Some(SPEC_VERSION) {
        return Err(invalid(
            "not a CloudEvent 1.0: ce-specversion is missing or not 1.0",
        ));
    }
    let id = header(p, "ce-id")
        .filter(|s| !s.is_empty() && s.len() <= 200)
        .ok_or_else(|| invalid("ce-id is missing"))?;
    header(p, "ce-source")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("ce-source is missing"))?;
    let ce_type = header(p, "ce-type").ok_or_else(|| invalid("ce-type is missing"))?;
    let content_type = p
        .content_type()
        .as_ref()
        .map(|c| c.as_str().to_owned())
        .or_else(|| header(p, "content-type"));
    if !content_type
        .as_deref()
        .is_some_and(|c| c.starts_with("application/json"))
    {
        return Err(invalid("content-type must be application/json"));
    }
    let user = p
        .user_id()
        .as_ref()
        .map(|u| u.as_str().to_owned())
        .ok_or_else(|| invalid("no user-id: the sender is unknown"))?;
    let org = engine
        .sender_org(&user)
        .await
        .map_err(|e| Outcome::Retry(e.to_string()))?
        .ok_or_else(|| {
            Outcome::Invalid(format!("user {user} speaks for no registered organization"))
        })?;

    let kind = ce_type.strip_prefix(TYPE_PREFIX).unwrap_or(&ce_type);
    let parse_err = |e: serde_json::Error| Outcome::Invalid(format!("{kind}: bad data: {e}"));
    let own = |provider: Uuid| {
        engine
            .speaks_for(org, OrgId(provider))
            .map_err(|e| Outcome::Invalid(format!("sender {user}: {e}")))
    };
    let (client, command) = match kind {
        "aftercare.appointment.scheduled" => {
            let m: AftercareScheduled = serde_json::from_slice(&d.data).map_err(parse_err)?;
            own(m.provider_id)?;
            (
                Some(ClientId(m.client_id)),
                Command::ScheduleAftercare {
                    provider: org,
                    kind: m.kind,
                    at: m.at,
                },
            )
        }
        "mat.refill.scheduled" => {
            let m: RefillScheduled = serde_json::from_slice(&d.data).map_err(parse_err)?;
            own(m.provider_id)?;
            (
                Some(ClientId(m.client_id)),
                Command::ScheduleMatRefill {
                    provider: org,
                    kind: m.kind,
                    on: m.on,
                },
            )
        }
        "referral.acknowledged"
        | "referral.accepted"
        | "referral.waitlisted"
        | "referral.declined" => {
            let m: ReferralAnswer = serde_json::from_slice(&d.data).map_err(parse_err)?;
            let referral = ReferralId(m.referral_id);
            if kind != "referral.declined" && (m.reason.is_some() || m.note.is_some()) {
                return Err(invalid(
                    "only referral.declined carries a reason and a note",
                ));
            }
            let command = match kind {
                "referral.acknowledged" => Command::AcknowledgeReferral { referral },
                "referral.accepted" => Command::AcceptReferral { referral },
                "referral.waitlisted" => Command::WaitlistReferral { referral },
                _ => {
                    let code = m
                        .reason
                        .ok_or_else(|| invalid("referral.declined needs a reason"))?;
                    Command::DeclineReferral {
                        referral,
                        reason: DeclineReason { code, note: m.note },
                    }
                }
            };
            // The engine finds the referral's client.
            (None, command)
        }
        // The provider of a booking: what became of it.
        "aftercare.appointment.attended"
        | "aftercare.appointment.missed"
        | "mat.dose.dispensed"
        | "mat.refill.picked_up" => {
            let m: BookingKept = serde_json::from_slice(&d.data).map_err(parse_err)?;
            let outcome = match kind {
                "aftercare.appointment.missed" => {
                    if m.supply_through.is_some() {
                        return Err(invalid("a missed appointment dispenses nothing"));
                    }
                    OutcomeReport::NoShow
                }
                _ => OutcomeReport::Attended {
                    supply_through: m.supply_through,
                },
            };
            (
                Some(ClientId(m.client_id)),
                Command::RecordBookingOutcome {
                    booking: BookingId(m.booking_id),
                    outcome,
                    relayed_by: None,
                },
            )
        }
        // The provider a client is on the way to: arrived, or did not come.
        "handoff.arrived" | "handoff.no_show" => {
            let m: ClientOnly = serde_json::from_slice(&d.data).map_err(parse_err)?;
            let command = if kind == "handoff.arrived" {
                Command::ConfirmArrival { relayed_by: None }
            } else {
                Command::ReportNoShow { relayed_by: None }
            };
            (Some(ClientId(m.client_id)), command)
        }
        other => return Err(Outcome::Invalid(format!("unsupported ce-type {other}"))),
    };
    // Whom the message acts as is policy's: the sender's organization, in the role of what
    // it carries.
    let actor = engine.inbound_actor(org, &command).ok_or_else(|| {
        Outcome::Invalid(format!("no inbound message carries {}", command.name()))
    })?;
    let request = Request {
        client,
        actor,
        expected_version: None,
        idempotency_key: Some(format!("ce:{id}")),
        command,
    };
    // A conflict means the client moved meanwhile: the engine already decided again on the
    // new state (its version-race retries); when the races never ended, the broker
    // delivers the message again later.
    match engine.execute(request).await {
        Ok(_) => Ok(()),
        Err(Error::Conflict(_)) => Err(Outcome::Retry("the client kept changing".into())),
        Err(Error::Storage(e)) => Err(Outcome::Retry(e.to_string())),
        Err(e) => Err(Outcome::Invalid(e.to_string())),
    }
}
