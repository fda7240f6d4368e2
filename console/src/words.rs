//! The console's vocabulary: how it says things. Organizations and levels by name, moments and
//! dates as people write them, durations against now, a client as a person reads them (by
//! name where the engine shows it, never by id), and the words for the engine's codes
//! (statuses, reasons, kinds of booking, moves, gates) with the form values of those a form
//! chooses from. One word for each code: every page says it the same way.

use crate::error::PageError;
use carepath_engine::Engine;
use carepath_engine::domain::GateReason;
use carepath_engine::domain::{
    AftercareKind, Attendance, ClientIdentity, ClientStatus, DeclineCode, EmailMode, LostReason,
    MatBookingKind, MatService, Medication, NoticeKind, ReferralStatus, VisibleClient,
};
use carepath_engine::ids::{ClientId, OrgId};
use carepath_engine::pathway::{DischargeKind, Gate, LevelId, Pathway, TransitionKind};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use std::collections::HashMap;

/// Names of the organizations a page mentions, and the pathway's level names.
pub struct Names<'a> {
    orgs: HashMap<OrgId, String>,
    pathway: &'a Pathway,
}

impl<'a> Names<'a> {
    /// The names of `orgs` (and the pathway's levels).
    pub async fn of(
        engine: &'a Engine,
        orgs: impl IntoIterator<Item = OrgId>,
    ) -> Result<Self, PageError> {
        let ids: Vec<OrgId> = orgs.into_iter().collect();
        Ok(Names {
            orgs: engine.org_names(&ids).await?,
            pathway: engine.pathway(),
        })
    }

    /// Names from the directory already read.
    pub fn from(engine: &'a Engine, directory: &[carepath_engine::OrgListing]) -> Self {
        Names {
            orgs: directory.iter().map(|o| (o.id, o.name.clone())).collect(),
            pathway: engine.pathway(),
        }
    }

    pub fn org(&self, id: &OrgId) -> String {
        self.orgs
            .get(id)
            .cloned()
            .unwrap_or_else(|| "an organization no longer registered".into())
    }

    pub fn level(&self, id: &LevelId) -> String {
        level_name(self.pathway, id)
    }

    /// Why a gate stands as it does, in words: organizations and levels by name, dates as
    /// people write them, no ids.
    pub fn gate_reason(&self, reason: &GateReason) -> String {
        use GateReason as R;
        match reason {
            R::NoTargetLevel => "no target level".into(),
            R::SameProviderSameLevel => "same provider, same level: no referral needed".into(),
            R::ReferralAccepted { provider, .. } => {
                format!("referral accepted by {}", self.org(provider))
            }
            R::NoReferralAccepted {
                to_level,
                provider,
                pending,
            } => format!(
                "no referral to {} accepted{} ({pending} pending)",
                self.level(to_level),
                provider.map_or_else(String::new, |p| format!(" by {}", self.org(&p)))
            ),
            R::NoReceivingOrganization => {
                "no other organization receives the client in this move.".into()
            }
            R::HoldsTheRecord { org } => {
                format!("no disclosure: {} already holds the record", self.org(org))
            }
            R::ConsentNames { org, .. } => format!("consent names {}", self.org(org)),
            R::NoConsentNames { org } => {
                format!("no active 42 CFR Part 2 consent names {}", self.org(org))
            }
            R::AftercareBooked { on, .. } => format!("appointment booked on {}", day(*on)),
            R::NoAftercareBetween { from, through } => format!(
                "no aftercare appointment booked between {} and {}",
                day(*from),
                day(*through)
            ),
            R::NoMatPlan => "no active MAT plan".into(),
            R::MatPlanUndated => "the MAT plan has no supply or injection date".into(),
            R::MatCovered {
                medication,
                through,
                next,
                on,
            } => format!(
                "{} covered through {}; next {} booked on {}",
                self::medication(*medication),
                day(*through),
                mat_booking(*next),
                day(*on)
            ),
            R::MatNoMargin {
                medication,
                through,
                next_on,
                book_by,
            } => format!(
                "{} covered through {}; next booking on {} leaves no margin: book it on or before {}",
                self::medication(*medication),
                day(*through),
                day(*next_on),
                day(*book_by)
            ),
            R::MatGap {
                medication,
                through,
                next_on,
                gap_days,
            } => format!(
                "{} covered through {}; next booking on {} leaves {gap_days} gap day{}",
                self::medication(*medication),
                day(*through),
                day(*next_on),
                if *gap_days == 1 { "" } else { "s" }
            ),
            R::MatNothingBooked {
                medication,
                through,
                book_by,
            } => format!(
                "{} covered through {}; nothing booked on or before {}",
                self::medication(*medication),
                day(*through),
                day(*book_by)
            ),
            R::Assessed { on, level, .. } => format!(
                "assessment on {} recommends {}",
                day(*on),
                self.level(level)
            ),
            R::NoRecentAssessment {
                max_age_days,
                level,
            } => format!(
                "no assessment in the last {max_age_days} days recommends {}",
                self.level(level)
            ),
        }
    }

