//! Mapping tests. The client's states and events are made by the domain's own decision
//! function (`decide`) from commands, as the engine makes them: a client registered,
//! consented, admitted to withdrawal management, referred to two residential programs (one
//! declines, one accepts), moved there and arrived, with a MAT plan, a refill and an
//! aftercare appointment.

use super::{Kind, Mapped, Source, client_resources};
use carepath_domain::{
    Actor, AftercareKind, CareEvent, ClientState, ClientView, Command, ConsentExpiry, Context,
    DeclineCode, DeclineReason, Envelope, MatBookingKind, MatService, Medication, OrgDirectory,
    OutcomeReport, Role, StaffDirectory, decide,
};
use carepath_engine::CareRecord;
use carepath_engine::ids::{ClientId, OrgId};
use carepath_engine::pathway::{DischargeKind, LevelId, Pathway, TransitionKind, default_pathway};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use fhir::r4::resources::Resource;
use fhir::r4::validate::Validate;
use std::collections::HashMap;

fn org(n: u128) -> OrgId {
    OrgId(uuid::Uuid::from_u128(n))
}

/// One client, the organizations around it, and everything that happened to it so far.
struct World {
    pathway: Pathway,
    orgs: OrgDirectory,
    names: HashMap<OrgId, String>,
    now: DateTime<Utc>,
    home: OrgId,
    detox: OrgId,
    residential: OrgId,
    /// A second residential program, which declines.
    residential2: OrgId,
    iop: OrgId,
    pharmacy: OrgId,
    state: ClientState,
    history: Vec<CareEvent>,
}

impl World {
    fn new() -> World {
        let (home, detox, residential, residential2, iop, pharmacy) =
            (org(1), org(10), org(20), org(21), org(40), org(30));
        let mut orgs = OrgDirectory::default();
        orgs.add(home, vec![]);
        orgs.add(detox, vec![LevelId::new("detox")]);
        orgs.add(residential, vec![LevelId::new("residential")]);
        orgs.add(residential2, vec![LevelId::new("residential")]);
        orgs.add(iop, vec![LevelId::new("iop")]);
        orgs.add_with_mat(pharmacy, vec![], &[MatService::Pharmacy]);
        let names = [
            (home, "Home CM"),
            (detox, "Detox"),
            (residential, "Residential"),
            (residential2, "Residential Two"),
            (iop, "IOP"),
            (pharmacy, "Pharmacy"),
        ]
        .into_iter()
        .map(|(id, n)| (id, n.to_owned()))
        .collect();
        let mut w = World {
            pathway: default_pathway(),
            orgs,
            names,
            now: Utc.with_ymd_and_hms(2026, 5, 4, 9, 0, 0).unwrap(),
            home,
            detox,
            residential,
            residential2,
            iop,
            pharmacy,
            state: ClientState::new(ClientId(uuid::Uuid::from_u128(7)), home, Some(1990)),
            history: Vec::new(),
        };
        w.apply(
            None,
            w.cm(),
            Command::RegisterClient {
                home_org: home,
                birth_year: Some(1990),
                identity: None,
            },
        );
        w
    }

    fn cm(&self) -> Actor {
        Actor::new(self.home, Role::CaseManager)
    }

    fn partner(&self, org: OrgId) -> Actor {
        Actor::new(org, Role::Partner)
    }

    fn day(&self, n: i64) -> NaiveDate {
        self.now.date_naive() + Duration::days(n)
    }

    fn apply(&mut self, state: Option<ClientState>, actor: Actor, command: Command) {
        self.now += Duration::hours(1);
        let name = command.name();
        let env = Envelope {
            client: self.state.id,
            actor,
            expected_version: None,
            command,
        };
        let ctx = Context {
            pathway: &self.pathway,
            now: self.now,
            orgs: &self.orgs,
            staff: StaffDirectory::none(),
        };
        let d =
            decide(state.as_ref(), &env, &ctx).unwrap_or_else(|e| panic!("{name} refused: {e}"));
        self.state = d.state;
        self.history.extend(d.events);
    }

