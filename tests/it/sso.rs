//! Single sign-on against a real OpenID Connect provider (`oidc.rs`: the npm package
//! oidc-provider, with a login page of its own): the protocol — discovery, the authorization
//! code with state, nonce and PKCE, the ID token's signature, issuer, audience, expiry and
//! nonce — and the console's routes on the in-process server, driven over HTTP by a client
//! that keeps cookies and follows redirects by hand, and once in Chromium.

#[path = "oidc.rs"]
pub mod oidc;

use crate::browser::{Browser, eventually};
use crate::server::TestServer;
use crate::support::Backend;
use carepath_console::sso::Failure;
use carepath_console::sso::oidc::{Flow, begin, finish, verify_id_token};
use carepath_engine::domain::{Actor, Role, SsoSettings};
use carepath_engine::ids::{OrgId, StaffId};
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

/// Sign in as `login` on the provider's own page, from the authorization request `auth` (or
/// not, when the provider's session remembers the browser): the address the provider sends
/// the browser back to (under `callback`, not followed).
pub async fn sign_in_at_provider(w: &mut Walker, auth: &str, login: &str, callback: &str) -> Url {
    let page = w.walk(auth, callback).await;
    // Signed in at the provider already (its session): straight back.
    if let Some(back) = page.location.filter(|l| l.as_str().starts_with(callback)) {
        return back;
    }
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
    let provider = OidcProvider::start_with(std::slice::from_ref(&a), &[ann()], false, 3600);
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

#[tokio::test]
async fn sso_refuses_an_expired_id_token() {
    let b = Client::of_console("console-b", "secret-b-0123456789", NOWHERE);
    // ID tokens good for one second.
    let provider = OidcProvider::start_with(std::slice::from_ref(&b), &[ann()], true, 1);
    let settings = settings(&provider, &b);
    let callback = format!("{NOWHERE}/sign-in/sso/callback");
    let (flow, code, iss) = code_for(&settings, "ann-0001").await;
    let done = finish(&settings, &callback, &flow, &code, iss.as_deref()).await;
    let token = match done {
        Ok(done) => done.id_token,
        // A slow exchange may already see it expired.
        Err(e) => return assert_eq!(e, Failure::Expired),
    };
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let refused = verify_id_token(&settings, &token, &flow.nonce).await;
    assert_eq!(refused.err(), Some(Failure::Expired));
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

// ---------------------------------------------------------------------------------------
// The console's routes, on the in-process server, with the engine's rules.

/// An organization that signs in through its own provider, on a server of its own.
struct Sso {
    server: TestServer,
    provider: OidcProvider,
    org: OrgId,
    settings: SsoSettings,
}

impl Sso {
    /// "Harbor Health", its provider knowing `accounts`, its settings as `tune` makes them.
    async fn start(accounts: &[Account], tune: impl FnOnce(&mut SsoSettings)) -> Self {
        let server = TestServer::start_with(Backend::Sqlite, &[]).await;
        let client = Client::of_console("carepath-harbor", "secret-harbor-0123456789", &server.url);
        let provider = OidcProvider::start(std::slice::from_ref(&client), accounts);
        let org = server.org("Harbor Health", &[]).await;
        let mut settings = settings(&provider, &client);
        tune(&mut settings);
        server
            .engine
            .set_sso_settings(&system(org), org, Some(settings.clone()))
            .await
            .expect("SSO settings");
        Sso {
            server,
            provider,
            org,
            settings,
        }
    }

    async fn invite(&self, email: &str, name: &str, role: Role) -> StaffId {
        let (person, _link) = self
            .server
            .engine
            .invite_staff(&system(self.org), self.org, email, name, role)
            .await
            .expect("invited");
        person.id
    }

    fn callback(&self) -> String {
        format!("{}/sign-in/sso/callback", self.server.url)
    }

    /// The start of a sign-in: the console's answer to "Sign in with Harbor Health".
    async fn start_sign_in(&self, w: &mut Walker) -> Url {
        let start = w
            .get(&format!("{}/sign-in/sso/{}", self.server.url, self.org))
            .await;
        assert_eq!(start.status, 303, "off to the provider: {}", start.body);
        let flow = start
            .set_cookie
            .iter()
            .find(|c| c.starts_with("carepath_sso_flow="))
            .expect("the flow cookie");
        for attribute in [
            "HttpOnly",
            "SameSite=Lax",
            "Path=/sign-in/sso",
            "Max-Age=600",
        ] {
            assert!(flow.contains(attribute), "{attribute} in {flow}");
        }
        let to = start.location.expect("the provider's address");
        assert!(to.as_str().starts_with(&self.provider.issuer), "{to}");
        to
    }

    /// A sign-in through the console as `login` on the provider's page: the callback's answer.
    async fn sign_in(&self, w: &mut Walker, login: &str) -> Step {
        let to = self.start_sign_in(w).await;
        let back = sign_in_at_provider(w, to.as_str(), login, &self.callback()).await;
        w.get(back.as_str()).await
    }

    /// A sign-in that must go through: the first page it leads to, and who is signed in.
    async fn signed_in(&self, w: &mut Walker, login: &str) -> (String, Actor) {
        let answer = self.sign_in(w, login).await;
        assert_eq!(answer.status, 200, "signed in: {}", answer.body);
        let cookie = answer
            .set_cookie
            .iter()
            .find(|c| c.starts_with("carepath_session="))
            .expect("a session cookie");
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(cookie.contains(attribute), "{attribute} in {cookie}");
        }
        let first = refresh_target(&answer.body);
        let page = w.get(&format!("{}{first}", self.server.url)).await;
        assert_eq!(page.status, 200, "{first} after signing in: {}", page.body);
        let secret = w
            .cookie(&self.server.url, "carepath_session")
            .expect("the session kept")
            .to_owned();
        let actor = self
            .server
            .engine
            .session(&secret)
            .await
            .expect("a session");
        (first, actor)
    }
}

fn system(org: OrgId) -> Actor {
    Actor::new(org, Role::System)
}

/// Where a page that goes on by itself goes (`<meta http-equiv="refresh">`).
fn refresh_target(body: &str) -> String {
    let doc = scraper::Html::parse_document(body);
    let meta = scraper::Selector::parse(r#"meta[http-equiv="refresh"]"#).unwrap();
    let content = doc
        .select(&meta)
        .next()
        .and_then(|m| m.value().attr("content"))
        .unwrap_or_else(|| panic!("no refresh on the page: {body}"))
        .to_owned();
    content
        .split_once("url=")
        .map(|(_, u)| u.to_owned())
        .expect("a refresh with a URL")
}

/// A refused sign-in: 401, no session, a page in words; the words.
fn refused(answer: &Step) -> String {
    assert_eq!(answer.status, 401, "refused: {}", answer.body);
    assert!(
        !answer
            .set_cookie
            .iter()
            .any(|c| c.starts_with("carepath_session=") && !c.starts_with("carepath_session=;")),
        "no session: {:?}",
        answer.set_cookie
    );
    let doc = scraper::Html::parse_document(&answer.body);
    let h1 = scraper::Selector::parse("h1").unwrap();
    let alert = scraper::Selector::parse("[role=alert]").unwrap();
    let heading: String = doc.select(&h1).next().expect("a heading").text().collect();
    assert_eq!(heading, "Sign-in refused");
    doc.select(&alert)
        .next()
        .expect("the refusal in words")
        .text()
        .collect()
}

/// What every refusal of a person the provider vouched for says, whoever they are.
const NOT_ADMITTED: &str = "Your organization's identity provider signed you in, but that does \
     not open Carepath for you. Ask your organization's Carepath administrator.";

#[tokio::test]
async fn sso_an_invited_person_signs_in_through_the_provider_then_is_known_by_subject() {
    let s = Sso::start(&[ann()], |_| {}).await;
    let ann_id = s
        .invite("ann@harbor.example", "Ann Harbor", Role::CaseManager)
        .await;

    // The sign-in page offers the organization's provider.
    let mut w = Walker::new();
    let page = w.get(&format!("{}/sign-in", s.server.url)).await;
    assert!(
        page.body
            .contains(&format!("href=\"/sign-in/sso/{}\"", s.org))
            && page.body.contains("Sign in with Harbor Health"),
        "{}",
        page.body
    );

    let (first, actor) = s.signed_in(&mut w, "ann@harbor.example").await;
    assert_eq!(first, "/census", "a case manager's first page");
    assert_eq!(
        (actor.org, actor.role, actor.staff),
        (s.org, Role::CaseManager, Some(ann_id))
    );
    // The flow cookie is spent.
    assert_eq!(w.cookie(&s.server.url, "carepath_sso_flow"), None);

    // The second time the provider no longer vouches for an address of Harbor's: she is
    // known by the subject her first sign-in linked.
    let mut moved = ann();
    moved.email = Some("ann@elsewhere.example".into());
    moved.email_verified = false;
    s.provider.set_accounts(&[moved]).await;
    let mut w = Walker::new();
    let (_, again) = s.signed_in(&mut w, "ann-0001").await;
    assert_eq!(again.staff, Some(ann_id), "the same person");
}

#[tokio::test]
async fn sso_refuses_a_state_that_is_not_the_browsers() {
    let s = Sso::start(&[ann()], |_| {}).await;
    s.invite("ann@harbor.example", "Ann Harbor", Role::CaseManager)
        .await;
    let mut w = Walker::new();
    let to = s.start_sign_in(&mut w).await;
    let back = sign_in_at_provider(&mut w, to.as_str(), "ann-0001", &s.callback()).await;
    let mut forged = back.clone();
    let pairs: Vec<(String, String)> = query(&back)
        .into_iter()
        .map(|(k, v)| {
            if k == "state" {
                (k, format!("{v}x"))
            } else {
                (k, v)
            }
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    let words = refused(&w.get(forged.as_str()).await);
    assert!(words.contains("did not go through"), "{words}");
    // The real answer, now that the flow cookie is spent, is refused too.
    refused(&w.get(back.as_str()).await);

    // An answer brought by another browser (no flow cookie of its own) is refused.
    let mut w = Walker::new();
    let to = s.start_sign_in(&mut w).await;
    let back = sign_in_at_provider(&mut w, to.as_str(), "ann-0001", &s.callback()).await;
    let mut other = Walker::new();
    refused(&other.get(back.as_str()).await);
    // The provider saying no is a refusal in words as well.
    let said_no = format!("{}?error=access_denied&state=x", s.callback());
    refused(&w.get(&said_no).await);
}

#[tokio::test]
async fn sso_refuses_an_unverified_address_for_a_person_not_yet_linked() {
    let mut bob = Account::new("bob-0002", "bob@harbor.example", "Bob Harbor");
    bob.email_verified = false;
    let s = Sso::start(&[bob], |_| {}).await;
    s.invite("bob@harbor.example", "Bob Harbor", Role::CaseManager)
        .await;
    let mut w = Walker::new();
    let words = refused(&s.sign_in(&mut w, "bob-0002").await);
    assert_eq!(words, NOT_ADMITTED, "the same words as for a stranger");
}

#[tokio::test]
async fn sso_refuses_a_stranger_when_the_organization_does_not_provision() {
    let stranger = Account::new("cy-0003", "cy@harbor.example", "Cy Stranger");
    let s = Sso::start(&[stranger], |_| {}).await;
    let mut w = Walker::new();
    let words = refused(&s.sign_in(&mut w, "cy-0003").await);
    assert_eq!(words, NOT_ADMITTED, "the same words as for a known person");
    let people = s
        .server
        .engine
        .staff_accounts(&system(s.org), s.org)
        .await
        .unwrap();
    assert!(people.is_empty(), "no account made: {people:?}");
}

#[tokio::test]
async fn sso_refuses_a_person_without_the_second_factor_the_organization_requires() {
    let mut pwd_only = ann();
    pwd_only.amr = vec!["pwd".into()];
    let s = Sso::start(&[pwd_only], |s| s.require_mfa = true).await;
    s.invite("ann@harbor.example", "Ann Harbor", Role::CaseManager)
        .await;
    let mut w = Walker::new();
    assert_eq!(refused(&s.sign_in(&mut w, "ann-0001").await), NOT_ADMITTED);
    // With a code at the provider, she is in.
    s.provider.set_accounts(&[ann()]).await;
    let mut w = Walker::new();
    let (_, actor) = s.signed_in(&mut w, "ann-0001").await;
    assert_eq!(actor.role, Role::CaseManager);
}

#[tokio::test]
async fn sso_refuses_a_person_no_role_value_maps_when_a_role_claim_is_configured() {
    let mut other = ann();
    other.groups = vec!["harbor-kitchen".into()];
    let s = Sso::start(&[other], |s| {
        s.role_claim = Some("groups".into());
        s.role_values = vec![("carepath-case-managers".into(), Role::CaseManager)];
    })
    .await;
    s.invite("ann@harbor.example", "Ann Harbor", Role::CaseManager)
        .await;
    let mut w = Walker::new();
    assert_eq!(refused(&s.sign_in(&mut w, "ann-0001").await), NOT_ADMITTED);
}

#[tokio::test]
async fn sso_provisions_a_new_person_with_the_role_their_groups_map_to() {
    let dee = Account {
        groups: vec!["staff".into(), "carepath-partners".into()],
        ..Account::new("dee-0004", "dee@harbor.example", "Dee Partner")
    };
    let s = Sso::start(&[dee], |s| {
        s.provision = true;
        s.role_claim = Some("groups".into());
        s.role_values = vec![
            ("carepath-partners".into(), Role::Partner),
            ("carepath-admins".into(), Role::Admin),
        ];
    })
    .await;
    let mut w = Walker::new();
    let (first, actor) = s.signed_in(&mut w, "dee@harbor.example").await;
    assert_eq!(first, "/inbox", "a partner's first page");
    assert_eq!(actor.role, Role::Partner);
    let people = s
        .server
        .engine
        .staff_accounts(&system(s.org), s.org)
        .await
        .unwrap();
    let [dee] = people.as_slice() else {
        panic!("one account: {people:?}")
    };
    assert_eq!(
        (
            dee.email.as_str(),
            dee.name.as_str(),
            dee.role,
            Some(dee.id)
        ),
        (
            "dee@harbor.example",
            "Dee Partner",
            Role::Partner,
            actor.staff
        )
    );
}

#[tokio::test]
async fn sso_signs_out_at_the_provider_too() {
    let s = Sso::start(&[ann()], |_| {}).await;
    s.invite("ann@harbor.example", "Ann Harbor", Role::CaseManager)
        .await;
    let mut w = Walker::new();
    s.signed_in(&mut w, "ann-0001").await;
    let kept = w
        .cookie(&s.server.url, "carepath_sso")
        .expect("the sign-out hint");
    assert!(kept.starts_with(&s.org.to_string()));

    let page = w.get(&format!("{}/sign-out/sso", s.server.url)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.set_cookie
            .iter()
            .any(|c| c.starts_with("carepath_sso=") && c.contains("Path=/sign-out")),
        "the hint is spent: {:?}",
        page.set_cookie
    );
    let to = Url::parse(&refresh_target(&page.body)).expect("the provider's sign-out");
    assert!(
        to.as_str()
            .starts_with(&format!("{}/session/end", s.provider.issuer)),
        "{to}"
    );
    let q = query(&to);
    assert_eq!(q["client_id"], s.settings.client_id);
    assert_eq!(
        q["post_logout_redirect_uri"],
        format!("{}/sign-in", s.server.url)
    );
    assert_eq!(q["id_token_hint"].split('.').count(), 3);

    // The provider takes it: its confirmation, then back to the console's sign-in page.
    let confirm = w.get(to.as_str()).await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    let (action, xsrf) = {
        let doc = scraper::Html::parse_document(&confirm.body);
        let form = scraper::Selector::parse("form").unwrap();
        let input = scraper::Selector::parse("input[name=xsrf]").unwrap();
        let form = doc.select(&form).next().expect("the provider's form");
        let action = form.value().attr("action").expect("an action").to_owned();
        let xsrf = doc
            .select(&input)
            .next()
            .and_then(|i| i.value().attr("value"))
            .expect("its xsrf")
            .to_owned();
        (to.join(&action).unwrap(), xsrf)
    };
    let done = w
        .post(
            action.as_str(),
            &[("xsrf", xsrf.as_str()), ("logout", "yes")],
        )
        .await;
    let back = done.location.expect("back to the console");
    assert_eq!(back.as_str(), format!("{}/sign-in", s.server.url));

    // Without the hint (not signed in through a provider) it is the sign-in page.
    let mut w = Walker::new();
    let page = w.get(&format!("{}/sign-out/sso", s.server.url)).await;
    assert_eq!(
        (page.status, page.location.map(|l| l.path().to_owned())),
        (303, Some("/sign-in".into()))
    );
}

#[tokio::test]
async fn sso_two_organizations_sign_in_through_their_own_providers() {
    let harbor = Sso::start(&[ann()], |_| {}).await;
    harbor
        .invite("ann@harbor.example", "Ann Harbor", Role::CaseManager)
        .await;
    // Ridge Recovery, on the same server, with a provider of its own.
    let ridge_client = Client::of_console(
        "carepath-ridge",
        "secret-ridge-0123456789",
        &harbor.server.url,
    );
    let eve = Account::new("eve-0005", "eve@ridge.example", "Eve Ridge");
    let ridge_provider = OidcProvider::start(std::slice::from_ref(&ridge_client), &[eve]);
    let ridge = harbor.server.org("Ridge Recovery", &[]).await;
    harbor
        .server
        .engine
        .set_sso_settings(
            &system(ridge),
            ridge,
            Some(settings(&ridge_provider, &ridge_client)),
        )
        .await
        .unwrap();
    harbor
        .server
        .engine
        .invite_staff(
            &system(ridge),
            ridge,
            "eve@ridge.example",
            "Eve Ridge",
            Role::Partner,
        )
        .await
        .unwrap();

    let mut w = Walker::new();
    let page = w.get(&format!("{}/sign-in", harbor.server.url)).await;
    for name in ["Harbor Health", "Ridge Recovery"] {
        assert!(
            page.body.contains(&format!("Sign in with {name}")),
            "{}",
            page.body
        );
    }
    let start = w
        .get(&format!("{}/sign-in/sso/{ridge}", harbor.server.url))
        .await;
    let to = start.location.expect("to Ridge's provider");
    assert!(to.as_str().starts_with(&ridge_provider.issuer), "{to}");
    let back = sign_in_at_provider(&mut w, to.as_str(), "eve-0005", &harbor.callback()).await;
    let answer = w.get(back.as_str()).await;
    assert_eq!(refresh_target(&answer.body), "/inbox", "{}", answer.body);
    let secret = w
        .cookie(&harbor.server.url, "carepath_session")
        .unwrap()
        .to_owned();
    let eve = harbor.server.engine.session(&secret).await.unwrap();
    assert_eq!((eve.org, eve.role), (ridge, Role::Partner));

    let mut w = Walker::new();
    let (_, ann) = harbor.signed_in(&mut w, "ann-0001").await;
    assert_eq!(ann.org, harbor.org);
}

/// SSO sign-in through the provider's own login page, in Chromium: "Sign in with Harbor
/// Health" on the console's sign-in page, the provider's form filled in, and the console's
/// first page — the session cookie set at the end of the provider's redirects is sent on.
#[tokio::test]
async fn sso_sign_in_through_the_providers_own_login_page() {
    let s = Sso::start(&[ann()], |_| {}).await;
    s.invite("ann@harbor.example", "Ann Harbor", Role::CaseManager)
        .await;
    let b = Browser::open(&s.server.url, "sso-sign-in").await;
    b.goto("/sign-in").await;
    b.press("Sign in with Harbor Health").await;
    let at = b.client().current_url().await.expect("the address");
    assert!(
        at.as_str().starts_with(&s.provider.issuer),
        "on the provider's page: {at}"
    );
    assert_eq!(b.heading().await, "Test identity provider");
    b.screenshot("provider-login").await;
    b.fill("Login", "ann@harbor.example").await;
    b.fill("Password", "correct horse battery staple").await;
    b.press("Sign in").await;
    let path = eventually("the console's first page", || async {
        let p = b.path().await;
        (p == "/census").then_some(p)
    })
    .await;
    assert_eq!(path, "/census");
    assert_eq!(b.status().await, 200);
    assert!(b.cookie("carepath_session").await.is_some());
    assert_eq!(
        b.cookie("carepath_sso_flow").await,
        None,
        "the flow cookie spent"
    );
    b.screenshot("census").await;

    // Signing out ends the session here and sends a person signed in this way on to the
    // provider's own sign-out — a page that goes on by itself (a navigation of the page, which
    // the console's `form-action 'self'` does not hold) —, and the provider sends them back to
    // sign in.
    b.sign_out().await;
    let issuer = s.provider.issuer.clone();
    eventually("the provider's sign-out page", || {
        let issuer = issuer.clone();
        let b = &b;
        async move {
            let at = b.client().current_url().await.ok()?;
            at.as_str().starts_with(&issuer).then_some(())
        }
    })
    .await;
    b.press("Yes, sign me out").await;
    eventually("the console's sign-in page", || async {
        let at = b.client().current_url().await.ok()?;
        (at.as_str().starts_with(&s.server.url) && at.path() == "/sign-in").then_some(())
    })
    .await;
    assert_eq!(
        b.heading().await,
        "Sign in to Carepath",
        "signed out here too"
    );
    assert!(b.cookie("carepath_session").await.is_none());
    b.close().await;
}

/// What the console logs of single sign-on, at the product's level: the kind of each refusal
/// and the organization and role of a sign-in — never a client id or secret, a code, a state,
/// a token, nor a claim of the person.
#[tokio::test]
async fn sso_logs_the_kind_of_failure_and_nothing_of_the_person() {
    let log = Log::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "info,sqlx=warn,sea_orm=warn",
        ))
        .with_writer(log.clone())
        .with_ansi(false)
        .finish();
    // The server runs on this test's (single-threaded) runtime: its tasks log here.
    let _guard = tracing::subscriber::set_default(subscriber);

    let s = Sso::start(&[ann()], |_| {}).await;
    let mut w = Walker::new();
    // A stranger to Harbor first (Ann is not invited yet), then a forged state, then Ann.
    refused(&s.sign_in(&mut w, "ann-0001").await);
    s.invite("ann@harbor.example", "Ann Harbor", Role::CaseManager)
        .await;
    let to = s.start_sign_in(&mut w).await;
    let back = sign_in_at_provider(&mut w, to.as_str(), "ann-0001", &s.callback()).await;
    let q = query(&back);
    let forged = format!("{}?code={}&state=forged", s.callback(), q["code"]);
    refused(&w.get(&forged).await);
    let mut w = Walker::new();
    s.signed_in(&mut w, "ann-0001").await;
    let session = w
        .cookie(&s.server.url, "carepath_session")
        .unwrap()
        .to_owned();
    let hint = w.cookie(&s.server.url, "carepath_sso").unwrap().to_owned();

    let text = log.text();
    // (A line whose call site another test's thread met first may not reach a subscriber set
    // for this thread only — tracing caches who listens —, so only the refusals' are looked
    // for; what must not be there is looked for in all of it.)
    assert!(text.contains("kind=\"not_admitted\""), "{text}");
    assert!(text.contains("kind=\"state_mismatch\""), "{text}");
    let id_token = hint.split_once('.').map(|(_, t)| t).unwrap();
    for secret in [
        s.settings.client_id.as_str(),
        s.settings.client_secret.as_str(),
        q["code"].as_str(),
        q["state"].as_str(),
        id_token,
        session.as_str(),
        "ann-0001",
        "ann@harbor.example",
        "Ann Harbor",
        "carepath-case-managers",
    ] {
        assert!(!text.contains(secret), "the log holds {secret:?}:\n{text}");
    }
}

/// A log kept in memory.
#[derive(Clone, Default)]
struct Log(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Log {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Log {
    type Writer = Log;
    fn make_writer(&'a self) -> Log {
        self.clone()
    }
}
