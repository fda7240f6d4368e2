//! Property test of the pure core over random command sequences, on every shipped pathway:
//! - no sequence reaches a state the pathway forbids;
//! - every accepted command appends events with consecutive sequence numbers and bumps the
//!   version by one; a completed move had every gate met or overridden by a supervisor;
//! - a rejected command changes nothing (and deciding is deterministic);
//! - transition coverage, the way Temporal's sdk-core records state-machine coverage: every
//!   edge of the pathway (an admission, a transition, a discharge) was both taken and refused
//!   somewhere in the random walks, or the test fails naming the edges it missed.

use carepath_domain::gates::{self, MoveCheck};
use carepath_domain::ids::*;
use carepath_domain::pathway::{AllowedMove, DischargeKind, LevelId, Pathway, TransitionKind};
use carepath_domain::*;
use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::fmt;

/// Random walks per pathway. `PROPTEST_CASES` overrides it (below a few hundred the coverage
/// check fails, as it should: some edge goes unexercised); `PROPTEST_RNG_SEED` replays a run.
/// About 6 s per pathway in debug; the two pathways run as two tests, in parallel.
const CASES: u32 = 1000;

/// Steps name a level or a provider by an index taken modulo how many there are; indices are
/// drawn below a multiple of every pathway's level count (6 each) so none is favoured.
const SLOTS: usize = 60;

/// The pathways shipped in `workflows/pathways/`: the property and the coverage hold for each.
fn asam_continuum() -> Pathway {
    carepath_workflows::default_pathway()
}

fn ma_bsas() -> Pathway {
    carepath_workflows::parse(
        "workflows/pathways/ma-bsas.toml",
        include_str!("../../workflows/pathways/ma-bsas.toml"),
    )
    .expect("the shipped ma-bsas pathway is valid")
}

struct Fixture {
    pathway: Pathway,
    orgs: OrgDirectory,
    home: OrgId,
    /// The pathway's levels, in its order.
    levels: Vec<LevelId>,
    /// Two providers per level, in level order.
    providers: Vec<(OrgId, LevelId)>,
    pharmacy: OrgId,
    /// An organization no consent ever names (a hospital across town): a discharge naming it
    /// needs a consent the client never gave.
    outside: OrgId,
}

fn fixture(pathway: Pathway) -> Fixture {
    let home = OrgId(uuid::Uuid::from_u128(1));
    let pharmacy = OrgId(uuid::Uuid::from_u128(2));
    let outside = OrgId(uuid::Uuid::from_u128(3));
    let mut orgs = OrgDirectory::default();
    orgs.add(home, vec![]);
    // Every MAT booking goes to it, so it provides every MAT service: a booking is refused
    // for the plan it does not continue, not for where it is booked (unit-tested apart).
    orgs.add_with_mat(pharmacy, vec![], &MatService::ALL);
    orgs.add(outside, vec![]);
    let levels: Vec<LevelId> = pathway.levels.iter().map(|l| l.id.clone()).collect();
    let mut providers = Vec::new();
    for (i, level) in levels.iter().enumerate() {
        for j in 0..2u128 {
            let id = OrgId(uuid::Uuid::from_u128(100 + 10 * i as u128 + j));
            orgs.add(id, vec![level.clone()]);
            providers.push((id, level.clone()));
        }
    }
    Fixture {
        pathway,
        orgs,
        home,
        levels,
        providers,
        pharmacy,
        outside,
    }
}

impl Fixture {
    fn level(&self, i: usize) -> &LevelId {
        &self.levels[i % self.levels.len()]
    }

    /// The `which`-th (of two) provider offering `level`.
    fn provider_of(&self, level: &LevelId, which: usize) -> OrgId {
        self.providers
            .iter()
            .filter(|(_, l)| l == level)
            .nth(which % 2)
            .expect("provider")
            .0
    }

    fn any_provider(&self, i: usize) -> OrgId {
        self.providers[i % self.providers.len()].0
    }

    /// Planned hours: inside the level's band for `hours` under 45, else `hours` as is.
    fn hours(&self, level: &LevelId, hours: u8) -> f32 {
        let band = self.pathway.level(level).expect("level").weekly_hours;
        if hours < 45 {
            band.min + (band.max - band.min) * f32::from(hours) / 45.0
        } else {
            f32::from(hours)
        }
    }

