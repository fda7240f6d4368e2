//! Telling the person who must act (`domain::notify` decides who is told what). The notices
//! of a decision are written in its transaction ([`Engine::execute`] calls
//! [`Engine::notices_of`]); here is the rest of their course: scheduled ones told or dropped
//! at their time and silence escalated ([`Engine::tell_due_notices`], by the sweeper and at
//! every step of a skipped clock), a person's notification center (their notices, what they
//! read), the deliveries each notice makes and their results (for the notifier's e-mail and
//! webhooks), and the choices behind them — an organization's rules and webhooks, a person's
//! e-mail preferences and quiet hours.
//!
//! What leaves for e-mail or a webhook is a [`Message`]: the notice's kind, its moment and its
//! id for the link, and nothing about the client (42 CFR Part 2: saying that someone is a
//! client is a disclosure). Whoever follows the link signs in, and what they then read is the
//! view their standing gives, accounted as every read is.

use crate::dom::notify::{
    self, Addressee, EmailMode, Notice, NoticeFacts, NoticeKind, QuietHours, Rule, Rules, Scene,
    Settled, StoredNotice, Who,
};
use crate::dom::{Actor, Decision, Role};
use crate::engine::Engine;
use crate::error::Error;
use crate::ids::{ClientId, NoticeId, OrgId, ReferralId, StaffId};
use crate::store::{
    DeliveryOutcome, NewDelivery, NewNotice, NoticeRecord, Reader, Recipient, StoreError,
    WebhookRecord,
};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use uuid::Uuid;

/// How long the rules are kept before they are read again (a change made in this process is
/// seen at once).
const RULES_TTL: std::time::Duration = std::time::Duration::from_secs(30);
/// How many failed calls in a row turn an organization's webhook off.
pub const WEBHOOK_FAILURE_LIMIT: i32 = 8;
/// How long a claimed delivery is the claimer's before another sender may take it.
const DELIVERY_LEASE: i64 = 60;
/// The longest pause between attempts of one delivery.
const LONGEST_RETRY: i64 = 15 * 60;
/// The most notices a person's center lists.
pub const NOTICES_LISTED: u64 = 100;

/// One notice as its reader sees it in their notification center.
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    pub id: NoticeId,
    pub kind: NoticeKind,
    /// When it was told.
    pub at: DateTime<Utc>,
    /// The moment that matters (the referral's expiry, the arrival deadline …).
    pub due: Option<DateTime<Utc>>,
    pub read_at: Option<DateTime<Utc>>,
    /// Someone acted on it: it no longer calls for anyone.
    pub resolved: bool,
    /// Nobody opened it in time: it went on to the supervisors too.
    pub escalated: bool,
    /// Where acting on it starts.
    pub about: About,
}

/// What a notice is about, for its link: the door that opens it decides what the reader
/// sees there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum About {
    Referral {
        client: ClientId,
        referral: ReferralId,
    },
    Client(ClientId),
    /// The organization's own settings (a webhook turned off).
    Organization,
}

/// What leaves for e-mail or a webhook: no client, no level, no program.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub notice: NoticeId,
    pub kind: NoticeKind,
    pub at: DateTime<Utc>,
    pub due: Option<DateTime<Utc>>,
}

/// Where a delivery goes.
#[derive(Clone, PartialEq)]
pub enum Destination {
    Email {
        address: String,
    },
    Webhook {
        id: Uuid,
        url: String,
        secret: String,
    },
}

impl std::fmt::Debug for Destination {
    /// Neither an address nor a secret in a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Email { .. } => f.write_str("Email { .. }"),
            Destination::Webhook { id, .. } => write!(f, "Webhook {{ id: {id}, .. }}"),
        }
    }
}

/// A delivery claimed for sending: report it back with [`Engine::delivery_done`].
#[derive(Clone, Debug, PartialEq)]
pub struct Dispatch {
    pub delivery: Uuid,
    pub attempt: i32,
    pub to: Destination,
    pub message: Message,
}

/// Why a delivery failed: `permanent` when trying again cannot help (an address refused for
/// good); otherwise it is tried again later — an outage delays, never drops.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryFailure {
    pub permanent: bool,
    /// What the server said (no message body, no address).
    pub why: String,
}

