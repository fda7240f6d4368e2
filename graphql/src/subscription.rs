//! Subscriptions: live care events, filtered by what the subscriber may see.

use crate::context::{actor, engine};
use crate::error::bad_input;
use crate::types::CareEvent;
use async_graphql::{Context, Result, Subscription};
use carepath_engine::domain::may_see_event;
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;

pub struct Subscription;

#[Subscription]
impl Subscription {
    /// Care events as they commit. `types` matches an event type or its prefix
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
        let rx = engine(ctx).subscribe();
        Ok(futures::stream::unfold(rx, move |mut rx| {
            let types = types.clone();
            let level = level.clone();
            async move {
                loop {
                    match rx.recv().await {
                        Ok(p) => {
                            let t = p.event.event_type();
                            let type_ok = types.is_empty()
                                || types.iter().any(|w| {
                                    t == w
                                        || t.strip_prefix(w.as_str())
                                            .is_some_and(|r| r.starts_with('.'))
                                });
                            let level_ok = level.as_deref().is_none_or(|l| {
                                p.event.level.as_ref().is_some_and(|e| e.as_str() == l)
                            });
                            if type_ok
                                && level_ok
                                && may_see_event(&who, &p.event, p.home_org, &p.audience)
                            {
                                return Some((CareEvent(p.event.clone()), rx));
                            }
                        }
                        Err(RecvError::Lagged(n)) => {
                            tracing::warn!(skipped = n, "a subscriber fell behind");
                        }
                        Err(RecvError::Closed) => return None,
                    }
                }
            }
        }))
    }
}
