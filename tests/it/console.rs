//! The console over HTTP, as a browser sends it: signing in as a person, the client page's
//! forms run as engine commands (the same refusals as the API), a stale or foreign form
//! changes nothing, a form sent twice has one effect, and a partner without a consent cannot
//! open a client's page. (The browser itself drives the pages in `browser.rs`.)

use crate::api::Net;
use crate::on_both_backends;
use crate::people::{Person, sign_up};
use crate::server::TestServer;
use crate::support::Backend;
use carepath_engine::domain::Role;
use carepath_engine::ids::OrgId;
use serde_json::json;

/// A signed-in browser, without the browser: the session cookie, and forms read off pages.
pub(crate) struct Console {
    base: String,
    http: reqwest::Client,
    cookie: String,
}

pub(crate) struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Console {
    /// Sign `person` in through the forms, as their browser would: e-mail address and
    /// password, then a code from their authenticator.
    pub async fn sign_in(s: &TestServer, person: &Person) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let resp = http
            .post(format!("{}/sign-in", s.url))
            .form(&[("email", &person.email), ("password", &person.password)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303, "the password accepted");
        assert_eq!(
            resp.headers().get("location").unwrap(),
            "/sign-in/code",
            "a code asked for next"
        );
        let pending = cookie_of(&resp, "carepath_sign_in");
        let resp = http
            .post(format!("{}/sign-in/code", s.url))
            .header("cookie", &pending)
            .form(&[("code", person.next_code().await)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303, "signed in");
        let set = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|c| c.starts_with("carepath_session="))
            .expect("a session cookie");
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(set.contains(attribute), "{set}");
        }
        let cookie = set.split(';').next().unwrap().to_owned();
        Console {
            base: s.url.clone(),
            http,
            cookie,
        }
    }

    /// A new person of the organization and role of the holder of `token` (an API token:
    /// a token never opens the console), signed in.
    pub async fn like_token(s: &TestServer, token: &str) -> Self {
        let holder = s.engine.authenticate(token).await.expect("a live token");
        Self::as_new(s, holder.org, holder.role).await
    }

    /// A new person of `org` in `role`, signed in.
    pub async fn as_new(s: &TestServer, org: OrgId, role: Role) -> Self {
        let person = sign_up(&s.engine, org, role, "Test Person").await;
        Self::sign_in(s, &person).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        answer(resp).await
    }

    /// A page that must be shown.
    pub async fn page(&self, path: &str) -> String {
        let a = self.get(path).await;
        assert_eq!(a.status, 200, "GET {path}: {}", a.body);
        a.body
    }

    pub async fn post(&self, path: &str, fields: &[(String, String)]) -> Answer {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .form(fields)
            .send()
            .await
            .unwrap();
        answer(resp).await
    }

    /// Fill the form posting to `action` on the page at `page` — its hidden fields as drawn,
    /// then `values` — and send it.
    pub async fn submit(&self, page: &str, action: &str, values: &[(&str, &str)]) -> Answer {
        let html = self.get(page).await;
        assert_eq!(html.status, 200, "{page}: {}", html.body);
        let fields = form_fields(&html.body, action, values);
        self.post(action, &fields).await
    }
}

/// The `name=value` of the cookie `name` a response sets.
pub(crate) fn cookie_of(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie set"))
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

async fn answer(resp: reqwest::Response) -> Answer {
    Answer {
        status: resp.status().as_u16(),
        location: resp
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned()),
        body: resp.text().await.unwrap(),
    }
}

