//! The read side, with the same authorization rules as the write side: who may see which
//! client and how much, and the disclosure record every read by another organization leaves.

use crate::dom as domain;
use crate::dom::view::Asked;
use crate::dom::{
    Actor, ClientIdentity, ClientState, ClientView, DecisionError, GateReport, HandoffTarget,
    Referral, ReferralStatus, ReferralView, Role, VisibleClient,
};
use crate::engine::Engine;
use crate::error::Error;
use crate::ids::*;
use crate::pathway::LevelId;
use crate::store::{ClientFilter, DisclosureRow};
use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};

/// Hash of a bearer token as stored.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A referral as a reader may see it: `client` and `to_level` are `None` when they are
/// withheld from it (the provider it was addressed to, once no consent names it).
#[derive(Clone, Debug)]
pub struct ReferralRead {
    pub referral: Referral,
    pub client: Option<ClientId>,
    pub to_level: Option<LevelId>,
}

impl Engine {
    /// The actor behind a bearer token: asked of the database every time (one lookup by the
    /// hash's unique index), so a revoked or expired token is refused at once, on every
    /// process.
    pub async fn authenticate(&self, token: &str) -> Result<Actor, Error> {
        let hash = token_hash(token);
        let holder = self
            .store()
            .token_holder(&hash, self.clock().now())
            .await?
            .ok_or(Error::Unauthenticated)?;
        let role = Role::parse(&holder.role).ok_or(Error::Unauthenticated)?;
        Ok(Actor::person(holder.org, role, holder.staff))
    }

    /// Create a token for an organization and role, valid for `days`; returns the token,
    /// which is not stored (its hash is).
    pub async fn create_token(
        &self,
        org: OrgId,
        role: Role,
        label: Option<&str>,
        days: u32,
        staff: Option<StaffId>,
    ) -> Result<String, Error> {
        Ok(self.issue_token(org, role, label, days, staff).await?.1)
    }

    /// [`Engine::create_token`], with the stored token's id.
    pub(crate) async fn issue_token(
        &self,
        org: OrgId,
        role: Role,
        label: Option<&str>,
        days: u32,
        staff: Option<StaffId>,
    ) -> Result<(uuid::Uuid, String), Error> {
        if role == Role::System {
            return Err(Error::BadInput("no token acts as the engine".into()));
        }
        if let Some(l) = label {
            domain::input::check_text("label", l)?;
        }
        if !(1..=3650).contains(&days) {
            return Err(Error::BadInput(
                "a token is valid for 1 to 3650 days".into(),
            ));
        }
        if !self.store().org_exists(org).await? {
            return Err(Error::NotFound(format!("organization {org}")));
        }
        // Another token of someone's: a person works for one organization.
        if let Some(staff) = staff {
            let tokens = self.store().tokens().await?;
            let theirs: Vec<_> = tokens.iter().filter(|t| t.staff == staff).collect();
            if theirs.is_empty() {
                return Err(Error::NotFound(format!("staff member {staff}")));
            }
            if theirs.iter().any(|t| t.org != org) {
                return Err(Error::BadInput(format!(
                    "staff member {staff} works for another organization"
                )));
            }
        }
        let token = format!(
            "cp_{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let now = self.clock().now();
        let id = self
            .store()
            .create_token(crate::store::NewToken {
                org,
                role: role.as_str(),
                token_hash: &token_hash(&token),
                label,
                staff,
                now,
                expires_at: now + chrono::Duration::days(i64::from(days)),
            })
            .await?;
        Ok((id, token))
    }

    /// Every token (never the token itself), oldest first.
    pub async fn tokens(&self) -> Result<Vec<crate::store::TokenRow>, Error> {
        Ok(self.store().tokens().await?)
    }

    /// Revoke a token by its id: refused from the next request on, on every process.
    pub async fn revoke_token(&self, id: uuid::Uuid) -> Result<(), Error> {
        if self.store().revoke_token(id, self.clock().now()).await? {
            Ok(())
        } else {
            Err(Error::NotFound(format!(
                "token {id} (or it is already revoked)"
            )))
        }
    }

    async fn load(&self, id: ClientId) -> Result<ClientState, Error> {
        self.store()
            .load_client(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("client {id}")))
    }