    fn run(&mut self, actor: Actor, command: Command) {
        self.apply(Some(self.state.clone()), actor, command);
    }

    /// Consented, admitted to detox, with a MAT plan; referred to two residential programs,
    /// one declining and one accepting; a refill booked.
    fn accepted() -> World {
        let mut w = World::new();
        let recipients = vec![w.detox, w.residential, w.residential2, w.iop, w.pharmacy];
        w.run(
            w.cm(),
            Command::RecordConsent {
                recipients,
                purpose: "treatment".into(),
                information: "placement, referrals and MAT plan".into(),
                expiry: ConsentExpiry::EndOfTreatment,
                signed_on: w.day(0),
            },
        );
        w.run(
            w.cm(),
            Command::Admit {
                level: LevelId::new("detox"),
                provider: w.detox,
                planned_hours_per_week: 40.0,
                track: None,
                overrides: vec![],
                emergency: None,
            },
        );
        w.run(
            w.cm(),
            Command::RecordMatPlan {
                medication: Medication::Buprenorphine,
                supply_through: Some(w.day(3)),
                last_injection_on: None,
            },
        );
        w.run(
            w.cm(),
            Command::SendReferral {
                to_level: LevelId::new("residential"),
                providers: vec![w.residential, w.residential2],
            },
        );
        let referral_to = |w: &World, org: OrgId| {
            w.state
                .referrals
                .iter()
                .find(|r| r.provider == org)
                .map(|r| r.id)
                .expect("a referral to the provider")
        };
        let declined = referral_to(&w, w.residential2);
        w.run(
            w.partner(w.residential2),
            Command::DeclineReferral {
                referral: declined,
                reason: DeclineReason {
                    code: DeclineCode::NoCapacity,
                    note: None,
                },
            },
        );
        let accepted = referral_to(&w, w.residential);
        w.run(
            w.partner(w.residential),
            Command::AcceptReferral { referral: accepted },
        );
        w.run(
            w.cm(),
            Command::ScheduleMatRefill {
                provider: w.pharmacy,
                kind: MatBookingKind::Refill,
                on: w.day(2),
            },
        );
        w
    }

    /// As [`World::accepted`], then moved to the residential program, arrived, and an
    /// aftercare appointment booked.
    fn arrived() -> World {
        let mut w = World::accepted();
        w.run(w.cm(), step_down_to_residential());
        w.run(
            w.partner(w.residential),
            Command::ConfirmArrival { relayed_by: None },
        );
        let at = w.now + Duration::days(10);
        w.run(
            w.cm(),
            Command::ScheduleAftercare {
                provider: w.iop,
                kind: AftercareKind::Outpatient,
                at,
            },
        );
        w
    }

    fn map_as(&self, actor: &Actor, view: ClientView) -> Vec<Mapped> {
        // As the engine cuts it: the domain's view of the state, the events the view shows.
        let client = carepath_domain::view::cut(
            actor,
            view,
            &self.state,
            &self.pathway,
            self.now,
            &Default::default(),
        );
        let record = CareRecord {
            client,
            history: carepath_domain::view::visible_events(
                actor,
                view,
                &self.state,
                self.history.clone(),
            ),
        };
        client_resources(
            &Source {
                record: &record,
                actor,
                orgs: &self.names,
                pathway: &self.pathway,
                now: self.now,
            },
            &Kind::ALL,
        )
    }

    fn map(&self) -> Vec<Mapped> {
        self.map_as(&self.cm(), ClientView::Full)
    }
}

fn of(all: &[Mapped], kind: Kind) -> Vec<&Mapped> {
    all.iter().filter(|m| m.kind == kind).collect()
}

fn json(m: &Mapped) -> serde_json::Value {
    serde_json::to_value(&m.resource).expect("serializes")
}

