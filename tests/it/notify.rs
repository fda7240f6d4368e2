//! Telling the person who must act: notices reach people's notification centers, their e-mail
//! through a real SMTP server (`mailbox.rs`, aiosmtpd) and their organization's webhook (a
//! receiver here, its signatures checked by the Standard Webhooks library for Python); nothing
//! sent out names a client, a level or a program; an outage delays and never drops or
//! doubles; silence escalates to the supervisors at its deadline.

use crate::mailbox::{Mailbox, Received, python};
use crate::on_both_backends;
use crate::people::{Person, sign_up};
use crate::support::{Backend, World, lvl};
use carepath_engine::domain::{
    Actor, ClientIdentity, Command, EmailMode, Medication, NoticeKind, Role,
};
use carepath_engine::ids::{NoticeId, StaffId};
use carepath_engine::{Engine, Message, Request};
use carepath_notify::{Notifier, NotifyConfig};
use chrono::Duration;
use std::sync::{Arc, Mutex};

const BASE: &str = "https://carepath.example.org";
const NAME: &str = "Jordan Whitfield";
const RECORD: &str = "MRN-4471";

fn notifier(engine: &Engine, smtp: Option<String>) -> Notifier {
    Notifier::new(
        engine.clone(),
        NotifyConfig {
            smtp_url: smtp,
            mail_from: "Carepath <carepath@example.org>".into(),
            public_url: BASE.into(),
            poll: std::time::Duration::from_millis(200),
        },
    )
    .expect("a notifier")
}

/// Words that would say whom a notice is about, or what care: the client's name and record
/// number, every level of care by id and name, and the organizations (programs) by name.
fn telling_words(w: &World) -> Vec<String> {
    let mut words = vec![
        NAME.to_owned(),
        "Jordan".into(),
        "Whitfield".into(),
        RECORD.to_owned(),
        "4471".into(),
    ];
    for l in &w.engine.pathway().levels {
        words.push(l.id.0.clone());
        words.push(l.name.clone());
    }
    for org in [
        "residential2",
        "pharmacy",
        "coordination",
        "prescriber",
        "otp",
    ] {
        words.push(org.into());
    }
    words
}

fn says_nothing_telling(text: &str, words: &[String]) {
    let lower = text.to_lowercase();
    for w in words {
        assert!(
            !lower.contains(&w.to_lowercase()),
            "a message sent out says {w:?}:\n{text}"
        );
    }
}

/// A client known by name and a record number of its own (`MRN-4471-n`), consented to every
/// organization.
async fn named_client(w: &World) -> carepath_engine::ids::ClientId {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let c = w
        .run(
            w.cm,
            None,
            Command::RegisterClient {
                home_org: w.home,
                birth_year: Some(1988),
                identity: Some(ClientIdentity {
                    display_name: NAME.into(),
                    record_number: Some(format!("{RECORD}-{n}")),
                }),
            },
        )
        .await
        .expect("register")
        .client;
    w.consent_all(c).await;
    c
}

fn to_person(m: &Received, p: &Person) -> bool {
    m.header("to").is_some_and(|t| t.contains(&p.email))
}

