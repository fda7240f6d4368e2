//! A client as one reader may see it: the only shape in which a client's record leaves the
//! engine for a door (GraphQL, the console, FHIR, exports). [`cut`] turns the client's state
//! and the reader's standing ([`policy::read_access`]) into a [`VisibleClient`] holding only
//! what that reader may see — each part of the record [`Seen::Shown`] or [`Seen::Withheld`],
//! referrals and events filtered, the identity left for the engine to fill in where the view
//! shows it. A door renders this value and nothing else, so no door can show a part another
//! door withholds.

use crate::event::{CareEvent, EventData, GateReport};
use crate::gates::{self, ReadinessAsk};
use crate::ids::{ClientId, EpisodeId, OrgId, StaffId};
use crate::next::Step;
use crate::pathway::DischargeKind;
use crate::pathway::{AllowedMove, Pathway};
use crate::policy::{self, ClientPart, ClientView};
use crate::state::{
    AftercareAppointment, Assessment, ClientState, ClientStatus, Consent, DischargeRecord,
    Escalation, HandoffTarget, LostToCare, MatBooking, MatPlan, PendingTransfer, Placement,
    PlacementRecord, PlannedHandoff, Referral, ReferralStatus, Transit,
};
use crate::{Actor, ClientIdentity};
use chrono::{DateTime, NaiveDate, Utc};

/// A part of the record: shown to this reader, or withheld from it (minimum necessary).
#[derive(Clone, Debug, PartialEq)]
pub enum Seen<T> {
    Shown(T),
    Withheld,
}

impl<T> Seen<T> {
    fn when(shown: bool, value: impl FnOnce() -> T) -> Self {
        if shown {
            Seen::Shown(value())
        } else {
            Seen::Withheld
        }
    }

    /// The part, when the reader may see it.
    pub fn shown(&self) -> Option<&T> {
        match self {
            Seen::Shown(v) => Some(v),
            Seen::Withheld => None,
        }
    }

    pub fn is_shown(&self) -> bool {
        matches!(self, Seen::Shown(_))
    }
}

impl<T> Seen<Vec<T>> {
    /// The items of a list part, none when withheld.
    pub fn items(&self) -> &[T] {
        self.shown().map_or(&[], Vec::as_slice)
    }
}

/// The episode under way (or the last one), as every reader with standing sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct EpisodeSeen {
    pub id: EpisodeId,
    pub number: u32,
    pub admitted_at: DateTime<Utc>,
    /// When it ended, once the client was discharged from it.
    pub discharged_at: Option<DateTime<Utc>>,
}

/// A consent, and whether it is in force as the record stands now.
#[derive(Clone, Debug, PartialEq)]
pub struct ConsentSeen {
    pub consent: Consent,
    pub in_force: bool,
}

/// The MAT plan and the day the client's doses in hand (or the injection's blockade) reach.
#[derive(Clone, Debug, PartialEq)]
pub struct MatPlanSeen {
    pub plan: MatPlan,
    pub covered_through: Option<NaiveDate>,
}

/// Who is responsible for the episode and what waits for them.
#[derive(Clone, Debug, PartialEq)]
pub struct CaseManagement {
    pub case_manager: Option<StaffId>,
    pub escalation: Option<Escalation>,
    /// Reports the sender recorded for the receiving side, with who gave them.
    pub relayed_reports: Vec<crate::state::RelayedReport>,
}

/// The planned handoff and what became of the client between levels.
#[derive(Clone, Debug, PartialEq)]
pub struct Movement {
    pub handoff: Option<PlannedHandoff>,
    pub lost_to_care: Option<LostToCare>,
    /// The days an aftercare appointment must fall on for the planned handoff (when its move
    /// needs one): an appointment outside them does not meet the gate.
    pub aftercare_window: Option<(NaiveDate, NaiveDate)>,
}

