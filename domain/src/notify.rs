//! Who is told what, and when: the notices a decision's events raise for the people who must
//! act on them, when a notice no longer applies, and when silence escalates it. Pure: the
//! engine writes the notices in the decision's transaction and its delivery (the console's
//! notification center, e-mail, an organization's webhook) happens after, from those rows.
//!
//! A notice says *that* something needs a person and by when — never about whom beyond the
//! client's pseudonymous id kept with the row for the link: what a person then reads of the
//! client is the view their standing gives, at the door they open (42 CFR Part 2: saying that
//! someone is a client is itself a disclosure, so nothing sent out names one). It goes to an
//! organization's people in one role, or to one person, and only to an organization the
//! event itself goes to (the record holder, the organization it is addressed to, or one a
//! consent in force names, by [`crate::audience`]).

use crate::Role;
use crate::audience;
use crate::event::{CareEvent, EventData};
use crate::gates;
use crate::ids::{ClientId, NoticeId, OrgId, ReferralId, StaffId};
use crate::pathway::Pathway;
use crate::state::ClientState;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Timelike, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// What a notice tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NoticeKind {
    /// A partner's intake: a referral arrived.
    ReferralArrived,
    /// A partner's intake: a referral expires within the hour, still unanswered.
    ReferralExpiring,
    /// A partner's intake: a client is on the way, due by the arrival deadline.
    ClientOnTheWay,
    /// A partner's intake: a waitlisted referral was given a freed slot.
    WaitlistSlot,
    /// The episode's case manager: a referral group ran out.
    GroupEscalated,
    /// The episode's case manager: a client did not arrive where they were sent.
    ClientDidNotArrive,
    /// The episode's case manager: the client is lost to care.
    LostToCare,
    /// The episode's case manager: a follow-up check after discharge was missed.
    FollowupMissed,
    /// The episode's case manager: the MAT supply runs out tomorrow with nothing booked.
    MatLapsing,
    /// Aftercare coordinators a consent names: a planned discharge or move needs a booking.
    BookingNeeded,
    /// Aftercare coordinators a consent names: a booked appointment was missed.
    BookingMissed,
    /// The next person (supervisors): a notice nobody opened or acted on by its deadline.
    Unanswered,
    /// An organization's admins: its webhook failed too often and was turned off.
    WebhookDisabled,
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 13] = [
        NoticeKind::ReferralArrived,
        NoticeKind::ReferralExpiring,
        NoticeKind::ClientOnTheWay,
        NoticeKind::WaitlistSlot,
        NoticeKind::GroupEscalated,
        NoticeKind::ClientDidNotArrive,
        NoticeKind::LostToCare,
        NoticeKind::FollowupMissed,
        NoticeKind::MatLapsing,
        NoticeKind::BookingNeeded,
        NoticeKind::BookingMissed,
        NoticeKind::Unanswered,
        NoticeKind::WebhookDisabled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::ReferralArrived => "referral_arrived",
            NoticeKind::ReferralExpiring => "referral_expiring",
            NoticeKind::ClientOnTheWay => "client_on_the_way",
            NoticeKind::WaitlistSlot => "waitlist_slot",
            NoticeKind::GroupEscalated => "group_escalated",
            NoticeKind::ClientDidNotArrive => "client_did_not_arrive",
            NoticeKind::LostToCare => "lost_to_care",
            NoticeKind::FollowupMissed => "followup_missed",
            NoticeKind::MatLapsing => "mat_lapsing",
            NoticeKind::BookingNeeded => "booking_needed",
            NoticeKind::BookingMissed => "booking_missed",
            NoticeKind::Unanswered => "unanswered",
            NoticeKind::WebhookDisabled => "webhook_disabled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether a person may turn this kind off (e-mail) or an organization switch it off: an
    /// escalation and a disabled webhook always reach someone.
    pub fn may_be_silenced(self) -> bool {
        !matches!(self, NoticeKind::Unanswered | NoticeKind::WebhookDisabled)
    }

    /// The default silence deadline: how long a notice of this kind may stay unopened and
    /// unanswered before it escalates (`None`: it never does). A referral escalates after an
    /// eighth of its answer window (30 minutes of withdrawal management's 4 hours).
    fn default_escalation(self, answer_window: Option<Duration>) -> Option<Duration> {
        match self {
            NoticeKind::ReferralArrived => {
                answer_window.map(|w| (w / 8).max(Duration::minutes(15)))
            }
            NoticeKind::GroupEscalated | NoticeKind::ClientDidNotArrive => Some(Duration::hours(4)),
            NoticeKind::LostToCare | NoticeKind::BookingNeeded => Some(Duration::hours(24)),
            _ => None,
        }
    }
}