/// The form posting to `action` on `html` as a browser would send it untouched (its hidden
/// fields, the values its inputs show, each select's chosen option) with `values` in place
/// of those named (checkboxes: ticked).
pub(crate) fn form_fields(
    html: &str,
    action: &str,
    values: &[(&str, &str)],
) -> Vec<(String, String)> {
    let doc = scraper::Html::parse_document(html);
    let sel = |s: &str| scraper::Selector::parse(s).unwrap();
    let form = doc
        .select(&sel("form"))
        .find(|f| {
            f.value().attr("action") == Some(action) && f.value().attr("method") == Some("post")
        })
        .unwrap_or_else(|| panic!("no form posts to {action}"));
    let mut fields: Vec<(String, String)> = Vec::new();
    for i in form.select(&sel("input")) {
        let v = i.value();
        let (Some(name), kind) = (v.attr("name"), v.attr("type").unwrap_or("text")) else {
            continue;
        };
        if matches!(kind, "checkbox" | "radio" | "submit") {
            continue;
        }
        if let Some(value) = v.attr("value") {
            fields.push((name.to_owned(), value.to_owned()));
        }
    }
    for s in form.select(&sel("select")) {
        let Some(name) = s.value().attr("name") else {
            continue;
        };
        let options: Vec<_> = s.select(&sel("option")).collect();
        if let Some(o) = options
            .iter()
            .find(|o| o.value().attr("selected").is_some())
            .or(options.first())
        {
            fields.push((
                name.to_owned(),
                o.value().attr("value").unwrap_or("").to_owned(),
            ));
        }
    }
    for (name, _) in values {
        fields.retain(|(k, _)| k != name);
    }
    fields.extend(
        values
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    fields
}

fn text(html: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let all = doc.root_element().text().collect::<Vec<_>>().join(" ");
    all.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn register(c: &Console, name: &str, number: &str) -> String {
    let a = c
        .submit(
            "/clients",
            "/clients",
            &[
                ("display_name", name),
                ("record_number", number),
                ("birth_year", "1990"),
            ],
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    let to = a.location.unwrap();
    to.trim_start_matches("/clients/")
        .split('?')
        .next()
        .unwrap()
        .to_owned()
}

async fn a_case_manager_moves_a_client_with_the_pages_forms(b: Backend) {
    let n = Net::new(b).await;
    let cm = Console::like_token(&n.s, &n.cm).await;
    let c = register(&cm, "Rosa Delgado", "HCM-77").await;
    let page = format!("/clients/{c}");
    let shown = cm.get(&page).await;
    assert_eq!(shown.status, 200);
    assert!(shown.body.contains("Rosa Delgado") && shown.body.contains("HCM-77"));

    // Admitted to detox, then everything a step to residential needs, from the page's forms.
    let detox = n.provider("detox").to_string();
    let residential = n.provider("residential").to_string();
    // Without a consent naming the detox provider the admission is refused, in words that
    // name it.
    let a = cm
        .submit(
            &page,
            &format!("{page}/admit"),
            &[("level", "detox"), ("provider", &detox), ("hours", "40")],
        )
        .await;
    assert_eq!(a.status, 422);
    let said = text(&a.body);
    assert!(
        said.contains("detox provider") && !said.contains(&detox),
        "{said}"
    );
    let a = cm
        .submit(
            &page,
            &format!("{page}/consents"),
            &[("recipient", &detox), ("expiry", "end_of_treatment")],
        )
        .await;
    assert_eq!(a.status, 303, "{}", text(&a.body));
    let a = cm
        .submit(
            &page,
            &format!("{page}/admit"),
            &[("level", "detox"), ("provider", &detox), ("hours", "40")],
        )
        .await;
    assert_eq!(a.status, 303, "{}", text(&a.body));
    assert_eq!(
        a.location.as_deref(),
        Some(format!("{page}?done=admitted").as_str())
    );
    // A referral to a provider no consent names is refused; once the consent names it, sent.
    let refer = [
        ("to_level", "residential"),
        ("provider", residential.as_str()),
    ];
    let a = cm.submit(&page, &format!("{page}/referrals"), &refer).await;
    // Refused in place: the client's page again, the referral form open, the reason next to
    // the providers with the form that fixes it.
    assert_eq!(a.status, 422);
    let said = text(&a.body);
    assert!(
        said.contains("No Part 2 consent in force names residential provider"),
        "{said}"
    );
    let doc = scraper::Html::parse_document(&a.body);
    let open = |sel: &str| doc.select(&scraper::Selector::parse(sel).unwrap()).count();
    assert_eq!(open("details[open] form#send-referral"), 1, "{said}");
    assert_eq!(
        open("form#send-referral div.refused[role=alert] a[href='#record-consent']"),
        1,
        "{said}"
    );
    let a = cm
        .submit(
            &page,
            &format!("{page}/consents"),
            &[("recipient", &residential), ("expiry", "end_of_treatment")],
        )
        .await;
    assert_eq!(a.status, 303, "{}", text(&a.body));
    let a = cm.submit(&page, &format!("{page}/referrals"), &refer).await;
    assert_eq!(a.status, 303, "{}", text(&a.body));
    let shown = text(&cm.get(&format!("{page}?done=referral-sent")).await.body);
    assert!(shown.contains("The referral was sent."), "{shown}");
    assert!(shown.contains("residential provider"), "{shown}");
    assert!(
        shown.contains("Ready for the step down to Residential"),
        "{shown}"
    );
    assert!(
        shown.contains("A provider accepted a referral — not yet"),
        "{shown}"
    );
    // Each gate says why from its reason, levels by name and no ids.
    assert!(
        shown.contains("No referral to Residential treatment accepted"),
        "{shown}"
    );
    // The move before its gates are met is refused, each unmet gate in words.
    let a = cm
        .submit(
            &page,
            &format!("{page}/move"),
            &[("move", "step_down:residential"), ("hours", "30")],
        )
        .await;
    assert_eq!(a.status, 422, "{}", text(&a.body));
    let said = text(&a.body);
    assert!(
        said.contains("Not every gate of this move is met yet")
            && said.contains("Accepted referral: no referral to Residential treatment accepted"),
        "{said}"
    );
    // What was typed is kept: the hours, the move chosen.
    let again = form_fields(&a.body, &format!("{page}/move"), &[]);
    assert!(
        again.contains(&("hours".into(), "30".into()))
            && again.contains(&("move".into(), "step_down:residential".into())),
        "{again:?}"
    );

    // The provider accepts (over the API: its inbox page is tested apart): the checklist's
    // gates for the step are all met.
    let referral = n
        .cm(
            "query($c: UUID!) { client(id: $c) { referrals { id } } }",
            json!({ "c": c }),
        )
        .await["client"]["referrals"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    n.accept("residential", &referral).await;
    let shown = cm.get(&page).await.body;
    let doc = scraper::Html::parse_document(&shown);
    let unmet = scraper::Selector::parse("ul.gates li.unmet").unwrap();
    let first_list = scraper::Selector::parse("ul.gates").unwrap();
    let step = doc.select(&first_list).next().unwrap();
    assert_eq!(step.select(&unmet).count(), 0, "{}", text(&shown));

    let a = cm
        .submit(
            &page,
            &format!("{page}/move"),
            &[("move", "step_down:residential"), ("hours", "30")],
        )
        .await;
    assert_eq!(a.status, 303, "{}", text(&a.body));
    let shown = text(&cm.get(&page).await.body);
    // The page says where the client stands in one sentence, and leads with the two steps
    // left: the arrival confirmed, or missed.
    assert!(
        shown.contains("What now On the way to Residential treatment at residential provider"),
        "{shown}"
    );
    assert!(
        shown.contains("Confirm the arrival") && shown.contains("Report a no-show"),
        "{shown}"
    );
    assert!(
        shown.contains("Left Withdrawal management"),
        "the timeline in words: {shown}"
    );
    n.s.stop().await;
}

async fn a_stale_form_is_refused_in_words_and_changes_nothing(b: Backend) {
    let n = Net::new(b).await;
    let c = n.admitted("detox", 40.0).await;
    let cm = Console::like_token(&n.s, &n.cm).await;
    let page = format!("/clients/{c}");
    let drawn = cm.get(&page).await.body;
    // Someone else changes the record after the page was drawn.
    n.refer(&c, "residential").await;
    let before = n.version(&c).await;
    let residential = n.provider("residential").to_string();
    let fields = form_fields(
        &drawn,
        &format!("{page}/referrals"),
        &[("to_level", "residential"), ("provider", &residential)],
    );
    let a = cm.post(&format!("{page}/referrals"), &fields).await;
    assert_eq!(a.status, 409);
    let said = text(&a.body);
    assert!(
        said.contains("changed this client's record after you opened the page"),
        "{said}"
    );
    assert!(said.contains("with what you typed kept"), "{said}");
    assert_eq!(n.version(&c).await, before, "nothing changed");
    // The page drawn again is the record as it is now: its forms carry the new version.
    let again = form_fields(&a.body, &format!("{page}/referrals"), &[]);
    assert!(
        again.contains(&("version".into(), before.to_string())),
        "{again:?}"
    );
    n.s.stop().await;
}

async fn a_form_sent_twice_has_one_effect_and_a_foreign_one_none(b: Backend) {
    let n = Net::new(b).await;
    let c = n.admitted("detox", 40.0).await;
    let cm = Console::like_token(&n.s, &n.cm).await;
    let page = format!("/clients/{c}");
    let residential = n.provider("residential").to_string();
    let drawn = cm.get(&page).await.body;
    let fields = form_fields(
        &drawn,
        &format!("{page}/referrals"),
        &[("to_level", "residential"), ("provider", &residential)],
    );
    let version = n.version(&c).await;
    let first = cm.post(&format!("{page}/referrals"), &fields).await;
    let again = cm.post(&format!("{page}/referrals"), &fields).await;
    assert_eq!(
        (first.status, again.status),
        (303, 303),
        "{}",
        text(&again.body)
    );
    assert_eq!(n.version(&c).await, version + 1, "one effect");

    // Without its CSRF token, with another's, or from another site: refused, nothing done.
    let without: Vec<_> = fields
        .iter()
        .filter(|(k, _)| k != "csrf")
        .cloned()
        .collect();
    let forged: Vec<_> = fields
        .iter()
        .map(|(k, v)| {
            if k == "csrf" {
                (k.clone(), "0".repeat(64))
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    for f in [&without, &forged] {
        let mut f = f.clone();
        f.retain(|(k, _)| k != "idem");
        f.push(("idem".into(), uuid::Uuid::new_v4().to_string()));
        let a = cm.post(&format!("{page}/referrals"), &f).await;
        assert_eq!(a.status, 403, "{}", text(&a.body));
        assert!(text(&a.body).contains("did not come from this console"));
    }
    let mut fresh = fields.clone();
    fresh.retain(|(k, _)| k != "idem");
    fresh.push(("idem".into(), uuid::Uuid::new_v4().to_string()));
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}{page}/referrals", n.s.url))
        .header("cookie", &cm.cookie)
        .header("origin", "https://elsewhere.example")
        .form(&fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(n.version(&c).await, version + 1, "nothing more");
    n.s.stop().await;
}

async fn a_partner_opens_a_client_page_only_under_a_consent(b: Backend) {
    let n = Net::new(b).await;
    let c = n.register().await;
    n.consent_to(&c, &[n.provider("detox")]).await;
    n.admit(&c, "detox", 40.0).await;
    let partner = Console::like_token(&n.s, n.partner("residential")).await;
    let page = format!("/clients/{c}");
    let a = partner.get(&page).await;
    assert_eq!(a.status, 404, "no consent names it: {}", text(&a.body));
    assert!(!a.body.contains(&c));
    // A case manager of another organization: told nothing exists, as the API tells it (that
    // someone is a client is itself Part 2 information), and shown nothing of the client.
    let other = n.s.org("Elsewhere Case Management", &[]).await;
    let stranger = Console::as_new(&n.s, other, Role::CaseManager).await;
    let a = stranger.get(&page).await;
    assert_eq!(a.status, 404);
    assert!(!a.body.contains(&c) && !a.body.contains("Withdrawal"));

    n.consent(&c).await;
    let a = partner.get(&page).await;
    assert_eq!(a.status, 200);
    let said = text(&a.body);
    assert!(
        !said.contains("Timeline") && !said.contains("Send a referral"),
        "{said}"
    );
    // A page the role does not work in answers as the API would.
    let a = partner.get("/worklist").await;
    assert!(matches!(a.status, 403 | 404), "{}", a.status);
    n.s.stop().await;
}

async fn deactivation_ends_a_persons_sessions_and_signing_out_ends_one(b: Backend) {
    let n = Net::new(b).await;
    let dana = sign_up(&n.s.engine, n.home, Role::CaseManager, "Dana Reyes").await;
    let cm = Console::sign_in(&n.s, &dana).await;
    let census = cm.page("/census").await;
    assert!(census.contains(&dana.name), "the header names the person");

    // An API token opens no page, and a session's secret is no API token.
    let with_token = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/census", n.s.url))
        .bearer_auth(&n.cm)
        .send()
        .await
        .unwrap();
    assert_eq!(
        with_token.headers().get("location").unwrap(),
        "/sign-in",
        "a token opened the console"
    );
    let secret = cm.cookie.trim_start_matches("carepath_session=").to_owned();
    let as_bearer = n.s.gql(Some(&secret), "{ me { role } }", json!({})).await;
    assert_eq!(
        as_bearer["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "a console session was taken as an API token: {as_bearer}"
    );

    // Sign out: the cookie no longer opens a page.
    let drawn = cm.get("/census").await.body;
    let fields = form_fields(&drawn, "/sign-out", &[]);
    let a = cm.post("/sign-out", &fields).await;
    assert_eq!((a.status, a.location.as_deref()), (303, Some("/sign-in")));
    let a = cm.get("/census").await;
    assert_eq!((a.status, a.location.as_deref()), (303, Some("/sign-in")));

    // Deactivating the person ends every session of theirs, at once.
    let again = Console::sign_in(&n.s, &dana).await;
    let elsewhere = Console::sign_in(&n.s, &dana).await;
    assert_eq!(again.get("/clients").await.status, 200);
    let admin = carepath_engine::domain::Actor::new(n.home, Role::System);
    n.s.engine
        .deactivate_staff(&admin, dana.staff)
        .await
        .unwrap();
    for c in [&again, &elsewhere] {
        assert_eq!(
            c.get("/clients").await.location.as_deref(),
            Some("/sign-in")
        );
    }
    n.s.stop().await;
}

async fn a_time_skipping_server_says_so_on_every_page(b: Backend) {
    let n = Net::with_env(b, &[("CAREPATH_TIME_SKIPPING", "true")]).await;
    let sign_in = reqwest::get(format!("{}/sign-in", n.s.url)).await.unwrap();
    assert!(sign_in.headers().contains_key("carepath-clock"));
    assert!(
        sign_in
            .text()
            .await
            .unwrap()
            .contains("Time skipping: this is a training or test server")
    );
    let cm = Console::like_token(&n.s, &n.cm).await;
    for page in ["/census", "/clients"] {
        let said = text(&cm.get(page).await.body);
        assert!(
            said.contains("Time skipping: this is a training or test server"),
            "{page}"
        );
    }
    n.s.stop().await;
}

/// A form is a command like any other: counted in `carepath_commands_total` (in a server
/// process of its own, so nothing else this test binary runs is counted with it).
async fn the_consoles_commands_are_counted_as_the_apis(b: Backend) {
    let n = Net::on(TestServer::start_process(b, &[], None).await).await;
    let cm = Console::like_token(&n.s, &n.cm).await;
    register(&cm, "Rosa Delgado", "HCM-78").await;
    let (status, metrics) = n.s.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains(r#"carepath_commands_total{command="register_client",outcome="ok"} 1"#),
        "{metrics}"
    );
}

/// The accounting counts what went out: a coordinator opening a client's page — the facts,
/// the readiness checklists, the bookings — is one read, recorded once.
async fn a_client_page_is_one_disclosure(b: Backend) {
    let n = Net::new(b).await;
    let c = n.admitted("residential", 30.0).await;
    let hub = n.hub.to_string();
    let count = || crate::fhir::disclosures_to(&n, &c, &hub);
    let before = count().await;
    let coordinator = Console::like_token(&n.s, &n.coordinator).await;
    let page = coordinator.page(&format!("/clients/{c}")).await;
    assert!(page.contains("Ready for"), "the checklists were shown");
    assert_eq!(count().await, before + 1);
}

/// A form's `back` goes back to a path of this site only: `/\\host`, `//host`, a scheme, a
/// control character (a browser drops a tab, so `/<tab>/host` is `//host`) all go to `/`.
async fn a_form_goes_back_only_to_a_path_of_this_site(b: Backend) {
    let n = Net::new(b).await;
    let cm = Console::like_token(&n.s, &n.cm).await;
    let c = register(&cm, "Ines Back", "MRN-BACK").await;
    let page = cm.page(&format!("/clients/{c}")).await;
    let action = format!("/clients/{c}/consents");
    let detox = n.provider("detox").to_string();
    let to = |back: &str| form_fields(&page, &action, &[("recipient", &detox), ("back", back)]);
    // The form as drawn goes back to its page (sent again: the same answer, one consent).
    let a = cm.post(&action, &to(&format!("/clients/{c}"))).await;
    assert_eq!(
        a.location.as_deref(),
        Some(format!("/clients/{c}?done=consent-recorded").as_str()),
        "{}",
        a.body
    );
    for bad in [
        "/\\evil.example",
        "/\\/evil.example",
        "//evil.example",
        "https://evil.example/",
        "\\\\evil.example",
        "/\t/evil.example",
        "/x\u{1}y",
        "evil.example",
    ] {
        let a = cm.post(&action, &to(bad)).await;
        assert_eq!(
            (a.status, a.location.as_deref()),
            (303, Some("/?done=consent-recorded")),
            "back = {bad:?}: {}",
            a.body
        );
    }
}

/// An open `/live` stream lasts only as long as its session: deactivating the person ends
/// it, and nothing more is sent on it.
async fn a_live_stream_ends_when_its_person_is_deactivated(b: Backend) {
    use std::time::Duration;
    let n = Net::new(b).await;
    let dana = sign_up(&n.s.engine, n.home, Role::CaseManager, "Dana Reyes").await;
    let cm = Console::sign_in(&n.s, &dana).await;
    let mut live = cm
        .http
        .get(format!("{}/live", cm.base))
        .header("cookie", &cm.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    // Open: a commit is announced.
    n.register().await;
    let first = tokio::time::timeout(Duration::from_secs(10), live.chunk())
        .await
        .expect("an event within 10 s")
        .unwrap()
        .expect("the stream is open");
    assert!(
        String::from_utf8_lossy(&first).contains("data: changed"),
        "{first:?}"
    );
    // The person is deactivated, and someone else commits: the stream ends, saying nothing
    // more.
    let admin = carepath_engine::domain::Actor::new(n.home, Role::System);
    n.s.engine
        .deactivate_staff(&admin, dana.staff)
        .await
        .unwrap();
    n.s.ok(
        &n.supervisor,
        "mutation { registerClient(input: { birthYear: 1990 }) { version } }",
        json!({}),
    )
    .await;
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match live.chunk().await {
                Ok(Some(chunk)) => assert!(
                    !String::from_utf8_lossy(&chunk).contains("changed"),
                    "sent after the person was deactivated: {chunk:?}"
                ),
                Ok(None) | Err(_) => return,
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the stream is still open 15 s after its person was deactivated"
    );
}

/// A supervisor, refused a discharge for a gate, lets it through with a reason from the refused
/// form itself; a case manager's refused form offers no override. From the tables, a referral
/// is withdrawn and a consent revoked.
async fn a_supervisor_overrides_a_gate_and_a_referral_and_a_consent_are_undone_from_the_page(
    b: Backend,
) {
    let n = Net::new(b).await;
    let c = n.admitted("detox", 40.0).await;
    let page = format!("/clients/{c}");
    let mv = [("kind", "planned")];

    let cm = Console::like_token(&n.s, &n.cm).await;
    let refused = cm.submit(&page, &format!("{page}/discharge"), &mv).await;
    assert_eq!(refused.status, 422, "{}", text(&refused.body));
    assert!(
        !refused.body.contains("override_reason"),
        "a case manager may not override"
    );

    let sup = Console::like_token(&n.s, &n.supervisor).await;
    let refused = sup.submit(&page, &format!("{page}/discharge"), &mv).await;
    assert_eq!(refused.status, 422, "{}", text(&refused.body));
    assert!(
        text(&refused.body).contains("Override as supervisor Let the move through without a gate"),
        "{}",
        text(&refused.body)
    );
    // The override without a reason is refused next to the reason's field.
    let mut fields = form_fields(
        &refused.body,
        &format!("{page}/discharge"),
        &[("override", "aftercare_appointment")],
    );
    let again = sup.post(&format!("{page}/discharge"), &fields).await;
    assert_eq!(again.status, 400, "{}", text(&again.body));
    assert!(
        text(&again.body).contains("The reason for the override is needed"),
        "{}",
        text(&again.body)
    );
    fields.retain(|(k, _)| k != "idem");
    fields.push(("idem".into(), uuid::Uuid::new_v4().to_string()));
    fields.push((
        "override_reason".into(),
        "bed confirmed by phone with the program".into(),
    ));
    let moved = sup.post(&format!("{page}/discharge"), &fields).await;
    assert_eq!(moved.status, 303, "{}", text(&moved.body));
    let status = n
        .cm(
            "query($c: UUID!) { client(id: $c) { status } }",
            json!({ "c": c }),
        )
        .await;
    assert_eq!(status["client"]["status"], "DISCHARGED", "{status}");

    // A referral withdrawn and a consent revoked, each from its row.
    let c = n.admitted("detox", 40.0).await;
    let page = format!("/clients/{c}");
    let referral = n.refer(&c, "residential").await;
    let withdraw = format!("{page}/referrals/{referral}/withdraw");
    let a = cm.submit(&page, &withdraw, &[]).await;
    assert_eq!(a.status, 303, "{}", text(&a.body));
    let shown = text(
        &cm.get(&format!("{page}?done=referral-withdrawn"))
            .await
            .body,
    );
    assert!(shown.contains("The referral was withdrawn"), "{shown}");
    assert!(
        !cm.get(&page).await.body.contains(&withdraw),
        "withdrawn once"
    );
    let consent = n
        .cm(
            "query($c: UUID!) { client(id: $c) { consents { id } } }",
            json!({ "c": c }),
        )
        .await["client"]["consents"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoke = format!("{page}/consents/{consent}/revoke");
    let a = cm.submit(&page, &revoke, &[]).await;
    assert_eq!(a.status, 303, "{}", text(&a.body));
    let shown = cm.get(&page).await.body;
    assert!(!shown.contains(&revoke), "revoked once");
    assert!(text(&shown).contains("revoked"), "{}", text(&shown));
    n.s.stop().await;
}

/// Pages show times in the reader's organization's time zone, named, and forms read the times
/// people type in it; the API keeps RFC 3339 in UTC. An admin sets the zone; a name that is
/// not a time zone is refused and changes nothing.
async fn pages_show_and_take_times_in_the_organizations_time_zone(b: Backend) {
    let n = Net::new(b).await;
    let admin = n.s.token(n.home, Role::Admin).await;
    let set = "mutation($o: UUID!, $z: String!) { setOrganizationTimeZone(organizationId: $o, timeZone: $z) { timeZone } }";
    let (code, _) =
        n.s.code(
            Some(&admin),
            set,
            json!({ "o": n.home, "z": "Mars/Olympus_Mons" }),
        )
        .await;
    assert_eq!(code, "BAD_INPUT");
    let (code, _) =
        n.s.code(
            Some(&n.cm),
            set,
            json!({ "o": n.home, "z": "America/New_York" }),
        )
        .await;
    assert_eq!(code, "FORBIDDEN", "a case manager sets no time zone");
    let d =
        n.s.ok(&admin, set, json!({ "o": n.home, "z": "America/New_York" }))
            .await;
    assert_eq!(
        d["setOrganizationTimeZone"]["timeZone"], "America/New_York",
        "{d}"
    );

    let c = n.admitted("detox", 40.0).await;
    let cm = Console::like_token(&n.s, &n.cm).await;
    let page = format!("/clients/{c}");
    let shown = text(&cm.get(&page).await.body);
    assert!(shown.contains("At (America/New_York)"), "{shown}");
    assert!(
        shown.contains(" EST") || shown.contains(" EDT"),
        "times named in the zone: {shown}"
    );
    assert!(!shown.contains(" UTC"), "{shown}");

    // 10:00 typed in Boston in December is 15:00 UTC.
    let hub = n.provider("outpatient").to_string();
    let at = "2027-01-20T10:00";
    let booked = cm
        .submit(
            &page,
            &format!("{page}/aftercare"),
            &[("provider", &hub), ("kind", "outpatient"), ("at", at)],
        )
        .await;
    assert_eq!(booked.status, 303, "{}", text(&booked.body));
    let api = n
        .cm(
            "query($c: UUID!) { client(id: $c) { aftercare { at } } }",
            json!({ "c": c }),
        )
        .await;
    assert_eq!(
        api["client"]["aftercare"][0]["at"], "2027-01-20T15:00:00+00:00",
        "{api}"
    );
    assert!(
        text(&cm.get(&page).await.body).contains("Wed 20 Jan 2027, 10:00 EST"),
        "the booking in the zone"
    );
    // A time the zone skips (02:30 as the clocks move forward) is refused in words.
    let version = n.version(&c).await;
    let skipped = cm
        .submit(
            &page,
            &format!("{page}/aftercare"),
            &[
                ("provider", &hub),
                ("kind", "outpatient"),
                ("at", "2027-03-14T02:30"),
            ],
        )
        .await;
    assert_eq!(skipped.status, 400, "{}", text(&skipped.body));
    assert!(
        text(&skipped.body).contains("does not exist in America/New_York"),
        "{}",
        text(&skipped.body)
    );
    assert_eq!(n.version(&c).await, version, "nothing changed");
    n.s.stop().await;
}

/// An aftercare coordinator finds a client by name among those whose consent names its
/// organization (and lists none without a name); a booking outside the aftercare window of the
/// planned move is shown as outside it; the timeline says who did each thing; the census's
/// "in care" figure opens the clients behind it.
async fn a_coordinator_finds_a_client_and_a_booking_outside_the_window_is_flagged(b: Backend) {
    let n = Net::new(b).await;
    let cm = Console::like_token(&n.s, &n.cm).await;
    let c = register(&cm, "Ada Whitcombe", "HCM-311").await;
    n.consent(&c).await;
    let detox = n.provider("detox").to_string();
    let page = format!("/clients/{c}");
    let a = cm
        .submit(
            &page,
            &format!("{page}/admit"),
            &[("level", "detox"), ("provider", &detox), ("hours", "40")],
        )
        .await;
    assert_eq!(a.status, 303, "{}", text(&a.body));
    let other = register(&cm, "Ada Whitcombe-Lane", "HCM-312").await;
    // The case manager who admitted her has her on their caseload; not the one never admitted.
    let mine = text(&cm.get("/clients?mine=1&sort=name").await.body);
    assert!(mine.contains("My caseload"), "{mine}");
    assert!(mine.contains("Ada Whitcombe HCM-311"), "{mine}");
    assert!(!mine.contains("HCM-312"), "{mine}");

    let hub = Console::like_token(&n.s, &n.coordinator).await;
    let listed = text(&hub.get("/clients").await.body);
    assert!(
        listed.contains("Find a client by name or record number"),
        "{listed}"
    );
    assert!(!listed.contains("Ada Whitcombe"), "{listed}");
    let found = hub.get("/clients?q=whitcombe").await;
    assert_eq!(found.status, 200, "{}", found.body);
    let found = text(&found.body);
    assert!(found.contains("Ada Whitcombe HCM-311"), "{found}");
    assert!(
        !found.contains("HCM-312"),
        "a client no consent names the hub in: {found}"
    );
    let _ = other;

    // A planned discharge tomorrow; an appointment a month out is outside its window.
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1))
        .date_naive()
        .to_string();
    let a = cm
        .submit(
            &page,
            &format!("{page}/handoff"),
            &[("move", "discharge:planned"), ("on", &tomorrow)],
        )
        .await;
    assert_eq!(a.status, 303, "{}", text(&a.body));
    n.book_aftercare(&c, 30).await;
    let shown = text(&cm.get(&page).await.body);
    assert!(shown.contains("outside the aftercare window"), "{shown}");
    // Who did what.
    assert!(
        shown.contains(
            "Admitted to Withdrawal management at detox provider. by Harbor Case Management"
        ),
        "{shown}"
    );
    // The census's figure leads to the clients behind it.
    let census = cm.get("/census").await.body;
    let detox = n.provider("detox");
    let links: Vec<String> = scraper::Html::parse_document(&census)
        .select(&scraper::Selector::parse("table.census a[href]").unwrap())
        .filter_map(|a| a.value().attr("href").map(str::to_owned))
        .collect();
    assert!(
        links.contains(&format!("/clients?level=detox&provider={detox}")),
        "{links:?}"
    );
    let behind = text(
        &cm.get(&format!("/clients?level=detox&provider={detox}"))
            .await
            .body,
    );
    assert!(behind.contains("Ada Whitcombe"), "{behind}");
    n.s.stop().await;
}

on_both_backends!(
    a_live_stream_ends_when_its_person_is_deactivated,
    a_coordinator_finds_a_client_and_a_booking_outside_the_window_is_flagged,
    pages_show_and_take_times_in_the_organizations_time_zone,
    a_supervisor_overrides_a_gate_and_a_referral_and_a_consent_are_undone_from_the_page,
    a_form_goes_back_only_to_a_path_of_this_site,
    a_client_page_is_one_disclosure,
    the_consoles_commands_are_counted_as_the_apis,
    a_case_manager_moves_a_client_with_the_pages_forms,
    a_stale_form_is_refused_in_words_and_changes_nothing,
    a_form_sent_twice_has_one_effect_and_a_foreign_one_none,
    a_partner_opens_a_client_page_only_under_a_consent,
    deactivation_ends_a_persons_sessions_and_signing_out_ends_one,
    a_time_skipping_server_says_so_on_every_page,
);