/// An organization's webhook as its admins see it (the secret only when it is made).
#[derive(Clone, Debug, PartialEq)]
pub struct Webhook {
    pub id: Uuid,
    pub url: String,
    pub enabled: bool,
    pub failures: i32,
    pub disabled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// One kind of notice as an organization has it.
#[derive(Clone, Debug, PartialEq)]
pub struct NoticeRuleView {
    pub kind: NoticeKind,
    /// The organization told nobody of this kind.
    pub off: bool,
    /// Its own silence deadline (`Some(None)`: never escalates); `None`: the default.
    pub own_escalation: Option<Option<Duration>>,
    /// The default deadline, as data for the page to say.
    pub default_escalation: notify::DefaultEscalation,
}

/// A person's e-mail choices.
#[derive(Clone, Debug, PartialEq)]
pub struct EmailPreferences {
    pub modes: Vec<(NoticeKind, EmailMode)>,
    pub quiet: Option<QuietHours>,
}

/// What one pass of [`Engine::tell_due_notices`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoticeSweep {
    pub told: usize,
    pub dropped: usize,
    pub escalated: usize,
}

/// One delivery as the record of what was sent (for admins and audits).
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryRecord {
    pub notice: NoticeId,
    pub channel: String,
    pub status: String,
    pub attempts: i32,
    pub sent_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

pub(crate) type RulesCache = std::sync::Mutex<Option<(Arc<Rules>, std::time::Instant)>>;

fn corrupt(what: &str) -> Error {
    Error::Storage(StoreError::Corrupt(what.into()))
}

fn kind_of(r: &NoticeRecord) -> Result<NoticeKind, Error> {
    NoticeKind::parse(&r.kind).ok_or_else(|| corrupt("notice kind"))
}

fn addressee_of(r: &NoticeRecord) -> Result<Addressee, Error> {
    let who = match (r.staff, r.role.as_deref()) {
        (Some(p), _) => Who::Person(p),
        (None, Some(role)) => Who::Role(Role::parse(role).ok_or_else(|| corrupt("notice role"))?),
        (None, None) => return Err(corrupt("notice addressee")),
    };
    Ok(Addressee { org: r.org, who })
}

fn new_notice(n: &Notice) -> NewNotice {
    let (role, staff) = match n.to.who {
        Who::Role(r) => (Some(r.as_str()), None),
        Who::Person(p) => (None, Some(p)),
    };
    NewNotice {
        id: n.id,
        kind: n.kind.as_str(),
        org: n.to.org,
        role,
        staff,
        client: n.client,
        referral: n.referral,
        due_at: n.due,
        escalates: n.escalates,
    }
}

/// The person behind an actor, or no notices at all.
fn reader(actor: &Actor) -> Result<Reader<'static>, Error> {
    let staff = actor
        .staff
        .ok_or_else(|| Error::Forbidden("notifications are a person's".into()))?;
    Ok(Reader {
        org: actor.org,
        role: actor.role.as_str(),
        staff,
    })
}

fn admin_of(actor: &Actor, what: &str) -> Result<OrgId, Error> {
    crate::dom::policy::administer(actor, what)?;
    Ok(actor.org)
}

impl Engine {
    /// The rules in force (cached for [`RULES_TTL`]).
    async fn notice_rules(&self) -> Result<Arc<Rules>, Error> {
        if let Some((rules, at)) = self.rules_cache().lock().expect("rules cache").as_ref()
            && at.elapsed() < RULES_TTL
        {
            return Ok(rules.clone());
        }
        let mut rules = Rules::default();
        for (org, kind, off, minutes) in self.store().notice_rules().await? {
            let Some(kind) = NoticeKind::parse(&kind) else {
                continue;
            };
            rules.own.insert(
                (org, kind),
                Rule {
                    off,
                    escalate_after: minutes.map(|m| (m > 0).then(|| Duration::minutes(m.into()))),
                },
            );
        }
        let rules = Arc::new(rules);
        *self.rules_cache().lock().expect("rules cache") =
            Some((rules.clone(), std::time::Instant::now()));
        Ok(rules)
    }

