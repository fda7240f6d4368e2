//! Subscriptions: live care events, filtered by what the subscriber may see.

use crate::context::{actor, engine};
use crate::error::bad_input;
use crate::types::CareEvent;
use async_graphql::{Context, Result, Subscription};
use futures::{Stream, StreamExt};

pub struct Subscription;

#[Subscription]
impl Subscription {
    /// Care events as they commit, on any replica (fed from the broker). `types` matches an event type or its prefix
    /// (`discharge` matches `discharge.completed`); `level` the level the event concerns.
    /// Aftercare coordinators receive discharge and handoff events of clients whose consent
    /// names them; a partner only events about referrals addressed to it.
    async fn care_events(
        &self,
        ctx: &Context<'_>,
        types: Option<Vec<String>>,
        level: Option<String>,
    ) -> Result<impl Stream<Item = CareEvent> + use<>> {
        let who = *actor(ctx)?;
        if let Some(l) = &level
            && engine(ctx).pathway().level_by_str(l).is_none()
        {
            return Err(bad_input(format!("unknown level \"{l}\"")));
        }
        let types = types.unwrap_or_default();
        Ok(engine(ctx).subscribe(who).filter_map(move |event| {
            let t = event.event_type();
            let type_ok = types.is_empty()
                || types.iter().any(|w| {
                    t == w
                        || t.strip_prefix(w.as_str())
                            .is_some_and(|r| r.starts_with('.'))
                });
            let level_ok = level
                .as_deref()
                .is_none_or(|l| event.level.as_ref().is_some_and(|e| e.as_str() == l));
            std::future::ready((type_ok && level_ok).then_some(CareEvent(event)))
        }))
    }
}
