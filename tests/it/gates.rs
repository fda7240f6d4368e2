//! Each gate blocks a move, then lets it through once what it asks for exists. A refused
//! command changes nothing.

use crate::on_both_backends;
use crate::support::*;
use carepath_engine::Error;
use carepath_engine::domain::*;
use carepath_engine::ids::ClientId;
use carepath_engine::pathway::{DischargeKind, Gate, TransitionKind};
use chrono::Duration;

/// Asserts a command was refused without touching the client.
async fn refused_without_change(
    w: &World,
    c: ClientId,
    result: Result<carepath_engine::Outcome, Error>,
) -> Error {
    let before_events = w.events(c).await.len();
    let err = result.expect_err("command should be refused");
    let s = w.state(c).await;
    assert_eq!(w.events(c).await.len(), before_events);
    assert_eq!(s.last_seq as usize, before_events);
    err
}

async fn accepted_referral_gate(b: Backend) {
    let w = World::new(b).await;
    let c = w.client_at("detox", 40.0).await;
    let v = w.state(c).await.version;
    let e = w
        .run(
            w.cm,
            Some(c),
            w.transition(TransitionKind::StepDown, "residential", 30.0),
        )
        .await;
    let e = refused_without_change(&w, c, e).await;
    assert_eq!(unmet(&e), vec![Gate::AcceptedReferral]);
    assert_eq!(w.state(c).await.version, v);

    let r = w.refer(c, "residential", &[w.residential]).await[0];
    // Pending is not accepted.
    let e = w
        .run(
            w.cm,
            Some(c),
            w.transition(TransitionKind::StepDown, "residential", 30.0),
        )
        .await;
    assert_eq!(unmet(&e.unwrap_err()), vec![Gate::AcceptedReferral]);
    w.accept(c, w.residential, r).await.unwrap();
    w.move_to(
        c,
        w.transition(TransitionKind::StepDown, "residential", 30.0),
    )
    .await;
    assert_eq!(w.state(c).await.level().unwrap().as_str(), "residential");
}

