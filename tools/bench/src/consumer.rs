//! Counts what reaches RabbitMQ: every event (the record holder's copy), its ce-id, its
//! per-client sequence, and the time from commit (`ce-time`) to arrival here; and the copies
//! to other organizations, bound too so that none is left in `carepath.unrouted`.

use futures::StreamExt;
use hdrhistogram::Histogram;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct Seen {
    pub messages: u64,
    /// Copies of events to organizations other than the record holder (`<org>.to.…`).
    pub copies_to_others: u64,
    pub ids: HashSet<String>,
    pub duplicates: u64,
    /// Per client: the sequence numbers in arrival order.
    pub sequences: HashMap<String, Vec<u64>>,
    pub latency_us: Option<Histogram<u64>>,
}

impl Seen {
    fn histogram() -> Histogram<u64> {
        Histogram::new_with_bounds(1, 600_000_000, 3).expect("histogram bounds")
    }

    /// The commit→consumer latencies so far; what arrives next counts anew.
    pub fn take_latencies(&mut self) -> Option<Histogram<u64>> {
        self.latency_us.replace(Self::histogram())
    }
}

/// A queue of this run's own (gone with its connection) bound to everything on `exchange`.
pub async fn private_queue(ch: &lapin::Channel, exchange: &str) -> anyhow::Result<String> {
    let queue = format!("carepath.bench.{}", uuid::Uuid::new_v4().simple());
    ch.queue_declare(
        queue.as_str().into(),
        QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await?;
    ch.queue_bind(
        queue.as_str().into(),
        exchange.into(),
        "#".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    Ok(queue)
}

/// Bind a private queue to every copy of every event and count into `seen` until the
/// connection ends.
pub async fn start(
    amqp_url: &str,
    seen: Arc<Mutex<Seen>>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let conn = Connection::connect(amqp_url, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    carepath_relay::topology::declare_events(&ch).await?;
    let queue = private_queue(&ch, carepath_relay::topology::EVENTS_EXCHANGE).await?;
    ch.basic_qos(1000, Default::default()).await?;
    let mut consumer = ch
        .basic_consume(
            queue.as_str().into(),
            "bench".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    seen.lock().expect("seen").latency_us = Some(Seen::histogram());
    Ok(tokio::spawn(async move {
        let _conn = conn;
        while let Some(Ok(d)) = consumer.next().await {
            let now = chrono::Utc::now();
            if d.routing_key.as_str().split('.').nth(1) == Some("to") {
                seen.lock().expect("seen").copies_to_others += 1;
                let _ = d.ack(BasicAckOptions::default()).await;
                continue;
            }
            let h = |n: &str| carepath_relay::cloudevents::header(&d.properties, n);
            {
                let mut s = seen.lock().expect("seen");
                s.messages += 1;
                if let Some(id) = h("ce-id")
                    && !s.ids.insert(id)
                {
                    s.duplicates += 1;
                }
                if let (Some(subject), Some(seq)) = (
                    h("ce-subject"),
                    h("ce-sequence").and_then(|x| x.parse().ok()),
                ) {
                    s.sequences.entry(subject).or_default().push(seq);
                }
                if let Some(t) =
                    h("ce-time").and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                {
                    let us = (now - t.with_timezone(&chrono::Utc))
                        .num_microseconds()
                        .unwrap_or(0)
                        .max(1) as u64;
                    if let Some(hist) = s.latency_us.as_mut() {
                        let _ = hist.record(us);
                    }
                }
            }
            let _ = d.ack(BasicAckOptions::default()).await;
        }
    }))
}
