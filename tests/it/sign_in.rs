//! People sign in as themselves, and every way in refuses what it should: a wrong password, a
//! wrong or replayed code, a locked account, an expired or reused link — each refusal the
//! same words whether or not the account exists. A deactivated person's sessions end on every
//! process at the next request. (SSO's refusals are in `sso.rs`; the walk from the first admin
//! to a case manager at work, in Chromium, in `browser.rs`.)

use crate::console::{Console, cookie_of, form_fields};
use crate::on_both_backends;
use crate::people::{PASSWORD, sign_up, totp_code};
use crate::server::TestServer;
use crate::support::Backend;
use carepath_engine::domain::{Actor, Role};
use carepath_engine::ids::OrgId;
use carepath_engine::{SignedIn, domain::StaffStatus};
use sea_orm::ConnectionTrait;
use std::process::Command;

/// A client that keeps no cookies and follows no redirect: each step's cookies by hand.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The password step: its status, where it leads, the half-done sign-in's cookie, the body.
async fn password(
    s: &TestServer,
    email: &str,
    password: &str,
) -> (u16, Option<String>, Option<String>, String) {
    let resp = http()
        .post(format!("{}/sign-in", s.url))
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    let pending = (status == 303).then(|| cookie_of(&resp, "carepath_sign_in"));
    (status, location, pending, resp.text().await.unwrap())
}

/// The code step with the half-done sign-in's cookie: its status and where it leads.
async fn code(s: &TestServer, pending: &str, code: &str) -> (u16, Option<String>) {
    let resp = http()
        .post(format!("{}/sign-in/code", s.url))
        .header("cookie", pending)
        .form(&[("code", code)])
        .send()
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        resp.headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned()),
    )
}

/// The words every refusal of a sign-in shows, and nothing that tells which part failed.
fn refused(body: &str) -> bool {
    body.contains("That did not sign you in")
        && !body.to_lowercase().contains("no account")
        && !body.to_lowercase().contains("unknown")
}

async fn a_wrong_password_or_unknown_address_is_refused_alike(b: Backend) {
    let s = TestServer::start_with(b, &[]).await;
    let org = s.org("Harbor Case Management", &[]).await;
    let dana = sign_up(&s.engine, org, Role::CaseManager, "Dana Reyes").await;

    let (status, _, pending, wrong) = password(&s, &dana.email, "not her password at all").await;
    assert_eq!((status, pending), (401, None));
    assert!(refused(&wrong), "{wrong}");
    let (status, _, pending, unknown) =
        password(&s, "nobody.here@example.org", "not her password at all").await;
    assert_eq!((status, pending), (401, None));
    // The same page, but for the address typed back into its field.
    assert_eq!(
        wrong.replace(&dana.email, "@"),
        unknown.replace("nobody.here@example.org", "@"),
        "the refusal tells an account that exists from one that does not"
    );

    // The right password leads to the code, not into the console.
    let (status, location, pending, _) = password(&s, &dana.email, &dana.password).await;
    assert_eq!((status, location.as_deref()), (303, Some("/sign-in/code")));
    let pending = pending.unwrap();
    let census = http()
        .get(format!("{}/census", s.url))
        .header(
            "cookie",
            pending.replace("carepath_sign_in", "carepath_session"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        census.headers().get("location").unwrap(),
        "/sign-in",
        "a half-done sign-in opened a page"
    );
    s.stop().await;
}

async fn a_wrong_or_replayed_code_is_refused_and_a_recovery_code_works_once(b: Backend) {
    let s = TestServer::start_with(b, &[]).await;
    let org = s.org("Harbor Case Management", &[]).await;
    let dana = sign_up(&s.engine, org, Role::CaseManager, "Dana Reyes").await;

    // A wrong code: refused, the half-done sign-in still waiting for the right one.
    let (_, _, pending, _) = password(&s, &dana.email, &dana.password).await;
    let pending = pending.unwrap();
    let right = dana.next_code().await;
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    assert_eq!(code(&s, &pending, wrong).await.0, 401);
    assert_eq!(
        code(&s, &pending, &right).await,
        (303, Some("/census".into()))
    );

    // The same code again, on a new sign-in: refused (a code is good once).
    let (_, _, pending, _) = password(&s, &dana.email, &dana.password).await;
    assert_eq!(code(&s, &pending.unwrap(), &right).await.0, 401);

    // A recovery code instead of the app's: once.
    let (ann, codes) = recovery_codes_of(&s, org).await;
    let (_, _, pending, _) = password(&s, ann, PASSWORD).await;
    assert_eq!(
        code(&s, &pending.unwrap(), &codes[0]).await,
        (303, Some("/census".into()))
    );
    let (_, _, pending, _) = password(&s, ann, PASSWORD).await;
    assert_eq!(code(&s, &pending.unwrap(), &codes[0]).await.0, 401);
    let (_, _, pending, _) = password(&s, ann, PASSWORD).await;
    assert_eq!(
        code(&s, &pending.unwrap(), &codes[1].to_uppercase()).await,
        (303, Some("/census".into())),
        "a recovery code typed in capitals"
    );
    let left = s
        .engine
        .staff_accounts(&Actor::new(org, Role::System), org)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.name == "Ann Other")
        .unwrap()
        .recovery_codes_left;
    assert_eq!(left, 8);
    s.stop().await;
}