async fn consent_gate_and_referral_without_consent(b: Backend) {
    let w = World::new(b).await;
    let c = w.register().await;
    // No consent: admission at another organization is refused, naming it.
    let admit = |emergency: Option<&str>| Command::Admit {
        level: lvl("detox"),
        provider: w.detox,
        planned_hours_per_week: 40.0,
        track: None,
        overrides: vec![],
        emergency: emergency.map(|r| MedicalEmergency { reason: r.into() }),
    };
    let e = w.run(w.cm, Some(c), admit(None)).await;
    match refused_without_change(&w, c, e).await {
        Error::Rejected(DecisionError::ConsentRequired { orgs }) => {
            assert_eq!(orgs, vec![w.detox])
        }
        other => panic!("expected ConsentRequired, got {other:?}"),
    }
    // A declared medical emergency (42 CFR 2.51) admits to detox without consent; recorded
    // on that basis, with an event for review.
    let out = w
        .cm(c, admit(Some("seizure risk, unresponsive to outreach")))
        .await;
    let types: Vec<&str> = out.events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["client.admitted", "disclosure.emergency"]);
    // Only where medical personnel are (withdrawal management, ASAM 3.7 and 4).
    let other = w.register().await;
    let e = w
        .run(
            w.cm,
            Some(other),
            Command::Admit {
                level: lvl("iop"),
                provider: w.iop,
                planned_hours_per_week: 12.0,
                track: None,
                overrides: vec![],
                emergency: Some(MedicalEmergency {
                    reason: "crisis".into(),
                }),
            },
        )
        .await;
    assert!(
        matches!(
            refused_without_change(&w, other, e).await,
            Error::Rejected(DecisionError::BadInput(_))
        ),
        "no emergency entry to IOP"
    );
    let d = w
        .engine
        .read_disclosures(&w.admin, c, None, None)
        .await
        .unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].recipient, w.detox);
    assert_eq!(d[0].consent, None);
    assert_eq!(
        d[0].legal_basis.as_deref(),
        Some("medical emergency (42 CFR 2.51): seizure risk, unresponsive to outreach")
    );
    // No referral rides on the emergency: a referral needs a consent.
    let e = w
        .run(
            w.cm,
            Some(c),
            Command::SendReferral {
                to_level: lvl("residential"),
                providers: vec![w.residential],
            },
        )
        .await;
    match refused_without_change(&w, c, e).await {
        Error::Rejected(DecisionError::ConsentRequired { orgs }) => {
            assert_eq!(orgs, vec![w.residential])
        }
        other => panic!("expected ConsentRequired, got {other:?}"),
    }
    assert_eq!(
        w.count_with("SELECT COUNT(*) FROM referrals WHERE client_id = $1", [c.0])
            .await,
        0
    );
    assert_eq!(
        w.count_with(
            "SELECT COUNT(*) FROM disclosures WHERE client_id = $1",
            [c.0]
        )
        .await,
        1,
        "only the emergency admission"
    );

    let consent = w.consent_all(c).await;
    let r = w.refer_accepted(c, "residential").await;
    // Revoking stops further disclosure: the accepted referral is withdrawn and the move
    // is blocked on consent.
    w.cm(c, Command::RevokeConsent { consent }).await;
    let s = w.state(c).await;
    assert_eq!(s.referral(r).unwrap().status, ReferralStatus::Withdrawn);
    let e = w
        .run(
            w.cm,
            Some(c),
            Command::Transition {
                kind: TransitionKind::StepDown,
                to_level: lvl("residential"),
                provider: Some(w.residential),
                planned_hours_per_week: 30.0,
                track: None,
                overrides: vec![],
                emergency: None,
            },
        )
        .await;
    let gates = unmet(&e.unwrap_err());
    assert!(gates.contains(&Gate::Consent), "{gates:?}");
    // A supervisor cannot override consent.
    let e = w
        .run(
            w.supervisor,
            Some(c),
            Command::Transition {
                kind: TransitionKind::StepDown,
                to_level: lvl("residential"),
                provider: Some(w.residential),
                planned_hours_per_week: 30.0,
                track: None,
                overrides: vec![GateOverride {
                    gate: Gate::Consent,
                    reason: "urgent".into(),
                }],
                emergency: None,
            },
        )
        .await;
    assert!(
        matches!(e, Err(Error::Rejected(DecisionError::BadInput(_)))),
        "{e:?}"
    );

    w.consent_all(c).await;
    w.refer_accepted(c, "residential").await;
    w.move_to(
        c,
        w.transition(TransitionKind::StepDown, "residential", 30.0),
    )
    .await;
}

async fn aftercare_appointment_gate(b: Backend) {
    let w = World::new(b).await;
    let c = w.client_at("outpatient", 2.0).await;
    let e = w.run(w.cm, Some(c), w.planned_discharge()).await;
    assert_eq!(
        unmet(&refused_without_change(&w, c, e).await),
        vec![Gate::AftercareAppointment]
    );
    // Ten days out is outside the pathway's 7-day window.
    w.book_aftercare(c, 10).await;
    let e = w.run(w.cm, Some(c), w.planned_discharge()).await;
    assert_eq!(unmet(&e.unwrap_err()), vec![Gate::AftercareAppointment]);
    w.book_aftercare(c, 6).await;
    w.cm(c, w.planned_discharge()).await;
    assert_eq!(w.state(c).await.status, ClientStatus::Discharged);
}

