//! Who may do what. Checked by the decision core itself, so no API layer can forget it.
//!
//! - `admin`: everything but gate overrides.
//! - `case_manager`: the clients of their own organization.
//! - `supervisor`: as a case manager, and may override a gate with a reason.
//! - `partner`: accept or decline referrals addressed to their organization.
//! - `aftercare_coordinator`: book aftercare and MAT refills for clients whose consent names
//!   their organization (or of their own organization).
//! - `system`: the engine's timers.

use super::command::{Actor, Command, Role};
use super::error::DecisionError;
use super::state::ClientState;
use chrono::{DateTime, Utc};

pub fn authorize(
    actor: &Actor,
    command: &Command,
    state: Option<&ClientState>,
    now: DateTime<Utc>,
) -> Result<(), DecisionError> {
    let deny = |why: &str| Err(DecisionError::Forbidden(why.to_owned()));
    if let Command::FireTimer { .. } | Command::OfferFreedSlot { .. } = command {
        return if actor.role == Role::System {
            Ok(())
        } else {
            deny("only the engine fires timers and offers freed slots")
        };
    }
    if has_overrides(command) && actor.role != Role::Supervisor {
        return deny("only a supervisor may override a gate");
    }
    // Whoever has no standing with a client is told what an id that does not exist gets:
    // that someone is a client is itself Part 2 information. A refusal that depends only on
    // the role (a partner may not admit) says so whether the client exists or not.
    // (Without a state there is nothing to check here: the decision finds no client.)
    let unknown = |s: &ClientState| Err(unknown_record(command, s));
    match actor.role {
        Role::Admin => Ok(()),
        Role::System => deny("the engine acts only through timers"),
        Role::Payer => deny("a payer reads the services it pays for; it changes nothing"),
        Role::CaseManager | Role::Supervisor => match command {
            Command::RegisterClient { home_org, .. } if *home_org != actor.org => {
                deny("a case manager registers clients of their own organization")
            }
            Command::RegisterClient { .. } => Ok(()),
            _ => match state {
                Some(s) if s.home_org != actor.org => unknown(s),
                _ => match command {
                    Command::AcknowledgeReferral { .. }
                    | Command::AcceptReferral { .. }
                    | Command::DeclineReferral { .. }
                    | Command::WaitlistReferral { .. } => {
                        deny("only the receiving provider answers a referral")
                    }
                    // The record holder may record an arrival, a no-show or a booking's
                    // outcome the receiving side reported by other means (a phone call) —
                    // only as relayed, saying who reported it (`Draft::reported_by`).
                    _ => Ok(()),
                },
            },
        },
        Role::Partner => {
            let Some(s) = state else {
                return match command {
                    Command::AcknowledgeReferral { .. }
                    | Command::AcceptReferral { .. }
                    | Command::DeclineReferral { .. }
                    | Command::WaitlistReferral { .. }
                    | Command::RecordBookingOutcome { .. }
                    | Command::ConfirmArrival { .. }
                    | Command::ReportNoShow { .. } => Ok(()),
                    _ => deny(PARTNER_MAY),
                };
            };
            match command {
                Command::AcknowledgeReferral { referral }
                | Command::AcceptReferral { referral }
                | Command::DeclineReferral { referral, .. }
                | Command::WaitlistReferral { referral } => match s.referral(*referral) {
                    Some(r) if r.provider == actor.org => Ok(()),
                    _ => unknown(s),
                },
                // The provider of a booking says what became of it.
                Command::RecordBookingOutcome { booking, .. } => {
                    match booking_provider(s, *booking) {
                        Some(p) if p == actor.org => Ok(()),
                        _ => unknown(s),
                    }
                }
                // The provider a client is on the way to confirms the arrival or the no-show.
                Command::ConfirmArrival { .. } | Command::ReportNoShow { .. } => {
                    match receiving_org(s) {
                        Some(org) if org == actor.org => Ok(()),
                        _ => unknown(s),
                    }
                }
                _ => deny(PARTNER_MAY),
            }
        }
        Role::AftercareCoordinator => match command {
            Command::ScheduleAftercare { .. }
            | Command::ScheduleMatRefill { .. }
            | Command::RecordBookingOutcome { .. } => match state {
                Some(s)
                    if s.home_org != actor.org
                        && s.active_consent_for(actor.org, now).is_none() =>
                {
                    unknown(s)
                }
                _ => Ok(()),
            },
            _ => deny(
                "an aftercare coordinator may only book aftercare and MAT refills and record \
                 what became of them",
            ),
        },
    }
}

