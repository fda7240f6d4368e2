//! Carepath's GraphQL API: a thin layer over engine commands and queries. No rule lives
//! here: authorization, validation of the domain and every decision are the engine's.
//! **Architecture invariant:** this is the only crate that knows async-graphql.

mod context;
pub mod error;
pub mod graphiql;
pub mod http;
mod inputs;
mod introspection;
mod loaders;
mod measures;
mod mutation;
mod query;
mod subscription;
mod types;

use async_graphql::Schema;
use carepath_engine::Engine;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

pub use http::{ReadyCheck, router};
pub use introspection::{
    INTROSPECTION_MAX_COMPLEXITY, INTROSPECTION_MAX_DEPTH, MAX_TYPE_EXPANSIONS,
};
pub use mutation::Mutation;
pub use query::Query;
pub use subscription::Subscription;

pub type CarepathSchema = Schema<Query, Mutation, Subscription>;

/// Deepest query accepted (an introspection-only query: [`INTROSPECTION_MAX_DEPTH`]).
pub const MAX_DEPTH: usize = 12;
/// Most complex query accepted (an introspection-only query: [`INTROSPECTION_MAX_COMPLEXITY`]).
pub const MAX_COMPLEXITY: usize = 2_000;

/// The schema, with its limits.
pub fn schema(engine: Engine) -> CarepathSchema {
    Schema::build(Query, Mutation, Subscription)
        .data(engine)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_recursive_depth(32)
        .finish()
}

/// The schema that answers introspection-only queries (see [`introspection`]): it resolves
/// nothing but `__schema`, `__type` and `__typename`, under limits sized to the standard
/// introspection query.
pub fn introspection_schema() -> CarepathSchema {
    Schema::build(Query, Mutation, Subscription)
        .introspection_only()
        .limit_depth(INTROSPECTION_MAX_DEPTH)
        .limit_complexity(INTROSPECTION_MAX_COMPLEXITY)
        .limit_recursive_depth(32)
        .finish()
}

/// The schema's SDL, as committed in `graphql/schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query, Mutation, Subscription).finish().sdl()
}

/// The process's Prometheus recorder (installed once).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .install_recorder()
                .expect("a Prometheus recorder")
        })
        .clone()
}