    /// Levels a move from where the client is may lead to: the admission levels for a client
    /// never admitted, else the targets of the pathway's transitions (readmissions for a
    /// discharged client).
    fn targets(&self, s: &ClientState) -> Vec<LevelId> {
        if s.status == ClientStatus::Registered {
            return self.pathway.admission_levels.clone();
        }
        let targets: Vec<LevelId> = self
            .pathway
            .allowed_from(s.level())
            .into_iter()
            .filter_map(|m| match m {
                AllowedMove::Transition { to, .. } => Some(to),
                _ => None,
            })
            .collect();
        if targets.is_empty() {
            self.levels.clone()
        } else {
            targets
        }
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
    /// `recipients: None`: every provider.
    Consent {
        recipients: Option<Vec<usize>>,
        pharmacy: bool,
    },
    Revoke {
        pick: usize,
    },
    /// `level: None`: the `pick`-th level a move from where the client is may lead to, and
    /// `providers` count the client's own provider last (a lateral move goes elsewhere).
    Refer {
        level: Option<usize>,
        pick: usize,
        providers: Vec<usize>,
    },
    Accept {
        pick: usize,
        wrong_partner: bool,
    },
    Decline {
        pick: usize,
    },
    Acknowledge {
        pick: usize,
    },
    Waitlist {
        pick: usize,
    },
    /// The engine offers a freed slot to a waitlisted referral.
    OfferSlot {
        pick: usize,
    },
    Withdraw {
        pick: usize,
    },
    /// The provider a client in transit goes to confirms the arrival (`by_case_manager`: the
    /// record holder records it).
    Arrive {
        by_case_manager: bool,
    },
    NoShow,
    /// What became of the `pick`-th booking (aftercare first, then MAT), reported by its
    /// provider: 0 attended, 1 attended with a supply date, 2 no-show, 3 cancelled,
    /// 4 rescheduled.
    Outcome {
        pick: usize,
        kind: u8,
        days: u8,
    },
    /// `level: None`: the level of the newest open referral, else the `pick`-th level a move
    /// from where the client is may lead to.
    Assess {
        level: Option<usize>,
        pick: usize,
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
    /// The move the newest accepted referral leads to from where the client is: a transition
    /// by the rule that allows it, or an admission (a readmission) to the referral's provider.
    /// With no accepted referral, to the `pick`-th level a move may lead to, with a provider
    /// other than the client's.
    Handoff {
        pick: usize,
        hours: u8,
    },
    /// The `pick`-th move the pathway allows from where the client is: an admission for a
    /// client never admitted, a readmission for a discharged one, else a transition or a
    /// discharge. Without `provider`: the provider of an accepted referral (admissions), the
    /// one the decision finds (transitions), none (discharges); a discharge names a provider
    /// for an even `provider`, the organization outside every consent for an odd one.
    Follow {
        pick: usize,
        provider: Option<usize>,
        hours: u8,
        override_gate: Option<u8>,
        supervisor: bool,
    },
    /// `provider`: 0 and 1 name two of the providers, 2 the organization outside every consent.
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
    let level = || 0usize..SLOTS;
    prop_oneof![
        3 => (level(), 0usize..2, 0u8..60).prop_map(|(level, provider, hours)| Step::Admit { level, provider, hours }),
        2 => (prop::option::weighted(0.3, prop::collection::vec(0usize..SLOTS, 0..4)), any::<bool>())
            .prop_map(|(recipients, pharmacy)| Step::Consent { recipients, pharmacy }),
        1 => idx().prop_map(|pick| Step::Revoke { pick }),
        4 => (prop::option::weighted(0.3, level()), idx(), prop::collection::vec(0usize..2, 0..3))
            .prop_map(|(level, pick, providers)| Step::Refer { level, pick, providers }),
        4 => (idx(), prop::bool::weighted(0.1)).prop_map(|(pick, wrong_partner)| Step::Accept { pick, wrong_partner }),
        1 => idx().prop_map(|pick| Step::Decline { pick }),
        1 => idx().prop_map(|pick| Step::Acknowledge { pick }),
        1 => idx().prop_map(|pick| Step::Waitlist { pick }),
        1 => idx().prop_map(|pick| Step::OfferSlot { pick }),
        3 => any::<bool>().prop_map(|by_case_manager| Step::Arrive { by_case_manager }),
        1 => Just(Step::NoShow),
        3 => (idx(), 0u8..5, 0u8..10).prop_map(|(pick, kind, days)| Step::Outcome { pick, kind, days }),
        1 => idx().prop_map(|pick| Step::Withdraw { pick }),
        2 => (prop::option::weighted(0.5, level()), idx(), 0u8..30)
            .prop_map(|(level, pick, days_ago)| Step::Assess { level, pick, days_ago }),
        1 => (0u8..4, -3i8..20).prop_map(|(med, days)| Step::Mat { med, days }),
        1 => Just(Step::EndMat),
        2 => (0u8..12).prop_map(|days| Step::Aftercare { days }),
        2 => (0u8..4, 0u8..12).prop_map(|(kind, days)| Step::Refill { kind, days }),
        1 => (level(), 0u8..6, 0u8..5).prop_map(|(level, kind, days)| Step::Plan { level, kind, days }),
        6 => (0u8..4, prop::option::weighted(0.3, level()), prop::option::of(0usize..2), 0u8..60, prop::option::weighted(0.2, 0u8..5), prop::bool::weighted(0.3))
            .prop_map(|(kind, level, provider, hours, override_gate, supervisor)| Step::Move { kind, level, provider, hours, override_gate, supervisor }),
        6 => (0usize..SLOTS, prop::option::of(0usize..SLOTS), 0u8..50, prop::option::weighted(0.2, 0u8..5), prop::bool::weighted(0.3))
            .prop_map(|(pick, provider, hours, override_gate, supervisor)| Step::Follow { pick, provider, hours, override_gate, supervisor }),
        2 => (0usize..SLOTS, 0u8..50).prop_map(|(pick, hours)| Step::Handoff { pick, hours }),
        2 => (0u8..4, prop::option::of(0usize..3), prop::option::weighted(0.2, 0u8..5), prop::bool::weighted(0.3))
            .prop_map(|(kind, provider, override_gate, supervisor)| Step::Discharge { kind, provider, override_gate, supervisor }),
        2 => (1u16..400).prop_map(|hours| Step::Advance { hours }),
    ]
}

/// A handoff done right, most of the time: consent, a referral to a level the pathway leads to
/// from where the client is, its acceptance, an assessment recommending that level, the move.
/// Random steps alone seldom line all of these up, and the coverage needs every edge taken
/// (and refused: now and then the acceptance or the assessment is missing).
fn handoff() -> impl Strategy<Value = Vec<Step>> {
    (
        prop::bool::weighted(0.4),
        0usize..SLOTS,
        prop_oneof![(0usize..2).prop_map(|p| vec![p]), Just(vec![0, 1]),],
        prop::option::weighted(0.85, 0usize..10),
        prop::option::weighted(0.85, 0u8..20),
        prop::option::weighted(0.3, 0u8..10),
        prop::option::weighted(0.3, (0u8..4, 0u8..6)),
        0u8..48,
        prop_oneof![6 => Just(Some(Step::Arrive { by_case_manager: false })), 1 => Just(Some(Step::NoShow)), 1 => Just(None)],
    )
        .prop_map(
            |(consent, pick, providers, accept, days_ago, aftercare, refill, hours, then)| {
                let mut steps = Vec::new();
                if consent {
                    steps.push(Step::Consent {
                        recipients: None,
                        pharmacy: true,
                    });
                }
                steps.push(Step::Refer {
                    level: None,
                    pick,
                    providers,
                });
                if let Some(pick) = accept {
                    steps.push(Step::Accept {
                        pick,
                        wrong_partner: false,
                    });
                }
                if let Some(days_ago) = days_ago {
                    steps.push(Step::Assess {
                        level: None,
                        pick,
                        days_ago,
                    });
                }
                if let Some(days) = aftercare {
                    steps.push(Step::Aftercare { days });
                }
                if let Some((kind, days)) = refill {
                    steps.push(Step::Refill { kind, days });
                }
                steps.push(Step::Handoff { pick, hours });
                steps.extend(then);
                steps
            },
        )
}

/// A discharge, often with the consent a transfer needs and the aftercare appointment a
/// planned one needs; often naming the organization outside every consent, which a discharge
/// may not name (42 CFR Part 2): the only way an unplanned discharge, gateless, is refused.
/// Then, now and then, days pass: the follow-up checks come due.
fn discharge() -> impl Strategy<Value = Vec<Step>> {
    (
        prop::bool::weighted(0.3),
        prop::option::weighted(0.7, 0u8..10),
        prop::option::weighted(0.3, (0u8..4, 0u8..6)),
        0u8..4,
        prop_oneof![1 => Just(None), 1 => Just(Some(0)), 1 => Just(Some(1)), 2 => Just(Some(2))],
        prop::option::weighted(0.4, 100u16..400),
    )
        .prop_map(|(consent, aftercare, refill, kind, provider, after)| {
            let mut steps = Vec::new();
            if consent {
                steps.push(Step::Consent {
                    recipients: None,
                    pharmacy: true,
                });
            }
            if let Some(days) = aftercare {
                steps.push(Step::Aftercare { days });
            }
            if let Some((kind, days)) = refill {
                steps.push(Step::Refill { kind, days });
                // The day comes, and the pharmacy or OTP says what it dispensed.
                if days > 0 {
                    steps.push(Step::Advance {
                        hours: u16::from(days) * 24,
                    });
                }
                steps.push(Step::Outcome {
                    pick: 1,
                    kind: 1,
                    days: 7,
                });
            }
            steps.push(Step::Discharge {
                kind,
                provider,
                override_gate: None,
                supervisor: false,
            });
            if let Some(hours) = after {
                steps.push(Step::Advance { hours });
            }
            steps
        })
}

/// Random steps, with a guided handoff now and then.
fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        prop_oneof![
            12 => step().prop_map(|s| vec![s]),
            2 => handoff(),
            2 => discharge(),
        ],
        1..60,
    )
    .prop_map(|chunks| chunks.into_iter().flatten().collect())
}

