//! Where the client is in care: registration, admission (and readmission), moves between
//! levels and providers, and discharge.

use super::Context;
use super::Decision;
use super::draft::{Draft, Exceptions, screen};
use crate::command::*;
use crate::error::DecisionError;
use crate::event::*;
use crate::gates::{self, MoveCheck};
use crate::ids::*;
use crate::pathway::{DischargeKind, Gate, LevelId, TransitionKind};
use crate::state::*;
use chrono::{DateTime, Datelike, Duration, Utc};

/// Register a client: the one command decided on no state. A client already registered is
/// a conflict (before any version check).
pub(super) fn register_client(
    state: Option<&ClientState>,
    env: &Envelope,
    home_org: OrgId,
    birth_year: Option<i32>,
    ctx: &Context<'_>,
) -> Result<Decision, DecisionError> {
    let actor_org = screen(state, env, ctx)?;
    if state.is_some() {
        return Err(DecisionError::Conflict("client already registered".into()));
    }
    register(env.client, home_org, birth_year, actor_org, ctx)
}

fn register(
    client: ClientId,
    home_org: OrgId,
    birth_year: Option<i32>,
    actor_org: Option<OrgId>,
    ctx: &Context<'_>,
) -> Result<Decision, DecisionError> {
    if ctx.orgs.get(home_org).is_none() {
        return Err(DecisionError::not_found("organization", home_org));
    }
    if let Some(y) = birth_year {
        let this_year = ctx.now.year();
        if !(1900..=this_year).contains(&y) {
            return Err(DecisionError::bad(format!(
                "birth year {y} is not between 1900 and {this_year}"
            )));
        }
    }
    let state = ClientState::new(client, home_org, birth_year);
    let mut d = Draft::new(state, actor_org, ctx);
    d.emit(None, None, EventData::ClientRegistered { home_org });
    Ok(d.finish())
}

impl Draft<'_> {
    /// The display name and record number, kept beside the record: the event says only that
    /// they were recorded.
    pub(super) fn record_identity(
        &mut self,
        identity: &ClientIdentity,
    ) -> Result<(), DecisionError> {
        self.identity = Some(identity.clone());
        self.emit(None, None, EventData::IdentityRecorded);
        Ok(())
    }
}

/// Where a move or a discharge starts from.
struct Departure {
    level: LevelId,
    provider: OrgId,
    track: Option<String>,
}