const PARTNER_MAY: &str =
    "a partner may only answer referrals addressed to it and confirm arrivals";

/// The provider a booking (aftercare or MAT) was made with.
fn booking_provider(s: &ClientState, booking: crate::ids::BookingId) -> Option<crate::ids::OrgId> {
    s.aftercare
        .iter()
        .find(|a| a.id == booking)
        .map(|a| a.provider)
        .or_else(|| {
            s.mat_bookings
                .iter()
                .find(|b| b.id == booking)
                .map(|b| b.provider)
        })
}

/// The refusal a reader without standing gets for `command`: the record it names (the
/// referral it answers, else the client) not found — word for word what an id that does not
/// exist gets.
fn unknown_record(command: &Command, state: &ClientState) -> DecisionError {
    match command {
        Command::AcknowledgeReferral { referral }
        | Command::AcceptReferral { referral }
        | Command::DeclineReferral { referral, .. }
        | Command::WaitlistReferral { referral }
        | Command::WithdrawReferral { referral } => DecisionError::not_found("referral", referral),
        _ => DecisionError::not_found("client", state.id),
    }
}

/// The abbreviated notice of 42 CFR 2.32 (2024 rule), on every disclosure to another
/// organization (events, FHIR resources).
pub const REDISCLOSURE_NOTICE: &str =
    "42 CFR part 2 prohibits unauthorized use or disclosure of these records.";

/// Administration (organizations, broker users, tokens): admins only. `what` completes
/// "only an admin …" in the refusal.
pub fn administer(actor: &Actor, what: &str) -> Result<(), DecisionError> {
    if actor.role == Role::Admin {
        Ok(())
    } else {
        Err(DecisionError::Forbidden(format!("only an admin {what}")))
    }
}

/// A time-skipping server's clock (`advanceClock`) moves every client's timers at once:
/// admins only.
pub fn advance_clock(actor: &Actor) -> Result<(), DecisionError> {
    administer(actor, "moves the clock")
}

/// The census (capacity, occupancy and pending referrals per provider and level) holds no
/// client: every signed-in role reads it, the engine's own timers do not.
pub fn read_census(actor: &Actor) -> Result<(), DecisionError> {
    match actor.role {
        Role::System => Err(DecisionError::Forbidden(
            "the engine's timers read no census".into(),
        )),
        _ => Ok(()),
    }
}

/// The directory of organizations — names, the levels each offers, the MAT services each
/// provides; no client in it — is for whoever books or refers (as the census: every signed-in
/// role), not the engine's own timers.
pub fn read_directory(actor: &Actor) -> Result<(), DecisionError> {
    read_census(actor)
}

/// An organization's messages speak only for it: what a sender (a linked broker user) names
/// as the acting organization must be its own.
pub fn speaks_for(
    sender: crate::ids::OrgId,
    named: crate::ids::OrgId,
) -> Result<(), DecisionError> {
    if sender == named {
        Ok(())
    } else {
        Err(DecisionError::Forbidden(format!(
            "the sender speaks for organization {sender} and may not act for organization {named}"
        )))
    }
}

/// Whom a sender's inbound message acts as, for the command it carries: the organization
/// it speaks for, as its aftercare coordinator when it books (an aftercare appointment, a
/// MAT refill), as a partner when it answers a referral or reports what became of a
/// booking or a handoff. `None` for a command no inbound message carries.
pub fn inbound_actor(sender: crate::ids::OrgId, command: &Command) -> Option<Actor> {
    let role = match command {
        Command::ScheduleAftercare { .. } | Command::ScheduleMatRefill { .. } => {
            Role::AftercareCoordinator
        }
        Command::AcknowledgeReferral { .. }
        | Command::AcceptReferral { .. }
        | Command::WaitlistReferral { .. }
        | Command::DeclineReferral { .. }
        | Command::RecordBookingOutcome { .. }
        | Command::ConfirmArrival { .. }
        | Command::ReportNoShow { .. } => Role::Partner,
        _ => return None,
    };
    Some(Actor::new(sender, role))
}

