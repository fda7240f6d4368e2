//! The broker topology, declared at start and after every reconnect (idempotent):
//! - `carepath.events`: durable topic exchange, routing key
//!   `<organization>.<own|to>.<aggregate>.<event>.<level>` (one copy of an event per
//!   organization it goes to), with `carepath.unrouted` as its alternate exchange;
//! - `carepath.unrouted` fanout exchange → quorum queue `carepath.unrouted`: every copy no
//!   consumer's binding matched is kept there, neither dropped nor returned to the relay;
//! - `carepath.inbound` exchange → quorum queue `carepath.inbound` (delivery limit, dead
//!   letters to `carepath.dead`);
//! - `carepath.dead` fanout exchange → queue `carepath.dead`.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};

pub const EVENTS_EXCHANGE: &str = "carepath.events";
/// The binding that receives every event exactly once: the record holder's copy. Copies to
/// other organizations (`<org>.to.…`) repeat events already in it.
pub const EVERY_EVENT_ONCE: &str = "*.own.#";
pub const UNROUTED_EXCHANGE: &str = "carepath.unrouted";
pub const UNROUTED_QUEUE: &str = "carepath.unrouted";
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

fn quorum() -> FieldTable {
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    args
}

const DURABLE_QUEUE: QueueDeclareOptions = QueueDeclareOptions {
    passive: false,
    durable: true,
    exclusive: false,
    auto_delete: false,
    nowait: false,
};

/// The events exchange and its alternate exchange and queue: what the relay publishes to, and
/// what a consumer of events with the right to configure them declares before binding.
pub async fn declare_events(ch: &Channel) -> lapin::Result<()> {
    ch.exchange_declare(
        UNROUTED_EXCHANGE.into(),
        ExchangeKind::Fanout,
        durable(),
        FieldTable::default(),
    )
    .await?;
    ch.queue_declare(UNROUTED_QUEUE.into(), DURABLE_QUEUE, quorum())
        .await?;
    ch.queue_bind(
        UNROUTED_QUEUE.into(),
        UNROUTED_EXCHANGE.into(),
        "".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    let mut args = FieldTable::default();
    args.insert(
        "alternate-exchange".into(),
        AMQPValue::LongString(UNROUTED_EXCHANGE.into()),
    );
    ch.exchange_declare(EVENTS_EXCHANGE.into(), ExchangeKind::Topic, durable(), args)
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
    ch.queue_declare(DEAD_QUEUE.into(), DURABLE_QUEUE, FieldTable::default())
        .await?;
    ch.queue_bind(
        DEAD_QUEUE.into(),
        DEAD_EXCHANGE.into(),
        "".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    let mut args = quorum();
    args.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongLongInt(DELIVERY_LIMIT),
    );
    args.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(DEAD_EXCHANGE.into()),
    );
    ch.queue_declare(INBOUND_QUEUE.into(), DURABLE_QUEUE, args)
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
