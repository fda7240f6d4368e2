//! Administration through the engine: organizations and what they offer (levels of care and
//! capacity, MAT services), the broker users that speak for an organization on the inbound
//! queue, housekeeping. Who may do each is decided by the domain's policy
//! ([`crate::dom::policy`]).

use crate::dom::{Actor, MatService, policy};
use crate::engine::Engine;
use crate::error::Error;
use crate::ids::OrgId;
use crate::pathway::LevelId;
use chrono::Duration;
use std::collections::{BTreeSet, HashMap};

impl Engine {
    /// Whether a message from `sender` may name `named` as the organization acting
    /// (`policy::speaks_for`): an inbound message speaks only for its own organization.
    pub fn speaks_for(&self, sender: OrgId, named: OrgId) -> Result<(), Error> {
        Ok(policy::speaks_for(sender, named)?)
    }

    /// Whom an inbound message from `sender` carrying `command` acts as
    /// (`policy::inbound_actor`); `None` when no inbound message may carry it.
    pub fn inbound_actor(&self, sender: OrgId, command: &crate::dom::Command) -> Option<Actor> {
        policy::inbound_actor(sender, command)
    }

    /// Drop idempotency records older than `days`.
    pub async fn prune_idempotency(&self, days: i64) -> Result<u64, Error> {
        let before = self.clock().now() - Duration::days(days);
        Ok(self.store().prune_idempotency(before).await?)
    }

    // ---- organizations -----------------------------------------------------------------

    /// Register (or rename) an organization. Admins only.
    pub async fn register_org(&self, actor: &Actor, id: OrgId, name: &str) -> Result<(), Error> {
        policy::administer(actor, "registers organizations")?;
        let name = name.trim();
        check_name("an organization name", name)?;
        self.store()
            .upsert_org(id, name, self.clock().now())
            .await?;
        self.forget_org(id);
        Ok(())
    }

    /// Set an organization's time zone, an IANA name (`America/New_York`): the console shows
    /// its people times in it and reads the times they type in it. Admins only.
    pub async fn set_org_time_zone(
        &self,
        actor: &Actor,
        org: OrgId,
        zone: &str,
    ) -> Result<chrono_tz::Tz, Error> {
        policy::administer(actor, "sets an organization's time zone")?;
        let tz = parse_time_zone(zone)?;
        if !self.store().set_org_time_zone(org, Some(tz.name())).await? {
            return Err(Error::NotFound(format!("organization {org}")));
        }
        Ok(tz)
    }

    /// An organization's time zone: UTC when it has none.
    pub async fn org_time_zone(&self, org: OrgId) -> Result<chrono_tz::Tz, Error> {
        Ok(self
            .store()
            .org_time_zone(org)
            .await?
            .and_then(|z| z.parse().ok())
            .unwrap_or(chrono_tz::Tz::UTC))
    }

    async fn require_org(&self, org: OrgId) -> Result<(), Error> {
        if self.store().org_exists(org).await? {
            Ok(())
        } else {
            Err(Error::NotFound(format!("organization {org}")))
        }
    }

    fn check_offer(&self, level: &LevelId, capacity: i32) -> Result<(), Error> {
        if self.pathway().level(level).is_none() {
            return Err(Error::BadInput(format!("unknown level \"{level}\"")));
        }
        if !(0..=100_000).contains(&capacity) {
            return Err(Error::BadInput("capacity runs from 0 to 100000".into()));
        }
        Ok(())
    }

    /// Register a provider, what it offers (levels of care, each with its capacity) and the
    /// MAT services it provides (replacing any it had), all or nothing: every offer is
    /// checked before anything is written. Admins only.
    pub async fn register_provider(
        &self,
        actor: &Actor,
        id: OrgId,
        name: &str,
        offers: &[(LevelId, i32)],
        mat_services: &[MatService],
    ) -> Result<(), Error> {
        for (level, capacity) in offers {
            self.check_offer(level, *capacity)?;
        }
        self.register_org(actor, id, name).await?;
        for (level, capacity) in offers {
            self.set_capacity(actor, id, level, *capacity).await?;
        }
        self.set_mat_services(actor, id, mat_services).await
    }

