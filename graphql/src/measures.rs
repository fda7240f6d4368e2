//! The measures of continuity as GraphQL output: views over `domain::measures`, converted
//! once here.

use crate::types::{DeclineCode, Organization};
use async_graphql::SimpleObject;
use carepath_engine::domain::measures as m;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A share: `numerator` of `denominator` (`rate` is null with nothing counted), and the
/// clients behind each miss (the organization's own: it holds their records).
#[derive(SimpleObject)]
pub struct Ratio {
    pub numerator: u64,
    pub denominator: u64,
    pub rate: Option<f64>,
    pub missed_client_ids: Vec<Uuid>,
}

impl From<m::Ratio> for Ratio {
    fn from(r: m::Ratio) -> Self {
        Ratio {
            rate: r.rate(),
            numerator: r.numerator,
            denominator: r.denominator,
            missed_client_ids: r.missed.into_iter().map(|c| c.0).collect(),
        }
    }
}

/// How many, the median and the 90th percentile (nearest rank).
#[derive(SimpleObject)]
pub struct Spread {
    pub count: u64,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
}

impl From<m::Spread> for Spread {
    fn from(s: m::Spread) -> Self {
        Spread {
            count: s.count,
            p50: s.p50,
            p90: s.p90,
        }
    }
}

#[derive(SimpleObject)]
pub struct ProviderHours {
    pub provider: Organization,
    pub hours: Spread,
}

#[derive(SimpleObject)]
pub struct DeclineCount {
    pub reason: DeclineCode,
    pub count: u64,
}

#[derive(SimpleObject)]
pub struct ReferralMeasures {
    pub sent: u64,
    /// Hours from a referral's arrival notice to its first read by the partner's intake,
    /// per receiving provider (the notification center's record).
    pub time_to_first_read: Vec<ProviderHours>,
    /// Hours from sent to acknowledged, per receiving provider.
    pub time_to_acknowledge: Vec<ProviderHours>,
    /// Hours from sent to the answer (accepted, declined or waitlisted).
    pub time_to_answer: Vec<ProviderHours>,
    /// Answered by the deadline, of those answered or past it.
    pub answered_in_time: Ratio,
    /// Groups that ran out (`referral.escalated`), of the groups sent: lower is better.
    pub escalated: Ratio,
    pub decline_reasons: Vec<DeclineCount>,
}

#[derive(SimpleObject)]
pub struct HandoffMeasures {
    /// Arrived, of the handoffs that ended (arrived or missed).
    pub arrived: Ratio,
    /// Started in the period and still under way.
    pub in_transit: u64,
    pub days_in_transit: Spread,
}

#[derive(SimpleObject)]
pub struct MoudMeasures {
    /// Handoffs and discharges made on MOUD that left no gap day before the next supply.
    pub handoffs_without_gap: Ratio,
    pub gap_days_after_handoffs: u64,
    /// Gap days within the period, per client on MOUD in it.
    pub gap_days_per_client: Spread,
    /// Discharged on MOUD, then a dose, refill or injection within 7 days.
    pub dosed_within_7_days: Ratio,
}

#[derive(SimpleObject)]
pub struct DischargeMeasures {
    /// Planned discharges with an aftercare appointment booked at the time.
    pub planned_with_booking: Ratio,
    /// Planned discharges followed by an attended aftercare appointment within 30 days.
    pub planned_with_attended: Ratio,
    /// Unplanned (against advice, administrative), of all discharges: lower is better.
    pub unplanned: Ratio,
    pub against_advice: u64,
    pub administrative: u64,
}

/// Continuity of care over the caller's organization's clients (an admin: everyone's): items
/// counted in the period they start in, judged as of `asOf`; an outcome not yet knowable is
/// left out rather than counted as a miss.
#[derive(SimpleObject)]
pub struct Measures {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub as_of: DateTime<Utc>,
    pub clients: u64,
    pub referrals: ReferralMeasures,
    pub handoffs: HandoffMeasures,
    /// HEDIS FUI-7: a visit that took place on a date after an exit from withdrawal
    /// management or residential care, through day 7 (docs/measures.md).
    pub fui7: Ratio,
    /// HEDIS FUI-30: the same, through day 30.
    pub fui30: Ratio,
    pub moud: MoudMeasures,
    pub discharges: DischargeMeasures,
    /// Re-engaged, of the clients lost to care in the period.
    pub lost_to_care: Ratio,
    /// Who closed the loop: the receiving side, or the sender relaying its report.
    pub closed_loop: LoopMeasures,
}

#[derive(SimpleObject)]
pub struct LoopMeasures {
    /// Arrivals confirmed by the receiving provider, of all arrivals (the rest relayed by
    /// the sender).
    pub arrivals_by_receiver: Ratio,
    /// Visits, doses and refills kept or missed as reported by the booking's provider, of
    /// all such outcomes.
    pub outcomes_by_receiver: Ratio,
}

fn hours(v: Vec<m::ProviderHours>) -> Vec<ProviderHours> {
    v.into_iter()
        .map(|p| ProviderHours {
            provider: Organization(p.provider),
            hours: p.hours.into(),
        })
        .collect()
}

impl From<m::Measures> for Measures {
    fn from(x: m::Measures) -> Self {
        Measures {
            from: x.scope.from,
            to: x.scope.to,
            as_of: x.scope.as_of,
            clients: x.clients,
            referrals: ReferralMeasures {
                sent: x.referrals.sent,
                time_to_first_read: hours(x.referrals.time_to_first_read),
                time_to_acknowledge: hours(x.referrals.time_to_acknowledge),
                time_to_answer: hours(x.referrals.time_to_answer),
                answered_in_time: x.referrals.answered_in_time.into(),
                escalated: x.referrals.escalated.into(),
                decline_reasons: x
                    .referrals
                    .decline_reasons
                    .into_iter()
                    .map(|(reason, count)| DeclineCount {
                        reason: reason.into(),
                        count,
                    })
                    .collect(),
            },
            handoffs: HandoffMeasures {
                arrived: x.handoffs.arrived.into(),
                in_transit: x.handoffs.in_transit,
                days_in_transit: x.handoffs.days_in_transit.into(),
            },
            fui7: x.fui_7.into(),
            fui30: x.fui_30.into(),
            moud: MoudMeasures {
                handoffs_without_gap: x.moud.handoffs_without_gap.into(),
                gap_days_after_handoffs: x.moud.gap_days_after_handoffs,
                gap_days_per_client: x.moud.gap_days_per_client.into(),
                dosed_within_7_days: x.moud.dosed_within_7_days.into(),
            },
            discharges: DischargeMeasures {
                planned_with_booking: x.discharges.planned_with_booking.into(),
                planned_with_attended: x.discharges.planned_with_attended.into(),
                unplanned: x.discharges.unplanned.into(),
                against_advice: x.discharges.against_advice,
                administrative: x.discharges.administrative,
            },
            lost_to_care: x.lost_to_care.into(),
            closed_loop: LoopMeasures {
                arrivals_by_receiver: x.closed_loop.arrivals_by_receiver.into(),
                outcomes_by_receiver: x.closed_loop.outcomes_by_receiver.into(),
            },
        }
    }
}
