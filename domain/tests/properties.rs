//! Property test of the pure core over random command sequences:
//! - no sequence reaches a state the pathway forbids;
//! - every accepted command appends events with consecutive sequence numbers and bumps the
//!   version by one; a completed move had every gate met or overridden by a supervisor;
//! - a rejected command changes nothing (and deciding is deterministic).

use carepath_domain::gates::{self, MoveCheck};
use carepath_domain::ids::*;
use carepath_domain::pathway::{DischargeKind, LevelId, Pathway, TransitionKind};
use carepath_domain::*;
use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use std::collections::{BTreeMap, HashSet};

const LEVELS: [&str; 5] = ["detox", "residential", "php", "iop", "outpatient"];

struct Fixture {
    pathway: Pathway,
    orgs: OrgDirectory,
    home: OrgId,
    /// Two providers per level.
    providers: Vec<(OrgId, &'static str)>,
    pharmacy: OrgId,
}

fn fixture() -> Fixture {
    let pathway = carepath_workflows::default_pathway();
    let home = OrgId(uuid::Uuid::from_u128(1));
    let pharmacy = OrgId(uuid::Uuid::from_u128(2));
    let mut orgs = OrgDirectory::default();
    orgs.add(home, vec![]);
    orgs.add(pharmacy, vec![]);
    let mut providers = Vec::new();
    for (i, level) in LEVELS.iter().enumerate() {
        for j in 0..2u128 {
            let id = OrgId(uuid::Uuid::from_u128(100 + 10 * i as u128 + j));
            orgs.add(id, vec![LevelId::new(*level)]);
            providers.push((id, *level));
        }
    }
    Fixture {
        pathway,
        orgs,
        home,
        providers,
        pharmacy,
    }
}

/// A command with references resolved against the current state when applied.
#[derive(Clone, Debug)]
enum Step {
    Admit {
        level: usize,
        provider: usize,
        hours: u8,
    },
    Consent {
        recipients: Vec<usize>,
        pharmacy: bool,
    },
    Revoke {
        pick: usize,
    },
    /// `level: None`: a level the pathway allows from where the client is.
    Refer {
        level: Option<usize>,
        providers: Vec<usize>,
    },
    Accept {
        pick: usize,
        wrong_partner: bool,
    },
    Decline {
        pick: usize,
    },
    Withdraw {
        pick: usize,
    },
    Assess {
        level: usize,
        days_ago: u8,
    },
    Mat {
        med: u8,
        days: i8,
    },
    EndMat,
    Aftercare {
        days: u8,
    },
    Refill {
        kind: u8,
        days: u8,
    },
    Plan {
        level: usize,
        kind: u8,
        days: u8,
    },
    /// `level: None`: to where an accepted referral leads, by the rule that allows it.
    Move {
        kind: u8,
        level: Option<usize>,
        provider: Option<usize>,
        hours: u8,
        override_gate: Option<u8>,
        supervisor: bool,
    },
    Discharge {
        kind: u8,
        provider: Option<usize>,
        override_gate: Option<u8>,
        supervisor: bool,
    },
    Advance {
        hours: u16,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let idx = || 0usize..10;
    prop_oneof![
        3 => (0usize..5, 0usize..2, 0u8..60).prop_map(|(level, provider, hours)| Step::Admit { level, provider, hours }),
        2 => (prop::option::weighted(0.3, prop::collection::vec(idx(), 0..4)), any::<bool>())
            .prop_map(|(recipients, pharmacy)| Step::Consent { recipients: recipients.unwrap_or_else(|| (0..10).collect()), pharmacy }),
        1 => idx().prop_map(|pick| Step::Revoke { pick }),
        4 => (prop::option::weighted(0.3, 0usize..5), prop::collection::vec(0usize..2, 0..3)).prop_map(|(level, providers)| Step::Refer { level, providers }),
        4 => (idx(), prop::bool::weighted(0.1)).prop_map(|(pick, wrong_partner)| Step::Accept { pick, wrong_partner }),
        1 => idx().prop_map(|pick| Step::Decline { pick }),
        1 => idx().prop_map(|pick| Step::Withdraw { pick }),
        2 => (0usize..5, 0u8..30).prop_map(|(level, days_ago)| Step::Assess { level, days_ago }),
        1 => (0u8..4, -3i8..20).prop_map(|(med, days)| Step::Mat { med, days }),
        1 => Just(Step::EndMat),
        2 => (0u8..12).prop_map(|days| Step::Aftercare { days }),
        2 => (0u8..4, 0u8..12).prop_map(|(kind, days)| Step::Refill { kind, days }),
        1 => (0usize..5, 0u8..6, 0u8..5).prop_map(|(level, kind, days)| Step::Plan { level, kind, days }),
        6 => (0u8..4, prop::option::weighted(0.3, 0usize..5), prop::option::of(0usize..2), 0u8..60, prop::option::weighted(0.2, 0u8..5), prop::bool::weighted(0.3))
            .prop_map(|(kind, level, provider, hours, override_gate, supervisor)| Step::Move { kind, level, provider, hours, override_gate, supervisor }),
        2 => (0u8..4, prop::option::of(0usize..2), prop::option::weighted(0.2, 0u8..5), prop::bool::weighted(0.3))
            .prop_map(|(kind, provider, override_gate, supervisor)| Step::Discharge { kind, provider, override_gate, supervisor }),
        2 => (1u16..400).prop_map(|hours| Step::Advance { hours }),
    ]
}

fn provider(f: &Fixture, level: usize, which: usize) -> OrgId {
    f.providers
        .iter()
        .filter(|(_, l)| *l == LEVELS[level])
        .nth(which)
        .expect("provider")
        .0
}

fn gate(i: u8) -> pathway::Gate {
    pathway::Gate::ALL[i as usize % 5]
}

/// Resolve a step into an actor and a command; `None` for a clock step.
fn resolve(
    f: &Fixture,
    s: &ClientState,
    step: &Step,
    now: DateTime<Utc>,
) -> Option<(Actor, Command)> {
    let cm = Actor {
        org: f.home,
        role: Role::CaseManager,
    };
    let sup = Actor {
        org: f.home,
        role: Role::Supervisor,
    };
    let today = now.date_naive();
    let pick_ref = |pick: usize| s.referrals.get(pick % s.referrals.len().max(1)).cloned();
    Some(match step {
        Step::Advance { .. } => return None,
        Step::Admit {
            level,
            provider: p,
            hours,
        } => (
            cm,
            Command::Admit {
                level: LevelId::new(LEVELS[*level]),
                provider: provider(f, *level, *p),
                planned_hours_per_week: f32::from(*hours),
                track: None,
                overrides: vec![],
                emergency: None,
            },
        ),
        Step::Consent {
            recipients,
            pharmacy,
        } => {
            let mut r: Vec<OrgId> = recipients
                .iter()
                .map(|i| f.providers[*i % f.providers.len()].0)
                .collect();
            r.sort();
            r.dedup();
            if *pharmacy {
                r.push(f.pharmacy);
            }
            (
                cm,
                Command::RecordConsent {
                    recipients: r,
                    purpose: "treatment".into(),
                    information: "referrals".into(),
                    expiry: ConsentExpiry::On(today + Duration::days(30)),
                    signed_on: today,
                },
            )
        }
        Step::Revoke { pick } => {
            let c = s
                .consents
                .get(pick % s.consents.len().max(1))
                .map(|c| c.id)
                .unwrap_or_default();
            (cm, Command::RevokeConsent { consent: c })
        }
        Step::Refer { level, providers } => {
            let level = level.unwrap_or_else(|| {
                let allowed = f.pathway.allowed_from(s.level());
                let to = allowed
                    .iter()
                    .find_map(|m| match m {
                        pathway::AllowedMove::Transition { to, .. } if Some(to) != s.level() => {
                            Some(to.as_str())
                        }
                        _ => None,
                    })
                    .unwrap_or(LEVELS[0]);
                LEVELS.iter().position(|l| *l == to).expect("known level")
            });
            (
                cm,
                Command::SendReferral {
                    to_level: LevelId::new(LEVELS[level]),
                    providers: providers.iter().map(|p| provider(f, level, *p)).collect(),
                },
            )
        }
        Step::Accept {
            pick,
            wrong_partner,
        } => {
            let pending: Vec<&Referral> = s
                .referrals
                .iter()
                .filter(|r| r.status == ReferralStatus::Pending)
                .collect();
            let r = pending
                .get(pick % pending.len().max(1))
                .map(|r| (*r).clone())
                .or_else(|| pick_ref(*pick));
            let referral = r.as_ref().map(|r| r.id).unwrap_or_default();
            let org = match (&r, wrong_partner) {
                (Some(r), false) => r.provider,
                _ => f.pharmacy,
            };
            (
                Actor {
                    org,
                    role: Role::Partner,
                },
                Command::AcceptReferral { referral },
            )
        }
        Step::Decline { pick } => {
            let r = pick_ref(*pick);
            let org = r.as_ref().map_or(f.pharmacy, |r| r.provider);
            (
                Actor {
                    org,
                    role: Role::Partner,
                },
                Command::DeclineReferral {
                    referral: r.map(|r| r.id).unwrap_or_default(),
                    reason: DeclineReason {
                        code: DeclineCode::NoCapacity,
                        note: None,
                    },
                },
            )
        }
        Step::Withdraw { pick } => (
            cm,
            Command::WithdrawReferral {
                referral: pick_ref(*pick).map(|r| r.id).unwrap_or_default(),
            },
        ),
        Step::Assess { level, days_ago } => (
            cm,
            Command::RecordAssessment {
                recommended_level: LevelId::new(LEVELS[*level]),
                dimensions: [2; 6],
                assessed_at: Some(now - Duration::days(i64::from(*days_ago))),
            },
        ),
        Step::Mat { med, days } => {
            let medication = [
                Medication::Buprenorphine,
                Medication::Methadone,
                Medication::NaltrexoneOral,
                Medication::NaltrexoneXr,
            ][*med as usize];
            let date = today + Duration::days(i64::from(*days));
            (
                cm,
                Command::RecordMatPlan {
                    medication,
                    supply_through: (medication != Medication::NaltrexoneXr).then_some(date),
                    last_injection_on: (medication == Medication::NaltrexoneXr)
                        .then_some(today - Duration::days(i64::from(days.unsigned_abs()))),
                },
            )
        }
        Step::EndMat => (cm, Command::EndMatPlan),
        Step::Aftercare { days } => (
            cm,
            Command::ScheduleAftercare {
                provider: f.pharmacy,
                kind: AftercareKind::Outpatient,
                at: now + Duration::days(i64::from(*days)),
            },
        ),
        Step::Refill { kind, days } => (
            cm,
            Command::ScheduleMatRefill {
                provider: f.pharmacy,
                kind: [
                    MatBookingKind::Refill,
                    MatBookingKind::PrescriberVisit,
                    MatBookingKind::OtpDosing,
                    MatBookingKind::Injection,
                ][*kind as usize],
                on: today + Duration::days(i64::from(*days)),
            },
        ),
        Step::Plan { level, kind, days } => {
            let target = match kind {
                0..=3 => HandoffTarget::Transition {
                    kind: TransitionKind::ALL[*kind as usize],
                    to_level: LevelId::new(LEVELS[*level]),
                    provider: Some(provider(f, *level, 0)),
                },
                _ => HandoffTarget::Discharge {
                    kind: DischargeKind::Planned,
                    provider: None,
                },
            };
            (
                cm,
                Command::PlanHandoff {
                    target,
                    on: today + Duration::days(i64::from(*days)),
                },
            )
        }
        Step::Move {
            kind,
            level,
            provider: p,
            hours,
            override_gate,
            supervisor,
        } => {
            let accepted = s
                .referrals
                .iter()
                .find(|r| r.status == ReferralStatus::Accepted);
            let (kind, level) = match (level, accepted) {
                (None, Some(r)) => {
                    let kind = f
                        .pathway
                        .transitions
                        .iter()
                        .find(|t| t.from.as_ref() == s.level() && t.to.contains(&r.to_level))
                        .map_or(TransitionKind::ALL[*kind as usize], |t| t.kind);
                    (
                        kind,
                        LEVELS
                            .iter()
                            .position(|l| *l == r.to_level.as_str())
                            .expect("known level"),
                    )
                }
                (level, _) => (
                    TransitionKind::ALL[*kind as usize],
                    level.unwrap_or(*kind as usize),
                ),
            };
            // Hours inside the target band most of the time.
            let band = f
                .pathway
                .level(&LevelId::new(LEVELS[level]))
                .expect("level")
                .weekly_hours;
            let hours = if *hours < 45 {
                band.min + (band.max - band.min) * f32::from(*hours) / 45.0
            } else {
                f32::from(*hours)
            };
            (
                if *supervisor { sup } else { cm },
                Command::Transition {
                    kind,
                    to_level: LevelId::new(LEVELS[level]),
                    provider: p.map(|p| provider(f, level, p)),
                    planned_hours_per_week: hours,
                    track: None,
                    overrides: override_gate
                        .map(|g| GateOverride {
                            gate: gate(g),
                            reason: "clinical judgement".into(),
                        })
                        .into_iter()
                        .collect(),
                    emergency: None,
                },
            )
        }
        Step::Discharge {
            kind,
            provider: p,
            override_gate,
            supervisor,
        } => (
            if *supervisor { sup } else { cm },
            Command::Discharge {
                kind: DischargeKind::ALL[*kind as usize],
                provider: p.map(|p| f.providers[p * 3].0),
                overrides: override_gate
                    .map(|g| GateOverride {
                        gate: gate(g),
                        reason: "clinical judgement".into(),
                    })
                    .into_iter()
                    .collect(),
            },
        ),
    })
}

/// What must hold of every state any sequence reaches.
fn check_state(f: &Fixture, s: &ClientState, occupancy: &BTreeMap<(OrgId, LevelId), i32>) {
    match s.status {
        ClientStatus::Active => {
            let p = s
                .placement
                .as_ref()
                .expect("an active client has a placement");
            let level = f
                .pathway
                .level(&p.level)
                .expect("placed at a pathway level");
            assert!(
                level.weekly_hours.contains(p.planned_hours_per_week),
                "hours within the band"
            );
            assert!(
                f.orgs.get(p.provider).unwrap().levels.contains(&p.level),
                "the provider offers the level"
            );
            assert!(s.episode.is_some());
        }
        _ => assert!(s.placement.is_none(), "only an active client is placed"),
    }
    for ((org, level), n) in occupancy {
        let here = s
            .placement
            .as_ref()
            .is_some_and(|p| p.provider == *org && &p.level == level);
        assert_eq!(*n, i32::from(here), "occupancy follows the placement");
    }
    // First acceptance wins: at most one referral of a group accepted or completed.
    let mut groups = BTreeMap::new();
    for r in &s.referrals {
        if matches!(
            r.status,
            ReferralStatus::Accepted | ReferralStatus::Completed
        ) {
            *groups.entry(r.group).or_insert(0) += 1;
        }
    }
    assert!(groups.values().all(|n| *n <= 1), "{groups:?}");
}

/// What must hold of every accepted command.
fn check_decision(f: &Fixture, prev: &ClientState, d: &Decision, now: DateTime<Utc>) {
    let s = &d.state;
    assert_eq!(s.version, prev.version + 1, "version bumps by one");
    assert!(
        !d.events.is_empty(),
        "an accepted command says what happened"
    );
    let seqs: Vec<i64> = d.events.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (prev.last_seq + 1..=prev.last_seq + d.events.len() as i64).collect::<Vec<_>>()
    );
    assert_eq!(s.last_seq, prev.last_seq + d.events.len() as i64);
    for e in &d.events {
        assert_eq!(e.id, EventId::for_seq(s.id, e.seq));
    }

