//! `EpisodeOfCare` (FHIR R4 base resource): one per episode of care, from its admission to
//! its discharge — `active` while open, `finished` once discharged (docs/domain.md: "discharge from
//! a level = EpisodeOfCare finished"), with `statusHistory`, the levels of care placed at as
//! `type`, and one `level-placement` extension per placement (level, provider, period).
//!
//! `referralRequest`: the accepted referrals (ServiceRequests) its placements used.
//!
//! Minimum necessary: a reader whose view is not `Full` sees only the current episode, with
//! the current placement alone — no earlier level, no earlier episode, no status history, no
//! referral.

use super::common::{self, level_concept, text};
use super::{Kind, Mapped, Source, part2};
use carepath_engine::domain::EventData;
use carepath_engine::ids::{EpisodeId, OrgId, ReferralId};
use carepath_engine::pathway::LevelId;
use chrono::{DateTime, Utc};
use fhir::r4::coded::Coded;
use fhir::r4::codes::EpisodeOfCareStatus;
use fhir::r4::resources::episode_of_care::EpisodeOfCareStatusHistory;
use fhir::r4::resources::{EpisodeOfCare, Resource};
use fhir::r4::types::{Extension, extension::ExtensionValue};

/// The extension carrying one level placement: sub-extensions `level` (Coding), `provider`
/// (Reference to the Organization) and `period`.
pub const LEVEL_PLACEMENT: &str =
    "https://carepath.example/fhir/StructureDefinition/level-placement";

/// An episode as the history tells it.
struct Episode {
    id: EpisodeId,
    admitted_at: DateTime<Utc>,
    discharged_at: Option<DateTime<Utc>>,
    /// When the client left a placement (a departure, a move, the discharge).
    exits: Vec<DateTime<Utc>>,
    last_updated: DateTime<Utc>,
    /// The accepted referrals its placements used.
    referrals: Vec<ReferralId>,
}

/// One placement shown: where, with whom, from when to when.
struct Shown<'a> {
    level: &'a LevelId,
    provider: OrgId,
    since: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
}

/// The client's episodes, in order, from its history.
fn from_history(src: &Source) -> Vec<Episode> {
    let mut out: Vec<Episode> = Vec::new();
    for e in &src.record.history {
        if let EventData::ClientAdmitted {
            episode, referral, ..
        } = &e.data
        {
            out.push(Episode {
                id: *episode,
                admitted_at: e.at,
                discharged_at: None,
                exits: Vec::new(),
                last_updated: e.at,
                referrals: referral.iter().copied().collect(),
            });
            continue;
        }
        let Some(ep) = out.last_mut() else { continue };
        match &e.data {
            EventData::HandoffStarted { .. } => ep.exits.push(e.at),
            EventData::TransitionCompleted { referral, .. } => {
                ep.exits.push(e.at);
                ep.referrals.extend(*referral);
            }
            EventData::DischargeCompleted { episode, .. }
            | EventData::DischargeUnplanned { episode, .. }
                if *episode == ep.id =>
            {
                ep.exits.push(e.at);
                ep.discharged_at = Some(e.at);
            }
            EventData::HandoffMissed { .. } => {}
            EventData::TransferArrived { episode, .. } if *episode == ep.id => {}
            _ => continue,
        }
        ep.last_updated = e.at;
    }
    out
}

pub fn episodes(src: &Source) -> Vec<Mapped> {
    let s = &src.record.client;
    if let Some(history) = s.history.shown() {
        return from_history(src)
            .iter()
            .map(|ep| {
                let shown = history
                    .placements
                    .iter()
                    .filter(|p| p.episode == ep.id)
                    .map(|p| Shown {
                        level: &p.level,
                        provider: p.provider,
                        since: p.since,
                        until: ep.exits.iter().copied().find(|&t| t > p.since),
                    })
                    .collect();
                episode(src, ep, shown, true)
            })
            .collect();
    }
    // Not the record holder: the current episode and its current placement only.
    let Some(current) = s.episode.as_ref() else {
        return Vec::new();
    };
    let ep = Episode {
        id: current.id,
        admitted_at: current.admitted_at,
        discharged_at: current.discharged_at,
        exits: Vec::new(),
        last_updated: current.discharged_at.unwrap_or(current.admitted_at),
        referrals: Vec::new(),
    };
    let ep = &ep;
    let shown = s
        .placement
        .iter()
        .filter(|_| ep.discharged_at.is_none())
        .map(|p| Shown {
            level: &p.level,
            provider: p.provider,
            since: p.since,
            until: None,
        })
        .collect();
    vec![episode(src, ep, shown, false)]
}

fn episode(src: &Source, ep: &Episode, shown: Vec<Shown>, with_history: bool) -> Mapped {
    let s = &src.record.client;
    let (status, code) = if ep.discharged_at.is_some() {
        (EpisodeOfCareStatus::Finished, "finished")
    } else {
        (EpisodeOfCareStatus::Active, "active")
    };
    let mut status_history = vec![EpisodeOfCareStatusHistory {
        status: Coded::Known(EpisodeOfCareStatus::Active),
        period: common::period(Some(ep.admitted_at), ep.discharged_at),
        ..Default::default()
    }];
    if let Some(end) = ep.discharged_at {
        status_history.push(EpisodeOfCareStatusHistory {
            status: Coded::Known(EpisodeOfCareStatus::Finished),
            period: common::period(Some(end), None),
            ..Default::default()
        });
    }
    let mut types = Vec::new();
    for p in &shown {
        let c = level_concept(src, p.level);
        if !types.contains(&c) {
            types.push(c);
        }
    }
    let resource = EpisodeOfCare {
        id: Some(text(ep.id.to_string())),
        meta: Some(part2::meta(ep.last_updated)),
        text: Some(part2::notice()),
        extension: shown.iter().map(|p| placement(src, p)).collect(),
        identifier: vec![common::uuid_identifier(ep.id.0)],
        status: Coded::Known(status),
        status_history: if with_history {
            status_history
        } else {
            Vec::new()
        },
        r#type: types,
        patient: common::patient(s.id),
        managing_organization: Some(common::org(src, s.home_org)),
        period: Some(common::period(Some(ep.admitted_at), ep.discharged_at)),
        referral_request: if with_history {
            ep.referrals
                .iter()
                .map(|id| common::reference(Kind::ServiceRequest, id, None))
                .collect()
        } else {
            Vec::new()
        },
        ..Default::default()
    };
    Mapped {
        kind: Kind::EpisodeOfCare,
        id: ep.id.to_string(),
        last_updated: ep.last_updated,
        status: Some(code),
        performer: None,
        resource: Resource::EpisodeOfCare(Box::new(resource)),
    }
}

fn placement(src: &Source, p: &Shown) -> Extension {
    let sub = |url: &str, value: ExtensionValue| Extension {
        url: text(url),
        value: Some(value),
        ..Default::default()
    };
    let level = level_concept(src, p.level);
    Extension {
        url: text(LEVEL_PLACEMENT),
        extension: level
            .coding
            .into_iter()
            .map(|c| sub("level", ExtensionValue::Coding(Box::new(c))))
            .chain([
                sub(
                    "provider",
                    ExtensionValue::Reference(Box::new(common::org(src, p.provider))),
                ),
                sub(
                    "period",
                    ExtensionValue::Period(Box::new(common::period(Some(p.since), p.until))),
                ),
            ])
            .collect(),
        ..Default::default()
    }
}
