//! How the console says things: organizations and levels by name, moments and dates as people
//! write them.

use crate::error::PageError;
use carepath_engine::Engine;
use carepath_engine::ids::OrgId;
use carepath_engine::pathway::{LevelId, Pathway};
use chrono::{DateTime, NaiveDate, Utc};
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

    /// `text` with each organization's id replaced by its name and other ids (referrals,
    /// consents) left out: the engine's explanations name things by id.
    pub fn in_words(&self, text: &str) -> String {
        text.split(' ')
            .filter_map(|w| {
                let bare = w.trim_matches(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
                if bare.is_empty() {
                    return Some(w.to_owned());
                }
                if let Ok(id) = uuid::Uuid::parse_str(bare) {
                    // An organization by its name; any other id (a referral's, a consent's)
                    // left out.
                    return self.orgs.get(&OrgId(id)).map(|name| w.replace(bare, name));
                }
                // A date as people write it.
                if let Ok(d) = NaiveDate::parse_from_str(bare, "%Y-%m-%d") {
                    return Some(w.replace(bare, &day(d)));
                }
                // A level by its name, not its id ("ambulatory_detox").
                Some(match self.pathway.level_by_str(bare) {
                    Some(l) => w.replace(bare, &l.name),
                    None => w.to_owned(),
                })
            })
            .collect::<Vec<_>>()
            .join(" ")
            .replace("organization ", "")
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

/// "Tue 1 Dec 2026, 14:05 UTC".
pub fn moment(t: DateTime<Utc>) -> String {
    t.format("%a %-d %b %Y, %H:%M UTC").to_string()
}

/// "Tue 1 Dec 2026".
pub fn day(d: NaiveDate) -> String {
    d.format("%a %-d %b %Y").to_string()
}

use carepath_engine::domain::{
    AftercareKind, ClientStatus, DeclineCode, LostReason, MatBookingKind, Medication,
    ReferralStatus,
};
use carepath_engine::pathway::{DischargeKind, Gate, TransitionKind};

pub fn status(s: ClientStatus) -> &'static str {
    match s {
        ClientStatus::Registered => "registered, not yet admitted",
        ClientStatus::Active => "in care",
        ClientStatus::InTransit => "on the way to the next provider",
        ClientStatus::Discharged => "discharged",
    }
}

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
        MatBookingKind::OtpDosing => "dosing at the OTP",
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
        LostReason::MissedArrival => "did not arrive at the next provider",
        LostReason::MissedAppointment => "missed an appointment and has nothing booked",
        LostReason::MatSupplyLapsed => "MAT supply ran out",
    }
}

pub fn decline(code: DeclineCode) -> &'static str {
    match code {
        DeclineCode::NoCapacity => "no capacity",
        DeclineCode::ClinicalCriteriaNotMet => "clinical criteria not met",
        DeclineCode::InsuranceNotAccepted => "insurance not accepted",
        DeclineCode::ClientDeclined => "the client declined",
        DeclineCode::MedicalNeedsExceedProgram => "medical needs exceed the program",
        DeclineCode::Other => "another reason",
    }
}
