//! A small GraphQL-over-HTTP client that times every mutation.

use anyhow::{Context as _, bail};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Paces all workers together to a rate (mutations per second), when one is set.
#[derive(Clone)]
pub struct Pacer(Option<Arc<Mutex<(Instant, Duration)>>>);

impl Pacer {
    pub fn new(rate: Option<f64>) -> Self {
        Self(rate.filter(|r| *r > 0.0).map(|r| {
            Arc::new(Mutex::new((
                Instant::now(),
                Duration::from_secs_f64(1.0 / r),
            )))
        }))
    }

    async fn wait(&self) {
        let Some(slot) = &self.0 else { return };
        let at = {
            let mut s = slot.lock().expect("pacer");
            let now = Instant::now();
            let at = s.0.max(now);
            s.0 = at + s.1;
            at
        };
        tokio::time::sleep_until(at.into()).await;
    }
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    url: String,
    pub latencies: Arc<Mutex<Histogram<u64>>>,
    pacer: Pacer,
}

impl Client {
    pub fn new(url: &str, pacer: Pacer) -> Self {
        Self {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(256)
                .build()
                .expect("http client"),
            url: format!("{url}/graphql"),
            latencies: Arc::new(Mutex::new(
                Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram"),
            )),
            pacer,
        }
    }

    /// Run a mutation; record its latency (µs); its `data`.
    pub async fn mutate(
        &self,
        token: &str,
        query: &str,
        variables: Value,
    ) -> anyhow::Result<Value> {
        self.pacer.wait().await;
        let started = Instant::now();
        let v = self.post(token, query, variables).await?;
        let us = started.elapsed().as_micros() as u64;
        self.latencies
            .lock()
            .expect("histogram")
            .record(us.max(1))
            .ok();
        Ok(v)
    }

    pub async fn query(&self, token: &str, query: &str, variables: Value) -> anyhow::Result<Value> {
        self.post(token, query, variables).await
    }

    async fn post(&self, token: &str, query: &str, variables: Value) -> anyhow::Result<Value> {
        let resp: Value = self
            .http
            .post(&self.url)
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .context("POST /graphql")?
            .json()
            .await
            .context("GraphQL response")?;
        if let Some(errors) = resp.get("errors") {
            bail!("GraphQL errors: {errors}");
        }
        Ok(resp["data"].clone())
    }
}
