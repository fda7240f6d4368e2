//! The notices decisions raise (`crate::notify`), decided on the fixture's client.

use super::fixture::*;
use crate::command::*;
use crate::notify::*;
use crate::state::*;
use chrono::{Duration, TimeZone, Utc};
use std::collections::BTreeSet;

fn told(f: &Fixture, before: &ClientState, d: &super::Decision) -> Vec<Notice> {
    let rules = Rules::default();
    let coordinating = BTreeSet::from([f.home]);
    let _ = before;
    notices(
        &d.events,
        &Scene {
            state: &d.state,
            pathway: &f.pathway,
            rules: &rules,
            coordinating: &coordinating,
            now: f.now,
        },
    )
}

#[test]
fn a_detox_referral_tells_the_partners_intake_escalates_after_30_minutes_and_warns_an_hour_before()
{
    let f = Fixture::new();
    let s = f.consented();
    let d = f.run(
        &s,
        f.cm(),
        Command::SendReferral {
            to_level: level("detox"),
            providers: vec![f.detox],
        },
    );
    let n = told(&f, &s, &d);
    let kinds: Vec<_> = n.iter().map(|n| n.kind).collect();
    assert_eq!(
        kinds,
        [NoticeKind::ReferralArrived, NoticeKind::ReferralExpiring]
    );
    let arrived = &n[0];
    assert_eq!(
        arrived.to,
        Addressee {
            org: f.detox,
            who: Who::Role(crate::Role::Partner)
        }
    );
    let answer_by = d.state.referrals[0].answer_by;
    assert_eq!(arrived.due, Some(answer_by));
    assert_eq!(arrived.show_at, f.now);
    assert_eq!(
        arrived.escalate_at,
        Some(f.now + (answer_by - f.now) / 8),
        "an eighth of the answer window"
    );
    assert_eq!(
        arrived.escalate_at.map(|t| t - f.now),
        Some(Duration::minutes(30)),
        "withdrawal management answers in 4 hours"
    );
    assert_eq!(n[1].show_at, answer_by - Duration::hours(1));
    assert!(applies(&NoticeFacts::from(&n[1]), &d.state, &f.pathway));

    // Deciding the same events again raises the same ids: one notice, never two.
    assert_eq!(told(&f, &s, &d), n);

    // Acknowledged: both settle.
    let referral = d.state.referrals[0].id;
    let ack = f.run(
        &d.state,
        f.partner(f.detox),
        Command::AcknowledgeReferral { referral },
    );
    assert!(may_settle(&ack.events).contains(&NoticeKind::ReferralArrived));
    assert_eq!(
        settled(&ack.events, &ack.state, &f.pathway, f.now),
        [Settled {
            kind: NoticeKind::ReferralArrived,
            referral: Some(referral)
        }]
    );
    assert!(!applies(
        &NoticeFacts::from(arrived),
        &ack.state,
        &f.pathway
    ));
    // Acknowledged is not answered: the warning before expiry still applies, until an answer.
    assert!(applies(&NoticeFacts::from(&n[1]), &ack.state, &f.pathway));
    let accepted = f.run(
        &ack.state,
        f.partner(f.detox),
        Command::AcceptReferral { referral },
    );
    assert!(!applies(
        &NoticeFacts::from(&n[1]),
        &accepted.state,
        &f.pathway
    ));
}

#[test]
fn an_organizations_own_rule_turns_a_kind_off_or_changes_its_deadline_but_never_silences_an_escalation()
 {
    let f = Fixture::new();
    let mut rules = Rules::default();
    rules.own.insert(
        (f.detox, NoticeKind::ReferralArrived),
        Rule {
            off: false,
            escalate_after: Some(Some(Duration::minutes(10))),
        },
    );
    rules.own.insert(
        (f.detox, NoticeKind::ReferralExpiring),
        Rule {
            off: true,
            escalate_after: None,
        },
    );
    let s = f.consented();
    let d = f.run(
        &s,
        f.cm(),
        Command::SendReferral {
            to_level: level("detox"),
            providers: vec![f.detox],
        },
    );
    let coordinating = BTreeSet::new();
    let n = notices(
        &d.events,
        &Scene {
            state: &d.state,
            pathway: &f.pathway,
            rules: &rules,
            coordinating: &coordinating,
            now: f.now,
        },
    );
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].escalate_at, Some(f.now + Duration::minutes(10)));

    let stored = StoredNotice {
        id: n[0].id,
        kind: n[0].kind,
        to: n[0].to,
        client: n[0].client,
        referral: n[0].referral,
        due: n[0].due,
    };
    let later = f.now + Duration::minutes(10);
    let e = escalation(&stored, later);
    assert_eq!(e.kind, NoticeKind::Unanswered);
    assert_eq!(e.to.org, f.detox);
    assert_eq!(e.to.who, Who::Role(crate::Role::Supervisor));
    assert_eq!(e.escalates, Some(n[0].id));
    assert_eq!(escalation(&stored, later).id, e.id, "escalated once");
    rules.own.insert(
        (f.detox, NoticeKind::Unanswered),
        Rule {
            off: true,
            escalate_after: None,
        },
    );
    assert!(!NoticeKind::Unanswered.may_be_silenced());
}

