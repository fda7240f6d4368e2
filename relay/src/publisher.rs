//! The outbox relay: unpublished events, in order, published with publisher confirms and the
//! mandatory flag, a whole round in flight at once; a row leaves the outbox only on an ack with no
//! returned message. Broker down: back off and retry while events wait in the outbox.

use crate::cloudevents::Copy;
use crate::topology::{self, EVENTS_EXCHANGE};
use crate::{Options, Status, cloudevents, connect};
use carepath_engine::Backoff;
use carepath_engine::clock::{Clock as _, SystemClock};
use carepath_engine::ids::ClientId;
use carepath_engine::{Engine, Outgoing};
use lapin::Confirmation;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// After a commit signal, wait this long before reading the outbox, to publish in rounds.
const LINGER: Duration = Duration::from_millis(5);
const LEASE_TTL: Duration = Duration::from_secs(15);

/// The relay lease as this process holds it. It is written to the database only when a
/// third of its time has passed since the last renewal (or when not held), not on every
/// round: a round costs the outbox read and the delete, nothing more.
#[derive(Default)]
struct Lease {
    /// When the last renewal that succeeded was asked for (the lease lasts `LEASE_TTL`
    /// from a moment no earlier than this).
    renewed: Option<Instant>,
}

impl Lease {
    async fn hold(&mut self, engine: &Engine, holder: &str) -> Result<bool, RoundError> {
        if self.renewed.is_some_and(|at| at.elapsed() < LEASE_TTL / 3) {
            return Ok(true);
        }
        let asked = Instant::now();
        let ttl = chrono::Duration::from_std(LEASE_TTL).expect("lease TTL fits");
        let held = engine.hold_relay_lease(holder, ttl).await?;
        self.renewed = held.then_some(asked);
        Ok(held)
    }
}

#[derive(Debug, thiserror::Error)]
enum RoundError {
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("broker did not answer within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Engine(#[from] carepath_engine::Error),
    #[error("recording published events: {0}")]
    Recording(String),
}

/// Run the relay until `stop` turns true.
pub async fn run_relay(
    engine: Engine,
    opts: Options,
    status: Arc<Status>,
    mut stop: watch::Receiver<bool>,
) {
    {
        let (engine, stop) = (engine.clone(), stop.clone());
        tokio::spawn(async move { engine.listen_for_commits(stop).await });
    }
    let lag = tokio::spawn(report_lag(engine.clone(), status.clone(), stop.clone()));
    let mut backoff = Backoff::new();
    // The last round's published events being taken out of the outbox while the next round
    // reads and publishes: at most one at a time, and the next read skips its events.
    let mut recording = Recording::default();
    loop {
        if *stop.borrow() {
            break;
        }
        match connect(&opts.amqp_url, "carepath-relay").await {
            Ok(conn) => {
                status.connected.store(true, Ordering::Relaxed);
                tracing::info!("relay connected to the broker");
                match relay_on(
                    &engine,
                    &conn,
                    &opts,
                    &status,
                    &mut stop,
                    &mut backoff,
                    &mut recording,
                )
                .await
                {
                    Ok(()) => {
                        let _ = conn.close(200, "shutting down".into()).await;
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "relay lost the broker; events wait in the outbox")
                    }
                }
                status.connected.store(false, Ordering::Relaxed);
                let _ = tokio::time::timeout(
                    Duration::from_secs(1),
                    conn.close(200, "reconnecting".into()),
                )
                .await;
            }
            Err(e) => {
                status.connected.store(false, Ordering::Relaxed);
                tracing::warn!(error = %e, "broker unreachable; events wait in the outbox");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff.step()) => {}
            _ = stop.changed() => {}
        }
    }
    status.connected.store(false, Ordering::Relaxed);
    let _ = recording.finish().await;
    let _ = engine.release_relay_lease(&opts.holder).await;
    lag.abort();
}