fn provider(f: &Fixture, level: usize, which: usize) -> OrgId {
    f.provider_of(f.level(level), which)
}

fn gate(i: u8) -> pathway::Gate {
    pathway::Gate::ALL[i as usize % 5]
}

fn overrides(override_gate: Option<u8>) -> Vec<GateOverride> {
    override_gate
        .map(|g| GateOverride {
            gate: gate(g),
            reason: "clinical judgement".into(),
        })
        .into_iter()
        .collect()
}

/// Resolve a step into an actor and a command; `None` for a clock step.
fn resolve(
    f: &Fixture,
    s: &ClientState,
    step: &Step,
    now: DateTime<Utc>,
) -> Option<(Actor, Command)> {
    let cm = Actor::new(f.home, Role::CaseManager);
    let sup = Actor::new(f.home, Role::Supervisor);
    let today = now.date_naive();
    let pick_ref = |pick: usize| s.referrals.get(pick % s.referrals.len().max(1)).cloned();
    let pick_target = |pick: usize| {
        let targets = f.targets(s);
        targets[pick % targets.len()].clone()
    };
    Some(match step {
        Step::Advance { .. } => return None,
        Step::Admit {
            level,
            provider: p,
            hours,
        } => (
            cm,
            Command::Admit {
                level: f.level(*level).clone(),
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
            let mut r: Vec<OrgId> = match recipients {
                Some(recipients) => recipients.iter().map(|i| f.any_provider(*i)).collect(),
                None => f.providers.iter().map(|(id, _)| *id).collect(),
            };
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
        Step::Refer {
            level,
            pick,
            providers,
        } => {
            let (level, providers) = match level {
                Some(l) => {
                    let level = f.level(*l).clone();
                    let providers = providers.iter().map(|p| f.provider_of(&level, *p));
                    (level.clone(), providers.collect())
                }
                None => {
                    let level = pick_target(*pick);
                    let mut theirs: Vec<OrgId> = (0..2).map(|i| f.provider_of(&level, i)).collect();
                    theirs.sort_by_key(|p| s.placement.as_ref().is_some_and(|c| c.provider == *p));
                    let providers = providers.iter().map(|p| theirs[p % theirs.len()]);
                    (level, providers.collect())
                }
            };
            (
                cm,
                Command::SendReferral {
                    to_level: level,
                    providers,
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
                Actor::new(org, Role::Partner),
                Command::AcceptReferral { referral },
            )
        }
        Step::Decline { pick } => {
            let r = pick_ref(*pick);
            let org = r.as_ref().map_or(f.pharmacy, |r| r.provider);
            (
                Actor::new(org, Role::Partner),
                Command::DeclineReferral {
                    referral: r.map(|r| r.id).unwrap_or_default(),
                    reason: DeclineReason {
                        code: DeclineCode::NoCapacity,
                        note: None,
                    },
                },
            )
        }
        Step::Acknowledge { pick } | Step::Waitlist { pick } | Step::OfferSlot { pick } => {
            let r = pick_ref(*pick);
            let referral = r.as_ref().map(|r| r.id).unwrap_or_default();
            let org = r.as_ref().map_or(f.pharmacy, |r| r.provider);
            let partner = Actor::new(org, Role::Partner);
            match step {
                Step::Acknowledge { .. } => (partner, Command::AcknowledgeReferral { referral }),
                Step::Waitlist { .. } => (partner, Command::WaitlistReferral { referral }),
                _ => (
                    Actor::new(OrgId(uuid::Uuid::nil()), Role::System),
                    Command::OfferFreedSlot { referral },
                ),
            }
        }
        Step::Arrive { by_case_manager } => {
            let org = s.transit.as_ref().map_or(f.pharmacy, |t| t.provider);
            let actor = if *by_case_manager {
                cm
            } else {
                Actor::new(org, Role::Partner)
            };
            // The record holder records it only as relayed, saying who reported it.
            let relayed_by = by_case_manager.then(|| carepath_domain::RelayedBy {
                note: "phone call from the intake nurse".into(),
            });
            (actor, Command::ConfirmArrival { relayed_by })
        }
        Step::Outcome { pick, kind, days } => {
            // Odd picks: a MAT booking first.
            let aftercare = s.aftercare.iter().map(|a| (a.id, a.provider));
            let mat = s.mat_bookings.iter().map(|b| (b.id, b.provider));
            let bookings: Vec<(BookingId, OrgId)> = if pick % 2 == 1 {
                mat.chain(aftercare).collect()
            } else {
                aftercare.chain(mat).collect()
            };
            let (booking, org) = bookings
                .get(pick % bookings.len().max(1))
                .copied()
                .unwrap_or((BookingId(uuid::Uuid::nil()), f.pharmacy));
            let outcome = match kind {
                0 => OutcomeReport::Attended {
                    supply_through: None,
                },
                1 => OutcomeReport::Attended {
                    supply_through: Some(today + chrono::Duration::days(i64::from(*days))),
                },
                2 => OutcomeReport::NoShow,
                3 => OutcomeReport::Cancelled,
                _ => OutcomeReport::Rescheduled {
                    to: now + chrono::Duration::days(i64::from(*days)),
                },
            };
            (
                Actor::new(org, Role::Partner),
                Command::RecordBookingOutcome {
                    booking,
                    outcome,
                    relayed_by: None,
                },
            )
        }
        Step::NoShow => {
            let org = s.transit.as_ref().map_or(f.pharmacy, |t| t.provider);
            (
                Actor::new(org, Role::Partner),
                Command::ReportNoShow { relayed_by: None },
            )
        }
        Step::Withdraw { pick } => (
            cm,
            Command::WithdrawReferral {
                referral: pick_ref(*pick).map(|r| r.id).unwrap_or_default(),
            },
        ),
        Step::Assess {
            level,
            pick,
            days_ago,
        } => {
            let level = match level {
                Some(l) => f.level(*l).clone(),
                None => s
                    .referrals
                    .iter()
                    .rev()
                    .find(|r| {
                        matches!(r.status, ReferralStatus::Pending | ReferralStatus::Accepted)
                    })
                    .map_or_else(|| pick_target(*pick), |r| r.to_level.clone()),
            };
            (
                cm,
                Command::RecordAssessment {
                    recommended_level: level,
                    dimensions: [2; 6],
                    assessed_at: Some(now - Duration::days(i64::from(*days_ago))),
                },
            )
        }
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
                    to_level: f.level(*level).clone(),
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
                    (kind, r.to_level.clone())
                }
                (level, _) => (
                    TransitionKind::ALL[*kind as usize],
                    f.level(level.unwrap_or(*kind as usize)).clone(),
                ),
            };
            // Hours inside the target band most of the time.
            let hours = f.hours(&level, *hours);
            (
                if *supervisor { sup } else { cm },
                Command::Transition {
                    kind,
                    provider: p.map(|p| f.provider_of(&level, p)),
                    to_level: level,
                    planned_hours_per_week: hours,
                    track: None,
                    overrides: overrides(*override_gate),
                    emergency: None,
                },
            )
        }
        Step::Handoff { pick, hours } => {
            let accepted = s
                .referrals
                .iter()
                .rev()
                .find(|r| r.status == ReferralStatus::Accepted);
            let (level, provider) = match accepted {
                Some(r) => (r.to_level.clone(), r.provider),
                None => {
                    // Another provider than the client's: a lateral move needs one.
                    let level = pick_target(*pick);
                    let current = s.placement.as_ref().map(|p| p.provider);
                    let provider = (0..2)
                        .map(|i| f.provider_of(&level, i))
                        .find(|p| Some(*p) != current)
                        .expect("two providers per level");
                    (level, provider)
                }
            };
            let hours = f.hours(&level, *hours);
            if s.status != ClientStatus::Active {
                return Some((
                    cm,
                    Command::Admit {
                        level,
                        provider,
                        planned_hours_per_week: hours,
                        track: None,
                        overrides: vec![],
                        emergency: None,
                    },
                ));
            }
            let kind = f
                .pathway
                .transitions
                .iter()
                .find(|t| t.from.as_ref() == s.level() && t.to.contains(&level))
                .map_or(TransitionKind::Lateral, |t| t.kind);
            (
                cm,
                Command::Transition {
                    kind,
                    to_level: level,
                    provider: Some(provider),
                    planned_hours_per_week: hours,
                    track: None,
                    overrides: vec![],
                    emergency: None,
                },
            )
        }
        Step::Follow {
            pick,
            provider: p,
            hours,
            override_gate,
            supervisor,
        } => {
            let actor = if *supervisor { sup } else { cm };
            let overrides = overrides(*override_gate);
            if s.status != ClientStatus::Active {
                // An admission, or a readmission.
                let level = pick_target(*pick);
                let provider = match p {
                    Some(p) => f.provider_of(&level, *p),
                    None => s
                        .referrals
                        .iter()
                        .find(|r| r.status == ReferralStatus::Accepted && r.to_level == level)
                        .map_or_else(|| f.provider_of(&level, 0), |r| r.provider),
                };
                return Some((
                    actor,
                    Command::Admit {
                        planned_hours_per_week: f.hours(&level, *hours),
                        level,
                        provider,
                        track: None,
                        overrides,
                        emergency: None,
                    },
                ));
            }
            let allowed = f.pathway.allowed_from(s.level());
            // A level with no way out: a discharge the pathway does not have, refused.
            let planned = AllowedMove::Discharge {
                kind: DischargeKind::Planned,
            };
            match allowed.get(pick % allowed.len().max(1)).unwrap_or(&planned) {
                AllowedMove::Transition { kind, to } => (
                    actor,
                    Command::Transition {
                        kind: *kind,
                        to_level: to.clone(),
                        provider: p.map(|p| f.provider_of(to, p)),
                        planned_hours_per_week: f.hours(to, *hours),
                        track: None,
                        overrides,
                        emergency: None,
                    },
                ),
                AllowedMove::Discharge { kind } => (
                    actor,
                    Command::Discharge {
                        kind: *kind,
                        provider: p.map(|p| {
                            if p % 2 == 0 {
                                f.any_provider(p / 2)
                            } else {
                                f.outside
                            }
                        }),
                        overrides,
                    },
                ),
                AllowedMove::Admission { .. } => unreachable!("not from a level"),
            }
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
                provider: p.map(|p| match p {
                    0 | 1 => f.any_provider(p * 3),
                    _ => f.outside,
                }),
                overrides: overrides(*override_gate),
            },
        ),
    })
}