    /// One client as `actor` may see it; a read by another organization is a disclosure.
    /// Without standing: not found, word for word as an id that does not exist.
    pub async fn read_client(&self, actor: &Actor, id: ClientId) -> Result<VisibleClient, Error> {
        self.read_client_asking(actor, id, &Asked::default()).await
    }

    /// [`Engine::read_client`], with the readiness of the move `asked` names (the console's
    /// "check this move") in place of the next move the domain chooses.
    pub async fn read_client_asking(
        &self,
        actor: &Actor,
        id: ClientId,
        asked: &Asked,
    ) -> Result<VisibleClient, Error> {
        let (state, view) = self.read_standing(actor, id).await?;
        let client = domain::view::cut(
            actor,
            view,
            &state,
            self.pathway(),
            self.clock().now(),
            asked,
        );
        Ok(self.with_identities(vec![client]).await?.remove(0))
    }

    /// One client's state and the view `actor`'s standing gives (`policy::read_access`), the
    /// read accounted as a disclosure when it is another organization's: the first step of
    /// every read of one client. Without standing: not found, as an unknown id.
    pub(crate) async fn read_standing(
        &self,
        actor: &Actor,
        id: ClientId,
    ) -> Result<(ClientState, ClientView), Error> {
        let state = self.load(id).await?;
        let (view, consent) = domain::read_access(actor, &state, self.clock().now())?;
        self.disclose_read(actor, &state, consent, view).await?;
        Ok((state, view))
    }

    /// `state` in `view` (decided for `actor`), for the engine's lists.
    pub(crate) fn visible(
        &self,
        actor: &Actor,
        state: &ClientState,
        view: ClientView,
    ) -> VisibleClient {
        domain::view::cut(
            actor,
            view,
            state,
            self.pathway(),
            self.clock().now(),
            &Asked::default(),
        )
    }

    /// The display names and record numbers of `clients`, in one read, filled in where the
    /// view shows them.
    pub(crate) async fn with_identities(
        &self,
        clients: Vec<VisibleClient>,
    ) -> Result<Vec<VisibleClient>, Error> {
        let ids: Vec<ClientId> = clients
            .iter()
            .filter(|c| c.identity.is_shown())
            .map(|c| c.id)
            .collect();
        if ids.is_empty() {
            return Ok(clients);
        }
        let mut found: std::collections::HashMap<ClientId, ClientIdentity> =
            self.store().identities(&ids).await?.into_iter().collect();
        Ok(clients
            .into_iter()
            .map(|c| {
                let identity = found.remove(&c.id);
                c.with_identity(identity)
            })
            .collect())
    }

    pub(crate) async fn disclose_read(
        &self,
        actor: &Actor,
        state: &ClientState,
        consent: Option<ConsentId>,
        view: ClientView,
    ) -> Result<(), Error> {
        // The record holder's own reads, and the engine's, disclose nothing. Every other read
        // is accounted — an administrator's too: the deployment's operator reads another
        // organization's records as its qualified service organization (42 CFR 2.11), under
        // that agreement rather than a consent, and the record holder sees each such read in
        // its accounting of disclosures.
        if actor.org == state.home_org || actor.role == Role::System {
            return Ok(());
        }
        let what = match (actor.role, view) {
            (Role::Admin, _) => "client record read by an administrator",
            (_, ClientView::Partner) => "client record read by a partner provider",
            (_, ClientView::Payer) => "client record read by a payer",
            _ => "client record read by an aftercare coordinator",
        };
        self.store()
            .record_read_disclosure(state.id, actor.org, consent, what, self.clock().now())
            .await?;
        Ok(())
    }