#[test]
fn a_loss_to_care_tells_the_episodes_case_manager_else_the_supervisors() {
    let f = Fixture::new();
    let s = f.in_detox();
    // An admission by Dana names her on the episode.
    assert_eq!(
        s.episode.as_ref().and_then(|e| e.case_manager),
        Some(f.dana())
    );
    let mut d = f.run(
        &s,
        f.cm(),
        Command::SendReferral {
            to_level: level("residential"),
            providers: vec![f.residential],
        },
    );
    d.events.push(crate::event::CareEvent {
        data: crate::event::EventData::ClientLostToCare {
            reason: LostReason::MissedArrival,
        },
        ..d.events[0].clone()
    });
    let lost = |d: &super::Decision| {
        told(&f, &s, d)
            .into_iter()
            .find(|n| n.kind == NoticeKind::LostToCare)
            .expect("told")
    };
    assert_eq!(lost(&d).to.who, Who::Person(f.dana()));
    if let Some(e) = d.state.episode.as_mut() {
        e.case_manager = None;
    }
    let to = lost(&d).to;
    assert_eq!(to.who, Who::Role(crate::Role::Supervisor));
    assert_eq!(to.org, f.home);
}

#[test]
fn a_mat_supply_is_watched_on_its_last_day_and_a_refill_settles_the_watch() {
    let f = Fixture::new();
    let s = f.in_detox();
    let through = f.today() + Duration::days(3);
    let d = f.run(
        &s,
        f.cm(),
        Command::RecordMatPlan {
            medication: Medication::Buprenorphine,
            supply_through: Some(through),
            last_injection_on: None,
        },
    );
    let n = told(&f, &s, &d);
    let watch = n
        .iter()
        .find(|n| n.kind == NoticeKind::MatLapsing)
        .expect("a watch");
    assert_eq!(
        watch.show_at,
        through.and_hms_opt(0, 0, 0).unwrap().and_utc()
    );
    assert!(applies(&NoticeFacts::from(watch), &d.state, &f.pathway));
    let mut extended = d.state.clone();
    extended.mat_plan.as_mut().unwrap().supply_through = Some(through + Duration::days(14));
    assert!(!applies(&NoticeFacts::from(watch), &extended, &f.pathway));
}

#[test]
fn a_notice_goes_only_where_its_event_goes() {
    let f = Fixture::new();
    let s = f.consented();
    // The stranger is named in no consent: a referral to it is refused, so no notice can
    // name it; and a coordinating organization no consent names hears of no missed booking.
    let d = f.run(
        &s,
        f.cm(),
        Command::SendReferral {
            to_level: level("detox"),
            providers: vec![f.detox],
        },
    );
    for n in told(&f, &s, &d) {
        assert!(n.to.org == f.detox || n.to.org == f.home);
    }
}

#[test]
fn e_mail_waits_for_the_hour_or_the_end_of_quiet_hours_but_an_escalation_never_waits() {
    let at = |h, m| Utc.with_ymd_and_hms(2026, 5, 4, h, m, 0).unwrap();
    let quiet = QuietHours {
        from_hour: 22,
        to_hour: 7,
    };
    assert_eq!(
        email_at(
            NoticeKind::ReferralArrived,
            EmailMode::Immediate,
            None,
            at(9, 10)
        ),
        Some(at(9, 10))
    );
    assert_eq!(
        email_at(
            NoticeKind::ReferralArrived,
            EmailMode::Hourly,
            None,
            at(9, 10)
        ),
        Some(at(10, 0))
    );
    assert_eq!(
        email_at(NoticeKind::ReferralArrived, EmailMode::Off, None, at(9, 10)),
        None
    );
    assert_eq!(
        email_at(
            NoticeKind::ReferralArrived,
            EmailMode::Immediate,
            Some(quiet),
            at(23, 30)
        ),
        Some(Utc.with_ymd_and_hms(2026, 5, 5, 7, 0, 0).unwrap())
    );
    assert_eq!(
        email_at(
            NoticeKind::Unanswered,
            EmailMode::Off,
            Some(quiet),
            at(23, 30)
        ),
        Some(at(23, 30))
    );
}
