//! The client page's forms as panels: the next steps the engine gives this reader
//! ([`Step`], in its order) first, each opening its form in place, then every other form the
//! reader's view has behind "More actions". Each form is on the page once, so a step's
//! anchor (`#send-referral`, `#book-aftercare`, …) is the form's, wherever it is.

use crate::words::{self, Names, cap, day, day_of};
use carepath_engine::domain::{ClientStatus, HandoffTarget, Step, VisibleClient};
use carepath_engine::pathway::{LevelId, TransitionKind};

/// A form of the client page, in a panel that opens in place.
pub struct Panel {
    /// The form's id: its anchor, and the `form` field it sends.
    pub id: &'static str,
    pub title: String,
    pub hint: Option<String>,
    /// Drawn open: the page's first step, or the form just refused.
    pub open: bool,
}

/// The form a step opens.
pub fn form_of(step: &Step) -> &'static str {
    match step {
        Step::RecordConsent { .. } => "record-consent",
        Step::RecordAssessment { .. } => "record-assessment",
        Step::DateMatPlan => "mat-plan",
        Step::Admit { .. } => "admit",
        Step::SendReferral { .. } => "send-referral",
        Step::BookAftercare { .. } => "book-aftercare",
        Step::BookMat { .. } => "book-refill",
        Step::PlanHandoff { .. } => "plan",
        Step::Move { .. } => "move",
        Step::Discharge { .. } => "discharge",
        Step::ConfirmArrival { .. } => "arrival",
        Step::ReportNoShow => "no-show",
    }
}

/// A step in words: what to do, and why now.
pub fn panel(names: &Names<'_>, client: &VisibleClient, step: &Step) -> Panel {
    let (title, hint) = match step {
        Step::RecordConsent { org: None } => (
            "Record a Part 2 consent".to_owned(),
            Some(
                "No consent is in force: nothing about this client can go to another \
                 organization (a referral, a booking) until one names it."
                    .to_owned(),
            ),
        ),
        Step::RecordConsent { org: Some(o) } => (
            format!("Record a consent naming {}", names.org(o)),
            Some(format!(
                "The move needs it: no consent in force names {}.",
                names.org(o)
            )),
        ),
        Step::RecordAssessment { level: None } => (
            "Record an assessment".to_owned(),
            Some("The ASAM assessment recommends the level of care to admit to.".to_owned()),
        ),
        Step::RecordAssessment { level: Some(l) } => (
            "Record a new assessment".to_owned(),
            Some(format!(
                "The move needs a recent assessment recommending {}.",
                names.level(l)
            )),
        ),
        Step::DateMatPlan => (
            "Date the MAT plan".to_owned(),
            Some(
                "Say through when the supply lasts (or when the last injection was), so the \
                 next dose can be counted from it."
                    .to_owned(),
            ),
        ),
        Step::Admit { level: Some(l) } => (
            format!("Admit to {}", names.level(l)),
            Some(format!(
                "The newest assessment recommends {}.",
                names.level(l)
            )),
        ),
        Step::Admit { level: None } => ("Admit".to_owned(), None),
        Step::SendReferral {
            to_level,
            elsewhere: true,
        } => (
            "Send a referral elsewhere".to_owned(),
            Some(format!(
                "The client did not arrive{}: refer them to another provider of {}.",
                client
                    .transit
                    .as_ref()
                    .map_or_else(String::new, |t| format!(" at {}", names.org(&t.provider))),
                names.level(to_level)
            )),
        ),
        Step::SendReferral { to_level, .. } => (
            format!("Send a referral to {}", names.level(to_level)),
            Some(
                match client
                    .case_management
                    .shown()
                    .and_then(|c| c.escalation.as_ref())
                {
                    Some(e) if &e.to_level == to_level => format!(
                        "Every referral to {} ran out on {}: send it to other providers.",
                        names.level(to_level),
                        day_of(e.since)
                    ),
                    _ => format!(
                        "The move needs a provider of {} to accept the client.",
                        names.level(to_level)
                    ),
                },
            ),
        ),
        Step::BookAftercare { from, through } => (
            "Book aftercare".to_owned(),
            Some(format!(
                "An appointment between {} and {}: the move needs one.",
                day(*from),
                day(*through)
            )),
        ),
        Step::BookMat { by } => (
            "Book the MAT refill or dose".to_owned(),
            Some(format!(
                "On or before {}, so the supply does not run out.",
                day(*by)
            )),
        ),
        Step::PlanHandoff { target } => (
            format!("Plan the {} for a day", names.target(target)),
            Some(
                "Nothing moves yet: coordinators are told, so they can book aftercare and \
                 refills for that day."
                    .to_owned(),
            ),
        ),
        Step::Move { kind, to_level } => (
            format!(
                "{} to {} now",
                cap(words::transition(*kind)),
                names.level(to_level)
            ),
            Some(
                "Every gate is met. The client leaves this level and is expected at the \
                 receiving provider, who confirms the arrival."
                    .to_owned(),
            ),
        ),
        Step::Discharge { kind: Some(k) } => (
            cap(words::discharge(*k)),
            Some("Every gate of the discharge is met.".to_owned()),
        ),
        Step::Discharge { kind: None } => (
            "Discharge".to_owned(),
            Some("If the client is not going on to care.".to_owned()),
        ),
        Step::ConfirmArrival { late: false } => (
            "Confirm the arrival".to_owned(),
            Some(
                "The receiving provider confirms it; record it here only as they reported it."
                    .to_owned(),
            ),
        ),
        Step::ConfirmArrival { late: true } => (
            "Record a late arrival".to_owned(),
            Some("The client turned up after all, as the provider reported.".to_owned()),
        ),
        Step::ReportNoShow => (
            "Report a no-show".to_owned(),
            Some("The client did not arrive, as the provider reported.".to_owned()),
        ),
    };
    Panel {
        id: form_of(step),
        title,
        hint,
        open: false,
    }
}

