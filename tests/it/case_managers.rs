//! People, not only organizations: the case manager named on an episode, and the escalations
//! that go to them when a referral group runs out — over HTTP, as the case managers would.

use crate::api::{Net, RESULT};
use crate::on_both_backends;
use crate::support::Backend;
use carepath_engine::domain::Role;
use serde_json::{Value, json};

const ESCALATIONS: &str = "query($mine: Boolean!) { escalations(mine: $mine) { edges { node { id
    escalation { groupId toLevel caseManager { id name } } caseManager { id name } } } } }";

async fn staff_id(n: &Net, token: &str) -> String {
    let d =
        n.s.ok(token, "{ me { role staff { id name } } }", json!({}))
            .await;
    d["me"]["staff"]["id"].as_str().unwrap().to_owned()
}

async fn escalated(n: &Net, token: &str, mine: bool) -> Vec<Value> {
    let d = n.s.ok(token, ESCALATIONS, json!({ "mine": mine })).await;
    d["escalations"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

async fn a_group_that_ran_out_escalates_to_the_case_manager_named_on_the_episode(b: Backend) {
    let n = Net::new(b).await;
    let dana =
        n.s.engine
            .create_token(n.home, Role::CaseManager, Some("Dana Reyes"), 1, None)
            .await
            .unwrap();
    let sam =
        n.s.engine
            .create_token(n.home, Role::CaseManager, Some("Sam Ortiz"), 1, None)
            .await
            .unwrap();
    let (dana_id, sam_id) = (staff_id(&n, &dana).await, staff_id(&n, &sam).await);
    assert_ne!(dana_id, sam_id);

    // Dana admits the client: she is named on the episode.
    let c = n.register().await;
    n.consent(&c).await;
    n.s.ok(
        &dana,
        &format!("mutation($c: UUID!, $p: UUID!) {{ admit(input: {{ clientId: $c, level: \"detox\", providerId: $p, plannedHoursPerWeek: 40 }}) {RESULT} }}"),
        json!({ "c": c, "p": n.provider("detox") }),
    )
    .await;
    let d = n
        .s
        .ok(
            &dana,
            "query($c: UUID!) { client(id: $c) { caseManager { id name } escalation { groupId } } }",
            json!({ "c": c }),
        )
        .await;
    assert_eq!(d["client"]["caseManager"]["id"], dana_id.as_str());
    assert_eq!(d["client"]["caseManager"]["name"], "Dana Reyes");
    assert_eq!(d["client"]["escalation"], Value::Null);

    // The only residential provider declines: the group ran out.
    let referral = n.refer(&c, "residential").await;
    n.s.ok(
        n.partner("residential"),
        "mutation($r: UUID!) { declineReferral(input: { referralId: $r, reason: NO_CAPACITY }) { version } }",
        json!({ "r": referral }),
    )
    .await;
    let mine = escalated(&n, &dana, true).await;
    assert_eq!(mine.len(), 1, "{mine:#?}");
    assert_eq!(mine[0]["id"], c.as_str());
    assert_eq!(mine[0]["escalation"]["toLevel"], "residential");
    assert_eq!(mine[0]["escalation"]["caseManager"]["name"], "Dana Reyes");
    assert!(escalated(&n, &sam, true).await.is_empty(), "not Sam's");
    assert_eq!(
        escalated(&n, &sam, false).await.len(),
        1,
        "the organization's"
    );
    let types =
        n.s.ok(
            &dana,
            "query($c: UUID!) { careEvents(clientId: $c) { edges { node { type data } } } }",
            json!({ "c": c }),
        )
        .await;
    let last = types["careEvents"]["edges"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()["node"]
        .clone();
    assert_eq!(last["type"], "referral.escalated");
    assert_eq!(last["data"]["case_manager"], dana_id.as_str());

    // Dana goes on leave: the organization names Sam, and the escalation is his.
    let d = n
        .s
        .ok(
            &dana,
            &format!("mutation($c: UUID!, $s: UUID!) {{ assignCaseManager(clientId: $c, staffId: $s) {RESULT} }}"),
            json!({ "c": c, "s": sam_id }),
        )
        .await;
    assert_eq!(
        d["assignCaseManager"]["events"][0]["type"],
        "episode.case_manager_assigned"
    );
    assert!(escalated(&n, &dana, true).await.is_empty());
    assert_eq!(escalated(&n, &sam, true).await.len(), 1);

    // Nobody outside the organization, no partner, can be named or see who is.
    let partner_staff = staff_id(&n, n.partner("detox")).await;
    let (code, _) = n
        .s
        .code(
            Some(&sam),
            "mutation($c: UUID!, $s: UUID!) { assignCaseManager(clientId: $c, staffId: $s) { version } }",
            json!({ "c": c, "s": partner_staff }),
        )
        .await;
    assert_eq!(code, "BAD_INPUT");
    let (code, _) =
        n.s.code(
            Some(n.partner("detox")),
            "query($c: UUID!) { client(id: $c) { caseManager { id } } }",
            json!({ "c": c }),
        )
        .await;
    assert_eq!(code, "FORBIDDEN");
    let (code, _) =
        n.s.code(
            Some(n.partner("detox")),
            ESCALATIONS,
            json!({ "mine": false }),
        )
        .await;
    assert_eq!(code, "FORBIDDEN");

    // Sam sends the level on to the next provider: nothing waits any more.
    let group = mine[0]["escalation"]["groupId"].as_str().unwrap();
    n.s.ok(
        &sam,
        &format!("mutation($c: UUID!, $g: UUID!, $p: [UUID!]!) {{ resendReferral(input: {{ clientId: $c, groupId: $g, providerIds: $p }}) {RESULT} }}"),
        json!({ "c": c, "g": group, "p": [n.provider("residential")] }),
    )
    .await;
    assert!(escalated(&n, &sam, false).await.is_empty());
}

/// A rotated token is the same person: `tokens create --staff` keeps the identity, so the
/// episodes naming them stay theirs.
async fn a_rotated_token_keeps_the_person(b: Backend) {
    let n = Net::new(b).await;
    let engine = &n.s.engine;
    let first = engine
        .create_token(n.home, Role::CaseManager, Some("Dana Reyes"), 1, None)
        .await
        .unwrap();
    let id = staff_id(&n, &first).await;
    let staff = carepath_engine::ids::StaffId(id.parse().unwrap());
    let second = engine
        .create_token(
            n.home,
            Role::CaseManager,
            Some("Dana Reyes"),
            30,
            Some(staff),
        )
        .await
        .unwrap();
    assert_eq!(staff_id(&n, &second).await, id);
    // A person works for one organization; an unknown person is not made up.
    let elsewhere = engine
        .create_token(n.provider("detox"), Role::Partner, None, 1, Some(staff))
        .await;
    assert!(
        matches!(elsewhere, Err(carepath_engine::Error::BadInput(_))),
        "{elsewhere:?}"
    );
    let unknown = engine
        .create_token(
            n.home,
            Role::CaseManager,
            None,
            1,
            Some(carepath_engine::ids::StaffId::new()),
        )
        .await;
    assert!(
        matches!(unknown, Err(carepath_engine::Error::NotFound(_))),
        "{unknown:?}"
    );
}

on_both_backends!(
    a_group_that_ran_out_escalates_to_the_case_manager_named_on_the_episode,
    a_rotated_token_keeps_the_person,
);