    // Level changes follow the pathway, and their gates were met or overridden.
    let (before, after) = (
        prev.level().filter(|_| prev.status == ClientStatus::Active),
        s.level(),
    );
    for e in &d.events {
        match &e.data {
            EventData::TransitionCompleted {
                kind,
                from_level,
                to_level,
                to_provider,
                overridden,
                ..
            } => {
                assert_eq!(Some(from_level), before);
                assert_eq!(Some(to_level), after);
                let rule = f
                    .pathway
                    .transition_rule(*kind, Some(from_level), to_level)
                    .expect("a rule allows it");
                let mv = MoveCheck {
                    to_level: Some(to_level),
                    provider: Some(*to_provider),
                    on: now.date_naive(),
                };
                for r in gates::evaluate(prev, &f.pathway, &rule.gates, &mv, now) {
                    assert!(
                        r.met || overridden.iter().any(|o| o.gate == r.gate),
                        "gate {} neither met nor overridden",
                        r.gate
                    );
                }
                assert!(overridden.iter().all(|o| o.gate != pathway::Gate::Consent));
            }
            EventData::DischargeCompleted {
                kind,
                from_level,
                to_provider,
                overridden,
                ..
            } => {
                let rule = f
                    .pathway
                    .discharge_rule(*kind, from_level)
                    .expect("a rule allows it");
                let mv = MoveCheck {
                    to_level: None,
                    provider: *to_provider,
                    on: now.date_naive(),
                };
                for r in gates::evaluate(prev, &f.pathway, &rule.gates, &mv, now) {
                    assert!(
                        r.met || overridden.iter().any(|o| o.gate == r.gate),
                        "gate {} neither met nor overridden",
                        r.gate
                    );
                }
                assert_eq!(s.status, ClientStatus::Discharged);
            }
            EventData::DischargeUnplanned {
                kind, from_level, ..
            } => {
                assert!(kind.is_unplanned());
                assert!(f.pathway.discharge_rule(*kind, from_level).is_some());
            }
            EventData::ClientAdmitted {
                level, readmission, ..
            } => {
                if *readmission {
                    assert_eq!(prev.status, ClientStatus::Discharged);
                    assert!(
                        f.pathway
                            .transition_rule(TransitionKind::Readmission, None, level)
                            .is_some()
                    );
                } else {
                    assert_eq!(prev.status, ClientStatus::Registered);
                    assert!(f.pathway.admission_levels.contains(level));
                }
            }
            EventData::ReferralSent { provider, .. } => {
                assert!(
                    prev.is_inside(*provider) || prev.active_consent_for(*provider, now).is_some(),
                    "no referral without consent"
                );
            }
            _ => {}
        }
    }
    if before != after || prev.status != s.status {
        assert!(
            d.events.iter().any(|e| matches!(
                e.data,
                EventData::TransitionCompleted { .. }
                    | EventData::DischargeCompleted { .. }
                    | EventData::DischargeUnplanned { .. }
                    | EventData::ClientAdmitted { .. }
            )),
            "the level changed without a move event"
        );
    }
}

fn run(steps: Vec<Step>) -> (ClientState, BTreeMap<&'static str, usize>) {
    let f = fixture();
    let mut now = Utc.with_ymd_and_hms(2026, 5, 4, 9, 0, 0).unwrap();
    let cm = Actor {
        org: f.home,
        role: Role::CaseManager,
    };
    let client = ClientId(uuid::Uuid::from_u128(7));
    let env = |actor, command| Envelope {
        client,
        actor,
        expected_version: None,
        command,
    };
    let ctx = |now| Context {
        pathway: &f.pathway,
        now,
        orgs: &f.orgs,
    };
    let mut state = decide(
        None,
        &env(
            cm,
            Command::RegisterClient {
                home_org: f.home,
                birth_year: None,
            },
        ),
        &ctx(now),
    )
    .expect("register")
    .state;
    let mut occupancy: BTreeMap<(OrgId, LevelId), i32> = BTreeMap::new();
    let mut timers: BTreeMap<String, (DateTime<Utc>, TimerKind)> = BTreeMap::new();
    let mut seen_events = HashSet::new();
    let mut tally: BTreeMap<&'static str, usize> = BTreeMap::new();

    let mut apply =
        |state: &mut ClientState,
         d: Decision,
         occupancy: &mut BTreeMap<(OrgId, LevelId), i32>,
         timers: &mut BTreeMap<String, (DateTime<Utc>, TimerKind)>| {
            for o in &d.occupancy {
                *occupancy.entry((o.provider, o.level.clone())).or_insert(0) += o.delta;
            }
            for t in &d.timers {
                match t {
                    TimerOp::Schedule { key, due_at, kind } => {
                        timers.insert(key.clone(), (*due_at, kind.clone()));
                    }
                    TimerOp::Cancel { key } => {
                        timers.remove(key);
                    }
                }
            }
            for e in &d.events {
                assert!(seen_events.insert(e.id), "event ids are unique");
                *tally.entry(e.event_type()).or_insert(0) += 1;
            }
            *state = d.state;
        };

    for step in steps {
        if let Step::Advance { hours } = step {
            now += Duration::hours(i64::from(hours));
            // The sweeper: fire what is due, oldest first.
            let mut due: Vec<(String, DateTime<Utc>, TimerKind)> = timers
                .iter()
                .filter(|(_, (at, _))| *at <= now)
                .map(|(k, (at, t))| (k.clone(), *at, t.clone()))
                .collect();
            due.sort_by_key(|(_, at, _)| *at);
            for (key, _, kind) in due {
                timers.remove(&key);
                let system = Actor {
                    org: OrgId(uuid::Uuid::nil()),
                    role: Role::System,
                };
                match decide(
                    Some(&state),
                    &env(system, Command::FireTimer { timer: kind }),
                    &ctx(now),
                ) {
                    Ok(d) => {
                        check_decision(&f, &state, &d, now);
                        apply(&mut state, d, &mut occupancy, &mut timers);
                    }
                    Err(DecisionError::StaleTimer(_)) => {}
                    Err(e) => panic!("a timer failed: {e}"),
                }
                check_state(&f, &state, &occupancy);
            }
            continue;
        }
        let (actor, command) = resolve(&f, &state, &step, now).expect("a command");
        let before = state.clone();
        let first = decide(Some(&state), &env(actor, command.clone()), &ctx(now));
        let again = decide(Some(&state), &env(actor, command), &ctx(now));
        assert_eq!(first, again, "deciding is deterministic");
        assert_eq!(state, before, "deciding does not touch the state");
        if let Ok(d) = first {
            check_decision(&f, &state, &d, now);
            apply(&mut state, d, &mut occupancy, &mut timers);
        }
        check_state(&f, &state, &occupancy);
    }
    (state, tally)
}

static TOTALS: std::sync::Mutex<BTreeMap<&'static str, usize>> =
    std::sync::Mutex::new(BTreeMap::new());

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_command_sequences_stay_within_the_pathway(steps in prop::collection::vec(step(), 1..80)) {
        let (_, tally) = run(steps);
        let mut totals = TOTALS.lock().unwrap();
        for (k, v) in tally {
            *totals.entry(k).or_insert(0) += v;
        }
    }
}

