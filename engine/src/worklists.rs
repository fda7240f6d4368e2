//! The worklists of those who book and receive. A coordination worklist — for aftercare
//! coordinators, and for the case managers holding the records — lists the clients whose
//! planned handoff still needs a booking, whose follow-up check is due with no visit kept, who
//! missed a booking with nothing booked since, or who are lost to care
//! (`policy::read_coordination`, `policy::coordination_access`). A receiving provider's
//! arrivals list the clients on their way to it (`policy::read_arrivals`,
//! `policy::arrival_access`). Each client read by another organization is a disclosure.

use crate::dom::policy::{self, CoordinationScope};
use crate::dom::{
    Actor, ClientState, ClientView, DecisionError, GateReport, TimerKind, VisibleClient, gates,
};
use crate::engine::Engine;
use crate::error::Error;
use crate::ids::*;
use crate::store::{DueTimer, Holders};
use chrono::{DateTime, Utc};

/// Candidate clients read per query.
const SCAN: u64 = 200;
/// The most items one call returns.
const MAX_ITEMS: u64 = 500;

/// A client on a coordination worklist, as the reader may see it, with what waits on it.
#[derive(Clone, Debug)]
pub struct WorkItem {
    pub client: VisibleClient,
    /// The planned handoff's gates a booking meets (aftercare appointment, MAT continuity)
    /// that are not met on the planned day, with why.
    pub bookings_needed: Vec<GateReport>,
    /// Follow-up checks pending with no visit kept yet in their window.
    pub followups: Vec<FollowupDue>,
    /// Bookings missed with nothing booked since: the client is counted lost to care at
    /// `check_at` unless something is booked or kept first.
    pub no_shows: Vec<NoShowDue>,
}

impl WorkItem {
    /// Nothing to do for this client.
    pub fn is_empty(&self) -> bool {
        self.bookings_needed.is_empty()
            && self.followups.is_empty()
            && self.no_shows.is_empty()
            && self
                .client
                .movement
                .shown()
                .is_none_or(|m| m.lost_to_care.is_none())
    }
}

/// A follow-up check `days` after an exit from high-intensity care (HEDIS FUI).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FollowupDue {
    pub days: u32,
    /// The exit it follows.
    pub since: DateTime<Utc>,
    /// When the check is made: a visit kept by then counts.
    pub due_at: DateTime<Utc>,
}

/// A missed booking waiting for its check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoShowDue {
    pub booking: BookingId,
    pub missed_at: DateTime<Utc>,
    pub check_at: DateTime<Utc>,
}

impl Engine {
    /// The coordination worklist of `actor`, up to `limit` clients after `after` (by id): a
    /// coordinator's — the clients an active consent names its organization in, in the
    /// coordinator's view, each read a disclosure —, a case manager's or supervisor's — their
    /// organization's clients —, or for an admin everyone's.
    pub async fn coordination(
        &self,
        actor: &Actor,
        after: Option<ClientId>,
        limit: u64,
    ) -> Result<Vec<WorkItem>, Error> {
        let holders = match policy::read_coordination(actor)? {
            CoordinationScope::Everyone => Holders::Everyone,
            CoordinationScope::HeldBy(org) => Holders::Org(org),
            CoordinationScope::NamedIn(org) => Holders::OrgOrNamed(org),
        };
        let limit = limit.clamp(1, MAX_ITEMS);
        let now = self.clock().now();
        let mut out = Vec::new();
        let mut cursor = after;
        loop {
            let page = self
                .store()
                .coordination_candidates(holders, cursor, SCAN)
                .await?;
            let Some(last) = page.last() else {
                break;
            };
            cursor = Some(last.id);
            let full = page.len() as u64 == SCAN;
            let ids: Vec<ClientId> = page.iter().map(|s| s.id).collect();
            let timers = self.store().coordination_timers(&ids).await?;
            for state in page {
                let (view, consent) = match policy::coordination_access(actor, &state, now) {
                    Ok(access) => access,
                    // No standing: left out, as if it did not exist.
                    Err(DecisionError::NotFound { .. }) => continue,
                    Err(e) => return Err(e.into()),
                };
                let item = self.work_item(actor, &state, view, &timers, now);
                if item.is_empty() {
                    continue;
                }
                self.disclose_read(actor, &state, consent, view).await?;
                out.push(item);
                if out.len() as u64 >= limit {
                    return self.named(out).await;
                }
            }
            if !full {
                break;
            }
        }
        self.named(out).await
    }

    /// The items with the identities their views show, in one read.
    async fn named(&self, items: Vec<WorkItem>) -> Result<Vec<WorkItem>, Error> {
        let clients = items.iter().map(|i| i.client.clone()).collect();
        let clients = self.with_identities(clients).await?;
        Ok(items
            .into_iter()
            .zip(clients)
            .map(|(item, client)| WorkItem { client, ..item })
            .collect())
    }

    fn work_item(
        &self,
        actor: &Actor,
        client: &ClientState,
        view: ClientView,
        timers: &[DueTimer],
        now: DateTime<Utc>,
    ) -> WorkItem {
        let pathway = self.pathway();
        let mut followups = Vec::new();
        let mut no_shows = Vec::new();
        for t in timers.iter().filter(|t| t.client == client.id) {
            match &t.kind {
                TimerKind::Followup { days, since, .. } => {
                    // Timers armed before the closed loop carry no `since`: the last discharge.
                    let Some(since) = since.or(client.last_discharge.as_ref().map(|d| d.at)) else {
                        continue;
                    };
                    if gates::followup_visit(client, pathway, since.date_naive(), *days).is_none() {
                        followups.push(FollowupDue {
                            days: *days,
                            since,
                            due_at: t.due_at,
                        });
                    }
                }
                TimerKind::NoShowCheck { booking, missed_at }
                    if !gates::missed_booking_answered(client, *booking, *missed_at)
                        && client.lost_to_care.is_none() =>
                {
                    no_shows.push(NoShowDue {
                        booking: *booking,
                        missed_at: *missed_at,
                        check_at: t.due_at,
                    });
                }
                _ => {}
            }
        }
        WorkItem {
            bookings_needed: gates::bookings_needed(client, pathway, now),
            client: self.visible(actor, client, view),
            followups,
            no_shows,
        }
    }

    /// The clients on their way to `actor`'s organization (a partner's): in transit to it, or
    /// transferred out to it, not yet confirmed — those a consent in force lets it read, each
    /// read a disclosure. Up to `limit` after `after` (by id).
    pub async fn arrivals(
        &self,
        actor: &Actor,
        after: Option<ClientId>,
        limit: u64,
    ) -> Result<Vec<VisibleClient>, Error> {
        let org = policy::read_arrivals(actor)?;
        let limit = limit.clamp(1, MAX_ITEMS);
        let now = self.clock().now();
        let mut out = Vec::new();
        let mut cursor = after;
        loop {
            let page = self.store().arriving(org, cursor, SCAN).await?;
            let Some(last) = page.last() else {
                break;
            };
            cursor = Some(last.id);
            let full = page.len() as u64 == SCAN;
            for state in page {
                let (view, consent) = match policy::arrival_access(actor, &state, now) {
                    Ok(access) => access,
                    Err(DecisionError::NotFound { .. }) => continue,
                    Err(e) => return Err(e.into()),
                };
                self.disclose_read(actor, &state, consent, view).await?;
                out.push(self.visible(actor, &state, view));
                if out.len() as u64 >= limit {
                    return self.with_identities(out).await;
                }
            }
            if !full {
                break;
            }
        }
        self.with_identities(out).await
    }
}