/// A provider's capacity: set by an admin, or by a partner for its own organization.
pub fn set_capacity(actor: &Actor, provider: crate::ids::OrgId) -> Result<(), DecisionError> {
    match actor.role {
        Role::Admin => Ok(()),
        Role::Partner if actor.org == provider => Ok(()),
        _ => Err(DecisionError::Forbidden(
            "capacity is set by an admin or by the provider itself".into(),
        )),
    }
}

/// The MAT services an organization provides (which MAT bookings it can take): set by an
/// admin only, never by the organization itself — an opioid treatment program is a certified
/// one, and a partner that called itself one would take methadone dosing it cannot give.
pub fn set_mat_services(actor: &Actor) -> Result<(), DecisionError> {
    administer(actor, "sets the MAT services an organization provides")
}

fn has_overrides(command: &Command) -> bool {
    match command {
        Command::Admit { overrides, .. }
        | Command::Transition { overrides, .. }
        | Command::Discharge { overrides, .. } => !overrides.is_empty(),
        _ => false,
    }
}

/// The worklists of the organization holding the records — its outreach list (clients lost
/// to care) and its escalations (referral groups that ran out) — are its case managers' and
/// supervisors' (`Some(their organization)`); an admin reads every organization's (`None`).
pub fn read_worklist(actor: &Actor) -> Result<Option<crate::ids::OrgId>, DecisionError> {
    match actor.role {
        Role::Admin => Ok(None),
        Role::CaseManager | Role::Supervisor => Ok(Some(actor.org)),
        _ => Err(DecisionError::Forbidden(
            "worklists are for the case managers holding the records".into(),
        )),
    }
}

/// The measures of an organization's clients are its case managers' and supervisors'
/// (`Some(their organization)`: the list of clients behind a miss is theirs to see); an admin
/// reads every organization's (`None`).
pub fn read_measures(actor: &Actor) -> Result<Option<crate::ids::OrgId>, DecisionError> {
    read_worklist(actor).map_err(|_| {
        DecisionError::Forbidden(
            "measures are for the case managers and supervisors holding the records".into(),
        )
    })
}

/// A bulk export of care records (FHIR `$export`) is for those who hold the records, and for
/// payers: an admin exports every organization's clients (`None`) or one organization's
/// (`Some`, a group); a case manager or supervisor their own organization's — the clients they
/// list — and knows of no other organization's group (not found); a payer the clients a
/// consent in force names it in (`None`: as it lists them), or those of them one organization
/// holds (a group), each in the payer's view. Anyone else is refused.
pub fn export_records(
    actor: &Actor,
    group: Option<crate::ids::OrgId>,
) -> Result<Option<crate::ids::OrgId>, DecisionError> {
    match actor.role {
        Role::Admin | Role::Payer => Ok(group),
        Role::CaseManager | Role::Supervisor => match group {
            Some(g) if g != actor.org => Err(DecisionError::NotFound {
                what: "group",
                id: g.to_string(),
            }),
            _ => Ok(Some(actor.org)),
        },
        _ => Err(DecisionError::Forbidden(
            "a bulk export is for admins, payers and the case managers and supervisors holding the records"
                .into(),
        )),
    }
}

/// Whose clients a coordination worklist covers: the bookings a planned handoff still needs,
/// follow-up checks due, no-shows and clients lost to care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoordinationScope {
    /// An admin: every organization's clients.
    Everyone,
    /// Case managers and supervisors: the clients their organization holds the records of.
    HeldBy(crate::ids::OrgId),
    /// An aftercare coordinator: the clients an active, unrevoked consent names its
    /// organization in (and its own organization's), seen in the coordinator's view; each
    /// read of another organization's client a disclosure.
    NamedIn(crate::ids::OrgId),
}