/// What must hold of every state any sequence reaches.
fn check_state(f: &Fixture, s: &ClientState, occupancy: &BTreeMap<(OrgId, LevelId), (i32, i32)>) {
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
    match s.status {
        ClientStatus::InTransit => {
            let t = s
                .transit
                .as_ref()
                .expect("a client in transit has a transit");
            assert!(s.episode.is_some());
            assert!(
                f.orgs.get(t.provider).unwrap().levels.contains(&t.to_level),
                "the receiving provider offers the level"
            );
            assert_eq!(t.holds_slot, !t.missed, "a slot is held until a miss");
        }
        _ => assert!(
            s.transit.is_none(),
            "only a client in transit has a transit"
        ),
    }
    for ((org, level), (occupied, held)) in occupancy {
        let here = s
            .placement
            .as_ref()
            .is_some_and(|p| p.provider == *org && &p.level == level);
        assert_eq!(
            *occupied,
            i32::from(here),
            "occupancy follows the placement"
        );
        // A slot is held for each accepted referral, and for a transit until it ends.
        let holds = s
            .referrals
            .iter()
            .filter(|r| {
                r.status == ReferralStatus::Accepted && r.provider == *org && &r.to_level == level
            })
            .count()
            + usize::from(
                s.transit
                    .as_ref()
                    .is_some_and(|t| t.holds_slot && t.provider == *org && &t.to_level == level),
            );
        assert_eq!(
            *held, holds as i32,
            "holds follow the referrals and the transit"
        );
    }
    let scheduled = s
        .referrals
        .iter()
        .filter(|r| r.status == ReferralStatus::Scheduled)
        .count();
    assert!(
        scheduled <= 1 && (scheduled == 0 || s.transit.as_ref().is_some_and(|t| !t.missed)),
        "a scheduled referral is the transit's"
    );
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
    // The move a transition event completes: one started earlier (an arrival), or one
    // started and completed now (within one organization).
    let arrival = prev.status == ClientStatus::InTransit
        && d.events
            .iter()
            .any(|e| matches!(e.data, EventData::TransitionCompleted { .. }));
    if arrival {
        let t = prev.transit.as_ref().expect("in transit");
        assert_eq!(after, Some(&t.to_level));
        assert_eq!(s.placement.as_ref().map(|p| p.provider), Some(t.provider));
    }
    for e in &d.events {
        match &e.data {
            EventData::TransitionCompleted { .. } if arrival => {}
            EventData::TransitionCompleted {
                kind,
                from_level,
                to_level,
                to_provider,
                overridden,
                ..
            }
            | EventData::HandoffStarted {
                kind,
                from_level,
                to_level,
                to_provider,
                overridden,
                ..
            } => {
                let from = match (&prev.placement, &prev.transit) {
                    (Some(p), _) => Some(&p.level),
                    (None, Some(t)) if t.missed => Some(&t.from_level),
                    _ => None,
                };
                assert_eq!(Some(from_level), from);
                if let EventData::TransitionCompleted { .. } = e.data {
                    assert_eq!(Some(to_level), after);
                } else {
                    assert_eq!(s.transit.as_ref().map(|t| &t.to_level), Some(to_level));
                }
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
                    | EventData::HandoffStarted { .. }
                    | EventData::DischargeCompleted { .. }
                    | EventData::DischargeUnplanned { .. }
                    | EventData::ClientAdmitted { .. }
            )),
            "the level changed without a move event"
        );
    }
}

