//! Concurrent writers get a conflict, never a lost update.

use crate::on_both_backends;
use crate::support::*;
use carepath_engine::domain::*;
use carepath_engine::ids::ClientId;
use carepath_engine::pathway::TransitionKind;
use carepath_engine::{Error, Request};
use chrono::Duration;

/// An assessment of `c` on `version`, on a task of its own.
fn assess_at(
    w: &World,
    c: ClientId,
    version: i64,
    i: u8,
) -> tokio::task::JoinHandle<Result<carepath_engine::Outcome, Error>> {
    let engine = w.engine.clone();
    let actor = w.cm;
    tokio::spawn(async move {
        engine
            .execute(Request {
                client: Some(c),
                actor,
                expected_version: Some(version),
                idempotency_key: None,
                command: Command::RecordAssessment {
                    recommended_level: lvl("iop"),
                    dimensions: [i % 5, 0, 0, 0, 0, 0],
                    assessed_at: None,
                },
            })
            .await
    })
}

/// Wins and conflicts among finished writers; anything else fails the test.
async fn tally(
    tasks: Vec<tokio::task::JoinHandle<Result<carepath_engine::Outcome, Error>>>,
) -> (usize, usize) {
    let mut wins = 0;
    let mut conflicts = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => wins += 1,
            Err(Error::Conflict(_)) | Err(Error::Rejected(DecisionError::Conflict(_))) => {
                conflicts += 1
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    (wins, conflicts)
}

async fn same_version_exactly_one_wins(b: Backend) {
    let w = World::new(b).await;
    let c = w.client_at("iop", 12.0).await;
    let before = w.state(c).await;
    let tasks: Vec<_> = (0..8)
        .map(|i| assess_at(&w, c, before.version, i))
        .collect();
    assert_eq!(tally(tasks).await, (1, 7));
    let after = w.state(c).await;
    assert_eq!(after.version, before.version + 1);
    assert_eq!(
        after.assessments.items().len(),
        before.assessments.items().len() + 1
    );
    assert_eq!(w.events(c).await.len() as i64, before.last_seq + 1);
}

/// Writers to many clients at once, two on each client's same version: on SQLite they share
/// transactions (group commit), and the loser of each pair takes nothing of the others down.
async fn a_conflict_takes_no_neighbour_down(b: Backend) {
    let w = World::new(b).await;
    let mut clients = Vec::new();
    for _ in 0..6 {
        let c = w.client_at("iop", 12.0).await;
        clients.push((c, w.state(c).await));
    }
    let tasks: Vec<_> = clients
        .iter()
        .flat_map(|(c, before)| [0, 1].map(|i| assess_at(&w, *c, before.version, i)))
        .collect();
    assert_eq!(tally(tasks).await, (6, 6));
    for (c, before) in &clients {
        let after = w.state(*c).await;
        assert_eq!(after.version, before.version + 1);
        assert_eq!(
            after.assessments.items().len(),
            before.assessments.items().len() + 1
        );
        assert_eq!(w.events(*c).await.len() as i64, before.last_seq + 1);
    }
}

/// Without expected versions, racing writers all commit: a caller that pinned no version
/// is never answered `CONFLICT` (the engine applies its command to the latest state); every
/// commit is in the state and the log, and nothing else is.
async fn racing_writers_lose_nothing(b: Backend) {
    let w = World::new(b).await;
    let c = w.client_at("iop", 12.0).await;
    let before = w.state(c).await;
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let engine = w.engine.clone();
            let actor = w.coordinator();
            let provider = w.outpatient;
            let at = w.now() + Duration::days(1) + Duration::minutes(i);
            tokio::spawn(async move {
                engine
                    .execute(Request {
                        client: Some(c),
                        actor,
                        expected_version: None,
                        idempotency_key: None,
                        command: Command::ScheduleAftercare {
                            provider,
                            kind: AftercareKind::Outpatient,
                            at,
                        },
                    })
                    .await
            })
        })
        .collect();
    let mut committed = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(out) => committed.push(out),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(committed.len(), 12, "every unpinned writer commits");
    let after = w.state(c).await;
    assert_eq!(after.version, before.version + committed.len() as i64);
    assert_eq!(after.aftercare.items().len(), committed.len());
    let events = w.events(c).await;
    assert_eq!(
        events.len() as i64,
        before.last_seq + committed.len() as i64
    );
    for out in &committed {
        assert!(events.iter().any(|e| e.id == out.events[0].id));
    }
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=events.len() as i64).collect::<Vec<_>>());
}