/// The coordination worklist is for those who book aftercare and MAT refills: aftercare
/// coordinators, and the case managers and supervisors holding the records (an admin reads
/// everyone's). Not partners: a provider answers referrals and arrivals, and says what became
/// of its own bookings.
pub fn read_coordination(actor: &Actor) -> Result<CoordinationScope, DecisionError> {
    match actor.role {
        Role::Admin => Ok(CoordinationScope::Everyone),
        Role::CaseManager | Role::Supervisor => Ok(CoordinationScope::HeldBy(actor.org)),
        Role::AftercareCoordinator => Ok(CoordinationScope::NamedIn(actor.org)),
        Role::Partner | Role::Payer | Role::System => Err(DecisionError::Forbidden(
            "the worklist is for aftercare coordinators and the case managers holding the \
             records"
                .into(),
        )),
    }
}

/// Whether `state` belongs on `actor`'s coordination worklist, in which view, and for
/// another organization the consent the read discloses under: standing as for any read
/// ([`read_access`]), in a view that shows the planned handoff and the bookings.
pub fn coordination_access(
    actor: &Actor,
    state: &ClientState,
    now: DateTime<Utc>,
) -> Result<(ClientView, Option<crate::ids::ConsentId>), DecisionError> {
    read_coordination(actor)?;
    let (view, consent) = read_access(actor, state, now)?;
    if !(view.shows(ClientPart::Handoff) && view.shows(ClientPart::Aftercare)) {
        return Err(DecisionError::not_found("client", state.id));
    }
    Ok((view, consent))
}

/// The organization a client is on its way to: the receiving provider of a handoff under way,
/// or of a transfer out — the one that confirms the arrival or reports the no-show.
pub fn receiving_org(state: &ClientState) -> Option<crate::ids::OrgId> {
    state
        .transit
        .as_ref()
        .map(|t| t.provider)
        .or_else(|| state.transfer.as_ref().map(|t| t.provider))
}

/// The arrivals list — clients on their way to a provider, for it to confirm or report
/// missing — is that provider's (its partners'): `Ok(its organization)`.
pub fn read_arrivals(actor: &Actor) -> Result<crate::ids::OrgId, DecisionError> {
    match actor.role {
        Role::Partner => Ok(actor.org),
        _ => Err(DecisionError::Forbidden(
            "arrivals are the receiving provider's".into(),
        )),
    }
}

/// Whether `state` is on `actor`'s arrivals list: on its way to the actor's organization,
/// and readable by it ([`read_access`]: under an active consent naming it — a provider a
/// client was moved to on a medical emergency got what the emergency needed with the move,
/// and reads nothing more); for another organization, the consent the read discloses under.
pub fn arrival_access(
    actor: &Actor,
    state: &ClientState,
    now: DateTime<Utc>,
) -> Result<(ClientView, Option<crate::ids::ConsentId>), DecisionError> {
    let org = read_arrivals(actor)?;
    if receiving_org(state) != Some(org) {
        return Err(DecisionError::not_found("client", state.id));
    }
    read_access(actor, state, now)
}

/// How much of a client a reader may see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientView {
    /// The record holder (case managers, supervisors, admins): everything.
    Full,
    /// A partner provider named in an active consent: the placement and its own referrals.
    Partner,
    /// An aftercare coordinator named in an active consent: what booking aftercare and MAT
    /// refills needs (level, planned handoff, MAT plan and bookings, appointments).
    Coordinator,
    /// A payer named in an active consent: the services it pays for (the level of care, the
    /// appointments, the MAT plan and bookings) — no referrals, consents, name or record
    /// number.
    Payer,
}

/// The parts of a client's record beyond its id, status and placement (which every reader
/// with standing sees).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientPart {
    BirthYear,
    Consents,
    Referrals,
    Assessments,
    MatPlan,
    MatBookings,
    Aftercare,
    Handoff,
    AllowedMoves,
    /// Who is responsible for the episode and what waits for them (escalations).
    CaseManagement,
    /// The display name and record number (an organization a consent names sees them, each
    /// read a disclosure).
    Identity,
    /// The record's past: earlier placements and episodes, the last discharge, the timeline
    /// of events (the record holder's).
    History,
    /// Each gate the next move and a planned discharge need, met or not (for those who act
    /// on them: the record holder and an aftercare coordinator).
    Readiness,
}

