//! The outbox relay: unpublished events, in order, published with publisher confirms and the
//! mandatory flag, many in flight at once; a row leaves the outbox only on an ack with no
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
use std::collections::{HashMap, HashSet, VecDeque};
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
    loop {
        if *stop.borrow() {
            break;
        }
        match connect(&opts.amqp_url, "carepath-relay").await {
            Ok(conn) => {
                status.connected.store(true, Ordering::Relaxed);
                tracing::info!("relay connected to the broker");
                match relay_on(&engine, &conn, &opts, &status, &mut stop, &mut backoff).await {
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
) -> Result<(), RoundError> {
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
            tokio::select! {
                // Linger a moment after a commit so its neighbours ride in the same round.
                _ = engine.next_commit() => tokio::time::sleep(LINGER).await,
                _ = tokio::time::sleep(if leader { opts.poll } else { Duration::from_secs(2) }) => {}
                _ = stop.changed() => {}
            }
        }
        if *stop.borrow() {
            crate::close_channels(&[&ch]).await;
            return Ok(());
        }
        leader = lease.hold(engine, &opts.holder).await?;
        status.leader.store(leader, Ordering::Relaxed);
        let batch = if leader {
            engine.outbox_batch(opts.batch).await?
        } else {
            Vec::new()
        };
        if batch.is_empty() {
            drained = true;
            continue;
        }
        backoff.reset();
        let started = Instant::now();
        let mut round = Round::default();
        // Whatever happens to the round, the events the broker took leave the outbox: an
        // acked message is never published again because another failed.
        let published = round.publish(&ch, &batch, opts).await;
        engine
            .outbox_published(&round.done)
            .await
            .map_err(RoundError::Engine)?;
        published?;
        status
            .published
            .fetch_add(round.done.len() as u64, Ordering::Relaxed);
        metrics::counter!("carepath_events_published_total").increment(round.done.len() as u64);
        metrics::histogram!("carepath_relay_round_seconds").record(started.elapsed().as_secs_f64());
        // A short batch emptied the outbox as it was read; a full one may have left more.
        drained = round.failed.is_empty() && (batch.len() as u64) < opts.batch;
        if !round.failed.is_empty() {
            complaints.add(round.unroutable, round.refused);
            tokio::select! {
                _ = tokio::time::sleep(backoff.step()) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

/// One round: the batch published in waves. A wave holds each client's next event (every copy
/// of it), all in flight at once; a client's next event goes out only once the broker took
/// every copy of the one before. A client whose event the broker refused or returned stops
/// there for this round — its later events stay in the outbox and go after it — while every
/// other client goes on: per-client order holds on every queue, and nothing the broker took
/// is sent again for another event's fate.
#[derive(Default)]
struct Round<'a> {
    done: Vec<&'a Outgoing>,
    failed: HashSet<ClientId>,
    unroutable: u64,
    refused: u64,
}

impl<'a> Round<'a> {
    async fn publish(
        &mut self,
        ch: &lapin::Channel,
        batch: &'a [Outgoing],
        opts: &Options,
    ) -> Result<(), RoundError> {
        let mut lanes: Vec<VecDeque<&'a Outgoing>> = Vec::new();
        let mut lane_of: HashMap<ClientId, usize> = HashMap::new();
        for item in batch {
            let lane = *lane_of.entry(item.event.client).or_insert_with(|| {
                lanes.push(VecDeque::new());
                lanes.len() - 1
            });
            lanes[lane].push_back(item);
        }
        loop {
            let wave: Vec<&'a Outgoing> = lanes.iter_mut().filter_map(|l| l.pop_front()).collect();
            if wave.is_empty() {
                return Ok(());
            }
            let mut pending = Vec::with_capacity(wave.len() * 2);
            for (i, item) in wave.iter().enumerate() {
                let copies = std::iter::once((item.home_org, Copy::Own))
                    .chain(item.recipients.iter().map(|r| (r.org, Copy::To)));
                for (org, copy) in copies {
                    let (key, props, body) =
                        cloudevents::encode(&item.event, &opts.source, org, copy);
                    let publish = ch.basic_publish(
                        EVENTS_EXCHANGE.into(),
                        key.into(),
                        BasicPublishOptions {
                            mandatory: true,
                            ..BasicPublishOptions::default()
                        },
                        &body,
                        props,
                    );
                    let confirm = tokio::time::timeout(opts.publish_timeout, publish)
                        .await
                        .map_err(|_| RoundError::Timeout(opts.publish_timeout))??;
                    pending.push((i, confirm));
                }
            }
            let mut ok = vec![true; wave.len()];
            for (i, confirm) in pending {
                let confirmation = tokio::time::timeout(opts.publish_timeout, confirm)
                    .await
                    .map_err(|_| RoundError::Timeout(opts.publish_timeout))??;
                match confirmation {
                    Confirmation::Ack(None) => {}
                    // With the alternate exchange in place nothing is unroutable; a message
                    // comes back only when that exchange's queue is gone.
                    Confirmation::Ack(Some(_)) => {
                        self.unroutable += 1;
                        ok[i] = false;
                    }
                    Confirmation::Nack(_) | Confirmation::NotRequested => {
                        self.refused += 1;
                        ok[i] = false;
                    }
                }
            }
            for (item, ok) in wave.into_iter().zip(ok) {
                if ok {
                    self.done.push(item);
                } else {
                    let client = item.event.client;
                    self.failed.insert(client);
                    lanes[lane_of[&client]].clear();
                }
            }
        }
    }
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

/// Backlog and the oldest waiting event's age, once a second, for `/metrics` and `/readyz`.
async fn report_lag(engine: Engine, status: Arc<Status>, stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        match engine.outbox_lag().await {
            Ok((n, oldest)) => {
                let age = oldest
                    .map(|t| (SystemClock.now() - t).num_milliseconds().max(1) as u64)
                    .unwrap_or(0);
                status.backlog.store(n, Ordering::Relaxed);
                status.oldest_age_ms.store(age, Ordering::Relaxed);
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
