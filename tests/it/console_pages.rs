//! The console's inbox, worklist and measures pages over HTTP, as a browser uses them: sign in
//! with a token (a session cookie), read a page, post its forms with the hidden fields it drew
//! (CSRF token, idempotency key, the client's version). What a form did is checked through
//! the GraphQL API and the engine, not the page.

use crate::api::{Net, RESULT};
use crate::console::{Console, form_fields as form};
use crate::on_both_backends;
use crate::support::Backend;
use carepath_engine::domain::{Actor, Role};
use carepath_engine::ids::OrgId;
use chrono::{Duration, Utc};
use serde_json::{Value, json};

fn without(fields: &[(String, String)], name: &str) -> Vec<(String, String)> {
    fields.iter().filter(|(k, _)| k != name).cloned().collect()
}

/// A client registered with a display name, consented to `recipients` and admitted at
/// `level`.
async fn named_client(n: &Net, name: &str, recipients: &[OrgId], level: &str) -> String {
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

fn everyone(n: &Net) -> Vec<OrgId> {
    let mut all: Vec<OrgId> = n.providers.iter().map(|(_, id)| *id).collect();
    all.push(n.pharmacy);
    all.push(n.hub);
    all
}

async fn client(n: &Net, c: &str, fields: &str) -> Value {
    n.cm(
        &format!("query($c: UUID!) {{ client(id: $c) {{ {fields} }} }}"),
        json!({ "c": c }),
    )
    .await["client"]
        .clone()
}

async fn referral_status(n: &Net, c: &str, r: &str) -> String {
    let d = client(n, c, "referrals { id status }").await;
    d["referrals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == r)
        .expect("the referral")["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn held(n: &Net, level: &str) -> i32 {
    let admin = Actor::new(OrgId(uuid::Uuid::nil()), Role::Admin);
    n.s.engine
        .census(&admin)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.provider == n.provider(level) && r.level.as_str() == level)
        .expect("the provider's row")
        .held
}

async fn a_partner_answers_its_inbox_and_confirms_the_arrival_from_its_forms(b: Backend) {
    let n = Net::new(b).await;
    let c = named_client(&n, "Rosa Delgado-Inbox", &everyone(&n), "detox").await;
    let r = n.refer(&c, "residential").await;
    // A second referral to the same provider, for a client who then revokes the consent (which
    // withdraws it).
    let other = named_client(&n, "Withheld Person", &everyone(&n), "detox").await;
    let r2 = n.refer(&other, "residential").await;
    let consents = client(&n, &other, "consents { id }").await;
    n.cm(
        "mutation($c: UUID!, $k: UUID!) { revokeConsent(clientId: $c, consentId: $k) { version } }",
        json!({ "c": other, "k": consents["consents"][0]["id"] }),
    )
    .await;

    // The inbox is the receiving provider's: a case manager is refused as the engine refuses.
    let cm = Console::like_token(&n.s, &n.cm).await;
    assert_eq!(cm.get("/inbox").await.status, 403);

    let partner = Console::like_token(&n.s, n.partner("residential")).await;
    let inbox = partner.page("/inbox").await;
    assert!(inbox.contains("Rosa Delgado-Inbox"), "{inbox}");
    assert!(inbox.contains("Residential treatment"), "{inbox}");
    assert!(inbox.contains(&format!("action=\"/referrals/{r}/accept\"")));
    assert!(inbox.contains("New: waiting for your answer"));
    assert!(inbox.contains("answer by"));
    // The referral the revocation withdrew is not in play any more, nor is its client named.
    assert!(!inbox.contains(&format!("/referrals/{r2}/")), "{inbox}");
    assert!(!inbox.contains("Withheld Person"));
    // Another provider's partner sees nothing of it.
    let iop = Console::like_token(&n.s, n.partner("iop")).await;
    let theirs = iop.page("/inbox").await;
    assert!(!theirs.contains("Rosa Delgado-Inbox") && !theirs.contains(&r));

    // Declining needs a reason: refused, nothing changed.
    let decline = form(&inbox, &format!("/referrals/{r}/decline"), &[]);
    let refused = partner
        .post(&format!("/referrals/{r}/decline"), &decline)
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("reason"), "{}", refused.body);
    assert_eq!(referral_status(&n, &c, &r).await, "PENDING");

    // A form without its CSRF token is refused and changes nothing.
    let accept = form(&inbox, &format!("/referrals/{r}/accept"), &[]);
    let version = client(&n, &c, "version").await["version"].clone();
    let foreign = partner
        .post(&format!("/referrals/{r}/accept"), &without(&accept, "csrf"))
        .await;
    assert_eq!(foreign.status, 403, "{}", foreign.body);
    assert!(foreign.body.contains("Nothing was changed"));
    assert_eq!(referral_status(&n, &c, &r).await, "PENDING");
    assert_eq!(held(&n, "residential").await, 0);
    // Nor does another session's token do.
    let forged: Vec<(String, String)> = accept
        .iter()
        .map(|(k, v)| {
            if k == "csrf" {
                (k.clone(), "0".repeat(v.len()))
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    assert_eq!(
        partner
            .post(&format!("/referrals/{r}/accept"), &forged)
            .await
            .status,
        403
    );
    assert_eq!(client(&n, &c, "version").await["version"], version);

    // Accepted from the form: a slot is held; the same form sent twice has one effect.
    let done = partner
        .post(&format!("/referrals/{r}/accept"), &accept)
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/inbox?done=accepted"));
    let after = client(&n, &c, "version").await["version"].clone();
    let again = partner
        .post(&format!("/referrals/{r}/accept"), &accept)
        .await;
    assert_eq!(again.status, 303, "{}", again.body);
    assert_eq!(referral_status(&n, &c, &r).await, "ACCEPTED");
    assert_eq!(held(&n, "residential").await, 1);
    assert_eq!(
        client(&n, &c, "version").await["version"],
        after,
        "one effect"
    );
    let inbox = partner.page("/inbox?done=accepted").await;
    assert!(
        inbox.contains("a slot is held for the client"),
        "the done notice"
    );
    assert!(inbox.contains("Accepted: a slot is held"));

    // The step down starts; the client is on its way to the partner, who confirms the arrival.
    n.cm(
        &Net::transition_query(),
        json!({ "c": c, "k": "STEP_DOWN", "l": "residential", "h": 30.0 }),
    )
    .await;
    let inbox = partner.page("/inbox").await;
    assert!(inbox.contains("On their way to you"));
    let arrival = form(&inbox, &format!("/clients/{c}/arrival"), &[]);
    let current = client(&n, &c, "version").await["version"].as_i64().unwrap();
    assert!(
        arrival.contains(&("version".into(), current.to_string())),
        "{arrival:?}"
    );
    let iop_inbox = iop.page("/inbox").await;
    assert!(!iop_inbox.contains(&format!("/clients/{c}/arrival")));
    let done = partner
        .post(&format!("/clients/{c}/arrival"), &arrival)
        .await;
    assert_eq!(
        done.location.as_deref(),
        Some("/inbox?done=arrived"),
        "{}",
        done.body
    );
    let now = client(&n, &c, "status level").await;
    assert_eq!(now["status"], "ACTIVE");
    assert_eq!(now["level"], "residential");
    assert!(
        !partner
            .page("/inbox")
            .await
            .contains(&format!("/clients/{c}/arrival"))
    );
    // A transfer out to the partner's organization is confirmed the same way.
    let moved = named_client(&n, "Tess Transfer", &everyone(&n), "detox").await;
    n.cm(
        "mutation($c: UUID!, $p: UUID!) { discharge(input: { clientId: $c, kind: TRANSFER_OUT, providerId: $p }) { version } }",
        json!({ "c": moved, "p": n.provider("residential") }),
    )
    .await;
    let inbox = partner.page("/inbox").await;
    assert!(inbox.contains("Tess Transfer"), "{inbox}");
    assert!(inbox.contains("a transfer out; the record is held by Harbor Case Management"));
    let arrival = form(&inbox, &format!("/clients/{moved}/arrival"), &[]);
    assert!(
        !iop.page("/inbox").await.contains("Tess Transfer"),
        "only the receiving provider's"
    );
    let done = partner
        .post(&format!("/clients/{moved}/arrival"), &arrival)
        .await;
    assert_eq!(
        done.location.as_deref(),
        Some("/inbox?done=arrived"),
        "{}",
        done.body
    );
    assert_eq!(
        client(&n, &moved, "transfer { missed }").await["transfer"],
        Value::Null
    );

    // Each read of the client by the partner was accounted as a disclosure.
    let d = n
        .cm(
            "query($c: UUID!) { disclosures(clientId: $c) { recipient { id } what } }",
            json!({ "c": c }),
        )
        .await;
    assert!(
        d["disclosures"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["what"] == "referral read by the receiving provider"
                && x["recipient"]["id"] == n.provider("residential").to_string()),
        "{d}"
    );
}

async fn the_worklist_lists_a_handoff_needing_a_booking_under_a_consent_and_the_booking_clears_it(
    b: Backend,
) {
    let n = Net::new(b).await;
    let named = named_client(&n, "Ines Worklist-Named", &everyone(&n), "residential").await;
    let providers_only: Vec<OrgId> = n.providers.iter().map(|(_, id)| *id).collect();
    let unnamed = named_client(&n, "Omar Not-Consented", &providers_only, "residential").await;
    // A consent that named the coordinator's organization, revoked: it names it no more.
    let revoked = named_client(&n, "Vera Revoked-Consent", &everyone(&n), "residential").await;
    let on = Utc::now().date_naive() + Duration::days(3);
    for c in [&named, &unnamed, &revoked] {
        n.cm(
            &format!("mutation($c: UUID!, $on: NaiveDate!) {{ planHandoff(input: {{ clientId: $c, dischargeKind: PLANNED, on: $on }}) {RESULT} }}"),
            json!({ "c": c, "on": on }),
        )
        .await;
    }

    let consents = client(&n, &revoked, "consents { id }").await;
    n.cm(
        "mutation($c: UUID!, $k: UUID!) { revokeConsent(clientId: $c, consentId: $k) { version } }",
        json!({ "c": revoked, "k": consents["consents"][0]["id"] }),
    )
    .await;

    // A partner has no worklist: the engine's refusal.
    let partner = Console::like_token(&n.s, n.partner("residential")).await;
    assert_eq!(partner.get("/worklist").await.status, 403);

    let coordinator = Console::like_token(&n.s, &n.coordinator).await;
    let list = coordinator.page("/worklist").await;
    let needs = |page: &str, c: &str| {
        page.contains(&format!(
            "data-section=\"needs-booking\" data-client=\"{c}\""
        ))
    };
    assert!(needs(&list, &named), "{list}");
    assert!(list.contains("Ines Worklist-Named"));
    assert!(list.contains("Planned discharge on"), "{list}");
    assert!(list.contains("Aftercare appointment: no aftercare appointment booked"));
    // No consent names the coordinator's organization: nothing of that client, not even its
    // name or id.
    assert!(!list.contains(&unnamed) && !list.contains("Omar Not-Consented"));
    assert!(!list.contains(&revoked) && !list.contains("Vera Revoked-Consent"));
    // The read was accounted as a disclosure to the coordinator's organization.
    let d = n
        .cm(
            "query($c: UUID!) { disclosures(clientId: $c) { recipient { id } what } }",
            json!({ "c": named }),
        )
        .await;
    assert!(
        d["disclosures"]
            .as_array()
            .unwrap()
            .iter()
            .any(
                |x| x["what"] == "client record read by an aftercare coordinator"
                    && x["recipient"]["id"] == n.hub.to_string()
            ),
        "{d}"
    );
    // The case manager's worklist lists both of the organization's own clients.
    let cm = Console::like_token(&n.s, &n.cm).await;
    let theirs = cm.page("/worklist").await;
    assert!(
        needs(&theirs, &named) && needs(&theirs, &unnamed) && needs(&theirs, &revoked),
        "{theirs}"
    );
    assert!(theirs.contains("Escalations") && theirs.contains("Outreach"));

    // Booked from the worklist (the same form sent twice: one appointment), it needs no more.
    let at = format!("{}T10:00", on.format("%Y-%m-%d"));
    let outpatient = n.provider("outpatient").to_string();
    let book = form(
        &list,
        &format!("/clients/{named}/aftercare"),
        &[
            ("provider", &outpatient),
            ("kind", "outpatient"),
            ("at", &at),
        ],
    );
    // Without the CSRF token: refused, nothing booked.
    let refused = coordinator
        .post(
            &format!("/clients/{named}/aftercare"),
            &without(&book, "csrf"),
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        client(&n, &named, "aftercare { id }").await["aftercare"],
        json!([])
    );
    for _ in 0..2 {
        let done = coordinator
            .post(&format!("/clients/{named}/aftercare"), &book)
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert_eq!(
            done.location.as_deref(),
            Some("/worklist?done=aftercare-booked")
        );
    }
    let booked = client(&n, &named, "aftercare { id provider { id } }").await;
    assert_eq!(booked["aftercare"].as_array().unwrap().len(), 1, "{booked}");
    assert_eq!(booked["aftercare"][0]["provider"]["id"], outpatient);
    let list = coordinator.page("/worklist?done=aftercare-booked").await;
    assert!(list.contains("The aftercare appointment was booked."));
    assert!(!needs(&list, &named), "{list}");
    let theirs = cm.page("/worklist").await;
    assert!(!needs(&theirs, &named) && needs(&theirs, &unnamed));

    // A stale form (the record changed since the page was drawn) is refused in words.
    let stale = form(
        &theirs,
        &format!("/clients/{unnamed}/aftercare"),
        &[
            ("provider", &outpatient),
            ("kind", "outpatient"),
            ("at", &at),
        ],
    );
    n.cm(
        &format!("mutation($c: UUID!, $p: UUID!, $at: DateTime!) {{ scheduleAftercare(input: {{ clientId: $c, providerId: $p, kind: COUNSELING, at: $at }}) {RESULT} }}"),
        json!({ "c": unnamed, "p": outpatient, "at": Utc::now() + Duration::days(20) }),
    )
    .await;
    let refused = cm
        .post(&format!("/clients/{unnamed}/aftercare"), &stale)
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.body.contains("Reload the page"));
}

async fn the_coordinator_books_a_refill_follows_up_and_records_what_became_of_a_booking(
    b: Backend,
) {
    let n = Net::new(b).await;
    let c = named_client(&n, "Kai Follow-Up", &everyone(&n), "detox").await;
    let today = Utc::now().date_naive();
    n.cm(
        &format!("mutation($c: UUID!, $s: NaiveDate!) {{ recordMatPlan(input: {{ clientId: $c, medication: BUPRENORPHINE, supplyThrough: $s }}) {RESULT} }}"),
        json!({ "c": c, "s": today + Duration::days(5) }),
    )
    .await;
    n.cm(
        &format!("mutation($c: UUID!, $on: NaiveDate!) {{ planHandoff(input: {{ clientId: $c, dischargeKind: PLANNED, on: $on }}) {RESULT} }}"),
        json!({ "c": c, "on": today }),
    )
    .await;
    let coordinator = Console::like_token(&n.s, &n.coordinator).await;
    let section =
        |page: &str, id: &str| page.contains(&format!("data-section=\"{id}\" data-client=\"{c}\""));
    let list = coordinator.page("/worklist").await;
    assert!(section(&list, "needs-booking"), "{list}");
    assert!(
        list.contains("MAT continuity: buprenorphine covered through"),
        "{list}"
    );
    assert!(list.contains("Aftercare appointment: no aftercare appointment booked"));
    assert!(list.contains("MAT: buprenorphine, covered through"));

    // The next refill, then an appointment, each from its form.
    let pharmacy = n.pharmacy.to_string();
    let on = (today + Duration::days(3)).format("%Y-%m-%d").to_string();
    let refill = form(
        &list,
        &format!("/clients/{c}/refills"),
        &[("provider", &pharmacy), ("kind", "refill"), ("on", &on)],
    );
    let done = coordinator
        .post(&format!("/clients/{c}/refills"), &refill)
        .await;
    assert_eq!(
        done.location.as_deref(),
        Some("/worklist?done=refill-booked"),
        "{}",
        done.body
    );
    let booked = client(&n, &c, "matBookings { kind on provider { id } }").await;
    assert_eq!(booked["matBookings"][0]["kind"], "REFILL", "{booked}");
    assert_eq!(booked["matBookings"][0]["provider"]["id"], pharmacy);
    let list = coordinator.page("/worklist").await;
    assert!(
        section(&list, "needs-booking"),
        "the appointment is still needed"
    );
    assert!(!list.contains("MAT continuity:"), "{list}");
    let at = format!("{}T10:00", (today + Duration::days(1)).format("%Y-%m-%d"));
    let outpatient = n.provider("outpatient").to_string();
    let book = form(
        &list,
        &format!("/clients/{c}/aftercare"),
        &[
            ("provider", &outpatient),
            ("kind", "outpatient"),
            ("at", &at),
        ],
    );
    coordinator
        .post(&format!("/clients/{c}/aftercare"), &book)
        .await;
    let list = coordinator.page("/worklist").await;
    assert!(!section(&list, "needs-booking"), "{list}");

    // Discharged from withdrawal management: the follow-up checks are due until a visit is
    // kept.
    n.cm(crate::api::DISCHARGE, json!({ "c": c })).await;
    let list = coordinator.page("/worklist").await;
    assert!(section(&list, "followups"), "{list}");
    assert!(list.contains("7-day follow-up after the exit on"), "{list}");
    assert!(list.contains("30-day follow-up after the exit on"));

    // An appointment today, missed: recorded from the worklist, the client is to be reached.
    let d = n
        .cm(
            &format!("mutation($c: UUID!, $p: UUID!, $at: DateTime!) {{ scheduleAftercare(input: {{ clientId: $c, providerId: $p, kind: COUNSELING, at: $at }}) {RESULT} }}"),
            json!({ "c": c, "p": outpatient, "at": Utc::now() }),
        )
        .await;
    let booking = d["scheduleAftercare"]["createdIds"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let list = coordinator.page("/worklist").await;
    assert!(list.contains("Counseling at outpatient provider"), "{list}");
    let outcome = format!("/clients/{c}/bookings/{booking}/outcome");
    // The coordinator relays what the clinic reported, saying who reported it.
    let unsaid = form(&list, &outcome, &[("outcome", "no_show")]);
    let refused = coordinator.post(&outcome, &unsaid).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    let missed = form(
        &list,
        &outcome,
        &[
            ("outcome", "no_show"),
            ("relayed_by", "phone call from the clinic's front desk"),
        ],
    );
    let done = coordinator.post(&outcome, &missed).await;
    assert_eq!(
        done.location.as_deref(),
        Some("/worklist?done=outcome-recorded"),
        "{}",
        done.body
    );
    let after = client(&n, &c, "aftercare { id outcome reportedBy }").await;
    let recorded = after["aftercare"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == booking)
        .expect("the booking")
        .clone();
    assert_eq!(recorded["outcome"], "NO_SHOW", "{after}");
    assert_eq!(recorded["reportedBy"], "RELAYED", "{after}");
    let list = coordinator.page("/worklist").await;
    assert!(section(&list, "no-shows"), "{list}");
    assert!(
        list.contains("Missed counseling at outpatient provider"),
        "{list}"
    );
    // Recorded once: the same form again is the same answer, not a second outcome.
    let again = coordinator.post(&outcome, &missed).await;
    assert_eq!(again.status, 303, "{}", again.body);
}

async fn the_measures_page_draws_its_charts(b: Backend) {
    let n = Net::new(b).await;
    let c = named_client(&n, "Measured Client", &everyone(&n), "detox").await;
    // The residential intake reads the referral's notice before accepting it.
    let intake = crate::people::sign_up(
        &n.s.engine,
        n.provider("residential"),
        carepath_engine::domain::Role::Partner,
        "Ines Intake",
    )
    .await;
    let r = n.refer(&c, "residential").await;
    let notice = n.s.engine.notifications(&intake.actor()).await.unwrap()[0].id;
    n.s.engine
        .open_notification(&intake.actor(), notice)
        .await
        .unwrap();
    n.accept("residential", &r).await;
    n.cm(
        "mutation($c: UUID!) { discharge(input: { clientId: $c, kind: AGAINST_MEDICAL_ADVICE }) { version } }",
        json!({ "c": c }),
    )
    .await;

    let partner = Console::like_token(&n.s, n.partner("residential")).await;
    assert_eq!(partner.get("/measures").await.status, 403);

    let cm = Console::like_token(&n.s, &n.cm).await;
    let page = cm.page("/measures").await;
    assert!(page.contains("<svg"), "{page}");
    assert!(page.contains("<rect class=\"bar"), "a bar is drawn");
    assert!(page.contains("Referrals sent"));
    let share = |key: &str| {
        let at = page
            .find(&format!("data-measure=\"{key}\""))
            .unwrap_or_else(|| panic!("{key} on the page"));
        page[at..at + page[at..].find("</section>").unwrap()].to_owned()
    };
    let answered = share("referrals_answered_in_time");
    assert!(
        answered.contains("100.0 %") && answered.contains("1 of 1"),
        "{answered}"
    );
    let unplanned = share("unplanned_discharges");
    assert!(unplanned.contains("1 of 1"), "{unplanned}");
    assert!(
        unplanned.contains(&format!("href=\"/clients/{c}\">Measured Client</a>")),
        "the client behind it, by name: {unplanned}"
    );
    let answer_times = share("hours_to_answer");
    assert!(
        answer_times.contains("residential provider"),
        "{answer_times}"
    );
    assert!(answer_times.contains("<svg"));
    let first_reads = share("hours_to_first_read");
    assert!(
        first_reads.contains("Hours until a referral")
            && first_reads.contains("residential provider"),
        "{first_reads}"
    );

    // The filter form: another period counts nothing; a bad date is said in words.
    let long_ago = cm.page("/measures?from=2020-01-01&to=2020-01-31").await;
    assert!(long_ago.contains("Nothing counted yet"), "{long_ago}");
    let bad = cm.page("/measures?from=2020-02-30").await;
    assert!(bad.contains("is a date"), "{bad}");
    let level = cm
        .page(&format!(
            "/measures?provider={}&level=residential",
            n.provider("residential")
        ))
        .await;
    assert!(level.contains("selected>Residential treatment"), "{level}");
}

/// "Bookings to record" chooses no outcome for the person (an appointment still to come is
/// not "Kept"): the form sent as drawn is refused in words and records nothing.
async fn a_booking_outcome_is_chosen_never_defaulted(b: Backend) {
    let n = Net::new(b).await;
    let c = named_client(&n, "Noor Later", &everyone(&n), "detox").await;
    let today = Utc::now().date_naive();
    n.cm(
        &format!("mutation($c: UUID!, $on: NaiveDate!) {{ planHandoff(input: {{ clientId: $c, dischargeKind: PLANNED, on: $on }}) {RESULT} }}"),
        json!({ "c": c, "on": today }),
    )
    .await;
    let d = n
        .cm(
            &format!("mutation($c: UUID!, $p: UUID!, $at: DateTime!) {{ scheduleAftercare(input: {{ clientId: $c, providerId: $p, kind: OUTPATIENT, at: $at }}) {RESULT} }}"),
            json!({ "c": c, "p": n.provider("outpatient"), "at": Utc::now() + Duration::days(3) }),
        )
        .await;
    let booking = d["scheduleAftercare"]["createdIds"][0]
        .as_str()
        .unwrap()
        .to_owned();
    // Discharged: the follow-up checks list the client, with the appointment to come.
    n.cm(crate::api::DISCHARGE, json!({ "c": c })).await;
    let coordinator = Console::like_token(&n.s, &n.coordinator).await;
    let list = coordinator.page("/worklist").await;
    let outcome = format!("/clients/{c}/bookings/{booking}/outcome");
    let drawn = form(&list, &outcome, &[]);
    assert!(
        drawn.contains(&("outcome".to_owned(), String::new())),
        "no outcome chosen as drawn: {drawn:?}"
    );
    let a = coordinator.post(&outcome, &drawn).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(
        a.body.contains("Choose what became of the booking"),
        "{}",
        a.body
    );
    let after = client(&n, &c, "aftercare { id outcome }").await;
    let kept = after["aftercare"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == booking)
        .expect("the booking")
        .clone();
    assert_eq!(kept["outcome"], Value::Null, "nothing recorded: {after}");
}

on_both_backends!(
    a_booking_outcome_is_chosen_never_defaulted,
    a_partner_answers_its_inbox_and_confirms_the_arrival_from_its_forms,
    the_worklist_lists_a_handoff_needing_a_booking_under_a_consent_and_the_booking_clears_it,
    the_coordinator_books_a_refill_follows_up_and_records_what_became_of_a_booking,
    the_measures_page_draws_its_charts,
);
