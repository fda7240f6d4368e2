//! The broker topology, declared at start and after every reconnect (idempotent):
//! - `carepath.events`: durable topic exchange, routing key `<aggregate>.<event>.<level>`;
//! - `carepath.inbound` exchange → quorum queue `carepath.inbound` (delivery limit, dead
//!   letters to `carepath.dead`);
//! - `carepath.dead` fanout exchange → queue `carepath.dead`.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};

pub const EVENTS_EXCHANGE: &str = "carepath.events";
pub const INBOUND_EXCHANGE: &str = "carepath.inbound";
pub const INBOUND_QUEUE: &str = "carepath.inbound";
pub const DEAD_EXCHANGE: &str = "carepath.dead";
pub const DEAD_QUEUE: &str = "carepath.dead";
/// Deliveries of one inbound message before the broker dead-letters it.
pub const DELIVERY_LIMIT: i64 = 5;

fn durable() -> ExchangeDeclareOptions {
    ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    }
}

/// The events exchange alone: what a consumer of events declares before binding its queue.
pub async fn declare_events(ch: &Channel) -> lapin::Result<()> {
    ch.exchange_declare(
        EVENTS_EXCHANGE.into(),
        ExchangeKind::Topic,
        durable(),
        FieldTable::default(),
    )
    .await
}

pub async fn declare(ch: &Channel) -> lapin::Result<()> {
    declare_events(ch).await?;
    ch.exchange_declare(
        DEAD_EXCHANGE.into(),
        ExchangeKind::Fanout,
        durable(),
        FieldTable::default(),
    )
    .await?;
    ch.exchange_declare(
        INBOUND_EXCHANGE.into(),
        ExchangeKind::Topic,
        durable(),
        FieldTable::default(),
    )
    .await?;
    let durable_queue = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    ch.queue_declare(DEAD_QUEUE.into(), durable_queue, FieldTable::default())
        .await?;
    ch.queue_bind(
        DEAD_QUEUE.into(),
        DEAD_EXCHANGE.into(),
        "".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    args.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongLongInt(DELIVERY_LIMIT),
    );
    args.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(DEAD_EXCHANGE.into()),
    );
    ch.queue_declare(INBOUND_QUEUE.into(), durable_queue, args)
        .await?;
    ch.queue_bind(
        INBOUND_QUEUE.into(),
        INBOUND_EXCHANGE.into(),
        "#".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    Ok(())
}