/// Every resource valid, Part 2-labelled with the notice, and equal after a JSON round trip;
/// its JSON id the mapped id.
fn check_all(all: &[Mapped]) {
    for m in all {
        let issues = m.resource.validate();
        assert!(issues.is_empty(), "{:?} {}: {issues:?}", m.kind, m.id);
        let j = json(m);
        assert_eq!(j["resourceType"], m.kind.as_str());
        assert_eq!(j["id"], m.id.as_str());
        let codes: Vec<&str> = j["meta"]["security"]
            .as_array()
            .map(|a| a.iter().filter_map(|c| c["code"].as_str()).collect())
            .unwrap_or_default();
        assert!(codes.contains(&"42CFRPart2"), "{:?}: {codes:?}", m.kind);
        assert!(
            j["text"]["div"]
                .as_str()
                .is_some_and(|d| d.contains("42 CFR part 2")),
            "{:?}: no notice",
            m.kind
        );
        let back: Resource = serde_json::from_value(j).expect("parses back");
        assert_eq!(back, m.resource, "{:?} {}", m.kind, m.id);
    }
}

#[test]
fn every_resource_validates_round_trips_and_carries_the_part2_label() {
    for w in [World::accepted(), World::arrived()] {
        let all = w.map();
        for kind in Kind::ALL
            .into_iter()
            .filter(|k| k.of_a_client() && *k != Kind::Patient)
        {
            assert!(!of(&all, kind).is_empty(), "no {kind:?}");
        }
        check_all(&all);
    }
}

#[test]
fn referrals_are_bser_service_requests_and_tasks() {
    let w = World::arrived();
    let all = w.map();
    let by_provider = |kind, org: OrgId| {
        of(&all, kind)
            .into_iter()
            .find(|m| m.performer == Some(org))
            .cloned()
            .expect("a resource for the provider")
    };
    let accepted = w
        .state
        .referrals
        .iter()
        .find(|r| r.provider == w.residential)
        .expect("referral");
    let sr = by_provider(Kind::ServiceRequest, w.residential);
    assert_eq!(sr.id, accepted.id.to_string());
    assert_eq!(sr.status, Some("completed"));
    let j = json(&sr);
    assert_eq!(j["intent"], "order");
    assert_eq!(j["code"]["coding"][0]["code"], "residential");
    assert_eq!(
        j["performer"][0]["reference"],
        format!("Organization/{}", w.residential)
    );
    assert_eq!(
        j["requester"]["reference"],
        format!("Organization/{}", w.home)
    );
    assert_eq!(j["subject"]["reference"], format!("Patient/{}", w.state.id));
    assert_eq!(
        by_provider(Kind::ServiceRequest, w.residential2).status,
        Some("revoked")
    );

    // The accepted referral's Task: completed, BSeR 7.0, focused on its ServiceRequest.
    let task = by_provider(Kind::Task, w.residential);
    let tasks_of_referral: Vec<_> = of(&all, Kind::Task)
        .into_iter()
        .filter(|m| m.id == sr.id)
        .collect();
    assert_eq!(tasks_of_referral.len(), 1);
    let j = json(tasks_of_referral[0]);
    assert_eq!(task.id, sr.id);
    assert_eq!(j["status"], "completed");
    assert_eq!(j["businessStatus"]["coding"][0]["code"], "7.0");
    assert_eq!(
        j["businessStatus"]["coding"][0]["system"],
        super::task::BSER
    );
    assert_eq!(j["focus"]["reference"], format!("ServiceRequest/{}", sr.id));
    assert_eq!(
        j["owner"]["reference"],
        format!("Organization/{}", w.residential)
    );
    assert!(j["lastModified"].as_str() >= j["authoredOn"].as_str());

    // The declined one: rejected, BSeR 4.0, the reason as statusReason.
    let declined = of(&all, Kind::Task)
        .into_iter()
        .find(|m| m.performer == Some(w.residential2))
        .expect("declined task");
    let j = json(declined);
    assert_eq!(declined.status, Some("rejected"));
    assert_eq!(j["businessStatus"]["coding"][0]["code"], "4.0");
    assert_eq!(j["statusReason"]["coding"][0]["code"], "no_capacity");

    // Before the move: the accepted referral's Task is accepted (3.0), its request active.
    let before = World::accepted().map();
    let t = of(&before, Kind::Task)
        .into_iter()
        .find(|m| m.id == sr.id)
        .expect("task before the move");
    assert_eq!(t.status, Some("accepted"));
    assert_eq!(json(t)["businessStatus"]["coding"][0]["code"], "3.0");
    let r = of(&before, Kind::ServiceRequest)
        .into_iter()
        .find(|m| m.id == sr.id)
        .expect("request before the move");
    assert_eq!(r.status, Some("active"));
}

