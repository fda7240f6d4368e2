//! The forms of a client's page, each read into the engine command the API would run
//! (`action::run`); a refused one is drawn again on the page, what was typed kept
//! (`crate::refusal`).

use crate::action::{Fields, bad_field};
use crate::error::PageError;
use carepath_engine::domain::{Command, ConsentExpiry, GateOverride, HandoffTarget, Medication};
use carepath_engine::ids::{ClientId, ConsentId, ReferralId};
use carepath_engine::pathway::{DischargeKind, Gate, LevelId, TransitionKind};

form_route!(send_referral(id, uuid::Uuid) => Some(ClientId(id)), "referral-sent", |f| {
    let providers = f.orgs("provider", "a provider")?;
    if providers.is_empty() {
        return Err(bad_field("provider", "choose at least one provider".into()));
    }
    Ok(Command::SendReferral {
        to_level: f.level("to_level")?,
        providers,
    })
});

form_route!(record_consent(id, uuid::Uuid) => Some(ClientId(id)), "consent-recorded", |f| {
    let recipients = f.orgs("recipient", "a recipient")?;
    if recipients.is_empty() {
        return Err(bad_field(
            "recipient",
            "name at least one organization the consent allows to receive the record".into(),
        ));
    }
    let expiry = match f.required("expiry", "when the consent ends")? {
        "end_of_treatment" => ConsentExpiry::EndOfTreatment,
        "never" => ConsentExpiry::Never,
        "on" => ConsentExpiry::On(f.date("expires_on", "the day the consent ends")?),
        _ => return Err(bad_field("expiry", "choose when the consent ends".into())),
    };
    Ok(Command::RecordConsent {
        recipients,
        purpose: f.required("purpose", "the purpose")?.to_owned(),
        information: f
            .required("information", "what may be disclosed")?
            .to_owned(),
        expiry,
        signed_on: f.date("signed_on", "the day it was signed")?,
    })
});

form_route!(plan_handoff(id, uuid::Uuid) => Some(ClientId(id)), "handoff-planned", |f| {
    Ok(Command::PlanHandoff {
        target: target_field(f)?,
        on: f.date("on", "the day of the handoff")?,
    })
});

form_route!(move_client(id, uuid::Uuid) => Some(ClientId(id)), "moved", |f| {
    let (kind, to_level) = transition_field(f)?;
    Ok(Command::Transition {
        kind,
        to_level,
        provider: None,
        planned_hours_per_week: f.number("hours", "planned hours a week")?,
        track: f.get("track").map(str::to_owned),
        overrides: overrides(f)?,
        emergency: None,
    })
});

form_route!(discharge(id, uuid::Uuid) => Some(ClientId(id)), "discharged", |f| {
    let kind = DischargeKind::parse(f.required("kind", "the kind of discharge")?)
        .ok_or_else(|| bad_field("kind", "choose the kind of discharge".into()))?;
    Ok(Command::Discharge {
        kind,
        provider: match f.get("provider") {
            Some(_) => Some(f.org("provider", "the receiving organization")?),
            None => None,
        },
        overrides: overrides(f)?,
    })
});

form_route!(admit(id, uuid::Uuid) => Some(ClientId(id)), "admitted", |f| {
    Ok(Command::Admit {
        level: f.level("level")?,
        provider: f.org("provider", "the provider")?,
        planned_hours_per_week: f.number("hours", "planned hours a week")?,
        track: None,
        overrides: Vec::new(),
        emergency: None,
    })
});

form_route!(record_assessment(id, uuid::Uuid) => Some(ClientId(id)), "assessment-recorded", |f| {
    let mut dimensions = [0u8; 6];
    for (i, d) in dimensions.iter_mut().enumerate() {
        let name = format!("d{}", i + 1);
        *d = f
            .required(&name, "each of the six dimensions")?
            .parse()
            .map_err(|_| bad_field(&name, "rate each dimension 0 to 4".into()))?;
    }
    Ok(Command::RecordAssessment {
        recommended_level: f.level("recommended_level")?,
        dimensions,
        assessed_at: None,
    })
});

form_route!(record_mat_plan(id, uuid::Uuid) => Some(ClientId(id)), "mat-plan-recorded", |f| {
    let medication = match f.required("medication", "the medication")? {
        "buprenorphine" => Medication::Buprenorphine,
        "methadone" => Medication::Methadone,
        "naltrexone_oral" => Medication::NaltrexoneOral,
        "naltrexone_xr" => Medication::NaltrexoneXr,
        _ => return Err(bad_field("medication", "choose the medication".into())),
    };
    Ok(Command::RecordMatPlan {
        medication,
        supply_through: match f.get("supply_through") {
            Some(_) => Some(f.date("supply_through", "the last day the supply covers")?),
            None => None,
        },
        last_injection_on: match f.get("last_injection_on") {
            Some(_) => Some(f.date("last_injection_on", "the day of the last injection")?),
            None => None,
        },
    })
});

form_route!(record_identity(id, uuid::Uuid) => Some(ClientId(id)), "identity-recorded", |f| {
    Ok(Command::RecordIdentity {
        identity: carepath_engine::domain::ClientIdentity {
            display_name: f.required("display_name", "the name")?.to_owned(),
            record_number: f.get("record_number").map(str::to_owned),
        },
    })
});

fn transition_field(f: &Fields) -> Result<(TransitionKind, LevelId), PageError> {
    let v = f.required("move", "the move")?;
    let (kind, level) = v
        .split_once(':')
        .and_then(|(k, l)| Some((TransitionKind::parse(k)?, LevelId::new(l))))
        .ok_or_else(|| bad_field("move", "choose the move".into()))?;
    Ok((kind, level))
}

fn target_field(f: &Fields) -> Result<HandoffTarget, PageError> {
    let v = f.required("move", "the move")?;
    if let Some(kind) = v.strip_prefix("discharge:") {
        return Ok(HandoffTarget::Discharge {
            kind: DischargeKind::parse(kind)
                .ok_or_else(|| bad_field("move", "choose the move".into()))?,
            provider: None,
        });
    }
    let (kind, to_level) = transition_field(f)?;
    Ok(HandoffTarget::Transition {
        kind,
        to_level,
        provider: None,
    })
}

form_route!(
    /// `POST /clients/{id}/referrals/{referral}/withdraw`.
    withdraw_referral((id, referral), (uuid::Uuid, uuid::Uuid)) => Some(ClientId(id)),
    "referral-withdrawn", |_f| {
        Ok(Command::WithdrawReferral {
            referral: ReferralId(referral),
        })
    }
);

form_route!(
    /// `POST /clients/{id}/consents/{consent}/revoke`.
    revoke_consent((id, consent), (uuid::Uuid, uuid::Uuid)) => Some(ClientId(id)),
    "consent-revoked", |_f| {
        Ok(Command::RevokeConsent {
            consent: ConsentId(consent),
        })
    }
);

/// The gates a supervisor lets the move through without (`override`, each a gate's name),
/// with the reason every override records (`override_reason`).
fn overrides(f: &Fields) -> Result<Vec<GateOverride>, PageError> {
    let gates: Vec<&str> = f.all("override").collect();
    if gates.is_empty() {
        return Ok(Vec::new());
    }
    let reason = f.required("override_reason", "the reason for the override")?;
    gates
        .into_iter()
        .map(|g| {
            Ok(GateOverride {
                gate: Gate::parse(g)
                    .ok_or_else(|| bad_field("override", "choose a gate".into()))?,
                reason: reason.to_owned(),
            })
        })
        .collect()
}
