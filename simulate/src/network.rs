//! The synthetic network: providers at every level of the default pathway with capacities,
//! organizations giving MAT (opioid treatment programs, pharmacies, prescribers who give
//! XR-naltrexone injections), a case-management program holding the records, a coordination
//! hub booking aftercare and MAT — each registered through the engine's administration, each
//! person with a token of their own (a staff member).

use crate::Error;
use crate::rng::Rng;
use carepath_engine::Engine;
use carepath_engine::domain::{Actor, MatService, Role};
use carepath_engine::ids::OrgId;
use carepath_engine::pathway::LevelId;
use std::collections::BTreeMap;

/// The levels the model walks, in the default pathway's order, with how many providers
/// offer each, the length of stay (days, uniform), the planned weekly hours, and the share
/// of the cohort expected there at once per admission a day (sizes capacity).
pub const LEVELS: [LevelShape; 6] = [
    LevelShape::new("detox", 3, (3, 7), 40.0, 0.45),
    LevelShape::new("ambulatory_detox", 2, (4, 8), 10.0, 0.10),
    LevelShape::new("residential", 4, (14, 35), 30.0, 0.40),
    LevelShape::new("php", 3, (10, 21), 25.0, 0.15),
    LevelShape::new("iop", 4, (28, 56), 12.0, 0.35),
    LevelShape::new("outpatient", 5, (60, 120), 2.0, 0.45),
];

#[derive(Clone, Copy, Debug)]
pub struct LevelShape {
    pub id: &'static str,
    pub providers: usize,
    pub stay_days: (i64, i64),
    pub hours: f32,
    /// The share of admissions that pass through the level (a rough guess that sizes
    /// capacity with `--capacity-factor`).
    pub flow: f64,
}

impl LevelShape {
    const fn new(
        id: &'static str,
        providers: usize,
        stay_days: (i64, i64),
        hours: f32,
        flow: f64,
    ) -> Self {
        Self {
            id,
            providers,
            stay_days,
            hours,
            flow,
        }
    }
}

pub fn shape(level: &LevelId) -> &'static LevelShape {
    LEVELS
        .iter()
        .find(|l| l.id == level.as_str())
        .expect("a level of the model")
}

/// Everyone the simulation acts as.
pub struct Network {
    pub home: OrgId,
    pub hub: OrgId,
    pub admin: Actor,
    pub case_managers: Vec<Actor>,
    pub coordinator: Actor,
    /// Providers of each level, in a fixed order.
    pub providers: BTreeMap<String, Vec<OrgId>>,
    /// The partner (a staff member of the provider) who answers its referrals, confirms
    /// arrivals and records visits.
    pub partners: BTreeMap<OrgId, Actor>,
    pub otps: Vec<OrgId>,
    pub pharmacies: Vec<OrgId>,
    pub injectors: Vec<OrgId>,
    /// Every organization a client's consent names.
    pub all: Vec<OrgId>,
}

impl Network {
    pub fn providers(&self, level: &LevelId) -> &[OrgId] {
        self.providers
            .get(level.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn partner(&self, org: OrgId) -> Actor {
        self.partners[&org]
    }

    /// Build it through the engine. Ids come from the seed.
    pub async fn build(
        engine: &Engine,
        rng: &mut Rng,
        clients: u32,
        days: u32,
        capacity_factor: f64,
    ) -> Result<Self, Error> {
        let admin = Actor::new(OrgId(rng.uuid()), Role::Admin);
        for l in LEVELS {
            if engine.pathway().level(&LevelId::new(l.id)).is_none() {
                return Err(Error::Pathway(l.id.to_owned()));
            }
        }
        let home = OrgId(rng.uuid());
        engine
            .register_org(&admin, home, "Simulated Case Management")
            .await?;
        let hub = OrgId(rng.uuid());
        engine
            .register_org(&admin, hub, "Simulated Coordination Hub")
            .await?;
        let person = |org, role, label: String| async move {
            let token = engine
                .create_token(org, role, Some(&label), 3650, None)
                .await?;
            Ok::<Actor, Error>(engine.authenticate(&token).await?)
        };
        let managers = (clients / 200).clamp(3, 200);
        let mut case_managers = Vec::new();
        for i in 0..managers {
            case_managers.push(person(home, Role::CaseManager, format!("case manager {i}")).await?);
        }
        let coordinator = person(hub, Role::AftercareCoordinator, "coordinator".into()).await?;

        let admissions_a_day = f64::from(clients) / f64::from(days.max(1));
        let mut providers = BTreeMap::new();
        let mut partners = BTreeMap::new();
        let mut all = Vec::new();
        for l in LEVELS {
            let mean_stay = (l.stay_days.0 + l.stay_days.1) as f64 / 2.0;
            let census = admissions_a_day * l.flow * mean_stay * capacity_factor;
            let capacity = ((census / l.providers as f64).ceil() as i32).clamp(2, 100_000);
            let mut ids = Vec::new();
            for i in 0..l.providers {
                let id = OrgId(rng.uuid());
                // An outpatient clinic also prescribes (refills, injections): MAT in the
                // community at the place of aftercare.
                let mat: &[MatService] = if l.id == "outpatient" {
                    &[MatService::Prescriber, MatService::Injection]
                } else {
                    &[]
                };
                engine
                    .register_provider(
                        &admin,
                        id,
                        &format!("{} {i}", l.id),
                        &[(LevelId::new(l.id), capacity)],
                        mat,
                    )
                    .await?;
                partners.insert(
                    id,
                    person(id, Role::Partner, format!("{} {i} intake", l.id)).await?,
                );
                ids.push(id);
                all.push(id);
            }
            providers.insert(l.id.to_owned(), ids);
        }
        let mut mat_orgs = |n: usize, what: &str, services: &'static [MatService]| {
            let ids: Vec<OrgId> = (0..n).map(|_| OrgId(rng.uuid())).collect();
            (ids, what.to_owned(), services)
        };
        let groups = [
            mat_orgs(2, "opioid treatment program", &[MatService::Otp]),
            mat_orgs(3, "pharmacy", &[MatService::Pharmacy]),
            mat_orgs(
                2,
                "addiction medicine clinic",
                &[MatService::Prescriber, MatService::Injection],
            ),
        ];
        for (ids, what, services) in &groups {
            for (i, id) in ids.iter().enumerate() {
                engine
                    .register_provider(&admin, *id, &format!("{what} {i}"), &[], services)
                    .await?;
                partners.insert(
                    *id,
                    person(*id, Role::Partner, format!("{what} {i} staff")).await?,
                );
                all.push(*id);
            }
        }
        all.push(hub);
        let [otps, pharmacies, injectors] = groups.map(|g| g.0);
        Ok(Self {
            home,
            hub,
            admin,
            case_managers,
            coordinator,
            providers,
            partners,
            otps,
            pharmacies,
            injectors,
            all,
        })
    }
}