    /// A case manager's (or supervisor's) caseload: the clients of their organization whose
    /// episode names them, a page at a time.
    pub async fn list_caseload(
        &self,
        actor: &Actor,
        after: Option<ClientId>,
        limit: u64,
    ) -> Result<Vec<VisibleClient>, Error> {
        let staff = match (actor.role, actor.staff) {
            (Role::CaseManager | Role::Supervisor, Some(staff)) => staff,
            _ => {
                return Err(Error::Forbidden(
                    "a caseload is a case manager's or a supervisor's own".into(),
                ));
            }
        };
        let mut filter = self.listing(actor, None, None, None)?;
        filter.case_manager = Some(staff);
        let page = self.readable_clients(actor, &filter, after, limit).await?;
        self.visible_page(actor, &page).await
    }

    /// A page of clients `actor` may see: case managers their organization's, partners those
    /// placed with them under an active consent, payers those an active consent names them
    /// in (each read by another organization is a disclosure).
    pub async fn list_clients(
        &self,
        actor: &Actor,
        level: Option<LevelId>,
        provider: Option<OrgId>,
        search: Option<String>,
        after: Option<ClientId>,
        limit: u64,
    ) -> Result<Vec<VisibleClient>, Error> {
        if let Some(text) = &search {
            domain::input::check_text("search", text)?;
            domain::input::check_length("search", text, domain::MAX_DISPLAY_NAME)?;
        }
        let filter = self.listing(actor, level, provider, search)?;
        let page = self.readable_clients(actor, &filter, after, limit).await?;
        self.visible_page(actor, &page).await
    }

    /// Whom `actor` may list (`list_clients`): case managers their organization's clients,
    /// partners those placed with them, payers those a consent names them in, admins all; an
    /// aftercare coordinator only finds, by name or record number, the clients a consent names
    /// its organization in (it follows events, not lists).
    pub(crate) fn listing(
        &self,
        actor: &Actor,
        level: Option<LevelId>,
        provider: Option<OrgId>,
        search: Option<String>,
    ) -> Result<ClientFilter, Error> {
        let mut filter = ClientFilter {
            level,
            provider,
            search,
            ..ClientFilter::default()
        };
        match actor.role {
            Role::Admin => {}
            Role::CaseManager | Role::Supervisor => filter.home_org = Some(actor.org),
            Role::Partner => {
                if provider.is_some_and(|p| p != actor.org) {
                    return Err(Error::Forbidden(
                        "a partner lists only the clients placed with it".into(),
                    ));
                }
                filter.provider = Some(actor.org);
            }
            // The clients a consent names it in (whether one is in force: `read_access`).
            Role::Payer => filter.named_in_consent = Some(actor.org),
            Role::AftercareCoordinator if filter.search.is_some() => {
                filter.named_in_consent = Some(actor.org)
            }
            Role::AftercareCoordinator | Role::System => {
                return Err(Error::Forbidden(
                    "an aftercare coordinator follows events, not client lists: it finds a \
                     client by name or record number"
                        .into(),
                ));
            }
        }
        Ok(filter)
    }

    /// A page read by `actor`, as it may see each client, identities filled in.
    pub(crate) async fn visible_page(
        &self,
        actor: &Actor,
        page: &[(ClientState, ClientView)],
    ) -> Result<Vec<VisibleClient>, Error> {
        let clients = page
            .iter()
            .map(|(state, view)| self.visible(actor, state, *view))
            .collect();
        self.with_identities(clients).await
    }

