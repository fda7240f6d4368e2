//! Registering a client (the one command decided on no state) and recording how its
//! organization recognises it.

use crate::command::*;
use crate::decide::Context;
use crate::decide::Decision;
use crate::decide::draft::{Draft, screen};
use crate::error::DecisionError;
use crate::event::*;
use crate::ids::*;
use crate::state::*;
use chrono::Datelike;

/// Register a client: the one command decided on no state. A client already registered is
/// a conflict (before any version check).
pub(in crate::decide) fn register_client(
    state: Option<&ClientState>,
    env: &Envelope,
    home_org: OrgId,
    birth_year: Option<i32>,
    ctx: &Context<'_>,
) -> Result<Decision, DecisionError> {
    let actor_org = screen(state, env, ctx)?;
    if state.is_some() {
        return Err(DecisionError::Conflict("client already registered".into()));
    }
    register(env.client, home_org, birth_year, actor_org, ctx)
}

fn register(
    client: ClientId,
    home_org: OrgId,
    birth_year: Option<i32>,
    actor_org: Option<OrgId>,
    ctx: &Context<'_>,
) -> Result<Decision, DecisionError> {
    if ctx.orgs.get(home_org).is_none() {
        return Err(DecisionError::not_found("organization", home_org));
    }
    if let Some(y) = birth_year {
        let this_year = ctx.now.year();
        if !(1900..=this_year).contains(&y) {
            return Err(DecisionError::bad(format!(
                "birth year {y} is not between 1900 and {this_year}"
            )));
        }
    }
    let state = ClientState::new(client, home_org, birth_year);
    let mut d = Draft::new(state, actor_org, ctx);
    d.emit(None, None, EventData::ClientRegistered { home_org });
    Ok(d.finish())
}

impl Draft<'_> {
    /// The display name and record number, kept beside the record: the event says only that
    /// they were recorded.
    pub(in crate::decide) fn record_identity(
        &mut self,
        identity: &ClientIdentity,
    ) -> Result<(), DecisionError> {
        self.identity = Some(identity.clone());
        self.emit(None, None, EventData::IdentityRecorded);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::command::*;
    use crate::decide::fixture::*;
    use crate::decide::{Context, decide};
    use crate::error::DecisionError;
    use crate::event::*;
    use crate::ids::*;
    use crate::state::*;

    #[test]
    fn registering_records_the_client_at_version_one() {
        let f = Fixture::new();
        let env = f.env(
            f.cm(),
            Command::RegisterClient {
                home_org: f.home,
                birth_year: Some(1990),
                identity: None,
            },
        );
        let d = decide(None, &env, &f.ctx_at(f.now)).unwrap();
        assert_eq!(types(&d), ["client.registered"]);
        assert_eq!(
            d.events[0].data,
            EventData::ClientRegistered { home_org: f.home }
        );
        assert_eq!(d.events[0].seq, 1);
        assert_eq!(d.events[0].actor_org, Some(f.home));
        assert_eq!(d.events[0].recipient_org, None);
        assert_eq!((d.state.version, d.state.last_seq), (1, 1));
        assert_eq!(d.state.status, ClientStatus::Registered);
        assert_eq!(d.state.birth_year, Some(1990));
        assert!(d.timers.is_empty() && d.disclosures.is_empty() && d.occupancy.is_empty());
    }

    #[test]
    fn registering_is_refused_twice_for_an_unknown_organization_or_an_impossible_birth_year() {
        let f = Fixture::new();
        let s = f.registered();
        let again = Command::RegisterClient {
            home_org: f.home,
            birth_year: None,
            identity: None,
        };
        assert!(matches!(
            f.refuse(&s, f.cm(), again),
            DecisionError::Conflict(_)
        ));

        let admin = Actor::new(f.home, Role::Admin);
        let ctx: Context<'_> = f.ctx_at(f.now);
        let unknown = OrgId(uuid::Uuid::from_u128(12345));
        let env = f.env(
            admin,
            Command::RegisterClient {
                home_org: unknown,
                birth_year: None,
                identity: None,
            },
        );
        assert_eq!(
            decide(None, &env, &ctx),
            Err(DecisionError::not_found("organization", unknown))
        );
        let env = f.env(
            f.cm(),
            Command::RegisterClient {
                home_org: f.home,
                birth_year: Some(1850),
                identity: None,
            },
        );
        assert!(matches!(
            decide(None, &env, &ctx),
            Err(DecisionError::BadInput(_))
        ));
    }
}