/// A kind's default silence deadline, as data for a page to say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultEscalation {
    Never,
    After(Duration),
    /// An eighth of the referral's answer window, at least 15 minutes.
    EighthOfAnswerWindow,
}

/// The default silence deadline of `kind`, said as data.
pub fn default_escalation_words(kind: NoticeKind) -> DefaultEscalation {
    match kind {
        NoticeKind::ReferralArrived => DefaultEscalation::EighthOfAnswerWindow,
        other => match other.default_escalation(None) {
            Some(d) => DefaultEscalation::After(d),
            None => DefaultEscalation::Never,
        },
    }
}

impl std::fmt::Display for NoticeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whom a notice goes to: one person, or every active person of an organization in a role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Who {
    Role(Role),
    Person(StaffId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Addressee {
    pub org: OrgId,
    pub who: Who,
}

impl Addressee {
    fn key(&self) -> String {
        match self.who {
            Who::Role(r) => format!("{}:{}", self.org, r.as_str()),
            Who::Person(s) => format!("{}:{}", self.org, s),
        }
    }

    /// Whether a person of `org` in `role` is among those this goes to.
    pub fn includes(&self, org: OrgId, role: Role, person: StaffId) -> bool {
        self.org == org
            && match self.who {
                Who::Role(r) => r == role,
                Who::Person(p) => p == person,
            }
    }
}

/// One notice: what, to whom, about which client (and referral), by when.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub id: NoticeId,
    pub kind: NoticeKind,
    pub to: Addressee,
    /// The client it is about (kept for the link and for what resolves it; never sent out).
    pub client: Option<ClientId>,
    pub referral: Option<ReferralId>,
    /// The moment that matters to the reader: when the referral expires, the client is due,
    /// the supply runs out.
    pub due: Option<DateTime<Utc>>,
    /// When it is told: at once (the decision's moment), or later after checking that it
    /// still [`applies`] (a referral about to expire, a supply about to run out).
    pub show_at: DateTime<Utc>,
    /// When nobody having opened it or acted on it escalates it ([`escalation`]).
    pub escalate_at: Option<DateTime<Utc>>,
    /// The notice this one escalates.
    pub escalates: Option<NoticeId>,
}

/// An organization's choice for one kind of notice: off, or escalating after its own silence
/// deadline. Kinds that may not be silenced ([`NoticeKind::may_be_silenced`]) ignore `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub off: bool,
    /// `Some(None)`: never escalates; `None`: the default.
    pub escalate_after: Option<Option<Duration>>,
}

/// The rules in force: the shipped defaults and each organization's own.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rules {
    pub own: BTreeMap<(OrgId, NoticeKind), Rule>,
}

impl Rules {
    fn off(&self, org: OrgId, kind: NoticeKind) -> bool {
        kind.may_be_silenced() && self.own.get(&(org, kind)).is_some_and(|r| r.off)
    }

    /// The silence deadline of `kind` at `org` (`answer_window`: a referral's).
    pub fn escalation(
        &self,
        org: OrgId,
        kind: NoticeKind,
        answer_window: Option<Duration>,
    ) -> Option<Duration> {
        match self.own.get(&(org, kind)).and_then(|r| r.escalate_after) {
            Some(own) => own,
            None => kind.default_escalation(answer_window),
        }
    }
}

/// What the notices of a decision are decided from.
pub struct Scene<'a> {
    pub state: &'a ClientState,
    pub pathway: &'a Pathway,
    pub rules: &'a Rules,
    /// Organizations that coordinate care (no level of care): aftercare coordinators.
    pub coordinating: &'a BTreeSet<OrgId>,
    pub now: DateTime<Utc>,
}