async fn mat_continuity_gate(b: Backend) {
    let w = World::new(b).await;
    let today = w.today();
    // Each booking at an organization that provides its MAT service.
    let book = |kind: MatBookingKind, days: i64| Command::ScheduleMatRefill {
        provider: match kind {
            MatBookingKind::Refill => w.pharmacy,
            MatBookingKind::OtpDosing => w.otp,
            MatBookingKind::PrescriberVisit | MatBookingKind::Injection => w.prescriber,
        },
        kind,
        on: today + Duration::days(days),
    };

    // Buprenorphine: supply through day 3; a refill on day 5 leaves one gap day (day 4, no
    // dose in hand), one on day 4 none but no margin; either way the gate wants day 3.
    let c = w.client_at("iop", 12.0).await;
    w.book_aftercare(c, 2).await;
    w.cm(
        c,
        Command::RecordMatPlan {
            medication: Medication::Buprenorphine,
            supply_through: Some(today + Duration::days(3)),
            last_injection_on: None,
        },
    )
    .await;
    let e = w.run(w.cm, Some(c), w.planned_discharge()).await;
    assert_eq!(
        unmet(&refused_without_change(&w, c, e).await),
        vec![Gate::MatContinuity]
    );
    w.run(w.coordinator(), Some(c), book(MatBookingKind::Refill, 5))
        .await
        .unwrap();
    let e = w
        .run(w.cm, Some(c), w.planned_discharge())
        .await
        .unwrap_err();
    match &e {
        Error::Rejected(DecisionError::GateUnmet { unmet }) => {
            assert!(unmet[0].why.ends_with("leaves 1 gap day"), "{unmet:?}")
        }
        other => panic!("{other:?}"),
    }
    w.run(w.coordinator(), Some(c), book(MatBookingKind::Refill, 4))
        .await
        .unwrap();
    match &w
        .run(w.cm, Some(c), w.planned_discharge())
        .await
        .unwrap_err()
    {
        Error::Rejected(DecisionError::GateUnmet { unmet }) => {
            assert!(unmet[0].why.contains("leaves no margin"), "{unmet:?}")
        }
        other => panic!("{other:?}"),
    }
    // An injection does not continue buprenorphine.
    let wrong = w
        .run(w.coordinator(), Some(c), book(MatBookingKind::Injection, 2))
        .await;
    assert!(matches!(
        wrong,
        Err(Error::Rejected(DecisionError::BadInput(_)))
    ));
    w.run(
        w.coordinator(),
        Some(c),
        book(MatBookingKind::PrescriberVisit, 3),
    )
    .await
    .unwrap();
    w.cm(c, w.planned_discharge()).await;

    // Methadone needs an OTP dosing slot.
    let m = w.client_at("residential", 30.0).await;
    w.book_aftercare(m, 1).await;
    w.cm(
        m,
        Command::RecordMatPlan {
            medication: Medication::Methadone,
            supply_through: Some(today + Duration::days(1)),
            last_injection_on: None,
        },
    )
    .await;
    assert_eq!(
        unmet(
            &w.run(w.cm, Some(m), w.planned_discharge())
                .await
                .unwrap_err()
        ),
        vec![Gate::MatContinuity]
    );
    w.run(w.coordinator(), Some(m), book(MatBookingKind::OtpDosing, 1))
        .await
        .unwrap();
    w.cm(m, w.planned_discharge()).await;

    // Extended-release naltrexone: the next injection within 28 days of the last.
    let x = w.client_at("outpatient", 2.0).await;
    w.book_aftercare(x, 1).await;
    w.cm(
        x,
        Command::RecordMatPlan {
            medication: Medication::NaltrexoneXr,
            supply_through: None,
            last_injection_on: Some(today - Duration::days(20)),
        },
    )
    .await;
    w.run(
        w.coordinator(),
        Some(x),
        book(MatBookingKind::Injection, 10),
    )
    .await
    .unwrap();
    assert_eq!(
        unmet(
            &w.run(w.cm, Some(x), w.planned_discharge())
                .await
                .unwrap_err()
        ),
        vec![Gate::MatContinuity]
    );
    w.run(w.coordinator(), Some(x), book(MatBookingKind::Injection, 8))
        .await
        .unwrap();
    w.cm(x, w.planned_discharge()).await;
}

async fn reassessment_gate(b: Backend) {
    let w = World::new(b).await;
    let c = w.client_at("outpatient", 2.0).await;
    w.refer_accepted(c, "iop").await;
    let step_up = w.transition(TransitionKind::StepUp, "iop", 12.0);
    let e = w.run(w.cm, Some(c), step_up.clone()).await;
    assert_eq!(
        unmet(&refused_without_change(&w, c, e).await),
        vec![Gate::Reassessment]
    );
    // An old assessment does not count; one recommending another level does not either.
    let assess = |level: &str, days_ago: i64| Command::RecordAssessment {
        recommended_level: lvl(level),
        dimensions: [1, 0, 2, 2, 3, 2],
        assessed_at: Some(w.now() - Duration::days(days_ago)),
    };
    w.cm(c, assess("iop", 20)).await;
    w.cm(c, assess("php", 1)).await;
    assert_eq!(
        unmet(&w.run(w.cm, Some(c), step_up.clone()).await.unwrap_err()),
        vec![Gate::Reassessment]
    );
    w.cm(c, assess("iop", 2)).await;
    w.move_to(c, step_up).await;
    assert_eq!(w.state(c).await.level().unwrap().as_str(), "iop");
}