async fn stale_expected_version_is_a_conflict(b: Backend) {
    let w = World::new(b).await;
    let c = w.client_at("iop", 12.0).await;
    let v = w.state(c).await.version;
    let e = w
        .engine
        .execute(Request {
            client: Some(c),
            actor: w.cm,
            expected_version: Some(v - 1),
            idempotency_key: None,
            command: w.planned_discharge(),
        })
        .await;
    assert!(
        matches!(e, Err(Error::Rejected(DecisionError::Conflict(_)))),
        "{e:?}"
    );
    assert_eq!(w.state(c).await.version, v);
}

/// Clients crossing between two providers in opposite directions at once: every move
/// commits (no deadlock between the providers' occupancy rows) and the counts add up.
async fn crossing_moves_all_commit(b: Backend) {
    let w = World::new(b).await;
    let mut at_first = Vec::new();
    let mut at_second = Vec::new();
    for _ in 0..5 {
        at_first.push(w.client_at("iop", 12.0).await);
        let c = w.register().await;
        w.consent_all(c).await;
        w.cm(
            c,
            Command::Admit {
                level: lvl("iop"),
                provider: w.iop2,
                planned_hours_per_week: 12.0,
                track: None,
                overrides: vec![],
                emergency: None,
            },
        )
        .await;
        at_second.push(c);
    }
    for _round in 0..3 {
        let mut moves = Vec::new();
        for (clients, to) in [(&at_first, w.iop2), (&at_second, w.iop)] {
            for &c in clients.iter() {
                let r = w.refer(c, "iop", &[to]).await[0];
                w.accept(c, to, r).await.expect("accept");
                moves.push(c);
            }
        }
        let tasks: Vec<_> = moves
            .into_iter()
            .map(|c| {
                let engine = w.engine.clone();
                let request = Request {
                    client: Some(c),
                    actor: w.cm,
                    expected_version: None,
                    idempotency_key: None,
                    command: w.transition(TransitionKind::Lateral, "iop", 12.0),
                };
                tokio::spawn(async move { engine.execute(request).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().expect("every crossing move commits");
        }
        // Every client is on the way; the receiving providers confirm them, in parallel too.
        let arrivals: Vec<_> = at_first
            .iter()
            .chain(at_second.iter())
            .map(|&c| {
                let engine = w.engine.clone();
                let to = if at_first.contains(&c) { w.iop2 } else { w.iop };
                let request = Request {
                    client: Some(c),
                    actor: w.partner(to),
                    expected_version: None,
                    idempotency_key: None,
                    command: Command::ConfirmArrival { relayed_by: None },
                };
                tokio::spawn(async move { engine.execute(request).await })
            })
            .collect();
        for t in arrivals {
            t.await.unwrap().expect("every arrival commits");
        }
        std::mem::swap(&mut at_first, &mut at_second);
    }
    let census = w.engine.census(&w.admin).await.unwrap();
    for provider in [w.iop, w.iop2] {
        let row = census.iter().find(|r| r.provider == provider).unwrap();
        assert_eq!((row.occupied, row.held, row.in_transit), (5, 0, 0));
    }
    for c in at_first {
        assert_eq!(w.state(c).await.placement.unwrap().provider, w.iop);
    }
}

/// Twenty parallel step-downs of one client with no pinned version: one moves the client,
/// the others are answered that the move no longer applies, none `CONFLICT`.
async fn racing_moves_one_wins_the_rest_no_longer_apply(b: Backend) {
    let w = World::new(b).await;
    let c = w.client_at("iop", 12.0).await;
    let r = w.refer(c, "outpatient", &[w.outpatient]).await[0];
    w.accept(c, w.outpatient, r).await.expect("accept");
    w.book_aftercare(c, 3).await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let engine = w.engine.clone();
            let request = Request {
                client: Some(c),
                actor: w.cm,
                expected_version: None,
                idempotency_key: None,
                command: w.transition(TransitionKind::StepDown, "outpatient", 2.0),
            };
            tokio::spawn(async move { engine.execute(request).await })
        })
        .collect();
    let (mut won, mut no_longer) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => won += 1,
            Err(Error::Rejected(DecisionError::InvalidTransition { .. })) => no_longer += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((won, no_longer), (1, 19));
    let s = w.state(c).await;
    assert_eq!(s.transit.unwrap().to_level.as_str(), "outpatient");
}

on_both_backends!(
    racing_moves_one_wins_the_rest_no_longer_apply,
    a_conflict_takes_no_neighbour_down,
    crossing_moves_all_commit,
    same_version_exactly_one_wins,
    racing_writers_lose_nothing,
    stale_expected_version_is_a_conflict
);