    /// A page of the clients `filter` names, after `after` by client id, those `actor` has
    /// standing to read (`policy::read_access`) each with its view, each read by another
    /// organization a disclosure. Whom `actor` may list at all is the caller's to decide.
    pub(crate) async fn readable_clients(
        &self,
        actor: &Actor,
        filter: &ClientFilter,
        after: Option<ClientId>,
        limit: u64,
    ) -> Result<Vec<(ClientState, ClientView)>, Error> {
        let now = self.clock().now();
        let mut out = Vec::new();
        for state in self.store().clients_page(filter, after, limit).await? {
            match domain::read_access(actor, &state, now) {
                Ok((view, consent)) => {
                    self.disclose_read(actor, &state, consent, view).await?;
                    out.push((state, view));
                }
                // Without standing the client is left out of the page.
                Err(DecisionError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }

    /// The organization's outreach list: its clients lost to care (a missed arrival, a missed
    /// appointment with nothing booked since, a MAT supply run out), for the case managers
    /// who hold their records (`policy::read_worklist`).
    pub async fn outreach(
        &self,
        actor: &Actor,
        after: Option<ClientId>,
        limit: u64,
    ) -> Result<Vec<VisibleClient>, Error> {
        let filter = ClientFilter {
            level: None,
            provider: None,
            home_org: domain::policy::read_worklist(actor)?,
            lost_to_care: true,
            ..ClientFilter::default()
        };
        let page = self.readable_clients(actor, &filter, after, limit).await?;
        self.visible_page(actor, &page).await
    }

    /// The escalations: clients with a referral group that ran out (every provider declined,
    /// let it expire or let its hold lapse) and nothing sent since — `mine`: those whose
    /// episode names the caller as case manager, else the organization's
    /// (`policy::read_worklist`).
    pub async fn escalations(
        &self,
        actor: &Actor,
        mine: bool,
        after: Option<ClientId>,
        limit: u64,
    ) -> Result<Vec<VisibleClient>, Error> {
        let home_org = domain::policy::read_worklist(actor)?;
        let case_manager = match (mine, actor.staff) {
            (false, _) => None,
            (true, Some(me)) => Some(me),
            (true, None) => {
                return Err(Error::BadInput(
                    "no person is behind this caller: ask for the organization's escalations"
                        .into(),
                ));
            }
        };
        let filter = ClientFilter {
            home_org,
            escalated: true,
            case_manager,
            ..ClientFilter::default()
        };
        let page = self.readable_clients(actor, &filter, after, limit).await?;
        self.visible_page(actor, &page).await
    }

    /// Staff members as their newest live token describes them (name = the token's label),
    /// for the organization's own people: a caller sees the staff of its organization only.
    pub async fn staff_members(
        &self,
        actor: &Actor,
        ids: &[StaffId],
    ) -> Result<Vec<crate::store::StaffRow>, Error> {
        let rows = self.store().staff_members(ids, self.clock().now()).await?;
        Ok(rows
            .into_iter()
            .filter(|r| actor.role == Role::Admin || r.org == actor.org)
            .collect())
    }

    /// One referral: for the organization holding the record, or the provider it is
    /// addressed to (without anything about the client once no consent names it). Anyone
    /// else is told it does not exist. A read by another organization is a disclosure.
    pub async fn read_referral(
        &self,
        actor: &Actor,
        id: ReferralId,
    ) -> Result<ReferralRead, Error> {
        let not_found = || Error::NotFound(format!("referral {id}"));
        let row = self.store().referral_row(id).await?.ok_or_else(not_found)?;
        let state = self.load(row.client).await?;
        let referral = state.referral(id).ok_or_else(not_found)?;
        self.referral_read(actor, &state, referral).await
    }

    /// `referral` as `actor` may see it, recording the disclosure the read makes.
    async fn referral_read(
        &self,
        actor: &Actor,
        state: &ClientState,
        referral: &Referral,
    ) -> Result<ReferralRead, Error> {
        let view = domain::referral_access(actor, state, referral, self.clock().now())?;
        match view {
            ReferralView::Full { discloses, consent } => {
                if discloses {
                    self.store()
                        .record_read_disclosure(
                            state.id,
                            actor.org,
                            consent,
                            "referral read by the receiving provider",
                            self.clock().now(),
                        )
                        .await?;
                }
                Ok(ReferralRead {
                    referral: referral.clone(),
                    client: Some(state.id),
                    to_level: Some(referral.to_level.clone()),
                })
            }
            ReferralView::Withheld => Ok(ReferralRead {
                referral: referral.clone(),
                client: None,
                to_level: None,
            }),
        }
    }

    /// A provider's referrals: a partner's own inbox, or any provider's for an admin.
    pub async fn inbox(
        &self,
        actor: &Actor,
        provider: Option<OrgId>,
        status: Option<ReferralStatus>,
        after: Option<ReferralId>,
        limit: u64,
    ) -> Result<Vec<ReferralRead>, Error> {
        let provider = match actor.role {
            Role::Partner if provider.is_none_or(|p| p == actor.org) => actor.org,
            Role::Admin => provider.ok_or_else(|| {
                Error::BadInput("an admin names the provider whose inbox to read".into())
            })?,
            _ => {
                return Err(Error::Forbidden(
                    "the inbox is the receiving provider's".into(),
                ));
            }
        };
        let rows = self.store().inbox(provider, status, after, limit).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(state) = self.store().load_client(row.client).await?
                && let Some(r) = state.referral(row.id)
            {
                out.push(self.referral_read(actor, &state, r).await?);
            }
        }
        Ok(out)
    }

    /// A client's care events after `after_seq`, for the organization holding the record.
    pub async fn read_events(
        &self,
        actor: &Actor,
        client: ClientId,
        after_seq: i64,
        limit: u64,
    ) -> Result<Vec<domain::CareEvent>, Error> {
        let state = self.load(client).await?;
        domain::require_full(actor, &state, self.clock().now())?;
        // An administrator of another organization reads the record: accounted.
        self.disclose_read(actor, &state, None, ClientView::Full)
            .await?;
        Ok(self.store().events(client, after_seq, limit).await?)
    }

    /// The Part 2 accounting of disclosures (42 CFR 2.24), for the organization holding the
    /// record: every disclosure at or after `from` and before `to`, oldest first.
    pub async fn read_disclosures(
        &self,
        actor: &Actor,
        client: ClientId,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Vec<DisclosureRow>, Error> {
        for (what, t) in [("from", from), ("to", to)] {
            if let Some(t) = t {
                domain::input::check_time(what, t)?;
            }
        }
        if let (Some(f), Some(t)) = (from, to)
            && t < f
        {
            return Err(Error::BadInput("`to` comes before `from`".into()));
        }
        let state = self.load(client).await?;
        domain::require_full(actor, &state, self.clock().now())?;
        Ok(self.store().disclosures(client, from, to).await?)
    }

    /// Each gate a move needs, met or not, with why. For the record holder, or a
    /// coordinator named in a consent.
    pub async fn read_readiness(
        &self,
        actor: &Actor,
        client: ClientId,
        ask: domain::gates::ReadinessAsk,
        on: Option<NaiveDate>,
    ) -> Result<(HandoffTarget, Vec<GateReport>), Error> {
        let state = self.load(client).await?;
        let (view, consent) = domain::read_access(actor, &state, self.clock().now())?;
        Self::readiness_view(view)?;
        self.disclose_read(actor, &state, consent, view).await?;
        self.readiness_of(actor, &state, ask, on)
    }

    /// The readiness of a client `actor` has just read (whose disclosure covers this one):
    /// the same standing, decided again, and no second disclosure.
    fn readiness_of(
        &self,
        actor: &Actor,
        state: &ClientState,
        ask: domain::gates::ReadinessAsk,
        on: Option<NaiveDate>,
    ) -> Result<(HandoffTarget, Vec<GateReport>), Error> {
        let now = self.clock().now();
        let (view, _) = domain::read_access(actor, state, now)?;
        Self::readiness_view(view)?;
        let on = on.unwrap_or(now.date_naive());
        let target = domain::gates::readiness_target(state, self.pathway(), ask)?;
        let gates = domain::gates::readiness(state, self.pathway(), &target, on, now)?;
        Ok((target, gates))
    }

    fn readiness_view(view: ClientView) -> Result<(), Error> {
        if matches!(view, ClientView::Partner | ClientView::Payer) {
            return Err(Error::Forbidden(
                "readiness is for case managers and aftercare coordinators".into(),
            ));
        }
        Ok(())
    }
}