/// The record's past: every placement the client started, and the last discharge.
#[derive(Clone, Debug, PartialEq)]
pub struct CareHistory {
    pub placements: Vec<PlacementRecord>,
    pub last_discharge: Option<DischargeRecord>,
}

/// One readiness checklist: each gate a move needs, met or not, with why.
#[derive(Clone, Debug, PartialEq)]
pub struct Checklist {
    /// What was asked (the move, or the discharge).
    pub ask: ReadinessAsk,
    pub target: HandoffTarget,
    pub gates: Vec<GateReport>,
}

/// A client as one reader may see it. Every reader with standing sees the id, version,
/// status, the home organization, the placement, a move or transfer under way and the current
/// episode; the rest is a part of the record each [`ClientView`] shows or withholds.
#[derive(Clone, Debug, PartialEq)]
pub struct VisibleClient {
    /// The view this value was cut for.
    pub view: ClientView,
    pub id: ClientId,
    pub version: i64,
    /// The sequence number of the client's last care event.
    pub last_seq: i64,
    pub status: ClientStatus,
    pub home_org: OrgId,
    pub placement: Option<Placement>,
    pub transit: Option<Transit>,
    pub transfer: Option<PendingTransfer>,
    pub episode: Option<EpisodeSeen>,
    pub birth_year: Seen<Option<i32>>,
    /// The display name and record number (`Shown(None)`: none recorded). Filled in by the
    /// engine, which keeps them beside the record ([`VisibleClient::with_identity`]).
    pub identity: Seen<Option<ClientIdentity>>,
    pub consents: Seen<Vec<ConsentSeen>>,
    /// Every referral for the record holder; a partner's those addressed to it.
    pub referrals: Seen<Vec<Referral>>,
    pub assessments: Seen<Vec<Assessment>>,
    pub mat_plan: Seen<Option<MatPlanSeen>>,
    pub mat_bookings: Seen<Vec<MatBooking>>,
    pub aftercare: Seen<Vec<AftercareAppointment>>,
    pub movement: Seen<Movement>,
    pub allowed_moves: Seen<Vec<AllowedMove>>,
    pub case_management: Seen<CaseManagement>,
    pub history: Seen<CareHistory>,
    /// The readiness of the next move and of a planned discharge ([`next_asks`]), when the
    /// reader asked for it ([`Asked::readiness`]) and its view shows it.
    pub readiness: Seen<Vec<Checklist>>,
    /// What to do next that this reader may do ([`crate::next::next_steps`]), most pressing
    /// first; asked with the readiness ([`Asked::readiness`]), else none.
    pub next_steps: Vec<Step>,
    /// Every change this reader may make to the client from where it stands
    /// ([`crate::next::actions`]); asked with the readiness, else none.
    pub actions: Vec<crate::next::Action>,
    /// The organizations the record may go to now without another consent: the one holding
    /// it, the provider treating the client, and those a consent in force names (shown with
    /// the consents).
    pub may_receive: Seen<Vec<OrgId>>,
}

impl VisibleClient {
    pub fn shows(&self, part: ClientPart) -> bool {
        self.view.shows(part)
    }

    pub fn level(&self) -> Option<&crate::pathway::LevelId> {
        self.placement.as_ref().map(|p| &p.level)
    }

    /// Where the client is, or is going: the placement's level and provider, else the
    /// transit's.
    pub fn whereabouts(&self) -> Option<(&crate::pathway::LevelId, OrgId)> {
        match (&self.placement, &self.transit) {
            (Some(p), _) => Some((&p.level, p.provider)),
            (None, Some(t)) => Some((&t.to_level, t.provider)),
            (None, None) => None,
        }
    }

    /// A referral the reader sees.
    pub fn referral(&self, id: crate::ids::ReferralId) -> Option<&Referral> {
        self.referrals.items().iter().find(|r| r.id == id)
    }

    /// Set while the client is lost to care, where the view shows it.
    pub fn lost_to_care(&self) -> Option<&LostToCare> {
        self.movement.shown().and_then(|m| m.lost_to_care.as_ref())
    }