/// The random walks must actually move clients, or the property says little.
#[test]
fn random_walks_reach_every_kind_of_move() {
    random_command_sequences_stay_within_the_pathway();
    let totals = TOTALS.lock().unwrap();
    eprintln!("events over the random walks: {totals:?}");
    for t in totals.keys() {
        assert!(
            EventData::TYPES.contains(t),
            "{t} is missing from EventData::TYPES"
        );
    }
    for kind in [
        "transition.completed",
        "discharge.completed",
        "discharge.unplanned",
        "referral.accepted",
        "referral.expired",
        "handoff.ready",
        "review.due",
        "followup.missed",
    ] {
        assert!(
            totals.get(kind).copied().unwrap_or(0) >= 5,
            "only {:?} {kind} in the random walks",
            totals.get(kind)
        );
    }
}

/// Random sequences rarely walk the whole continuum; this one does, through the same checks.
#[test]
fn a_guided_walk_passes_the_same_checks() {
    let mut steps = vec![
        Step::Consent {
            recipients: (0..10).collect(),
            pharmacy: true,
        },
        Step::Admit {
            level: 0,
            provider: 0,
            hours: 40,
        },
    ];
    for (level, hours) in [(1usize, 30u8), (2, 25), (3, 12), (4, 2)] {
        steps.push(Step::Refer {
            level: Some(level),
            providers: vec![0, 1],
        });
        steps.push(Step::Accept {
            pick: 2 * (level - 1),
            wrong_partner: false,
        });
        steps.push(Step::Aftercare { days: 2 });
        steps.push(Step::Move {
            kind: 0,
            level: Some(level),
            provider: None,
            hours,
            override_gate: None,
            supervisor: false,
        });
        steps.push(Step::Advance { hours: 100 });
    }
    steps.push(Step::Aftercare { days: 3 });
    steps.push(Step::Discharge {
        kind: 0,
        provider: None,
        override_gate: None,
        supervisor: false,
    });
    steps.push(Step::Advance { hours: 24 * 31 });
    let (state, tally) = run(steps);
    assert_eq!(state.status, ClientStatus::Discharged);
    assert_eq!(tally.get("transition.completed"), Some(&4), "{tally:?}");
    assert_eq!(tally.get("discharge.completed"), Some(&1), "{tally:?}");
    assert_eq!(tally.get("followup.due"), Some(&2), "{tally:?}");
}
