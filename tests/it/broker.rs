//! RabbitMQ for tests: a vhost of the test's own (and users in it), removed when it ends;
//! a queue bound to `carepath.events` to read what the relay published.

use lapin::options::{BasicAckOptions, BasicGetOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use serde_json::Value;
use std::collections::HashSet;
use std::process::Command;
use std::time::{Duration, Instant};

fn rabbitmqctl(args: &[&str]) -> String {
    let out = Command::new("rabbitmqctl").args(args).output().unwrap_or_else(|e| {
        panic!("rabbitmqctl could not run ({e}): these tests need RabbitMQ on this machine (start it with `rabbitmq-server -detached`, as scripts/test does)")
    });
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?} failed: {}{}\nIs RabbitMQ running? Start it with `rabbitmq-server -detached` (scripts/test does).",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub struct TestVhost {
    pub name: String,
    users: Vec<String>,
}

impl TestVhost {
    pub fn new() -> Self {
        if std::net::TcpStream::connect_timeout(
            &"127.0.0.1:5672".parse().unwrap(),
            Duration::from_secs(2),
        )
        .is_err()
        {
            panic!(
                "RabbitMQ is not answering on 127.0.0.1:5672: start it with `rabbitmq-server -detached` (scripts/test does)"
            );
        }
        let name = format!("carepath_test_{}", uuid::Uuid::new_v4().simple());
        rabbitmqctl(&["-q", "add_vhost", &name]);
        rabbitmqctl(&[
            "-q",
            "set_permissions",
            "-p",
            &name,
            "guest",
            ".*",
            ".*",
            ".*",
        ]);
        TestVhost {
            name,
            users: Vec::new(),
        }
    }

    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:5672/{}", self.name)
    }

    /// How many client connections are open on this vhost.
    pub fn connections(&self) -> usize {
        rabbitmqctl(&["-q", "list_connections", "vhost"])
            .lines()
            .filter(|l| l.trim() == self.name)
            .count()
    }

    /// A broker user with rights in this vhost; returns its URL.
    pub fn add_user(&mut self, prefix: &str) -> (String, String) {
        let user = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let pass = uuid::Uuid::new_v4().simple().to_string();
        rabbitmqctl(&["-q", "add_user", &user, &pass]);
        rabbitmqctl(&[
            "-q",
            "set_permissions",
            "-p",
            &self.name,
            &user,
            ".*",
            ".*",
            ".*",
        ]);
        self.users.push(user.clone());
        let url = format!("amqp://{user}:{pass}@127.0.0.1:5672/{}", self.name);
        (user, url)
    }

    /// Close every client connection in this vhost (a broker outage, as clients see it).
    pub fn close_connections(&self) {
        rabbitmqctl(&[
            "-q",
            "close_all_connections",
            "--vhost",
            &self.name,
            "test outage",
        ]);
    }
}

impl Drop for TestVhost {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl")
            .args(["-q", "delete_vhost", &self.name])
            .output();
        for u in &self.users {
            let _ = Command::new("rabbitmqctl")
                .args(["-q", "delete_user", u])
                .output();
        }
    }
}

pub async fn connect(url: &str) -> Connection {
    Connection::connect(url, ConnectionProperties::default())
        .await
        .expect("connect to RabbitMQ")
}

/// A durable queue bound to every event (`#`) or to `binding`.
pub async fn bind_queue(url: &str, binding: &str) -> String {
    bind_queue_with(url, binding, FieldTable::default()).await
}

/// A durable queue bound to `binding`, declared with `args` (a length limit, say).
pub async fn bind_queue_with(url: &str, binding: &str, args: FieldTable) -> String {
    let conn = connect(url).await;
    let ch = conn.create_channel().await.unwrap();
    carepath_relay::topology::declare_events(&ch).await.unwrap();
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    ch.queue_declare(
        name.as_str().into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        args,
    )
    .await
    .unwrap();
    ch.queue_bind(
        name.as_str().into(),
        carepath_relay::topology::EVENTS_EXCHANGE.into(),
        binding.into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let _ = conn.close(200, "bound".into()).await;
    name
}

/// A message as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub routing_key: String,
    pub properties: BasicProperties,
    pub body: serde_json::Value,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<String> {
        carepath_relay::cloudevents::header(&self.properties, name)
    }
}

/// Read `queue` until `done` says so or `timeout` passes; reconnects when the broker
/// drops the connection.
pub async fn drain(
    url: &str,
    queue: &str,
    timeout: Duration,
    done: impl Fn(&[Received]) -> bool,
) -> Vec<Received> {
    let deadline = Instant::now() + timeout;
    let mut got = Vec::new();
    while Instant::now() < deadline && !done(&got) {
        let Ok(conn) = Connection::connect(url, ConnectionProperties::default()).await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let Ok(ch) = conn.create_channel().await else {
            continue;
        };
        while Instant::now() < deadline && !done(&got) {
            match ch.basic_get(queue.into(), BasicGetOptions::default()).await {
                Ok(Some(m)) => {
                    let d = m.delivery;
                    got.push(Received {
                        routing_key: d.routing_key.as_str().to_owned(),
                        properties: d.properties.clone(),
                        body: serde_json::from_slice(&d.data).unwrap_or_else(|_| {
                            Value::String(String::from_utf8_lossy(&d.data).into_owned())
                        }),
                    });
                    let _ = d.ack(BasicAckOptions::default()).await;
                }
                Ok(None) => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(_) => break,
            }
        }
        let _ = conn.close(200, "drained".into()).await;
    }
    got
}

/// Keep the first copy of each `ce-id`, in arrival order.
pub fn unique(messages: &[Received]) -> Vec<Received> {
    let mut seen = HashSet::new();
    messages
        .iter()
        .filter(|m| seen.insert(m.header("ce-id").expect("ce-id")))
        .cloned()
        .collect()
}