impl Draft<'_> {
    pub(super) fn admit(
        &mut self,
        level_id: &LevelId,
        provider: OrgId,
        hours: f32,
        track: &Option<String>,
        overrides: &[GateOverride],
        emergency: Option<&MedicalEmergency>,
    ) -> Result<(), DecisionError> {
        let level = self.level(level_id)?;
        let (readmission, required) = match self.s.status {
            ClientStatus::Registered => {
                if !self.pathway().admission_levels.contains(level_id) {
                    return Err(self.invalid(format!("admission to {level_id}")));
                }
                (false, self.pathway().admission_gates.clone())
            }
            ClientStatus::Discharged => {
                match self
                    .pathway()
                    .transition_rule(TransitionKind::Readmission, None, level_id)
                {
                    Some(rule) => (true, rule.gates.clone()),
                    None => return Err(self.invalid(format!("readmission to {level_id}"))),
                }
            }
            ClientStatus::Active | ClientStatus::InTransit => {
                return Err(self.invalid(format!("admission to {level_id}")));
            }
        };
        self.provider_offering(provider, level_id)?;
        self.hours(level, hours)?;
        if let Some(t) = track {
            Self::text("track", t)?;
        }
        let mv = MoveCheck {
            to_level: Some(level_id),
            provider: Some(provider),
            on: self.today(),
        };
        let basis = self.disclosure_basis(provider, level, emergency)?;
        let required = basis.gates_to_check(&required);
        let overridden = self.pass_gates(&required, &mv, overrides)?;
        basis.require(provider)?;
        // An accepted referral is completed by the receiving provider's own admission only:
        // another organization admitting the client there does not close its loop (the
        // referral is withdrawn below with the level's other open referrals, its slot
        // released, and the admission takes one of its own).
        let referral = self
            .accepted_referral(level_id, provider)
            .filter(|_| self.actor_org() == Some(provider));
        let number = self.s.episode.as_ref().map_or(1, |e| e.number + 1);
        let seq = self.s.last_seq + 1;
        let episode = EpisodeId(EventId::for_seq(self.s.id, seq).0);
        let event = self.emit(
            Some(level_id.clone()),
            Some(provider),
            EventData::ClientAdmitted {
                episode,
                level: level_id.clone(),
                provider,
                readmission,
                referral,
                overridden,
            },
        );
        self.disclose(
            provider,
            level_id,
            &basis,
            event,
            format!("admission to level {level_id}"),
        );
        let case_manager = self.admitting_case_manager();
        self.bind_consents_to(episode);
        self.s.episode = Some(Episode {
            id: episode,
            number,
            admitted_at: self.now(),
            case_manager,
        });
        // Readmitted here: a transfer out still waiting for its arrival is over.
        if let Some(t) = self.s.transfer.take()
            && !t.missed
        {
            self.cancel(t.timer);
        }
        self.s.status = ClientStatus::Active;
        self.place(level, provider, hours, track, seq);
        self.complete_referral(referral, level_id);
        if let Some(id) = referral {
            self.referral_mut(id).closed_by = Some(ReportedBy::Receiver);
        }
        self.reengage();
        Ok(())
    }

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

    /// Start a move: the client leaves the sending placement and is in transit to the
    /// receiving provider, which holds a slot until the arrival is confirmed
    /// ([`Draft::confirm_arrival`]) or missed. A move within one organization completes at
    /// once: the client never leaves its care.
    pub(super) fn transition(
        &mut self,
        kind: TransitionKind,
        to_level: &LevelId,
        provider: Option<OrgId>,
        hours: f32,
        track: &Option<String>,
        exceptions: Exceptions<'_>,
    ) -> Result<(), DecisionError> {
        let Exceptions {
            overrides,
            emergency,
        } = exceptions;
        let level = self.level(to_level)?;
        let from = self.departure(|| format!("{kind} to {to_level}"))?;
        if kind == TransitionKind::Readmission {
            return Err(DecisionError::bad(
                "a readmission is an admission of a discharged client",
            ));
        }
        let rule = self
            .pathway()
            .transition_rule(kind, Some(&from.level), to_level)
            .ok_or_else(|| self.invalid(format!("{kind} to {to_level}")))?;
        // The same resolution a readiness check makes (`gates::readiness_target`).
        let provider = gates::receiving_provider(&self.s, kind, to_level, provider);
        let Some(provider) = provider else {
            if rule.gates.contains(&Gate::AcceptedReferral) {
                let mv = MoveCheck {
                    to_level: Some(to_level),
                    provider: None,
                    on: self.today(),
                };
                let unmet = gates::evaluate(
                    &self.s,
                    self.pathway(),
                    &[Gate::AcceptedReferral],
                    &mv,
                    self.now(),
                );
                return Err(DecisionError::GateUnmet { unmet });
            }
            return Err(DecisionError::bad("name the receiving provider"));
        };
        self.provider_offering(provider, to_level)?;
        self.hours(level, hours)?;
        if let Some(t) = track {
            Self::text("track", t)?;
        }
        if kind == TransitionKind::Lateral && provider == from.provider && *track == from.track {
            return Err(DecisionError::bad(
                "a lateral move changes the provider or the track",
            ));
        }
        let mv = MoveCheck {
            to_level: Some(to_level),
            provider: Some(provider),
            on: self.today(),
        };
        let basis = self.disclosure_basis(provider, level, emergency)?;
        let gates = basis.gates_to_check(&rule.gates);
        let overridden = self.pass_gates(&gates, &mv, overrides)?;
        basis.require(provider)?;

        let within_one_org = self.s.placement.is_some() && provider == from.provider;
        self.unplace();
        // A re-route after a missed arrival: that transit is over (its slot already freed).
        self.s.transit = None;
        let referral = self.accepted_referral(to_level, provider);
        let seq = self.s.last_seq + 1;
        if within_one_org {
            self.emit(
                Some(to_level.clone()),
                Some(provider),
                EventData::TransitionCompleted {
                    kind,
                    from_level: from.level.clone(),
                    to_level: to_level.clone(),
                    from_provider: from.provider,
                    to_provider: provider,
                    referral,
                    overridden,
                    // No arrival to report: the client never left the organization's care.
                    reported_by: None,
                },
            );
            self.s.status = ClientStatus::Active;
            self.place(level, provider, hours, track, seq);
            self.complete_referral(referral, to_level);
            self.s.handoff = None;
            if !level.followup_on_exit {
                self.arm_followups(&from.level, seq, self.now());
            }
            return Ok(());
        }
        let arrive_by = self.now() + Duration::days(i64::from(level.arrival_days));
        let event = self.emit(
            Some(to_level.clone()),
            Some(provider),
            EventData::HandoffStarted {
                kind,
                from_level: from.level.clone(),
                to_level: to_level.clone(),
                from_provider: from.provider,
                to_provider: provider,
                referral,
                arrive_by,
                overridden: overridden.clone(),
            },
        );
        self.disclose(
            provider,
            to_level,
            &basis,
            event,
            format!("handoff to level {to_level}"),
        );
        // The accepted referral's hold now waits for the arrival; a move without one holds
        // a slot of its own.
        match referral {
            Some(id) => {
                self.cancel(Self::hold_timer_key(id));
                self.referral_mut(id).status = ReferralStatus::Scheduled;
            }
            None => self.hold_slot(provider, to_level, 1),
        }
        self.withdraw_where(WithdrawReason::ClientMoved, |r| &r.to_level == to_level);
        let episode = self.episode_id();
        let timer = format!("arrival:{episode}:{seq}");
        self.schedule(
            timer.clone(),
            arrive_by,
            TimerKind::ArrivalDeadline {
                episode,
                departed_seq: seq,
            },
        );
        self.s.transit = Some(Transit {
            kind,
            from_level: from.level,
            from_provider: from.provider,
            to_level: to_level.clone(),
            provider,
            planned_hours_per_week: hours,
            track: track.clone(),
            referral,
            overridden,
            departed_at: self.now(),
            arrive_by,
            timer,
            holds_slot: true,
            missed: false,
        });
        self.s.status = ClientStatus::InTransit;
        self.s.handoff = None;
        // Leaving high-intensity care for a lower level: the follow-up checks (HEDIS FUI).
        if !level.followup_on_exit {
            let from_level = self.s.transit.as_ref().map(|t| t.from_level.clone());
            if let Some(from_level) = from_level {
                self.arm_followups(&from_level, seq, self.now());
            }
        }
        Ok(())
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

    fn transit_under_way(&self, attempted: &str) -> Result<Transit, DecisionError> {
        match &self.s.transit {
            Some(t) if self.s.status == ClientStatus::InTransit => Ok(t.clone()),
            _ => Err(self.invalid(attempted.to_owned())),
        }
    }

    /// The receiving provider confirms the arrival: the held slot becomes occupancy and the
    /// new placement starts. A late arrival (after a miss) takes a slot if one is open, and
    /// brings the client back in reach of care.
    pub(super) fn confirm_arrival(
        &mut self,
        relayed: Option<&RelayedBy>,
    ) -> Result<(), DecisionError> {
        if let Some(t) = self.s.transfer.clone()
            && self.s.status == ClientStatus::Discharged
        {
            let by = self.reported_by(t.provider, relayed)?;
            if !t.missed {
                self.cancel(t.timer.clone());
            }
            let event = self.emit(
                None,
                Some(t.provider),
                EventData::TransferArrived {
                    provider: t.provider,
                    episode: t.episode,
                    reported_by: Some(by),
                },
            );
            self.keep_relayed(event, relayed);
            self.s.transfer = None;
            self.reengage();
            return Ok(());
        }
        let t = self.transit_under_way("confirming an arrival")?;
        let level = self.level(&t.to_level)?;
        let by = self.reported_by(t.provider, relayed)?;
        if !t.missed {
            self.cancel(t.timer.clone());
        }
        if t.holds_slot {
            self.hold_slot(t.provider, &t.to_level, -1);
        }
        let seq = self.s.last_seq + 1;
        let event = self.emit(
            Some(t.to_level.clone()),
            Some(t.provider),
            EventData::TransitionCompleted {
                kind: t.kind,
                from_level: t.from_level.clone(),
                to_level: t.to_level.clone(),
                from_provider: t.from_provider,
                to_provider: t.provider,
                referral: t.referral,
                overridden: t.overridden.clone(),
                reported_by: Some(by),
            },
        );
        self.keep_relayed(event, relayed);
        if let Some(id) = t.referral {
            let now = self.now();
            let r = self.referral_mut(id);
            r.status = ReferralStatus::Completed;
            r.answered_at.get_or_insert(now);
            r.closed_by = Some(by);
        }
        self.s.transit = None;
        self.s.status = ClientStatus::Active;
        self.place(level, t.provider, t.planned_hours_per_week, &t.track, seq);
        self.reengage();
        Ok(())
    }

    /// The receiving provider reports that the client did not come.
    pub(super) fn report_no_show(
        &mut self,
        relayed: Option<&RelayedBy>,
    ) -> Result<(), DecisionError> {
        if let Some(t) = self.s.transfer.clone()
            && self.s.status == ClientStatus::Discharged
        {
            let by = self.reported_by(t.provider, relayed)?;
            if t.missed {
                return Err(DecisionError::Conflict(
                    "the arrival was already missed".into(),
                ));
            }
            self.cancel(t.timer.clone());
            let event = self.miss_transfer(MissReason::NoShow, Some(by));
            self.keep_relayed(event, relayed);
            return Ok(());
        }
        let t = self.transit_under_way("reporting a no-show")?;
        let by = self.reported_by(t.provider, relayed)?;
        if t.missed {
            return Err(DecisionError::Conflict(
                "the arrival was already missed".into(),
            ));
        }
        self.cancel(t.timer.clone());
        let event = self.miss(MissReason::NoShow, Some(by));
        self.keep_relayed(event, relayed);
        Ok(())
    }

    /// The handoff under way is missed: the held slot is released, the referral marked a
    /// no-show, and the client counted lost to care (the sending case manager's outreach).
    /// A handoff between two levels of high-intensity care (withdrawal management to
    /// residential care) armed no follow-up when it started: missed, it is the exit that
    /// arms them, from the day the client left. Returns the `handoff.missed` event.
    pub(super) fn miss(&mut self, reason: MissReason, reported_by: Option<ReportedBy>) -> EventId {
        let t = self.s.transit.clone().expect("a transit under way");
        if t.holds_slot {
            self.hold_slot(t.provider, &t.to_level, -1);
        }
        if let Some(id) = t.referral {
            let r = self.referral_mut(id);
            r.status = ReferralStatus::NoShow;
            r.closed_by = reported_by;
        }
        let event = self.emit(
            Some(t.to_level.clone()),
            Some(t.provider),
            EventData::HandoffMissed {
                to_level: Some(t.to_level.clone()),
                provider: t.provider,
                referral: t.referral,
                arrive_by: t.arrive_by,
                reason,
                reported_by,
            },
        );
        if let Some(transit) = &mut self.s.transit {
            transit.missed = true;
            transit.holds_slot = false;
        }
        if self.followed_up(&t.to_level) {
            let seq = self.s.last_seq;
            self.arm_followups(&t.from_level, seq, t.departed_at);
        }
        self.lose(LostReason::MissedArrival);
        event
    }

    /// A transfer out not confirmed: the client is counted lost to care.
    pub(super) fn miss_transfer(
        &mut self,
        reason: MissReason,
        reported_by: Option<ReportedBy>,
    ) -> EventId {
        let t = self.s.transfer.clone().expect("a transfer under way");
        let event = self.emit(
            None,
            Some(t.provider),
            EventData::HandoffMissed {
                to_level: None,
                provider: t.provider,
                referral: None,
                arrive_by: t.arrive_by,
                reason,
                reported_by,
            },
        );
        if let Some(transfer) = &mut self.s.transfer {
            transfer.missed = true;
        }
        self.lose(LostReason::MissedArrival);
        event
    }

    /// A transit that ends without an arrival (the client is discharged on the way): its
    /// slot, timer and referral are released.
    fn abandon_transit(&mut self, reason: WithdrawReason) {
        let Some(t) = self.s.transit.take() else {
            return;
        };
        if !t.missed {
            self.cancel(t.timer.clone());
        }
        if t.holds_slot {
            self.hold_slot(t.provider, &t.to_level, -1);
        }
        // A `scheduled` referral holds no slot of its own (the transit's was released above),
        // so `withdraw` releases nothing more.
        if let Some(id) = t.referral
            && self.s.referral(id).map(|r| r.status) == Some(ReferralStatus::Scheduled)
        {
            self.withdraw(id, reason);
        }
    }

    /// The client is out of reach of care (once: a second reason while lost adds nothing).
    pub(super) fn lose(&mut self, reason: LostReason) {
        if self.s.lost_to_care.is_some() {
            return;
        }
        self.emit(
            self.current_level(),
            None,
            EventData::ClientLostToCare { reason },
        );
        self.s.lost_to_care = Some(LostToCare {
            reason,
            since: self.now(),
        });
    }

    /// Back in reach of care: closes a lost-to-care episode opened for any reason.
    pub(super) fn reengage(&mut self) {
        if let Some(lost) = self.s.lost_to_care.take() {
            self.emit(
                self.current_level(),
                None,
                EventData::ClientReengaged {
                    reason: lost.reason,
                },
            );
        }
    }

    pub(super) fn discharge(
        &mut self,
        kind: DischargeKind,
        provider: Option<OrgId>,
        overrides: &[GateOverride],
    ) -> Result<(), DecisionError> {
        // From a placement, or on the way to one (the client left care in transit).
        let from = match (&self.s.status, &self.s.placement, &self.s.transit) {
            (ClientStatus::Active, Some(p), _) => Departure {
                level: p.level.clone(),
                provider: p.provider,
                track: p.track.clone(),
            },
            (ClientStatus::InTransit, _, Some(t)) => Departure {
                level: t.from_level.clone(),
                provider: t.from_provider,
                track: None,
            },
            _ => return Err(self.invalid(format!("discharge ({kind})"))),
        };
        let rule = self
            .pathway()
            .discharge_rule(kind, &from.level)
            .ok_or_else(|| self.invalid(format!("discharge ({kind})")))?;
        if let Some(p) = provider {
            self.org(p)?;
        } else if kind == DischargeKind::TransferOut {
            return Err(DecisionError::bad(
                "a transfer out names the receiving organization",
            ));
        }
        if kind.is_unplanned() && !overrides.is_empty() {
            return Err(DecisionError::bad(
                "an unplanned discharge has no gate to override",
            ));
        }
        let mv = MoveCheck {
            to_level: None,
            provider,
            on: self.today(),
        };
        let overridden = self.pass_gates(&rule.gates, &mv, overrides)?;
        let episode = self.episode_id();
        // Discharged on the way: the client left high-intensity care when the handoff
        // started (to a lower level) or when it was missed, and that exit armed the
        // follow-up checks already.
        let exited_before = self
            .s
            .transit
            .as_ref()
            .is_some_and(|t| t.missed || !self.followed_up(&t.to_level));
        self.unplace();
        self.abandon_transit(WithdrawReason::ClientDischarged);
        self.withdraw_where(WithdrawReason::ClientDischarged, |_| true);
        let data = if kind.is_unplanned() {
            EventData::DischargeUnplanned {
                kind,
                episode,
                from_level: from.level.clone(),
                from_provider: from.provider,
                at_risk: true,
            }
        } else {
            EventData::DischargeCompleted {
                kind,
                episode,
                from_level: from.level.clone(),
                from_provider: from.provider,
                to_provider: provider,
                overridden,
            }
        };
        let event = self.emit(Some(from.level.clone()), provider, data);
        let event_seq = self.s.last_seq;
        if let Some(p) = provider {
            let basis = self.basis_for(p, None);
            basis.require(p)?;
            self.disclose(p, &from.level, &basis, event, "transfer of care".into());
        }
        if !exited_before {
            self.arm_followups(&from.level, event_seq, self.now());
        }
        if kind == DischargeKind::TransferOut
            && let Some(p) = provider
        {
            // The receiving organization confirms the arrival, or the transfer is missed.
            let arrive_by = self.now()
                + Duration::days(i64::from(self.pathway().settings.transfer_arrival_days));
            let timer = format!("transfer:{episode}");
            self.schedule(
                timer.clone(),
                arrive_by,
                TimerKind::TransferDeadline { episode },
            );
            self.s.transfer = Some(PendingTransfer {
                provider: p,
                episode,
                departed_at: self.now(),
                arrive_by,
                timer,
                missed: false,
            });
        }
        self.s.status = ClientStatus::Discharged;
        self.s.handoff = None;
        self.s.escalation = None;
        self.s.last_discharge = Some(DischargeRecord {
            kind,
            at: self.now(),
            episode,
            from_level: from.level,
        });
        self.end_consents_of(episode);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::command::*;
    use crate::decide::fixture::*;
    use crate::decide::{Context, decide};
    use crate::error::DecisionError;
    use crate::event::*;
    use crate::ids::*;
    use crate::pathway::{DischargeKind, Gate, TransitionKind};
    use crate::state::*;
    use chrono::Duration;

    #[test]
    fn registering_records_the_client_at_version_one() {
        let f = Fixture::new();
        let env = f.env(
            f.cm(),
            Command::RegisterClient {
                home_org: f.home,
                birth_year: Some(1990),
                identity: None,
            },
        );
        let d = decide(None, &env, &f.ctx_at(f.now)).unwrap();
        assert_eq!(types(&d), ["client.registered"]);
        assert_eq!(
            d.events[0].data,
            EventData::ClientRegistered { home_org: f.home }
        );
        assert_eq!(d.events[0].seq, 1);
        assert_eq!(d.events[0].actor_org, Some(f.home));
        assert_eq!(d.events[0].recipient_org, None);
        assert_eq!((d.state.version, d.state.last_seq), (1, 1));
        assert_eq!(d.state.status, ClientStatus::Registered);
        assert_eq!(d.state.birth_year, Some(1990));
        assert!(d.timers.is_empty() && d.disclosures.is_empty() && d.occupancy.is_empty());
    }

    #[test]
    fn registering_is_refused_twice_for_an_unknown_organization_or_an_impossible_birth_year() {
        let f = Fixture::new();
        let s = f.registered();
        let again = Command::RegisterClient {
            home_org: f.home,
            birth_year: None,
            identity: None,
        };
        assert!(matches!(
            f.refuse(&s, f.cm(), again),
            DecisionError::Conflict(_)
        ));

        let admin = Actor::new(f.home, Role::Admin);
        let ctx: Context<'_> = f.ctx_at(f.now);
        let unknown = OrgId(uuid::Uuid::from_u128(12345));
        let env = f.env(
            admin,
            Command::RegisterClient {
                home_org: unknown,
                birth_year: None,
                identity: None,
            },
        );
        assert_eq!(
            decide(None, &env, &ctx),
            Err(DecisionError::not_found("organization", unknown))
        );
        let env = f.env(
            f.cm(),
            Command::RegisterClient {
                home_org: f.home,
                birth_year: Some(1850),
                identity: None,
            },
        );
        assert!(matches!(
            decide(None, &env, &ctx),
            Err(DecisionError::BadInput(_))
        ));
    }

    #[test]
    fn admitting_places_the_client_arms_a_review_takes_a_slot_and_discloses_under_consent() {
        let f = Fixture::new();
        let s = f.consented();
        let consent = s.consents[0].id;
        let d = f.run(&s, f.cm(), admit(level("detox"), f.detox, 40.0));
        assert_eq!(types(&d), ["client.admitted"]);
        let seq = s.last_seq + 1;
        let episode = EpisodeId(EventId::for_seq(f.client, seq).0);
        assert_eq!(
            d.events[0].data,
            EventData::ClientAdmitted {
                episode,
                level: level("detox"),
                provider: f.detox,
                readmission: false,
                referral: None,
                overridden: vec![],
            }
        );
        assert_eq!(d.events[0].recipient_org, Some(f.detox));
        assert_eq!(d.state.status, ClientStatus::Active);
        assert_eq!(
            d.state.episode.as_ref().map(|e| (e.id, e.number)),
            Some((episode, 1))
        );
        let placement = d.state.placement.as_ref().unwrap();
        assert_eq!(
            (&placement.level, placement.provider),
            (&level("detox"), f.detox)
        );
        let key = format!("review:{episode}:{seq}");
        assert_eq!(placement.review_timer, key);
        // Withdrawal management is reviewed every 3 days.
        assert_eq!(
            d.timers,
            [TimerOp::Schedule {
                key,
                due_at: f.now + Duration::days(3),
                kind: TimerKind::ReviewDue {
                    episode,
                    level: level("detox")
                },
            }]
        );
        assert_eq!(
            d.occupancy,
            [OccupancyChange::occupy(f.detox, level("detox"), 1)]
        );
        assert_eq!(d.disclosures.len(), 1);
        assert_eq!(d.disclosures[0].consent, Some(consent));
        assert_eq!(d.disclosures[0].legal_basis, None);
        assert_eq!(d.disclosures[0].event, d.events[0].id);
    }

    #[test]
    fn admitting_is_refused_without_consent_outside_the_hours_band_or_when_already_in_care() {
        let f = Fixture::new();
        let s = f.registered();
        assert_eq!(
            f.refuse(&s, f.cm(), admit(level("detox"), f.detox, 40.0)),
            DecisionError::ConsentRequired {
                orgs: vec![f.detox]
            }
        );
        let s = f.consented();
        // Residential plans 5-60 h/week.
        assert!(matches!(
            f.refuse(&s, f.cm(), admit(level("residential"), f.residential, 80.0)),
            DecisionError::BadInput(_)
        ));
        assert!(matches!(
            f.refuse(&s, f.cm(), admit(level("residential"), f.detox, 30.0)),
            DecisionError::BadInput(_)
        ));
        let s = f.in_detox();
        assert!(matches!(
            f.refuse(&s, f.cm(), admit(level("residential"), f.residential, 30.0)),
            DecisionError::InvalidTransition { .. }
        ));
    }

    #[test]
    fn a_medical_emergency_admits_without_consent_only_where_medical_personnel_are() {
        let f = Fixture::new();
        let s = f.registered();
        let emergency = |level, provider, hours| Command::Admit {
            level,
            provider,
            planned_hours_per_week: hours,
            track: None,
            overrides: vec![],
            emergency: Some(MedicalEmergency {
                reason: "overdose".into(),
            }),
        };
        let d = f.run(&s, f.cm(), emergency(level("detox"), f.stranger, 40.0));
        assert_eq!(types(&d), ["client.admitted", "disclosure.emergency"]);
        assert_eq!(
            d.events[1].data,
            EventData::DisclosureEmergency {
                provider: f.stranger,
                level: level("detox"),
                event: d.events[0].id,
            }
        );
        assert_eq!(d.disclosures.len(), 1);
        assert_eq!(d.disclosures[0].consent, None);
        assert_eq!(
            d.disclosures[0].legal_basis.as_deref(),
            Some("medical emergency (42 CFR 2.51): overdose")
        );
        // Intensive outpatient is not where an emergency takes anyone, nor residential care
        // that may be 3.1 low-intensity residential, which has no medical personnel.
        assert!(
            f.pathway
                .level(&level("residential"))
                .unwrap()
                .asam3
                .contains(&"3.1".to_owned())
        );
        for (to, provider, hours) in [
            (level("iop"), f.iop, 10.0),
            (level("residential"), f.stranger, 30.0),
        ] {
            match f.refuse(&s, f.cm(), emergency(to.clone(), provider, hours)) {
                DecisionError::BadInput(m) => {
                    assert!(m.contains("medical emergency"), "{m}");
                    assert!(m.contains("medical personnel"), "{m}");
                }
                e => panic!("{to}: {e:?}"),
            }
        }
        // A pathway whose residential level is 3.7, medically monitored, says it has medical
        // personnel: the emergency may go there.
        let mut monitored = Fixture::new();
        let l = monitored
            .pathway
            .levels
            .iter_mut()
            .find(|l| l.id == level("residential"))
            .unwrap();
        (l.asam3, l.asam4, l.medical_personnel) = (vec!["3.7".into()], vec![], true);
        let d = monitored.run(
            &s,
            f.cm(),
            emergency(level("residential"), f.stranger, 30.0),
        );
        assert_eq!(types(&d), ["client.admitted", "disclosure.emergency"]);
    }

    #[test]
    fn a_step_down_starts_a_handoff_that_holds_the_slot_until_the_provider_confirms_arrival() {
        let f = Fixture::new();
        let s = f.accepted();
        let referral = s.referrals[0].id;
        let episode = s.episode.as_ref().unwrap().id;
        let old_review = s.placement.as_ref().unwrap().review_timer.clone();
        let d = f.run(
            &s,
            f.cm(),
            transition(TransitionKind::StepDown, level("residential"), None, 30.0),
        );
        assert_eq!(types(&d), ["handoff.started"]);
        // Residential care gives two days to arrive.
        let arrive_by = f.now + Duration::days(2);
        match &d.events[0].data {
            EventData::HandoffStarted {
                from_level,
                to_level,
                from_provider,
                to_provider,
                referral: used,
                arrive_by: by,
                overridden,
                ..
            } => {
                assert_eq!(
                    (from_level, to_level),
                    (&level("detox"), &level("residential"))
                );
                assert_eq!((*from_provider, *to_provider), (f.detox, f.residential));
                assert_eq!(*used, Some(referral));
                assert_eq!(*by, arrive_by);
                assert!(overridden.is_empty());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(d.events[0].recipient_org, Some(f.residential));
        assert_eq!(d.state.status, ClientStatus::InTransit);
        assert_eq!(d.state.placement, None);
        assert_eq!(d.state.referrals[0].status, ReferralStatus::Scheduled);
        assert_eq!(d.state.handoff, None);
        let seq = s.last_seq + 1;
        let arrival_key = format!("arrival:{episode}:{seq}");
        assert_eq!(
            d.timers,
            [
                TimerOp::Cancel { key: old_review },
                TimerOp::Cancel {
                    key: format!("hold:{referral}")
                },
                TimerOp::Schedule {
                    key: arrival_key.clone(),
                    due_at: arrive_by,
                    kind: TimerKind::ArrivalDeadline {
                        episode,
                        departed_seq: seq
                    },
                },
            ]
        );
        // The detox bed frees; the residential slot stays held (since the acceptance).
        assert_eq!(
            d.occupancy,
            [OccupancyChange::occupy(f.detox, level("detox"), -1)]
        );
        assert_eq!(d.disclosures.len(), 1);
        assert_eq!(d.disclosures[0].recipient, f.residential);
        // On the way, the client cannot move again.
        assert!(matches!(
            f.refuse(
                &d.state,
                f.cm(),
                transition(TransitionKind::StepDown, level("iop"), Some(f.iop), 12.0)
            ),
            DecisionError::InvalidTransition { .. }
        ));
        // Only the provider the client is going to confirms (another is told nothing).
        assert_eq!(
            f.refuse(
                &d.state,
                f.partner(f.residential2),
                Command::ConfirmArrival { relayed_by: None }
            ),
            DecisionError::not_found("client", f.client)
        );

        let arrived = f.run(
            &d.state,
            f.partner(f.residential),
            Command::ConfirmArrival { relayed_by: None },
        );
        assert_eq!(types(&arrived), ["transition.completed"]);
        match &arrived.events[0].data {
            EventData::TransitionCompleted {
                from_level,
                to_level,
                to_provider,
                referral: used,
                ..
            } => {
                assert_eq!(
                    (from_level, to_level, *to_provider, *used),
                    (
                        &level("detox"),
                        &level("residential"),
                        f.residential,
                        Some(referral)
                    )
                );
            }
            other => panic!("{other:?}"),
        }
        let s = &arrived.state;
        assert_eq!(s.status, ClientStatus::Active);
        assert_eq!(s.transit, None);
        let placement = s.placement.as_ref().unwrap();
        assert_eq!(
            (&placement.level, placement.provider),
            (&level("residential"), f.residential)
        );
        assert_eq!(s.referrals[0].status, ReferralStatus::Completed);
        // The held slot becomes occupancy.
        assert_eq!(
            arrived.occupancy,
            [
                OccupancyChange::hold(f.residential, level("residential"), -1),
                OccupancyChange::occupy(f.residential, level("residential"), 1),
            ]
        );
        assert_eq!(arrived.timers[0], TimerOp::Cancel { key: arrival_key });
        assert!(matches!(
            &arrived.timers[1],
            TimerOp::Schedule { kind: TimerKind::ReviewDue { level: l, .. }, .. }
                if *l == level("residential")
        ));
        // Nothing to confirm twice.
        assert!(matches!(
            f.refuse(s, f.cm(), Command::ConfirmArrival { relayed_by: None }),
            DecisionError::InvalidTransition { .. }
        ));
        assert_eq!(
            f.refuse(
                s,
                f.partner(f.residential),
                Command::ConfirmArrival { relayed_by: None }
            ),
            DecisionError::not_found("client", f.client)
        );
    }

    #[test]
    fn a_missed_arrival_frees_the_slot_and_counts_the_client_lost_until_they_arrive_late() {
        let f = Fixture::new();
        let s = f.accepted();
        let referral = s.referrals[0].id;
        let s = f
            .run(
                &s,
                f.cm(),
                transition(TransitionKind::StepDown, level("residential"), None, 30.0),
            )
            .state;
        let t = s.transit.clone().unwrap();
        let late = t.arrive_by + Duration::minutes(1);
        let missed = f.run_at(
            late,
            &s,
            f.system(),
            Command::FireTimer {
                timer: TimerKind::ArrivalDeadline {
                    episode: s.episode.as_ref().unwrap().id,
                    departed_seq: s.last_seq,
                },
            },
        );
        assert_eq!(types(&missed), ["handoff.missed", "client.lost_to_care"]);
        assert!(matches!(
            missed.events[0].data,
            EventData::HandoffMissed {
                reason: MissReason::Deadline,
                ..
            }
        ));
        assert_eq!(
            missed.events[1].data,
            EventData::ClientLostToCare {
                reason: LostReason::MissedArrival
            }
        );
        assert_eq!(
            missed.occupancy,
            [OccupancyChange::hold(
                f.residential,
                level("residential"),
                -1
            )]
        );
        let s = missed.state;
        assert_eq!(s.referral(referral).unwrap().status, ReferralStatus::NoShow);
        assert!(s.transit.as_ref().unwrap().missed);
        assert_eq!(s.status, ClientStatus::InTransit);
        // A second deadline or no-show report finds nothing left to miss.
        assert!(matches!(
            f.refuse_at(
                late,
                &s,
                f.partner(f.residential),
                Command::ReportNoShow { relayed_by: None }
            ),
            DecisionError::Conflict(_)
        ));
        // The client turns up a day late: the provider takes them if a slot is open.
        let arrived = f.run_at(
            late + Duration::days(1),
            &s,
            f.partner(f.residential),
            Command::ConfirmArrival { relayed_by: None },
        );
        // Back in residential care within the window of the exit the missed handoff was:
        // only the last exit counts, so its checks are superseded.
        assert_eq!(
            types(&arrived),
            [
                "transition.completed",
                "followup.superseded",
                "followup.superseded",
                "client.reengaged"
            ]
        );
        assert_eq!(
            arrived.occupancy,
            [OccupancyChange::occupy(
                f.residential,
                level("residential"),
                1
            )]
        );
        assert_eq!(arrived.state.lost_to_care, None);
        assert_eq!(
            arrived.state.referral(referral).unwrap().status,
            ReferralStatus::Completed
        );
    }

    #[test]
    fn after_a_reported_no_show_the_client_may_be_sent_elsewhere_or_discharged() {
        let f = Fixture::new();
        let s = f.accepted();
        let s = f
            .run(
                &s,
                f.cm(),
                transition(TransitionKind::StepDown, level("residential"), None, 30.0),
            )
            .state;
        let d = f.run(
            &s,
            f.partner(f.residential),
            Command::ReportNoShow { relayed_by: None },
        );
        assert_eq!(types(&d), ["handoff.missed", "client.lost_to_care"]);
        assert!(matches!(
            d.timers[0],
            TimerOp::Cancel { ref key } if key.starts_with("arrival:")
        ));
        let s = d.state;
        // From where they left (detox), to the other residential program, by a supervisor
        // who vouches for the bed: a new handoff.
        let reroute = Command::Transition {
            kind: TransitionKind::StepDown,
            to_level: level("residential"),
            provider: Some(f.residential2),
            planned_hours_per_week: 30.0,
            track: None,
            overrides: vec![GateOverride {
                gate: Gate::AcceptedReferral,
                reason: "bed confirmed by phone".into(),
            }],
            emergency: None,
        };
        let d2 = f.run(&s, f.supervisor(), reroute);
        assert_eq!(types(&d2), ["handoff.started"]);
        // No referral: the move holds a slot of its own.
        assert_eq!(
            d2.occupancy,
            [OccupancyChange::hold(
                f.residential2,
                level("residential"),
                1
            )]
        );
        assert_eq!(d2.state.transit.as_ref().unwrap().provider, f.residential2);
        // Or discharged from the way: nothing to release after the miss.
        let gone = f.run(&s, f.cm(), discharge(DischargeKind::Administrative));
        assert_eq!(types(&gone), ["discharge.unplanned"]);
        assert!(gone.occupancy.is_empty());
        assert_eq!(gone.state.transit, None);
        assert_eq!(gone.state.status, ClientStatus::Discharged);
        // Discharged on the way before any miss: the hold and the referral are released.
        let s = f
            .run(
                &f.accepted(),
                f.cm(),
                transition(TransitionKind::StepDown, level("residential"), None, 30.0),
            )
            .state;
        let gone = f.run(&s, f.cm(), discharge(DischargeKind::AgainstMedicalAdvice));
        assert_eq!(types(&gone), ["referral.withdrawn", "discharge.unplanned"]);
        assert_eq!(
            gone.occupancy,
            [OccupancyChange::hold(
                f.residential,
                level("residential"),
                -1
            )]
        );
    }

    #[test]
    fn a_transfer_out_is_followed_until_the_receiving_organization_confirms_the_arrival() {
        let f = Fixture::new();
        let s = f.in_detox();
        let episode = s.episode.as_ref().unwrap().id;
        let transfer = Command::Discharge {
            kind: DischargeKind::TransferOut,
            provider: Some(f.residential2),
            overrides: vec![],
        };
        let d = f.run(&s, f.cm(), transfer);
        assert_eq!(types(&d), ["discharge.completed"]);
        let arrive_by = f.now + Duration::days(7);
        assert!(d.timers.contains(&TimerOp::Schedule {
            key: format!("transfer:{episode}"),
            due_at: arrive_by,
            kind: TimerKind::TransferDeadline { episode },
        }));
        let s = d.state;
        assert_eq!(
            s.transfer.as_ref().map(|t| t.provider),
            Some(f.residential2)
        );
        assert_eq!(
            f.refuse(
                &s,
                f.partner(f.residential),
                Command::ConfirmArrival { relayed_by: None }
            ),
            DecisionError::not_found("client", f.client)
        );
        let arrived = f.run(
            &s,
            f.partner(f.residential2),
            Command::ConfirmArrival { relayed_by: None },
        );
        assert_eq!(types(&arrived), ["transfer.arrived"]);
        assert_eq!(
            arrived.timers,
            [TimerOp::Cancel {
                key: format!("transfer:{episode}")
            }]
        );
        assert_eq!(arrived.state.transfer, None);
        // Never confirmed: missed at the deadline, the client lost to care.
        let missed = f.run_at(
            arrive_by,
            &s,
            f.system(),
            Command::FireTimer {
                timer: TimerKind::TransferDeadline { episode },
            },
        );
        assert_eq!(types(&missed), ["handoff.missed", "client.lost_to_care"]);
        assert!(matches!(
            missed.events[0].data,
            EventData::HandoffMissed { to_level: None, .. }
        ));
        // The stale deadline after the arrival changes nothing.
        assert!(matches!(
            f.refuse_at(
                arrive_by,
                &arrived.state,
                f.system(),
                Command::FireTimer {
                    timer: TimerKind::TransferDeadline { episode },
                },
            ),
            DecisionError::StaleTimer(_)
        ));
    }

    #[test]
    fn a_move_within_one_organization_completes_at_once() {
        let f = Fixture::new();
        let s = f.in_detox();
        // The same residential program, another track: a lateral move, no transit.
        let s = f
            .run(
                &s,
                f.supervisor(),
                Command::Transition {
                    kind: TransitionKind::StepDown,
                    to_level: level("residential"),
                    provider: Some(f.residential),
                    planned_hours_per_week: 30.0,
                    track: None,
                    overrides: vec![GateOverride {
                        gate: Gate::AcceptedReferral,
                        reason: "bed confirmed by phone".into(),
                    }],
                    emergency: None,
                },
            )
            .state;
        let s = f
            .run(
                &s,
                f.partner(f.residential),
                Command::ConfirmArrival { relayed_by: None },
            )
            .state;
        let d = f.run(
            &s,
            f.cm(),
            Command::Transition {
                kind: TransitionKind::Lateral,
                to_level: level("residential"),
                provider: Some(f.residential),
                planned_hours_per_week: 30.0,
                track: Some("evening".into()),
                overrides: vec![],
                emergency: None,
            },
        );
        assert_eq!(types(&d), ["transition.completed"]);
        assert_eq!(d.state.status, ClientStatus::Active);
        assert_eq!(d.state.transit, None);
        assert_eq!(
            d.state.placement.as_ref().unwrap().track.as_deref(),
            Some("evening")
        );
        // Occupancy nets to nothing at that provider and level.
        assert_eq!(
            d.occupancy,
            [
                OccupancyChange::occupy(f.residential, level("residential"), -1),
                OccupancyChange::occupy(f.residential, level("residential"), 1),
            ]
        );
    }

    #[test]
    fn a_step_down_without_an_accepted_referral_is_unmet_and_the_consent_gate_cannot_be_overridden()
    {
        let f = Fixture::new();
        let s = f.in_detox();
        for provider in [None, Some(f.residential)] {
            match f.refuse(
                &s,
                f.cm(),
                transition(
                    TransitionKind::StepDown,
                    level("residential"),
                    provider,
                    30.0,
                ),
            ) {
                DecisionError::GateUnmet { unmet } => {
                    assert_eq!(
                        unmet.iter().map(|r| (r.gate, r.met)).collect::<Vec<_>>(),
                        [(Gate::AcceptedReferral, false)]
                    );
                }
                e => panic!("{e:?}"),
            }
        }
        let overriding = |gate, reason: &str| Command::Transition {
            kind: TransitionKind::StepDown,
            to_level: level("residential"),
            provider: Some(f.residential),
            planned_hours_per_week: 30.0,
            track: None,
            overrides: vec![GateOverride {
                gate,
                reason: reason.into(),
            }],
            emergency: None,
        };
        let held = "bed held by phone";
        // Not the consent gate, not a gate the move does not require, not without a reason.
        for command in [
            overriding(Gate::Consent, held),
            overriding(Gate::Reassessment, held),
            overriding(Gate::AcceptedReferral, "  "),
        ] {
            assert!(matches!(
                f.refuse(&s, f.supervisor(), command),
                DecisionError::BadInput(_)
            ));
        }
        // A supervisor may let it through without the referral; the override is recorded.
        let d = f.run(&s, f.supervisor(), overriding(Gate::AcceptedReferral, held));
        match &d.events[0].data {
            EventData::HandoffStarted {
                referral,
                overridden,
                ..
            } => {
                assert_eq!(*referral, None);
                assert_eq!(overridden.len(), 1);
                assert_eq!(overridden[0].gate, Gate::AcceptedReferral);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unplanned_discharge_is_never_blocked_withdraws_referrals_and_arms_followups() {
        let f = Fixture::new();
        let s = f.referred();
        let referral = s.referrals[0].id;
        let episode = s.episode.as_ref().unwrap().id;
        let review = s.placement.as_ref().unwrap().review_timer.clone();
        let d = f.run(&s, f.cm(), discharge(DischargeKind::AgainstMedicalAdvice));
        assert_eq!(types(&d), ["referral.withdrawn", "discharge.unplanned"]);
        assert!(matches!(
            d.events[1].data,
            EventData::DischargeUnplanned { at_risk: true, .. }
        ));
        assert_eq!(d.state.status, ClientStatus::Discharged);
        assert_eq!(d.state.placement, None);
        assert_eq!(
            d.state.referrals[0].withdraw_reason,
            Some(WithdrawReason::ClientDischarged)
        );
        let record = d.state.last_discharge.as_ref().unwrap();
        assert_eq!(
            (record.episode, &record.from_level),
            (episode, &level("detox"))
        );
        let exit = Some(d.events[1].id);
        assert_eq!(
            d.timers,
            [
                TimerOp::Cancel { key: review },
                TimerOp::Cancel {
                    key: format!("referral:{referral}")
                },
                // Leaving withdrawal management starts the follow-up checks (HEDIS FUI).
                TimerOp::Schedule {
                    key: format!("followup:{episode}:{}:7", d.state.last_seq),
                    due_at: crate::gates::followup_due(f.now.date_naive(), 7),
                    kind: TimerKind::Followup {
                        episode,
                        days: 7,
                        since: Some(f.now),
                        exit,
                    },
                },
                TimerOp::Schedule {
                    key: format!("followup:{episode}:{}:30", d.state.last_seq),
                    due_at: crate::gates::followup_due(f.now.date_naive(), 30),
                    kind: TimerKind::Followup {
                        episode,
                        days: 30,
                        since: Some(f.now),
                        exit,
                    },
                },
            ]
        );
        assert_eq!(
            d.occupancy,
            [OccupancyChange::occupy(f.detox, level("detox"), -1)]
        );
    }

    #[test]
    fn a_planned_discharge_needs_aftercare_and_an_unplanned_one_has_nothing_to_override() {
        let f = Fixture::new();
        let s = f.in_detox();
        match f.refuse(&s, f.cm(), discharge(DischargeKind::Planned)) {
            DecisionError::GateUnmet { unmet } => {
                assert_eq!(
                    unmet.iter().map(|r| r.gate).collect::<Vec<_>>(),
                    [Gate::AftercareAppointment]
                );
            }
            e => panic!("{e:?}"),
        }
        let unplanned = Command::Discharge {
            kind: DischargeKind::Administrative,
            provider: None,
            overrides: vec![GateOverride {
                gate: Gate::MatContinuity,
                reason: "none".into(),
            }],
        };
        assert!(matches!(
            f.refuse(&s, f.supervisor(), unplanned),
            DecisionError::BadInput(_)
        ));
        let transfer = discharge(DischargeKind::TransferOut);
        assert!(matches!(
            f.refuse(&s, f.cm(), transfer),
            DecisionError::BadInput(_)
        ));
    }

    #[test]
    fn a_readmission_needs_a_reassessment_and_opens_a_second_episode() {
        let f = Fixture::new();
        let s = f.in_detox();
        let s = f
            .run(&s, f.cm(), discharge(DischargeKind::AgainstMedicalAdvice))
            .state;
        match f.refuse(&s, f.cm(), admit(level("detox"), f.detox, 40.0)) {
            DecisionError::GateUnmet { unmet } => {
                assert_eq!(unmet[0].gate, Gate::Reassessment);
            }
            e => panic!("{e:?}"),
        }
        // The consent signed before the first admission ended with that treatment: a new
        // one for the readmission.
        let consent = Command::RecordConsent {
            recipients: vec![f.detox],
            purpose: "treatment".into(),
            information: "placement and referrals".into(),
            expiry: ConsentExpiry::Never,
            signed_on: f.today(),
        };
        let s = f.run(&s, f.cm(), consent).state;
        let s = f
            .run(
                &s,
                f.cm(),
                Command::RecordAssessment {
                    recommended_level: level("detox"),
                    dimensions: [3, 2, 1, 1, 2, 2],
                    assessed_at: None,
                },
            )
            .state;
        let d = f.run(&s, f.cm(), admit(level("detox"), f.detox, 40.0));
        assert!(matches!(
            d.events[0].data,
            EventData::ClientAdmitted {
                readmission: true,
                ..
            }
        ));
        assert_eq!(d.state.episode.as_ref().unwrap().number, 2);
        assert_eq!(d.state.status, ClientStatus::Active);
    }

    fn relayed(note: &str) -> Option<RelayedBy> {
        Some(RelayedBy { note: note.into() })
    }

    #[test]
    fn an_arrival_is_the_receivers_to_confirm_or_the_senders_to_relay_saying_who_reported_it() {
        let f = Fixture::new();
        let s = f.accepted();
        let referral = s.referrals[0].id;
        let s = f
            .run(
                &s,
                f.cm(),
                transition(TransitionKind::StepDown, level("residential"), None, 30.0),
            )
            .state;
        // The sender's click alone does not close the loop: it must say who reported it.
        for (actor, relayed_by) in [
            (f.cm(), None),
            (f.cm(), relayed("   ")),
            (f.cm(), relayed("a\u{0}b")),
            (f.partner(f.residential), relayed("our own intake desk")),
        ] {
            assert!(matches!(
                f.refuse(&s, actor, Command::ConfirmArrival { relayed_by }),
                DecisionError::BadInput(_)
            ));
        }
        let note = "phone call from intake nurse J. at Riverside";
        let by_phone = f.run(
            &s,
            f.cm(),
            Command::ConfirmArrival {
                relayed_by: relayed(note),
            },
        );
        let arrival = &by_phone.events[0];
        assert!(matches!(
            arrival.data,
            EventData::TransitionCompleted {
                reported_by: Some(ReportedBy::Relayed),
                ..
            }
        ));
        // The note stays in the record, never in the event.
        assert!(!format!("{arrival:?}").contains("Riverside"));
        let kept = &by_phone.state.relayed_reports;
        assert_eq!(kept.len(), 1);
        assert_eq!(
            (
                kept[0].event,
                kept[0].org,
                kept[0].staff,
                kept[0].note.as_str()
            ),
            (arrival.id, f.home, Some(f.dana()), note)
        );
        assert!(!format!("{kept:?}").contains("Riverside"));
        let closed = by_phone.state.referral(referral).unwrap();
        assert_eq!(
            (closed.status, closed.closed_by),
            (ReferralStatus::Completed, Some(ReportedBy::Relayed))
        );
        // The receiving provider confirms in its own name.
        let confirmed = f.run(
            &s,
            f.partner(f.residential),
            Command::ConfirmArrival { relayed_by: None },
        );
        assert!(matches!(
            confirmed.events[0].data,
            EventData::TransitionCompleted {
                reported_by: Some(ReportedBy::Receiver),
                ..
            }
        ));
        assert!(confirmed.state.relayed_reports.is_empty());
        assert_eq!(
            confirmed.state.referral(referral).unwrap().closed_by,
            Some(ReportedBy::Receiver)
        );
        // A no-show, the same way.
        let missed = f.run(
            &s,
            f.cm(),
            Command::ReportNoShow {
                relayed_by: relayed("voicemail from Riverside's front desk"),
            },
        );
        assert!(matches!(
            missed.events[0].data,
            EventData::HandoffMissed {
                reason: MissReason::NoShow,
                reported_by: Some(ReportedBy::Relayed),
                ..
            }
        ));
        assert_eq!(missed.state.relayed_reports.len(), 1);
    }

    #[test]
    fn admission_on_an_accepted_referral_completes_it_only_when_the_receiver_admits() {
        let f = Fixture::new();
        let s = f.consented();
        let s = f
            .run(
                &s,
                f.cm(),
                Command::SendReferral {
                    to_level: level("detox"),
                    providers: vec![f.detox],
                },
            )
            .state;
        let referral = s.referrals[0].id;
        let s = f
            .run(&s, f.partner(f.detox), Command::AcceptReferral { referral })
            .state;
        // The sender admits the client there: the referral's loop is not closed by it.
        let by_sender = f.run(&s, f.cm(), admit(level("detox"), f.detox, 40.0));
        assert!(matches!(
            by_sender.events[0].data,
            EventData::ClientAdmitted { referral: None, .. }
        ));
        let r = by_sender.state.referral(referral).unwrap();
        assert_eq!(
            (r.status, r.withdraw_reason, r.closed_by),
            (
                ReferralStatus::Withdrawn,
                Some(WithdrawReason::ClientMoved),
                None
            )
        );
        // The slot the referral held is released; the admission takes one.
        assert_eq!(
            by_sender
                .occupancy
                .iter()
                .fold((0, 0), |(o, h), c| (o + c.occupied, h + c.held)),
            (1, -1)
        );
        // The receiving organization admitting the client itself completes it.
        let receiver = Actor::new(f.detox, Role::Admin);
        let by_receiver = f.run(&s, receiver, admit(level("detox"), f.detox, 40.0));
        assert!(matches!(
            by_receiver.events[0].data,
            EventData::ClientAdmitted {
                referral: Some(r),
                ..
            } if r == referral
        ));
        let r = by_receiver.state.referral(referral).unwrap();
        assert_eq!(
            (r.status, r.closed_by),
            (ReferralStatus::Completed, Some(ReportedBy::Receiver))
        );
    }
}
