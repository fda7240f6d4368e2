//! The staff and account pages over HTTP, as a browser sends them, signed in as real people
//! (password and TOTP code through the sign-in forms): an admin invites, changes a role,
//! deactivates (the person's open session ends at once) and reactivates on `/staff`, gives a
//! system an API token and revokes it; another organization's admin finds nothing to act on
//! and a case manager is refused the page; the sign-in activity downloads as CSV with no
//! secret in it; a person sees their open sessions on `/account` and ends the others. One test
//! drives `/staff` in Chromium (axe, a screenshot).

use crate::browser::{Browser, eventually};
use crate::console::{Answer, form_fields};
use crate::on_both_backends;
use crate::people::{self, Person};
use crate::server::TestServer;
use crate::support::Backend;
use carepath_engine::domain::{Role, StaffStatus};

/// A browser signed in as a person, without the browser: the session cookie, forms read off
/// pages.
struct Signed {
    base: String,
    http: reqwest::Client,
    cookie: String,
}

/// The value of cookie `name` a response sets (`name=value`), if it sets one.
fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").to_owned())
        .find(|c| c.starts_with(&format!("{name}=")) && c.len() > name.len() + 1)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Sign `p` in through the forms: e-mail and password, then a code from their authenticator
/// (the half-done sign-in's cookie carried between the two).
async fn sign_in(s: &TestServer, p: &Person) -> Signed {
    let http = client();
    let resp = http
        .post(format!("{}/sign-in", s.url))
        .form(&[
            ("email", p.email.as_str()),
            ("password", p.password.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "the password step");
    assert_eq!(resp.headers()["location"], "/sign-in/code");
    let pending = set_cookie(&resp, "carepath_sign_in").expect("a sign-in cookie");
    let code = p.next_code().await;
    let resp = http
        .post(format!("{}/sign-in/code", s.url))
        .header("cookie", &pending)
        .form(&[("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "the code step");
    let cookie = set_cookie(&resp, "carepath_session").expect("a session cookie");
    Signed {
        base: s.url.clone(),
        http,
        cookie,
    }
}

/// An answer, with the header a page that shows a secret must have.
struct Shown {
    answer: Answer,
    cache_control: String,
}

impl Signed {
    async fn send(&self, req: reqwest::RequestBuilder) -> Shown {
        let resp = req.header("cookie", &self.cookie).send().await.unwrap();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let cache_control = header("cache-control").unwrap_or_default();
        let location = header("location");
        Shown {
            answer: Answer {
                status: resp.status().as_u16(),
                location,
                body: resp.text().await.unwrap(),
            },
            cache_control,
        }
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
            .answer
    }

    async fn page(&self, path: &str) -> String {
        let a = self.get(path).await;
        assert_eq!(a.status, 200, "GET {path}: {}", a.body);
        a.body
    }

    async fn post(&self, path: &str, fields: &[(String, String)]) -> Shown {
        self.send(self.http.post(format!("{}{path}", self.base)).form(fields))
            .await
    }

    /// Fill the form posting to `action` on `page` and send it.
    async fn submit(&self, page: &str, action: &str, values: &[(&str, &str)]) -> Shown {
        let html = self.page(page).await;
        self.post(action, &form_fields(&html, action, values)).await
    }

    /// The CSRF token the page at `page` gives its forms.
    async fn csrf(&self, page: &str) -> String {
        let html = self.page(page).await;
        let doc = scraper::Html::parse_document(&html);
        let sel = scraper::Selector::parse("input[name=csrf]").unwrap();
        doc.select(&sel)
            .next()
            .and_then(|i| i.value().attr("value"))
            .expect("a CSRF token")
            .to_owned()
    }
}

/// The value of the read-only field `#id` (a link or token shown once).
fn shown_once(html: &str, id: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!("input#{id}")).unwrap();
    doc.select(&sel)
        .next()
        .and_then(|i| i.value().attr("value"))
        .unwrap_or_else(|| panic!("no #{id} on the page: {html}"))
        .to_owned()
}

/// The page's words, spaces collapsed.
fn text(html: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let all = doc.root_element().text().collect::<Vec<_>>().join(" ");
    all.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The rows of the table `class` on the page, each its cells' words.
fn rows(html: &str, class: &str) -> Vec<Vec<String>> {
    let doc = scraper::Html::parse_document(html);
    let tr = scraper::Selector::parse(&format!("table.{class} tbody tr")).unwrap();
    let cell = scraper::Selector::parse("th, td").unwrap();
    doc.select(&tr)
        .map(|r| {
            r.select(&cell)
                .map(|c| {
                    c.text()
                        .collect::<Vec<_>>()
                        .join(" ")
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect()
        })
        .collect()
}

fn no_store(shown: &Shown) {
    assert!(
        shown.cache_control.contains("no-store"),
        "a secret shown once is not to be stored: {}",
        shown.cache_control
    );
}

async fn status_of(s: &TestServer, p: &Person) -> StaffStatus {
    let operator = carepath_engine::domain::Actor::new(p.org, Role::System);
    s.engine
        .staff_member(&operator, p.staff)
        .await
        .expect("the person")
        .status
}

/// A password tried that is not the person's.
const WRONG: &str = "not the right password at all";

async fn an_admin_invites_changes_deactivates_and_reactivates_people(b: Backend) {
    let s = TestServer::start_with(b, &[]).await;
    let org = s.org("Harbor Case Management", &[]).await;
    let admin = people::sign_up(&s.engine, org, Role::Admin, "Alma Ortiz").await;
    let cm = people::sign_up(&s.engine, org, Role::CaseManager, "Dana Reyes").await;
    let a = sign_in(&s, &admin).await;

    let page = a.page("/staff").await;
    let words = text(&page);
    for expected in [
        "Alma Ortiz",
        "Dana Reyes",
        "Case manager",
        "Invite a person",
        "Systems (API tokens)",
        "Sign-in activity",
        "Download as CSV",
        "Single sign-on is off",
    ] {
        assert!(words.contains(expected), "{expected:?} on /staff: {words}");
    }
    assert!(
        page.contains(r#"href="/staff""#),
        "the navigation has Staff"
    );

    // An invitation: the link is shown once, whole, and works.
    let invited = a
        .submit(
            "/staff",
            "/staff/invite",
            &[
                ("name", "Casey Moreno"),
                ("email", "casey.moreno@example.org"),
                ("role", "case_manager"),
            ],
        )
        .await;
    assert_eq!(invited.answer.status, 200, "{}", invited.answer.body);
    no_store(&invited);
    let said = text(&invited.answer.body);
    assert!(
        said.contains("Send it to them; it works once"),
        "the invitation says how to use it: {said}"
    );
    let link = shown_once(&invited.answer.body, "once-link");
    let path = link
        .strip_prefix(&s.url)
        .unwrap_or_else(|| panic!("the link is whole, on this server: {link}"));
    assert!(path.starts_with("/welcome/cpl_"), "{path}");
    let (status, welcome) = s.get(path).await;
    assert_eq!(status, 200, "the invitation link works: {welcome}");
    assert!(welcome.contains("Casey Moreno"));
    assert!(
        !a.page("/staff").await.contains(path),
        "the link is shown only once"
    );

    // The same address invited again (a form sent twice) is refused in words.
    let again = a
        .submit(
            "/staff",
            "/staff/invite",
            &[
                ("name", "Casey Moreno"),
                ("email", "casey.moreno@example.org"),
                ("role", "case_manager"),
            ],
        )
        .await;
    assert_eq!(again.answer.status, 409, "{}", again.answer.body);
    let said = text(&again.answer.body);
    assert!(
        said.contains("account already") && said.contains("Nothing was changed"),
        "{said}"
    );
    let listed = rows(&a.page("/staff").await, "staff");
    assert_eq!(
        listed.iter().filter(|r| r[0] == "Casey Moreno").count(),
        1,
        "{listed:?}"
    );
    let casey = listed.iter().find(|r| r[0] == "Casey Moreno").unwrap();
    assert_eq!(casey[3], "Invited", "{casey:?}");

    // A case manager is refused the page; their session works.
    let dana = sign_in(&s, &cm).await;
    assert_eq!(dana.get("/census").await.status, 200);
    let refused = dana.get("/staff").await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(text(&refused.body).contains("Not allowed"));
    assert!(
        !dana.page("/census").await.contains(r#"href="/staff""#),
        "no Staff in a case manager's navigation"
    );

    // A form without the page's token changes nothing.
    let foreign = a
        .post(
            &format!("/staff/{}/deactivate", cm.staff),
            &[("csrf".into(), "forged".into())],
        )
        .await;
    assert_eq!(foreign.answer.status, 403, "{}", foreign.answer.body);
    assert_eq!(status_of(&s, &cm).await, StaffStatus::Active);

    // Another organization's admin finds nobody to act on here.
    let other = s.org("Bayside Recovery", &[]).await;
    let olga = people::sign_up(&s.engine, other, Role::Admin, "Olga Brandt").await;
    let o = sign_in(&s, &olga).await;
    let csrf = o.csrf("/staff").await;
    assert!(!o.page("/staff").await.contains("Dana Reyes"));
    for action in ["deactivate", "link"] {
        let tried = o
            .post(
                &format!("/staff/{}/{action}", cm.staff),
                &[("csrf".into(), csrf.clone())],
            )
            .await;
        assert_eq!(tried.answer.status, 404, "{action}: {}", tried.answer.body);
    }
    let tried = o
        .post(
            &format!("/staff/{}/role", cm.staff),
            &[
                ("csrf".into(), csrf.clone()),
                ("role".into(), "admin".into()),
            ],
        )
        .await;
    assert_eq!(tried.answer.status, 404, "{}", tried.answer.body);
    assert_eq!(status_of(&s, &cm).await, StaffStatus::Active);

    // Deactivated: their open session gets the sign-in page at once.
    let done = a
        .submit("/staff", &format!("/staff/{}/deactivate", cm.staff), &[])
        .await;
    assert_eq!(done.answer.status, 303, "{}", done.answer.body);
    assert_eq!(
        done.answer.location.as_deref(),
        Some("/staff?done=deactivated")
    );
    let gone = dana.get("/census").await;
    assert_eq!(gone.status, 303, "{}", gone.body);
    assert_eq!(gone.location.as_deref(), Some("/sign-in"));
    let page = a.page("/staff?done=deactivated").await;
    assert!(text(&page).contains("The person was deactivated"));
    let row = rows(&page, "staff")
        .into_iter()
        .find(|r| r[0] == "Dana Reyes")
        .unwrap();
    assert_eq!(row[3], "Deactivated", "{row:?}");
    // A deactivated person gets no link.
    let no_link = a
        .post(
            &format!("/staff/{}/link", cm.staff),
            &[("csrf".into(), a.csrf("/staff").await)],
        )
        .await;
    assert_eq!(no_link.answer.status, 409, "{}", no_link.answer.body);
    assert!(text(&no_link.answer.body).contains("reactivate them first"));

    // Reactivated (they had a password: active again, no link needed).
    let back = a
        .submit("/staff", &format!("/staff/{}/reactivate", cm.staff), &[])
        .await;
    assert_eq!(back.answer.status, 303, "{}", back.answer.body);
    assert_eq!(status_of(&s, &cm).await, StaffStatus::Active);

    // A new role.
    let changed = a
        .submit(
            "/staff",
            &format!("/staff/{}/role", cm.staff),
            &[("role", "supervisor")],
        )
        .await;
    assert_eq!(changed.answer.status, 303, "{}", changed.answer.body);
    let row = rows(&a.page("/staff").await, "staff")
        .into_iter()
        .find(|r| r[0] == "Dana Reyes")
        .unwrap();
    assert_eq!(row[2], "Supervisor", "{row:?}");
    assert_eq!(row[3], "Active", "{row:?}");
    assert_eq!(row[4], "Yes", "authenticator set up: {row:?}");

    // A new sign-in link (a password reset), shown once, works.
    let link = a
        .submit("/staff", &format!("/staff/{}/link", cm.staff), &[])
        .await;
    assert_eq!(link.answer.status, 200, "{}", link.answer.body);
    no_store(&link);
    let url = shown_once(&link.answer.body, "once-link");
    let (status, _) = s.get(url.strip_prefix(&s.url).unwrap()).await;
    assert_eq!(status, 200);

    // Locked after failed sign-ins: said with the time the lock ends.
    let http = client();
    for _ in 0..5 {
        let tried = http
            .post(format!("{}/sign-in", s.url))
            .form(&[("email", cm.email.as_str()), ("password", WRONG)])
            .send()
            .await
            .unwrap();
        assert_eq!(tried.status(), 401);
    }
    let row = rows(&a.page("/staff").await, "staff")
        .into_iter()
        .find(|r| r[0] == "Dana Reyes")
        .unwrap();
    assert!(
        row[3].starts_with("Locked until ") && row[3].ends_with(" UTC"),
        "{row:?}"
    );

    // The last admin cannot deactivate themselves: refused in words.
    let last = a
        .submit("/staff", &format!("/staff/{}/deactivate", admin.staff), &[])
        .await;
    assert_eq!(last.answer.status, 409, "{}", last.answer.body);
    assert!(text(&last.answer.body).contains("last active admin"));
    assert_eq!(status_of(&s, &admin).await, StaffStatus::Active);

    // The activity: on the page in words, and whole as CSV with no secret in it.
    let page = a.page("/staff").await;
    let activity = rows(&page, "audit");
    assert!(
        activity
            .iter()
            .any(|r| r[1] == "Dana Reyes" && r[2] == "Deactivated" && r[4] == "Alma Ortiz"),
        "{activity:?}"
    );
    assert!(
        activity
            .iter()
            .any(|r| r[1] == "Alma Ortiz" && r[2] == "Signed in"),
        "{activity:?}"
    );
    let resp = a
        .http
        .get(format!("{}/staff/audit.csv", s.url))
        .header("cookie", &a.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        resp.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let body = resp.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        ["at", "person", "e-mail", "by", "what", "detail", "address"]
    );
    let lines: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert!(
        lines
            .iter()
            .any(|l| &l[1] == "Dana Reyes" && l[2] == cm.email && &l[4] == "Signed in"),
        "{body}"
    );
    assert!(
        lines
            .iter()
            .any(|l| &l[1] == "Dana Reyes" && &l[3] == "Alma Ortiz" && &l[4] == "Deactivated"),
        "{body}"
    );
    assert!(
        lines.iter().any(|l| &l[1] == "Dana Reyes"
            && &l[4] == "Sign-in failed"
            && &l[5] == "Wrong password"),
        "{body}"
    );
    for secret in [
        people::PASSWORD,
        WRONG,
        admin.totp_secret.as_str(),
        cm.totp_secret.as_str(),
        path,
        url.as_str(),
    ] {
        assert!(!body.contains(secret), "the CSV holds a secret");
    }
    assert!(!body.contains("cpl_") && !body.contains("cp_"), "{body}");
}

async fn a_system_given_access_on_the_staff_page_works_until_revoked(b: Backend) {
    let s = TestServer::start_with(b, &[]).await;
    let org = s.org("Harbor Case Management", &[]).await;
    let admin = people::sign_up(&s.engine, org, Role::Admin, "Alma Ortiz").await;
    let a = sign_in(&s, &admin).await;

    let made = a
        .submit(
            "/staff",
            "/staff/systems",
            &[
                ("name", "Harbor EHR"),
                ("role", "case_manager"),
                ("days", "30"),
            ],
        )
        .await;
    assert_eq!(made.answer.status, 200, "{}", made.answer.body);
    no_store(&made);
    assert!(text(&made.answer.body).contains("shown only this once"));
    let token = shown_once(&made.answer.body, "once-token");
    let me = s.ok(&token, "{ me { role } }", serde_json::json!({})).await;
    assert_eq!(me["me"]["role"], "case_manager");

    let page = a.page("/staff").await;
    assert!(!page.contains(&token), "the token is shown only once");
    let listed = rows(&page, "systems");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0][0], "Harbor EHR");
    assert_eq!(listed[0][1], "Case manager");
    assert_eq!(listed[0][5], "No", "not revoked: {listed:?}");
    let doc = scraper::Html::parse_document(&page);
    let sel = scraper::Selector::parse("form[action$='/revoke']").unwrap();
    let revoke = doc
        .select(&sel)
        .next()
        .and_then(|f| f.value().attr("action"))
        .expect("a revoke form")
        .to_owned();
    let done = a.submit("/staff", &revoke, &[]).await;
    assert_eq!(done.answer.status, 303, "{}", done.answer.body);

    let (_, answer) = s
        .post_raw(
            Some(&token),
            "application/json",
            r#"{"query":"{ me { role } }"}"#,
        )
        .await;
    assert!(
        !answer.contains("case_manager"),
        "a revoked token still works: {answer}"
    );
    let listed = rows(&a.page("/staff").await, "systems");
    assert_ne!(listed[0][5], "No", "revoked: {listed:?}");
    let csv = a.get("/staff/audit.csv").await.body;
    assert!(
        csv.contains("System access created") && csv.contains("System access revoked"),
        "{csv}"
    );
    assert!(!csv.contains(&token));

    // Single sign-on, once set up, is shown by its issuer — never its client secret.
    const CLIENT_SECRET: &str = "client-secret-never-shown";
    s.engine
        .set_sso_settings(
            &admin.actor(),
            org,
            Some(carepath_engine::domain::SsoSettings {
                issuer: "https://login.harbor.example.org".into(),
                client_id: "carepath".into(),
                client_secret: CLIENT_SECRET.into(),
                role_claim: None,
                role_values: Vec::new(),
                provision: false,
                require_mfa: true,
                required_acr: None,
            }),
        )
        .await
        .expect("single sign-on set up");
    let page = a.page("/staff").await;
    assert!(
        text(&page).contains(
            "Single sign-on is on: people may sign in through https://login.harbor.example.org"
        ),
        "{}",
        text(&page)
    );
    assert!(!page.contains(CLIENT_SECRET));
    assert!(
        rows(&page, "audit")
            .iter()
            .any(|r| r[1] == "The organization"
                && r[2] == "Single sign-on settings changed"
                && r[4] == "Alma Ortiz"),
        "{:?}",
        rows(&page, "audit")
    );
    assert!(!a.get("/staff/audit.csv").await.body.contains(CLIENT_SECRET));
}

async fn a_person_sees_their_sessions_and_signs_out_everywhere_else(b: Backend) {
    let s = TestServer::start_with(b, &[]).await;
    let org = s.org("Harbor Case Management", &[]).await;
    let cm = people::sign_up(&s.engine, org, Role::CaseManager, "Dana Reyes").await;
    let here = sign_in(&s, &cm).await;
    let there = sign_in(&s, &cm).await;

    let me = s
        .engine
        .person(&cm.actor())
        .await
        .unwrap()
        .expect("the person");
    assert_eq!((me.name.as_str(), me.role), (cm.name.as_str(), cm.role));
    let page = here.page("/account").await;
    let words = text(&page);
    for expected in [
        "Dana Reyes",
        cm.email.as_str(),
        "Case manager",
        "Harbor Case Management",
        "10 recovery codes left",
        "if you do nothing",
    ] {
        assert!(
            words.contains(expected),
            "{expected:?} on /account: {words}"
        );
    }
    // Two from this address, and the one signing up opened (through the engine, no address).
    let sessions = rows(&page, "sessions");
    assert_eq!(sessions.len(), 3, "{sessions:?}");
    assert_eq!(
        sessions.iter().filter(|r| r[2] == "127.0.0.1").count(),
        2,
        "{sessions:?}"
    );
    assert!(
        sessions
            .iter()
            .all(|r| r[3] == "Password and authenticator code"),
        "{sessions:?}"
    );
    assert_eq!(
        sessions.iter().filter(|r| r[4] == "This session").count(),
        1,
        "{sessions:?}"
    );
    assert!(
        page.contains(r#"href="/account""#),
        "the header links Account"
    );

    let done = here
        .submit("/account", "/account/sign-out-elsewhere", &[])
        .await;
    assert_eq!(done.answer.status, 303, "{}", done.answer.body);
    let page = here.page(done.answer.location.as_deref().unwrap()).await;
    assert!(text(&page).contains("Your 2 other sessions were signed out"));
    let sessions = rows(&page, "sessions");
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0][4], "This session");
    let gone = there.get("/census").await;
    assert_eq!(gone.location.as_deref(), Some("/sign-in"), "{}", gone.body);
    assert_eq!(here.get("/census").await.status, 200);
}

on_both_backends!(
    an_admin_invites_changes_deactivates_and_reactivates_people,
    a_system_given_access_on_the_staff_page_works_until_revoked,
    a_person_sees_their_sessions_and_signs_out_everywhere_else,
);

/// `/staff` in Chromium: signed in through the forms, a person invited, the link shown; axe
/// finds nothing serious.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_staff_page_in_a_browser() {
    let s = TestServer::start_with(Backend::Sqlite, &[]).await;
    let org = s.org("Harbor Case Management", &[]).await;
    let admin = people::sign_up(&s.engine, org, Role::Admin, "Alma Ortiz").await;
    people::sign_up(&s.engine, org, Role::CaseManager, "Dana Reyes").await;
    let b = Browser::open(&s.url, "staff-pages").await;

    b.goto("/sign-in").await;
    b.fill("E-mail address", &admin.email).await;
    b.fill("Password", &admin.password).await;
    b.press("Sign in").await;
    assert_eq!(b.path().await, "/sign-in/code");
    b.fill("Code", &admin.next_code().await).await;
    b.press("Continue").await;
    assert_eq!(b.path().await, "/census");

    b.goto("/staff").await;
    assert_eq!(b.heading().await, "Staff");
    b.screenshot("01-staff").await;
    b.axe("the staff page").await;

    let invite = b.section("Invite a person").await;
    invite.fill("Name", "Casey Moreno").await;
    invite
        .fill("E-mail address", "casey.moreno@example.org")
        .await;
    invite.press("Invite").await;
    assert_eq!(b.heading().await, "Staff");
    let value = b
        .js("return document.getElementById('once-link').value", vec![])
        .await;
    let link = value.as_str().unwrap_or_default().to_owned();
    assert!(link.contains("/welcome/cpl_"), "the link shown: {link}");
    b.screenshot("02-invited").await;
    b.axe("the staff page with an invitation link").await;

    // The idle warning: two minutes before the session would end, a notice says so; at that
    // moment the page goes to sign-in. (The moment moved near and the script run again.)
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(90)).to_rfc3339();
    let rerun = "document.querySelector('span.session').setAttribute('data-idle-ends', arguments[0]); \
         const s = document.createElement('script'); s.src = '/console/assets/console.js'; \
         document.body.appendChild(s);";
    b.js(rerun, vec![soon.into()]).await;
    let warning = eventually("the idle warning", || async {
        b.alert()
            .await
            .filter(|a| a.contains("Your session ends at"))
    })
    .await;
    assert!(
        warning.contains("unless you continue: reload or open a page to stay signed in"),
        "{warning}"
    );
    b.screenshot("03-idle-warning").await;
    b.axe("the staff page with the idle warning").await;
    let now = chrono::Utc::now().to_rfc3339();
    b.js(rerun, vec![now.into()]).await;
    eventually("the way to sign-in", || async {
        (b.path().await == "/sign-in").then_some(())
    })
    .await;

    b.goto("/account").await;
    assert_eq!(b.heading().await, "Your account");
    b.screenshot("04-account").await;
    b.axe("the account page").await;
    b.close().await;
}