#[test]
fn a_move_is_a_task_named_after_the_event_that_started_it() {
    let mut w = World::accepted();
    w.run(w.cm(), step_down_to_residential());
    let started = w.history.last().expect("handoff.started");
    assert_eq!(started.event_type(), "handoff.started");
    let move_id = started.id.to_string();
    let on_the_way = w.map();
    let m = of(&on_the_way, Kind::Task)
        .into_iter()
        .find(|m| m.id == move_id)
        .cloned()
        .expect("the move's task");
    assert_eq!(m.status, Some("in-progress"));
    assert_eq!(m.performer, Some(w.residential));
    assert_eq!(json(&m)["businessStatus"]["coding"][0]["code"], "5.1.1");
    check_all(&on_the_way);

    w.run(
        w.partner(w.residential),
        Command::ConfirmArrival { relayed_by: None },
    );
    let arrived = w.map();
    let m = of(&arrived, Kind::Task)
        .into_iter()
        .find(|m| m.id == move_id)
        .cloned()
        .expect("the same task after the arrival");
    assert_eq!(m.status, Some("completed"));
    let j = json(&m);
    assert_eq!(j["businessStatus"]["coding"][0]["code"], "7.0");
    assert!(j["executionPeriod"]["end"].is_string());
    assert_eq!(
        j["input"][1]["valueCodeableConcept"]["coding"][0]["code"],
        "residential"
    );
    // The admission is not a move: one move task only.
    let referral_ids: Vec<String> = w.state.referrals.iter().map(|r| r.id.to_string()).collect();
    let moves = of(&arrived, Kind::Task)
        .into_iter()
        .filter(|t| !referral_ids.contains(&t.id))
        .count();
    assert_eq!(moves, 1);
}

#[test]
fn a_missed_arrival_fails_the_move_and_the_referral_is_a_no_show() {
    let mut w = World::accepted();
    w.run(w.cm(), step_down_to_residential());
    let move_id = w.history.last().map(|e| e.id.to_string());
    w.run(
        w.partner(w.residential),
        Command::ReportNoShow { relayed_by: None },
    );
    let all = w.map();
    check_all(&all);
    let m = of(&all, Kind::Task)
        .into_iter()
        .find(|m| Some(&m.id) == move_id.as_ref())
        .expect("the move's task");
    assert_eq!(m.status, Some("failed"));
    assert_eq!(json(m)["businessStatus"]["coding"][0]["code"], "5.1.2");
    let referral = of(&all, Kind::Task)
        .into_iter()
        .find(|m| m.performer == Some(w.residential) && Some(&m.id) != move_id.as_ref())
        .expect("the referral's task");
    assert_eq!(referral.status, Some("failed"));
}