/// The notices `events` raise, the client as the decision leaves it (`scene.state`). Each
/// goes only where the event goes (the record holder, or an organization [`audience`] names),
/// so no notice tells an organization what its consent does not cover.
pub fn notices(events: &[CareEvent], scene: &Scene<'_>) -> Vec<Notice> {
    let mut out = Vec::new();
    for event in events {
        raise(event, scene, &mut out);
    }
    if events.iter().any(|e| touches_mat(&e.data)) {
        mat_watch(scene, &mut out);
    }
    let mut seen = BTreeSet::new();
    out.retain(|n| seen.insert(n.id) && !scene.rules.off(n.to.org, n.kind));
    out
}

/// The episode's case manager, or the record holder's supervisors when none is named.
fn case_manager(state: &ClientState, named: Option<StaffId>) -> Addressee {
    let named = named.or(state.episode.as_ref().and_then(|e| e.case_manager));
    Addressee {
        org: state.home_org,
        who: match named {
            Some(p) => Who::Person(p),
            None => Who::Role(Role::Supervisor),
        },
    }
}

fn raise(event: &CareEvent, scene: &Scene<'_>, out: &mut Vec<Notice>) {
    let state = scene.state;
    let now = scene.now;
    let goes_to = |org: OrgId| -> bool {
        org == state.home_org
            || audience::audience(event, state, now, scene.coordinating)
                .iter()
                .any(|r| r.org == org)
    };
    let mut tell = |kind: NoticeKind,
                    to: Addressee,
                    referral: Option<ReferralId>,
                    due: Option<DateTime<Utc>>,
                    show_at: DateTime<Utc>,
                    window: Option<Duration>| {
        if !goes_to(to.org) {
            return;
        }
        let escalate_at = scene
            .rules
            .escalation(to.org, kind, window)
            .map(|after| show_at + after);
        out.push(Notice {
            id: NoticeId::derive(event.id.0, &format!("{kind}:{}", to.key())),
            kind,
            to,
            client: Some(state.id),
            referral,
            due,
            show_at,
            escalate_at,
            escalates: None,
        });
    };
    let intake = |org| Addressee {
        org,
        who: Who::Role(Role::Partner),
    };
    match &event.data {
        EventData::ReferralSent {
            referral,
            provider,
            answer_by,
            ..
        } => {
            let window = *answer_by - now;
            tell(
                NoticeKind::ReferralArrived,
                intake(*provider),
                Some(*referral),
                Some(*answer_by),
                now,
                Some(window),
            );
            let hour_before = *answer_by - Duration::hours(1);
            if hour_before > now {
                tell(
                    NoticeKind::ReferralExpiring,
                    intake(*provider),
                    Some(*referral),
                    Some(*answer_by),
                    hour_before,
                    None,
                );
            }
        }
        EventData::ReferralAccepted {
            referral,
            provider,
            from_waitlist: true,
            hold_until,
            ..
        } => tell(
            NoticeKind::WaitlistSlot,
            intake(*provider),
            Some(*referral),
            *hold_until,
            now,
            None,
        ),
        EventData::HandoffStarted {
            to_provider,
            referral,
            arrive_by,
            ..
        } => tell(
            NoticeKind::ClientOnTheWay,
            intake(*to_provider),
            *referral,
            Some(*arrive_by),
            now,
            None,
        ),
        EventData::ReferralEscalated {
            case_manager: cm, ..
        } => tell(
            NoticeKind::GroupEscalated,
            case_manager(state, *cm),
            None,
            None,
            now,
            None,
        ),
        EventData::HandoffMissed {
            referral,
            arrive_by,
            ..
        } => tell(
            NoticeKind::ClientDidNotArrive,
            case_manager(state, None),
            *referral,
            Some(*arrive_by),
            now,
            None,
        ),
        EventData::ClientLostToCare { .. } => tell(
            NoticeKind::LostToCare,
            case_manager(state, None),
            None,
            None,
            now,
            None,
        ),
        EventData::FollowupMissed { .. } => tell(
            NoticeKind::FollowupMissed,
            case_manager(state, None),
            None,
            None,
            now,
            None,
        ),
        EventData::HandoffPlanned { on, .. }
            if !gates::bookings_needed(state, scene.pathway, now).is_empty() =>
        {
            let due = on.and_time(NaiveTime::MIN).and_utc();
            for org in coordinators(event, scene) {
                tell(
                    NoticeKind::BookingNeeded,
                    Addressee {
                        org,
                        who: Who::Role(Role::AftercareCoordinator),
                    },
                    None,
                    Some(due),
                    now,
                    None,
                );
            }
        }
        EventData::AftercareMissed { .. } | EventData::MatBookingMissed { .. } => {
            for org in coordinators(event, scene) {
                tell(
                    NoticeKind::BookingMissed,
                    Addressee {
                        org,
                        who: Who::Role(Role::AftercareCoordinator),
                    },
                    None,
                    None,
                    now,
                    None,
                );
            }
        }
        _ => {}
    }
}

