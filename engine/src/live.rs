//! Live care events for subscribers, the same on every replica: a process learns of committed
//! events from one feed that sees every process's commits, in per-client commit order — the
//! relay's copy of each event on the broker (`carepath_relay::run_feed`) — and hands their ids
//! to [`Engine::announce_committed`]. Each event goes out with the organizations it goes to as
//! of then ([`domain::audience`]); [`Engine::subscribe`] lets through only what the subscriber
//! may see and records each event it delivers to another organization as a disclosure.

use crate::dom::{self as domain, Actor, CareEvent};
use crate::engine::Engine;
use crate::error::Error;
use crate::ids::{ClientId, EventId, OrgId};
use crate::store::NewDisclosure;
use futures_core::Stream;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

/// A committed event as live subscribers receive it, with what deciding who may see it needs.
#[derive(Clone, Debug)]
pub struct Published {
    pub event: CareEvent,
    pub home_org: OrgId,
    /// The organizations besides the record holder the event goes to, each with its consent.
    pub audience: Vec<domain::audience::Recipient>,
}

impl Engine {
    /// Committed events, by id, in the order to announce them (per client, commit order): each
    /// goes to this process's subscribers. Ids of events that do not exist are skipped; nothing
    /// is read when nobody subscribes.
    pub async fn announce_committed(&self, ids: &[EventId]) -> Result<usize, Error> {
        if ids.is_empty() || self.live().receiver_count() == 0 {
            return Ok(0);
        }
        let mut events: HashMap<EventId, CareEvent> = self
            .store()
            .events_by_ids(ids)
            .await?
            .into_iter()
            .map(|e| (e.id, e))
            .collect();
        let clients: Vec<ClientId> = events
            .values()
            .map(|e| e.client)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let states = self.store().load_clients(&clients).await?;
        let coordinating = self.coordinating_orgs(states.values()).await?;
        let now = self.clock().now();
        let mut sent = 0;
        for id in ids {
            let Some(event) = events.remove(id) else {
                continue;
            };
            let Some(state) = states.get(&event.client) else {
                continue;
            };
            let audience = domain::audience::audience(&event, state, now, &coordinating);
            let _ = self.live().send(Arc::new(Published {
                event,
                home_org: state.home_org,
                audience,
            }));
            sent += 1;
        }
        Ok(sent)
    }

    /// The care events `actor` may see, live, as they are announced. A subscriber that falls
    /// more than the buffer behind skips what it missed (the log and the broker are the
    /// durable record). An event delivered to an organization other than the record holder
    /// is recorded as a disclosure (once per event and organization).
    pub fn subscribe(&self, actor: Actor) -> impl Stream<Item = CareEvent> + Send + use<> {
        let rx = self.live().subscribe();
        let engine = self.clone();
        futures_util::stream::unfold((rx, engine), move |(mut rx, engine)| async move {
            loop {
                match rx.recv().await {
                    Ok(p) => {
                        let ids: Vec<OrgId> = p.audience.iter().map(|r| r.org).collect();
                        if !domain::may_see_event(&actor, &p.event, p.home_org, &ids) {
                            continue;
                        }
                        if let Some(r) = p.audience.iter().find(|r| r.org == actor.org)
                            && let Err(e) = engine.record_live_disclosure(&p.event, r).await
                        {
                            // Not recorded, not sent.
                            tracing::warn!(error = %e, "a live event was held back: its disclosure could not be recorded");
                            continue;
                        }
                        return Some((p.event.clone(), (rx, engine)));
                    }
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(skipped = n, "a subscriber fell behind");
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        })
    }

    async fn record_live_disclosure(
        &self,
        event: &CareEvent,
        to: &domain::audience::Recipient,
    ) -> Result<(), Error> {
        let d = NewDisclosure {
            client: event.client,
            event: event.id,
            recipient: to.org,
            consent: Some(to.consent),
            legal_basis: None,
            what: format!("event {} to a live subscriber", event.event_type()),
            at: self.clock().now(),
        };
        self.store().record_disclosures(&[d]).await?;
        Ok(())
    }
}
