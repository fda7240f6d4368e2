//! The HTTP surface: `POST /graphql` (introspection-only queries answered by the schema of
//! `introspection.rs`), GraphiQL on `GET /graphql` with its files (`graphiql.rs`),
//! subscriptions over WebSocket (graphql-transport-ws) on `/graphql/ws`, `/healthz`,
//! `/readyz`, `/metrics`.

use crate::context::Caller;
use crate::introspection::{self, Route};
use crate::loaders::Orgs;
use crate::{CarepathSchema, error, graphiql};
use async_graphql::dataloader::DataLoader;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::{Data, ErrorExtensions};
use async_graphql_axum::{GraphQLProtocol, GraphQLResponse, GraphQLWebSocket};
use axum::Router;
use axum::extract::ws::{CloseFrame, Message};
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use carepath_engine::Engine;
use metrics_exporter_prometheus::PrometheusHandle;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Clone)]
struct AppState {
    engine: Engine,
    schema: CarepathSchema,
    /// Answers introspection-only queries (`crate::introspection`).
    introspection: CarepathSchema,
    metrics: PrometheusHandle,
    /// Extra readiness checks (e.g. the relay), each returning a problem if not ready.
    ready_checks: std::sync::Arc<Vec<ReadyCheck>>,
}

/// A readiness check: `Some(problem)` when not ready.
pub type ReadyCheck = Box<dyn Fn() -> Option<String> + Send + Sync>;

pub fn router(engine: Engine, metrics: PrometheusHandle, ready_checks: Vec<ReadyCheck>) -> Router {
    let state = AppState {
        schema: crate::schema(engine.clone()),
        introspection: crate::introspection_schema(),
        engine,
        metrics,
        ready_checks: std::sync::Arc::new(ready_checks),
    };
    Router::new()
        .route("/graphql", get(graphiql::page).post(graphql))
        .route("/graphql/assets/{name}", get(graphiql::asset))
        .route("/graphql/ws", get(ws))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_BODY_BYTES,
        ))
        .layer(axum::middleware::map_response(too_large))
        .with_state(state)
}

/// A body over [`MAX_BODY_BYTES`] — refused by the limit before anything reads it (its
/// `Content-Length`), or while it is read — answered as every refusal is: JSON, `BAD_INPUT`.
async fn too_large(resp: Response) -> Response {
    if resp.status() != StatusCode::PAYLOAD_TOO_LARGE {
        return resp;
    }
    refused(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body is over {MAX_BODY_BYTES} bytes"),
    )
    .into_response()
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// `ok`; on a time-skipping server, says so with its clock; while events are published later
/// than the limit, says so (the process is alive: still `200`).
async fn healthz(State(s): State<AppState>) -> String {
    let mut out = String::from("ok");
    if let Some(now) = s.engine.time_skipping() {
        out.push_str(&format!(
            "\ntime skipping: the clock stands at {}\n",
            rfc3339(now)
        ));
    }
    let lag = s.engine.event_lag();
    if let (true, Some(limit)) = (lag.behind, lag.limit) {
        out.push_str(&format!(
            "\nevents behind: the oldest waiting event was committed {} ms ago, over the limit \
             of {} ms; commands are paced until the relay catches up\n",
            lag.lag.as_millis(),
            limit.as_millis()
        ));
    }
    out
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

/// A request refused before it is executed: answered with its status and a GraphQL-shaped
/// JSON body, code `BAD_INPUT` and a plain message.
struct Refusal {
    status: StatusCode,
    message: String,
}

fn refused(status: StatusCode, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        message: message.into(),
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "errors": [{ "message": self.message, "extensions": { "code": error::BAD_INPUT } }]
        });
        (self.status, axum::Json(body)).into_response()
    }
}

/// The body of `POST /graphql` as one GraphQL request: JSON (`application/json` or
/// `application/graphql-response+json`) holding one object with `query`, optional
/// `variables` (an object) and `operationName`. Anything else is refused, so a form another
/// site posts (`text/plain`, `application/x-www-form-urlencoded`) never runs a mutation.
fn parse_request(headers: &HeaderMap, body: &[u8]) -> Result<async_graphql::Request, Refusal> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    match content_type.as_deref() {
        Some("application/json") | Some("application/graphql-response+json") => {}
        other => {
            return Err(refused(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "a GraphQL request is sent as application/json, not {}",
                    other.unwrap_or("without a content type")
                ),
            ));
        }
    }
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        refused(
            StatusCode::BAD_REQUEST,
            format!("the request body is not JSON: {e}"),
        )
    })?;
    let serde_json::Value::Object(fields) = &value else {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            if value.is_array() {
                "batched requests are not supported: send one request object".to_owned()
            } else {
                "the request body is a JSON object with `query`".to_owned()
            },
        ));
    };
    if !fields.get("query").is_some_and(|q| q.is_string()) {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "the request needs `query`, a string",
        ));
    }
    if fields
        .get("variables")
        .is_some_and(|v| !v.is_object() && !v.is_null())
    {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "`variables` is a JSON object",
        ));
    }
    if fields
        .get("operationName")
        .is_some_and(|v| !v.is_string() && !v.is_null())
    {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "`operationName` is a string",
        ));
    }
    serde_json::from_value(value).map_err(|e| {
        refused(
            StatusCode::BAD_REQUEST,
            format!("not a GraphQL request: {e}"),
        )
    })
}

async fn graphql(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut req = match parse_request(&headers, &body) {
        Ok(r) => r,
        Err(refusal) => return refusal.into_response(),
    };
    // A syntax error is the ordinary schema's to report.
    let route = req
        .parsed_query()
        .map_or(Route::Ordinary, introspection::route);
    let mut resp = match route {
        Route::Introspection => s.introspection.execute(req).await,
        Route::Refused(reason) => {
            async_graphql::Response::from_errors(vec![async_graphql::ServerError::new(
                reason, None,
            )])
        }
        Route::Ordinary => {
            let who = match caller(&s.engine, bearer(&headers)).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "authentication failed");
                    return (StatusCode::SERVICE_UNAVAILABLE, "storage unavailable")
                        .into_response();
                }
            };
            let req = req
                .data(who)
                .data(DataLoader::new(Orgs(s.engine.clone()), tokio::spawn));
            s.schema.execute(req).await
        }
    };
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

async fn ws(
    State(s): State<AppState>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let engine = s.engine.clone();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |stream| {
            // graphql-transport-ws closes a refused connection_init with 4403 (Forbidden);
            // async-graphql closes it with 1002, so the close frame is rewritten on its way.
            let (sink, stream) = futures::StreamExt::split(stream);
            let sink = futures::SinkExt::with(sink, |m: Message| {
                futures::future::ready(Ok::<_, axum::Error>(forbidden_close(m)))
            });
            GraphQLWebSocket::new_with_pair(sink, stream, s.schema.clone(), protocol)
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
                    data.insert(DataLoader::new(Orgs(engine.clone()), tokio::spawn));
                    Ok(data)
                })
                .serve()
        })
}

/// The close frame for a refused connection_init (no valid token) gets the protocol's code.
fn forbidden_close(m: Message) -> Message {
    match m {
        Message::Close(Some(frame))
            if frame.code == 1002 && frame.reason.as_str() == error::UNAUTHENTICATED_MESSAGE =>
        {
            Message::Close(Some(CloseFrame {
                code: 4403,
                reason: "Forbidden".into(),
            }))
        }
        other => other,
    }
}

async fn readyz(State(s): State<AppState>) -> (StatusCode, String) {
    if let Err(e) = s.engine.ping().await {
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