#[test]
fn an_episode_has_its_placements_and_finishes_at_discharge() {
    let w = World::arrived();
    let all = w.map();
    let eps = of(&all, Kind::EpisodeOfCare);
    assert_eq!(eps.len(), 1);
    let ep = eps[0];
    let episode = w.state.episode.as_ref().expect("episode");
    assert_eq!(ep.id, episode.id.to_string());
    assert_eq!(ep.status, Some("active"));
    let j = json(ep);
    let levels: Vec<&str> = j["type"]
        .as_array()
        .expect("type")
        .iter()
        .filter_map(|t| t["coding"][0]["code"].as_str())
        .collect();
    assert_eq!(levels, ["detox", "residential"]);
    let placements = j["extension"].as_array().expect("placements");
    assert_eq!(placements.len(), 2);
    assert_eq!(placements[0]["url"], super::episode::LEVEL_PLACEMENT);
    // The detox placement ended when the client left it; residential is open.
    assert!(placements[0]["extension"][2]["valuePeriod"]["end"].is_string());
    assert!(placements[1]["extension"][2]["valuePeriod"]["end"].is_null());
    assert_eq!(
        j["managingOrganization"]["reference"],
        format!("Organization/{}", w.home)
    );
    let used = w
        .state
        .referrals
        .iter()
        .find(|r| r.provider == w.residential)
        .map(|r| format!("ServiceRequest/{}", r.id));
    assert_eq!(
        j["referralRequest"][0]["reference"].as_str(),
        used.as_deref()
    );

    let mut w = w;
    w.run(
        w.cm(),
        Command::Discharge {
            kind: DischargeKind::AgainstMedicalAdvice,
            provider: None,
            overrides: vec![],
        },
    );
    let all = w.map();
    check_all(&all);
    let ep = of(&all, Kind::EpisodeOfCare)[0];
    assert_eq!(ep.status, Some("finished"));
    let j = json(ep);
    assert!(j["period"]["end"].is_string());
    assert_eq!(j["statusHistory"][1]["status"], "finished");
    assert_eq!(ep.last_updated, w.now);
}

#[test]
fn a_consent_is_a_part2_privacy_consent_active_until_revoked() {
    let mut w = World::arrived();
    let all = w.map();
    let consents = of(&all, Kind::Consent);
    assert_eq!(consents.len(), 1);
    let c = consents[0];
    let consent = &w.state.consents[0];
    assert_eq!(c.id, consent.id.to_string());
    assert_eq!(c.status, Some("active"));
    let j = json(c);
    assert_eq!(j["scope"]["coding"][0]["code"], "patient-privacy");
    assert_eq!(j["category"][0]["coding"][0]["code"], "59284-0");
    assert_eq!(j["policyRule"]["coding"][0]["code"], "42CFRPart2");
    assert_eq!(j["provision"]["type"], "permit");
    assert_eq!(j["provision"]["purpose"][0]["code"], "TREAT");
    let actors = j["provision"]["actor"].as_array().expect("actors");
    assert_eq!(actors.len(), 5);
    assert_eq!(actors[0]["role"]["coding"][0]["code"], "IRCP");
    assert_eq!(
        actors[0]["reference"]["reference"],
        format!("Organization/{}", w.detox)
    );

    let id = consent.id;
    w.run(w.cm(), Command::RevokeConsent { consent: id });
    let all = w.map();
    check_all(&all);
    let c = of(&all, Kind::Consent)[0];
    assert_eq!(c.status, Some("inactive"));
    assert_eq!(c.last_updated, w.now);
    assert!(json(c)["provision"]["period"]["end"].is_string());
}

