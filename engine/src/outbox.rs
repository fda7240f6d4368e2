//! The outbox as the relay sees it through the engine: each waiting event with the
//! organizations it goes to *now* (decided by [`domain::audience`] from the client as it is
//! when the event leaves, so a consent revoked after the commit stops it), and, once the
//! broker has taken every copy, the event out of the outbox and its copies to other
//! organizations into the disclosure accounting, together.

use crate::clock::{Clock, SystemClock};
use crate::dom::{self as domain, CareEvent};
use crate::engine::Engine;
use crate::error::Error;
use crate::ids::{ClientId, OrgId};
use crate::store::NewDisclosure;
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use tokio::sync::watch;

/// The lease that lets one process relay at a time.
const RELAY_LEASE: &str = "outbox";

/// An event waiting in the outbox and where it goes.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub outbox_id: i64,
    pub event: CareEvent,
    /// The organization holding the record: it always gets the event.
    pub home_org: OrgId,
    /// The other organizations it goes to, each on the consent that names it.
    pub recipients: Vec<domain::audience::Recipient>,
}

impl Engine {
    /// Up to `limit` waiting events in outbox order (per client, commit order), each with its
    /// recipients as of now, leaving out the outbox rows `skip` (published, their removal
    /// under way). Reads the clients only of events that may leave the record holder.
    pub async fn outbox_batch(&self, limit: u64, skip: &[i64]) -> Result<Vec<Outgoing>, Error> {
        let items = self.store().unpublished(limit, skip).await?;
        let leaving: Vec<ClientId> = items
            .iter()
            .filter(|i| domain::audience::may_leave(&i.event))
            .map(|i| i.event.client)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let clients = self.store().load_clients(&leaving).await?;
        let coordinating = self.coordinating_orgs(clients.values()).await?;
        let now = self.clock().now();
        Ok(items
            .into_iter()
            .map(|i| {
                let recipients = match clients.get(&i.event.client) {
                    Some(state) if domain::audience::may_leave(&i.event) => {
                        domain::audience::audience(&i.event, state, now, &coordinating)
                    }
                    _ => Vec::new(),
                };
                Outgoing {
                    outbox_id: i.outbox_id,
                    event: i.event,
                    home_org: i.home_org,
                    recipients,
                }
            })
            .collect())
    }

    /// The broker took every copy of these events: out of the outbox, and each copy that went
    /// to another organization recorded as a disclosure (once per event and recipient).
    pub async fn outbox_published(&self, done: &[Outgoing]) -> Result<(), Error> {
        let now = self.clock().now();
        let ids: Vec<i64> = done.iter().map(|o| o.outbox_id).collect();
        let disclosures: Vec<NewDisclosure> = done
            .iter()
            .flat_map(|o| {
                o.recipients.iter().map(move |r| NewDisclosure {
                    client: o.event.client,
                    event: o.event.id,
                    recipient: r.org,
                    consent: Some(r.consent),
                    legal_basis: None,
                    what: format!("event {} on the message broker", o.event.event_type()),
                    at: now,
                })
            })
            .collect();
        self.store().remove_published(&ids, &disclosures).await?;
        Ok(())
    }

    /// How many events wait in the outbox, and when the oldest was committed (on the wall
    /// clock, [`crate::clock::SystemClock`], whatever the engine's clock).
    pub async fn outbox_lag(&self) -> Result<(u64, Option<DateTime<Utc>>), Error> {
        Ok(self.store().outbox_lag().await?)
    }

    /// Take or renew the relay lease for `holder` for `ttl`: true while this holder relays.
    pub async fn hold_relay_lease(
        &self,
        holder: &str,
        ttl: chrono::Duration,
    ) -> Result<bool, Error> {
        Ok(self
            .store()
            // A lease is the processes' matter, not the care timeline: the wall clock, also
            // when the engine's clock is a skipped one (which stands still between advances).
            .acquire_lease(RELAY_LEASE, holder, ttl, SystemClock.now())
            .await?)
    }

    /// Give the relay lease up (on shutdown), so another process takes over at once.
    pub async fn release_relay_lease(&self, holder: &str) -> Result<(), Error> {
        Ok(self.store().release_lease(RELAY_LEASE, holder).await?)
    }

    /// Resolves after the next commit of this process (or, while [`Self::listen_for_commits`]
    /// runs, of any process); a commit made while nobody waited counts for the next wait.
    pub async fn next_commit(&self) {
        self.committed().notified().await
    }

    /// PostgreSQL: until `stop`, hear every process's commits (LISTEN) and wake
    /// [`Self::next_commit`] for them; reconnects with a growing pause when the connection
    /// is lost. Returns at once on SQLite, where only this process writes.
    pub async fn listen_for_commits(&self, mut stop: watch::Receiver<bool>) {
        let mut backoff = crate::Backoff::new();
        while !*stop.borrow() {
            match self.store().commit_listener().await {
                None => return,
                Some(Ok(mut listener)) => {
                    backoff.reset();
                    loop {
                        tokio::select! {
                            heard = listener.next() => match heard {
                                Ok(()) => self.signal_commit(),
                                Err(_) => break,
                            },
                            _ = stop.changed() => return,
                        }
                    }
                    tracing::warn!("LISTEN connection lost; polling meanwhile");
                }
                Some(Err(e)) => tracing::warn!(error = %e, "LISTEN failed; polling meanwhile"),
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff.step()) => {}
                _ = stop.changed() => return,
            }
        }
    }
}