    /// The notices a decision raises and the client's notices it settles, written with it.
    pub(crate) async fn notices_of(
        &self,
        decision: &Decision,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Notice>, Vec<Settled>), Error> {
        if decision.events.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let rules = self.notice_rules().await?;
        // Which organizations coordinate care matters only to an event that may leave the
        // record holder (`audience` is empty otherwise): most decisions need no org read.
        let coordinating = if decision.events.iter().any(crate::dom::audience::may_leave) {
            self.coordinating_orgs(std::iter::once(&decision.state))
                .await?
        } else {
            Default::default()
        };
        let pathway = self.pathway();
        let raised = notify::notices(
            &decision.events,
            &Scene {
                state: &decision.state,
                pathway,
                rules: &rules,
                coordinating: &coordinating,
                now,
            },
        );
        // What the decision raises is not what it settles (the backends write the two in a
        // different order: the same row in both would end differently).
        let settled = notify::settled(&decision.events, &decision.state, pathway, now)
            .into_iter()
            .filter(|x| {
                !raised
                    .iter()
                    .any(|n| n.kind == x.kind && (x.referral.is_none() || n.referral == x.referral))
            })
            .collect();
        Ok((raised, settled))
    }

    /// Tell the scheduled notices whose time came — each only if it still applies to the
    /// client as it is now, else it is dropped — and escalate every open notice nobody
    /// opened or acted on by its silence deadline (once, recorded on both). The sweeper runs
    /// it; so does every step of a skipped clock.
    pub async fn tell_due_notices(&self) -> Result<NoticeSweep, Error> {
        let now = self.clock().now();
        let mut sweep = NoticeSweep::default();
        let pathway = self.pathway();
        loop {
            let due = self.store().scheduled_notices_due(now, 200).await?;
            if due.is_empty() {
                break;
            }
            let batch = due.len();
            for n in due {
                let kind = kind_of(&n)?;
                let state = match n.client {
                    Some(c) => self.store().load_client(c).await?,
                    None => None,
                };
                let still = state.as_ref().is_some_and(|s| {
                    notify::applies(
                        &NoticeFacts {
                            kind,
                            referral: n.referral,
                            due: n.due_at,
                            show_at: now,
                        },
                        s,
                        pathway,
                    )
                });
                if self.store().tell_scheduled(n.id, still, now).await? {
                    if still {
                        sweep.told += 1;
                    } else {
                        sweep.dropped += 1;
                    }
                }
            }
            if batch < 200 {
                break;
            }
        }
        for n in self.store().silent_notices(now, 500).await? {
            let stored = StoredNotice {
                id: n.id,
                kind: kind_of(&n)?,
                to: addressee_of(&n)?,
                client: n.client,
                referral: n.referral,
                due: n.due_at,
            };
            let escalation = notify::escalation(&stored, now);
            if self
                .store()
                .escalate_notice(n.id, &new_notice(&escalation), now)
                .await?
            {
                tracing::info!(notice = %n.id, kind = %stored.kind, "notice escalated on silence");
                sweep.escalated += 1;
            }
        }
        if sweep.told + sweep.escalated > 0 {
            self.notices_changed();
        }
        Ok(sweep)
    }