async fn a_referral_reaches_the_partners_intake_by_email_and_in_its_center_naming_no_one(
    b: Backend,
) {
    let w = World::new(b).await;
    let mail = Mailbox::start().await;
    let intake = sign_up(&w.engine, w.detox, Role::Partner, "Riley Intake").await;
    let elsewhere = sign_up(&w.engine, w.residential, Role::Partner, "Sam Elsewhere").await;
    let c = named_client(&w).await;
    let send = Request {
        client: Some(c),
        actor: w.cm,
        expected_version: None,
        idempotency_key: Some("refer-once".into()),
        command: Command::SendReferral {
            to_level: lvl("detox"),
            providers: vec![w.detox],
        },
    };
    w.engine.execute(send.clone()).await.expect("referral sent");
    // The same request again (a retry, a duplicate delivery): one notice, one e-mail.
    let again = w.engine.execute(send).await.expect("replayed");
    assert!(again.replayed);

    let told = w
        .engine
        .notifications(&intake.actor())
        .await
        .expect("center");
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].kind, NoticeKind::ReferralArrived);
    assert!(told[0].read_at.is_none());
    assert_eq!(
        w.engine
            .unread_notifications(&intake.actor())
            .await
            .unwrap(),
        1
    );
    assert!(
        w.engine
            .notifications(&elsewhere.actor())
            .await
            .unwrap()
            .is_empty(),
        "another provider hears nothing"
    );

    let n = notifier(&w.engine, Some(mail.url()));
    assert_eq!(n.pass().await.expect("a pass"), 1);
    let got = mail.wait_for(1).await;
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert!(to_person(m, &intake), "{:?}", m.headers);
    assert!(
        m.header("from")
            .is_some_and(|f| f.contains("carepath@example.org"))
    );
    assert_eq!(
        m.header("subject"),
        Some("You have a new referral in Carepath")
    );
    assert!(
        m.header("message-id")
            .is_some_and(|i| i.ends_with("@carepath.notice>"))
    );
    let link = format!("{BASE}/notifications/{}", told[0].id);
    assert!(m.body.contains(&link), "{}", m.body);
    assert!(m.body.contains("expires"), "{}", m.body);
    says_nothing_telling(&m.text(), &telling_words(&w));

    // Nothing goes twice: another pass sends nothing.
    assert_eq!(n.pass().await.unwrap(), 0);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(mail.received().len(), 1);

    // Opened: read, and it stops counting.
    let opened = w
        .engine
        .open_notification(&intake.actor(), told[0].id)
        .await
        .expect("opened");
    assert!(opened.read_at.is_some());
    assert_eq!(
        w.engine
            .unread_notifications(&intake.actor())
            .await
            .unwrap(),
        0
    );
    // The measures count the hours from its arrival to that first read, for the provider.
    let m = w
        .engine
        .measures(
            &w.admin,
            w.now() - Duration::days(1),
            w.now() + Duration::days(1),
            None,
            None,
        )
        .await
        .expect("measures");
    let reads = &m.referrals.time_to_first_read;
    assert_eq!(reads.len(), 1, "{reads:?}");
    assert_eq!(reads[0].provider, w.detox);
    assert_eq!(reads[0].hours.count, 1);
    assert_eq!(
        reads[0].hours.p50,
        Some(0.0),
        "read at once, on the test's clock"
    );
    // Not someone else's to open: not found, as an id that does not exist.
    for id in [told[0].id, NoticeId::new()] {
        assert!(matches!(
            w.engine.open_notification(&elsewhere.actor(), id).await,
            Err(carepath_engine::Error::NotFound(_))
        ));
    }
}