/// The coordinating organizations `event` goes to (a consent in force names them).
fn coordinators(event: &CareEvent, scene: &Scene<'_>) -> Vec<OrgId> {
    audience::audience(event, scene.state, scene.now, scene.coordinating)
        .into_iter()
        .map(|r| r.org)
        .filter(|o| scene.coordinating.contains(o))
        .collect()
}

fn touches_mat(event: &EventData) -> bool {
    matches!(
        event,
        EventData::MatPlanRecorded { .. }
            | EventData::MatDoseDispensed { .. }
            | EventData::MatRefillPickedUp { .. }
            | EventData::MatVisitAttended { .. }
    )
}

/// The MAT supply's watch: on the last covered day (its start, UTC), the case manager is told
/// that it runs out tomorrow — if by then nothing has extended it ([`applies`]). One per
/// client and last day, whichever event armed it.
fn mat_watch(scene: &Scene<'_>, out: &mut Vec<Notice>) {
    let state = scene.state;
    let Some(through) = gates::mat_covered_through(state, scene.pathway) else {
        return;
    };
    let show_at = day_start(through);
    if show_at <= scene.now - Duration::days(1) {
        return;
    }
    let to = case_manager(state, None);
    out.push(Notice {
        id: NoticeId::derive(
            state.id.0,
            &format!("{}:{through}:{}", NoticeKind::MatLapsing, to.key()),
        ),
        kind: NoticeKind::MatLapsing,
        to,
        client: Some(state.id),
        referral: None,
        due: Some(day_start(through + Duration::days(1))),
        show_at: show_at.max(scene.now),
        escalate_at: None,
        escalates: None,
    });
}

fn day_start(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(NaiveTime::MIN).and_utc()
}

/// Whether a notice still calls for someone to act, the client as it is now: a notice told
/// later is told only if it does, and one that no longer does is resolved (nobody is asked to
/// act on what is done). Kinds with nothing in the record to undo them always apply; they are
/// resolved by being read.
pub fn applies(notice: &NoticeFacts, state: &ClientState, pathway: &Pathway) -> bool {
    match notice.kind {
        // Acknowledging a referral is acting on its arrival; it may still expire unanswered.
        NoticeKind::ReferralArrived => notice
            .referral
            .and_then(|r| state.referral(r))
            .is_some_and(|r| r.status == crate::state::ReferralStatus::Pending),
        NoticeKind::ReferralExpiring => notice
            .referral
            .and_then(|r| state.referral(r))
            .is_some_and(|r| r.status.awaits_answer()),
        NoticeKind::ClientOnTheWay => state.transit.is_some() || state.transfer.is_some(),
        NoticeKind::GroupEscalated => state.escalation.is_some(),
        NoticeKind::ClientDidNotArrive | NoticeKind::LostToCare => state.lost_to_care.is_some(),
        NoticeKind::MatLapsing => match (notice.due, gates::mat_covered_through(state, pathway)) {
            (Some(due), Some(through)) => day_start(through + Duration::days(1)) == due,
            _ => false,
        },
        NoticeKind::BookingNeeded => {
            !gates::bookings_needed(state, pathway, notice.show_at).is_empty()
        }
        NoticeKind::WaitlistSlot
        | NoticeKind::FollowupMissed
        | NoticeKind::BookingMissed
        | NoticeKind::Unanswered
        | NoticeKind::WebhookDisabled => true,
    }
}

