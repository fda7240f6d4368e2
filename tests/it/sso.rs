//! Single sign-on against a real OpenID Connect provider (`oidc.rs`: the npm package
//! oidc-provider, with a login page of its own): the protocol — discovery, the authorization
//! code with state, nonce and PKCE, the ID token's signature, issuer, audience, expiry and
//! nonce — and the console's routes on the in-process server, driven over HTTP by a client
//! that keeps cookies and follows redirects by hand, and once in Chromium.

#[path = "oidc.rs"]
pub mod oidc;

use carepath_console::sso::Failure;
use carepath_console::sso::oidc::{Flow, begin, finish, verify_id_token};
use carepath_engine::domain::SsoSettings;
use oidc::{Account, Client, OidcProvider};
use reqwest::Url;
use std::collections::{BTreeMap, HashMap};

/// A browser without the browser: cookies kept per origin (scheme, host and port), redirects
/// followed by hand.
pub struct Walker {
    http: reqwest::Client,
    jar: HashMap<String, BTreeMap<String, String>>,
}

/// One answer: where it came from, its status, where it sends on to, its body.
pub struct Step {
    pub url: Url,
    pub status: u16,
    pub location: Option<Url>,
    pub set_cookie: Vec<String>,
    pub body: String,
}

fn origin(url: &Url) -> String {
    format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

impl Walker {
    pub fn new() -> Self {
        Walker {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            jar: HashMap::new(),
        }
    }

    async fn send(&mut self, url: Url, form: Option<&[(&str, &str)]>) -> Step {
        let cookies = self
            .jar
            .get(&origin(&url))
            .map(|c| {
                c.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        let mut req = match form {
            Some(form) => self.http.post(url.clone()).form(form),
            None => self.http.get(url.clone()),
        };
        if !cookies.is_empty() {
            req = req.header("cookie", cookies);
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .map(|l| url.join(l.to_str().unwrap()).expect("a location"));
        let set_cookie: Vec<String> = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let jar = self.jar.entry(origin(&url)).or_default();
        for c in &set_cookie {
            let pair = c.split(';').next().unwrap_or("");
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let gone = value.is_empty()
                || c.to_ascii_lowercase().contains("max-age=0")
                || c.to_ascii_lowercase().contains("expires=thu, 01 jan 1970");
            if gone {
                jar.remove(name.trim());
            } else {
                jar.insert(name.trim().to_owned(), value.to_owned());
            }
        }
        let body = resp.text().await.unwrap_or_default();
        Step {
            url,
            status,
            location,
            set_cookie,
            body,
        }
    }

    pub async fn get(&mut self, url: &str) -> Step {
        self.send(Url::parse(url).expect("a URL"), None).await
    }

    pub async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Step {
        self.send(Url::parse(url).expect("a URL"), Some(form)).await
    }

    /// GET `url` and follow its redirects until one leads under `stop` (that answer, not
    /// followed) or an answer is not a redirect.
    pub async fn walk(&mut self, url: &str, stop: &str) -> Step {
        let mut step = self.get(url).await;
        for _ in 0..10 {
            match &step.location {
                Some(next) if (300..400).contains(&step.status) => {
                    if next.as_str().starts_with(stop) {
                        return step;
                    }
                    let next = next.to_string();
                    step = self.get(&next).await;
                }
                _ => return step,
            }
        }
        panic!("more than 10 redirects from {url}");
    }

    /// The value of cookie `name` held for the origin of `url`.
    pub fn cookie(&self, url: &str, name: &str) -> Option<&str> {
        self.jar
            .get(&origin(&Url::parse(url).unwrap()))?
            .get(name)
            .map(String::as_str)
    }
}

/// Sign in as `login` on the provider's own page, from the authorization request `auth`:
/// the address the provider sends the browser back to (under `callback`, not followed).
pub async fn sign_in_at_provider(w: &mut Walker, auth: &str, login: &str, callback: &str) -> Url {
    let page = w.walk(auth, callback).await;
    assert_eq!(page.status, 200, "the provider's login page: {}", page.body);
    let action = {
        let doc = scraper::Html::parse_document(&page.body);
        let form = scraper::Selector::parse("form").unwrap();
        let action = doc
            .select(&form)
            .next()
            .and_then(|f| f.value().attr("action"))
            .unwrap_or_else(|| panic!("no form on the provider's page: {}", page.body))
            .to_owned();
        page.url.join(&action).unwrap()
    };
    let sent = w
        .post(action.as_str(), &[("login", login), ("password", "any")])
        .await;
    let next = sent
        .location
        .unwrap_or_else(|| panic!("the provider refused the login {login:?}: {}", sent.body));
    if next.as_str().starts_with(callback) {
        return next;
    }
    let back = w.walk(next.as_str(), callback).await;
    back.location
        .filter(|l| l.as_str().starts_with(callback))
        .unwrap_or_else(|| {
            panic!(
                "the provider did not send the browser back: {} {}",
                back.status, back.body
            )
        })
}

fn query(url: &Url) -> HashMap<String, String> {
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// An organization's settings for the client `client` of `provider`: roles from `groups`.
pub fn settings(provider: &OidcProvider, client: &Client) -> SsoSettings {
    SsoSettings {
        issuer: provider.issuer.clone(),
        client_id: client.client_id.clone(),
        client_secret: client.client_secret.clone(),
        role_claim: None,
        role_values: Vec::new(),
        provision: false,
        require_mfa: false,
        required_acr: None,
    }
}

fn ann() -> Account {
    Account {
        groups: vec!["carepath-case-managers".into()],
        ..Account::new("ann-0001", "ann@harbor.example", "Ann Harbor")
    }
}

/// A console that is never contacted: the protocol tests stop where the provider sends the
/// browser back.
const NOWHERE: &str = "http://127.0.0.1:9";

/// Through the provider's login page, for the client `client` (of the console at `NOWHERE`):
/// the flow and the code the provider sent back.
async fn code_for(settings: &SsoSettings, login: &str) -> (Flow, String, Option<String>) {
    let callback = format!("{NOWHERE}/sign-in/sso/callback");
    let (auth, flow) = begin(settings, &callback).await.expect("begin");
    let asked = query(&Url::parse(&auth).unwrap());
    assert_eq!(asked["response_type"], "code");
    assert_eq!(asked["code_challenge_method"], "S256");
    assert_eq!(asked["state"], flow.state);
    assert_eq!(asked["nonce"], flow.nonce);
    assert!(asked["scope"].split(' ').any(|s| s == "openid"));
    let mut w = Walker::new();
    let back = sign_in_at_provider(&mut w, &auth, login, &callback).await;
    let q = query(&back);
    assert_eq!(q.get("state"), Some(&flow.state), "the state comes back");
    let code = q.get("code").expect("a code").clone();
    (flow, code, q.get("iss").cloned())
}

#[tokio::test]
async fn sso_protocol_the_provider_signs_a_person_in_and_the_id_token_reads_as_claims() {
    let a = Client::of_console("console-a", "secret-a-0123456789", NOWHERE);
    let provider = OidcProvider::start(std::slice::from_ref(&a), &[ann()]);
    let mut settings = settings(&provider, &a);
    settings.role_claim = Some("groups".into());
    let callback = format!("{NOWHERE}/sign-in/sso/callback");

    let (flow, code, iss) = code_for(&settings, "ann@harbor.example").await;
    let done = finish(&settings, &callback, &flow, &code, iss.as_deref())
        .await
        .expect("the code exchanged and the ID token verified");
    let c = &done.claims;
    assert_eq!(c.subject, "ann-0001");
    assert_eq!(c.email.as_deref(), Some("ann@harbor.example"));
    assert!(c.email_verified);
    assert_eq!(c.name.as_deref(), Some("Ann Harbor"));
    assert_eq!(c.roles, vec!["carepath-case-managers".to_owned()]);
    assert_eq!(c.amr, vec!["pwd".to_owned(), "otp".to_owned()]);
    assert_eq!(done.id_token.split('.').count(), 3, "a JWS");

    // A code is exchanged only with the verifier of the challenge it was issued for (PKCE),
    // and only once.
    let (flow, code, iss) = code_for(&settings, "ann-0001").await;
    let wrong = Flow {
        verifier: "x".repeat(flow.verifier.len()),
        ..flow.clone()
    };
    let refused = finish(&settings, &callback, &wrong, &code, iss.as_deref()).await;
    assert_eq!(refused.err(), Some(Failure::Exchange));
    let right = finish(&settings, &callback, &flow, &code, iss.as_deref()).await;
    assert!(right.is_ok(), "the right verifier");
    let again = finish(&settings, &callback, &flow, &code, iss.as_deref()).await;
    assert_eq!(again.err(), Some(Failure::Exchange), "a code works once");

    // An answer said to come from another issuer (RFC 9207) is refused before its code is used.
    let (flow, code, _) = code_for(&settings, "ann-0001").await;
    let other = finish(
        &settings,
        &callback,
        &flow,
        &code,
        Some("http://127.0.0.1:1"),
    )
    .await;
    assert_eq!(other.err(), Some(Failure::IssuerMismatch));
}

#[tokio::test]
async fn sso_protocol_the_role_claim_comes_from_userinfo_when_the_id_token_lacks_it() {
    let a = Client::of_console("console-a", "secret-a-0123456789", NOWHERE);
    let provider = OidcProvider::start_with(std::slice::from_ref(&a), &[ann()], false);
    let mut settings = settings(&provider, &a);
    settings.role_claim = Some("department_roles".into());
    let callback = format!("{NOWHERE}/sign-in/sso/callback");
    // The provider's ID token names only the subject (and amr, groups): the address and the
    // name come from UserInfo, and so does a role claim the token does not carry.
    let (flow, code, iss) = code_for(&settings, "ann-0001").await;
    let done = finish(&settings, &callback, &flow, &code, iss.as_deref())
        .await
        .expect("signed in");
    assert_eq!(done.claims.email.as_deref(), Some("ann@harbor.example"));
    assert!(done.claims.email_verified);
    assert_eq!(done.claims.name.as_deref(), Some("Ann Harbor"));
    assert!(done.claims.roles.is_empty(), "no such claim anywhere");

    settings.role_claim = Some("groups".into());
    let (flow, code, iss) = code_for(&settings, "ann-0001").await;
    let done = finish(&settings, &callback, &flow, &code, iss.as_deref())
        .await
        .expect("signed in");
    assert_eq!(done.claims.roles, vec!["carepath-case-managers".to_owned()]);
}

/// An ID token the provider minted for client B, and its nonce.
async fn token_of_b() -> (OidcProvider, SsoSettings, SsoSettings, String, String) {
    let a = Client::of_console("console-a", "secret-a-0123456789", NOWHERE);
    let b = Client::of_console("console-b", "secret-b-0123456789", NOWHERE);
    let provider = OidcProvider::start(&[a.clone(), b.clone()], &[ann()]);
    let (sa, sb) = (settings(&provider, &a), settings(&provider, &b));
    let callback = format!("{NOWHERE}/sign-in/sso/callback");
    let (flow, code, iss) = code_for(&sb, "ann-0001").await;
    let done = finish(&sb, &callback, &flow, &code, iss.as_deref())
        .await
        .expect("client B signed in");
    // B's own verifier takes it: the refusals below are the token's, not the setup's.
    let claims = verify_id_token(&sb, &done.id_token, &flow.nonce).await;
    assert_eq!(claims.map(|c| c.subject).ok().as_deref(), Some("ann-0001"));
    (provider, sa, sb, done.id_token, flow.nonce)
}

#[tokio::test]
async fn sso_refuses_an_id_token_for_another_audience() {
    let (_provider, a, _b, token, nonce) = token_of_b().await;
    let refused = verify_id_token(&a, &token, &nonce).await;
    assert_eq!(refused.err(), Some(Failure::Audience));
}

#[tokio::test]
async fn sso_refuses_an_id_token_with_another_nonce() {
    let (_provider, _a, b, token, _nonce) = token_of_b().await;
    let refused = verify_id_token(&b, &token, "another-sign-ins-nonce").await;
    assert_eq!(refused.err(), Some(Failure::Nonce));
}

#[tokio::test]
async fn sso_refuses_an_id_token_with_a_tampered_signature() {
    let (provider, _a, b, token, nonce) = token_of_b().await;
    let (signed, signature) = token.rsplit_once('.').unwrap();
    // One bit of the signature flipped.
    let mut bytes = signature.as_bytes().to_vec();
    bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{signed}.{}", String::from_utf8(bytes).unwrap());
    let refused = verify_id_token(&b, &tampered, &nonce).await;
    assert_eq!(refused.err(), Some(Failure::Signature));
    // And the claims changed under the provider's signature: the same.
    let (header, rest) = token.split_once('.').unwrap();
    let (_payload, signature) = rest.split_once('.').unwrap();
    let payload = serde_json::json!({
        "iss": provider.issuer, "sub": "someone-else", "aud": "console-b",
        "exp": 4102444800u64, "iat": 1, "nonce": nonce,
    });
    let forged = format!(
        "{header}.{}.{signature}",
        base64url(payload.to_string().as_bytes())
    );
    let refused = verify_id_token(&b, &forged, &nonce).await;
    assert_eq!(refused.err(), Some(Failure::Signature));
}

/// Base64url without padding (RFC 7515), for a forged token.
fn base64url(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}
