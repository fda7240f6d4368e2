//! The same key with the same input returns the first result and has no second effect; the
//! same key with other input is an error.

use crate::on_both_backends;
use crate::support::*;
use carepath_engine::domain::*;
use carepath_engine::{Error, Request};

fn req(
    w: &World,
    key: &str,
    client: Option<carepath_engine::ids::ClientId>,
    command: Command,
) -> Request {
    Request {
        client,
        actor: w.cm,
        expected_version: None,
        idempotency_key: Some(key.into()),
        command,
    }
}

async fn same_key_same_input_replays(b: Backend) {
    let w = World::new(b).await;
    let register = Command::RegisterClient {
        home_org: w.home,
        birth_year: Some(1980),
        identity: None,
    };
    let first = w
        .engine
        .execute(req(&w, "reg-1", None, register.clone()))
        .await
        .unwrap();
    let again = w
        .engine
        .execute(req(&w, "reg-1", None, register))
        .await
        .unwrap();
    assert!(!first.replayed);
    assert!(again.replayed);
    assert_eq!(
        (again.client, again.version, &again.events),
        (first.client, first.version, &first.events)
    );
    assert_eq!(w.count("SELECT COUNT(*) FROM clients").await, 1);

    let c = first.client;
    w.consent_all(c).await;
    let admit = Command::Admit {
        level: lvl("detox"),
        provider: w.detox,
        planned_hours_per_week: 40.0,
        track: None,
        overrides: vec![],
        emergency: None,
    };
    let a = w
        .engine
        .execute(req(&w, "admit-1", Some(c), admit.clone()))
        .await
        .unwrap();
    let b2 = w
        .engine
        .execute(req(&w, "admit-1", Some(c), admit))
        .await
        .unwrap();
    assert_eq!(a.events, b2.events);
    assert_eq!(w.state(c).await.version, a.version);
    assert_eq!(
        w.event_types(c)
            .await
            .iter()
            .filter(|t| *t == "client.admitted")
            .count(),
        1
    );

    // The same key with another request is refused and changes nothing.
    let other = Command::RecordAssessment {
        recommended_level: lvl("detox"),
        dimensions: [0; 6],
        assessed_at: None,
    };
    let e = w.engine.execute(req(&w, "admit-1", Some(c), other)).await;
    assert!(matches!(e, Err(Error::IdempotencyKeyReused)), "{e:?}");
    assert_eq!(w.state(c).await.version, a.version);

    // Keys belong to the organization that used them.
    let other_org = Actor::new(w.detox, Role::Admin);
    let out = w
        .engine
        .execute(Request {
            client: None,
            actor: other_org,
            expected_version: None,
            idempotency_key: Some("reg-1".into()),
            command: Command::RegisterClient {
                home_org: w.home,
                birth_year: None,
                identity: None,
            },
        })
        .await
        .unwrap();
    assert!(!out.replayed);
}

async fn concurrent_twins_have_one_effect(b: Backend) {
    let w = World::new(b).await;
    let c = w.client_at("iop", 12.0).await;
    let before = w.state(c).await;
    let command = Command::RecordAssessment {
        recommended_level: lvl("php"),
        dimensions: [1; 6],
        assessed_at: None,
    };
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let engine = w.engine.clone();
            let r = req(&w, "twin", Some(c), command.clone());
            tokio::spawn(async move { engine.execute(r).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(o) => outcomes.push(o),
            // A twin that lost the race before the winner's record was visible.
            Err(Error::Conflict(_)) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert!(!outcomes.is_empty());
    assert!(outcomes.iter().all(|o| o.events == outcomes[0].events));
    let after = w.state(c).await;
    assert_eq!(after.version, before.version + 1);
    assert_eq!(after.assessments.items().len(), 1);
}

async fn bad_keys_are_refused(b: Backend) {
    let w = World::new(b).await;
    let long = "k".repeat(201);
    for key in ["", long.as_str()] {
        let e = w
            .engine
            .execute(req(
                &w,
                key,
                None,
                Command::RegisterClient {
                    home_org: w.home,
                    birth_year: None,
                    identity: None,
                },
            ))
            .await;
        assert!(matches!(e, Err(Error::BadInput(_))), "{e:?}");
    }
    assert_eq!(w.count("SELECT COUNT(*) FROM clients").await, 0);
}

on_both_backends!(
    same_key_same_input_replays,
    concurrent_twins_have_one_effect,
    bad_keys_are_refused
);