// ---- transition coverage ----------------------------------------------------------------------

/// An edge of a pathway: a move from a level (or from outside care) to a level (or out of care).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Edge {
    /// A first admission.
    Admission {
        to: LevelId,
    },
    /// `from: None`: a readmission of a discharged client.
    Transition {
        from: Option<LevelId>,
        kind: TransitionKind,
        to: LevelId,
    },
    Discharge {
        kind: DischargeKind,
        from: LevelId,
    },
}

impl fmt::Display for Edge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Edge::Admission { to } => write!(f, "(-, admit, {to})"),
            Edge::Transition { from, kind, to } => match from {
                Some(from) => write!(f, "({from}, {kind}, {to})"),
                None => write!(f, "(discharged, {kind}, {to})"),
            },
            Edge::Discharge { kind, from } => write!(f, "({from}, discharge {kind}, -)"),
        }
    }
}

/// Every edge of `p`, in the pathway's order: admissions, transitions, discharges.
fn pathway_edges(p: &Pathway) -> Vec<Edge> {
    let mut edges: Vec<Edge> = p
        .admission_levels
        .iter()
        .map(|to| Edge::Admission { to: to.clone() })
        .collect();
    for t in &p.transitions {
        for to in &t.to {
            edges.push(Edge::Transition {
                from: t.from.clone(),
                kind: t.kind,
                to: to.clone(),
            });
        }
    }
    for d in &p.discharges {
        for from in &d.from {
            edges.push(Edge::Discharge {
                kind: d.kind,
                from: from.clone(),
            });
        }
    }
    edges
}

