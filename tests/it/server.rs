//! The real server on a random port against a test database — built in this test's process
//! by `carepath::startup` (as zero-to-production's `spawn_app`), or, where a test needs a
//! process of its own (its log, its metrics, a second process on the same database), as
//! `carepath serve` — and a client that speaks GraphQL to it over HTTP and WebSocket.

use crate::support::{Backend, TestDb};
use carepath_engine::Engine;
use carepath_engine::clock::SystemClock;
use carepath_engine::domain::{MatService, Role};
use carepath_engine::ids::OrgId;
use carepath_engine::pathway::LevelId;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next message on a subscription as JSON, or `None` after `secs` seconds.
pub async fn next_message(ws: &mut Ws, secs: u64) -> Option<Value> {
    use futures::StreamExt;
    let msg = tokio::time::timeout(Duration::from_secs(secs), ws.next())
        .await
        .ok()??
        .ok()?;
    serde_json::from_str(msg.to_text().ok()?).ok()
}

/// How the server runs.
enum Running {
    /// In this test's process; dropping the sender shuts it down, the handle says when it
    /// has.
    InProcess(
        Option<tokio::sync::oneshot::Sender<()>>,
        Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    ),
    /// `carepath serve` as a child process.
    Process(Child),
}

pub struct TestServer {
    pub url: String,
    /// An engine on the same database, for setting up organizations and tokens.
    pub engine: Engine,
    running: Running,
    http: reqwest::Client,
    pub db_url: String,
    /// The database, dropped with the server that created it.
    _db: Option<TestDb>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Running::Process(child) = &mut self.running {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl TestServer {
    /// The application built in this process on a fresh database, serving on port 0; `env`:
    /// `CAREPATH_*` settings, as `carepath serve` reads them from the environment. The relay
    /// runs when `CAREPATH_AMQP_URL` is given (a vhost of the test's own).
    pub async fn start_with(backend: Backend, env: &[(&str, &str)]) -> Self {
        let db = TestDb::new(backend).await;
        let mut s = Self::serve_on(&db.url, env)
            .await
            .expect("build the application");
        s._db = Some(db);
        s
    }

    /// The application built in this process on `db_url`, a database that outlives it;
    /// refused as `Application::build` refuses (a database marked for the other clock).
    pub async fn serve_on(db_url: &str, env: &[(&str, &str)]) -> anyhow::Result<Self> {
        let relay = if env.iter().any(|(k, _)| *k == "CAREPATH_AMQP_URL") {
            "true"
        } else {
            "false"
        };
        let mut vars = vec![
            ("CAREPATH_DATABASE_URL", db_url),
            ("CAREPATH_LISTEN", "127.0.0.1:0"),
            ("CAREPATH_TIMER_INTERVAL_SECS", "1"),
            ("CAREPATH_RELAY_ENABLED", relay),
        ];
        vars.extend_from_slice(env);
        let config = carepath::config::Config::default()
            .with_vars(&vars)
            .expect("test server settings");
        let app = carepath::startup::Application::build(config).await?;
        let url = format!("http://{}", app.address().expect("bound address"));
        let engine = app.engine().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        Ok(TestServer {
            url,
            engine,
            running: Running::InProcess(Some(stop), Some(running)),
            http: reqwest::Client::new(),
            db_url: db_url.to_owned(),
            _db: None,
        })
    }

    /// Stop a server built in this process and wait until it has stopped (its database
    /// stays when it was given to [`Self::serve_on`]).
    pub async fn stop(mut self) {
        if let Running::InProcess(stop, running) = &mut self.running {
            drop(stop.take());
            if let Some(running) = running.take() {
                tokio::time::timeout(Duration::from_secs(30), running)
                    .await
                    .expect("the server stops within 30 s")
                    .expect("join")
                    .expect("the server ran");
            }
        }
    }

    /// A response's headers and JSON body, for what a client reads beside the data.
    pub async fn post_with_headers(
        &self,
        token: Option<&str>,
        body: Value,
    ) -> (reqwest::header::HeaderMap, Value) {
        let mut req = self.http.post(format!("{}/graphql", self.url)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("POST /graphql");
        let headers = resp.headers().clone();
        (headers, resp.json().await.expect("a JSON response"))
    }

    /// `carepath serve` as a process of its own on a fresh database, its log (stderr) to
    /// `log`, or to the test's own stderr.
    pub async fn start_process(
        backend: Backend,
        env: &[(&str, &str)],
        log: Option<&std::path::Path>,
    ) -> Self {
        let db = TestDb::new(backend).await;
        let engine = db.engine(Arc::new(SystemClock)).await;
        let (url, child) = Self::spawn(&db.url, env, log).await;
        let db_url = db.url.clone();
        TestServer {
            url,
            engine,
            running: Running::Process(child),
            http: reqwest::Client::new(),
            db_url,
            _db: Some(db),
        }
    }

    /// Another server process on `first`'s database.
    pub async fn attach(first: &TestServer, env: &[(&str, &str)]) -> Self {
        let db_url = first.db_url.clone();
        let (url, child) = Self::spawn(&db_url, env, None).await;
        TestServer {
            url,
            engine: first.engine.clone(),
            running: Running::Process(child),
            http: reqwest::Client::new(),
            _db: None,
            db_url,
        }
    }

    async fn spawn(
        db_url: &str,
        env: &[(&str, &str)],
        log: Option<&std::path::Path>,
    ) -> (String, Child) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_carepath"));
        cmd.arg("serve")
            .env("CAREPATH_DATABASE_URL", db_url)
            .env("CAREPATH_LISTEN", "127.0.0.1:0")
            .env("CAREPATH_TIMER_INTERVAL_SECS", "1")
            .env(
                "CAREPATH_LOG",
                std::env::var("CAREPATH_TEST_SERVER_LOG").unwrap_or("warn,lapin=off".into()),
            )
            // Tests that want the broker pass CAREPATH_AMQP_URL with a vhost of their own.
            .env(
                "CAREPATH_RELAY_ENABLED",
                if env.iter().any(|(k, _)| *k == "CAREPATH_AMQP_URL") {
                    "true"
                } else {
                    "false"
                },
            )
            .stdout(Stdio::piped())
            .stderr(match log {
                Some(path) => Stdio::from(std::fs::File::create(path).expect("log file")),
                None => Stdio::inherit(),
            });
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start carepath serve");
        let stdout = child.stdout.take().expect("stdout");
        let url = tokio::task::spawn_blocking(move || {
            let mut lines = BufReader::new(stdout).lines();
            let line = lines
                .next()
                .expect("carepath serve printed nothing")
                .expect("read stdout");
            // Keep draining so the server never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            match serde_json::from_str::<Value>(&line) {
                // log_format = "json": the line is JSON too.
                Ok(v) => v["address"].as_str().expect("address").to_owned(),
                Err(_) => line.rsplit(' ').next().expect("address").to_owned(),
            }
        });
        let url = tokio::time::timeout(Duration::from_secs(60), url)
            .await
            .expect("carepath serve did not start within 60 s")
            .expect("join");
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "unexpected first line: {url}"
        );
        (url, child)
    }