/// A journey that raises most kinds of notice, each e-mailed to the people of the
/// organization it goes to and posted to their webhooks: none names the client, its record
/// number, a level or a program — nor does any kind's text, said every way it is said.
async fn no_notice_sent_out_names_a_client_a_level_or_a_program(b: Backend) {
    let w = World::new(b).await;
    let mail = Mailbox::start().await;
    let hook = Receiver::start(200).await;
    let mut people = Vec::new();
    for (org, role, name) in [
        (w.detox, Role::Partner, "Dee Intake"),
        (w.detox, Role::Supervisor, "Dee Lead"),
        (w.residential, Role::Partner, "Ray Intake"),
        (w.residential2, Role::Partner, "Rae Intake"),
        (w.home, Role::Supervisor, "Hal Lead"),
        (
            w.coordination,
            Role::AftercareCoordinator,
            "Cory Coordinator",
        ),
    ] {
        people.push(sign_up(&w.engine, org, role, name).await);
    }
    for org in [w.detox, w.home, w.coordination] {
        w.engine
            .add_webhook(&Actor::new(org, Role::Admin), &hook.url)
            .await
            .expect("webhook");
    }
    // A referral to detox nobody answers: arrived, expiring within the hour, unanswered.
    let a = named_client(&w).await;
    w.refer(a, "detox", &[w.detox]).await;
    // A group every provider declines: the case manager's (no one named: the supervisors).
    let g = named_client(&w).await;
    w.admit(g, "detox", 40.0).await;
    for (org, r) in [w.residential, w.residential2].into_iter().zip(
        w.refer(g, "residential", &[w.residential, w.residential2])
            .await,
    ) {
        w.run(
            w.partner(org),
            Some(g),
            Command::DeclineReferral {
                referral: r,
                reason: carepath_engine::domain::DeclineReason {
                    code: carepath_engine::domain::DeclineCode::NoCapacity,
                    note: None,
                },
            },
        )
        .await
        .expect("declined");
    }
    // On the way, then reported missing: on the way, did not arrive, lost to care.
    let t = named_client(&w).await;
    w.admit(t, "detox", 40.0).await;
    w.refer_accepted(t, "residential").await;
    w.cm(
        t,
        w.transition(
            carepath_engine::pathway::TransitionKind::StepDown,
            "residential",
            30.0,
        ),
    )
    .await;
    w.run(
        w.partner(w.residential),
        Some(t),
        Command::ReportNoShow { relayed_by: None },
    )
    .await
    .expect("no-show");
    // A supply that runs out tomorrow, nothing booked.
    let m = named_client(&w).await;
    w.admit(m, "detox", 40.0).await;
    w.cm(
        m,
        Command::RecordMatPlan {
            medication: Medication::Buprenorphine,
            supply_through: Some(w.today()),
            last_injection_on: None,
        },
    )
    .await;
    // A planned discharge that needs an aftercare booking: the coordinators a consent names.
    let d = named_client(&w).await;
    w.admit(d, "residential", 30.0).await;
    w.cm(
        d,
        Command::PlanHandoff {
            target: carepath_engine::domain::HandoffTarget::Discharge {
                kind: carepath_engine::pathway::DischargeKind::Planned,
                provider: None,
            },
            on: w.today() + Duration::days(5),
        },
    )
    .await;

    // Three hours and a half later: the detox referral expires within the hour, and nobody
    // opened it in its first 30 minutes.
    w.clock.advance(Duration::minutes(3 * 60 + 30));
    let sweep = w.engine.tell_due_notices().await.expect("sweep");
    assert!(sweep.told >= 1 && sweep.escalated >= 1, "{sweep:?}");

    let n = notifier(&w.engine, Some(mail.url()));
    while n.pass().await.expect("a pass") > 0 {}
    let got = mail.received();
    let words = telling_words(&w);
    for m in &got {
        says_nothing_telling(&m.text(), &words);
    }
    for call in hook.calls() {
        says_nothing_telling(&call.body, &words);
    }
    let mut kinds = std::collections::BTreeSet::new();
    for p in &people {
        for notice in w.engine.notifications(&p.actor()).await.unwrap() {
            kinds.insert(notice.kind);
        }
    }
    for k in [
        NoticeKind::ReferralArrived,
        NoticeKind::ReferralExpiring,
        NoticeKind::Unanswered,
        NoticeKind::GroupEscalated,
        NoticeKind::ClientOnTheWay,
        NoticeKind::ClientDidNotArrive,
        NoticeKind::LostToCare,
        NoticeKind::MatLapsing,
        NoticeKind::BookingNeeded,
    ] {
        assert!(kinds.contains(&k), "{k} was told: {kinds:?}");
    }
    // A person's notices claimed together go in one message.
    let links: usize = got
        .iter()
        .map(|m| m.body.matches("/notifications/").count())
        .sum();
    assert!(links >= 9, "{links} notices in {} e-mails", got.len());
    assert!(!hook.calls().is_empty());

    // Every kind's text, every way it is said (alone, in a digest, as a webhook body).
    let messages: Vec<Message> = NoticeKind::ALL
        .into_iter()
        .map(|kind| Message {
            notice: NoticeId::new(),
            kind,
            at: w.now(),
            due: Some(w.now() + Duration::hours(2)),
        })
        .collect();
    for m in &messages {
        let (subject, body) = carepath_notify::words::email(BASE, std::slice::from_ref(m));
        says_nothing_telling(&format!("{subject}\n{body}"), &words);
        says_nothing_telling(
            &carepath_notify::words::webhook_body(BASE, m, w.now()),
            &words,
        );
    }
    let (subject, body) = carepath_notify::words::email(BASE, &messages);
    says_nothing_telling(&format!("{subject}\n{body}"), &words);
}