    /// The identity kept beside the record, where this reader's view shows it.
    pub fn with_identity(mut self, identity: Option<ClientIdentity>) -> Self {
        if self.identity.is_shown() {
            self.identity = Seen::Shown(identity);
        }
        self
    }

    /// Whether the record may go to `org` now without another consent ([`Self::may_receive`]).
    pub fn may_go_to(&self, org: OrgId) -> bool {
        self.may_receive.items().contains(&org)
    }

    pub fn display_name(&self) -> Option<&str> {
        self.identity
            .shown()
            .and_then(Option::as_ref)
            .map(|i| i.display_name.as_str())
    }
}

/// What a reader asks to see beyond the record's parts: the readiness checklists (a client's
/// page; not worth their gates' evaluation in a list, a worklist or an export) — of one move
/// (the console's "check this move"), else of the next move [`next_asks`] chooses.
#[derive(Clone, Debug, Default)]
pub struct Asked {
    pub readiness: bool,
    pub readiness_of: Option<ReadinessAsk>,
}

/// The client in `view`, the view `actor`'s standing gives ([`policy::read_access`], which the
/// engine asks first and accounts).
pub fn cut(
    actor: &Actor,
    view: ClientView,
    state: &ClientState,
    pathway: &Pathway,
    now: DateTime<Utc>,
    asked: &Asked,
) -> VisibleClient {
    let shows = |p| view.shows(p);
    let s = state;
    let checklists: Vec<Checklist> = if asked.readiness {
        next_asks(s, pathway, asked.readiness_of.clone(), view)
            .into_iter()
            .filter_map(|ask| {
                let target = gates::readiness_target(s, pathway, ask.clone()).ok()?;
                let gates = gates::readiness(s, pathway, &target, now.date_naive(), now).ok()?;
                Some(Checklist { ask, target, gates })
            })
            .collect()
    } else {
        Vec::new()
    };
    let (next_steps, actions) = if asked.readiness {
        (
            crate::next::next_steps(actor, s, pathway, &checklists, now),
            crate::next::actions(actor, s, pathway, now),
        )
    } else {
        (Vec::new(), Vec::new())
    };
    VisibleClient {
        view,
        id: s.id,
        version: s.version,
        last_seq: s.last_seq,
        status: s.status,
        home_org: s.home_org,
        placement: s.placement.clone(),
        transit: s.transit.clone(),
        transfer: s.transfer.clone(),
        episode: s.episode.as_ref().map(|e| EpisodeSeen {
            id: e.id,
            number: e.number,
            admitted_at: e.admitted_at,
            discharged_at: s
                .last_discharge
                .as_ref()
                .filter(|d| d.episode == e.id && s.status == ClientStatus::Discharged)
                .map(|d| d.at),
        }),
        birth_year: Seen::when(shows(ClientPart::BirthYear), || s.birth_year),
        identity: Seen::when(shows(ClientPart::Identity), || None),
        consents: Seen::when(shows(ClientPart::Consents), || {
            s.consents
                .iter()
                .map(|c| ConsentSeen {
                    consent: c.clone(),
                    in_force: s.consent_active(c, now),
                })
                .collect()
        }),
        referrals: Seen::when(shows(ClientPart::Referrals), || {
            policy::visible_referrals(actor, view, s).cloned().collect()
        }),
        assessments: Seen::when(shows(ClientPart::Assessments), || s.assessments.clone()),
        mat_plan: Seen::when(shows(ClientPart::MatPlan), || {
            s.mat_plan.as_ref().map(|p| MatPlanSeen {
                plan: p.clone(),
                covered_through: gates::mat_covered_through(s, pathway),
            })
        }),
        mat_bookings: Seen::when(shows(ClientPart::MatBookings), || s.mat_bookings.clone()),
        aftercare: Seen::when(shows(ClientPart::Aftercare), || s.aftercare.clone()),
        movement: Seen::when(shows(ClientPart::Handoff), || Movement {
            handoff: s.handoff.clone(),
            lost_to_care: s.lost_to_care.clone(),
            aftercare_window: gates::planned_aftercare_window(s, pathway),
        }),
        allowed_moves: Seen::when(shows(ClientPart::AllowedMoves), || {
            gates::allowed_moves(s, pathway)
        }),
        case_management: Seen::when(shows(ClientPart::CaseManagement), || CaseManagement {
            case_manager: s.episode.as_ref().and_then(|e| e.case_manager),
            escalation: s.escalation.clone(),
            relayed_reports: s.relayed_reports.clone(),
        }),
        history: Seen::when(shows(ClientPart::History), || CareHistory {
            placements: s.placements.clone(),
            last_discharge: s.last_discharge.clone(),
        }),
        readiness: Seen::when(asked.readiness && shows(ClientPart::Readiness), || {
            checklists
        }),
        next_steps,
        actions,
        may_receive: Seen::when(shows(ClientPart::Consents), || {
            let mut orgs: Vec<OrgId> = std::iter::once(s.home_org)
                .chain(s.placement.as_ref().map(|p| p.provider))
                .chain(s.consents.iter().flat_map(|c| c.recipients.iter().copied()))
                .filter(|o| s.is_inside(*o) || s.active_consent_for(*o, now).is_some())
                .collect();
            orgs.sort_by_key(|o| o.0);
            orgs.dedup();
            orgs
        }),
    }
}