impl ClientPart {
    pub const ALL: [ClientPart; 13] = [
        ClientPart::BirthYear,
        ClientPart::Consents,
        ClientPart::Referrals,
        ClientPart::Assessments,
        ClientPart::MatPlan,
        ClientPart::MatBookings,
        ClientPart::Aftercare,
        ClientPart::Handoff,
        ClientPart::AllowedMoves,
        ClientPart::CaseManagement,
        ClientPart::Identity,
        ClientPart::History,
        ClientPart::Readiness,
    ];
}

impl ClientView {
    /// Minimum necessary: the parts of the record this view shows. A partner sees the
    /// referrals addressed to it ([`visible_referrals`]); a coordinator what booking aftercare
    /// and MAT continuity needs.
    pub fn shows(self, part: ClientPart) -> bool {
        use ClientPart::*;
        match self {
            ClientView::Full => true,
            ClientView::Partner => matches!(part, Referrals | Identity),
            ClientView::Coordinator => matches!(
                part,
                MatPlan | MatBookings | Aftercare | Handoff | Identity | Readiness
            ),
            ClientView::Payer => matches!(part, MatPlan | MatBookings | Aftercare),
        }
    }
}

/// The referrals of `state` a reader with `view` sees: every one for the record holder,
/// those addressed to the reader's organization for a partner, none otherwise.
pub fn visible_referrals<'a>(
    actor: &'a Actor,
    view: ClientView,
    state: &'a ClientState,
) -> impl Iterator<Item = &'a super::Referral> + 'a {
    state.referrals.iter().filter(move |r| match view {
        ClientView::Full => true,
        ClientView::Partner => r.provider == actor.org,
        ClientView::Coordinator | ClientView::Payer => false,
    })
}

/// Whether `actor` may read `state`, and how much; for another organization, the consent
/// under which the read is a disclosure.
pub fn read_access(
    actor: &Actor,
    state: &ClientState,
    now: DateTime<Utc>,
) -> Result<(ClientView, Option<crate::ids::ConsentId>), DecisionError> {
    match actor.role {
        Role::Admin | Role::System => Ok((ClientView::Full, None)),
        Role::CaseManager | Role::Supervisor if state.home_org == actor.org => {
            Ok((ClientView::Full, None))
        }
        // No standing: the same answer as for an id that does not exist.
        Role::CaseManager | Role::Supervisor => Err(DecisionError::not_found("client", state.id)),
        Role::Partner | Role::AftercareCoordinator | Role::Payer => {
            let view = match actor.role {
                Role::Partner => ClientView::Partner,
                Role::Payer => ClientView::Payer,
                _ => ClientView::Coordinator,
            };
            if state.home_org == actor.org {
                return Ok((view, None));
            }
            match state.active_consent_for(actor.org, now) {
                Some(c) => Ok((view, Some(c.id))),
                // No standing: the same answer as for an id that does not exist.
                None => Err(DecisionError::not_found("client", state.id)),
            }
        }
    }
}

/// How much of a referral a reader may see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReferralView {
    /// Everything, the client's id and the level included. `disclosure`: the consent under
    /// which the read discloses the client to another organization (`None`: no disclosure,
    /// or the reader is treating the client).
    Full {
        discloses: bool,
        consent: Option<crate::ids::ConsentId>,
    },
    /// The provider it was addressed to, after the consent naming it was revoked or expired:
    /// the referral's own id, status and dates, nothing about the client (no client id, no
    /// level).
    Withheld,
}