async fn supervisor_override_is_recorded(b: Backend) {
    let w = World::new(b).await;
    let c = w.client_at("outpatient", 2.0).await;
    let discharge = |actor_reason: &str| Command::Discharge {
        kind: DischargeKind::Planned,
        provider: None,
        overrides: vec![GateOverride {
            gate: Gate::AftercareAppointment,
            reason: actor_reason.into(),
        }],
    };
    let e = w
        .run(w.cm, Some(c), discharge("client moving out of state"))
        .await;
    assert!(matches!(
        refused_without_change(&w, c, e).await,
        Error::Rejected(DecisionError::Forbidden(_))
    ));
    let e = w.run(w.supervisor, Some(c), discharge("  ")).await;
    assert!(matches!(
        e,
        Err(Error::Rejected(DecisionError::BadInput(_)))
    ));
    w.run(
        w.supervisor,
        Some(c),
        discharge("client moving out of state"),
    )
    .await
    .unwrap();
    match w.events(c).await.pop().unwrap().data {
        EventData::DischargeCompleted { overridden, .. } => {
            assert_eq!(overridden.len(), 1);
            assert_eq!(overridden[0].gate, Gate::AftercareAppointment);
            assert_eq!(overridden[0].reason, "client moving out of state");
        }
        other => panic!("{other:?}"),
    }
}

async fn illegal_transition_lists_allowed_moves(b: Backend) {
    let w = World::new(b).await;
    let c = w.client_at("iop", 12.0).await;
    let e = w
        .run(
            w.cm,
            Some(c),
            w.transition(TransitionKind::StepDown, "detox", 40.0),
        )
        .await;
    match refused_without_change(&w, c, e).await {
        Error::Rejected(DecisionError::InvalidTransition { from, allowed, .. }) => {
            assert_eq!(from, "iop");
            let text: Vec<String> = allowed.iter().map(ToString::to_string).collect();
            assert!(
                text.contains(&"step_down to outpatient".to_owned()),
                "{text:?}"
            );
            assert!(text.contains(&"step_up to php".to_owned()), "{text:?}");
            assert!(text.contains(&"discharge (planned)".to_owned()), "{text:?}");
        }
        other => panic!("{other:?}"),
    }
    // Hours outside the level's band are bad input.
    w.refer_accepted(c, "outpatient").await;
    w.book_aftercare(c, 1).await;
    let e = w
        .run(
            w.cm,
            Some(c),
            w.transition(TransitionKind::StepDown, "outpatient", 12.0),
        )
        .await;
    assert!(matches!(
        refused_without_change(&w, c, e).await,
        Error::Rejected(DecisionError::BadInput(_))
    ));
}

async fn capacity_is_never_exceeded(b: Backend) {
    let w = World::new(b).await;
    w.engine
        .set_capacity(&w.admin, w.php, &lvl("php"), 1)
        .await
        .unwrap();
    w.client_at("php", 25.0).await;
    let c = w.register().await;
    w.consent_all(c).await;
    let e = w
        .run(
            w.cm,
            Some(c),
            Command::Admit {
                level: lvl("php"),
                provider: w.php,
                planned_hours_per_week: 25.0,
                track: None,
                overrides: vec![],
                emergency: None,
            },
        )
        .await;
    assert!(matches!(
        refused_without_change(&w, c, e).await,
        Error::NoCapacity { .. }
    ));
    assert_eq!(w.state(c).await.status, ClientStatus::Registered);
    // Capacity cannot drop below the clients already there.
    assert!(matches!(
        w.engine.set_capacity(&w.admin, w.php, &lvl("php"), 0).await,
        Err(Error::Conflict(_))
    ));
    let census = w.engine.census(&w.admin).await.unwrap();
    let php = census.iter().find(|r| r.provider == w.php).unwrap();
    assert_eq!((php.capacity, php.occupied, php.open_slots()), (1, 1, 0));
}