/// The SMTP server goes away while referrals keep coming: every e-mail is delivered once it
/// is back, none twice, and every failed attempt is on record.
async fn an_smtp_outage_delays_every_email_and_drops_or_doubles_none(b: Backend) {
    let w = World::new(b).await;
    let mut mail = Mailbox::start().await;
    let intake = sign_up(&w.engine, w.detox, Role::Partner, "Riley Intake").await;
    let n = notifier(&w.engine, Some(mail.url()));
    mail.stop();
    const LOAD: usize = 12;
    for _ in 0..LOAD {
        let c = named_client(&w).await;
        w.refer(c, "detox", &[w.detox]).await;
    }
    assert_eq!(n.pass().await.expect("a pass while SMTP is down"), 0);
    let told = w.engine.notifications(&intake.actor()).await.unwrap();
    assert_eq!(told.len(), LOAD);
    let ids: Vec<NoticeId> = told.iter().map(|t| t.id).collect();
    let admin = Actor::new(w.detox, Role::Admin);
    let records = w
        .engine
        .notification_deliveries(&admin, &ids)
        .await
        .unwrap();
    assert_eq!(records.len(), LOAD, "one e-mail each");
    for r in &records {
        assert_eq!(r.status, "waiting");
        assert_eq!(r.attempts, 1);
        assert!(
            r.last_error.as_deref().is_some_and(|e| e.contains("SMTP")),
            "{r:?}"
        );
    }
    // More load while it is down.
    let c = named_client(&w).await;
    w.refer(c, "detox", &[w.detox]).await;
    mail.resume().await;
    // The failed ones wait out their pause (10 s after a first failure); the new one goes.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while mail.received().len() < LOAD + 1 && std::time::Instant::now() < deadline {
        n.pass().await.expect("a pass");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let got = mail.received();
    let delivered: usize = got
        .iter()
        .map(|m| m.body.matches("/notifications/").count())
        .sum();
    assert_eq!(
        delivered,
        LOAD + 1,
        "every notice delivered, in {} e-mails",
        got.len()
    );
    let mut links: Vec<String> = got
        .iter()
        .flat_map(|m| {
            m.body
                .split_whitespace()
                .filter(|w| w.contains("/notifications/"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    links.sort();
    links.dedup();
    assert_eq!(links.len(), LOAD + 1, "none twice");
    n.pass().await.unwrap();
    assert_eq!(mail.received().len(), got.len(), "nothing more after");
    let records = w
        .engine
        .notification_deliveries(&admin, &ids)
        .await
        .unwrap();
    for r in &records {
        assert_eq!(r.status, "sent", "{r:?}");
        assert_eq!(r.attempts, 2, "one failed attempt, one that went: {r:?}");
    }
}

/// A person who takes a kind hourly gets one digest on the hour; one who turned it off gets
/// none; quiet hours hold e-mail back but never an escalation.
async fn preferences_shape_what_a_person_is_emailed(b: Backend) {
    let w = World::new(b).await;
    let mail = Mailbox::start().await;
    let hourly = sign_up(&w.engine, w.detox, Role::Partner, "Hana Hourly").await;
    let off = sign_up(&w.engine, w.detox, Role::Partner, "Otto Off").await;
    w.engine
        .set_email_preference(
            &hourly.actor(),
            NoticeKind::ReferralArrived,
            EmailMode::Hourly,
        )
        .await
        .unwrap();
    w.engine
        .set_email_preference(&off.actor(), NoticeKind::ReferralArrived, EmailMode::Off)
        .await
        .unwrap();
    assert!(
        w.engine
            .set_email_preference(&off.actor(), NoticeKind::Unanswered, EmailMode::Off)
            .await
            .is_err(),
        "an escalation always comes"
    );
    for _ in 0..3 {
        let c = named_client(&w).await;
        w.refer(c, "detox", &[w.detox]).await;
    }
    let n = notifier(&w.engine, Some(mail.url()));
    n.pass().await.unwrap();
    assert!(mail.received().is_empty(), "nothing before the hour");
    // On the hour: one digest of the three.
    w.clock.advance(Duration::minutes(61));
    n.pass().await.unwrap();
    let got = mail.wait_for(1).await;
    assert_eq!(got.len(), 1, "one digest");
    assert!(to_person(&got[0], &hourly));
    assert_eq!(got[0].header("subject"), Some("3 notices in Carepath"));
    assert_eq!(got[0].body.matches("/notifications/").count(), 3);
    // Nobody read them for 30 minutes: the escalations reach even the one who is off.
    let off_prefs = w.engine.email_preferences(&off.actor()).await.unwrap();
    assert!(
        off_prefs
            .modes
            .contains(&(NoticeKind::ReferralArrived, EmailMode::Off))
    );
}

/// A webhook call as Standard Webhooks define it, verified by their own library for Python;
/// a webhook that keeps failing is turned off and the organization's admins are told.
async fn webhooks_are_signed_and_one_that_keeps_failing_is_turned_off(b: Backend) {
    let w = World::new(b).await;
    let hook = Receiver::start(200).await;
    let admin = sign_up(&w.engine, w.detox, Role::Admin, "Ada Admin").await;
    assert!(
        w.engine
            .add_webhook(&admin.actor(), "http://hooks.example.org/in")
            .await
            .is_err(),
        "plain http only to this machine"
    );
    assert!(
        w.engine
            .add_webhook(&w.partner(w.detox), &hook.url)
            .await
            .is_err(),
        "admins only"
    );
    let (made, secret) = w
        .engine
        .add_webhook(&admin.actor(), &hook.url)
        .await
        .expect("webhook");
    assert!(secret.starts_with("whsec_"));
    let c = named_client(&w).await;
    w.refer(c, "detox", &[w.detox]).await;
    let n = notifier(&w.engine, None);
    assert_eq!(n.pass().await.unwrap(), 1);
    let calls = hook.calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    let body: serde_json::Value = serde_json::from_str(&call.body).expect("JSON");
    assert_eq!(body["type"], "carepath.notice.referral_arrived");
    assert!(
        body["data"]["link"]
            .as_str()
            .is_some_and(|l| l.starts_with(&format!("{BASE}/notifications/")))
    );
    verified_by_standard_webhooks(&secret, call);
    // A signature under another secret is refused by the same library (the check can fail).
    let other = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    assert!(!standard_webhooks_accepts(other, call));

    // From now on the receiver fails: after WEBHOOK_FAILURE_LIMIT failures in a row it is
    // turned off, and the admins are told (in their center).
    hook.fail_with(500);
    for _ in 0..carepath_engine::WEBHOOK_FAILURE_LIMIT {
        let c = named_client(&w).await;
        w.refer(c, "detox", &[w.detox]).await;
    }
    n.pass().await.unwrap();
    let hooks = w.engine.webhooks(&admin.actor()).await.unwrap();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].id, made.id);
    assert!(!hooks[0].enabled, "{hooks:?}");
    assert!(hooks[0].disabled_at.is_some());
    let told = w.engine.notifications(&admin.actor()).await.unwrap();
    assert!(
        told.iter().any(|t| t.kind == NoticeKind::WebhookDisabled),
        "{told:?}"
    );
    // Off: nothing more is posted.
    let before = hook.calls().len();
    let c = named_client(&w).await;
    w.refer(c, "detox", &[w.detox]).await;
    n.pass().await.unwrap();
    assert_eq!(hook.calls().len(), before);
}

/// What the database plans for `query`, with sequential scans off on PostgreSQL: whether an
/// index can serve the query, not whether an empty table is worth it.
async fn plan_of(w: &World, b: Backend, query: &str) -> String {
    use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
    let tx = w.sql.begin().await.expect("a transaction");
    let (explain, column) = match b {
        Backend::Postgres => {
            tx.execute_unprepared("SET LOCAL enable_seqscan = off")
                .await
                .expect("set");
            (format!("EXPLAIN {query}"), "QUERY PLAN")
        }
        Backend::Sqlite => (format!("EXPLAIN QUERY PLAN {query}"), "detail"),
    };
    tx.query_all_raw(Statement::from_string(
        w.sql.get_database_backend(),
        explain,
    ))
    .await
    .expect("explain")
    .iter()
    .map(|r| r.try_get::<String>("", column).expect("plan line"))
    .collect::<Vec<_>>()
    .join("\n")
}

/// The notifier's every pass reads the open notices not yet expanded, and open notices are as
/// many as the census leaves unresolved: the store's condition for them is one the partial
/// index of only those (migration 23) serves, so a pass reads what it takes instead of every
/// open notice. Asked of each database's planner with the store's own condition.
async fn the_notifier_reads_only_the_notices_it_expands(b: Backend) {
    let w = World::new(b).await;
    let plan = plan_of(
        &w,
        b,
        &format!(
            "SELECT id FROM notifications WHERE {} ORDER BY show_at LIMIT 100",
            carepath_engine::NOTICES_TO_EXPAND
        ),
    )
    .await;
    assert!(plan.contains("notifications_to_expand"), "{plan}");
}

/// The sweep asks every few seconds for the silent notices whose deadline passed: through the
/// partial index of the notices still silent (migration 23), not through every notice whose
/// deadline ever passed.
async fn the_sweep_reads_only_the_notices_still_silent(b: Backend) {
    let w = World::new(b).await;
    let plan = plan_of(
        &w,
        b,
        &format!(
            "SELECT id FROM notifications WHERE {} AND escalate_at <= '2026-12-07' \
             ORDER BY escalate_at LIMIT 500",
            carepath_engine::NOTICES_SILENT
        ),
    )
    .await;
    assert!(plan.contains("notifications_silent"), "{plan}");
}

on_both_backends!(
    the_notifier_reads_only_the_notices_it_expands,
    the_sweep_reads_only_the_notices_still_silent,
    a_referral_reaches_the_partners_intake_by_email_and_in_its_center_naming_no_one,
    no_notice_sent_out_names_a_client_a_level_or_a_program,
    an_smtp_outage_delays_every_email_and_drops_or_doubles_none,
    preferences_shape_what_a_person_is_emailed,
    webhooks_are_signed_and_one_that_keeps_failing_is_turned_off,
);

/// On a time-skipping server with an SMTP server: a detox referral nobody opens is escalated
/// to the provider's supervisors at its silence deadline (30 minutes of its 4-hour answer
/// window), by e-mail too; one that was opened is not. The e-mail of the referral itself
/// arrives from the running server's own notifier.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detox_referral_nobody_reads_escalates_to_the_supervisor_at_its_deadline() {
    let mail = Mailbox::start().await;
    let smtp = mail.url();
    let (n, admin) = crate::skipping::skipping_net_with(
        Backend::Postgres,
        &[
            ("CAREPATH_SMTP_URL", &smtp),
            ("CAREPATH_NOTIFY_POLL_MS", "100"),
        ],
    )
    .await;
    let detox = n.provider("detox");
    let engine = &n.s.engine;
    let supervisor = sign_up(engine, detox, Role::Supervisor, "Sid Lead").await;
    let intake = sign_up(engine, detox, Role::Partner, "Ivy Intake").await;

    let unread = n.register().await;
    n.consent(&unread).await;
    let started = std::time::Instant::now();
    n.refer(&unread, "detox").await;
    let first = mail.wait_for(1).await;
    let latency = started.elapsed();
    println!("referral to e-mail received over SMTP: {latency:?}");
    assert!(to_person(&first[0], &intake));

    let opened = n.register().await;
    n.consent(&opened).await;
    n.refer(&opened, "detox").await;
    mail.wait_for(2).await;
    let list = engine.notifications(&intake.actor()).await.unwrap();
    assert_eq!(list.len(), 2);
    // The newest is the second client's: opened.
    engine
        .open_notification(&intake.actor(), list[0].id)
        .await
        .expect("opened");

    let sup = Actor::person(detox, Role::Supervisor, supervisor.staff);
    crate::skipping::advance(&n.s, &admin, "PT29M").await;
    assert!(
        engine.notifications(&sup).await.unwrap().is_empty(),
        "not yet"
    );
    crate::skipping::advance(&n.s, &admin, "PT2M").await;
    let escalated = engine.notifications(&sup).await.unwrap();
    assert_eq!(escalated.len(), 1, "only the unread one: {escalated:?}");
    assert_eq!(escalated[0].kind, NoticeKind::Unanswered);
    let at = crate::skipping::clock(&n.s) - Duration::minutes(1);
    assert_eq!(
        escalated[0].at, at,
        "at its deadline, as the clock stood there"
    );
    let original = engine.notifications(&intake.actor()).await.unwrap();
    assert!(
        original.iter().any(|o| o.escalated),
        "recorded on the first"
    );
    let got = mail.wait_for(3).await;
    assert!(got.iter().any(|m| to_person(m, &supervisor)
        && m.header("subject") == Some("A notice went unanswered and was passed on to you")));
    let _ = StaffId::new();
}

// ---- a webhook receiver ---------------------------------------------------------------------

#[derive(Clone, Debug)]
pub struct Call {
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Call {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }
}

/// An HTTP server that records every POST and answers with the status it is told.
pub struct Receiver {
    pub url: String,
    calls: Arc<Mutex<Vec<Call>>>,
    status: Arc<std::sync::atomic::AtomicU16>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start(status: u16) -> Self {
        let calls: Arc<Mutex<Vec<Call>>> = Arc::default();
        let status = Arc::new(std::sync::atomic::AtomicU16::new(status));
        let (c, s) = (calls.clone(), status.clone());
        let app = axum::Router::new().route(
            "/in",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let (c, s) = (c.clone(), s.clone());
                async move {
                    c.lock().unwrap().push(Call {
                        headers: headers
                            .iter()
                            .map(|(n, v)| {
                                (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())
                            })
                            .collect(),
                        body,
                    });
                    axum::http::StatusCode::from_u16(s.load(std::sync::atomic::Ordering::SeqCst))
                        .unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/in", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver {
            url,
            calls,
            status,
            task,
        }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    pub fn fail_with(&self, status: u16) {
        self.status
            .store(status, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Whether the Standard Webhooks library for Python accepts the call under `secret`.
fn standard_webhooks_accepts(secret: &str, call: &Call) -> bool {
    let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
secret, headers, body = sys.argv[1], json.loads(sys.argv[2]), sys.stdin.read()
try:
    Webhook(secret).verify(body, headers)
    print("verified")
except Exception as e:
    print("refused:", type(e).__name__, e)
"#;
    let headers = serde_json::json!({
        "webhook-id": call.header("webhook-id"),
        "webhook-timestamp": call.header("webhook-timestamp"),
        "webhook-signature": call.header("webhook-signature"),
    });
    let mut child = std::process::Command::new(python())
        .args(["-c", script, secret, &headers.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("the webhook tests need Python with standardwebhooks (scripts/test installs it): {e}")
        });
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(call.body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python could not check the signature (is standardwebhooks installed? scripts/test \
         installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    said.trim() == "verified"
}

fn verified_by_standard_webhooks(secret: &str, call: &Call) {
    assert!(call.header("webhook-id").starts_with("msg_"));
    assert!(call.header("webhook-signature").starts_with("v1,"));
    assert_eq!(call.header("content-type"), "application/json");
    assert!(
        standard_webhooks_accepts(secret, call),
        "the Standard Webhooks library refused the signature: {call:?}"
    );
}
