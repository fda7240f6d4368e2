//! The console's notification center over HTTP, as a browser uses it: the header's count of
//! unread notices and the number its script asks for, the list of notices (in words, never a
//! client's name), opening one (read, and on to where acting starts; someone else's is not
//! found), mark all read; a person's e-mail choices and quiet hours on `/account`; an
//! organization's webhooks on `/staff` (the secret shown once). What a form did is checked
//! through the engine, not the page. And in a browser (`browser` below): the header's count
//! lights up live when a referral is sent, and its link leads to the inbox entry.

use crate::api::{Net, RESULT};
use crate::console::{Console, cookie_of};
use crate::on_both_backends;
use crate::people::sign_up;
use crate::support::Backend;
use carepath_engine::domain::{EmailMode, NoticeKind, QuietHours, Role};
use carepath_engine::ids::OrgId;
use serde_json::json;

/// A client registered with a display name, consented to `recipients` and admitted at
/// `level`.
pub(crate) async fn named_client(n: &Net, name: &str, recipients: &[OrgId], level: &str) -> String {
    let d = n
        .cm(
            &format!(
                "mutation($n: String!) {{ registerClient(input: {{ birthYear: 1984, displayName: $n }}) {RESULT} }}"
            ),
            json!({ "n": name }),
        )
        .await;
    let c = d["registerClient"]["clientId"].as_str().unwrap().to_owned();
    n.consent_to(&c, recipients).await;
    n.admit(&c, level, 30.0).await;
    c
}

/// The number `/notifications/unread` answers (the header's script asks it).
async fn unread(c: &Console) -> u64 {
    let a = c.get("/notifications/unread").await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.body.trim().parse().expect("a number")
}