    /// Where a handoff takes the client: "step down to Residential treatment at Cedar House",
    /// "planned discharge".
    pub fn target(&self, t: &carepath_engine::domain::HandoffTarget) -> String {
        use carepath_engine::domain::HandoffTarget as T;
        match t {
            T::Transition {
                kind,
                to_level,
                provider,
            } => format!(
                "{} to {}{}",
                transition(*kind),
                self.level(to_level),
                provider.map_or_else(String::new, |p| format!(" at {}", self.org(&p)))
            ),
            T::Discharge { kind, provider } => format!(
                "{}{}",
                discharge(*kind),
                provider.map_or_else(String::new, |p| format!(" to {}", self.org(&p)))
            ),
        }
    }

    pub fn pathway(&self) -> &'a Pathway {
        self.pathway
    }
}

/// `text` (an engine's refusal) with the organizations it names by id named by name.
pub async fn name_orgs(engine: &Engine, text: &str) -> String {
    let ids: Vec<OrgId> = text
        .split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
        .filter_map(|w| uuid::Uuid::parse_str(w).ok())
        .map(OrgId)
        .collect();
    if ids.is_empty() {
        return text.to_owned();
    }
    match engine.org_names(&ids).await {
        Ok(names) => {
            let mut out = text.to_owned();
            for (id, name) in names {
                out = out.replace(&id.to_string(), &name);
            }
            out.replace("organization(s) ", "")
                .replace("organization ", "")
        }
        Err(_) => text.to_owned(),
    }
}

pub fn level_name(pathway: &Pathway, id: &LevelId) -> String {
    pathway
        .level(id)
        .map_or_else(|| id.0.clone(), |l| l.name.clone())
}

/// `s` with its first letter capitalised.
pub fn cap(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

tokio::task_local! {
    /// The time zone of the person a page is drawn for: their organization's
    /// (`Engine::org_time_zone`), set for each request by [`crate::session::in_the_readers_zone`].
    static ZONE: Tz;
}

/// The time zone the page being drawn shows and reads times in (UTC outside a request, or for
/// a visitor not signed in).
pub fn zone() -> Tz {
    ZONE.try_with(|z| *z).unwrap_or(Tz::UTC)
}

/// Run `f` with `tz` as the zone its pages show and read times in.
pub async fn in_zone<F: std::future::Future>(tz: Tz, f: F) -> F::Output {
    ZONE.scope(tz, f).await
}

/// "Tue 1 Dec 2026, 09:05 EST": in the reader's zone, named.
pub fn moment(t: DateTime<Utc>) -> String {
    t.with_timezone(&zone())
        .format("%a %-d %b %Y, %H:%M %Z")
        .to_string()
}

/// "09:05 EST": the time of day in the reader's zone, named.
pub fn time_of_day(t: DateTime<Utc>) -> String {
    t.with_timezone(&zone()).format("%H:%M %Z").to_string()
}

/// The day `t` falls on in the reader's zone.
pub fn local_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&zone()).date_naive()
}

/// "Tue 1 Dec 2026": the day `t` falls on in the reader's zone.
pub fn day_of(t: DateTime<Utc>) -> String {
    day(local_date(t))
}