async fn roles_are_enforced_by_the_engine(b: Backend) {
    let w = World::new(b).await;
    let c = w.client_at("detox", 40.0).await;
    let refs = w
        .refer(c, "residential", &[w.residential, w.residential2])
        .await;
    // A partner cannot answer another partner's referral, nor learn it exists.
    let e = w.accept(c, w.residential2, refs[0]).await;
    assert!(
        matches!(e, Err(Error::Rejected(DecisionError::NotFound { .. }))),
        "{e:?}"
    );
    // A partner cannot move the client.
    let e = w
        .run(w.partner(w.residential), Some(c), w.planned_discharge())
        .await;
    assert!(matches!(
        e,
        Err(Error::Rejected(DecisionError::Forbidden(_)))
    ));
    // A case manager of another organization is told nothing of this client: the answer an
    // unknown id gets.
    let other = carepath_engine::domain::Actor::new(w.detox, Role::CaseManager);
    let e = w.run(other, Some(c), w.planned_discharge()).await;
    assert_eq!(
        e.map(|_| ()).map_err(|e| e.to_string()),
        Err(format!("client {c} not found"))
    );
    // A coordinator books only for clients whose consent names it; for any other it is as
    // if the client did not exist.
    let d = w.register().await;
    w.consent_to(d, vec![w.iop]).await;
    w.admit(d, "iop", 12.0).await;
    let e = w
        .run(
            w.coordinator(),
            Some(d),
            Command::ScheduleAftercare {
                provider: w.outpatient,
                kind: AftercareKind::Outpatient,
                at: w.now() + Duration::days(2),
            },
        )
        .await;
    assert!(
        matches!(e, Err(Error::Rejected(DecisionError::NotFound { .. }))),
        "{e:?}"
    );
}

async fn fan_out_first_acceptance_wins_and_declines_are_logged(b: Backend) {
    let w = World::new(b).await;
    let c = w.client_at("detox", 40.0).await;
    let r2 = w.refer(c, "residential", &[w.residential]).await[0];
    w.run(
        w.partner(w.residential),
        Some(c),
        Command::DeclineReferral {
            referral: r2,
            reason: DeclineReason {
                code: DeclineCode::NoCapacity,
                note: Some("no female beds".into()),
            },
        },
    )
    .await
    .unwrap();
    // The denial log keeps the structured reason.
    assert_eq!(
        w.count_with("SELECT COUNT(*) FROM referrals WHERE id = $1 AND status = 'declined' AND decline_code = 'no_capacity'", [r2.0])
        .await,
        1
    );
    let refs = w.refer(c, "iop", &[w.iop, w.iop2]).await;
    w.accept(c, w.iop2, refs[1]).await.unwrap();
    let s = w.state(c).await;
    assert_eq!(
        s.referral(refs[0]).unwrap().status,
        ReferralStatus::Withdrawn
    );
    assert_eq!(
        s.referral(refs[0]).unwrap().withdraw_reason,
        Some(WithdrawReason::AnotherProviderAccepted)
    );
    // The loser's late acceptance is a conflict and changes nothing.
    let e = w.accept(c, w.iop, refs[0]).await;
    assert!(matches!(
        refused_without_change(&w, c, e).await,
        Error::Rejected(DecisionError::Conflict(_))
    ));
    // The step-down goes to the provider that accepted.
    w.move_to(c, w.transition(TransitionKind::StepDown, "iop", 12.0))
        .await;
    assert_eq!(w.state(c).await.placement.unwrap().provider, w.iop2);
}

on_both_backends!(
    accepted_referral_gate,
    consent_gate_and_referral_without_consent,
    aftercare_appointment_gate,
    mat_continuity_gate,
    reassessment_gate,
    supervisor_override_is_recorded,
    illegal_transition_lists_allowed_moves,
    capacity_is_never_exceeded,
    roles_are_enforced_by_the_engine,
    fan_out_first_acceptance_wins_and_declines_are_logged,
);