/// The title of a form when it is not one of the next steps (behind "More actions").
pub fn other(id: &'static str) -> Panel {
    let title = match id {
        "admit" => "Admit",
        "send-referral" => "Send a referral",
        "record-consent" => "Record a Part 2 consent",
        "plan" => "Plan a handoff for a day",
        "move" => "Move to another level now",
        "discharge" => "Discharge",
        "record-assessment" => "Record an assessment",
        "mat-plan" => "Record the MAT plan",
        "identity" => "Name and record number",
        "book-aftercare" => "Book aftercare",
        "book-refill" => "Book a MAT refill or dose",
        "arrival" => "Confirm the arrival",
        "no-show" => "Report a no-show",
        _ => id,
    };
    let hint = match id {
        "plan" => Some("Announces the move for a day; nothing moves yet."),
        "move" => Some("The client leaves now, once every gate is met."),
        _ => None,
    };
    Panel {
        id,
        title: title.to_owned(),
        hint: hint.map(str::to_owned),
        open: false,
    }
}

/// Where the client stands, in one sentence.
pub fn situation(names: &Names<'_>, client: &VisibleClient) -> String {
    let lost = client
        .lost_to_care()
        .map(|l| {
            format!(
                " Lost to care since {} ({}).",
                day_of(l.since),
                words::lost(l.reason)
            )
        })
        .unwrap_or_default();
    let planned = client
        .movement
        .shown()
        .and_then(|m| m.handoff.as_ref())
        .map(|h| {
            format!(
                " {} planned for {}.",
                cap(&names.target(&h.target)),
                day(h.on)
            )
        })
        .unwrap_or_default();
    let said = match (client.status, &client.placement, &client.transit) {
        (ClientStatus::Registered, _, _) => "Registered, not yet admitted.".to_owned(),
        (ClientStatus::Active, Some(p), _) => format!(
            "In {} at {} since {}.{planned}",
            names.level(&p.level),
            names.org(&p.provider),
            day_of(p.since)
        ),
        (ClientStatus::InTransit, _, Some(t)) if t.missed => format!(
            "Did not arrive at {} for {}: expected by {}.",
            names.org(&t.provider),
            names.level(&t.to_level),
            words::moment(t.arrive_by)
        ),
        (ClientStatus::InTransit, _, Some(t)) => format!(
            "On the way to {} at {}: expected by {}.",
            names.level(&t.to_level),
            names.org(&t.provider),
            words::moment(t.arrive_by)
        ),
        (ClientStatus::Discharged, _, _) => match client
            .history
            .shown()
            .and_then(|h| h.last_discharge.as_ref())
        {
            Some(d) => format!(
                "Discharged from {} on {} ({}).",
                names.level(&d.from_level),
                day_of(d.at),
                words::discharge(d.kind)
            ),
            None => "Discharged.".to_owned(),
        },
        (status, _, _) => format!("{}.", cap(words::status(status))),
    };
    format!("{said}{lost}")
}

/// What the page waits for when there is nothing for this reader to do: the providers'
/// answers to the referrals sent.
pub fn waiting(names: &Names<'_>, client: &VisibleClient) -> Option<String> {
    client.readiness.items().first().and_then(|c| {
        c.gates.iter().find_map(|g| match &g.reason {
            carepath_engine::domain::GateReason::NoReferralAccepted {
                to_level, pending, ..
            } if *pending > 0 => Some(format!(
                "Waiting for {} to answer the referral to {}.",
                if *pending == 1 {
                    "the provider".to_owned()
                } else {
                    format!("{pending} providers")
                },
                names.level(to_level)
            )),
            _ => None,
        })
    })
}

/// A transition as the move forms' options say it: `step_down:residential`.
pub fn move_option(kind: TransitionKind, to: &LevelId) -> String {
    format!("{}:{}", kind.as_str(), to.0)
}

/// The target a step to plan or move names, as the move forms' options say it.
pub fn move_value(step: &Step) -> Option<String> {
    match step {
        Step::PlanHandoff {
            target: HandoffTarget::Transition { kind, to_level, .. },
        }
        | Step::Move { kind, to_level } => Some(move_option(*kind, to_level)),
        Step::PlanHandoff {
            target: HandoffTarget::Discharge { kind, .. },
        } => Some(format!("discharge:{}", kind.as_str())),
        _ => None,
    }
}