    /// A registered organization offering `levels` (capacity 50 each).
    pub async fn org(&self, name: &str, levels: &[&str]) -> OrgId {
        let admin = carepath_engine::domain::Actor::new(OrgId(uuid::Uuid::nil()), Role::Admin);
        let id = OrgId::new();
        self.engine
            .register_org(&admin, id, name)
            .await
            .expect("org");
        for l in levels {
            self.engine
                .set_capacity(&admin, id, &LevelId::new(*l), 50)
                .await
                .expect("capacity");
        }
        id
    }

    /// A registered organization offering no level of care and providing the MAT
    /// `services`.
    pub async fn mat_provider(&self, name: &str, services: &[MatService]) -> OrgId {
        let admin = carepath_engine::domain::Actor::new(OrgId(uuid::Uuid::nil()), Role::Admin);
        let id = OrgId::new();
        self.engine
            .register_provider(&admin, id, name, &[], services)
            .await
            .expect("MAT provider");
        id
    }

    pub async fn token(&self, org: OrgId, role: Role) -> String {
        self.engine
            .create_token(org, role, Some("test"), 1, None)
            .await
            .expect("token")
    }

    /// A GraphQL subscription over WebSocket (graphql-transport-ws) as the holder of `token`,
    /// acknowledged and subscribed.
    pub async fn subscribe(&self, token: &str, query: &str) -> Ws {
        use futures::SinkExt;
        use futures::StreamExt;
        use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
        let ws_url = self.url.replacen("http://", "ws://", 1) + "/graphql/ws";
        let mut req = ws_url.into_client_request().unwrap();
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(req)
            .await
            .expect("websocket");
        ws.send(Message::text(
            json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } })
                .to_string(),
        ))
        .await
        .unwrap();
        let ack = ws.next().await.unwrap().unwrap();
        assert!(ack.to_text().unwrap().contains("connection_ack"), "{ack:?}");
        ws.send(Message::text(
            json!({ "id": "1", "type": "subscribe", "payload": { "query": query } }).to_string(),
        ))
        .await
        .unwrap();
        ws
    }

    /// POST a GraphQL request; the whole JSON response.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        self.post(token, json!({ "query": query, "variables": variables }))
            .await
    }

    pub async fn post(&self, token: Option<&str>, body: Value) -> Value {
        let mut req = self.http.post(format!("{}/graphql", self.url)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("POST /graphql");
        resp.json().await.expect("a JSON response")
    }

    /// POST raw bytes to `/graphql` with `content_type` (and a token): status and body.
    pub async fn post_raw(
        &self,
        token: Option<&str>,
        content_type: &str,
        body: &str,
    ) -> (u16, String) {
        let mut req = self
            .http
            .post(format!("{}/graphql", self.url))
            .header("content-type", content_type)
            .body(body.to_owned());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("POST /graphql");
        (resp.status().as_u16(), resp.text().await.expect("body"))
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let resp = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("GET");
        (resp.status().as_u16(), resp.text().await.expect("body"))
    }

    /// `data` of a response that must have succeeded.
    pub async fn ok(&self, token: &str, query: &str, variables: Value) -> Value {
        let r = self.gql(Some(token), query, variables).await;
        assert!(
            r.get("errors").is_none(),
            "unexpected errors: {r:#}\nquery: {query}"
        );
        r["data"].clone()
    }

    /// The `extensions.code` of the first error of a response that must have failed.
    pub async fn code(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (String, Value) {
        let r = self.gql(token, query, variables).await;
        let e = r["errors"]
            .get(0)
            .unwrap_or_else(|| panic!("expected an error: {r:#}"))
            .clone();
        let code = e["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no code: {e:#}"))
            .to_owned();
        (code, e)
    }
}