/// What [`applies`] reads of a stored notice.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NoticeFacts {
    pub kind: NoticeKind,
    pub referral: Option<ReferralId>,
    pub due: Option<DateTime<Utc>>,
    pub show_at: DateTime<Utc>,
}

impl From<&Notice> for NoticeFacts {
    fn from(n: &Notice) -> Self {
        Self {
            kind: n.kind,
            referral: n.referral,
            due: n.due,
            show_at: n.show_at,
        }
    }
}

/// The kinds of a client's notices that `events` may have settled, for the engine to check
/// against [`applies`] (and resolve) in the same transaction.
pub fn may_settle(events: &[CareEvent]) -> BTreeSet<NoticeKind> {
    let mut kinds = BTreeSet::new();
    for e in events {
        kinds.extend(match &e.data {
            EventData::ReferralAcknowledged { .. }
            | EventData::ReferralAccepted { .. }
            | EventData::ReferralWaitlisted { .. }
            | EventData::ReferralDeclined { .. }
            | EventData::ReferralWithdrawn { .. }
            | EventData::ReferralExpired { .. } => {
                &[NoticeKind::ReferralArrived, NoticeKind::ReferralExpiring][..]
            }
            EventData::TransitionCompleted { .. }
            | EventData::TransferArrived { .. }
            | EventData::HandoffMissed { .. } => &[NoticeKind::ClientOnTheWay][..],
            EventData::ReferralSent { .. }
            | EventData::ClientAdmitted { .. }
            | EventData::DischargeCompleted { .. }
            | EventData::DischargeUnplanned { .. } => &[
                NoticeKind::GroupEscalated,
                NoticeKind::BookingNeeded,
                NoticeKind::ClientDidNotArrive,
                NoticeKind::LostToCare,
            ][..],
            EventData::ClientReengaged { .. } => {
                &[NoticeKind::ClientDidNotArrive, NoticeKind::LostToCare][..]
            }
            EventData::AftercareScheduled { .. }
            | EventData::MatRefillScheduled { .. }
            | EventData::HandoffReady { .. } => &[NoticeKind::BookingNeeded][..],
            EventData::MatPlanEnded
            | EventData::MatDoseDispensed { .. }
            | EventData::MatRefillPickedUp { .. }
            | EventData::MatVisitAttended { .. }
            | EventData::MatPlanRecorded { .. } => &[NoticeKind::MatLapsing][..],
            _ => &[][..],
        });
    }
    kinds
}

/// A kind of the client's notices (about one referral, or any) that no longer calls for
/// anyone to act: resolved in the decision's transaction, with the escalations of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Settled {
    pub kind: NoticeKind,
    pub referral: Option<ReferralId>,
}

/// What `events` settled, the client as the decision leaves it: each kind they
/// [`may_settle`] (about the referral the event names, if it names one) that no longer
/// [`applies`]. A MAT watch is checked at its own time instead.
pub fn settled(
    events: &[CareEvent],
    state: &ClientState,
    pathway: &Pathway,
    now: DateTime<Utc>,
) -> Vec<Settled> {
    let mut out = BTreeSet::new();
    for e in events {
        let referral = referral_of(&e.data);
        for kind in may_settle(std::slice::from_ref(e)) {
            if kind == NoticeKind::MatLapsing {
                continue;
            }
            let facts = NoticeFacts {
                kind,
                referral,
                due: None,
                show_at: now,
            };
            let about_referral = matches!(
                kind,
                NoticeKind::ReferralArrived | NoticeKind::ReferralExpiring
            );
            if about_referral && referral.is_none() {
                continue;
            }
            if !applies(&facts, state, pathway) {
                out.insert(Settled {
                    kind,
                    referral: referral.filter(|_| about_referral),
                });
            }
        }
    }
    out.into_iter().collect()
}