    /// The next moment after `after` (up to `until`) a notice is to be told or escalated.
    pub(crate) async fn next_notice_after(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, Error> {
        Ok(self.store().next_notice_after(after, until).await?)
    }

    // ---- a person's notification center ------------------------------------------------------

    /// The signed-in person's notices, newest first (at most [`NOTICES_LISTED`]).
    pub async fn notifications(&self, actor: &Actor) -> Result<Vec<Notification>, Error> {
        let reader = reader(actor)?;
        self.store()
            .notices_for(reader, NOTICES_LISTED)
            .await?
            .into_iter()
            .map(|p| notification(&p.notice, p.read_at))
            .collect()
    }

    /// How many of the person's notices they have not read.
    pub async fn unread_notifications(&self, actor: &Actor) -> Result<u64, Error> {
        let reader = reader(actor)?;
        Ok(self.store().unread_notices(reader, NOTICES_LISTED).await?)
    }

    /// The person opens one of their notices: it is read (by them, and first read then
    /// unless someone read it before — which stops its escalation). Another's notice, or no
    /// notice, is `NotFound` alike.
    pub async fn open_notification(
        &self,
        actor: &Actor,
        id: NoticeId,
    ) -> Result<Notification, Error> {
        let reader = reader(actor)?;
        let not_found = || Error::NotFound(format!("notification {id}"));
        let n = self.store().notice(id).await?.ok_or_else(not_found)?;
        let to = addressee_of(&n)?;
        if n.status != "open" || !to.includes(reader.org, actor.role, reader.staff) {
            return Err(not_found());
        }
        let now = self.clock().now();
        self.store().mark_notice_read(id, reader.staff, now).await?;
        self.notices_changed();
        notification(&n, Some(now))
    }

    /// Every notice of the person, read.
    pub async fn read_all_notifications(&self, actor: &Actor) -> Result<usize, Error> {
        let reader = reader(actor)?;
        let now = self.clock().now();
        let mut read = 0;
        for p in self.store().notices_for(reader, NOTICES_LISTED).await? {
            if p.read_at.is_none() {
                self.store()
                    .mark_notice_read(p.notice.id, reader.staff, now)
                    .await?;
                read += 1;
            }
        }
        if read > 0 {
            self.notices_changed();
        }
        Ok(read)
    }

    /// What was sent of an organization's notices and how each attempt went: its admins only.
    pub async fn notification_deliveries(
        &self,
        actor: &Actor,
        notices: &[NoticeId],
    ) -> Result<Vec<DeliveryRecord>, Error> {
        let org = admin_of(actor, "reads what was sent")?;
        let mut mine = Vec::new();
        for id in notices {
            if let Some(n) = self.store().notice(*id).await?
                && n.org == org
            {
                mine.push(*id);
            }
        }
        Ok(self
            .store()
            .deliveries_of(&mine)
            .await?
            .into_iter()
            .map(|d| DeliveryRecord {
                notice: d.notification,
                channel: d.channel,
                status: d.status,
                attempts: d.attempts,
                sent_at: d.sent_at,
                last_error: d.last_error,
            })
            .collect())
    }

    // ---- deliveries (the notifier's) -----------------------------------------------------

    /// Make the deliveries of every open notice not yet expanded: an e-mail to each person it
    /// goes to (when `email` is on: an SMTP server is configured), at the time their
    /// preferences and quiet hours give — an escalation at once —, and a call to each of the
    /// organization's webhooks that is on. A notice to a role nobody active holds goes to the
    /// organization's admins. Returns how many notices were expanded.
    pub async fn expand_notices(&self, email: bool) -> Result<usize, Error> {
        let now = self.clock().now();
        let notices = self.store().notices_to_expand(200).await?;
        let count = notices.len();
        // Who and which webhooks, asked once per organization (and role) in a pass; every
        // notice's deliveries written in one transaction.
        let mut people_of = HashMap::new();
        let mut hooks_of = HashMap::new();
        let mut expanded = Vec::with_capacity(count);
        for n in notices {
            let kind = kind_of(&n)?;
            let mut deliveries = Vec::new();
            if email {
                let people = match people_of.entry((n.org, n.role.clone(), n.staff)) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(e) => {
                        let mut people = self
                            .store()
                            .notice_recipients(n.org, n.role.as_deref(), n.staff)
                            .await?;
                        if people.is_empty() && n.staff.is_none() {
                            people = self
                                .store()
                                .notice_recipients(n.org, Some(Role::Admin.as_str()), None)
                                .await?;
                        }
                        e.insert(people)
                    }
                };
                for p in people.iter() {
                    if let Some(at) =
                        notify::email_at(kind, email_mode(p, kind), quiet_hours(p), now)
                    {
                        deliveries.push(NewDelivery {
                            channel: "email",
                            target: p.staff.0,
                            send_at: at,
                        });
                    }
                }
            }
            let hooks = match hooks_of.entry(n.org) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(self.store().webhooks(n.org).await?),
            };
            for w in hooks.iter() {
                if w.enabled {
                    deliveries.push(NewDelivery {
                        channel: "webhook",
                        target: w.id,
                        send_at: now,
                    });
                }
            }
            expanded.push((n.id, deliveries));
        }
        self.store().expand_notices(&expanded).await?;
        Ok(count)
    }

    /// Claim up to `limit` deliveries that may go now, each leased to the caller for a
    /// minute. One whose person or webhook is gone is dropped (recorded), not sent.
    pub async fn claim_deliveries(&self, limit: u64) -> Result<Vec<Dispatch>, Error> {
        let now = self.clock().now();
        let wall = Utc::now();
        let claimed = self
            .store()
            .claim_deliveries(now, wall, Duration::seconds(DELIVERY_LEASE), limit)
            .await?;
        let mut out = Vec::new();
        for d in claimed {
            let kind = kind_of(&d.notice)?;
            let to = match d.channel.as_str() {
                "email" => match self.store().account(StaffId(d.target)).await? {
                    Some(a) if a.status == "active" => Destination::Email { address: a.email },
                    _ => {
                        self.store()
                            .delivery_attempted(
                                d.id,
                                DeliveryOutcome::Dropped("the person is no longer active"),
                                wall,
                            )
                            .await?;
                        continue;
                    }
                },
                "webhook" => match self.store().webhook(d.target).await? {
                    Some(w) if w.enabled => Destination::Webhook {
                        id: w.id,
                        url: w.url,
                        secret: w.secret,
                    },
                    _ => {
                        self.store()
                            .delivery_attempted(
                                d.id,
                                DeliveryOutcome::Dropped("the webhook is off or gone"),
                                wall,
                            )
                            .await?;
                        continue;
                    }
                },
                _ => return Err(corrupt("delivery channel")),
            };
            out.push(Dispatch {
                delivery: d.id,
                attempt: d.attempts + 1,
                to,
                message: Message {
                    notice: d.notice.id,
                    kind,
                    at: d.notice.show_at,
                    due: d.notice.due_at,
                },
            });
        }
        Ok(out)
    }

    /// Record how a claimed delivery went. A failure is tried again after a pause doubling
    /// from 5 seconds up to 15 minutes (an outage delays, never drops) unless permanent; a
    /// webhook failing [`WEBHOOK_FAILURE_LIMIT`] times in a row is turned off and the
    /// organization's admins are told.
    pub async fn delivery_done(
        &self,
        dispatch: &Dispatch,
        result: Result<(), DeliveryFailure>,
    ) -> Result<(), Error> {
        let wall = Utc::now();
        let outcome = match &result {
            Ok(()) => DeliveryOutcome::Sent,
            Err(f) if f.permanent => DeliveryOutcome::Dropped(&f.why),
            Err(f) => {
                let pause = (5i64 << dispatch.attempt.clamp(0, 12)).min(LONGEST_RETRY);
                DeliveryOutcome::Retry {
                    why: &f.why,
                    at: wall + Duration::seconds(pause),
                }
            }
        };
        self.store()
            .delivery_attempted(dispatch.delivery, outcome, wall)
            .await?;
        if let Destination::Webhook { id, .. } = &dispatch.to {
            match result {
                Ok(()) => self.store().webhook_succeeded(*id).await?,
                Err(_) => {
                    if self
                        .store()
                        .webhook_failed(*id, WEBHOOK_FAILURE_LIMIT, wall)
                        .await?
                        && let Some(w) = self.store().webhook(*id).await?
                    {
                        tracing::warn!(webhook = %id, org = %w.org, "webhook turned off after repeated failure");
                        let now = self.clock().now();
                        let n = notify::webhook_disabled(w.org, w.id, now);
                        self.store().insert_notice(&new_notice(&n), now).await?;
                        self.notices_changed();
                    }
                }
            }
        }
        Ok(())
    }

    // ---- choices ------------------------------------------------------------------------------

    /// An organization's own rule for a kind of notice: off (not for escalations), or its own
    /// silence deadline (`Some(None)`: never escalates); `off: false, escalate_after: None`
    /// is the default again. Its admins only.
    pub async fn set_notice_rule(
        &self,
        actor: &Actor,
        kind: NoticeKind,
        rule: Rule,
    ) -> Result<(), Error> {
        let org = admin_of(actor, "sets the organization's notification rules")?;
        if rule.off && !kind.may_be_silenced() {
            return Err(Error::BadInput(format!(
                "{kind} notices cannot be turned off: an escalation always reaches someone"
            )));
        }
        let minutes = match rule.escalate_after {
            None => None,
            Some(None) => Some(0),
            Some(Some(d)) => {
                let m = d.num_minutes();
                if !(1..=7 * 24 * 60).contains(&m) {
                    return Err(Error::BadInput(
                        "a silence deadline is between 1 minute and 7 days".into(),
                    ));
                }
                Some(i32::try_from(m).expect("checked"))
            }
        };
        self.store()
            .set_notice_rule(org, kind.as_str(), rule.off, minutes)
            .await?;
        *self.rules_cache().lock().expect("rules cache") = None;
        Ok(())
    }

    /// The admin's organization's rules, one per kind that may be silenced: whether it is
    /// told, and its silence deadline — the organization's own, or the default.
    pub async fn notice_rules_of(&self, actor: &Actor) -> Result<Vec<NoticeRuleView>, Error> {
        let org = admin_of(actor, "reads the organization's notification rules")?;
        let rules = self.notice_rules().await?;
        Ok(NoticeKind::ALL
            .into_iter()
            .filter(|k| k.may_be_silenced())
            .map(|kind| {
                let own = rules.own.get(&(org, kind)).copied();
                NoticeRuleView {
                    kind,
                    off: own.is_some_and(|r| r.off),
                    own_escalation: own.and_then(|r| r.escalate_after),
                    default_escalation: notify::default_escalation_words(kind),
                }
            })
            .collect())
    }

    /// The signed-in person's e-mail choices.
    pub async fn email_preferences(&self, actor: &Actor) -> Result<EmailPreferences, Error> {
        let reader = reader(actor)?;
        let people = self
            .store()
            .notice_recipients(reader.org, None, Some(reader.staff))
            .await?;
        let me = people.into_iter().next();
        let modes = NoticeKind::ALL
            .into_iter()
            .filter(|k| k.may_be_silenced())
            .map(|k| (k, me.as_ref().map(|p| email_mode(p, k)).unwrap_or_default()))
            .collect();
        let quiet = me.as_ref().and_then(quiet_hours);
        Ok(EmailPreferences { modes, quiet })
    }

    /// How the signed-in person takes e-mail of a kind (escalations always come).
    pub async fn set_email_preference(
        &self,
        actor: &Actor,
        kind: NoticeKind,
        mode: EmailMode,
    ) -> Result<(), Error> {
        let reader = reader(actor)?;
        if !kind.may_be_silenced() && mode != EmailMode::Immediate {
            return Err(Error::BadInput(format!(
                "{kind} notices always come at once"
            )));
        }
        self.store()
            .set_email_pref(reader.staff, kind.as_str(), mode.as_str())
            .await?;
        Ok(())
    }

    /// The signed-in person's quiet hours (UTC), or none.
    pub async fn set_quiet_hours(
        &self,
        actor: &Actor,
        quiet: Option<QuietHours>,
    ) -> Result<(), Error> {
        let reader = reader(actor)?;
        if let Some(q) = quiet
            && (q.from_hour > 23 || q.to_hour > 23 || q.from_hour == q.to_hour)
        {
            return Err(Error::BadInput(
                "quiet hours run from one hour of the day (0-23) to another".into(),
            ));
        }
        let quiet = quiet.map(|q| (q.from_hour as i32, q.to_hour as i32));
        self.store().set_quiet_hours(reader.staff, quiet).await?;
        Ok(())
    }

    /// Add a webhook for the admin's organization: an `https://` URL (`http://` only to this
    /// machine). The answer holds its signing secret (`whsec_…`, Standard Webhooks), shown
    /// this once.
    pub async fn add_webhook(&self, actor: &Actor, url: &str) -> Result<(Webhook, String), Error> {
        let org = admin_of(actor, "adds webhooks")?;
        check_webhook_url(url)?;
        let secret = webhook_secret();
        let record = WebhookRecord {
            id: Uuid::now_v7(),
            org,
            url: url.trim().to_owned(),
            secret: secret.clone(),
            enabled: true,
            failures: 0,
            disabled_at: None,
            created_at: Utc::now(),
        };
        self.store().add_webhook(&record).await?;
        Ok((webhook_view(record), secret))
    }

    /// The admin's organization's webhooks.
    pub async fn webhooks(&self, actor: &Actor) -> Result<Vec<Webhook>, Error> {
        let org = admin_of(actor, "reads webhooks")?;
        Ok(self
            .store()
            .webhooks(org)
            .await?
            .into_iter()
            .map(webhook_view)
            .collect())
    }

    pub async fn remove_webhook(&self, actor: &Actor, id: Uuid) -> Result<(), Error> {
        let org = admin_of(actor, "removes webhooks")?;
        if !self.store().remove_webhook(org, id).await? {
            return Err(Error::NotFound(format!("webhook {id}")));
        }
        Ok(())
    }

    /// Turn a webhook that was turned off on again.
    pub async fn enable_webhook(&self, actor: &Actor, id: Uuid) -> Result<(), Error> {
        let org = admin_of(actor, "turns webhooks on")?;
        if !self.store().enable_webhook(org, id).await? {
            return Err(Error::NotFound(format!("webhook {id}")));
        }
        Ok(())
    }
}

