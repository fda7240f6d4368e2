//! The HTTP surface: `POST /graphql`, GraphiQL on `GET /graphql`, subscriptions over
//! WebSocket (graphql-transport-ws) on `/graphql/ws`, `/healthz`, `/readyz`, `/metrics`.

use crate::context::Caller;
use crate::loaders::OrgName;
use crate::{CarepathSchema, error};
use async_graphql::dataloader::DataLoader;
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource};
use async_graphql::{Data, ErrorExtensions};
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::Router;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use carepath_engine::Engine;
use metrics_exporter_prometheus::PrometheusHandle;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Clone)]
struct AppState {
    engine: Engine,
    schema: CarepathSchema,
    metrics: PrometheusHandle,
    /// Extra readiness checks (e.g. the relay), each returning a problem if not ready.
    ready_checks: std::sync::Arc<Vec<ReadyCheck>>,
}

/// A readiness check: `Some(problem)` when not ready.
pub type ReadyCheck = Box<dyn Fn() -> Option<String> + Send + Sync>;

pub fn router(engine: Engine, metrics: PrometheusHandle, ready_checks: Vec<ReadyCheck>) -> Router {
    let state = AppState {
        schema: crate::schema(engine.clone()),
        engine,
        metrics,
        ready_checks: std::sync::Arc::new(ready_checks),
    };
    Router::new()
        .route("/graphql", get(graphiql).post(graphql))
        .route("/graphql/ws", get(ws))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_BODY_BYTES,
        ))
        .with_state(state)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

async fn caller(engine: &Engine, token: Option<&str>) -> Result<Caller, carepath_engine::Error> {
    match token {
        None => Ok(Caller(None)),
        Some(t) => match engine.authenticate(t).await {
            Ok(a) => Ok(Caller(Some(a))),
            Err(carepath_engine::Error::Unauthenticated) => Ok(Caller(None)),
            Err(e) => Err(e),
        },
    }
}

async fn graphql(State(s): State<AppState>, headers: HeaderMap, req: GraphQLRequest) -> Response {
    let who = match caller(&s.engine, bearer(&headers)).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "authentication failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "storage unavailable").into_response();
        }
    };
    let req = req
        .into_inner()
        .data(who)
        .data(DataLoader::new(OrgName(s.engine.clone()), tokio::spawn));
    let mut resp = s.schema.execute(req).await;
    // Parse and validation errors (bad syntax, wrong types, unknown enum values, limits)
    // carry no code of their own: they are bad input.
    for e in &mut resp.errors {
        let has_code = e
            .extensions
            .as_ref()
            .is_some_and(|x| x.get("code").is_some());
        if !has_code {
            let with_code = async_graphql::Error::new(e.message.clone())
                .extend_with(|_, x| x.set("code", error::BAD_INPUT));
            e.extensions = with_code.extensions;
        }
    }
    GraphQLResponse::from(resp).into_response()
}

async fn graphiql() -> impl IntoResponse {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .finish(),
    )
}

async fn ws(
    State(s): State<AppState>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let engine = s.engine.clone();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |stream| {
            GraphQLWebSocket::new(stream, s.schema.clone(), protocol)
                .on_connection_init(move |payload: serde_json::Value| async move {
                    // {"authorization": "Bearer …"} or {"token": "…"}
                    let token = payload
                        .get("authorization")
                        .or_else(|| payload.get("Authorization"))
                        .and_then(|v| v.as_str())
                        .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).trim().to_owned())
                        .or_else(|| {
                            payload
                                .get("token")
                                .and_then(|v| v.as_str())
                                .map(str::to_owned)
                        });
                    let who = caller(&engine, token.as_deref())
                        .await
                        .map_err(|_| async_graphql::Error::new("storage unavailable"))?;
                    if who.0.is_none() {
                        return Err(error::unauthenticated());
                    }
                    let mut data = Data::default();
                    data.insert(who);
                    data.insert(DataLoader::new(OrgName(engine.clone()), tokio::spawn));
                    Ok(data)
                })
                .serve()
        })
}

async fn readyz(State(s): State<AppState>) -> (StatusCode, String) {
    if let Err(e) = s.engine.store().ping().await {
        tracing::warn!(error = %e, "database not reachable");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "database unreachable".into(),
        );
    }
    let problems: Vec<String> = s.ready_checks.iter().filter_map(|c| c()).collect();
    if problems.is_empty() {
        (StatusCode::OK, "ready".into())
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, problems.join("\n"))
    }
}

async fn render_metrics(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
}