fn referral_of(e: &EventData) -> Option<ReferralId> {
    match e {
        EventData::ReferralSent { referral, .. }
        | EventData::ReferralAcknowledged { referral, .. }
        | EventData::ReferralAccepted { referral, .. }
        | EventData::ReferralWaitlisted { referral, .. }
        | EventData::ReferralDeclined { referral, .. }
        | EventData::ReferralWithdrawn { referral, .. }
        | EventData::ReferralExpired { referral, .. } => Some(*referral),
        _ => None,
    }
}

/// The escalation of a notice nobody opened or acted on by its deadline: to the supervisors
/// of the organization it went to (the delivery falls back to its admins when it has none),
/// at `now`, naming nothing the first did not.
pub fn escalation(of: &StoredNotice, now: DateTime<Utc>) -> Notice {
    let to = Addressee {
        org: of.to.org,
        who: Who::Role(Role::Supervisor),
    };
    Notice {
        id: NoticeId::derive(of.id.0, &format!("{}:{}", NoticeKind::Unanswered, to.key())),
        kind: NoticeKind::Unanswered,
        to,
        client: of.client,
        referral: of.referral,
        due: of.due,
        show_at: now,
        escalate_at: None,
        escalates: Some(of.id),
    }
}

/// What [`escalation`] reads of the notice it escalates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StoredNotice {
    pub id: NoticeId,
    pub kind: NoticeKind,
    pub to: Addressee,
    pub client: Option<ClientId>,
    pub referral: Option<ReferralId>,
    pub due: Option<DateTime<Utc>>,
}

/// The notice to an organization's admins that its webhook was turned off after failing.
pub fn webhook_disabled(org: OrgId, webhook: uuid::Uuid, now: DateTime<Utc>) -> Notice {
    let to = Addressee {
        org,
        who: Who::Role(Role::Admin),
    };
    Notice {
        id: NoticeId::derive(
            webhook,
            &format!(
                "{}:{}:{}",
                NoticeKind::WebhookDisabled,
                now.timestamp(),
                to.key()
            ),
        ),
        kind: NoticeKind::WebhookDisabled,
        to,
        client: None,
        referral: None,
        due: None,
        show_at: now,
        escalate_at: None,
        escalates: None,
    }
}

/// How a person takes e-mail of one kind of notice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EmailMode {
    #[default]
    Immediate,
    /// Gathered into one message on the hour.
    Hourly,
    Off,
}

impl EmailMode {
    pub const ALL: [EmailMode; 3] = [EmailMode::Immediate, EmailMode::Hourly, EmailMode::Off];

    pub fn as_str(self) -> &'static str {
        match self {
            EmailMode::Immediate => "immediate",
            EmailMode::Hourly => "hourly",
            EmailMode::Off => "off",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// A person's quiet hours (UTC, whole hours): e-mail waits until they end — except an
/// escalation, which never waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuietHours {
    pub from_hour: u32,
    pub to_hour: u32,
}

impl QuietHours {
    fn covers(&self, hour: u32) -> bool {
        if self.from_hour <= self.to_hour {
            (self.from_hour..self.to_hour).contains(&hour)
        } else {
            hour >= self.from_hour || hour < self.to_hour
        }
    }
}

/// When an e-mail of a `kind` notice told at `now` goes to a person: `None` when they take
/// none of that kind; the top of the next hour for an hourly digest; the end of their quiet
/// hours when now is inside them. An escalation (a kind that may not be silenced) goes at
/// once, whatever the person chose.
pub fn email_at(
    kind: NoticeKind,
    mode: EmailMode,
    quiet: Option<QuietHours>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if !kind.may_be_silenced() {
        return Some(now);
    }
    let mut at = match mode {
        EmailMode::Off => return None,
        EmailMode::Immediate => now,
        EmailMode::Hourly => next_hour(now),
    };
    if let Some(q) = quiet {
        for _ in 0..24 {
            if !q.covers(at.hour()) {
                break;
            }
            at = next_hour(at);
        }
    }
    Some(at)
}

fn next_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    let top = t
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(t);
    top + Duration::hours(1)
}
