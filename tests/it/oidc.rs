//! A real OpenID Connect provider for the single sign-on tests: `tests/oidc/provider.mjs`, the
//! certified npm package `oidc-provider` under Node, as a child process on 127.0.0.1 (killed
//! when the [`OidcProvider`] is dropped), with the clients and accounts a test gives it and a
//! login page of its own.
//!
//! It needs Node (`$CAREPATH_NODE`, else `node` on the `PATH`) and the package installed from
//! `tests/oidc/package-lock.json` into `$CAREPATH_OIDC_PROVIDER` (default
//! `/var/tmp/carepath-node`); `scripts/test` brings both. Without them a test fails and says
//! what to install: none is skipped.

use serde::Serialize;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Where `scripts/test` installs the provider's packages unless told otherwise.
const DEFAULT_PACKAGES: &str = "/var/tmp/carepath-node";

/// A client registered at the provider (a confidential client: secret sent by HTTP Basic).
#[derive(Clone, Debug, Serialize)]
pub struct Client {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
}

impl Client {
    /// A client of the console at `base` (its URL): its callback and sign-in page registered.
    pub fn of_console(client_id: &str, client_secret: &str, base: &str) -> Self {
        Client {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            redirect_uris: vec![format!("{base}/sign-in/sso/callback")],
            post_logout_redirect_uris: vec![format!("{base}/sign-in")],
        }
    }
}

/// A person the provider knows; they sign in on its page with `sub` or `email` as login name.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Account {
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub email_verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// The authentication methods the provider says it used (`pwd`, `otp`, `mfa`, …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
}

impl Account {
    /// A person with a verified e-mail address, signing in with a password and a code.
    pub fn new(sub: &str, email: &str, name: &str) -> Self {
        Account {
            sub: sub.into(),
            email: Some(email.into()),
            email_verified: true,
            name: Some(name.into()),
            amr: vec!["pwd".into(), "otp".into()],
            ..Account::default()
        }
    }
}

#[derive(Serialize)]
struct Config<'a> {
    clients: &'a [Client],
    accounts: &'a [Account],
    id_token_claims: bool,
    id_token_ttl: u64,
}

/// The provider, running; stopped when dropped.
pub struct OidcProvider {
    /// Its issuer, `http://127.0.0.1:<port>` (discovery under `/.well-known/`).
    pub issuer: String,
    child: Child,
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn missing(what: String) -> ! {
    panic!(
        "{what}. The single sign-on tests run a real OpenID Connect provider (tests/oidc, the npm \
         package oidc-provider) under Node: run scripts/test, which installs Debian's nodejs \
         and npm when missing and the package with `npm ci --prefix {DEFAULT_PACKAGES}` from \
         tests/oidc; or install Node 20.19 or later and run `npm ci` into a folder named by \
         CAREPATH_OIDC_PROVIDER (CAREPATH_NODE may name the node binary)."
    )
}

fn node() -> PathBuf {
    if let Some(path) = std::env::var_os("CAREPATH_NODE").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        if !path.is_file() {
            missing(format!("CAREPATH_NODE is {}, not a file", path.display()));
        }
        return path;
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("node"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| missing("`node` is not on the PATH".into()))
}

fn packages() -> PathBuf {
    let dir = std::env::var_os("CAREPATH_OIDC_PROVIDER")
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_PACKAGES), PathBuf::from);
    if !dir
        .join("node_modules/oidc-provider/package.json")
        .is_file()
    {
        missing(format!(
            "the npm package oidc-provider is not installed in {}",
            dir.display()
        ));
    }
    dir
}

impl OidcProvider {
    /// A provider with these clients and accounts whose ID tokens carry the person's claims
    /// (e-mail, name, groups) as Entra ID's and Okta's do.
    pub fn start(clients: &[Client], accounts: &[Account]) -> Self {
        Self::start_with(clients, accounts, true, 3600)
    }

    /// A provider whose ID tokens carry the person's claims (`id_token_claims`) or only
    /// `sub`, `amr` and `acr` and the groups, the rest in UserInfo (Core 5.4), and are good for
    /// `id_token_ttl` seconds.
    pub fn start_with(
        clients: &[Client],
        accounts: &[Account],
        id_token_claims: bool,
        id_token_ttl: u64,
    ) -> Self {
        let node = node();
        let packages = packages();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc/provider.mjs");
        let config = serde_json::to_string(&Config {
            clients,
            accounts,
            id_token_claims,
            id_token_ttl,
        })
        .expect("the provider's configuration as JSON");
        let mut child = Command::new(&node)
            .arg(&script)
            .arg(config)
            .env("CAREPATH_OIDC_PROVIDER", &packages)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| missing(format!("{} could not be run: {e}", node.display())));
        let stdout = child.stdout.take().expect("the provider's stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut out = BufReader::new(stdout);
            let mut line = String::new();
            let _ = out.read_line(&mut line);
            let _ = tx.send(line);
            // Whatever it prints later is read too (a closed pipe would end it).
            let _ = std::io::copy(&mut out, &mut std::io::sink());
        });
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        let issuer = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| v["issuer"].as_str().map(str::to_owned));
        let Some(issuer) = issuer else {
            let _ = child.kill();
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            let _ = child.wait();
            panic!(
                "the OpenID Connect provider ({} {}) did not start: it printed {line:?}\n{err}",
                node.display(),
                script.display()
            );
        };
        // Its warnings (a development adapter, the Node version) are not the test's output.
        if let Some(mut e) = child.stderr.take() {
            std::thread::spawn(move || std::io::copy(&mut e, &mut std::io::sink()));
        }
        OidcProvider { issuer, child }
    }

    /// Change what the provider says of its people from now on (its accounts, all of them).
    pub async fn set_accounts(&self, accounts: &[Account]) {
        let resp = reqwest::Client::new()
            .put(format!("{}/test/accounts", self.issuer))
            .json(accounts)
            .send()
            .await
            .expect("the provider answers");
        assert_eq!(resp.status(), 204, "the provider took the accounts");
    }
}