/// Whether `actor` may read `referral` of `state`, and how much. Anyone else is told it
/// does not exist.
pub fn referral_access(
    actor: &Actor,
    state: &ClientState,
    referral: &super::Referral,
    now: DateTime<Utc>,
) -> Result<ReferralView, DecisionError> {
    let not_found = || Err(DecisionError::not_found("referral", referral.id));
    let full = ReferralView::Full {
        discloses: false,
        consent: None,
    };
    match actor.role {
        Role::Admin => Ok(full),
        Role::CaseManager | Role::Supervisor if state.home_org == actor.org => Ok(full),
        Role::Partner if referral.provider == actor.org => {
            if state.is_inside(actor.org) {
                Ok(full)
            } else if let Some(c) = state.active_consent_for(actor.org, now) {
                Ok(ReferralView::Full {
                    discloses: true,
                    consent: Some(c.id),
                })
            } else {
                Ok(ReferralView::Withheld)
            }
        }
        _ => not_found(),
    }
}

/// Full access to a client's record: its event log, disclosures, readiness.
/// Without standing with the client ([`read_access`]) the client is not found, as an id that
/// does not exist; with some, but not the record holder's, the read is forbidden.
pub fn require_full(
    actor: &Actor,
    state: &ClientState,
    now: DateTime<Utc>,
) -> Result<(), DecisionError> {
    match read_access(actor, state, now)? {
        (ClientView::Full, _) => Ok(()),
        _ => Err(DecisionError::Forbidden(
            "only the organization holding the record may read this".into(),
        )),
    }
}