/// The moves a client page checks readiness for, while the client is in care: the move
/// asked, else the planned handoff's, else the newest referral still open to a level the
/// pathway allows, else the level the newest assessment recommends (another than the client's,
/// where the pathway allows it), else the first transition it allows; and a planned discharge.
pub fn next_asks(
    state: &ClientState,
    pathway: &Pathway,
    asked: Option<ReadinessAsk>,
    view: ClientView,
) -> Vec<ReadinessAsk> {
    if state.status != ClientStatus::Active {
        return Vec::new();
    }
    let moves = gates::allowed_moves(state, pathway);
    let allows = |level: &crate::pathway::LevelId| {
        moves
            .iter()
            .any(|m| matches!(m, AllowedMove::Transition { to, .. } if to == level))
    };
    let move_to = |level: &crate::pathway::LevelId| ReadinessAsk::MoveTo {
        level: level.clone(),
        provider: None,
    };
    let planned = state.handoff.as_ref().map(|h| match &h.target {
        HandoffTarget::Transition {
            to_level, provider, ..
        } => ReadinessAsk::MoveTo {
            level: to_level.clone(),
            provider: *provider,
        },
        HandoffTarget::Discharge { kind, provider } => ReadinessAsk::Discharge {
            kind: *kind,
            provider: *provider,
        },
    });
    let referred = state
        .referrals
        .iter()
        .filter(|r| {
            matches!(
                r.status,
                ReferralStatus::Pending
                    | ReferralStatus::Acknowledged
                    | ReferralStatus::Waitlisted
                    | ReferralStatus::Accepted
            ) && allows(&r.to_level)
        })
        .max_by_key(|r| r.sent_at)
        .map(|r| move_to(&r.to_level))
        // Chosen from what the reader's view shows, so the checklist's title says nothing more.
        .filter(|_| view.shows(ClientPart::Referrals));
    let recommended = state
        .recommended_level()
        .filter(|l| Some(*l) != state.level() && allows(l))
        .map(move_to)
        .filter(|_| view.shows(ClientPart::Assessments));
    let first = moves.iter().find_map(|m| match m {
        AllowedMove::Transition { to, .. } => Some(move_to(to)),
        _ => None,
    });
    let mut asks: Vec<ReadinessAsk> = asked
        .or(planned)
        .or(referred)
        .or(recommended)
        .or(first)
        .into_iter()
        .collect();
    let discharge = ReadinessAsk::Discharge {
        kind: DischargeKind::Planned,
        provider: None,
    };
    if !asks.contains(&discharge) {
        asks.push(discharge);
    }
    asks
}

