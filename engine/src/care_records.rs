//! The care record read whole, for another representation of it (FHIR): a client as a reader
//! may see it, with the events the state keeps no history of (statuses over time), each read
//! by another organization a disclosure as any other read.

use crate::dom::{Actor, CareEvent, ClientState, ClientView, Role, VisibleClient};
use crate::engine::Engine;
use crate::error::Error;
use crate::ids::*;
use crate::store::ClientFilter;
use uuid::Uuid;

/// The most events of one client a care record reads.
const MAX_EVENTS: u64 = 100_000;

/// A client as one reader may see it, with the events it may see.
#[derive(Clone, Debug)]
pub struct CareRecord {
    pub client: VisibleClient,
    /// The events of the client this reader sees, in order (for the histories the state does
    /// not keep): those of the parts its view shows (`domain::view::visible_events`).
    pub history: Vec<CareEvent>,
}

impl Engine {
    /// One client's care record as `actor` may read it; a read by another organization is a
    /// disclosure. Without standing: not found, as for an id that does not exist.
    pub async fn care_record(&self, actor: &Actor, id: ClientId) -> Result<CareRecord, Error> {
        let page = vec![self.read_standing(actor, id).await?];
        Ok(self.complete_page(actor, page).await?.remove(0))
    }

    /// A page of the care records `actor` may list, after `after` by client id: as
    /// `list_clients` (case managers their organization's, payers those a consent names them
    /// in, admins all), but a partner's are the clients placed with it or referred to it —
    /// whose referrals it answers — under a consent in force; each read by another
    /// organization is a disclosure.
    pub async fn care_records(
        &self,
        actor: &Actor,
        after: Option<ClientId>,
        limit: u64,
    ) -> Result<Vec<CareRecord>, Error> {
        let page = match actor.role {
            Role::Partner => {
                let filter = ClientFilter {
                    placed_or_referred: Some(actor.org),
                    ..ClientFilter::default()
                };
                self.readable_clients(actor, &filter, after, limit).await?
            }
            _ => {
                let filter = self.listing(actor, None, None, None)?;
                self.readable_clients(actor, &filter, after, limit).await?
            }
        };
        self.complete_page(actor, page).await
    }

    /// A page of the care records of the clients `holder` holds the records of (every
    /// client: `None`), as [`Engine::care_records`] lists them for `actor` — the caller has
    /// decided `actor` may read them (`policy::export_records`); each read by another
    /// organization is a disclosure.
    pub(crate) async fn care_records_held(
        &self,
        actor: &Actor,
        holder: Option<OrgId>,
        after: Option<ClientId>,
        limit: u64,
    ) -> Result<Vec<CareRecord>, Error> {
        let Some(holder) = holder else {
            return self.care_records(actor, after, limit).await;
        };
        let filter = ClientFilter {
            home_org: Some(holder),
            ..ClientFilter::default()
        };
        let page = self.readable_clients(actor, &filter, after, limit).await?;
        self.complete_page(actor, page).await
    }

    /// The client a record belongs to — a referral, consent, episode, booking, assessment or
    /// handoff, each named after the event that created it — or `None`. Says nothing of
    /// whether the reader may see it: [`Engine::care_record`] decides that.
    pub async fn record_owner(&self, id: Uuid) -> Result<Option<ClientId>, Error> {
        Ok(self
            .store()
            .events_by_ids(&[EventId(id)])
            .await?
            .first()
            .map(|e| e.client))
    }

    /// The care records of a page read by `actor`: each client as it may see it (the
    /// identities in one read for the page) with the events it may see.
    async fn complete_page(
        &self,
        actor: &Actor,
        page: Vec<(ClientState, ClientView)>,
    ) -> Result<Vec<CareRecord>, Error> {
        let clients = self.visible_page(actor, &page).await?;
        let mut out = Vec::with_capacity(page.len());
        for ((state, view), client) in page.into_iter().zip(clients) {
            let events = self.store().events(state.id, 0, MAX_EVENTS).await?;
            out.push(CareRecord {
                history: crate::dom::view::visible_events(actor, view, &state, events),
                client,
            });
        }
        Ok(out)
    }
}