/// A date and time a person typed (`datetime-local`), read in the reader's zone. `None` for a
/// time the zone skips (the clocks move forward); of a time it has twice (they move back), the
/// first.
pub fn from_local(t: chrono::NaiveDateTime) -> Option<DateTime<Utc>> {
    use chrono::TimeZone;
    zone()
        .from_local_datetime(&t)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// "Tue 1 Dec 2026".
pub fn day(d: NaiveDate) -> String {
    d.format("%a %-d %b %Y").to_string()
}

pub fn status(s: ClientStatus) -> &'static str {
    match s {
        ClientStatus::Registered => "registered, not yet admitted",
        ClientStatus::Active => "in care",
        ClientStatus::InTransit => "on the way to the next provider",
        ClientStatus::Discharged => "discharged",
    }
}

/// A referral's status as the record holder reads it (the client's page).
pub fn referral_status(s: ReferralStatus) -> &'static str {
    match s {
        ReferralStatus::Pending => "waiting for an answer",
        ReferralStatus::Acknowledged => "seen, not yet answered",
        ReferralStatus::Waitlisted => "on the waitlist",
        ReferralStatus::Accepted => "accepted, slot held",
        ReferralStatus::Scheduled => "client on the way",
        ReferralStatus::Declined => "declined",
        ReferralStatus::Withdrawn => "withdrawn",
        ReferralStatus::Completed => "completed: the client arrived",
        ReferralStatus::Expired => "expired unanswered",
        ReferralStatus::NoShow => "the client did not arrive",
    }
}

/// A referral's status said to the provider it is addressed to (its inbox).
pub fn referral_status_to_provider(s: ReferralStatus) -> &'static str {
    match s {
        ReferralStatus::Pending => "New: waiting for your answer",
        ReferralStatus::Acknowledged => "Seen: waiting for your answer",
        ReferralStatus::Waitlisted => "On your waitlist",
        ReferralStatus::Accepted => "Accepted: a slot is held",
        ReferralStatus::Scheduled => "On the way to you",
        ReferralStatus::Declined => "Declined",
        ReferralStatus::Withdrawn => "Withdrawn",
        ReferralStatus::Expired => "Expired",
        ReferralStatus::Completed => "Arrived",
        ReferralStatus::NoShow => "Did not arrive",
    }
}

pub fn transition(k: TransitionKind) -> &'static str {
    match k {
        TransitionKind::StepDown => "step down",
        TransitionKind::StepUp => "step up",
        TransitionKind::Lateral => "lateral move",
        TransitionKind::Readmission => "readmission",
    }
}

pub fn discharge(k: DischargeKind) -> &'static str {
    match k {
        DischargeKind::Planned => "planned discharge",
        DischargeKind::AgainstMedicalAdvice => "left against medical advice",
        DischargeKind::Administrative => "administrative discharge",
        DischargeKind::TransferOut => "transfer to another organization",
    }
}

pub fn gate(g: Gate) -> &'static str {
    match g {
        Gate::AcceptedReferral => "A provider accepted a referral",
        Gate::Consent => "A Part 2 consent names the receiving organization",
        Gate::AftercareAppointment => "An aftercare appointment is booked",
        Gate::MatContinuity => "The next MAT dose or refill is booked before the supply runs out",
        Gate::Reassessment => "A recent assessment recommends this level",
    }
}

/// A gate by its short name ("MAT continuity: …" on the worklist).
pub fn gate_name(g: Gate) -> &'static str {
    match g {
        Gate::AftercareAppointment => "Aftercare appointment",
        Gate::MatContinuity => "MAT continuity",
        Gate::AcceptedReferral => "Accepted referral",
        Gate::Consent => "Consent",
        Gate::Reassessment => "Reassessment",
    }
}

pub fn medication(m: Medication) -> &'static str {
    match m {
        Medication::Buprenorphine => "buprenorphine",
        Medication::Methadone => "methadone",
        Medication::NaltrexoneOral => "oral naltrexone",
        Medication::NaltrexoneXr => "extended-release naltrexone",
    }
}

