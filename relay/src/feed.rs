//! The live feed: every process reads the relay's copy of each event (`*.own.#`) from a
//! queue of its own and announces the events to its GraphQL subscribers
//! ([`Engine::announce_committed`]), so a subscriber on any replica receives every replica's
//! commits, per client in commit order, once. The queue outlives a short disconnection
//! (`x-expires`, [`QUEUE_EXPIRES`]) so a reconnecting process misses nothing; a republished
//! event (delivery is at least once) is dropped by id.

use crate::topology::{self, EVENTS_EXCHANGE, EVERY_EVENT_ONCE};
use crate::{Options, cloudevents, connect};
use carepath_engine::Backoff;
use carepath_engine::Engine;
use carepath_engine::ids::EventId;
use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use std::collections::{HashSet, VecDeque};
use std::time::Duration;
use tokio::sync::watch;

/// How long the broker keeps a process's feed queue after its consumer is gone.
pub const QUEUE_EXPIRES: Duration = Duration::from_secs(120);
/// Messages taken from the queue at once.
const CHUNK: usize = 256;
/// Event ids remembered to drop a republished copy.
const REMEMBERED: usize = 16_384;

#[derive(Debug, thiserror::Error)]
enum FeedError {
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("the feed's consumer was cancelled")]
    Cancelled,
}

/// Run the feed until `stop` turns true; reconnects by itself.
pub async fn run_feed(engine: Engine, opts: Options, mut stop: watch::Receiver<bool>) {
    let queue = format!("carepath.live.{}", opts.holder);
    let mut seen = Seen::default();
    let mut backoff = Backoff::new();
    while !*stop.borrow() {
        match connect(&opts.amqp_url, "carepath-feed").await {
            Ok(conn) => {
                match feed(&engine, &conn, &queue, &mut seen, &mut stop, &mut backoff).await {
                    Ok(()) => {
                        let _ = conn.close(200, "shutting down".into()).await;
                        return;
                    }
                    Err(e) => tracing::warn!(error = %e, "live feed lost the broker"),
                }
                let _ = tokio::time::timeout(
                    Duration::from_secs(1),
                    conn.close(200, "reconnecting".into()),
                )
                .await;
            }
            Err(e) => tracing::warn!(error = %e, "broker unreachable for the live feed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff.step()) => {}
            _ = stop.changed() => {}
        }
    }
}

async fn feed(
    engine: &Engine,
    conn: &lapin::Connection,
    queue: &str,
    seen: &mut Seen,
    stop: &mut watch::Receiver<bool>,
    backoff: &mut Backoff,
) -> Result<(), FeedError> {
    let ch = conn.create_channel().await?;
    topology::declare_events(&ch).await?;
    let mut args = FieldTable::default();
    args.insert(
        "x-expires".into(),
        AMQPValue::LongLongInt(QUEUE_EXPIRES.as_millis() as i64),
    );
    ch.queue_declare(queue.into(), QueueDeclareOptions::default(), args)
        .await?;
    ch.queue_bind(
        queue.into(),
        EVENTS_EXCHANGE.into(),
        EVERY_EVENT_ONCE.into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    ch.basic_qos(CHUNK as u16 * 2, BasicQosOptions::default())
        .await?;
    let consumer = ch
        .basic_consume(
            queue.into(),
            "carepath-feed".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut chunks = consumer.ready_chunks(CHUNK);
    backoff.reset();
    loop {
        let chunk = tokio::select! {
            c = chunks.next() => c,
            _ = stop.changed() => {
                crate::close_channels(&[&ch]).await;
                return Ok(());
            }
        };
        let Some(chunk) = chunk else {
            return Err(FeedError::Cancelled);
        };
        let mut deliveries = Vec::with_capacity(chunk.len());
        for d in chunk {
            deliveries.push(d?);
        }
        let Some(last) = deliveries.last() else {
            continue;
        };
        let last_tag = last.delivery_tag;
        let ids: Vec<EventId> = deliveries
            .iter()
            .filter_map(|d| cloudevents::header(&d.properties, "ce-id"))
            .filter_map(|id| id.parse::<uuid::Uuid>().ok().map(EventId))
            .filter(|id| seen.first_time(*id))
            .collect();
        match engine.announce_committed(&ids).await {
            Ok(_) => {
                ch.basic_ack(last_tag, BasicAckOptions { multiple: true })
                    .await?;
            }
            Err(e) => {
                tracing::warn!(error = %e, "live events not announced; taken again shortly");
                for id in &ids {
                    seen.forget(*id);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                ch.basic_nack(
                    last_tag,
                    BasicNackOptions {
                        multiple: true,
                        requeue: true,
                    },
                )
                .await?;
            }
        }
    }
}

/// The ids of the events announced last, to drop a copy the relay published again.
#[derive(Default)]
struct Seen {
    order: VecDeque<EventId>,
    set: HashSet<EventId>,
}

impl Seen {
    fn first_time(&mut self, id: EventId) -> bool {
        if !self.set.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > REMEMBERED
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        true
    }

    fn forget(&mut self, id: EventId) {
        if self.set.remove(&id) {
            self.order.retain(|x| *x != id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_republished_event_is_dropped_and_memory_is_bounded() {
        let mut seen = Seen::default();
        let id = |n: u128| EventId(uuid::Uuid::from_u128(n));
        assert!(seen.first_time(id(1)));
        assert!(!seen.first_time(id(1)));
        for n in 2..(REMEMBERED as u128 + 10) {
            assert!(seen.first_time(id(n)));
        }
        assert_eq!(seen.set.len(), REMEMBERED);
        assert!(seen.first_time(id(1)), "long forgotten");
        seen.forget(id(1));
        assert!(seen.first_time(id(1)));
    }
}