/// The pathway edge `command` attempts from `s`, if it attempts one: `None` for a command that
/// is not a move, and for a move the pathway does not have from where the client is (an
/// admission of an active client, a step the rules do not list), which must be refused.
fn edge_of(p: &Pathway, s: &ClientState, command: &Command) -> Option<Edge> {
    match (command, s.status) {
        (Command::Admit { level, .. }, ClientStatus::Registered) => p
            .admission_levels
            .contains(level)
            .then(|| Edge::Admission { to: level.clone() }),
        (Command::Admit { level, .. }, ClientStatus::Discharged) => p
            .transition_rule(TransitionKind::Readmission, None, level)
            .map(|_| Edge::Transition {
                from: None,
                kind: TransitionKind::Readmission,
                to: level.clone(),
            }),
        (
            Command::Transition { kind, to_level, .. },
            ClientStatus::Active | ClientStatus::InTransit,
        ) => {
            let from = departure(s)?;
            (*kind != TransitionKind::Readmission)
                .then(|| p.transition_rule(*kind, Some(from), to_level))
                .flatten()
                .map(|_| Edge::Transition {
                    from: Some(from.clone()),
                    kind: *kind,
                    to: to_level.clone(),
                })
        }
        (Command::Discharge { kind, .. }, ClientStatus::Active | ClientStatus::InTransit) => {
            let from = s
                .level()
                .or_else(|| s.transit.as_ref().map(|t| &t.from_level))?;
            p.discharge_rule(*kind, from).map(|_| Edge::Discharge {
                kind: *kind,
                from: from.clone(),
            })
        }
        _ => None,
    }
}

/// Where a move starts from: the placement, or after a missed arrival the level the client
/// left; a client on the way to a provider may not move.
fn departure(s: &ClientState) -> Option<&LevelId> {
    match (&s.placement, &s.transit) {
        (Some(p), _) => Some(&p.level),
        (None, Some(t)) if t.missed => Some(&t.from_level),
        _ => None,
    }
}