fn notification(n: &NoticeRecord, read_at: Option<DateTime<Utc>>) -> Result<Notification, Error> {
    let about = match (n.client, n.referral) {
        (Some(client), Some(referral)) => About::Referral { client, referral },
        (Some(client), None) => About::Client(client),
        _ => About::Organization,
    };
    Ok(Notification {
        id: n.id,
        kind: kind_of(n)?,
        at: n.show_at,
        due: n.due_at,
        read_at,
        resolved: n.resolved_at.is_some(),
        escalated: n.escalated_at.is_some(),
        about,
    })
}

/// How `p` takes e-mail of `kind` (immediate unless they chose otherwise).
fn email_mode(p: &Recipient, kind: NoticeKind) -> EmailMode {
    p.prefs
        .iter()
        .find(|(k, _)| k == kind.as_str())
        .and_then(|(_, m)| EmailMode::parse(m))
        .unwrap_or_default()
}

/// `p`'s quiet hours, as stored.
fn quiet_hours(p: &Recipient) -> Option<QuietHours> {
    let (from, to) = p.quiet?;
    Some(QuietHours {
        from_hour: u32::try_from(from).ok()?,
        to_hour: u32::try_from(to).ok()?,
    })
}

fn webhook_view(w: WebhookRecord) -> Webhook {
    Webhook {
        id: w.id,
        url: w.url,
        enabled: w.enabled,
        failures: w.failures,
        disabled_at: w.disabled_at,
        created_at: w.created_at,
    }
}