pub fn mat_booking(k: MatBookingKind) -> &'static str {
    match k {
        MatBookingKind::Refill => "refill",
        MatBookingKind::PrescriberVisit => "prescriber visit",
        MatBookingKind::OtpDosing => "OTP dosing",
        MatBookingKind::Injection => "injection",
    }
}

pub fn aftercare(k: AftercareKind) -> &'static str {
    match k {
        AftercareKind::Outpatient => "outpatient visit",
        AftercareKind::Prescriber => "prescriber visit",
        AftercareKind::Counseling => "counseling",
        AftercareKind::PeerRecovery => "peer recovery support",
        AftercareKind::PrimaryCare => "primary care",
    }
}

pub fn lost(r: LostReason) -> &'static str {
    match r {
        LostReason::MissedArrival => "never arrived where a handoff took them",
        LostReason::MissedAppointment => "missed an appointment, nothing booked since",
        LostReason::MatSupplyLapsed => "MAT supply ran out with nothing dispensed",
    }
}

pub fn decline(code: DeclineCode) -> &'static str {
    match code {
        DeclineCode::NoCapacity => "no open slot",
        DeclineCode::ClinicalCriteriaNotMet => "clinical criteria not met",
        DeclineCode::InsuranceNotAccepted => "insurance not accepted",
        DeclineCode::ClientDeclined => "the client declined",
        DeclineCode::MedicalNeedsExceedProgram => "medical needs beyond the program",
        DeclineCode::Other => "another reason",
    }
}

pub fn attendance(a: Attendance) -> &'static str {
    match a {
        Attendance::Attended => "kept",
        Attendance::NoShow => "missed",
        Attendance::Cancelled => "cancelled",
    }
}

/// What an organization providing MAT does.
pub fn mat_service(s: MatService) -> &'static str {
    match s {
        MatService::Otp => "opioid treatment program",
        MatService::Prescriber => "prescriber",
        MatService::Pharmacy => "pharmacy",
        MatService::Injection => "injections",
    }
}

// ---- form values: the codes a form chooses from, each by the value it posts ----------------

/// Each decline reason with its form value (the denial log of 105 CMR 164.070; its words:
/// [`decline`]).
pub const DECLINE_REASONS: [(DeclineCode, &str); 6] = [
    (DeclineCode::NoCapacity, "no_capacity"),
    (
        DeclineCode::ClinicalCriteriaNotMet,
        "clinical_criteria_not_met",
    ),
    (DeclineCode::InsuranceNotAccepted, "insurance_not_accepted"),
    (DeclineCode::ClientDeclined, "client_declined"),
    (
        DeclineCode::MedicalNeedsExceedProgram,
        "medical_needs_exceed_program",
    ),
    (DeclineCode::Other, "other"),
];

/// A decline reason by its form value (also the value the measures report writes for it).
pub fn decline_code(value: &str) -> Option<DeclineCode> {
    DECLINE_REASONS
        .iter()
        .find(|(_, v)| *v == value)
        .map(|(c, _)| *c)
}

/// Each kind of aftercare appointment with its form value (its words: [`aftercare`]).
pub const AFTERCARE_KINDS: [(AftercareKind, &str); 5] = [
    (AftercareKind::Outpatient, "outpatient"),
    (AftercareKind::Prescriber, "prescriber"),
    (AftercareKind::Counseling, "counseling"),
    (AftercareKind::PeerRecovery, "peer_recovery"),
    (AftercareKind::PrimaryCare, "primary_care"),
];

pub fn aftercare_kind(value: &str) -> Option<AftercareKind> {
    AFTERCARE_KINDS
        .iter()
        .find(|(_, v)| *v == value)
        .map(|(k, _)| *k)
}

/// Each kind of MAT booking (its form value: `as_str`; its words: [`mat_booking`]).
pub const MAT_KINDS: [MatBookingKind; 4] = [
    MatBookingKind::Refill,
    MatBookingKind::PrescriberVisit,
    MatBookingKind::OtpDosing,
    MatBookingKind::Injection,
];

pub fn mat_kind(value: &str) -> Option<MatBookingKind> {
    MAT_KINDS.into_iter().find(|k| k.as_str() == value)
}

// ---- time against now, and clients ---------------------------------------------------------