/// The part of the record an event tells of — what a view must show for its reader to see
/// the event.
pub fn part_of(event: &EventData) -> ClientPart {
    use ClientPart::*;
    use EventData as E;
    match event {
        E::ConsentRecorded { .. } | E::ConsentRevoked { .. } => Consents,
        E::ReferralSent { .. }
        | E::ReferralAcknowledged { .. }
        | E::ReferralAccepted { .. }
        | E::ReferralWaitlisted { .. }
        | E::ReferralDeclined { .. }
        | E::ReferralWithdrawn { .. }
        | E::ReferralExpired { .. } => Referrals,
        E::ReferralEscalated { .. } | E::CaseManagerAssigned { .. } => CaseManagement,
        E::AssessmentRecorded { .. } => Assessments,
        E::MatPlanRecorded { .. } | E::MatPlanEnded => MatPlan,
        E::MatDoseDispensed { .. }
        | E::MatRefillPickedUp { .. }
        | E::MatVisitAttended { .. }
        | E::MatBookingMissed { .. }
        | E::MatBookingCancelled { .. }
        | E::MatBookingRescheduled { .. }
        | E::MatRefillScheduled { .. } => MatBookings,
        E::AftercareScheduled { .. }
        | E::AftercareAttended { .. }
        | E::AftercareMissed { .. }
        | E::AftercareCancelled { .. }
        | E::AftercareRescheduled { .. } => Aftercare,
        // A move between levels or out of care, from its plan to its end, and what became
        // of the client after it.
        E::HandoffPlanned { .. }
        | E::HandoffReady { .. }
        | E::HandoffStarted { .. }
        | E::HandoffMissed { .. }
        | E::TransferArrived { .. }
        | E::TransitionCompleted { .. }
        | E::DischargePlanned { .. }
        | E::DischargeCompleted { .. }
        | E::DischargeUnplanned { .. }
        | E::FollowupMet { .. }
        | E::FollowupMissed { .. }
        | E::FollowupSuperseded { .. }
        | E::ClientLostToCare { .. }
        | E::ClientReengaged { .. } => Handoff,
        E::ClientRegistered { .. }
        | E::ClientAdmitted { .. }
        | E::IdentityRecorded
        | E::ReviewDue { .. }
        | E::DisclosureEmergency { .. } => History,
    }
}

/// The events of a client a reader with `view` sees: those of the parts the view shows, and
/// of the referrals, only those it sees ([`policy::visible_referrals`]).
pub fn visible_events(
    actor: &Actor,
    view: ClientView,
    state: &ClientState,
    events: Vec<CareEvent>,
) -> Vec<CareEvent> {
    if view == ClientView::Full {
        return events;
    }
    let referrals: Vec<_> = policy::visible_referrals(actor, view, state)
        .map(|r| r.id)
        .collect();
    events
        .into_iter()
        .filter(|e| {
            let part = part_of(&e.data);
            view.shows(part)
                && (part != ClientPart::Referrals
                    || referral_of(&e.data).is_some_and(|r| referrals.contains(&r)))
        })
        .collect()
}

/// The referral a referral event tells of.
fn referral_of(event: &EventData) -> Option<crate::ids::ReferralId> {
    use EventData as E;
    match event {
        E::ReferralSent { referral, .. }
        | E::ReferralAcknowledged { referral, .. }
        | E::ReferralAccepted { referral, .. }
        | E::ReferralWaitlisted { referral, .. }
        | E::ReferralDeclined { referral, .. }
        | E::ReferralWithdrawn { referral, .. }
        | E::ReferralExpired { referral, .. } => Some(*referral),
        _ => None,
    }
}