/// A Standard Webhooks signing secret: `whsec_` and 32 random bytes in base64.
fn webhook_secret() -> String {
    use base64::Engine as _;
    use password_hash::rand_core::{OsRng, RngCore};
    let mut key = [0u8; 32];
    OsRng.fill_bytes(&mut key);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

/// A webhook's URL: `https://`, or `http://` to this machine (a receiver beside the server).
fn check_webhook_url(url: &str) -> Result<(), Error> {
    let url = url.trim();
    let bad = |why: &str| Err(Error::BadInput(format!("a webhook URL {why}")));
    if url.len() > 2000 || url.chars().any(char::is_control) || url.contains(' ') {
        return bad("is one line of at most 2000 characters");
    }
    let rest = if let Some(rest) = url.strip_prefix("https://") {
        rest
    } else if let Some(rest) = url.strip_prefix("http://") {
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
        let name = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => host.split(':').next().unwrap_or(""),
        };
        let local = name == "localhost"
            || name
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if !local {
            return bad("is https:// (plain http:// only to this machine)");
        }
        rest
    } else {
        return bad("starts with https://");
    };
    if rest.split(['/', '?', '#']).next().unwrap_or("").is_empty() {
        return bad("names a host");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_url_is_https_or_local_http() {
        assert!(check_webhook_url("https://hooks.example.org/carepath").is_ok());
        assert!(check_webhook_url("http://127.0.0.1:8081/in").is_ok());
        assert!(check_webhook_url("http://localhost/in").is_ok());
        assert!(check_webhook_url("http://[::1]:9/x").is_ok());
        for bad in [
            "http://hooks.example.org/x",
            "ftp://x",
            "https://",
            "https://a b",
            "http://127.0.0.1.example.org/",
            "",
        ] {
            assert!(check_webhook_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_secret_is_a_standard_webhooks_one() {
        use base64::Engine as _;
        let s = webhook_secret();
        let key = s.strip_prefix("whsec_").expect("prefix");
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(key)
                .expect("base64")
                .len(),
            32
        );
        assert_ne!(webhook_secret(), s);
    }
}