/// "in 3 hours", "2 days ago", "now".
pub fn from_now(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let d = t - now;
    let (ahead, d) = if d >= chrono::Duration::zero() {
        (true, d)
    } else {
        (false, -d)
    };
    let span = if d.num_days() >= 2 {
        format!("{} days", d.num_days())
    } else if d.num_hours() >= 2 {
        format!("{} hours", d.num_hours())
    } else if d.num_minutes() >= 2 {
        format!("{} minutes", d.num_minutes())
    } else {
        return "now".into();
    };
    if ahead {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

/// How a person reads a client: the name the organization recorded (and its record number),
/// or, with none recorded or shown, a short reference to tell clients apart.
pub fn client_label(id: ClientId, identity: Option<&ClientIdentity>) -> String {
    match identity {
        Some(i) => match &i.record_number {
            Some(n) => format!("{} ({n})", i.display_name),
            None => i.display_name.clone(),
        },
        None => format!("Unnamed client, ref. {}", short_ref(id)),
    }
}

/// The first eight hex digits of a client's id: what a person can say on the phone.
pub fn short_ref(id: ClientId) -> String {
    id.0.simple().to_string()[..8].to_owned()
}

/// `client_label` of a client as its reader sees it: its name where the view shows it.
pub fn label_of(client: &VisibleClient) -> String {
    client_label(client.id, client.identity.shown().and_then(Option::as_ref))
}

/// Where a client is now, in words.
pub fn whereabouts(names: &Names<'_>, s: &VisibleClient) -> String {
    match (&s.placement, &s.transit) {
        (Some(p), _) => format!("{} at {}", names.level(&p.level), names.org(&p.provider)),
        (None, Some(t)) => format!(
            "on the way to {} at {}",
            names.level(&t.to_level),
            names.org(&t.provider)
        ),
        (None, None) => match s.status.as_str() {
            "discharged" => "discharged".into(),
            _ => "not admitted".into(),
        },
    }
}

// ---- notices --------------------------------------------------------------------------------

/// What a notice tells, as the headline of its line in the notification center (nothing about
/// the client: the page it links to says who, to whoever may read it).
pub fn notice(kind: NoticeKind) -> &'static str {
    match kind {
        NoticeKind::ReferralArrived => "New referral",
        NoticeKind::ReferralExpiring => "Referral expires within the hour",
        NoticeKind::ClientOnTheWay => "Client on the way",
        NoticeKind::WaitlistSlot => "Waitlisted referral given a slot",
        NoticeKind::GroupEscalated => "Referral group ran out",
        NoticeKind::ClientDidNotArrive => "Client did not arrive",
        NoticeKind::LostToCare => "Client lost to care",
        NoticeKind::FollowupMissed => "Follow-up missed",
        NoticeKind::MatLapsing => "MAT supply runs out tomorrow",
        NoticeKind::BookingNeeded => "Booking needed",
        NoticeKind::BookingMissed => "Booking missed",
        NoticeKind::Unanswered => "Unanswered notice passed to you",
        NoticeKind::WebhookDisabled => "Webhook turned off",
    }
}

/// What a notice's moment is, before it: "expires", "expected by" ….
pub fn notice_due(kind: NoticeKind) -> &'static str {
    match kind {
        NoticeKind::ReferralArrived
        | NoticeKind::ReferralExpiring
        | NoticeKind::WaitlistSlot
        | NoticeKind::GroupEscalated => "expires",
        NoticeKind::ClientOnTheWay | NoticeKind::ClientDidNotArrive => "expected by",
        NoticeKind::MatLapsing => "supply runs out",
        NoticeKind::BookingNeeded => "needed by",
        NoticeKind::BookingMissed => "was due",
        NoticeKind::LostToCare
        | NoticeKind::FollowupMissed
        | NoticeKind::Unanswered
        | NoticeKind::WebhookDisabled => "due",
    }
}

/// How a person takes e-mail of a kind of notice, in words.
pub fn email_mode(mode: EmailMode) -> &'static str {
    match mode {
        EmailMode::Immediate => "At once",
        EmailMode::Hourly => "In an hourly digest",
        EmailMode::Off => "No e-mail",
    }
}
