//! The pure decision core's cost per command: `cargo bench -p carepath-engine --bench decide`.

use carepath_domain::ids::*;
use carepath_domain::pathway::{LevelId, TransitionKind};
use carepath_domain::*;
use chrono::{Duration, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn org(n: u128) -> OrgId {
    OrgId(uuid::Uuid::from_u128(n))
}

fn bench(c: &mut Criterion) {
    let pathway = carepath_workflows::default_pathway();
    let home = org(1);
    let (detox, residential, residential2, pharmacy) = (org(10), org(20), org(21), org(30));
    let mut orgs = OrgDirectory::default();
    orgs.add_with_mat(pharmacy, vec![], &[MatService::Pharmacy]);
    for (id, levels) in [
        (home, vec![]),
        (detox, vec![LevelId::new("detox")]),
        (residential, vec![LevelId::new("residential")]),
        (residential2, vec![LevelId::new("residential")]),
    ] {
        orgs.add(id, levels);
    }
    let now = Utc.with_ymd_and_hms(2026, 5, 4, 9, 0, 0).unwrap();
    let ctx = Context {
        pathway: &pathway,
        now,
        orgs: &orgs,
        staff: StaffDirectory::none(),
    };
    let client = ClientId(uuid::Uuid::from_u128(7));
    let cm = Actor::new(home, Role::CaseManager);
    let partner = Actor::new(residential, Role::Partner);
    let env = |actor, command| Envelope {
        client,
        actor,
        expected_version: None,
        command,
    };

    // A client in detox on buprenorphine, referred to two residential programs, one accepted,
    // the refill booked: ready to step down.
    let mut s = decide(
        None,
        &env(
            cm,
            Command::RegisterClient {
                home_org: home,
                birth_year: None,
                identity: None,
            },
        ),
        &ctx,
    )
    .unwrap()
    .state;
    let step = |s: &mut ClientState, actor, command| {
        *s = decide(Some(s), &env(actor, command), &ctx)
            .expect("setup step")
            .state;
    };
    step(
        &mut s,
        cm,
        Command::RecordConsent {
            recipients: vec![detox, residential, residential2, pharmacy],
            purpose: "treatment".into(),
            information: "referrals".into(),
            expiry: ConsentExpiry::EndOfTreatment,
            signed_on: now.date_naive(),
        },
    );
    step(
        &mut s,
        cm,
        Command::Admit {
            level: LevelId::new("detox"),
            provider: detox,
            planned_hours_per_week: 40.0,
            track: None,
            overrides: vec![],
            emergency: None,
        },
    );
    step(
        &mut s,
        cm,
        Command::RecordMatPlan {
            medication: Medication::Buprenorphine,
            supply_through: Some(now.date_naive() + Duration::days(3)),
            last_injection_on: None,
        },
    );
    let before_referral = s.clone();
    step(
        &mut s,
        cm,
        Command::SendReferral {
            to_level: LevelId::new("residential"),
            providers: vec![residential, residential2],
        },
    );
    let referral = s.referrals[0].id;
    let before_accept = s.clone();
    step(&mut s, partner, Command::AcceptReferral { referral });
    let unmet = s.clone();
    step(
        &mut s,
        cm,
        Command::ScheduleMatRefill {
            provider: pharmacy,
            kind: MatBookingKind::Refill,
            on: now.date_naive() + Duration::days(2),
        },
    );
    let ready = s;

    let transition = env(
        cm,
        Command::Transition {
            kind: TransitionKind::StepDown,
            to_level: LevelId::new("residential"),
            provider: None,
            planned_hours_per_week: 30.0,
            track: None,
            overrides: vec![],
            emergency: None,
        },
    );
    let mut g = c.benchmark_group("decide");
    g.bench_function("transition_step_down", |b| {
        b.iter(|| decide(Some(black_box(&ready)), black_box(&transition), &ctx).unwrap())
    });
    g.bench_function("transition_gate_unmet", |b| {
        b.iter(|| decide(Some(black_box(&unmet)), black_box(&transition), &ctx).unwrap_err())
    });
    let send = env(
        cm,
        Command::SendReferral {
            to_level: LevelId::new("residential"),
            providers: vec![residential, residential2],
        },
    );
    g.bench_function("send_referral_two_providers", |b| {
        b.iter(|| decide(Some(black_box(&before_referral)), black_box(&send), &ctx).unwrap())
    });
    let accept = env(partner, Command::AcceptReferral { referral });
    g.bench_function("accept_referral", |b| {
        b.iter(|| decide(Some(black_box(&before_accept)), black_box(&accept), &ctx).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