/// A person signed up keeping the recovery codes enrolment showed (`people::sign_up` drops
/// them): Ann Other's e-mail address (her password is `PASSWORD`) and her codes.
async fn recovery_codes_of(s: &TestServer, org: OrgId) -> (&'static str, Vec<String>) {
    let operator = Actor::new(org, Role::System);
    let (_, link) = s
        .engine
        .invite_staff(
            &operator,
            org,
            "ann.other@example.org",
            "Ann Other",
            Role::CaseManager,
        )
        .await
        .unwrap();
    let SignedIn::Pending(p) = s
        .engine
        .use_link(&link.secret, PASSWORD, None)
        .await
        .unwrap()
    else {
        panic!("a second factor to enrol");
    };
    let secret = s.engine.enrolment(&p.secret).await.unwrap().secret;
    let step = chrono::Utc::now().timestamp() as u64 / 30;
    let SignedIn::Open { recovery_codes, .. } = s
        .engine
        .confirm_enrolment(&p.secret, &totp_code(&secret, step), None)
        .await
        .unwrap()
    else {
        panic!("a session");
    };
    ("ann.other@example.org", recovery_codes)
}

async fn an_account_locks_after_five_failures_and_the_right_password_then_fails_too(b: Backend) {
    let s = TestServer::start_with(b, &[]).await;
    let org = s.org("Harbor Case Management", &[]).await;
    let dana = sign_up(&s.engine, org, Role::CaseManager, "Dana Reyes").await;
    for _ in 0..5 {
        assert_eq!(password(&s, &dana.email, "guessing guessing").await.0, 401);
    }
    let (status, _, _, body) = password(&s, &dana.email, &dana.password).await;
    assert_eq!(status, 401, "a locked account let the right password in");
    assert!(refused(&body), "{body}");
    let operator = Actor::new(org, Role::System);
    let audit = s
        .engine
        .sign_in_audit(&operator, Some(org), None, 100)
        .await
        .unwrap();
    let kinds: Vec<&str> = audit.iter().map(|a| a.kind.as_str()).collect();
    assert!(kinds.contains(&"locked"), "{kinds:?}");
    assert_eq!(
        kinds.iter().filter(|k| **k == "sign_in_failed").count(),
        6,
        "{kinds:?}"
    );
    // An admin's new link lifts the lock at once, and the password chosen through it signs in.
    let link = s.engine.staff_link(&operator, dana.staff).await.unwrap();
    assert_eq!(
        password(&s, &dana.email, &dana.password).await.1.as_deref(),
        Some("/sign-in/code"),
        "the lock outlived the new link"
    );
    let page = http()
        .get(format!("{}{}", s.url, link.path()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Choose a new password"), "{page}");
    let SignedIn::Pending(_) = s
        .engine
        .use_link(&link.secret, "an entirely new passphrase", None)
        .await
        .unwrap()
    else {
        panic!("the code is still asked for");
    };
    assert_eq!(
        password(&s, &dana.email, "an entirely new passphrase")
            .await
            .1
            .as_deref(),
        Some("/sign-in/code")
    );
    // A lost phone: the admin resets the authenticator, and the next sign-in sets one up.
    s.engine
        .reset_authenticator(&operator, dana.staff)
        .await
        .unwrap();
    assert_eq!(
        password(&s, &dana.email, "an entirely new passphrase")
            .await
            .1
            .as_deref(),
        Some("/sign-in/enrol")
    );
    s.stop().await;
}

async fn an_expired_or_used_link_no_longer_works_and_a_weak_password_leaves_it_good(b: Backend) {
    let s = TestServer::start_with(b, &[]).await;
    let org = s.org("Harbor Case Management", &[]).await;
    let operator = Actor::new(org, Role::System);
    let (_, link) = s
        .engine
        .invite_staff(
            &operator,
            org,
            "Lee.Chan@Example.org",
            "Lee Chan",
            Role::Partner,
        )
        .await
        .unwrap();
    let url = format!("{}{}", s.url, link.path());
    let welcome = http().get(&url).send().await.unwrap().text().await.unwrap();
    assert!(
        welcome.contains("Welcome to Carepath, Lee Chan"),
        "{welcome}"
    );
    assert!(welcome.contains("lee.chan@example.org"), "{welcome}");

    // A weak password: refused in words, the link still good.
    let post = |password: &'static str| {
        let url = url.clone();
        async move {
            let resp = http()
                .post(&url)
                .form(&[("password", password), ("again", password)])
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    let (status, body) = post("short").await;
    assert_eq!(status, 422);
    assert!(body.contains("at least 12 characters"), "{body}");
    let (status, body) = post("lee chan forever").await;
    assert_eq!(status, 422);
    assert!(body.contains("your e-mail address or your name"), "{body}");

    // Used once: a second use is refused, and so is the page.
    let (status, _) = post("a good long passphrase").await;
    assert_eq!(status, 303);
    let (status, body) = post("another good passphrase").await;
    assert_eq!(status, 404);
    assert!(body.contains("This link no longer works"), "{body}");

    // An invitation past its time: refused as a used one is.
    let (_, late) = s
        .engine
        .invite_staff(
            &operator,
            org,
            "late@example.org",
            "Late Comer",
            Role::Partner,
        )
        .await
        .unwrap();
    let db = sea_orm::Database::connect(&s.db_url).await.unwrap();
    let past = chrono::Utc::now() - chrono::Duration::days(1);
    let (sql, backend) = match b {
        Backend::Postgres => (
            "UPDATE staff_links SET expires_at = $1 WHERE used_at IS NULL",
            sea_orm::DbBackend::Postgres,
        ),
        Backend::Sqlite => (
            "UPDATE staff_links SET expires_at = ? WHERE used_at IS NULL",
            sea_orm::DbBackend::Sqlite,
        ),
    };
    db.execute_raw(sea_orm::Statement::from_sql_and_values(
        backend,
        sql,
        [past.into()],
    ))
    .await
    .unwrap();
    let gone = http()
        .get(format!("{}{}", s.url, late.path()))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    assert!(matches!(
        s.engine
            .use_link(&late.secret, "a good long passphrase", None)
            .await,
        Err(carepath_engine::Error::NotFound(_))
    ));
    s.stop().await;
}

/// The operator's `carepath staff …` against a server's database.
fn staff_cli(s: &TestServer, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_carepath"))
        .arg("staff")
        .args(args)
        .env("CAREPATH_DATABASE_URL", &s.db_url)
        .env("CAREPATH_LOG", "warn")
        .output()
        .expect("run carepath staff");
    assert!(
        out.status.success(),
        "carepath staff {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Deactivating a person — here with the operator's CLI, a process of its own — ends their
/// sessions on two server processes at their next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivation_ends_a_persons_sessions_on_every_process() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let a = TestServer::start_process(Backend::Postgres, &[], Some(log.path())).await;
    let b = TestServer::attach(&a, &[]).await;
    let org = a.org("Harbor Case Management", &[]).await;
    let dana = sign_up(&a.engine, org, Role::CaseManager, "Dana Reyes").await;
    let on_a = Console::sign_in(&a, &dana).await;
    let on_b = Console::sign_in(&b, &dana).await;
    assert_eq!(on_a.get("/census").await.status, 200);
    assert_eq!(on_b.get("/census").await.status, 200);

    let said = staff_cli(&a, &["deactivate", "--id", &dana.staff.to_string()]);
    assert!(said.contains("deactivated"), "{said}");
    for (c, process) in [(&on_a, "first"), (&on_b, "second")] {
        let next = c.get("/census").await;
        assert_eq!(
            next.location.as_deref(),
            Some("/sign-in"),
            "the {process} process still served a deactivated person"
        );
    }
    // Nor can they sign in again, on either.
    for s in [&a, &b] {
        assert_eq!(password(s, &dana.email, &dana.password).await.0, 401);
    }
    let person = a
        .engine
        .staff_member(&Actor::new(org, Role::System), dana.staff)
        .await
        .unwrap();
    assert_eq!(person.status, StaffStatus::Deactivated);

    // The operator's audit says who and when; no password, code or link in it or the log.
    let audit = staff_cli(&a, &["audit", "--org", &org.to_string()]);
    for kind in [
        "invited",
        "password_set",
        "totp_enrolled",
        "signed_in",
        "deactivated",
    ] {
        assert!(
            audit.contains(kind),
            "{kind} missing from the audit:\n{audit}"
        );
    }
    let logged = std::fs::read_to_string(log.path()).unwrap();
    for secret in [PASSWORD, &dana.totp_secret, &dana.email] {
        assert!(!audit.contains(secret), "the audit holds a secret");
        assert!(!logged.contains(secret), "the server log holds a secret");
    }
    drop(b);
    a.stop().await;
}

/// `carepath staff create-admin` prints a link that works once; the admin it makes can then
/// manage the organization's people, and only them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_admin_prints_a_link_and_an_admin_manages_only_its_own_people() {
    let s = TestServer::start_with(Backend::Sqlite, &[]).await;
    let org = s.org("Harbor Case Management", &[]).await;
    let other = s.org("Other Program", &[]).await;
    let said = staff_cli(
        &s,
        &[
            "create-admin",
            "--org",
            &org.to_string(),
            "--email",
            "admin@harbor.example",
            "--name",
            "Alex Admin",
        ],
    );
    let link = said
        .split_whitespace()
        .find(|w| w.contains("/welcome/"))
        .unwrap_or_else(|| panic!("no link in {said}"));
    let secret = link.rsplit('/').next().unwrap();
    assert!(matches!(
        s.engine
            .use_link(secret, "harbor lights at dusk", None)
            .await
            .unwrap(),
        SignedIn::Pending(_)
    ));
    let admin = s
        .engine
        .staff_accounts(&Actor::new(org, Role::System), org)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        (admin.role, admin.status),
        (Role::Admin, StaffStatus::Active)
    );
    let as_admin = Actor::person(org, Role::Admin, admin.id);
    let (cm, _) = s
        .engine
        .invite_staff(
            &as_admin,
            org,
            "cm@harbor.example",
            "Casey Manager",
            Role::CaseManager,
        )
        .await
        .unwrap();
    // Another organization's admin is told the person does not exist; a case manager may not.
    let foreign = sign_up(&s.engine, other, Role::Admin, "Olga Other").await;
    assert!(matches!(
        s.engine.deactivate_staff(&foreign.actor(), cm.id).await,
        Err(carepath_engine::Error::NotFound(_))
    ));
    let cm_actor = Actor::person(org, Role::CaseManager, cm.id);
    assert!(s.engine.staff_accounts(&cm_actor, org).await.is_err());
    // The last admin cannot demote or deactivate themselves away.
    assert!(matches!(
        s.engine.deactivate_staff(&as_admin, admin.id).await,
        Err(carepath_engine::Error::Rejected(_))
    ));
    // Inviting an address twice is a conflict, in words.
    assert!(matches!(
        s.engine
            .invite_staff(
                &as_admin,
                org,
                "CM@harbor.example",
                "Casey Again",
                Role::CaseManager
            )
            .await,
        Err(carepath_engine::Error::Conflict(_))
    ));
    s.stop().await;
}

/// A form to sign out, then nothing: the sign-out is a POST with the session's CSRF token.
async fn signing_out_twice_is_harmless(b: Backend) {
    let s = TestServer::start_with(b, &[]).await;
    let org = s.org("Harbor Case Management", &[]).await;
    let dana = sign_up(&s.engine, org, Role::CaseManager, "Dana Reyes").await;
    let c = Console::sign_in(&s, &dana).await;
    let fields = form_fields(&c.page("/census").await, "/sign-out", &[]);
    assert_eq!(c.post("/sign-out", &fields).await.status, 303);
    assert_eq!(
        c.post("/sign-out", &fields).await.location.as_deref(),
        Some("/sign-in")
    );
    s.stop().await;
}

/// Set `column` of every session to `at` (a moment in the past, as if time had passed).
async fn sessions_set(s: &TestServer, b: Backend, column: &str, at: chrono::DateTime<chrono::Utc>) {
    let db = sea_orm::Database::connect(&s.db_url).await.unwrap();
    let (sql, backend) = match b {
        Backend::Postgres => (
            format!("UPDATE staff_sessions SET {column} = $1"),
            sea_orm::DbBackend::Postgres,
        ),
        Backend::Sqlite => (
            format!("UPDATE staff_sessions SET {column} = ?"),
            sea_orm::DbBackend::Sqlite,
        ),
    };
    db.execute_raw(sea_orm::Statement::from_sql_and_values(
        backend,
        sql,
        [at.into()],
    ))
    .await
    .unwrap();
}

/// A session lasts while it is used: the configured idle time without a request ends it, and
/// so does its absolute end however busy it is; the page says until when it lasts.
async fn a_session_idles_out_and_ends_at_its_lifetime(b: Backend) {
    let s = TestServer::start_with(b, &[("CAREPATH_SESSION_IDLE_MINUTES", "5")]).await;
    let org = s.org("Harbor Case Management", &[]).await;
    let dana = sign_up(&s.engine, org, Role::CaseManager, "Dana Reyes").await;
    let c = Console::sign_in(&s, &dana).await;
    let page = c.page("/census").await;
    assert!(
        page.contains("Signed in until"),
        "the frame says when the session ends"
    );
    let now = chrono::Utc::now();

    // Four minutes idle: still open (and the request starts the idle clock again).
    sessions_set(&s, b, "last_seen_at", now - chrono::Duration::minutes(4)).await;
    assert_eq!(c.get("/census").await.status, 200);
    // Six minutes idle: over the configured five.
    sessions_set(&s, b, "last_seen_at", now - chrono::Duration::minutes(6)).await;
    assert_eq!(c.get("/census").await.location.as_deref(), Some("/sign-in"));

    // A busy session still ends at its absolute end.
    let again = Console::sign_in(&s, &dana).await;
    assert_eq!(again.get("/census").await.status, 200);
    sessions_set(&s, b, "expires_at", now - chrono::Duration::seconds(1)).await;
    assert_eq!(
        again.get("/census").await.location.as_deref(),
        Some("/sign-in")
    );
    s.stop().await;
}

on_both_backends!(
    a_session_idles_out_and_ends_at_its_lifetime,
    a_wrong_password_or_unknown_address_is_refused_alike,
    a_wrong_or_replayed_code_is_refused_and_a_recovery_code_works_once,
    an_account_locks_after_five_failures_and_the_right_password_then_fails_too,
    an_expired_or_used_link_no_longer_works_and_a_weak_password_leaves_it_good,
    signing_out_twice_is_harmless,
);