#[test]
fn appointments_and_the_mat_plan() {
    let mut w = World::arrived();
    let refill = w.state.mat_bookings[0].id;
    // The refill's day has come and gone.
    w.now += Duration::days(3);
    w.run(
        w.partner(w.pharmacy),
        Command::RecordBookingOutcome {
            booking: refill,
            outcome: OutcomeReport::NoShow,
            relayed_by: None,
        },
    );
    let all = w.map();
    check_all(&all);
    let appts = of(&all, Kind::Appointment);
    assert_eq!(appts.len(), 2);
    let aftercare = appts
        .iter()
        .find(|a| a.id == w.state.aftercare[0].id.to_string())
        .expect("aftercare appointment");
    assert_eq!(aftercare.status, Some("booked"));
    assert_eq!(aftercare.performer, Some(w.iop));
    let j = json(aftercare);
    assert_eq!(j["serviceType"][0]["coding"][0]["code"], "outpatient");
    assert_eq!(
        j["participant"][0]["actor"]["reference"],
        format!("Patient/{}", w.state.id)
    );
    let refill = appts
        .iter()
        .find(|a| a.id == refill.to_string())
        .expect("refill");
    assert_eq!(refill.status, Some("noshow"));
    assert_eq!(refill.performer, Some(w.pharmacy));
    let j = json(refill);
    assert_eq!(
        j["start"],
        format!("{}T00:00:00.000Z", w.state.mat_bookings[0].on)
    );

    let meds = of(&all, Kind::MedicationStatement);
    assert_eq!(meds.len(), 1);
    let plan_event = w
        .history
        .iter()
        .find(|e| e.event_type() == "mat.plan.recorded")
        .map(|e| e.id.to_string())
        .expect("mat.plan.recorded");
    assert_eq!(meds[0].id, plan_event);
    assert_eq!(meds[0].status, Some("active"));
    let j = json(meds[0]);
    assert_eq!(j["medicationCodeableConcept"]["coding"][0]["code"], "1819");
    assert!(
        j["dosage"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("through"))
    );

    w.run(w.cm(), Command::EndMatPlan);
    let all = w.map();
    let meds = of(&all, Kind::MedicationStatement);
    assert_eq!(meds[0].status, Some("completed"));
    assert_eq!(meds[0].id, plan_event);
}

#[test]
fn a_partner_sees_its_own_referral_and_the_current_placement_only() {
    let w = World::arrived();
    let partner = w.partner(w.residential2);
    let all = w.map_as(&partner, ClientView::Partner);
    check_all(&all);
    let declined = w
        .state
        .referrals
        .iter()
        .find(|r| r.provider == w.residential2)
        .expect("declined referral");
    for kind in [Kind::ServiceRequest, Kind::Task] {
        let ids: Vec<&str> = of(&all, kind).iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, [declined.id.to_string()], "{kind:?}");
    }
    for kind in [Kind::Consent, Kind::Appointment, Kind::MedicationStatement] {
        assert!(of(&all, kind).is_empty(), "a partner sees a {kind:?}");
    }
    let eps = of(&all, Kind::EpisodeOfCare);
    assert_eq!(eps.len(), 1);
    let j = json(eps[0]);
    assert!(j["statusHistory"].is_null(), "no status history");
    assert!(j["referralRequest"].is_null(), "no referral of the episode");
    let placements = j["extension"].as_array().expect("the current placement");
    assert_eq!(placements.len(), 1);
    assert_eq!(
        placements[0]["extension"][0]["valueCoding"]["code"],
        "residential"
    );
    let levels = j["type"].as_array().expect("type");
    assert_eq!(levels.len(), 1);

    // A coordinator: the moves, bookings and MAT plan, no referral, no consent.
    let coordinator = Actor::new(w.iop, Role::AftercareCoordinator);
    let all = w.map_as(&coordinator, ClientView::Coordinator);
    check_all(&all);
    assert!(of(&all, Kind::ServiceRequest).is_empty());
    assert!(of(&all, Kind::Consent).is_empty());
    let tasks = of(&all, Kind::Task);
    assert_eq!(tasks.len(), 1, "the move only");
    assert!(
        json(tasks[0])["focus"].is_null(),
        "no reference to a hidden referral"
    );
    assert_eq!(of(&all, Kind::Appointment).len(), 2);
    assert_eq!(of(&all, Kind::MedicationStatement).len(), 1);
}

/// The step down from detox to the residential program the referral was accepted for.
fn step_down_to_residential() -> Command {
    Command::Transition {
        kind: TransitionKind::StepDown,
        to_level: LevelId::new("residential"),
        provider: None,
        planned_hours_per_week: 30.0,
        track: None,
        overrides: vec![],
        emergency: None,
    }
}