fn is_move(command: &Command) -> bool {
    matches!(
        command,
        Command::Admit { .. } | Command::Transition { .. } | Command::Discharge { .. }
    )
}

/// How often an edge was attempted, by outcome.
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    /// The command was accepted.
    taken: usize,
    /// The edge itself refused it: a gate unmet, or no consent naming the receiving
    /// organization (42 CFR Part 2).
    refused: usize,
    /// Refused for a reason that is not the edge's: bad input (hours outside the band, a
    /// provider not offering the level, an override of a gate the move does not require),
    /// an actor without the right (an override by a case manager), a conflict.
    other: usize,
}

type Coverage = BTreeMap<Edge, Counts>;

fn record(coverage: &mut Coverage, edge: Edge, result: &Result<Decision, DecisionError>) {
    let counts = coverage.entry(edge.clone()).or_default();
    match result {
        Ok(_) => counts.taken += 1,
        Err(DecisionError::GateUnmet { .. } | DecisionError::ConsentRequired { .. }) => {
            counts.refused += 1
        }
        Err(e @ DecisionError::InvalidTransition { .. }) => {
            panic!("{edge} is an edge of the pathway, yet refused as not allowed: {e}")
        }
        Err(_) => counts.other += 1,
    }
}

/// The edges of `p` never taken or never refused, with what they missed.
///
/// No edge of the shipped pathways is exempt from "refused". Admissions (neither pathway has
/// admission gates) and unplanned discharges (never gated) can still be refused, by the
/// consent rule of 42 CFR Part 2: an admission to a provider no consent names, a discharge
/// naming an organization no consent names (`Fixture::outside`). The walks construct both.
fn uncovered(p: &Pathway, coverage: &Coverage) -> Vec<String> {
    pathway_edges(p)
        .into_iter()
        .filter_map(|edge| {
            let c = coverage.get(&edge).copied().unwrap_or_default();
            let missed = match (c.taken, c.refused) {
                (0, 0) => "never taken, never refused",
                (0, _) => "never taken",
                (_, 0) => "never refused",
                _ => return None,
            };
            Some(format!("{edge}: {missed} ({} other refusals)", c.other))
        })
        .collect()
}

fn coverage_table(p: &Pathway, coverage: &Coverage) -> String {
    let edges = pathway_edges(p);
    let width = edges.iter().map(|e| e.to_string().len()).max().unwrap_or(0);
    let mut out = format!(
        "{:width$}  {:>6}  {:>7}  {:>6}\n",
        "edge", "taken", "refused", "other"
    );
    for edge in edges {
        let c = coverage.get(&edge).copied().unwrap_or_default();
        out += &format!(
            "{:width$}  {:>6}  {:>7}  {:>6}\n",
            edge.to_string(),
            c.taken,
            c.refused,
            c.other
        );
    }
    out
}

// ---- the walks --------------------------------------------------------------------------------

struct Walk {
    state: ClientState,
    /// Events by type.
    tally: BTreeMap<&'static str, usize>,
    coverage: Coverage,
}

fn run(f: &Fixture, steps: Vec<Step>) -> Walk {
    let mut now = Utc.with_ymd_and_hms(2026, 5, 4, 9, 0, 0).unwrap();
    let cm = Actor::new(f.home, Role::CaseManager);
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
        staff: StaffDirectory::none(),
    };
    let mut state = decide(
        None,
        &env(
            cm,
            Command::RegisterClient {
                home_org: f.home,
                birth_year: None,
                identity: None,
            },
        ),
        &ctx(now),
    )
    .expect("register")
    .state;
    let mut occupancy: BTreeMap<(OrgId, LevelId), (i32, i32)> = BTreeMap::new();
    let mut timers: BTreeMap<String, (DateTime<Utc>, TimerKind)> = BTreeMap::new();
    let mut seen_events = HashSet::new();
    let mut tally: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut coverage = Coverage::new();

    let mut apply =
        |state: &mut ClientState,
         d: Decision,
         occupancy: &mut BTreeMap<(OrgId, LevelId), (i32, i32)>,
         timers: &mut BTreeMap<String, (DateTime<Utc>, TimerKind)>| {
            for o in &d.occupancy {
                let slot = occupancy
                    .entry((o.provider, o.level.clone()))
                    .or_insert((0, 0));
                slot.0 += o.occupied;
                slot.1 += o.held;
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
                let system = Actor::new(OrgId(uuid::Uuid::nil()), Role::System);
                match decide(
                    Some(&state),
                    &env(system, Command::FireTimer { timer: kind }),
                    &ctx(now),
                ) {
                    Ok(d) => {
                        check_decision(f, &state, &d, now);
                        apply(&mut state, d, &mut occupancy, &mut timers);
                    }
                    Err(DecisionError::StaleTimer(_)) => {}
                    Err(e) => panic!("a timer failed: {e}"),
                }
                check_state(f, &state, &occupancy);
            }
            continue;
        }
        let (actor, command) = resolve(f, &state, &step, now).expect("a command");
        let edge = edge_of(&f.pathway, &state, &command);
        let mv = is_move(&command);
        let before = state.clone();
        let first = decide(Some(&state), &env(actor, command.clone()), &ctx(now));
        let again = decide(Some(&state), &env(actor, command), &ctx(now));
        assert_eq!(first, again, "deciding is deterministic");
        assert_eq!(state, before, "deciding does not touch the state");
        match edge {
            Some(edge) => record(&mut coverage, edge, &first),
            None if mv => assert!(
                first.is_err(),
                "a move the pathway does not have from {:?} {:?} was accepted",
                state.status,
                state.level()
            ),
            None => {}
        }
        if let Ok(d) = first {
            check_decision(f, &state, &d, now);
            apply(&mut state, d, &mut occupancy, &mut timers);
        }
        check_state(f, &state, &occupancy);
    }
    Walk {
        state,
        tally,
        coverage,
    }
}