    /// Set the MAT services an organization provides (which MAT bookings it can take),
    /// replacing those it had. Admins only; the organization must exist.
    pub async fn set_mat_services(
        &self,
        actor: &Actor,
        org: OrgId,
        services: &[MatService],
    ) -> Result<(), Error> {
        policy::set_mat_services(actor)?;
        self.require_org(org).await?;
        self.store().set_mat_services(org, services).await?;
        self.forget_org(org);
        Ok(())
    }

    /// The MAT services each organization among `ids` provides (unknown ids are left out),
    /// as commands see them (the organization cache, [`crate::engine::ORG_CACHE_TTL`]).
    pub async fn mat_services(
        &self,
        ids: &[OrgId],
    ) -> Result<HashMap<OrgId, BTreeSet<MatService>>, Error> {
        Ok(self
            .orgs(ids)
            .await?
            .0
            .into_iter()
            .map(|(id, info)| (id, info.mat_services))
            .collect())
    }

    /// Set a provider's capacity at a level: admins, or a partner for its own organization.
    pub async fn set_capacity(
        &self,
        actor: &Actor,
        org: OrgId,
        level: &LevelId,
        capacity: i32,
    ) -> Result<(), Error> {
        policy::set_capacity(actor, org)?;
        self.check_offer(level, capacity)?;
        self.require_org(org).await?;
        self.store().set_capacity(org, level, capacity).await?;
        self.forget_org(org);
        Ok(())
    }

    /// The names of the organizations among `ids` (unknown ids are left out).
    /// Every organization, by name, with the levels it offers (and their capacity) and its
    /// MAT services: for an admin (`policy::administer`).
    pub async fn organizations(
        &self,
        actor: &Actor,
    ) -> Result<Vec<crate::store::OrgListing>, Error> {
        policy::administer(actor, "lists the organizations")?;
        Ok(self.store().organizations().await?)
    }

    /// Every organization by name with what it offers, for anyone signed in to choose from
    /// (`policy::read_directory`): a referral's providers, a consent's recipients, a booking's
    /// place.
    pub async fn directory(&self, actor: &Actor) -> Result<Vec<crate::store::OrgListing>, Error> {
        policy::read_directory(actor)?;
        Ok(self.store().organizations().await?)
    }

    pub async fn org_names(&self, ids: &[OrgId]) -> Result<HashMap<OrgId, String>, Error> {
        Ok(self.store().org_names(ids).await?)
    }

    /// Record that the broker user `user` speaks for `org` on the inbound queue. Admins only;
    /// the organization must exist.
    pub async fn link_sender(&self, actor: &Actor, user: &str, org: OrgId) -> Result<(), Error> {
        policy::administer(actor, "links broker users")?;
        check_name("a broker user", user)?;
        self.require_org(org).await?;
        self.store()
            .link_sender(user, org, self.clock().now())
            .await?;
        Ok(())
    }

    /// The organization a broker user speaks for on the inbound queue, if any.
    pub async fn sender_org(&self, user: &str) -> Result<Option<OrgId>, Error> {
        Ok(self.store().sender_org(user).await?)
    }
}

/// A name someone typed: 1 to 200 characters, no control character.
fn check_name(what: &str, value: &str) -> Result<(), Error> {
    crate::dom::input::check_text(what, value)?;
    if value.is_empty() || value.chars().count() > 200 {
        return Err(Error::BadInput(format!("{what} has 1 to 200 characters")));
    }
    Ok(())
}

/// An IANA time zone name (`America/New_York`, `UTC`), or a typed refusal saying what one is.
pub fn parse_time_zone(zone: &str) -> Result<chrono_tz::Tz, Error> {
    zone.trim().parse().map_err(|_| {
        Error::BadInput(format!(
            "\"{}\" is not a time zone: give an IANA name such as America/New_York",
            zone.trim().chars().take(64).collect::<String>()
        ))
    })
}