/// Whether a live subscriber may be sent an event: the record holder's every event, a
/// partner's the events of the referrals addressed to it, a coordinator's those of the parts
/// coordination takes (`audience::COORDINATION_PARTS`) — which part an event tells of being
/// the view's (`view::part_of`). `audience`: the organizations besides the
/// record holder the event goes to now ([`super::audience::audience`]).
pub fn may_see_event(
    actor: &Actor,
    event: &super::CareEvent,
    home_org: crate::ids::OrgId,
    audience: &[crate::ids::OrgId],
) -> bool {
    let reached = home_org == actor.org || audience.contains(&actor.org);
    match actor.role {
        Role::Admin => true,
        Role::CaseManager | Role::Supervisor => home_org == actor.org,
        Role::Partner => {
            super::view::part_of(&event.data) == ClientPart::Referrals
                && event.recipient_org == Some(actor.org)
                && audience.contains(&actor.org)
        }
        Role::AftercareCoordinator => reached && super::audience::is_coordination(&event.data),
        Role::Payer | Role::System => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inbound_message_books_as_a_coordinator_and_reports_as_a_partner() {
        use crate::command::OutcomeReport;
        use crate::ids::{BookingId, OrgId, ReferralId};
        use crate::state::{DeclineCode, DeclineReason, MatBookingKind};
        let org = OrgId::new();
        let referral = ReferralId::new();
        let acts_as = |c: Command| inbound_actor(org, &c).map(|a| (a.org, a.role));
        for c in [
            Command::AcknowledgeReferral { referral },
            Command::AcceptReferral { referral },
            Command::WaitlistReferral { referral },
            Command::DeclineReferral {
                referral,
                reason: DeclineReason {
                    code: DeclineCode::NoCapacity,
                    note: None,
                },
            },
            Command::RecordBookingOutcome {
                booking: BookingId::new(),
                outcome: OutcomeReport::NoShow,
                relayed_by: None,
            },
            Command::ConfirmArrival { relayed_by: None },
            Command::ReportNoShow { relayed_by: None },
        ] {
            assert_eq!(acts_as(c), Some((org, Role::Partner)));
        }
        assert_eq!(
            acts_as(Command::ScheduleMatRefill {
                provider: org,
                kind: MatBookingKind::Refill,
                on: chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            }),
            Some((org, Role::AftercareCoordinator))
        );
        assert_eq!(acts_as(Command::EndMatPlan), None);
    }

    #[test]
    fn a_bulk_export_covers_the_records_its_reader_holds() {
        use crate::ids::OrgId;
        let (own, other) = (OrgId::new(), OrgId::new());
        let as_ = |role| Actor::new(own, role);
        assert_eq!(export_records(&as_(Role::Admin), None), Ok(None));
        assert_eq!(
            export_records(&as_(Role::Admin), Some(other)),
            Ok(Some(other))
        );
        for role in [Role::CaseManager, Role::Supervisor] {
            assert_eq!(export_records(&as_(role), None), Ok(Some(own)));
            assert_eq!(export_records(&as_(role), Some(own)), Ok(Some(own)));
            assert!(matches!(
                export_records(&as_(role), Some(other)),
                Err(DecisionError::NotFound { .. })
            ));
        }
        assert_eq!(export_records(&as_(Role::Payer), None), Ok(None));
        assert_eq!(
            export_records(&as_(Role::Payer), Some(other)),
            Ok(Some(other))
        );
        for role in [Role::Partner, Role::AftercareCoordinator, Role::System] {
            assert!(matches!(
                export_records(&as_(role), None),
                Err(DecisionError::Forbidden(_))
            ));
        }
    }

    #[test]
    fn each_view_shows_only_its_parts() {
        use ClientPart::*;
        let all = ClientPart::ALL;
        let shown = |v: ClientView| {
            all.iter()
                .copied()
                .filter(|p| v.shows(*p))
                .collect::<Vec<_>>()
        };
        assert_eq!(shown(ClientView::Full), all);
        assert_eq!(shown(ClientView::Partner), [Referrals, Identity]);
        assert_eq!(
            shown(ClientView::Coordinator),
            [
                MatPlan,
                MatBookings,
                Aftercare,
                Handoff,
                Identity,
                Readiness
            ]
        );
        assert_eq!(shown(ClientView::Payer), [MatPlan, MatBookings, Aftercare]);
    }

    fn client(home: crate::ids::OrgId) -> ClientState {
        let mut s = crate::state::ClientState::new(
            crate::ids::ClientId(uuid::Uuid::from_u128(1)),
            home,
            None,
        );
        s.version = 1;
        s.last_seq = 1;
        s
    }

    fn consent(recipients: Vec<crate::ids::OrgId>, revoked: bool) -> crate::state::Consent {
        let now = chrono::DateTime::UNIX_EPOCH;
        crate::state::Consent {
            id: crate::ids::ConsentId(uuid::Uuid::from_u128(9)),
            recipients,
            purpose: "treatment".into(),
            information: "bookings".into(),
            expiry: crate::state::ConsentExpiry::Never,
            signed_on: now.date_naive(),
            recorded_at: now,
            episode: None,
            ends_at: None,
            revoked_at: revoked.then_some(now),
        }
    }

    #[test]
    fn a_coordinator_works_on_the_clients_a_consent_in_force_names_it_in() {
        let (home, hub, other) = (
            crate::ids::OrgId(uuid::Uuid::from_u128(1)),
            crate::ids::OrgId(uuid::Uuid::from_u128(2)),
            crate::ids::OrgId(uuid::Uuid::from_u128(3)),
        );
        let now = chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(1);
        let coordinator = Actor::new(hub, Role::AftercareCoordinator);
        assert_eq!(
            read_coordination(&coordinator),
            Ok(CoordinationScope::NamedIn(hub))
        );
        assert_eq!(
            read_coordination(&Actor::new(home, Role::CaseManager)),
            Ok(CoordinationScope::HeldBy(home))
        );
        assert_eq!(
            read_coordination(&Actor::new(home, Role::Admin)),
            Ok(CoordinationScope::Everyone)
        );
        for role in [Role::Partner, Role::System] {
            assert!(matches!(
                read_coordination(&Actor::new(home, role)),
                Err(DecisionError::Forbidden(_))
            ));
        }
        let mut s = client(home);
        // No consent, one naming another organization, one revoked: no standing at all.
        for consents in [
            vec![],
            vec![consent(vec![other], false)],
            vec![consent(vec![hub], true)],
        ] {
            s.consents = consents;
            assert!(matches!(
                coordination_access(&coordinator, &s, now),
                Err(DecisionError::NotFound { .. })
            ));
        }
        s.consents = vec![consent(vec![other, hub], false)];
        assert_eq!(
            coordination_access(&coordinator, &s, now),
            Ok((
                ClientView::Coordinator,
                Some(crate::ids::ConsentId(uuid::Uuid::from_u128(9)))
            ))
        );
        // A partner named in the same consent has no coordination worklist.
        assert!(matches!(
            coordination_access(&Actor::new(hub, Role::Partner), &s, now),
            Err(DecisionError::Forbidden(_))
        ));
        assert_eq!(
            coordination_access(&Actor::new(home, Role::CaseManager), &s, now),
            Ok((ClientView::Full, None))
        );
    }

    #[test]
    fn arrivals_are_the_receiving_providers_under_a_consent() {
        use crate::state::*;
        let (home, provider, other) = (
            crate::ids::OrgId(uuid::Uuid::from_u128(1)),
            crate::ids::OrgId(uuid::Uuid::from_u128(2)),
            crate::ids::OrgId(uuid::Uuid::from_u128(3)),
        );
        let now = chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(1);
        let partner = Actor::new(provider, Role::Partner);
        assert_eq!(read_arrivals(&partner), Ok(provider));
        for role in [Role::CaseManager, Role::AftercareCoordinator, Role::Admin] {
            assert!(matches!(
                read_arrivals(&Actor::new(home, role)),
                Err(DecisionError::Forbidden(_))
            ));
        }
        let mut s = client(home);
        s.consents = vec![consent(vec![provider, other], false)];
        // Not on its way anywhere.
        assert!(matches!(
            arrival_access(&partner, &s, now),
            Err(DecisionError::NotFound { .. })
        ));
        s.status = ClientStatus::Discharged;
        s.transfer = Some(PendingTransfer {
            provider,
            episode: crate::ids::EpisodeId(uuid::Uuid::from_u128(4)),
            departed_at: now,
            arrive_by: now,
            timer: "t".into(),
            missed: false,
        });
        assert_eq!(receiving_org(&s), Some(provider));
        assert!(arrival_access(&partner, &s, now).is_ok());
        // Another provider the consent names is not the one the client is on its way to.
        assert!(matches!(
            arrival_access(&Actor::new(other, Role::Partner), &s, now),
            Err(DecisionError::NotFound { .. })
        ));
        // Without a consent in force, nothing (an emergency move disclosed what it needed).
        s.consents = vec![consent(vec![provider], true)];
        assert!(matches!(
            arrival_access(&partner, &s, now),
            Err(DecisionError::NotFound { .. })
        ));
    }

    #[test]
    fn administration_is_for_admins_and_capacity_for_the_provider_too() {
        let org = crate::ids::OrgId(uuid::Uuid::from_u128(7));
        let other = crate::ids::OrgId(uuid::Uuid::from_u128(8));
        let as_ = |role| Actor::new(org, role);
        assert!(administer(&as_(Role::Admin), "links broker users").is_ok());
        for role in [
            Role::CaseManager,
            Role::Supervisor,
            Role::Partner,
            Role::AftercareCoordinator,
            Role::System,
        ] {
            assert!(matches!(
                administer(&as_(role), "registers organizations"),
                Err(DecisionError::Forbidden(m)) if m == "only an admin registers organizations"
            ));
        }
        assert!(set_capacity(&as_(Role::Admin), other).is_ok());
        assert!(set_capacity(&as_(Role::Partner), org).is_ok());
        assert!(set_capacity(&as_(Role::Partner), other).is_err());
        assert!(set_capacity(&as_(Role::CaseManager), org).is_err());
        assert!(set_mat_services(&as_(Role::Admin)).is_ok());
        for role in [Role::Partner, Role::AftercareCoordinator, Role::CaseManager] {
            assert!(matches!(
                set_mat_services(&as_(role)),
                Err(DecisionError::Forbidden(m))
                    if m == "only an admin sets the MAT services an organization provides"
            ));
        }
        assert!(speaks_for(org, org).is_ok());
        assert!(matches!(
            speaks_for(org, other),
            Err(DecisionError::Forbidden(_))
        ));
        assert!(advance_clock(&as_(Role::Admin)).is_ok());
        for role in [
            Role::CaseManager,
            Role::Supervisor,
            Role::Partner,
            Role::AftercareCoordinator,
            Role::System,
        ] {
            assert!(matches!(
                advance_clock(&as_(role)),
                Err(DecisionError::Forbidden(m)) if m == "only an admin moves the clock"
            ));
        }
    }
}