/// The property over random command sequences on `pathway`, then what the walks must have
/// exercised: every kind of move event, and every edge of the pathway both taken and refused.
fn random_walks(pathway: Pathway) {
    let f = fixture(pathway);
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(CASES);
    let mut runner = TestRunner::new(Config {
        cases,
        source_file: Some(file!()),
        ..Config::default()
    });
    let totals: RefCell<BTreeMap<&'static str, usize>> = RefCell::default();
    let coverage: RefCell<Coverage> = RefCell::default();
    let result = runner.run(&steps(), |steps| {
        let walk = run(&f, steps);
        let mut totals = totals.borrow_mut();
        for (k, v) in walk.tally {
            *totals.entry(k).or_insert(0) += v;
        }
        let mut coverage = coverage.borrow_mut();
        for (edge, c) in walk.coverage {
            let total = coverage.entry(edge).or_default();
            total.taken += c.taken;
            total.refused += c.refused;
            total.other += c.other;
        }
        Ok(())
    });
    let id = &f.pathway.id;
    if let Err(e) = result {
        panic!("{id}: {e}");
    }

    // The random walks must actually move clients, or the property says little.
    let totals = totals.into_inner();
    eprintln!("{id}: events over {cases} random walks: {totals:?}");
    for t in totals.keys() {
        assert!(
            EventData::TYPES.contains(t),
            "{t} is missing from EventData::TYPES"
        );
    }
    for kind in [
        "aftercare.appointment.attended",
        "aftercare.appointment.missed",
        "handoff.started",
        "handoff.missed",
        "referral.waitlisted",
        "client.lost_to_care",
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
            "{id}: only {:?} {kind} in the random walks",
            totals.get(kind)
        );
    }

    let dispensed: usize = [
        "mat.refill.picked_up",
        "mat.dose.dispensed",
        "mat.visit.attended",
    ]
    .iter()
    .map(|k| totals.get(k).copied().unwrap_or(0))
    .sum();
    assert!(dispensed >= 5, "{id}: only {dispensed} MAT bookings kept");

    // Transition coverage: each edge taken and refused at least once.
    let coverage = coverage.into_inner();
    eprintln!(
        "{id}: transition coverage over {cases} random walks\n{}",
        coverage_table(&f.pathway, &coverage)
    );
    let missing = uncovered(&f.pathway, &coverage);
    assert!(
        missing.is_empty(),
        "{id}: {} of {} edges not covered in {cases} random walks:\n  {}",
        missing.len(),
        pathway_edges(&f.pathway).len(),
        missing.join("\n  ")
    );
}

#[test]
fn random_command_sequences_stay_within_the_asam_continuum() {
    random_walks(asam_continuum());
}

#[test]
fn random_command_sequences_stay_within_the_ma_bsas_pathway() {
    random_walks(ma_bsas());
}

/// Random sequences rarely walk the whole continuum; this one does, through the same checks.
#[test]
fn a_guided_walk_passes_the_same_checks() {
    let f = fixture(asam_continuum());
    let index = |id: &str| {
        f.levels
            .iter()
            .position(|l| l.as_str() == id)
            .expect("a level of the default pathway")
    };
    let mut steps = vec![
        Step::Consent {
            recipients: None,
            pharmacy: true,
        },
        Step::Admit {
            level: index("detox"),
            provider: 0,
            hours: 40,
        },
    ];
    let down = [
        ("residential", 30u8),
        ("php", 25),
        ("iop", 12),
        ("outpatient", 2),
    ];
    for (i, (level, hours)) in down.into_iter().enumerate() {
        let level = index(level);
        steps.push(Step::Refer {
            level: Some(level),
            pick: 0,
            providers: vec![0, 1],
        });
        // The first of the two referrals just sent.
        steps.push(Step::Accept {
            pick: 2 * i,
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
        steps.push(Step::Arrive {
            by_case_manager: level % 2 == 0,
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
    let walk = run(&f, steps);
    let (state, tally) = (walk.state, walk.tally);
    assert_eq!(state.status, ClientStatus::Discharged);
    assert_eq!(tally.get("handoff.started"), Some(&4), "{tally:?}");
    assert_eq!(tally.get("transition.completed"), Some(&4), "{tally:?}");
    assert_eq!(tally.get("handoff.missed"), None, "{tally:?}");
    assert_eq!(tally.get("discharge.completed"), Some(&1), "{tally:?}");
    // Residential care ended with the step down to PHP: both checks count the arrival there
    // (an attended visit at a lower level); the outpatient discharge starts none.
    assert_eq!(tally.get("followup.met"), Some(&2), "{tally:?}");
    assert_eq!(tally.get("followup.missed"), None, "{tally:?}");
}
