//! DataLoaders: organization facts for every `provider { name matServices }` in a response,
//! each kind in one query (or from the engine's organization cache).

use async_graphql::dataloader::Loader;
use carepath_engine::Engine;
use carepath_engine::domain::MatService;
use carepath_engine::ids::OrgId;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// Loads organizations' names (keyed by [`OrgId`]) and MAT services (keyed by
/// [`MatServicesOf`]).
pub struct Orgs(pub Engine);

impl Loader<OrgId> for Orgs {
    type Value = String;
    type Error = Arc<carepath_engine::Error>;

    async fn load(&self, keys: &[OrgId]) -> Result<HashMap<OrgId, String>, Self::Error> {
        self.0.org_names(keys).await.map_err(Arc::new)
    }
}

/// The key for an organization's MAT services.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MatServicesOf(pub OrgId);

impl Loader<MatServicesOf> for Orgs {
    type Value = BTreeSet<MatService>;
    type Error = Arc<carepath_engine::Error>;

    async fn load(
        &self,
        keys: &[MatServicesOf],
    ) -> Result<HashMap<MatServicesOf, Self::Value>, Self::Error> {
        let ids: Vec<OrgId> = keys.iter().map(|k| k.0).collect();
        Ok(self
            .0
            .mat_services(&ids)
            .await
            .map_err(Arc::new)?
            .into_iter()
            .map(|(id, services)| (MatServicesOf(id), services))
            .collect())
    }
}