/// The ids of the notices a page links to (`/notifications/<id>`), in its order.
fn notice_links(html: &str) -> Vec<String> {
    html.split("href=\"/notifications/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|id| uuid::Uuid::parse_str(id).is_ok())
        .map(str::to_owned)
        .collect()
}

async fn a_partner_is_told_of_a_referral_and_its_notice_opens_the_inbox_entry(b: Backend) {
    let n = Net::new(b).await;
    let to = [n.provider("detox"), n.provider("residential")];
    let partner = Console::like_token(&n.s, n.partner("residential")).await;
    assert_eq!(unread(&partner).await, 0);
    let page = partner.page("/inbox").await;
    assert!(
        page.contains("aria-label=\"Notifications: none unread\""),
        "{page}"
    );
    let empty = partner.page("/notifications").await;
    assert!(empty.contains("You have no notifications."), "{empty}");

    // A case manager sends a referral to the partner's organization: its intake is told.
    let c = named_client(&n, "Nora Noticed", &to, "detox").await;
    let r = n.refer(&c, "residential").await;
    assert_eq!(unread(&partner).await, 1);
    let list = partner.page("/notifications").await;
    assert!(
        list.contains("Notifications: 1 unread"),
        "the header: {list}"
    );
    assert!(list.contains("New referral"), "{list}");
    assert!(list.contains("expires "), "the referral's expiry: {list}");
    assert!(list.contains("unread"), "{list}");
    assert!(list.contains("Take me there"), "{list}");
    assert!(
        !list.contains("Nora Noticed"),
        "the notification center names the client: {list}"
    );
    let ids = notice_links(&list);
    assert_eq!(ids.len(), 1, "{list}");
    let id = &ids[0];

    // Someone else's notice is not found: a partner elsewhere, the referring case manager.
    let elsewhere = Console::like_token(&n.s, n.partner("iop")).await;
    let refused = elsewhere.get(&format!("/notifications/{id}")).await;
    assert_eq!(refused.status, 404, "{}", refused.body);
    assert!(refused.body.contains("Not found"), "{}", refused.body);
    let cm = Console::like_token(&n.s, &n.cm).await;
    assert_eq!(cm.get(&format!("/notifications/{id}")).await.status, 404);
    assert_eq!(cm.get("/notifications/not-a-notice").await.status, 404);
    assert_eq!(unread(&partner).await, 1, "their look read nothing");

    // Opening it reads it and goes on to the referral's entry in the inbox.
    let opened = partner.get(&format!("/notifications/{id}")).await;
    assert_eq!(opened.status, 303, "{}", opened.body);
    assert_eq!(
        opened.location.as_deref(),
        Some(format!("/inbox#referral-{r}").as_str())
    );
    let inbox = partner.page("/inbox").await;
    assert!(
        inbox.contains(&format!("id=\"referral-{r}\"")),
        "no entry to land on: {inbox}"
    );
    assert_eq!(unread(&partner).await, 0);
    let list = partner.page("/notifications").await;
    assert!(list.contains("Notifications: none unread"), "{list}");
    assert!(list.contains(">read<"), "{list}");

    // A second referral, then "Mark all read".
    let c2 = named_client(&n, "Otto Second", &to, "detox").await;
    n.refer(&c2, "residential").await;
    assert_eq!(unread(&partner).await, 1);
    let done = partner
        .submit("/notifications", "/notifications/read", &[])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/notifications?read=1"));
    assert_eq!(unread(&partner).await, 0);
    let list = partner.page("/notifications?read=1").await;
    assert!(list.contains("One notification marked read."), "{list}");
    assert_eq!(notice_links(&list).len(), 2, "{list}");

    // A form without its CSRF token changes nothing.
    let c3 = named_client(&n, "Pia Third", &to, "detox").await;
    n.refer(&c3, "residential").await;
    let foreign = partner.post("/notifications/read", &[]).await;
    assert_eq!(foreign.status, 403, "{}", foreign.body);
    assert_eq!(unread(&partner).await, 1);
}

async fn a_person_chooses_how_notices_reach_them_by_email(b: Backend) {
    let n = Net::new(b).await;
    let dana = sign_up(&n.s.engine, n.home, Role::CaseManager, "Dana Mailer").await;
    let cm = Console::sign_in(&n.s, &dana).await;
    let page = cm.page("/account").await;
    assert!(page.contains("E-mail notifications"), "{page}");
    assert!(page.contains("always come at once"), "{page}");
    assert!(page.contains("name=\"mode-lost_to_care\""), "{page}");
    assert!(
        !page.contains("name=\"mode-unanswered\""),
        "an escalation cannot be silenced: {page}"
    );

    let saved = cm
        .submit(
            "/account",
            "/account/email",
            &[
                ("mode-lost_to_care", "hourly"),
                ("mode-followup_missed", "off"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(
        saved.location.as_deref(),
        Some("/account?saved=email#email-h")
    );
    let prefs = n.s.engine.email_preferences(&dana.actor()).await.unwrap();
    let mode = |k: NoticeKind| prefs.modes.iter().find(|(x, _)| *x == k).unwrap().1;
    assert_eq!(mode(NoticeKind::LostToCare), EmailMode::Hourly);
    assert_eq!(mode(NoticeKind::FollowupMissed), EmailMode::Off);
    assert_eq!(mode(NoticeKind::GroupEscalated), EmailMode::Immediate);
    let page = cm.page("/account?saved=email").await;
    assert!(page.contains("Your e-mail choices were saved."), "{page}");
    assert!(
        page.contains("<option value=\"hourly\" selected>"),
        "the choice shown: {page}"
    );

    let quiet = cm
        .submit(
            "/account",
            "/account/quiet-hours",
            &[("from", "22"), ("to", "6")],
        )
        .await;
    assert_eq!(quiet.status, 303, "{}", quiet.body);
    let prefs = n.s.engine.email_preferences(&dana.actor()).await.unwrap();
    assert_eq!(
        prefs.quiet,
        Some(QuietHours {
            from_hour: 22,
            to_hour: 6
        })
    );
    let page = cm.page("/account").await;
    assert!(page.contains("22:00 to 06:00 UTC"), "{page}");

    // Half a choice is refused in words; the same hour twice is the engine's refusal.
    let half = cm
        .submit(
            "/account",
            "/account/quiet-hours",
            &[("from", "3"), ("to", "")],
        )
        .await;
    assert_eq!(half.status, 400, "{}", half.body);
    assert!(half.body.contains("Check the form"), "{}", half.body);
    let same = cm
        .submit(
            "/account",
            "/account/quiet-hours",
            &[("from", "4"), ("to", "4")],
        )
        .await;
    assert_eq!(same.status, 400, "{}", same.body);
    let prefs = n.s.engine.email_preferences(&dana.actor()).await.unwrap();
    assert_eq!(
        prefs.quiet.map(|q| q.from_hour),
        Some(22),
        "nothing changed"
    );

    // None at all.
    let none = cm
        .submit(
            "/account",
            "/account/quiet-hours",
            &[("from", ""), ("to", "")],
        )
        .await;
    assert_eq!(none.status, 303, "{}", none.body);
    let prefs = n.s.engine.email_preferences(&dana.actor()).await.unwrap();
    assert_eq!(prefs.quiet, None);
}

async fn an_admin_adds_a_webhook_sees_its_secret_once_and_removes_it(b: Backend) {
    let n = Net::new(b).await;
    let admin = Console::as_new(&n.s, n.home, Role::Admin).await;
    let page = admin.page("/staff").await;
    assert!(page.contains("Webhooks"), "{page}");
    assert!(page.contains("No webhook is set up."), "{page}");

    let url = "https://hooks.example.org/carepath";
    let added = admin
        .submit("/staff", "/staff/webhooks", &[("url", url)])
        .await;
    assert_eq!(added.status, 200, "{}", added.body);
    assert!(added.body.contains("Webhook added"), "{}", added.body);
    assert!(added.body.contains("value=\"whsec_"), "{}", added.body);
    assert!(added.body.contains(url), "{}", added.body);

    let page = admin.page("/staff").await;
    assert!(!page.contains("whsec_"), "the secret shown again: {page}");
    assert!(
        page.contains(&format!("<th scope=\"row\">{url}</th>")),
        "{page}"
    );
    let hooks =
        n.s.engine
            .webhooks(&carepath_engine::domain::Actor::new(n.home, Role::Admin))
            .await;
    let hooks = hooks.unwrap();
    assert_eq!(hooks.len(), 1);
    assert!(hooks[0].enabled);

    // Not an address the engine takes: refused in words.
    let refused = admin
        .submit(
            "/staff",
            "/staff/webhooks",
            &[("url", "http://hooks.example.org/")],
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("https://"), "{}", refused.body);

    // A case manager may not.
    let cm = Console::like_token(&n.s, &n.cm).await;
    assert_eq!(cm.get("/staff").await.status, 403);

    let id = hooks[0].id;
    let removed = admin
        .submit("/staff", &format!("/staff/webhooks/{id}/remove"), &[])
        .await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    assert_eq!(
        removed.location.as_deref(),
        Some("/staff?done=webhook-removed")
    );
    let page = admin.page("/staff?done=webhook-removed").await;
    assert!(page.contains("The webhook was removed"), "{page}");
    assert!(page.contains("No webhook is set up."), "{page}");
}

/// A notice's link from an e-mail, followed by someone not signed in: sign-in first, and then
/// on to the notice (which leads to the inbox entry) — not to the role's first page. A path
/// that is not a notice's is never followed after sign-in.
async fn an_emailed_link_leads_through_sign_in_to_its_notice(b: Backend) {
    let n = Net::new(b).await;
    let intake = sign_up(
        &n.s.engine,
        n.provider("residential"),
        Role::Partner,
        "Rae Intake",
    )
    .await;
    let to = [n.provider("detox"), n.provider("residential")];
    let c = named_client(&n, "Lee Marsh", &to, "detox").await;
    n.refer(&c, "residential").await;
    let notice = n.s.engine.notifications(&intake.actor()).await.unwrap()[0].id;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let link = format!("{}/notifications/{notice}", n.s.url);
    let resp = http.get(&link).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/sign-in");
    let remembered = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("carepath_next="))
        .expect("the notice remembered");
    assert!(remembered.contains("HttpOnly") && remembered.contains("SameSite=Lax"));
    let next = remembered.split(';').next().unwrap().to_owned();
    let resp = http
        .post(format!("{}/sign-in", n.s.url))
        .header("cookie", &next)
        .form(&[("email", &intake.email), ("password", &intake.password)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["location"], "/sign-in/code");
    let pending = cookie_of(&resp, "carepath_sign_in");
    let resp = http
        .post(format!("{}/sign-in/code", n.s.url))
        .header("cookie", format!("{pending}; {next}"))
        .form(&[("code", intake.next_code().await)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "signed in");
    assert_eq!(
        resp.headers()["location"].to_str().unwrap(),
        format!("/notifications/{notice}"),
        "on to the notice"
    );
    let session = cookie_of(&resp, "carepath_session");
    let resp = http
        .get(&link)
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert!(
        resp.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/inbox#referral-"),
        "{:?}",
        resp.headers()["location"]
    );

    // Anything but a notice's path, remembered by someone else's hand, is not followed.
    let other = sign_up(
        &n.s.engine,
        n.provider("residential"),
        Role::Partner,
        "Ode Other",
    )
    .await;
    let resp = http
        .post(format!("{}/sign-in", n.s.url))
        .header("cookie", "carepath_next=//evil.example.org/x")
        .form(&[("email", &other.email), ("password", &other.password)])
        .send()
        .await
        .unwrap();
    let pending = cookie_of(&resp, "carepath_sign_in");
    let resp = http
        .post(format!("{}/sign-in/code", n.s.url))
        .header(
            "cookie",
            format!("{pending}; carepath_next=//evil.example.org/x"),
        )
        .form(&[("code", other.next_code().await)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["location"],
        "/inbox",
        "the role's first page"
    );
}

/// An admin sets who is told what on the staff page: a kind turned off, another's silence
/// deadline; a deadline that is no number is refused in words and changes nothing.
async fn an_admin_sets_who_is_told_what(b: Backend) {
    use carepath_engine::domain::Actor;
    let n = Net::new(b).await;
    let admin = Console::as_new(&n.s, n.home, Role::Admin).await;
    let page = admin.page("/staff").await;
    assert!(page.contains("Who is told what"), "{page}");
    assert!(
        page.contains("30 minutes for withdrawal management"),
        "{page}"
    );
    let set = admin
        .submit(
            "/staff",
            "/staff/notice-rules",
            &[
                ("kind", "referral_arrived"),
                ("told", "yes"),
                ("minutes", "20"),
            ],
        )
        .await;
    assert_eq!(set.status, 303, "{}", set.body);
    let off = admin
        .submit(
            "/staff",
            "/staff/notice-rules",
            &[("kind", "followup_missed"), ("told", "no"), ("minutes", "")],
        )
        .await;
    assert_eq!(off.status, 303, "{}", off.body);
    let refused = admin
        .submit(
            "/staff",
            "/staff/notice-rules",
            &[
                ("kind", "lost_to_care"),
                ("told", "yes"),
                ("minutes", "soon"),
            ],
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("whole number"), "{}", refused.body);
    let rules =
        n.s.engine
            .notice_rules_of(&Actor::new(n.home, Role::Admin))
            .await
            .unwrap();
    let of = |k: NoticeKind| rules.iter().find(|r| r.kind == k).unwrap().clone();
    assert_eq!(
        of(NoticeKind::ReferralArrived).own_escalation,
        Some(Some(chrono::Duration::minutes(20)))
    );
    assert!(of(NoticeKind::FollowupMissed).off);
    assert_eq!(of(NoticeKind::LostToCare).own_escalation, None, "unchanged");
    assert!(!of(NoticeKind::LostToCare).off);
    let page = admin.page("/staff").await;
    assert!(page.contains("value=\"20\""), "{page}");
    // Only admins set them.
    assert!(
        n.s.engine
            .set_notice_rule(
                &Actor::new(n.home, Role::CaseManager),
                NoticeKind::LostToCare,
                carepath_engine::domain::Rule {
                    off: true,
                    escalate_after: None
                }
            )
            .await
            .is_err()
    );
}

on_both_backends!(
    an_admin_sets_who_is_told_what,
    an_emailed_link_leads_through_sign_in_to_its_notice,
    a_partner_is_told_of_a_referral_and_its_notice_opens_the_inbox_entry,
    a_person_chooses_how_notices_reach_them_by_email,
    an_admin_adds_a_webhook_sees_its_secret_once_and_removes_it,
);

/// The notification center in a browser (a test named `browser`, as the browser tests are).
mod browser {
    use super::named_client;
    use crate::api::Net;
    use crate::browser::{Browser, eventually};
    use crate::people::sign_up;
    use crate::support::Backend;
    use carepath_engine::domain::Role;

    /// Photograph the page shown as `name` and check it with axe.
    async fn look(b: &Browser, name: &str) {
        b.screenshot(name).await;
        b.axe(&format!("{name} ({})", b.path().await)).await;
    }

    /// The header's notification link: its words, and its accessible name.
    async fn badge(b: &Browser) -> (String, String) {
        let link = b.find("header a.notifications").await;
        let words = link.text().await.expect("the link's words");
        let label = link
            .attr("aria-label")
            .await
            .expect("the link's label")
            .unwrap_or_default();
        (
            words.split_whitespace().collect::<Vec<_>>().join(" "),
            label,
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_partners_notification_center_lights_up_when_a_referral_is_sent_and_its_link_opens_the_inbox_entry()
     {
        let n = Net::new(Backend::Sqlite).await;
        let residential = n.provider("residential");
        let pat = sign_up(&n.s.engine, residential, Role::Partner, "Pat Intake").await;
        let b = Browser::open(&n.s.url, "notification-center").await;
        assert_eq!(b.sign_in(&pat).await, "/inbox");
        assert_eq!(
            badge(&b).await,
            (
                "Notifications".to_owned(),
                "Notifications: none unread".to_owned()
            )
        );
        look(&b, "01-inbox-nothing-unread").await;

        // This document, marked: a reload would lose the mark.
        b.js("window.__sameDocument = 'inbox'", vec![]).await;

        // The header listens on /live once its script has connected: until a commit has made it
        // count once (a client registered: nothing for this partner), the referral could come
        // first.
        let mut tries = 0;
        eventually("the header's first count (does /live send events?)", || {
            tries += 1;
            let b = &b;
            let n = &n;
            async move {
                if tries % 20 == 1 {
                    n.register().await;
                }
                let counted = b
                    .find("header a.notifications")
                    .await
                    .attr("data-count")
                    .await
                    .ok()?;
                counted.filter(|c| c == "0").map(|_| ())
            }
        })
        .await;

        // A case manager sends a referral to the partner's organization (over GraphQL): the
        // count lights up without a reload.
        let to = [n.provider("detox"), residential];
        let c = named_client(&n, "Rosa Badge", &to, "detox").await;
        let r = n.refer(&c, "residential").await;
        eventually("the header to count one unread notification", || async {
            (badge(&b).await
                == (
                    "Notifications 1".to_owned(),
                    "Notifications: 1 unread".to_owned(),
                ))
                .then_some(())
        })
        .await;
        assert_eq!(
            b.js("return window.__sameDocument", vec![]).await,
            "inbox",
            "the page was reloaded, not updated"
        );
        assert_eq!(b.path().await, "/inbox");
        assert_eq!(
            b.js(
                "return document.querySelector('.unread-said').textContent",
                vec![]
            )
            .await,
            "You have 1 unread notification",
            "a screen reader is not told"
        );
        look(&b, "02-inbox-one-unread").await;

        // Notifications: the notice in words, without the client's name.
        b.press("Notifications 1").await;
        assert_eq!(b.path().await, "/notifications");
        assert_eq!(b.heading().await, "Notifications");
        let main = b.text("main").await;
        assert!(main.contains("New referral"), "{main}");
        assert!(main.contains("unread"), "{main}");
        assert!(!main.contains("Rosa Badge"), "the client named: {main}");
        look(&b, "03-notifications").await;

        // Take me there: the referral's entry in the inbox, the notice read.
        b.press("Take me there").await;
        assert_eq!(b.path().await, "/inbox");
        assert_eq!(
            b.js("return location.hash", vec![]).await,
            format!("#referral-{r}")
        );
        let entry = b.text(&format!("#referral-{r}")).await;
        assert!(entry.contains("Rosa Badge"), "the inbox entry: {entry}");
        assert!(entry.contains("answer by"), "the inbox entry: {entry}");
        assert_eq!(
            badge(&b).await,
            (
                "Notifications".to_owned(),
                "Notifications: none unread".to_owned()
            )
        );
        look(&b, "04-inbox-entry").await;

        // Back in the center the notice is read.
        b.goto("/notifications").await;
        let main = b.text("main").await;
        assert!(main.contains("read"), "{main}");
        assert!(!main.contains("unread"), "{main}");
        look(&b, "05-notifications-read").await;
        b.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_admin_chooses_e_mail_and_quiet_hours_and_adds_a_webhook_through_the_pages() {
        let n = Net::new(Backend::Sqlite).await;
        let ada = sign_up(&n.s.engine, n.home, Role::Admin, "Ada Admin").await;
        let b = Browser::open(&n.s.url, "notification-choices").await;
        b.sign_in(&ada).await;

        b.goto("/account").await;
        let email = b.section("E-mail notifications").await;
        assert_eq!(email.chosen("Client lost to care").await, "At once");
        email
            .choose("Client lost to care", "In an hourly digest")
            .await;
        email.choose("Follow-up missed", "No e-mail").await;
        email.press("Save e-mail choices").await;
        assert!(b.text("[role=status]").await.contains("saved"));
        let email = b.section("E-mail notifications").await;
        assert_eq!(
            email.chosen("Client lost to care").await,
            "In an hourly digest"
        );
        email.choose("From", "22:00 UTC").await;
        email.choose("To", "06:00 UTC").await;
        email.press("Save quiet hours").await;
        let main = b.text("main").await;
        assert!(main.contains("22:00 to 06:00 UTC"), "{main}");
        look(&b, "01-account-e-mail").await;

        b.goto("/staff").await;
        let add = b.section("Add a webhook").await;
        add.fill("Address (https://…)", "https://hooks.example.org/carepath")
            .await;
        add.press("Add webhook").await;
        let once = b.text("#once-secret").await;
        let secret = b
            .find("#once-secret")
            .await
            .prop("value")
            .await
            .expect("the secret")
            .unwrap_or_default();
        assert!(secret.starts_with("whsec_"), "{once} {secret}");
        look(&b, "02-webhook-added").await;
        b.goto("/staff").await;
        assert_eq!(
            b.cell("https://hooks.example.org/carepath", "On")
                .await
                .as_deref(),
            Some("On")
        );
        b.js(
            "document.getElementById('webhooks-h').scrollIntoView()",
            vec![],
        )
        .await;
        look(&b, "03-webhooks").await;
        b.close().await;
    }
}
