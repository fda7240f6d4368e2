//! What every resolver reads from the request: the engine and the authenticated actor.

use crate::error::unauthenticated;
use async_graphql::{Context, Result};
use carepath_engine::Engine;
use carepath_engine::domain::Actor;

/// The authenticated caller, if the request carried a valid token.
#[derive(Clone, Copy, Debug)]
pub struct Caller(pub Option<Actor>);

pub fn engine<'a>(ctx: &Context<'a>) -> &'a Engine {
    ctx.data_unchecked::<Engine>()
}

pub fn actor<'a>(ctx: &Context<'a>) -> Result<&'a Actor> {
    ctx.data_opt::<Caller>()
        .and_then(|c| c.0.as_ref())
        .ok_or_else(unauthenticated)
}
