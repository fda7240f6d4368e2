//! Where the client is in care: registration, admission (and readmission), moves between
//! levels and providers, and discharge. One file per command or tight family: `register`,
//! `admit`, `transition` (a move's departure), `arrival` (transit, and the arrival or its
//! miss), `discharge`, `lost` (lost to care and re-engagement). What several share is
//! here: where a move starts from, the accepted referral a move or an admission uses, and
//! the follow-up checks an exit arms.

mod admit;
mod arrival;
mod discharge;
mod lost;
mod register;
mod transition;

pub(super) use register::register_client;

use super::draft::Draft;
use crate::command::*;
use crate::error::DecisionError;
use crate::event::*;
use crate::gates;
use crate::ids::*;
use crate::pathway::LevelId;
use crate::state::*;
use chrono::{DateTime, Duration, Utc};

/// Where a move or a discharge starts from.
struct Departure {
    level: LevelId,
    provider: OrgId,
    track: Option<String>,
}

impl Draft<'_> {
    pub(super) fn accepted_referral(&self, level: &LevelId, provider: OrgId) -> Option<ReferralId> {
        self.s
            .referrals
            .iter()
            .find(|r| {
                r.status == ReferralStatus::Accepted
                    && &r.to_level == level
                    && r.provider == provider
            })
            .map(|r| r.id)
    }

    /// The referral that brought the client to `level` has done its work; other open
    /// referrals for that level are withdrawn.
    pub(super) fn complete_referral(&mut self, used: Option<ReferralId>, level: &LevelId) {
        if let Some(id) = used {
            let now = self.now();
            let r = self.referral_mut(id);
            let was = r.status;
            r.status = ReferralStatus::Completed;
            r.answered_at.get_or_insert(now);
            let (provider, to_level) = (r.provider, r.to_level.clone());
            // The slot it held is now occupied by the client.
            if was == ReferralStatus::Accepted {
                self.cancel(Self::hold_timer_key(id));
                self.hold_slot(provider, &to_level, -1);
            }
        }
        self.withdraw_where(WithdrawReason::ClientMoved, |r| &r.to_level == level);
    }

    /// Where a move starts from: the placement, or after a missed arrival the level and
    /// provider the client left (a re-route). A client on the way may not move again
    /// before the arrival is confirmed or missed.
    fn departure(&self, attempted: impl FnOnce() -> String) -> Result<Departure, DecisionError> {
        match (&self.s.status, &self.s.placement, &self.s.transit) {
            (ClientStatus::Active, Some(p), _) => Ok(Departure {
                level: p.level.clone(),
                provider: p.provider,
                track: p.track.clone(),
            }),
            (ClientStatus::InTransit, _, Some(t)) if t.missed => Ok(Departure {
                level: t.from_level.clone(),
                provider: t.from_provider,
                track: None,
            }),
            _ => Err(self.invalid(attempted())),
        }
    }

    /// Whether an exit from `level` starts the follow-up checks (withdrawal management,
    /// residential and inpatient care).
    pub(super) fn followed_up(&self, level: &LevelId) -> bool {
        self.pathway()
            .level(level)
            .is_some_and(|l| l.followup_on_exit)
    }

    /// After an exit (the event at `seq`, the client out of that care since `left_at`) from a
    /// level whose exit starts the follow-up checks (withdrawal management, residential
    /// care), a check at each of the pathway's `followup_days`, due when the last day of its
    /// window ends ([`gates::followup_due`]); none after an exit from any other level.
    pub(super) fn arm_followups(&mut self, from: &LevelId, seq: i64, left_at: DateTime<Utc>) {
        if !self.followed_up(from) {
            return;
        }
        let episode = self.episode_id();
        let exit = EventId::for_seq(self.s.id, seq);
        let exit_on = left_at.date_naive();
        for days in self.pathway().settings.followup_days.clone() {
            let timer = format!("followup:{episode}:{seq}:{days}");
            self.schedule(
                timer.clone(),
                gates::followup_due(exit_on, days),
                TimerKind::Followup {
                    episode,
                    days,
                    since: Some(left_at),
                    exit: Some(exit),
                },
            );
            self.s.followups.push(FollowupCheck {
                episode,
                exit,
                exit_on,
                days,
                timer,
                met: None,
                superseded: false,
            });
        }
    }

    /// Back in high-intensity care: as HEDIS counts it, an earlier exit whose longest
    /// follow-up window this falls in no longer counts — only the last exit does. Its checks
    /// are superseded (`followup.superseded`), the pending ones' timers cancelled.
    pub(super) fn supersede_followups(&mut self) {
        let longest = self
            .pathway()
            .settings
            .followup_days
            .iter()
            .copied()
            .max()
            .unwrap_or(0);
        let today = self.today();
        let level = self.current_level();
        let within: Vec<usize> = (0..self.s.followups.len())
            .filter(|&i| {
                let c = &self.s.followups[i];
                !c.superseded && today <= c.exit_on + Duration::days(i64::from(longest))
            })
            .collect();
        for i in within {
            let c = self.s.followups[i].clone();
            if c.met.is_none() {
                self.cancel(c.timer.clone());
            }
            self.s.followups[i].superseded = true;
            self.emit(
                level.clone(),
                None,
                EventData::FollowupSuperseded {
                    days: c.days,
                    episode: c.episode,
                    exit: c.exit,
                },
            );
        }
    }
}