async fn relay_on(
    engine: &Engine,
    conn: &lapin::Connection,
    opts: &Options,
    status: &Status,
    stop: &mut watch::Receiver<bool>,
    backoff: &mut Backoff,
    recording: &mut Recording,
) -> Result<(), RoundError> {
    // A recording left by a lost connection ends before anything is read again.
    if let Err(e) = recording.finish().await {
        tracing::warn!(error = %e, "published events not recorded; they go again");
    }
    let ch = conn.create_channel().await?;
    topology::declare(&ch).await?;
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    let mut lease = Lease::default();
    let mut complaints = Complaints::new();
    // True once a read found nothing more to publish: then the next read waits for a commit
    // signal (a commit during the round left one) or the polling interval.
    let mut drained = false;
    let mut leader = false;
    loop {
        if drained {
            recording.finish().await?;
            tokio::select! {
                // Linger a moment after a commit so its neighbours ride in the same round.
                _ = engine.next_commit() => tokio::time::sleep(LINGER).await,
                _ = tokio::time::sleep(if leader { opts.poll } else { Duration::from_secs(2) }) => {}
                _ = stop.changed() => {}
            }
        }
        if *stop.borrow() {
            recording.finish().await?;
            crate::close_channels(&[&ch]).await;
            return Ok(());
        }
        leader = lease.hold(engine, &opts.holder).await?;
        status.leader.store(leader, Ordering::Relaxed);
        let started = Instant::now();
        let batch = if leader {
            engine.outbox_batch(opts.batch, &recording.ids).await?
        } else {
            Vec::new()
        };
        if batch.is_empty() {
            drained = true;
            continue;
        }
        backoff.reset();
        let read = Instant::now();
        metrics::histogram!("carepath_relay_stage_seconds", "stage" => "read")
            .record((read - started).as_secs_f64());
        metrics::histogram!("carepath_relay_batch_events").record(batch.len() as f64);
        let mut round = Round::default();
        let published = round.publish(&ch, &batch, opts).await;
        metrics::histogram!("carepath_relay_stage_seconds", "stage" => "publish")
            .record(read.elapsed().as_secs_f64());
        // Whatever happens to the round, the events the broker took leave the outbox (each
        // client's up to its first one not known taken): after the last round's, while the
        // next round goes on — or before this one reports its failure.
        recording.finish().await?;
        let read = batch.len() as u64;
        let done = round.taken(batch);
        status
            .published
            .fetch_add(done.len() as u64, Ordering::Relaxed);
        metrics::counter!("carepath_events_published_total").increment(done.len() as u64);
        recording.start(engine, done);
        if published.is_err() {
            recording.finish().await?;
        }
        published?;
        metrics::histogram!("carepath_relay_round_seconds").record(started.elapsed().as_secs_f64());
        // A short batch emptied the outbox as it was read; a full one may have left more.
        drained = round.failed.is_empty() && read < opts.batch;
        if drained {
            // Caught up: commands need not wait for the next lag reading.
            engine.observe_event_lag(Duration::ZERO, true);
        }
        if !round.failed.is_empty() {
            complaints.add(round.unroutable, round.refused);
            tokio::select! {
                _ = tokio::time::sleep(backoff.step()) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

/// Published events on their way out of the outbox ([`Engine::outbox_published`]): the
/// delete and the disclosures of one round, written while the next round is read and
/// published.
#[derive(Default)]
struct Recording {
    task: Option<tokio::task::JoinHandle<Result<(), carepath_engine::Error>>>,
    /// The outbox rows it takes out: the next read skips them.
    ids: Vec<i64>,
}

impl Recording {
    fn start(&mut self, engine: &Engine, done: Vec<Outgoing>) {
        debug_assert!(self.task.is_none());
        if done.is_empty() {
            return;
        }
        self.ids = done.iter().map(|o| o.outbox_id).collect();
        let engine = engine.clone();
        self.task = Some(tokio::spawn(async move {
            let started = Instant::now();
            let recorded = engine.outbox_published(&done).await;
            metrics::histogram!("carepath_relay_stage_seconds", "stage" => "record")
                .record(started.elapsed().as_secs_f64());
            recorded
        }));
    }

    /// Wait for the one under way, if any. On failure its events stay in the outbox and go
    /// again (at least once).
    async fn finish(&mut self) -> Result<(), RoundError> {
        let Some(task) = self.task.take() else {
            return Ok(());
        };
        let result = task.await;
        self.ids.clear();
        match result {
            Ok(r) => r.map_err(RoundError::Engine),
            Err(e) => Err(RoundError::Recording(e.to_string())),
        }
    }
}

/// One round: every copy of every event of the batch published at once, in outbox order (per
/// client, commit order), on one channel, then every confirm awaited. A channel keeps what it
/// publishes in order on every queue, so a client's events reach each queue in order without
/// waiting for one event's confirms before sending the next.
///
/// A client's events leave the outbox up to the first one the broker refused or returned: that
/// one and the client's later events stay and go again, in order, after a pause, while every
/// other client's go out. The broker may have taken some of those later events already; they
/// come again after it (delivery is at least once: consumers drop a `ce-id` they have seen), so
/// a queue that took the refused event sees the client's events first in order. Only a queue
/// that itself refused an event and took the next (one at its length limit that rejects
/// publishes) can see the next first; `ce-sequence` tells.
#[derive(Default)]
struct Round {
    /// Per event of the batch: the broker took every copy, and took every earlier event of
    /// the client; these leave the outbox.
    done: Vec<bool>,
    /// Clients with an event the broker refused or returned.
    failed: HashSet<ClientId>,
    unroutable: u64,
    refused: u64,
}

impl Round {
    async fn publish(
        &mut self,
        ch: &lapin::Channel,
        batch: &[Outgoing],
        opts: &Options,
    ) -> Result<(), RoundError> {
        // Every copy encoded first: a publish borrows its body until the broker has it.
        let copies: Vec<(usize, String, lapin::BasicProperties, Vec<u8>)> = batch
            .iter()
            .enumerate()
            .flat_map(|(i, item)| {
                std::iter::once((item.home_org, Copy::Own))
                    .chain(item.recipients.iter().map(|r| (r.org, Copy::To)))
                    .map(move |(org, copy)| {
                        let (key, props, body) =
                            cloudevents::encode(&item.event, &opts.source, org, copy);
                        (i, key, props, body)
                    })
            })
            .collect();
        // A publish hands its frames to the connection when first polled, and then waits for
        // them to be written. Each is polled once here, in order — so they go out in order —
        // and the writes are awaited after: one wait for the round, not one per copy.
        let mut sending = Vec::with_capacity(copies.len());
        for (i, key, props, body) in &copies {
            let mut publish = Box::pin(ch.basic_publish(
                EVENTS_EXCHANGE.into(),
                key.as_str().into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                body,
                props.clone(),
            ));
            let first = futures::poll!(publish.as_mut());
            sending.push((*i, first, publish));
        }
        let mut pending = Vec::with_capacity(sending.len());
        let mut outcome = Ok(());
        for (i, first, publish) in sending {
            let sent = match first {
                std::task::Poll::Ready(r) => r.map_err(RoundError::Broker),
                std::task::Poll::Pending => answered(opts.publish_timeout, publish).await,
            };
            match sent {
                Ok(confirm) => pending.push((i, confirm)),
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        // Per event: how many of its copies the broker took; a refused or returned copy marks
        // it failed. After an error (the broker lost, an answer late) what is left stays
        // unknown, and only events whose every copy was taken leave the outbox.
        let mut taken = vec![0usize; batch.len()];
        let mut refused = vec![false; batch.len()];
        for (i, confirm) in pending {
            let confirmation = match answered(opts.publish_timeout, confirm).await {
                Ok(c) => c,
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            };
            match confirmation {
                Confirmation::Ack(None) => taken[i] += 1,
                // With the alternate exchange in place nothing is unroutable; a message comes
                // back only when that exchange's queue is gone.
                Confirmation::Ack(Some(_)) => {
                    self.unroutable += 1;
                    refused[i] = true;
                }
                Confirmation::Nack(_) | Confirmation::NotRequested => {
                    self.refused += 1;
                    refused[i] = true;
                }
            }
        }
        // Refused or not known taken: the client stops there for this round.
        let mut stopped = HashSet::new();
        self.done = batch
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let client = item.event.client;
                if refused[i] {
                    self.failed.insert(client);
                }
                if refused[i] || taken[i] < 1 + item.recipients.len() {
                    stopped.insert(client);
                }
                !stopped.contains(&client)
            })
            .collect();
        outcome
    }

    /// The batch's events whose copies the broker took.
    fn taken(&mut self, batch: Vec<Outgoing>) -> Vec<Outgoing> {
        batch
            .into_iter()
            .zip(std::mem::take(&mut self.done))
            .filter_map(|(o, done)| done.then_some(o))
            .collect()
    }
}

/// The broker's answer to a publish or a confirm, or [`RoundError::Timeout`] after `limit`.
async fn answered<T>(
    limit: Duration,
    answer: impl std::future::Future<Output = lapin::Result<T>>,
) -> Result<T, RoundError> {
    tokio::time::timeout(limit, answer)
        .await
        .map_err(|_| RoundError::Timeout(limit))?
        .map_err(RoundError::Broker)
}

/// Messages the broker returned or refused, told in one line at most every
/// [`COMPLAINT_EVERY`], with the counts since the last line: no event's content or id.
struct Complaints {
    unroutable: u64,
    refused: u64,
    last: Option<Instant>,
}

const COMPLAINT_EVERY: Duration = Duration::from_secs(30);

impl Complaints {
    fn new() -> Self {
        Self {
            unroutable: 0,
            refused: 0,
            last: None,
        }
    }

    fn add(&mut self, unroutable: u64, refused: u64) {
        self.unroutable += unroutable;
        self.refused += refused;
        metrics::counter!("carepath_relay_unroutable_total").increment(unroutable);
        metrics::counter!("carepath_relay_refused_total").increment(refused);
        if self.last.is_some_and(|at| at.elapsed() < COMPLAINT_EVERY) {
            return;
        }
        tracing::warn!(
            returned = self.unroutable,
            refused = self.refused,
            "the broker returned or refused messages; their events stay in the outbox and go again \
             (returned: is the queue carepath.unrouted gone?)"
        );
        self.unroutable = 0;
        self.refused = 0;
        self.last = Some(Instant::now());
    }
}

/// Backlog and the oldest waiting event's age, once a second, for `/metrics`, `/readyz`, and
/// the engine's pacing of commands ([`Engine::observe_event_lag`]).
async fn report_lag(engine: Engine, status: Arc<Status>, stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        match engine.outbox_lag().await {
            Ok((n, oldest)) => {
                let age = oldest
                    .map(|t| (SystemClock.now() - t).num_milliseconds().max(1) as u64)
                    .unwrap_or(0);
                status.backlog.store(n, Ordering::Relaxed);
                status.oldest_age_ms.store(age, Ordering::Relaxed);
                engine.observe_event_lag(
                    Duration::from_millis(age),
                    status.connected.load(Ordering::Relaxed),
                );
                metrics::gauge!("carepath_outbox_backlog").set(n as f64);
                metrics::gauge!("carepath_outbox_oldest_age_seconds").set(age as f64 / 1000.0);
                metrics::gauge!("carepath_relay_connected").set(
                    if status.connected.load(Ordering::Relaxed) {
                        1.0
                    } else {
                        0.0
                    },
                );
            }
            Err(e) => tracing::warn!(error = %e, "outbox lag unknown"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
